#include "api.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "json.h"
#include "model.h"
#include "query.h"
#include "move.h"
#include "restore.h"
#include "strbuf.h"
#include "utf8.h"

struct pg_db {
    const pg_storage_ops *ops;
    pg_storage *s;
    pg_idgen ids;
    pg_arena *arena;
    pg_arena *window; /* rows read a window at a time within a call (cloned_events) */
    pg_strbuf out; /* the REST response text, kept from call to call */
    int readonly;
    int rest; /* a REST call runs: stored documents stay text, field paths count from 0 */
    /* the event feed: the events of the running call, appended at its commit */
    int feed_on;
    int64_t retention_ms;
    int actor;
    char actor_id[PG_ACTOR_ID_MAX + 1];
    size_t actor_idlen;
    int has_actor_id;
    pg_event_row *pending; /* arena memory */
    size_t npending, cap_pending;
    size_t expected; /* the call's events, when it said how many (reserve_events) */
    int appended;    /* some of the call's events are in the feed already (spill_events) */
    /* no event can be old enough to prune before this time (ms): most writes skip it */
    int64_t prune_not_before;
    /* the store's cursor secret (query.h), read once: it never changes */
    unsigned char secret[PG_QUERY_SECRET_LEN];
    int has_secret;
};

#define ITEMS_PAGE_DEFAULT 50
#define ITEMS_PAGE_MAX 100
#define GALLERIES_PAGE_MAX 10
#define LIST_ITEMS_DEFAULT 10
/* Offsets: any integer >= 0 up to 2^53, the integers a number holds exactly. */
#define MAX_OFFSET 9007199254740992.0

int pg_db_open(const pg_open_opts *o, pg_db **out, pg_status *st)
{
    pg_db *db = calloc(1, sizeof *db);
    *out = NULL;
    if (!db || !(db->arena = pg_arena_new()) || !(db->window = pg_arena_new())) {
        if (db)
            pg_arena_free(db->arena);
        free(db);
        return pg_fail(st, PG_INTERNAL, "out of memory");
    }
    pg_strbuf_init(&db->out, NULL, 0);
    if (!(db->ops = pg_storage_engine(o->engine))) {
        pg_arena_free(db->arena);
        pg_arena_free(db->window);
        free(db);
        return pg_fail(st, PG_INVALID_ARGUMENT, "engine: no engine named '%s' (there are: %s)",
                       o->engine, pg_storage_engine_names());
    }
    db->readonly = o->readonly;
    db->feed_on = !o->events_off;
    db->retention_ms = o->event_retention_ms;
    pg_idgen_init(&db->ids);
    if (db->ops->open(o, &db->s, st) < 0) {
        pg_arena_free(db->arena);
        pg_arena_free(db->window);
        free(db);
        return 0;
    }
    *out = db;
    return 1;
}

void pg_db_close(pg_db *db)
{
    if (!db)
        return;
    db->ops->close(db->s);
    pg_strbuf_free(&db->out);
    pg_arena_free(db->arena);
    pg_arena_free(db->window);
    free(db);
}

int pg_db_readonly(const pg_db *db) { return db->readonly; }

int pg_db_data_version(pg_db *db, int64_t *v, pg_status *st)
{
    return db->ops->data_version(db->s, v, st) > 0;
}
pg_arena *pg_db_arena(pg_db *db) { return db->arena; }
const pg_storage_ops *pg_db_engine(pg_db *db, pg_storage **s)
{
    *s = db->s;
    return db->ops;
}
pg_strbuf *pg_db_out(pg_db *db) { return &db->out; }
void pg_db_rest_mode(pg_db *db, int on) { db->rest = on; }

static void init_path(pg_db *db, pg_path *path, const char *root)
{
    pg_path_init(path, root);
    path->zero_based = db->rest;
}

void pg_db_set_actor(pg_db *db, int actor, const char *id, size_t len)
{
    db->actor = actor;
    db->has_actor_id = id && len <= PG_ACTOR_ID_MAX;
    db->actor_idlen = db->has_actor_id ? len : 0;
    if (db->has_actor_id)
        memcpy(db->actor_id, id, len);
    db->actor_id[db->actor_idlen] = '\0';
}

/* ---- argument helpers ----------------------------------------------------- */

static pg_value *oom(pg_status *st)
{
    pg_fail(st, PG_INTERNAL, "out of memory");
    return NULL;
}

static int absent(const pg_value *v) { return !v || v->type == PG_NULL; }

static int id_arg(const pg_value *v, const char *name, char out[PG_UUID_LEN + 1], pg_status *st)
{
    if (absent(v))
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: required", name);
    if (v->type != PG_STRING)
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: expected a string, got %s", name,
                       pg_type_name(v));
    if (!pg_uuid_normalize(v->u.str.s, v->u.str.len, out))
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: not a valid UUID", name);
    return 1;
}

/* An options or identifiers table: nil/null, or a table with only known keys. */
static int table_arg(const pg_value *v, const char *name, const char *const *keys,
                     pg_status *st)
{
    size_t i, k;
    if (absent(v))
        return 1;
    if (v->type != PG_OBJECT)
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: expected a table, got %s", name,
                       pg_type_name(v));
    for (i = 0; i < v->u.obj.n; i++) {
        const pg_member *m = &v->u.obj.m[i];
        int known = 0;
        for (k = 0; keys[k] && !known; k++)
            known = strlen(keys[k]) == m->keylen && memcmp(keys[k], m->key, m->keylen) == 0;
        if (!known)
            return pg_fail_name(st, PG_INVALID_ARGUMENT, m->key, m->keylen, "unknown option");
    }
    return 1;
}

static pg_value *member(const pg_value *table, const char *key)
{
    return absent(table) ? NULL : pg_obj_get(table, key);
}

/* A paging number: an integer in [min, max], never clamped. */
static int int_option(const pg_value *table, const char *key, double min, double max, double dflt,
                      int64_t *out, pg_status *st)
{
    const pg_value *v = member(table, key);
    if (absent(v)) {
        *out = (int64_t)dflt;
        return 1;
    }
    if (v->type != PG_NUMBER)
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: expected an integer, got %s", key,
                       pg_type_name(v));
    if (!isfinite(v->u.n) || v->u.n != floor(v->u.n) || v->u.n < min || v->u.n > max) {
        if (max >= MAX_OFFSET)
            return pg_fail(st, PG_INVALID_ARGUMENT, "%s: must be an integer from %.0f to 2^53", key,
                           min);
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: must be an integer between %.0f and %.0f", key,
                       min, max);
    }
    *out = (int64_t)v->u.n;
    return 1;
}

static int item_paging(const pg_value *opts, int64_t *offset, int64_t *limit, pg_status *st)
{
    static const char *const keys[] = { "itemOffset", "itemLimit", NULL };
    return table_arg(opts, "options", keys, st)
           && int_option(opts, "itemOffset", 0, MAX_OFFSET, 0, offset, st)
           && int_option(opts, "itemLimit", 1, ITEMS_PAGE_MAX, ITEMS_PAGE_DEFAULT, limit, st);
}

/* {galleryId=, itemId=} */
static int identifiers(const pg_value *v, char gid[PG_UUID_LEN + 1], char iid[PG_UUID_LEN + 1],
                       pg_status *st)
{
    static const char *const keys[] = { "galleryId", "itemId", NULL };
    if (absent(v))
        return pg_fail(st, PG_INVALID_ARGUMENT, "identifiers: required");
    return table_arg(v, "identifiers", keys, st) && id_arg(member(v, "galleryId"), "galleryId", gid, st)
           && id_arg(member(v, "itemId"), "itemId", iid, st);
}

/* ---- transactions and shared steps ------------------------------------------ */

static int begin(pg_db *db, int write, pg_status *st)
{
    db->npending = db->cap_pending = db->expected = 0;
    db->appended = 0;
    db->pending = NULL;
    return db->ops->begin(db->s, write, st) > 0;
}

/* A bounded part of the feed's pruning, inside a write: at most a few rows
 * more than the call added, so that no call does unbounded work and the feed
 * shrinks faster than writes grow it. When the oldest event kept is too young
 * to go, no write looks again until it could (force: a cursor just moved). */
static int prune(pg_db *db, int64_t added, int64_t now, int force, pg_status *st)
{
    int64_t removed, next_ms;
    int blocked;
    if (!force && now < db->prune_not_before)
        return 1;
    if (db->ops->event_prune(db->s, now - db->retention_ms, 2 * added + 16, &removed, &next_ms,
                             &blocked, st) < 0)
        return 0;
    /* blocked by a cursor (another connection may move it) or by the bound: soon again */
    db->prune_not_before = blocked ? now + 1000
                           : next_ms < 0 ? now + db->retention_ms
                                         : next_ms + db->retention_ms;
    return 1;
}

