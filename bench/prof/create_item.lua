-- callgrind focus: 2,000 createGalleryItem calls, one item each (synchronous=NORMAL), the
-- bench's item (bench/common.lua).
--   prof.sh create_item
local common = require "common"
local s = common.fresh(assert(arg[1], "scratch dir"), arg[2] or "pg", "normal")
local g = assert(s:createGallery{ gallery = { name = "p" } })
local item = common.item
for _ = 1, 2000 do assert(s:createGalleryItem(g._id, item)) end
s:close()
