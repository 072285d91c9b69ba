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
        || (e->origin == PG_ORIGIN_GALLERY_DELETED
            && !put(a, m, "originatedFrom", text(a, "Gallery Deleted")))
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
    return pg_item_out(a, e->item_id, pg_doc_type(doc), e->sort, e->created_ms, e->updated_ms, doc);
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
                           e->updated_ms, e->count, NULL);
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
