/* Restoring an exported store (`progallery import`, docs/site.md): galleries and items
 * keep the ids, dates and sort orders they were exported with, which the API of spec
 * section 3 always makes anew. Two entries of the API table, admin only, not part of the
 * Wix API (hence the leading underscore):
 *   _restoreGallery(gallery)        gallery = an exported Velo gallery (_id, _createdDate,
 *                                   _updatedDate, sortOrder, name?, items = 0..1000 items)
 *                                   -> { galleryId = id }
 *   _restoreItems(galleryId, items) 1..1000 exported items (_id, dates, sortOrder), appended
 *                                   -> { galleryId = id, count = n }
 * Everything else is validated as createGallery / createGalleryItems validate it; an id
 * already in the store is FAILED_PRECONDITION. Each call is one transaction. The gallery's
 * _updatedDate stays the exported one (restoring is not an edit), and so do the revisions:
 * `revision` when the export has it (stores of schema 4 on), 1 when not. */
#include "restore.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "model.h"

static int absent(const pg_value *v) { return !v || v->type == PG_NULL; }

static int parse_date(const pg_value *v, int64_t *ms)
{
    return v && v->type == PG_STRING && pg_parse_iso8601(v->u.str.s, v->u.str.len, ms);
}

/* _id, _createdDate, _updatedDate and revision (1 when absent) of an exported object at path. */
static int identity(const pg_value *obj, pg_path *path, char id[PG_UUID_LEN + 1],
                    int64_t *created, int64_t *updated, int64_t *revision, pg_status *st)
{
    const pg_value *v = pg_obj_get(obj, "_id");
    size_t old;
    old = pg_path_key(path, "_id", 3);
    if (!v || v->type != PG_STRING || !pg_uuid_normalize(v->u.str.s, v->u.str.len, id))
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "required: the exported UUID");
    pg_path_pop(path, old);
    old = pg_path_key(path, "_createdDate", 12);
    if (!parse_date(pg_obj_get(obj, "_createdDate"), created))
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "required: an ISO-8601 date with ms");
    pg_path_pop(path, old);
    old = pg_path_key(path, "_updatedDate", 12);
    if (!parse_date(pg_obj_get(obj, "_updatedDate"), updated))
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "required: an ISO-8601 date with ms");
    pg_path_pop(path, old);
    *revision = 1;
    v = pg_obj_get(obj, "revision");
    old = pg_path_key(path, "revision", 8);
    if (!absent(v) && !pg_revision_arg(v, path, revision, st))
        return 0;
    pg_path_pop(path, old);
    return 1;
}

/* Inserts the validated items `in` (raw exported values `raw`) into gallery g. */
static int put_items(pg_db *db, pg_gallery_row *g, const pg_value *raw, const pg_item_in *in,
                     size_t n, pg_path *path, pg_status *st)
{
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    pg_arena *a = pg_db_arena(db);
    size_t i;
    for (i = 0; i < n; i++) {
        pg_item_row it, old;
        size_t mark = pg_path_index(path, i + 1);
        int found;
        memset(&it, 0, sizeof it);
        if (!identity(raw->u.arr.v[i], path, it.id, &it.created_ms, &it.updated_ms, &it.revision, st))
            return 0;
        if (!in[i].has_sort)
            return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "sortOrder: required");
        if ((found = ops->item_find(s, it.id, a, &old, st)) < 0)
            return 0;
        if (found)
            return pg_fail_at(st, PG_FAILED_PRECONDITION, path, "_id: %s is already in the store", it.id);
        pg_path_pop(path, mark);
        it.gallery_key = g->key;
        it.type = pg_doc_type(in[i].doc);
        it.sort = in[i].sort;
        if (!(it.doc = pg_json_encode(a, in[i].doc, &it.doclen)))
            return pg_fail(st, PG_INTERNAL, "out of memory");
        if (ops->item_insert(s, &it, st) < 0)
            return 0;
    }
    g->item_count += (int64_t)n;
    return 1;
}

