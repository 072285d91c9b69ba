-- callgrind focus: getGallery of a 100-item page, 200 calls.
--   prof.sh get_gallery
local common = require "common"
local s = common.fresh(assert(arg[1], "scratch dir"), arg[2] or "pg", "normal")
local g = assert(s:createGallery{ gallery = { name = "p", items = common.items(100) } })
local opts = { itemLimit = 100 }
for _ = 1, 200 do assert(s:getGallery(g._id, opts)) end
s:close()
