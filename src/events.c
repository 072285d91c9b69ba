#include "events.h"

#include <stdio.h>
#include <string.h>

#include "ids.h"
#include "json.h"
#include "model.h"

static const char *const types[PG_EV_KINDS] = {
    "wix.pro_gallery.gallery_v2_created",
    "wix.pro_gallery.gallery_v2_updated",
    "wix.pro_gallery.gallery_v2_deleted",
    "wix.pro_gallery.gallery_v2_gallery_item_created",
    "wix.pro_gallery.gallery_v2_gallery_item_updated",
    "wix.pro_gallery.gallery_v2_gallery_item_deleted",
};

static const char *const slugs[PG_EV_KINDS] = {
    "created", "updated", "deleted",
    "gallery_item_created", "gallery_item_updated", "gallery_item_deleted",
};

/* originatedFrom, by pg_event_origin (none for PG_ORIGIN_NONE) */
static const char *const origins[PG_ORIGIN_LAST + 1] = {
    [PG_ORIGIN_GALLERY_DELETED] = "Gallery Deleted",
    [PG_ORIGIN_ITEM_MOVED] = "Item Moved",
};

const char *pg_event_type(int kind) { return kind >= 0 && kind < PG_EV_KINDS ? types[kind] : NULL; }
const char *pg_event_slug(int kind) { return kind >= 0 && kind < PG_EV_KINDS ? slugs[kind] : NULL; }

static int put(pg_arena *a, pg_value *o, const char *key, pg_value *v)
{
    return v && pg_obj_add(a, o, key, v);
}

static pg_value *text(pg_arena *a, const char *s)
{
    return pg_new_string_ref(a, s, strlen(s));
}

static pg_value *copy(pg_arena *a, const char *s)
{
    return pg_new_string(a, s, strlen(s));
}

/* M.identity: who made the change; the id only when the identity has one. */
static pg_value *identity(pg_arena *a, const pg_event_row *e)
{
    static const char *const type_names[] = { "WIX_USER", "MEMBER", "ANONYMOUS_VISITOR" };
    static const char *const id_keys[] = { "wixUserId", "memberId", "anonymousVisitorId" };
    pg_value *o = pg_new_object(a, 2);
    if (!o || !put(a, o, "identityType", text(a, type_names[e->actor])))
        return NULL;
    if (e->actor_id && !put(a, o, id_keys[e->actor], pg_new_string(a, e->actor_id, e->actor_idlen)))
        return NULL;
    return o;
}

static pg_value *metadata(pg_arena *a, const pg_event_row *e)
{
    char when[48], eseq[24];
    pg_value *m = pg_new_object(a, 12);
    pg_iso8601(e->time_ms, when);
    snprintf(eseq, sizeof eseq, "%lld", (long long)e->entity_seq);
    if (!m || !put(a, m, "_id", copy(a, e->id))
        || !put(a, m, "seq", pg_new_number(a, (double)e->seq))
        || !put(a, m, "eventType", text(a, types[e->kind]))
        || !put(a, m, "slug", text(a, slugs[e->kind]))
        || !put(a, m, "entityFqdn", text(a, "wix.pro_gallery.v2.gallery"))
        || !put(a, m, "entityId", copy(a, e->gallery_id))
        || !put(a, m, "eventTime", copy(a, when))
        || !put(a, m, "entityEventSequence", copy(a, eseq))
        || (e->origin > PG_ORIGIN_NONE && e->origin <= PG_ORIGIN_LAST
            && !put(a, m, "originatedFrom", text(a, origins[e->origin])))
        || !put(a, m, "triggeredByAnonymizeRequest", pg_new_bool(a, 0))
        || !put(a, m, "identity", identity(a, e)))
        return NULL;
    return m;
}

static pg_value *item(pg_arena *a, const pg_event_row *e, const char **problem)
{
    const char *err = NULL;
    pg_value *doc = pg_json_decode(a, e->doc, e->doclen, &err);
    if (!doc || doc->type != PG_OBJECT) {
        *problem = doc || (err && strcmp(err, "out of memory") != 0)
                       ? "database damaged: an event's item is not readable" : "out of memory";
        return NULL;
    }
    return pg_item_out(a, e->item_id, pg_doc_type(doc), e->sort, e->created_ms, e->updated_ms,
                       e->revision, doc);
}

pg_value *pg_event_envelope(pg_arena *a, const pg_event_row *e, const char **problem)
{
    pg_value *env = pg_new_object(a, 2), *data = NULL, *v = NULL;
    *problem = "out of memory";
    if (!env || e->kind < 0 || e->kind >= PG_EV_KINDS) {
        if (env)
            *problem = "database damaged: an event row is not readable";
        return NULL;
    }
    switch (e->kind) {
    case PG_EV_GALLERY_CREATED:
    case PG_EV_GALLERY_UPDATED:
        /* as Wix sends it: items = [] beside the live totalItems */
        v = pg_gallery_out(a, e->gallery_id, e->doc, e->doclen, e->sort, e->created_ms,
                           e->updated_ms, e->count, e->revision, NULL);
        if (!put(a, env, "entity", v))
            return NULL;
        break;
    case PG_EV_GALLERY_DELETED:
        break;
    case PG_EV_ITEM_CREATED:
    case PG_EV_ITEM_UPDATED:
        if (!(v = item(a, e, problem)))
            return NULL;
        /* fall through */
    default:
        if (!(data = pg_new_object(a, 1)))
            return NULL;
        if (e->kind == PG_EV_ITEM_DELETED)
            v = copy(a, e->item_id);
        if (!put(a, data, e->kind == PG_EV_ITEM_CREATED ? "item"
                          : e->kind == PG_EV_ITEM_UPDATED ? "updatedItem" : "itemId", v)
            || !put(a, env, "data", data))
            return NULL;
    }
    if (!put(a, env, "metadata", metadata(a, e)))
        return NULL;
    return env;
}