static pg_value *result(pg_db *db, const char *gid, int64_t count, pg_status *st)
{
    pg_arena *a = pg_db_arena(db);
    pg_value *v = pg_new_object(a, 2), *id = pg_new_string(a, gid, strlen(gid));
    pg_value *n = count >= 0 ? pg_new_number(a, (double)count) : NULL;
    if (!v || !id || !pg_obj_add(a, v, "galleryId", id) || (n && !pg_obj_add(a, v, "count", n))) {
        pg_fail(st, PG_INTERNAL, "out of memory");
        return NULL;
    }
    return v;
}

static pg_value *done(pg_db *db, pg_value *v, pg_status *st)
{
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    if (v && ops->commit(s, st) > 0)
        return v;
    ops->rollback(s);
    return NULL;
}

pg_value *pg_restore_gallery(pg_db *db, pg_value *const *args, pg_status *st)
{
    const pg_value *in = args[0], *items;
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    pg_arena *a = pg_db_arena(db);
    pg_gallery_in gin;
    pg_gallery_row g, old;
    pg_path path;
    int found;

    memset(&g, 0, sizeof g);
    pg_path_init(&path, "gallery");
    if (absent(in) || in->type != PG_OBJECT)
        return pg_fail(st, PG_INVALID_ARGUMENT, "gallery: required (an exported gallery)"), NULL;
    if (!pg_validate_gallery(a, in, PG_CREATE, &path, &gin, st)
        || !identity(in, &path, g.id, &g.created_ms, &g.updated_ms, &g.revision, st))
        return NULL;
    if (!gin.has_sort)
        return pg_fail(st, PG_INVALID_ARGUMENT, "gallery.sortOrder: required"), NULL;
    items = pg_obj_get(in, "items");
    if (ops->begin(s, 1, st) <= 0)
        return NULL;
    if ((found = ops->gallery_find(s, g.id, a, &old, st)) != 0) {
        if (found > 0)
            pg_fail(st, PG_FAILED_PRECONDITION, "gallery._id: %s is already in the store", g.id);
        return done(db, NULL, st);
    }
    g.sort = gin.sort;
    if (gin.name_state == PG_SET) {
        g.name = gin.name;
        g.namelen = gin.namelen;
    }
    if (ops->gallery_insert(s, &g, st) < 0)
        return done(db, NULL, st);
    pg_path_key(&path, "items", 5);
    if (gin.nitems && !put_items(db, &g, items, gin.items, gin.nitems, &path, st))
        return done(db, NULL, st);
    if (ops->gallery_update(s, &g, 0, st) < 0)
        return done(db, NULL, st);
    return done(db, result(db, g.id, -1, st), st);
}

pg_value *pg_restore_items(pg_db *db, pg_value *const *args, pg_status *st)
{
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    pg_arena *a = pg_db_arena(db);
    char gid[PG_UUID_LEN + 1];
    pg_item_in *in;
    size_t n;
    pg_gallery_row g;
    pg_path path;
    int found;
    const pg_value *id = args[0];
    if (absent(id) || id->type != PG_STRING || !pg_uuid_normalize(id->u.str.s, id->u.str.len, gid))
        return pg_fail(st, PG_INVALID_ARGUMENT, "galleryId: not a valid UUID"), NULL;
    pg_path_init(&path, "items");
    if (!pg_validate_items(a, args[1], 1, &path, &in, &n, st))
        return NULL;
    if (ops->begin(s, 1, st) <= 0)
        return NULL;
    if ((found = ops->gallery_find(s, gid, a, &g, st)) <= 0) {
        if (found == 0)
            pg_fail(st, PG_NOT_FOUND, "galleryId: no gallery with id %s", gid);
        return done(db, NULL, st);
    }
    if (!put_items(db, &g, args[1], in, n, &path, st) || ops->gallery_update(s, &g, 0, st) < 0)
        return done(db, NULL, st);
    return done(db, result(db, g.id, (int64_t)n, st), st);
}

