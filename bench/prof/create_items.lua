-- callgrind focus: createGalleryItems of 1,000 items, 5 calls (synchronous=NORMAL).
--   prof.sh create_items
local common = require "common"
local dir = assert(arg[1], "scratch dir")
local path = dir .. "/prof.db"
os.remove(path); os.remove(path .. "-wal"); os.remove(path .. "-shm")
local s = common.open(arg[2] or "pg", path, "normal")
local g = assert(s:createGallery{ gallery = { name = "p" } })
local items = common.items(1000)
for _ = 1, 5 do assert(s:createGalleryItems(g._id, items)) end
s:close()
