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
 * _updatedDate stays the exported one (restoring is not an edit). */
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

/* _id, _createdDate, _updatedDate of an exported object at path. */
static int identity(const pg_value *obj, pg_path *path, char id[PG_UUID_LEN + 1],
                    int64_t *created, int64_t *updated, pg_status *st)
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
        if (!identity(raw->u.arr.v[i], path, it.id, &it.created_ms, &it.updated_ms, st))
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
        || !identity(in, &path, g.id, &g.created_ms, &g.updated_ms, st))
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
    if (ops->gallery_update(s, &g, st) < 0)
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
    if (!put_items(db, &g, args[1], in, n, &path, st) || ops->gallery_update(s, &g, st) < 0)
        return done(db, NULL, st);
    return done(db, result(db, g.id, (int64_t)n, st), st);
}