/* ---- the event feed (progallery export / import) ------------------------------------
 * What a consumer needs to go on after a move: the feed's events with their seqs, where
 * it begins (prunedThrough), every consumer's cursor and every gallery's
 * entityEventSequence. Admin only, like the rest of this file:
 *   _feedEvents({ after, limit })      -> { prunedThrough, lastSeq, events = [row...] }
 *   _feedConsumers({ after, limit })   -> { consumers = [{ name, seq }...] } by name
 *   _feedEntitySeqs({ after, limit })  -> { galleries = [{ galleryId, eventSeq }...] } by id
 *   _restoreFeed(part)                 part: one of { prunedThrough = n } (an empty feed
 *                                      only), { events = rows } (continuing the feed),
 *                                      { consumers = ... }, { galleries = ... }
 * An event row is the stored event: seq, entitySeq, id, type (Wix's event type), galleryId,
 * time (ms), origin and actor (the store's codes), actorId, itemId, doc (the entity's
 * stored text), sortOrder, created, updated (ms), count, revision (the entity's; absent in
 * events recorded before revisions). A restored row is checked by
 * building its envelope, as every read of the feed will. */

#include <math.h>

#include "events.h"
#include "utf8.h"

#define FEED_PAGE_MAX 1000
#define SEQ_MAX 9007199254740992.0

static pg_value *oom(pg_status *st)
{
    pg_fail(st, PG_INTERNAL, "out of memory");
    return NULL;
}

static int put_num(pg_arena *a, pg_value *o, const char *k, double n)
{
    pg_value *v = pg_new_number(a, n);
    return v && pg_obj_add(a, o, k, v);
}

static int put_str(pg_arena *a, pg_value *o, const char *k, const char *s, size_t len)
{
    pg_value *v;
    if (!s)
        return 1;
    v = pg_new_string(a, s, len);
    return v && pg_obj_add(a, o, k, v);
}

static int key_is(const pg_member *m, const char *k)
{
    return strlen(k) == m->keylen && memcmp(k, m->key, m->keylen) == 0;
}

/* options { after, limit }: after a number (seq) or, with by_name, a string. */
static int page_opts(const pg_value *o, int by_name, double *after_n, const pg_value **after_s,
                     int64_t *limit, pg_status *st)
{
    const pg_value *after = NULL, *lim = NULL;
    size_t i;
    *after_n = 0;
    *after_s = NULL;
    *limit = 100;
    if (absent(o))
        return 1;
    if (o->type != PG_OBJECT)
        return pg_fail(st, PG_INVALID_ARGUMENT, "options: expected a table, got %s", pg_type_name(o));
    for (i = 0; i < o->u.obj.n; i++) {
        const pg_member *m = &o->u.obj.m[i];
        if (key_is(m, "after"))
            after = m->val;
        else if (key_is(m, "limit"))
            lim = m->val;
        else
            return pg_fail_name(st, PG_INVALID_ARGUMENT, m->key, m->keylen, "unknown option");
    }
    if (!absent(lim)) {
        if (lim->type != PG_NUMBER || lim->u.n != floor(lim->u.n) || lim->u.n < 1
            || lim->u.n > FEED_PAGE_MAX)
            return pg_fail(st, PG_INVALID_ARGUMENT, "options.limit: expected an integer from 1 to %d",
                           FEED_PAGE_MAX);
        *limit = (int64_t)lim->u.n;
    }
    if (absent(after))
        return 1;
    if (by_name) {
        if (after->type != PG_STRING || pg_utf8_problem(after->u.str.s, after->u.str.len))
            return pg_fail(st, PG_INVALID_ARGUMENT, "options.after: expected a string");
        *after_s = after;
        return 1;
    }
    if (after->type != PG_NUMBER || after->u.n != floor(after->u.n) || after->u.n < 0
        || after->u.n > SEQ_MAX)
        return pg_fail(st, PG_INVALID_ARGUMENT, "options.after: expected an integer from 0 to 2^53");
    *after_n = after->u.n;
    return 1;
}

static pg_value *event_value(pg_arena *a, const pg_event_row *e)
{
    pg_value *o = pg_new_object(a, 17);
    char rev[PG_REVISION_TEXT];
    pg_revision_text(e->revision, rev);
    if (!o || !put_num(a, o, "seq", (double)e->seq) || !put_num(a, o, "entitySeq", (double)e->entity_seq)
        || !put_str(a, o, "id", e->id, PG_UUID_LEN)
        || !put_str(a, o, "type", pg_event_type(e->kind), strlen(pg_event_type(e->kind)))
        || !put_str(a, o, "galleryId", e->gallery_id, PG_UUID_LEN)
        || !put_num(a, o, "time", (double)e->time_ms) || !put_num(a, o, "origin", e->origin)
        || !put_num(a, o, "actor", e->actor) || !put_str(a, o, "actorId", e->actor_id, e->actor_idlen)
        || (e->item_id[0] && !put_str(a, o, "itemId", e->item_id, PG_UUID_LEN))
        || !put_str(a, o, "doc", e->doc, e->doclen) || !put_num(a, o, "sortOrder", e->sort)
        || !put_num(a, o, "created", (double)e->created_ms)
        || !put_num(a, o, "updated", (double)e->updated_ms) || !put_num(a, o, "count", (double)e->count)
        || (e->revision > 0 && !put_str(a, o, "revision", rev, strlen(rev))))
        return NULL;
    return o;
}

