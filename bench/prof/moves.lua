-- callgrind focus: moveGalleryItems of 100 items spread over a 10,000-item gallery
-- (every 100th, from the 51st) before its 21st item, 50 calls (synchronous=NORMAL), as
-- bench.lua's moves row does. The gallery is built first, in the same profile.
--   prof.sh moves
local common = require "common"
local s = common.fresh(assert(arg[1], "scratch dir"), arg[2] or "pg", "normal")
local g = assert(s:createGallery{ gallery = { name = "p" } })
local items = common.items(1000)
for _ = 1, 10 do assert(s:createGalleryItems(g._id, items)) end
local ids = {}
for k = 0, 99 do
  ids[#ids + 1] = assert(s:listGalleryItems(g._id, { itemOffset = 100 * k + 50, itemLimit = 1 })).items[1]._id
end
local anchor = assert(s:listGalleryItems(g._id, { itemOffset = 20, itemLimit = 1 })).items[1]._id
for _ = 1, 50 do assert(s:moveGalleryItems(g._id, ids, { before = anchor })) end
s:close()