/* Appends the events of the call so far. The feed is pruned before the call's
 * first append (so that a call never removes its own events), by as much as the
 * whole call adds. */
static int flush_events(pg_db *db, pg_status *st)
{
    size_t n = db->npending, added = db->expected > n ? db->expected : n;
    db->npending = 0;
    if (n == 0)
        return 1;
    if (!db->appended && !prune(db, (int64_t)added, db->pending[0].time_ms, 0, st))
        return 0;
    db->appended = 1;
    return db->ops->event_append(db->s, db->pending, n, st) > 0;
}

/* In a loop that makes one event per row (a gallery's deletion): appends the pending
 * events once they fill a chunk, so that they take a chunk's worth of memory, reused,
 * rather than memory that grows with the gallery (fresh pages cost a page fault each:
 * about 9 ms of a 10,000-item deletion's 110 ms went there). The chunks written are
 * the same as one append at the end would write. */
static int spill_events(pg_db *db, pg_status *st)
{
    return db->npending < PG_CHUNK_EVENTS || flush_events(db, st);
}

/* Appends the call's events and commits when result is set, otherwise rolls
 * back; returns result or NULL. An event exists if and only if its change
 * committed. */
static pg_value *end(pg_db *db, pg_value *result, pg_status *st)
{
    if (result && !flush_events(db, st))
        result = NULL;
    db->npending = 0;
    if (result && db->ops->commit(db->s, st) > 0)
        return result;
    /* a rolled-back prune removed nothing: look again next time */
    db->prune_not_before = 0;
    db->ops->rollback(db->s);
    return NULL;
}

/* ---- the call's events -------------------------------------------------------- */

/* Room for n more events of the running call, when their number is known:
 * one allocation instead of doublings. 1, or 0 with st set. */
static int reserve_events(pg_db *db, size_t n, pg_status *st)
{
    pg_event_row *grown;
    if (db->feed_on)
        db->expected += n;
    if (!db->feed_on || db->npending + n <= db->cap_pending)
        return 1;
    if (!(grown = pg_arena_alloc(db->arena, (db->npending + n) * sizeof *grown)))
        return pg_fail(st, PG_INTERNAL, "out of memory");
    if (db->npending)
        memcpy(grown, db->pending, db->npending * sizeof *grown);
    db->pending = grown;
    db->cap_pending = db->npending + n;
    return 1;
}

/* Room for the next n events of a call that appends them as it goes (spill_events,
 * cloned_events): a chunk's worth at most, the feed's prune sized by all n. */
static int reserve_window(pg_db *db, size_t n, pg_status *st)
{
    size_t now = n < PG_CHUNK_EVENTS ? n : PG_CHUNK_EVENTS;
    if (!reserve_events(db, now, st))
        return 0;
    if (db->feed_on)
        db->expected += n - now;
    return 1;
}

/* A new event of the running call, about gallery gid, at time now (the same
 * for every event of one call); NULL when out of memory or the feed is off. */
