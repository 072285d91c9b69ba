-- make bench-http's baseline for POST .../items: createGalleryItem called directly from Lua
-- in one process, on a store opened as progallery.http opens its own (synchronous, as
-- PROGALLERY_SYNCHRONOUS says, default normal), for a number of seconds; prints items/s.
--   lua5.4 bench/post_direct.lua DBPATH SECONDS
local progallery = require "progallery"
local path, secs = arg[1], tonumber(arg[2] or "5")
local store = assert(progallery.open { path = path, caller = "admin",
                                       synchronous = os.getenv("PROGALLERY_SYNCHRONOUS") or "normal" })
local gid = assert(store:createGallery { gallery = { name = "direct" } })._id
local item = { title = "bench", image = { imageInfo = { id = "a.jpg", width = 10, height = 20 } } }
local clock = os.clock
local n, t0 = 0, os.time()
local deadline = t0 + secs
while os.time() < deadline do
  for _ = 1, 50 do assert(store:createGalleryItem(gid, item)) end
  n = n + 50
end
print(("%.1f"):format(n / (os.time() - t0)))
store:close()
_ = clock