pg_value *pg_feed_events(pg_db *db, pg_value *const *args, pg_status *st)
{
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    pg_arena *a = pg_db_arena(db);
    const pg_value *unused;
    double after;
    int64_t limit, last, pruned;
    pg_event_row *rows;
    size_t n, i;
    pg_value *out, *list;
    if (!page_opts(args[0], 0, &after, &unused, &limit, st) || ops->begin(s, 0, st) <= 0)
        return NULL;
    if (ops->feed_state(s, &last, &pruned, st) < 0)
        return done(db, NULL, st);
    if ((int64_t)after < pruned) {
        pg_fail(st, PG_FAILED_PRECONDITION, "options.after: the feed begins after seq %lld",
                (long long)pruned);
        return done(db, NULL, st);
    }
    if (ops->event_page(s, (int64_t)after, limit, a, &rows, &n, st) < 0)
        return done(db, NULL, st);
    if (!(out = pg_new_object(a, 3)) || !(list = pg_new_array(a, n ? n : 1))
        || !put_num(a, out, "prunedThrough", (double)pruned) || !put_num(a, out, "lastSeq", (double)last)
        || !pg_obj_add(a, out, "events", list))
        return done(db, oom(st), st);
    for (i = 0; i < n; i++)
        if (!(list->u.arr.v[list->u.arr.n++] = event_value(a, &rows[i])))
            return done(db, oom(st), st);
    return done(db, out, st);
}

pg_value *pg_feed_consumers(pg_db *db, pg_value *const *args, pg_status *st)
{
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    pg_arena *a = pg_db_arena(db);
    const pg_value *after;
    double unused;
    int64_t limit;
    pg_cursor_row *rows;
    size_t n, i;
    pg_value *out, *list;
    if (!page_opts(args[0], 1, &unused, &after, &limit, st) || ops->begin(s, 0, st) <= 0)
        return NULL;
    if (ops->cursor_page(s, after ? after->u.str.s : NULL, after ? after->u.str.len : 0, limit, a,
                         &rows, &n, st) < 0)
        return done(db, NULL, st);
    if (!(out = pg_new_object(a, 1)) || !(list = pg_new_array(a, n ? n : 1))
        || !pg_obj_add(a, out, "consumers", list))
        return done(db, oom(st), st);
    for (i = 0; i < n; i++) {
        pg_value *c = pg_new_object(a, 2);
        if (!c || !put_str(a, c, "name", rows[i].name, rows[i].namelen)
            || !put_num(a, c, "seq", (double)rows[i].seq))
            return done(db, oom(st), st);
        list->u.arr.v[list->u.arr.n++] = c;
    }
    return done(db, out, st);
}

pg_value *pg_feed_entity_seqs(pg_db *db, pg_value *const *args, pg_status *st)
{
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    pg_arena *a = pg_db_arena(db);
    const pg_value *after;
    char aid[PG_UUID_LEN + 1];
    double unused;
    int64_t limit;
    pg_entity_seq_row *rows;
    size_t n, i;
    pg_value *out, *list;
    if (!page_opts(args[0], 1, &unused, &after, &limit, st))
        return NULL;
    if (after && !pg_uuid_normalize(after->u.str.s, after->u.str.len, aid))
        return pg_fail(st, PG_INVALID_ARGUMENT, "options.after: not a valid UUID"), NULL;
    if (ops->begin(s, 0, st) <= 0)
        return NULL;
    if (ops->entity_seq_page(s, after ? aid : NULL, limit, a, &rows, &n, st) < 0)
        return done(db, NULL, st);
    if (!(out = pg_new_object(a, 1)) || !(list = pg_new_array(a, n ? n : 1))
        || !pg_obj_add(a, out, "galleries", list))
        return done(db, oom(st), st);
    for (i = 0; i < n; i++) {
        pg_value *g = pg_new_object(a, 2);
        if (!g || !put_str(a, g, "galleryId", rows[i].gallery_id, PG_UUID_LEN)
            || !put_num(a, g, "eventSeq", (double)rows[i].seq))
            return done(db, oom(st), st);
        list->u.arr.v[list->u.arr.n++] = g;
    }
    return done(db, out, st);
}