static pg_event_row *event(pg_db *db, int kind, const char *gid, int64_t now, pg_status *st)
{
    pg_event_row *e;
    if (!db->feed_on)
        return NULL;
    if (db->npending == db->cap_pending) {
        size_t cap = db->cap_pending ? db->cap_pending * 2 : 16;
        pg_event_row *grown = pg_arena_alloc(db->arena, cap * sizeof *grown);
        if (!grown) {
            pg_fail(st, PG_INTERNAL, "out of memory");
            return NULL;
        }
        if (db->npending)
            memcpy(grown, db->pending, db->npending * sizeof *grown);
        db->pending = grown;
        db->cap_pending = cap;
    }
    e = &db->pending[db->npending++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    memcpy(e->gallery_id, gid, PG_UUID_LEN + 1);
    e->time_ms = now;
    e->actor = db->actor;
    if (db->has_actor_id) {
        e->actor_id = db->actor_id; /* alive until the commit */
        e->actor_idlen = db->actor_idlen;
    }
    pg_uuid7(&db->ids, now, e->id);
    return e;
}

/* Each returns 1, or 0 with st set (out of memory); a no-op with the feed off. */
static int gallery_event(pg_db *db, int kind, const pg_gallery_row *g, int64_t now, pg_status *st)
{
    pg_event_row *e = event(db, kind, g->id, now, st);
    if (!e)
        return !db->feed_on;
    e->doc = g->name;
    e->doclen = g->namelen;
    e->sort = g->sort;
    e->created_ms = g->created_ms;
    e->updated_ms = g->updated_ms;
    e->count = g->item_count;
    e->revision = g->revision;
    return 1;
}

static int item_event(pg_db *db, int kind, const char *gid, const pg_item_row *it, int64_t now,
                      pg_status *st)
{
    pg_event_row *e = event(db, kind, gid, now, st);
    if (!e)
        return !db->feed_on;
    memcpy(e->item_id, it->id, PG_UUID_LEN + 1);
    e->doc = it->doc; /* the stored document, arena memory of this call */
    e->doclen = it->doclen;
    e->sort = it->sort;
    e->created_ms = it->created_ms;
    e->updated_ms = it->updated_ms;
    e->revision = it->revision;
    return 1;
}

static int item_deleted_event(pg_db *db, const char *gid, const char *iid, int origin,
                              int64_t now, pg_status *st)
{
    pg_event_row *e = event(db, PG_EV_ITEM_DELETED, gid, now, st);
    if (!e)
        return !db->feed_on;
    memcpy(e->item_id, iid, PG_UUID_LEN + 1);
    e->origin = origin;
    return 1;
}

static double next_sort(double max, int has_max, int64_t now)
{
    return has_max && max + 1 > (double)now ? max + 1 : (double)now;
}

static int64_t later(int64_t previous, int64_t now)
{
    /* _updatedDate moves on every update, even two in one millisecond. */
    return now > previous ? now : previous + 1;
}

static int find_gallery(pg_db *db, const char *id, const char *argname, pg_gallery_row *g,
                        pg_status *st)
{
    int found = db->ops->gallery_find(db->s, id, db->arena, g, st);
    if (found == 0)
        pg_fail(st, PG_NOT_FOUND, "%s: no gallery with id %s", argname, id);
    return found > 0;
}

/* 1 when item `id` exists in gallery g, 0 when not (elsewhere or nowhere), -1 on failure. */
static int item_in_gallery(pg_db *db, const pg_gallery_row *g, const char *id, pg_item_row *it,
                           pg_status *st)
{
    int found = db->ops->item_find(db->s, id, db->arena, it, st);
    return found > 0 ? it->gallery_key == g->key : found;
}

/* The gallery and the item of {galleryId, itemId}; NOT_FOUND for an item in another gallery. */
static int find_gallery_item(pg_db *db, const char *gid, const char *iid, pg_gallery_row *g,
                             pg_item_row *it, pg_status *st)
{
    int found;
    if (!find_gallery(db, gid, "galleryId", g, st))
        return 0;
    if ((found = item_in_gallery(db, g, iid, it, st)) == 0)
        pg_fail(st, PG_NOT_FOUND, "itemId: no item with id %s in gallery %s", iid, g->id);
    return found > 0;
}

/* An item result. listed: one of a list, whose members nothing reads again (a single
 * result's revision becomes the REST ETag). */
static pg_value *item_value(pg_db *db, const pg_item_row *it, int listed, pg_status *st)
{
    const char *err = NULL;
    pg_value *doc, *v;
    if (db->rest && it->doclen >= 2 && it->doc[0] == '{' && it->doc[it->doclen - 1] == '}') {
        /* REST: the stored text is the REST form of the item's own fields; it joins
         * the response as it is, unparsed; in a list, after its columns' text */
        pg_value *raw = pg_new_string_ref(db->arena, it->doc, it->doclen), *head = NULL;
        if (!raw)
            return oom(st);
        raw->type = PG_RAW;
        if (listed && isfinite(it->sort)) {
            if (!(head = pg_item_rest_head(db->arena, it->id, it->type, it->sort, it->created_ms,
                                           it->updated_ms, it->revision))
                || !(v = pg_new_object(db->arena, 2)) || !pg_obj_addl(db->arena, v, NULL, 0, head))
                return oom(st);
        } else if (!(v = pg_item_out(db->arena, it->id, it->type, it->sort, it->created_ms,
                                     it->updated_ms, it->revision, NULL)))
            return oom(st);
        if (!pg_obj_addl(db->arena, v, NULL, 0, raw))
            return oom(st);
        return v;
    }
    doc = pg_json_decode(db->arena, it->doc, it->doclen, &err);
    if (!doc || doc->type != PG_OBJECT) {
        pg_fail(st, PG_INTERNAL, "storage error: item %s: document not readable (%s)", it->id,
                err ? err : "not an object");
        return NULL;
    }
    v = pg_item_out(db->arena, it->id, it->type, it->sort, it->created_ms, it->updated_ms,
                    it->revision, doc);
    return v ? v : oom(st);
}

static pg_value *items_page(pg_db *db, int64_t gallery_key, int64_t offset, int64_t limit,
                            pg_status *st)
{
    pg_item_row *rows;
    size_t n, i;
    pg_value *arr;
    if (db->ops->item_page(db->s, gallery_key, offset, limit, db->arena, &rows, &n, st) < 0)
        return NULL;
    if (!(arr = pg_new_array(db->arena, n)))
        return oom(st);
    for (i = 0; i < n; i++) {
        pg_value *v = item_value(db, &rows[i], 1, st);
        if (!v)
            return NULL;
        arr->u.arr.v[arr->u.arr.n++] = v;
    }
    return arr;
}

static pg_value *gallery_value(pg_db *db, const pg_gallery_row *g, int64_t offset, int64_t limit,
                               pg_status *st)
{
    pg_value *items = items_page(db, g->key, offset, limit, st), *v;
    if (!items)
        return NULL;
    v = pg_gallery_out(db->arena, g->id, g->name, g->namelen, g->sort, g->created_ms,
                       g->updated_ms, g->item_count, g->revision, items);
    return v ? v : oom(st);
}

/* Inserts validated items at the end of gallery g (in input order) and keeps
 * g's count. When out is given, the created items are appended to it. */
static int insert_items(pg_db *db, pg_gallery_row *g, const pg_item_in *items, size_t n,
                        int64_t now, pg_value *out, pg_status *st)
{
    double max = 0;
    int has_max = 0;
    size_t i;
    if (n == 0)
        return 1;
    if (!reserve_events(db, n, st) || (has_max = db->ops->item_max_sort(db->s, g->key, &max, st)) < 0)
        return 0;
    for (i = 0; i < n; i++) {
        pg_item_row it;
        memset(&it, 0, sizeof it);
        it.gallery_key = g->key;
        it.type = pg_doc_type(items[i].doc);
        it.sort = items[i].has_sort ? items[i].sort : next_sort(max, has_max, now);
        it.created_ms = it.updated_ms = now;
        it.revision = 1;
        it.doc = pg_json_encode(db->arena, items[i].doc, &it.doclen);
        if (!it.doc)
            return oom(st) != NULL;
        pg_uuid7(&db->ids, now, it.id);
        if (db->ops->item_insert(db->s, &it, st) < 0
            || !item_event(db, PG_EV_ITEM_CREATED, g->id, &it, now, st))
            return 0;
        if (!has_max || it.sort > max)
            max = it.sort;
        has_max = 1;
        if (out) {
            pg_value *v = pg_item_out(db->arena, it.id, it.type, it.sort, now, now, 1, items[i].doc);
            if (!v || !pg_arr_push(db->arena, out, v))
                return oom(st) != NULL;
        }
    }
    g->item_count += (int64_t)n;
    return 1;
}

/* Records a change to gallery g (its items or itself) and saves the row: a change to an
 * item changes the gallery's representation (totalItems, _updatedDate, items), so its
 * revision moves too (docs/decisions.md). */
static int save_gallery(pg_db *db, pg_gallery_row *g, int named, int64_t now, pg_status *st)
{
    g->updated_ms = later(g->updated_ms, now);
    g->revision++;
    return db->ops->gallery_update(db->s, g, named, st) > 0;
}

/* The same for a change to its items: name and sort as they were. */
static int touch_gallery(pg_db *db, pg_gallery_row *g, int64_t now, pg_status *st)
{
    return save_gallery(db, g, 0, now, st);
}

/* A revision the caller gave (path.revision) against the stored one: 1 when it is
 * current, or ABORTED. Checked after the row is found (and locked) and before anything
 * is written, so a stale call changes nothing. */
static int revision_current(const char *path, int64_t given, int64_t current, pg_status *st)
{
    if (given == current)
        return 1;
    pg_fail(st, PG_ABORTED, "%s.revision: %lld is not the current revision (%lld)", path,
            (long long)given, (long long)current);
    st->fieldlen = strlen(path) + 9;
    return 0;
}

/* The options of an update or a delete: nil, or { revision = "n" }. An update's
 * options take the place of Velo's empty ones (UpdateGalleryOptions...), so a
 * revision given there is checked, never passed over as an extra argument. */
static int revision_options(const pg_value *opts, int *has, int64_t *revision, pg_status *st)
{
    static const char *const keys[] = { "revision", NULL };
    const pg_value *v;
    pg_path path;
    *has = 0;
    if (!table_arg(opts, "options", keys, st))
        return 0;
    if (absent(v = member(opts, "revision")))
        return 1;
    pg_path_init(&path, "options");
    pg_path_key(&path, "revision", 8);
    return (*has = pg_revision_arg(v, &path, revision, st));
}

/* ---- galleries --------------------------------------------------------------- */

/* gallery_item_created for each of the n items just cloned into g, in order, appended
 * a chunk at a time: each window of copies is read (keyset, by sortOrder then row key)
 * into db->window, its events appended, and the window's memory used again for the
 * next, so that a clone's memory does not grow with the gallery (10,000 copies read at
 * once took 6 MB of fresh pages, a page fault each). */
static int cloned_events(pg_db *db, const pg_gallery_row *g, int64_t n, int64_t now, pg_status *st)
{
    pg_query q;
    pg_item_row *rows;
    size_t got, i;
    int64_t done = 0;
    memset(&q, 0, sizeof q);
    q.target = PG_Q_ITEMS;
    q.sort[0].field = PG_QF_SORT;
    q.sort[1].field = PG_QF_KEY;
    q.nsort = 2;
    if (!reserve_window(db, (size_t)n, st))
        return 0;
    while (done < n) {
        pg_arena_reset(db->window);
        if (db->ops->item_query(db->s, g->key, &q, PG_CHUNK_EVENTS, db->window, &rows, &got, st) < 0)
            return 0;
        if (got == 0)
            break;
        for (i = 0; i < got; i++)
            if (!item_event(db, PG_EV_ITEM_CREATED, g->id, &rows[i], now, st))
                return 0;
        /* the window's rows are the events' documents: in the feed before they go */
        if (!flush_events(db, st))
            return 0;
        q.has_after = 1;
        q.after[0].is_num = 1;
        q.after[0].n = rows[got - 1].sort;
        q.after_key = rows[got - 1].key;
        done += (int64_t)got;
    }
    return 1;
}

static pg_value *create_gallery(pg_db *db, pg_value *const *args, pg_status *st)
{
    static const char *const keys[] = { "gallery", "cloneFromGalleryId", NULL };
    const pg_value *opts = args[0];
    pg_gallery_in in;
    pg_gallery_row g, src;
    pg_path path;
    char clone_id[PG_UUID_LEN + 1];
    int cloning;
    int64_t now = pg_now_ms(), copied = 0;
    double max;
    int has_max;

    memset(&in, 0, sizeof in);
    if (!table_arg(opts, "options", keys, st))
        return NULL;
    init_path(db, &path, "gallery");
    if (!absent(member(opts, "gallery"))
        && !pg_validate_gallery(db->arena, member(opts, "gallery"), PG_CREATE, &path, &in, st))
        return NULL;
    cloning = !absent(member(opts, "cloneFromGalleryId"));
    if (cloning && !id_arg(member(opts, "cloneFromGalleryId"), "cloneFromGalleryId", clone_id, st))
        return NULL;

    if (!begin(db, 1, st))
        return NULL;
    if (cloning && !find_gallery(db, clone_id, "cloneFromGalleryId", &src, st))
        return end(db, NULL, st);
    memset(&g, 0, sizeof g);
    if ((has_max = db->ops->gallery_max_sort(db->s, &max, st)) < 0)
        return end(db, NULL, st);
    g.sort = in.has_sort ? in.sort : next_sort(max, has_max, now);
    if (in.name_state == PG_SET) {
        g.name = in.name;
        g.namelen = in.namelen;
    } else if (cloning) {
        g.name = src.name;
        g.namelen = src.namelen;
    }
    g.created_ms = g.updated_ms = now;
    g.revision = 1;
    pg_uuid7(&db->ids, now, g.id);
    if (db->ops->gallery_insert(db->s, &g, st) < 0
        || !gallery_event(db, PG_EV_GALLERY_CREATED, &g, now, st))
        return end(db, NULL, st);
    if (cloning && src.item_count > 0) {
        /* the copies' ids, made here: engines generate none (src is locked: its count is exact) */
        size_t n = (size_t)src.item_count, i;
        char (*ids)[PG_UUID_LEN + 1] = pg_arena_alloc(db->arena, n * sizeof *ids);
        if (!ids)
            return end(db, oom(st), st);
        for (i = 0; i < n; i++)
            pg_uuid7(&db->ids, now, ids[i]);
        if (db->ops->items_clone(db->s, src.key, g.key, (double)now, now, (const char (*)[PG_UUID_LEN + 1])ids,
                                 n, &copied, st) < 0)
            return end(db, NULL, st);
    }
    /* gallery_created carries totalItems with every item: known before its event is
     * appended with the first window of copies */
    if (db->feed_on)
        db->pending[0].count = copied + (int64_t)in.nitems;
    if (copied && db->feed_on && !cloned_events(db, &g, copied, now, st))
        return end(db, NULL, st);
    g.item_count = copied;
    if (!insert_items(db, &g, in.items, in.nitems, now, NULL, st)
        || db->ops->gallery_update(db->s, &g, 0, st) < 0)
        return end(db, NULL, st);
    return end(db, gallery_value(db, &g, 0, ITEMS_PAGE_DEFAULT, st), st);
}

static pg_value *get_gallery(pg_db *db, pg_value *const *args, pg_status *st)
{
    char id[PG_UUID_LEN + 1];
    int64_t offset, limit;
    pg_gallery_row g;
    if (!id_arg(args[0], "galleryId", id, st) || !item_paging(args[1], &offset, &limit, st)
        || !begin(db, 0, st))
        return NULL;
    if (!find_gallery(db, id, "galleryId", &g, st))
        return end(db, NULL, st);
    return end(db, gallery_value(db, &g, offset, limit, st), st);
}

static pg_value *list_galleries(pg_db *db, pg_value *const *args, pg_status *st)
{
    static const char *const keys[] = { "limit", "offset", "itemLimit", NULL };
    const pg_value *opts = args[0];
    int64_t limit, offset, item_limit, total;
    pg_gallery_row *rows;
    size_t n, i;
    pg_value *list, *out, *count;
    if (!table_arg(opts, "options", keys, st)
        || !int_option(opts, "limit", 1, GALLERIES_PAGE_MAX, GALLERIES_PAGE_MAX, &limit, st)
        || !int_option(opts, "offset", 0, MAX_OFFSET, 0, &offset, st)
        || !int_option(opts, "itemLimit", 1, ITEMS_PAGE_MAX, LIST_ITEMS_DEFAULT, &item_limit, st)
        || !begin(db, 0, st))
        return NULL;
    if (db->ops->gallery_count(db->s, &total, st) < 0
        || db->ops->gallery_page(db->s, offset, limit, db->arena, &rows, &n, st) < 0)
        return end(db, NULL, st);
    if (!(list = pg_new_array(db->arena, n)) || !(out = pg_new_object(db->arena, 2)))
        return end(db, oom(st), st);
    for (i = 0; i < n; i++) {
        pg_value *v = gallery_value(db, &rows[i], 0, item_limit, st);
        if (!v)
            return end(db, NULL, st);
        list->u.arr.v[list->u.arr.n++] = v;
    }
    if (!pg_obj_add(db->arena, out, "galleries", list)
        || !(count = pg_new_number(db->arena, (double)total))
        || !pg_obj_add(db->arena, out, "totalGalleries", count))
        return end(db, oom(st), st);
    return end(db, out, st);
}

static pg_value *update_gallery(pg_db *db, pg_value *const *args, pg_status *st)
{
    char id[PG_UUID_LEN + 1];
    pg_gallery_in in;
    pg_gallery_row g;
    pg_path path;
    int64_t now = pg_now_ms(), revision;
    int has_revision;
    init_path(db, &path, "gallery");
    if (!id_arg(args[0], "galleryId", id, st))
        return NULL;
    if (absent(args[1]))
        return pg_fail(st, PG_INVALID_ARGUMENT, "gallery: required"), NULL;
    if (!pg_validate_gallery(db->arena, args[1], PG_UPDATE, &path, &in, st)
        || !revision_options(args[2], &has_revision, &revision, st) || !begin(db, 1, st))
        return NULL;
    if (!find_gallery(db, id, "galleryId", &g, st)
        || (in.has_revision && !revision_current("gallery", in.revision, g.revision, st))
        || (has_revision && !revision_current("options", revision, g.revision, st)))
        return end(db, NULL, st);
    if (in.name_state == PG_SET) {
        g.name = in.name;
        g.namelen = in.namelen;
    } else if (in.name_state == PG_CLEAR) {
        g.name = NULL;
        g.namelen = 0;
    }
    if (in.has_sort)
        g.sort = in.sort;
    if (!save_gallery(db, &g, 1, now, st) || !gallery_event(db, PG_EV_GALLERY_UPDATED, &g, now, st))
        return end(db, NULL, st);
    return end(db, gallery_value(db, &g, 0, ITEMS_PAGE_DEFAULT, st), st);
}

/* { key = v }: the envelope of list and delete results. */
static pg_value *wrap(pg_db *db, const char *key, pg_value *v, pg_status *st)
{
    pg_value *out = v ? pg_new_object(db->arena, 1) : NULL;
    if (!out || !pg_obj_add(db->arena, out, key, v))
        return oom(st);
    return out;
}

static pg_value *id_result(pg_db *db, const char *key, const char *id, pg_status *st)
{
    return wrap(db, key, pg_new_string(db->arena, id, PG_UUID_LEN), st);
}

static pg_value *delete_gallery(pg_db *db, pg_value *const *args, pg_status *st)
{
    char id[PG_UUID_LEN + 1];
    pg_gallery_row g;
    int64_t now = pg_now_ms(), revision;
    int has_revision;
    if (!id_arg(args[0], "galleryId", id, st) || !revision_options(args[1], &has_revision, &revision, st)
        || !begin(db, 1, st))
        return NULL;
    if (!find_gallery(db, id, "galleryId", &g, st)
        || (has_revision && !revision_current("options", revision, g.revision, st)))
        return end(db, NULL, st);
    if (db->feed_on) {
        char (*ids)[PG_UUID_LEN + 1] = pg_arena_alloc(db->arena, PG_CHUNK_EVENTS * sizeof *ids);
        size_t n, i;
        if (!ids)
            return end(db, oom(st), st);
        /* totalItems is exact: the prune before the first append makes room for them all */
        if (!reserve_window(db, (size_t)g.item_count + 1, st))
            return end(db, NULL, st);
        do {
            if (db->ops->items_delete_some(db->s, g.key, ids, PG_CHUNK_EVENTS, &n, st) < 0)
                return end(db, NULL, st);
            for (i = 0; i < n; i++)
                if (!item_deleted_event(db, g.id, ids[i], PG_ORIGIN_GALLERY_DELETED, now, st)
                    || !spill_events(db, st))
                    return end(db, NULL, st);
        } while (n == PG_CHUNK_EVENTS);
        /* appended while the gallery still holds its entityEventSequence */
        if (!gallery_event(db, PG_EV_GALLERY_DELETED, &g, now, st) || !flush_events(db, st))
            return end(db, NULL, st);
    }
    if (db->ops->gallery_delete(db->s, g.key, st) < 0)
        return end(db, NULL, st);
    return end(db, id_result(db, "galleryId", id, st), st);
}

/* ---- items ------------------------------------------------------------------- */

/* The created items: the one item itself, or {items = [...]} (the result is
 * complete before the commit, so a call that reports failure changed nothing). */
static pg_value *create_items(pg_db *db, const char *gid, const pg_item_in *items, size_t n,
                              int one, pg_status *st)
{
    pg_gallery_row g;
    pg_value *created = pg_new_array(db->arena, n);
    int64_t now = pg_now_ms();
    if (!created)
        return oom(st);
    if (!begin(db, 1, st))
        return NULL;
    if (!find_gallery(db, gid, "galleryId", &g, st)
        || !insert_items(db, &g, items, n, now, created, st) || !touch_gallery(db, &g, now, st))
        return end(db, NULL, st);
    return end(db, one ? created->u.arr.v[0] : wrap(db, "items", created, st), st);
}

static pg_value *create_gallery_item(pg_db *db, pg_value *const *args, pg_status *st)
{
    char gid[PG_UUID_LEN + 1];
    pg_item_in item;
    pg_path path;
    init_path(db, &path, "item");
    if (!id_arg(args[0], "galleryId", gid, st))
        return NULL;
    if (absent(args[1]))
        return pg_fail(st, PG_INVALID_ARGUMENT, "item: required"), NULL;
    if (!pg_validate_item(db->arena, args[1], PG_CREATE, &path, &item, st))
        return NULL;
    return create_items(db, gid, &item, 1, 1, st);
}

static pg_value *create_gallery_items(pg_db *db, pg_value *const *args, pg_status *st)
{
    char gid[PG_UUID_LEN + 1];
    pg_item_in *items;
    size_t n;
    pg_path path;
    init_path(db, &path, "items");
    if (!id_arg(args[0], "galleryId", gid, st))
        return NULL;
    if (absent(args[1]))
        return pg_fail(st, PG_INVALID_ARGUMENT, "items: required"), NULL;
    if (!pg_validate_items(db->arena, args[1], 1, &path, &items, &n, st))
        return NULL;
    return create_items(db, gid, items, n, 0, st);
}

static pg_value *get_gallery_item(pg_db *db, pg_value *const *args, pg_status *st)
{
    char gid[PG_UUID_LEN + 1], iid[PG_UUID_LEN + 1];
    pg_gallery_row g;
    pg_item_row it;
    if (!identifiers(args[0], gid, iid, st) || !begin(db, 0, st))
        return NULL;
    if (!find_gallery_item(db, gid, iid, &g, &it, st))
        return end(db, NULL, st);
    return end(db, item_value(db, &it, 0, st), st);
}

static pg_value *update_gallery_item(pg_db *db, pg_value *const *args, pg_status *st)
{
    char gid[PG_UUID_LEN + 1], iid[PG_UUID_LEN + 1];
    pg_gallery_row g;
    pg_item_row it;
    pg_item_in patch;
    pg_path path;
    pg_value *doc;
    const char *err = NULL;
    int64_t now = pg_now_ms(), revision;
    int has_revision;
    init_path(db, &path, "item");
    if (!identifiers(args[0], gid, iid, st))
        return NULL;
    if (absent(args[1]))
        return pg_fail(st, PG_INVALID_ARGUMENT, "item: required"), NULL;
    if (!pg_validate_item(db->arena, args[1], PG_UPDATE, &path, &patch, st)
        || !revision_options(args[2], &has_revision, &revision, st) || !begin(db, 1, st))
        return NULL;
    if (!find_gallery_item(db, gid, iid, &g, &it, st)
        || (patch.has_revision && !revision_current("item", patch.revision, it.revision, st))
        || (has_revision && !revision_current("options", revision, it.revision, st)))
        return end(db, NULL, st);
    doc = pg_json_decode(db->arena, it.doc, it.doclen, &err);
    if (!doc || doc->type != PG_OBJECT) {
        pg_fail(st, PG_INTERNAL, "storage error: item %s: document not readable (%s)", it.id,
                doc ? "not an object" : err);
        return end(db, NULL, st);
    }
    if (!(doc = pg_doc_apply(db->arena, doc, patch.doc)))
        return end(db, oom(st), st);
    it.type = pg_doc_type(doc);
    if (patch.has_sort)
        it.sort = patch.sort;
    it.updated_ms = later(it.updated_ms, now);
    it.revision++;
    if (!(it.doc = pg_json_encode(db->arena, doc, &it.doclen)))
        return end(db, oom(st), st);
    if (db->ops->item_update(db->s, &it, st) < 0 || !touch_gallery(db, &g, now, st)
        || !item_event(db, PG_EV_ITEM_UPDATED, g.id, &it, now, st))
        return end(db, NULL, st);
    return end(db, pg_item_out(db->arena, it.id, it.type, it.sort, it.created_ms, it.updated_ms,
                               it.revision, doc),
               st);
}

static pg_value *delete_gallery_item(pg_db *db, pg_value *const *args, pg_status *st)
{
    char gid[PG_UUID_LEN + 1], iid[PG_UUID_LEN + 1];
    pg_gallery_row g;
    pg_item_row it;
    int64_t now = pg_now_ms(), revision;
    int has_revision;
    if (!identifiers(args[0], gid, iid, st) || !revision_options(args[1], &has_revision, &revision, st)
        || !begin(db, 1, st))
        return NULL;
    if (!find_gallery_item(db, gid, iid, &g, &it, st)
        || (has_revision && !revision_current("options", revision, it.revision, st))
        || db->ops->item_delete(db->s, it.key, st) < 0)
        return end(db, NULL, st);
    g.item_count--;
    if (!touch_gallery(db, &g, now, st)
        || !item_deleted_event(db, g.id, iid, PG_ORIGIN_NONE, now, st))
        return end(db, NULL, st);
    return end(db, id_result(db, "itemId", iid, st), st);
}

/* itemIds: an array of 1..PG_MAX_BATCH valid ids, into *ids (arena memory). */
static int id_list(pg_db *db, const pg_value *list, char (**ids)[PG_UUID_LEN + 1], size_t *n,
                   pg_status *st)
{
    size_t i;
    if (absent(list))
        return pg_fail(st, PG_INVALID_ARGUMENT, "itemIds: required");
    if (!pg_is_array(list))
        return pg_fail(st, PG_INVALID_ARGUMENT, "itemIds: expected an array of ids, got %s",
                       pg_type_name(list));
    *n = list->type == PG_ARRAY ? list->u.arr.n : 0;
    if (*n > PG_MAX_BATCH)
        return pg_fail(st, PG_RESOURCE_EXHAUSTED, "itemIds: more than %d ids", PG_MAX_BATCH);
    if (*n == 0)
        return pg_fail(st, PG_INVALID_ARGUMENT, "itemIds: at least 1 id required");
    if (!(*ids = pg_arena_alloc(db->arena, *n * sizeof **ids)))
        return pg_fail(st, PG_INTERNAL, "out of memory");
    for (i = 0; i < *n; i++) {
        char name[32];
        snprintf(name, sizeof name, "itemIds[%zu]", i + 1); /* REST: made 0-based by progallery.http */
        if (!id_arg(list->u.arr.v[i], name, (*ids)[i], st))
            return 0;
    }
    return 1;
}

static pg_value *bulk_delete_gallery_items(pg_db *db, pg_value *const *args, pg_status *st)
{
    char gid[PG_UUID_LEN + 1];
    pg_gallery_row g;
    char (*ids)[PG_UUID_LEN + 1];
    pg_value *deleted;
    size_t n, i;
    int64_t now = pg_now_ms();
    if (!id_arg(args[0], "galleryId", gid, st) || !id_list(db, args[1], &ids, &n, st))
        return NULL;
    if (!(deleted = pg_new_array(db->arena, n)))
        return oom(st);
    if (!begin(db, 1, st))
        return NULL;
    if (!find_gallery(db, gid, "galleryId", &g, st))
        return end(db, NULL, st);
    for (i = 0; i < n; i++) {
        pg_item_row it;
        int found = item_in_gallery(db, &g, ids[i], &it, st);
        if (found < 0)
            return end(db, NULL, st);
        if (!found)
            continue; /* not in this gallery: skipped */
        if (db->ops->item_delete(db->s, it.key, st) < 0
            || !item_deleted_event(db, g.id, ids[i], PG_ORIGIN_NONE, now, st))
            return end(db, NULL, st);
        g.item_count--;
        deleted->u.arr.v[deleted->u.arr.n++] = pg_new_string(db->arena, ids[i], PG_UUID_LEN);
        if (!deleted->u.arr.v[deleted->u.arr.n - 1])
            return end(db, oom(st), st);
    }
    if (deleted->u.arr.n && !touch_gallery(db, &g, now, st))
        return end(db, NULL, st);
    return end(db, wrap(db, "itemIds", deleted, st), st);
}

static pg_value *list_gallery_items(pg_db *db, pg_value *const *args, pg_status *st)
{
    char id[PG_UUID_LEN + 1];
    int64_t offset, limit;
    pg_gallery_row g;
    pg_value *items;
    if (!id_arg(args[0], "galleryId", id, st) || !item_paging(args[1], &offset, &limit, st)
        || !begin(db, 0, st))
        return NULL;
    if (!find_gallery(db, id, "galleryId", &g, st)
        || !(items = items_page(db, g.key, offset, limit, st)))
        return end(db, NULL, st);
    return end(db, wrap(db, "items", items, st), st);
}

/* ---- queries (spec section 14) ------------------------------------------------ */

static int secret(pg_db *db, pg_status *st)
{
    if (db->has_secret)
        return 1;
    if (db->ops->query_secret(db->s, db->secret, st) < 0)
        return 0;
    db->has_secret = 1;
    return 1;
}

/* { count, cursors = { next? }, hasNext } of a page of n rows; next after the last one
 * (vals, key) when there are more. */
static pg_value *paging_metadata(pg_db *db, const pg_query *q, size_t n, int more,
                                 const pg_query_val *vals, int64_t key, pg_status *st)
{
    pg_value *meta = pg_new_object(db->arena, 3), *cursors = pg_new_object(db->arena, 1);
    pg_value *count = pg_new_number(db->arena, (double)n), *has = pg_new_bool(db->arena, more);
    if (!meta || !cursors || !count || !has || !pg_obj_add(db->arena, meta, "count", count)
        || !pg_obj_add(db->arena, meta, "cursors", cursors)
        || !pg_obj_add(db->arena, meta, "hasNext", has))
        return oom(st);
    if (more) {
        char *c = pg_query_cursor(db->arena, q, vals, key, db->secret);
        if (!c || !pg_obj_add(db->arena, cursors, "next", pg_new_string_ref(db->arena, c, strlen(c)))
            || !pg_obj_get(cursors, "next"))
            return oom(st);
    }
    return meta;
}

/* The values of the sort keys (all but the row key) of an item or a gallery. */
static void sort_values(const pg_query *q, const pg_item_row *it, const pg_gallery_row *g,
                        pg_query_val *vals)
{
    size_t i;
    for (i = 0; i + 1 < q->nsort; i++) {
        pg_query_val *v = &vals[i];
        memset(v, 0, sizeof *v);
        v->is_num = 1;
        switch (q->sort[i].field) {
        case PG_QF_SORT: v->n = it ? it->sort : g->sort; break;
        case PG_QF_CREATED: v->n = (double)(it ? it->created_ms : g->created_ms); break;
        case PG_QF_UPDATED: v->n = (double)(it ? it->updated_ms : g->updated_ms); break;
        case PG_QF_NAME:
            v->is_num = 0;
            v->s = g->name ? g->name : "";
            v->len = g->name ? g->namelen : 0;
            break;
        default: break;
        }
    }
}

static pg_value *page_result(pg_db *db, const char *key, pg_value *list, pg_value *meta,
                             pg_status *st)
{
    pg_value *out = pg_new_object(db->arena, 2);
    if (!out || !list || !meta || !pg_obj_add(db->arena, out, key, list)
        || !pg_obj_add(db->arena, out, "pagingMetadata", meta))
        return oom(st);
    return out;
}

/* queryGalleryItems(galleryId, query) -> { items, pagingMetadata } */
static pg_value *query_gallery_items(pg_db *db, pg_value *const *args, pg_status *st)
{
    char id[PG_UUID_LEN + 1];
    pg_gallery_row g;
    pg_query q;
    pg_path path;
    pg_item_row *rows;
    pg_query_val vals[PG_QUERY_MAX_SORT];
    pg_value *list, *meta;
    size_t n, i;
    int more;
    init_path(db, &path, "query");
    if (!id_arg(args[0], "galleryId", id, st) || !begin(db, 0, st))
        return NULL;
    if (!secret(db, st) || !pg_query_parse(db->arena, args[1], PG_Q_ITEMS, id, db->secret, &path, &q, st)
        || !find_gallery(db, id, "galleryId", &g, st)
        || db->ops->item_query(db->s, g.key, &q, q.limit + 1, db->arena, &rows, &n, st) < 0)
        return end(db, NULL, st);
    more = (int64_t)n > q.limit;
    if (more)
        n = (size_t)q.limit;
    if (!(list = pg_new_array(db->arena, n)))
        return end(db, oom(st), st);
    for (i = 0; i < n; i++) {
        pg_value *v = item_value(db, &rows[i], 1, st);
        if (!v)
            return end(db, NULL, st);
        list->u.arr.v[list->u.arr.n++] = v;
    }
    if (n)
        sort_values(&q, &rows[n - 1], NULL, vals);
    meta = paging_metadata(db, &q, n, more, vals, n ? rows[n - 1].key : 0, st);
    return end(db, meta ? page_result(db, "items", list, meta, st) : NULL, st);
}

/* queryGalleries(query) -> { galleries, pagingMetadata }; a gallery without its items
 * (getGallery or queryGalleryItems pages through them) */
static pg_value *query_galleries(pg_db *db, pg_value *const *args, pg_status *st)
{
    pg_query q;
    pg_path path;
    pg_gallery_row *rows;
    pg_query_val vals[PG_QUERY_MAX_SORT];
    pg_value *list, *meta;
    size_t n, i;
    int more;
    init_path(db, &path, "query");
    if (!begin(db, 0, st))
        return NULL;
    if (!secret(db, st) || !pg_query_parse(db->arena, args[0], PG_Q_GALLERIES, NULL, db->secret, &path, &q, st)
        || db->ops->gallery_query(db->s, &q, q.limit + 1, db->arena, &rows, &n, st) < 0)
        return end(db, NULL, st);
    more = (int64_t)n > q.limit;
    if (more)
        n = (size_t)q.limit;
    if (!(list = pg_new_array(db->arena, n)))
        return end(db, oom(st), st);
    for (i = 0; i < n; i++) {
        const pg_gallery_row *r = &rows[i];
        pg_value *v = pg_gallery_out(db->arena, r->id, r->name, r->namelen, r->sort, r->created_ms,
                                     r->updated_ms, r->item_count, r->revision, NULL);
        size_t k;
        if (!v)
            return end(db, oom(st), st);
        for (k = 0; k < v->u.obj.n; k++) /* no items member: not their page */
            if (v->u.obj.m[k].keylen == 5 && memcmp(v->u.obj.m[k].key, "items", 5) == 0) {
                memmove(&v->u.obj.m[k], &v->u.obj.m[k + 1], (v->u.obj.n - k - 1) * sizeof v->u.obj.m[0]);
                v->u.obj.n--;
                break;
            }
        list->u.arr.v[list->u.arr.n++] = v;
    }
    if (n)
        sort_values(&q, NULL, &rows[n - 1], vals);
    meta = paging_metadata(db, &q, n, more, vals, n ? rows[n - 1].key : 0, st);
    return end(db, meta ? page_result(db, "galleries", list, meta, st) : NULL, st);
}

/* ---- moves (spec section 14) --------------------------------------------------------- */

/* ids of a batch, compared through their positions (for sorting the positions) */
typedef struct {
    const char (*ids)[PG_UUID_LEN + 1];
    size_t i;
} id_ref;

static int by_id(const void *a, const void *b)
{
    const id_ref *x = a, *y = b;
    return memcmp(x->ids[x->i], y->ids[y->i], PG_UUID_LEN);
}

static int by_order(const void *a, const void *b)
{
    const pg_item_row *x = a, *y = b;
    if (x->sort != y->sort)
        return x->sort < y->sort ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int by_key(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Where itemIds[i] (0-based) is named in a description: as the field path is. */
static size_t shown_index(const pg_db *db, size_t i) { return db->rest ? i : i + 1; }

/* No id twice in ids[0..n-1], and the anchor (when given) not among them: the
 * positions sorted by id, so that a batch of 1000 costs n log n, not n^2. */
static int distinct_ids(pg_db *db, char (*ids)[PG_UUID_LEN + 1], size_t n, const char *anchor,
                        const char *anchor_name, pg_status *st)
{
    id_ref *sorted = pg_arena_alloc(db->arena, (n + 1) * sizeof *sorted), *key, *hit;
    char (*probe)[PG_UUID_LEN + 1] = pg_arena_alloc(db->arena, sizeof *probe);
    size_t i;
    if (!sorted || !probe)
        return pg_fail(st, PG_INTERNAL, "out of memory");
    for (i = 0; i < n; i++) {
        sorted[i].ids = (const char (*)[PG_UUID_LEN + 1])ids;
        sorted[i].i = i;
    }
    qsort(sorted, n, sizeof *sorted, by_id);
    for (i = 1; i < n; i++)
        if (memcmp(ids[sorted[i - 1].i], ids[sorted[i].i], PG_UUID_LEN) == 0) {
            /* name the later of the two, as given */
            size_t a = sorted[i - 1].i, b = sorted[i].i;
            return pg_fail(st, PG_INVALID_ARGUMENT, "itemIds[%zu]: the same id as itemIds[%zu]",
                           (a < b ? b : a) + 1, shown_index(db, a < b ? a : b));
        }
    if (!anchor)
        return 1;
    memcpy(probe[0], anchor, PG_UUID_LEN + 1);
    key = &sorted[n];
    key->ids = (const char (*)[PG_UUID_LEN + 1])probe;
    key->i = 0;
    if ((hit = bsearch(key, sorted, n, sizeof *sorted, by_id)))
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: is one of the moved items (itemIds[%zu])",
                       anchor_name, shown_index(db, hit->i));
    return 1;
}

/* The sort orders of the n moved items in gallery g: before or after the anchor
 * (NULL: at the end), between its neighbours in g's order, passing over the moved
 * items themselves (keys: their keys, sorted). 1, 0 when the doubles leave no
 * room (g must be renumbered), -1 on failure. */
static int place(pg_db *db, const pg_gallery_row *g, const pg_item_row *anchor, int after,
                 const int64_t *keys, size_t n, int same_gallery, double *out, pg_status *st)
{
    pg_item_pos from, *rows;
    size_t got, i;
    double lo = 0, hi = 0;
    int has_lo = 0, has_hi = 0, forward = anchor && after;
    if (anchor) {
        from.key = anchor->key;
        from.sort = anchor->sort;
        if (after)
            lo = anchor->sort, has_lo = 1;
        else
            hi = anchor->sort, has_hi = 1;
    }
    /* at most n moved items lie in the way: n + 1 rows hold the neighbour, if any */
    if (db->ops->item_neighbours(db->s, g->key, anchor ? &from : NULL, forward,
                                 same_gallery ? (int64_t)n + 1 : 1, db->arena, &rows, &got, st) < 0)
        return -1;
    for (i = 0; i < got && bsearch(&rows[i].key, keys, n, sizeof *keys, by_key); i++)
        ;
    if (i < got) {
        if (forward)
            hi = rows[i].sort, has_hi = 1;
        else
            lo = rows[i].sort, has_lo = 1;
    }
    return pg_move_place(lo, has_lo, hi, has_hi, n, out);
}

/* moveGalleryItems(galleryId, itemIds, { before = | after =, toGalleryId = }). The
 * moved items keep the order they have in their gallery (not the order of itemIds). */
static pg_value *move_gallery_items(pg_db *db, pg_value *const *args, pg_status *st)
{
    static const char *const keys[] = { "before", "after", "toGalleryId", NULL };
    const pg_value *opts = args[2], *before, *after_v;
    char gid[PG_UUID_LEN + 1], tid[PG_UUID_LEN + 1], aid[PG_UUID_LEN + 1];
    char (*ids)[PG_UUID_LEN + 1];
    const char *anchor_name = NULL;
    pg_gallery_row src, dst, *g1, *g2;
    pg_item_row *moved, anchor, *renumbered = NULL;
    int64_t *mkeys, now = pg_now_ms();
    unsigned char *found;
    double *sorts;
    size_t n, i, nrenumbered = 0;
    int after = 0, cross, room;
    pg_value *out;

    if (!id_arg(args[0], "galleryId", gid, st) || !id_list(db, args[1], &ids, &n, st)
        || !table_arg(opts, "options", keys, st))
        return NULL;
    before = member(opts, "before");
    after_v = member(opts, "after");
    if (!absent(before) && !absent(after_v))
        return pg_fail(st, PG_INVALID_ARGUMENT, "after: not allowed together with before"), NULL;
    if (!absent(before) || !absent(after_v)) {
        after = !absent(after_v);
        anchor_name = after ? "after" : "before";
        if (!id_arg(after ? after_v : before, anchor_name, aid, st))
            return NULL;
    }
    memcpy(tid, gid, sizeof tid);
    if (!absent(member(opts, "toGalleryId"))
        && !id_arg(member(opts, "toGalleryId"), "toGalleryId", tid, st))
        return NULL;
    if (!distinct_ids(db, ids, n, anchor_name ? aid : NULL, anchor_name, st))
        return NULL;
    cross = strcmp(gid, tid) != 0;
    moved = pg_arena_alloc(db->arena, n * sizeof *moved);
    mkeys = pg_arena_alloc(db->arena, n * sizeof *mkeys);
    sorts = pg_arena_alloc(db->arena, n * sizeof *sorts);
    found = pg_arena_alloc(db->arena, n);
    if (!moved || !mkeys || !sorts || !found || !(out = pg_new_array(db->arena, n)))
        return oom(st);

    if (!begin(db, 1, st))
        return NULL;
    /* both galleries locked (gallery_find), always in the order of their ids: two moves
     * between the same galleries in opposite directions wait, never deadlock */
    g1 = cross && strcmp(tid, gid) < 0 ? &dst : &src;
    g2 = g1 == &src ? &dst : &src;
    if (!find_gallery(db, g1 == &src ? gid : tid, g1 == &src ? "galleryId" : "toGalleryId", g1, st)
        || (cross && !find_gallery(db, g2 == &src ? gid : tid,
                                   g2 == &src ? "galleryId" : "toGalleryId", g2, st)))
        return end(db, NULL, st);
    if (!cross)
        dst = src;
    if (db->ops->items_find(db->s, (const char (*)[PG_UUID_LEN + 1])ids, n, db->arena, moved,
                            found, st) < 0)
        return end(db, NULL, st);
    for (i = 0; i < n; i++) {
        if (!found[i] || moved[i].gallery_key != src.key) {
            pg_fail(st, PG_NOT_FOUND, "itemIds[%zu]: no item with id %s in gallery %s", i + 1,
                    ids[i], src.id);
            return end(db, NULL, st);
        }
        mkeys[i] = moved[i].key;
    }
    if (anchor_name) {
        int there = item_in_gallery(db, &dst, aid, &anchor, st);
        if (there < 0)
            return end(db, NULL, st);
        if (!there) {
            pg_fail(st, PG_NOT_FOUND, "%s: no item with id %s in gallery %s", anchor_name, aid,
                    dst.id);
            return end(db, NULL, st);
        }
    }
    qsort(moved, n, sizeof *moved, by_order);
    qsort(mkeys, n, sizeof *mkeys, by_key);

    room = place(db, &dst, anchor_name ? &anchor : NULL, after, mkeys, n, !cross, sorts, st);
    if (room == 0) {
        /* no double left between the neighbours: the target gallery is renumbered
         * 1, 2, 3, ... in its order, and the places are chosen again */
        if (db->ops->items_renumber(db->s, dst.key, now, db->arena, &renumbered, &nrenumbered, st) < 0
            || (anchor_name && item_in_gallery(db, &dst, aid, &anchor, st) < 0))
            return end(db, NULL, st);
        room = place(db, &dst, anchor_name ? &anchor : NULL, after, mkeys, n, !cross, sorts, st);
        if (room == 0) {
            pg_fail(st, PG_INTERNAL, "no room for %zu items in gallery %s after renumbering",
                    n, dst.id);
            return end(db, NULL, st);
        }
    }
    if (room < 0 || !reserve_events(db, (cross ? 2 : 1) * n + nrenumbered, st))
        return end(db, NULL, st);

    /* events: the source's deletions, the target's renumbered items, then the moved
     * items themselves, in their new order */
    for (i = 0; cross && i < n; i++)
        if (!item_deleted_event(db, src.id, moved[i].id, PG_ORIGIN_ITEM_MOVED, now, st))
            return end(db, NULL, st);
    if (nrenumbered) {
        qsort(renumbered, nrenumbered, sizeof *renumbered, by_order);
        for (i = 0; i < nrenumbered; i++)
            if (!bsearch(&renumbered[i].key, mkeys, n, sizeof *mkeys, by_key)
                && !item_event(db, PG_EV_ITEM_UPDATED, dst.id, &renumbered[i], now, st))
                return end(db, NULL, st);
    }
    for (i = 0; i < n; i++) {
        pg_item_row *it = &moved[i];
        pg_value *v;
        it->gallery_key = dst.key;
        it->sort = sorts[i];
        it->updated_ms = later(it->updated_ms, now);
        it->revision++; /* as read before a renumbering: that one's is overwritten here */
        if (db->ops->item_move(db->s, it->key, dst.key, cross, it->sort, it->updated_ms,
                                  it->revision, st) < 0
            || !item_event(db, cross ? PG_EV_ITEM_CREATED : PG_EV_ITEM_UPDATED, dst.id, it, now, st)
            || !(v = item_value(db, it, 1, st)))
            return end(db, NULL, st);
        out->u.arr.v[out->u.arr.n++] = v;
    }
    if (cross) {
        src.item_count -= (int64_t)n;
        dst.item_count += (int64_t)n;
        if (!touch_gallery(db, &src, now, st))
            return end(db, NULL, st);
    }
    if (!touch_gallery(db, &dst, now, st))
        return end(db, NULL, st);
    return end(db, wrap(db, "items", out, st), st);
}

const pg_api_entry pg_api[] = {
    { "createGallery", create_gallery, 1, 1 },
    { "getGallery", get_gallery, 2, 0 },
    { "listGalleries", list_galleries, 1, 0 },
    { "updateGallery", update_gallery, 3, 1 },
    { "deleteGallery", delete_gallery, 2, 1 },
    { "createGalleryItem", create_gallery_item, 2, 1 },
    { "createGalleryItems", create_gallery_items, 2, 1 },
    { "getGalleryItem", get_gallery_item, 1, 0 },
    { "updateGalleryItem", update_gallery_item, 3, 1 },
    { "deleteGalleryItem", delete_gallery_item, 2, 1 },
    { "bulkDeleteGalleryItems", bulk_delete_gallery_items, 2, 1 },
    { "listGalleryItems", list_gallery_items, 2, 0 },
    /* not Wix's Pro Gallery (its v2 query shape): spec section 14 */
    { "queryGalleryItems", query_gallery_items, 2, 0 },
    { "queryGalleries", query_galleries, 1, 0 },
    /* beyond Wix (spec section 14) */
    { "moveGalleryItems", move_gallery_items, 3, 1 },
    /* not Wix's: progallery import (restore.c) */
    { "_restoreGallery", pg_restore_gallery, 1, 1 },
    { "_restoreItems", pg_restore_items, 2, 1 },
    { "_feedEvents", pg_feed_events, 1, PG_NEEDS_PRIVILEGE },
    { "_feedConsumers", pg_feed_consumers, 1, PG_NEEDS_PRIVILEGE },
    { "_feedEntitySeqs", pg_feed_entity_seqs, 1, PG_NEEDS_PRIVILEGE },
    { "_restoreFeed", pg_restore_feed, 1, 1 },
};
const int pg_api_count = (int)(sizeof pg_api / sizeof pg_api[0]);

/* ---- the event feed (spec section 10.3) ---------------------------------------------- */

#define EVENTS_PAGE_DEFAULT 100
#define EVENTS_PAGE_MAX 1000
#define CONSUMER_NAME_MAX 128

/* A consumer or lease name: 1..128 bytes of UTF-8. */
static int name_arg(const pg_value *v, const char *argname, size_t max, const char **s,
                    size_t *len, pg_status *st)
{
    const char *problem;
    if (absent(v))
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: required", argname);
    if (v->type != PG_STRING)
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: expected a string, got %s", argname,
                       pg_type_name(v));
    if (v->u.str.len < 1 || v->u.str.len > max)
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: must be 1 to %zu bytes", argname, max);
    if ((problem = pg_utf8_problem(v->u.str.s, v->u.str.len)))
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: %s", argname, problem);
    *s = v->u.str.s;
    *len = v->u.str.len;
    return 1;
}

/* A seq argument: an integer from 0 to 2^53. */
static int seq_arg(const pg_value *v, const char *argname, int64_t *out, pg_status *st)
{
    if (absent(v))
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: required", argname);
    if (v->type != PG_NUMBER || !isfinite(v->u.n) || v->u.n != floor(v->u.n) || v->u.n < 0
        || v->u.n > MAX_OFFSET)
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: expected an integer from 0 to 2^53", argname);
    *out = (int64_t)v->u.n;
    return 1;
}

static pg_value *events(pg_db *db, pg_value *const *args, pg_status *st)
{
    static const char *const keys[] = { "after", "limit", NULL };
    const pg_value *opts = args[0];
    int64_t after, limit, last, pruned;
    pg_event_row *rows;
    size_t n, i;
    pg_value *list, *out;
    if (!table_arg(opts, "options", keys, st)
        || !int_option(opts, "after", 0, MAX_OFFSET, 0, &after, st)
        || !int_option(opts, "limit", 1, EVENTS_PAGE_MAX, EVENTS_PAGE_DEFAULT, &limit, st)
        || !begin(db, 0, st))
        return NULL;
    if (db->ops->feed_state(db->s, &last, &pruned, st) < 0)
        return end(db, NULL, st);
    if (after < pruned) {
        pg_fail(st, PG_FAILED_PRECONDITION,
                "after: events after seq %lld were pruned (the feed now begins after seq %lld)",
                (long long)after, (long long)pruned);
        return end(db, NULL, st);
    }
    if (db->ops->event_page(db->s, after, limit, db->arena, &rows, &n, st) < 0)
        return end(db, NULL, st);
    if (!(list = pg_new_array(db->arena, n)) || !(out = pg_new_object(db->arena, 2)))
        return end(db, oom(st), st);
    for (i = 0; i < n; i++) {
        const char *problem;
        pg_value *env = pg_event_envelope(db->arena, &rows[i], &problem);
        if (!env) {
            pg_fail(st, PG_INTERNAL, "%s", problem);
            return end(db, NULL, st);
        }
        list->u.arr.v[list->u.arr.n++] = env;
    }
    if (!pg_obj_add(db->arena, out, "events", list)
        || !pg_obj_add(db->arena, out, "lastSeq",
                       pg_new_number(db->arena, (double)(n ? rows[n - 1].seq : after)))
        || !pg_obj_get(out, "lastSeq"))
        return end(db, oom(st), st);
    return end(db, out, st);
}

static pg_value *event_cursor(pg_db *db, pg_value *const *args, pg_status *st)
{
    const char *name;
    size_t len;
    int64_t seq;
    if (!name_arg(args[0], "name", CONSUMER_NAME_MAX, &name, &len, st) || !begin(db, 0, st))
        return NULL;
    if (db->ops->cursor_get(db->s, name, len, &seq, st) < 0)
        return end(db, NULL, st);
    {
        pg_value *v = pg_new_number(db->arena, (double)seq);
        return end(db, v ? v : oom(st), st);
    }
}

static pg_value *set_event_cursor(pg_db *db, pg_value *const *args, pg_status *st)
{
    const char *name;
    size_t len;
    int64_t seq, current, last, pruned;
    pg_value *ok;
    if (!name_arg(args[0], "name", CONSUMER_NAME_MAX, &name, &len, st)
        || !seq_arg(args[1], "seq", &seq, st) || !begin(db, 1, st))
        return NULL;
    if (db->ops->cursor_get(db->s, name, len, &current, st) < 0
        || db->ops->feed_state(db->s, &last, &pruned, st) < 0)
        return end(db, NULL, st);
    if (seq < current) {
        pg_fail(st, PG_INVALID_ARGUMENT, "seq: %lld is below the consumer's cursor (%lld)",
                (long long)seq, (long long)current);
        return end(db, NULL, st);
    }
    if (seq > last) {
        pg_fail(st, PG_INVALID_ARGUMENT, "seq: %lld is above the feed's last seq (%lld)",
                (long long)seq, (long long)last);
        return end(db, NULL, st);
    }
    if (db->ops->cursor_set(db->s, name, len, seq, st) < 0 || !prune(db, 0, pg_now_ms(), 1, st))
        return end(db, NULL, st);
    if (!(ok = pg_new_bool(db->arena, 1)))
        return end(db, oom(st), st);
    return end(db, ok, st);
}

/* leaseEventConsumer(name, holder, ms): one deliverer per consumer (10.5). */
static pg_value *lease_event_consumer(pg_db *db, pg_value *const *args, pg_status *st)
{
    const char *name, *holder;
    size_t len, hlen;
    int64_t ms, now = pg_now_ms();
    int held;
    pg_value *v;
    if (!name_arg(args[0], "name", CONSUMER_NAME_MAX, &name, &len, st)
        || !name_arg(args[1], "holder", CONSUMER_NAME_MAX, &holder, &hlen, st)
        || !seq_arg(args[2], "ms", &ms, st))
        return NULL;
    if (ms > 3600000)
        return pg_fail(st, PG_INVALID_ARGUMENT, "ms: at most 3600000 (an hour)"), NULL;
    if (!begin(db, 1, st))
        return NULL;
    if ((held = db->ops->lease_take(db->s, name, len, holder, hlen, now, now + ms, st)) < 0)
        return end(db, NULL, st);
    if (!(v = pg_new_bool(db->arena, held)))
        return end(db, oom(st), st);
    return end(db, v, st);
}

const pg_api_entry pg_feed_api[] = {
    { "events", events, 1, PG_NEEDS_PRIVILEGE },
    { "eventCursor", event_cursor, 1, 0 },
    { "setEventCursor", set_event_cursor, 2, 1 },
    { "leaseEventConsumer", lease_event_consumer, 3, 1 },
};
const int pg_feed_api_count = (int)(sizeof pg_feed_api / sizeof pg_feed_api[0]);
