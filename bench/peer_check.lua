-- Untimed check, run by bench.lua before measuring: the LuaSQL peer and progallery return
-- the same results from the same file (getGallery, listGalleries, createGalleryItem,
-- updateGalleryItem, clone; ids and dates of new objects excepted where they must differ).
--   peer_check.lua DB GALLERY_ID      (DB is a scratch copy: the check writes to it)
local common = require "common"
local db, gid = assert(arg[1]), assert(arg[2])

local function same(a, b, path)
  if type(a) ~= type(b) then error(path .. ": " .. type(a) .. " vs " .. type(b)) end
  if type(a) ~= "table" then
    if a ~= b then error(path .. ": " .. tostring(a) .. " vs " .. tostring(b)) end
    return
  end
  for k, v in pairs(a) do same(v, b[k], path .. "." .. tostring(k)) end
  for k in pairs(b) do if a[k] == nil then error(path .. "." .. tostring(k) .. ": only in the peer") end end
end

local pg = common.open("pg", db, "normal")
local peer = common.open("peer", db, "normal")
same(pg:getGallery(gid, { itemLimit = 100 }), peer:getGallery(gid, { itemLimit = 100 }), "getGallery")
same(pg:listGalleries{ itemLimit = 3 }, peer:listGalleries{ itemLimit = 3 }, "listGalleries")
local first = pg:getGallery(gid, { itemLimit = 1 }).items[1]
local ids = { galleryId = gid, itemId = first._id }
same(pg:updateGalleryItem(ids, { title = "changed" }), peer:getGalleryItem(ids), "updateGalleryItem")
same(peer:updateGalleryItem(ids, { description = "again" }), pg:getGalleryItem(ids), "peer updateGalleryItem")
local a = pg:createGalleryItem(gid, common.item)
same(a, peer:getGalleryItem{ galleryId = gid, itemId = a._id }, "createGalleryItem")
local b = peer:createGalleryItem(gid, common.item)
same(pg:getGalleryItem{ galleryId = gid, itemId = b._id }, b, "peer createGalleryItem")
assert(b.sortOrder > a.sortOrder, "default sortOrder: peer item not after progallery's")
local c1, c2 = pg:createGallery{ cloneFromGalleryId = gid }, peer:createGallery{ cloneFromGalleryId = gid }
local function strip(g)
  g._id, g._createdDate, g._updatedDate, g.sortOrder = nil, nil, nil, nil
  for i, it in ipairs(g.items) do
    it._id, it._createdDate, it._updatedDate, it.sortOrder = nil, nil, nil, i
  end
  return g
end
same(strip(c1), strip(c2), "clone")
pg:close(); peer:close()
print("peer check: same results")