/* ---- _restoreFeed ---- */

static int get_int(const pg_value *o, const char *k, double min, double max, int64_t *out,
                   pg_path *path, pg_status *st)
{
    const pg_value *v = pg_obj_get(o, k);
    size_t old = pg_path_key(path, k, strlen(k));
    if (!v || v->type != PG_NUMBER || v->u.n != floor(v->u.n) || v->u.n < min || v->u.n > max)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected an integer from %.0f to %.0f", min, max);
    *out = (int64_t)v->u.n;
    pg_path_pop(path, old);
    return 1;
}

/* an optional string member (NULL when absent); a UUID when id is given */
static int get_str(const pg_value *o, const char *k, size_t max, const char **s, size_t *len,
                   char id[PG_UUID_LEN + 1], pg_path *path, pg_status *st)
{
    const pg_value *v = pg_obj_get(o, k);
    size_t old = pg_path_key(path, k, strlen(k));
    *s = NULL;
    *len = 0;
    if (absent(v)) {
        pg_path_pop(path, old);
        return 1;
    }
    if (v->type != PG_STRING || v->u.str.len > max || pg_utf8_problem(v->u.str.s, v->u.str.len))
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected a string of at most %zu bytes", max);
    if (id && !pg_uuid_normalize(v->u.str.s, v->u.str.len, id))
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "not a valid UUID");
    *s = v->u.str.s;
    *len = v->u.str.len;
    pg_path_pop(path, old);
    return 1;
}

static int event_kind(const char *type, size_t len)
{
    int k;
    for (k = 0; k < PG_EV_KINDS; k++)
        if (strlen(pg_event_type(k)) == len && memcmp(pg_event_type(k), type, len) == 0)
            return k;
    return -1;
}

/* The members of an exported event (event_value writes them): any other is refused,
 * since a misspelt one would be dropped and its value replaced by a default. */
static const char *const event_keys[] = {
    "seq", "entitySeq", "id", "type", "galleryId", "time", "origin", "actor", "actorId",
    "itemId", "doc", "sortOrder", "created", "updated", "count", "revision", NULL,
};

static int known_keys(const pg_value *o, pg_path *path, pg_status *st)
{
    size_t i, k;
    for (i = 0; i < o->u.obj.n; i++) {
        const pg_member *m = &o->u.obj.m[i];
        for (k = 0; event_keys[k] && !key_is(m, event_keys[k]); k++) {}
        if (!event_keys[k]) {
            pg_path_key(path, m->key, m->keylen);
            return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "unknown field");
        }
    }
    return 1;
}

/* a member that must be there (get_str takes absent ones) */
static int required(const char *s, const char *k, pg_path *path, pg_status *st)
{
    if (s)
        return 1;
    pg_path_key(path, k, strlen(k));
    return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "required");
}