/* ---- packing ---------------------------------------------------------------------- */

static int has_item(int kind) { return kind >= PG_EV_ITEM_CREATED; }
static int has_entity(int kind)
{
    return kind == PG_EV_GALLERY_CREATED || kind == PG_EV_GALLERY_UPDATED
           || kind == PG_EV_ITEM_CREATED || kind == PG_EV_ITEM_UPDATED;
}

static void put64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#define ENTITY_BYTES (8 * 4 + 1 + 4) /* sort, created, updated, count, has_doc, doclen */
/* Set in the origin byte when the entity's revision follows its ENTITY_BYTES (8 bytes):
 * events packed before revisions have it clear, and their entity no revision. */
#define HAS_REVISION 0x80

static int packs_revision(const pg_event_row *e) { return has_entity(e->kind) && e->revision > 0; }

size_t pg_event_packed_size(const pg_event_row *e)
{
    return 2 + 16 + (has_item(e->kind) ? 16 : 0)
           + (has_entity(e->kind) ? ENTITY_BYTES + (e->doc ? e->doclen : 0) : 0)
           + (packs_revision(e) ? 8 : 0);
}

size_t pg_event_pack(unsigned char *out, const pg_event_row *e)
{
    unsigned char *p = out;
    uint64_t bits;
    *p++ = (unsigned char)e->kind;
    *p++ = (unsigned char)(e->origin | (packs_revision(e) ? HAS_REVISION : 0));
    pg_uuid_bytes(e->id, p);
    p += 16;
    if (has_item(e->kind)) {
        pg_uuid_bytes(e->item_id, p);
        p += 16;
    }
    if (has_entity(e->kind)) {
        memcpy(&bits, &e->sort, 8);
        put64(p, bits);
        put64(p + 8, (uint64_t)e->created_ms);
        put64(p + 16, (uint64_t)e->updated_ms);
        put64(p + 24, (uint64_t)e->count);
        p[32] = e->doc != NULL;
        p[33] = (unsigned char)(e->doclen & 0xFF);
        p[34] = (unsigned char)(e->doclen >> 8 & 0xFF);
        p[35] = (unsigned char)(e->doclen >> 16 & 0xFF);
        p[36] = (unsigned char)(e->doclen >> 24 & 0xFF);
        p += ENTITY_BYTES;
        if (packs_revision(e)) {
            put64(p, (uint64_t)e->revision);
            p += 8;
        }
        if (e->doc) {
            memcpy(p, e->doc, e->doclen);
            p += e->doclen;
        }
    }
    return (size_t)(p - out);
}

size_t pg_event_unpack(const unsigned char *p, size_t n, pg_arena *a, pg_event_row *e, int *oom)
{
    size_t used = 2 + 16, doclen;
    uint64_t bits;
    int with_revision;
    *oom = 0;
    if (n < used || p[0] >= PG_EV_KINDS || (p[1] & ~HAS_REVISION) > PG_ORIGIN_LAST)
        return 0;
    e->kind = p[0];
    e->origin = p[1] & ~HAS_REVISION;
    with_revision = (p[1] & HAS_REVISION) != 0;
    if (with_revision && !has_entity(e->kind))
        return 0;
    e->revision = 0;
    pg_uuid_text(p + 2, e->id);
    e->item_id[0] = '\0';
    e->doc = NULL;
    e->doclen = 0;
    e->sort = 0;
    e->created_ms = e->updated_ms = e->count = 0;
    if (has_item(e->kind)) {
        if (n < used + 16)
            return 0;
        pg_uuid_text(p + used, e->item_id);
        used += 16;
    }
    if (has_entity(e->kind)) {
        const unsigned char *q = p + used;
        if (n < used + ENTITY_BYTES)
            return 0;
        bits = get64(q);
        memcpy(&e->sort, &bits, 8);
        e->created_ms = (int64_t)get64(q + 8);
        e->updated_ms = (int64_t)get64(q + 16);
        e->count = (int64_t)get64(q + 24);
        doclen = (size_t)q[33] | (size_t)q[34] << 8 | (size_t)q[35] << 16 | (size_t)q[36] << 24;
        used += ENTITY_BYTES;
        if (with_revision) {
            if (n - used < 8)
                return 0;
            e->revision = (int64_t)get64(p + used);
            if (e->revision < 1)
                return 0;
            used += 8;
        }
        if (q[32] > 1 || (q[32] == 0 && doclen) || n - used < doclen)
            return 0;
        if (q[32]) {
            char *d = pg_arena_strdup(a, (const char *)p + used, doclen);
            if (!d) {
                *oom = 1;
                return 0;
            }
            e->doc = d;
            e->doclen = doclen;
            used += doclen;
        }
    }
    return used;
}
