-- callgrind focus: createGalleryItems of 1,000 items, 5 calls (synchronous=NORMAL).
--   prof.sh create_items
local common = require "common"
local s = common.fresh(assert(arg[1], "scratch dir"), arg[2] or "pg", "normal")
local g = assert(s:createGallery{ gallery = { name = "p" } })
local items = common.items(1000)
for _ = 1, 5 do assert(s:createGalleryItems(g._id, items)) end
s:close()