/* One exported event row at path into e; its envelope is built as a read would. */
static int event_row(pg_arena *a, const pg_value *o, pg_event_row *e, pg_path *path, pg_status *st)
{
    const char *s, *problem, *item;
    size_t len;
    int64_t n;
    const pg_value *sort;
    memset(e, 0, sizeof *e);
    if (!o || o->type != PG_OBJECT)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected an exported event");
    if (!known_keys(o, path, st)
        || !get_int(o, "seq", 1, SEQ_MAX, &e->seq, path, st)
        || !get_int(o, "entitySeq", 1, SEQ_MAX, &e->entity_seq, path, st)
        || !get_str(o, "id", 64, &s, &len, e->id, path, st) || !required(s, "id", path, st)
        || !get_str(o, "galleryId", 64, &s, &len, e->gallery_id, path, st)
        || !required(s, "galleryId", path, st)
        || !get_int(o, "time", -SEQ_MAX, SEQ_MAX, &e->time_ms, path, st)
        || !get_int(o, "origin", PG_ORIGIN_NONE, PG_ORIGIN_LAST, &n, path, st))
        return 0;
    e->origin = (int)n;
    if (!get_int(o, "actor", PG_ACTOR_WIX_USER, PG_ACTOR_VISITOR, &n, path, st))
        return 0;
    e->actor = (int)n;
    if (!get_str(o, "actorId", PG_ACTOR_ID_MAX, &e->actor_id, &e->actor_idlen, NULL, path, st)
        || !get_str(o, "itemId", 64, &item, &len, e->item_id, path, st)
        || !get_str(o, "doc", (size_t)1 << 30, &e->doc, &e->doclen, NULL, path, st)
        || !get_int(o, "created", -SEQ_MAX, SEQ_MAX, &e->created_ms, path, st)
        || !get_int(o, "updated", -SEQ_MAX, SEQ_MAX, &e->updated_ms, path, st)
        || !get_int(o, "count", 0, SEQ_MAX, &e->count, path, st)
        || !get_str(o, "type", 64, &s, &len, NULL, path, st))
        return 0;
    if (!s || (e->kind = event_kind(s, len)) < 0)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "type: not an event type of the store");
    /* an item's event names its item, a gallery's none */
    if ((e->kind >= PG_EV_ITEM_CREATED) != (item != NULL)) {
        pg_path_key(path, "itemId", 6);
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, item ? "not in a gallery's event"
                                                             : "required in an item's event");
    }
    sort = pg_obj_get(o, "sortOrder");
    if (!sort || sort->type != PG_NUMBER || !isfinite(sort->u.n))
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "sortOrder: expected a finite number");
    e->sort = sort->u.n;
    /* the entity's revision: absent in events recorded before revisions (and in exports of them) */
    if (!absent(pg_obj_get(o, "revision"))) {
        size_t old = pg_path_key(path, "revision", 8);
        if (!pg_revision_arg(pg_obj_get(o, "revision"), path, &e->revision, st))
            return 0;
        pg_path_pop(path, old);
    }
    if (!pg_date_ok(e->time_ms))
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "time: not a date the store writes");
    if (!pg_event_envelope(a, e, &problem))
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "not an event the store can read (%s)", problem);
    return 1;
}

static int restore_events(pg_db *db, const pg_value *list, pg_path *path, pg_status *st)
{
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    pg_arena *a = pg_db_arena(db);
    pg_event_row *rows;
    int64_t last, pruned;
    size_t i;
    if (list->type != PG_ARRAY || list->u.arr.n < 1 || list->u.arr.n > FEED_PAGE_MAX)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected 1 to %d exported events", FEED_PAGE_MAX);
    if (!(rows = pg_arena_alloc(a, list->u.arr.n * sizeof *rows)))
        return pg_fail(st, PG_INTERNAL, "out of memory");
    if (ops->feed_state(s, &last, &pruned, st) < 0)
        return 0;
    for (i = 0; i < list->u.arr.n; i++) {
        size_t mark = pg_path_index(path, i + 1);
        if (!event_row(a, list->u.arr.v[i], &rows[i], path, st))
            return 0;
        if (rows[i].seq != last + 1 + (int64_t)i)
            return pg_fail_at(st, PG_INVALID_ARGUMENT, path,
                              "seq: %lld does not continue the feed (its next seq is %lld)",
                              (long long)rows[i].seq, (long long)(last + 1 + (int64_t)i));
        pg_path_pop(path, mark);
    }
    return ops->event_restore(s, rows, list->u.arr.n, st) > 0;
}

static int restore_consumers(pg_db *db, const pg_value *list, pg_path *path, pg_status *st)
{
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    int64_t last, pruned, seq;
    size_t i;
    if (list->type != PG_ARRAY || list->u.arr.n > FEED_PAGE_MAX)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected 0 to %d consumers", FEED_PAGE_MAX);
    if (ops->feed_state(s, &last, &pruned, st) < 0)
        return 0;
    for (i = 0; i < list->u.arr.n; i++) {
        const pg_value *c = list->u.arr.v[i];
        const char *name;
        size_t len, mark = pg_path_index(path, i + 1);
        if (!c || c->type != PG_OBJECT)
            return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected { name, seq }");
        if (!get_str(c, "name", 128, &name, &len, NULL, path, st)
            || !get_int(c, "seq", 0, (double)last, &seq, path, st))
            return 0;
        if (!name || !len)
            return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "name: required (1 to 128 bytes)");
        if (ops->cursor_set(s, name, len, seq, st) < 0)
            return 0;
        pg_path_pop(path, mark);
    }
    return 1;
}

static int restore_entity_seqs(pg_db *db, const pg_value *list, pg_path *path, pg_status *st)
{
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    pg_arena *a = pg_db_arena(db);
    size_t i;
    if (list->type != PG_ARRAY || list->u.arr.n > FEED_PAGE_MAX)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected 0 to %d galleries", FEED_PAGE_MAX);
    for (i = 0; i < list->u.arr.n; i++) {
        const pg_value *g = list->u.arr.v[i];
        const char *unused;
        char gid[PG_UUID_LEN + 1];
        size_t len, mark = pg_path_index(path, i + 1);
        int64_t seq;
        pg_gallery_row row;
        int found;
        if (!g || g->type != PG_OBJECT)
            return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected { galleryId, eventSeq }");
        if (!get_str(g, "galleryId", 64, &unused, &len, gid, path, st)
            || !get_int(g, "eventSeq", 0, SEQ_MAX, &seq, path, st))
            return 0;
        if (!unused)
            return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "galleryId: required");
        if ((found = ops->gallery_find(s, gid, a, &row, st)) < 0)
            return 0;
        if (!found)
            return pg_fail_at(st, PG_NOT_FOUND, path, "galleryId: no gallery with id %s", gid);
        if (ops->entity_seq_set(s, gid, seq, st) < 0)
            return 0;
        pg_path_pop(path, mark);
    }
    return 1;
}

pg_value *pg_restore_feed(pg_db *db, pg_value *const *args, pg_status *st)
{
    static const char *const parts[] = { "prunedThrough", "events", "consumers", "galleries" };
    pg_storage *s;
    const pg_storage_ops *ops = pg_db_engine(db, &s);
    const pg_value *in = args[0], *v;
    pg_path path;
    int which = -1, ok;
    size_t i;
    if (absent(in) || in->type != PG_OBJECT || in->u.obj.n != 1)
        return pg_fail(st, PG_INVALID_ARGUMENT,
                       "part: expected one of prunedThrough, events, consumers, galleries"), NULL;
    for (i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (key_is(&in->u.obj.m[0], parts[i]))
            which = (int)i;
    if (which < 0)
        return pg_fail_name(st, PG_INVALID_ARGUMENT, in->u.obj.m[0].key, in->u.obj.m[0].keylen,
                            "unknown member of part"), NULL;
    v = in->u.obj.m[0].val;
    pg_path_init(&path, "part");
    pg_path_key(&path, parts[which], strlen(parts[which]));
    if (ops->begin(s, 1, st) <= 0)
        return NULL;
    if (which == 0) {
        int64_t last, pruned;
        if (!v || v->type != PG_NUMBER || v->u.n != floor(v->u.n) || v->u.n < 0 || v->u.n > SEQ_MAX) {
            pg_fail(st, PG_INVALID_ARGUMENT, "part.prunedThrough: expected an integer from 0 to 2^53");
            return done(db, NULL, st);
        }
        if (ops->feed_state(s, &last, &pruned, st) < 0)
            return done(db, NULL, st);
        if (last != 0 || pruned != 0) {
            pg_fail(st, PG_FAILED_PRECONDITION, "part.prunedThrough: the store's feed is not empty");
            return done(db, NULL, st);
        }
        ok = ops->feed_restore(s, (int64_t)v->u.n, st) > 0;
    } else if (which == 1)
        ok = restore_events(db, v, &path, st);
    else if (which == 2)
        ok = restore_consumers(db, v, &path, st);
    else
        ok = restore_entity_seqs(db, v, &path, st);
    if (!ok)
        return done(db, NULL, st);
    {
        pg_value *t = pg_new_bool(pg_db_arena(db), 1);
        return done(db, t ? t : oom(st), st);
    }
}
