-- A compact run through every function, valid and invalid calls alike, for
-- the memory checkers (valgrind in scripts/test.sh). Exits non-zero on a
-- wrong result; the checkers add their own verdict on memory.
--   lua5.4 spec/smoke.lua [path.db]
local progallery = require "progallery"
local path = arg[1] or os.tmpname()
local store = assert(progallery.open{ path = path, caller = "admin", synchronous = "normal" })

local IMG = "wix:image://v1/abc.jpg/abc.jpg#originWidth=10&originHeight=20"
local function item(i)
  return { title = "item " .. i, description = ("d"):rep(i), tags = { values = { "a", "b" } },
           link = { url = "https://example.com/" .. i, target = "_blank" },
           image = { imageInfo = IMG, focalPoint = { x = 0.25, y = 0.75 }, quality = 80,
                     exif = { Artist = "x", nested = { list = { 1, 2.5, true, "s" } } } } }
end
local function expect_fail(code, ...)
  local r, msg, c = ...
  assert(r == nil and c == code, ("expected %s, got %s %s %s"):format(code, tostring(r),
    tostring(msg), tostring(c)))
end

local items = {}
for i = 1, 50 do items[i] = item(i) end
local g = assert(store:createGallery{ gallery = { name = "smoke", items = items } })
assert(g.totalItems == 50 and #g.items == 50)
local clone = assert(store:createGallery{ cloneFromGalleryId = g._id, gallery = { items = { item(51) } } })
assert(clone.totalItems == 51 and clone.items[51] == nil and clone.items[1].title == "item 1")
assert(#store:listGalleries{ itemLimit = 100 }.galleries >= 2)
local more = assert(store:createGalleryItems(g._id, { item(60), { text = { html = "<p/>", css = { a = 1 } } } }))
assert(#more.items == 2 and more.items[2].type == "TEXT")
local one = assert(store:createGalleryItem(g._id, { video = { videoInfo = "https://vimeo.com/1", duration = "42" } }))
assert(one.video.durationInMillis == 42)
local ids = { galleryId = g._id, itemId = one._id }
assert(store:getGalleryItem(ids)._id == one._id)
local up = assert(store:updateGalleryItem(ids, { title = "t", video = progallery.null, image = { imageInfo = IMG } }))
assert(up.type == "IMAGE" and up.title == "t")
assert(store:updateGallery(g._id, { name = progallery.null, sortOrder = 1.5 }).name == nil)
assert(#store:listGalleryItems(g._id, { itemOffset = 10, itemLimit = 5 }).items == 5)
assert(store:deleteGalleryItem(ids).itemId == one._id)
local del = assert(store:bulkDeleteGalleryItems(g._id, { g.items[1]._id, g.items[2]._id, clone.items[1]._id }))
assert(#del.itemIds == 2)

-- Failures of every kind, each leaving nothing behind.
local cycle = {} cycle.self = cycle
local raising = setmetatable({ title = 1 }, { __index = function() error("boom") end, __pairs = function() error("boom") end })
expect_fail("INVALID_ARGUMENT", store:createGalleryItem(g._id, { title = "\0" }))
expect_fail("INVALID_ARGUMENT", store:createGalleryItem(g._id, { title = "\255" }))
expect_fail("INVALID_ARGUMENT", store:createGalleryItem(g._id, { title = 0 / 0 }))
expect_fail("INVALID_ARGUMENT", store:createGalleryItem(g._id, cycle))
expect_fail("INVALID_ARGUMENT", store:createGalleryItem(g._id, raising))
expect_fail("INVALID_ARGUMENT", store:createGalleryItem(g._id, { image = { imageInfo = IMG, exif = cycle } }))
expect_fail("INVALID_ARGUMENT", store:createGalleryItems(g._id, { item(1), { bogus = true } }))
expect_fail("RESOURCE_EXHAUSTED", store:createGalleryItem(g._id, { title = ("x"):rep(1025) }))
expect_fail("INVALID_ARGUMENT", store:getGallery("not-a-uuid"))
expect_fail("NOT_FOUND", store:getGallery("00000000-0000-7000-8000-000000000000"))
expect_fail("INVALID_ARGUMENT", store:listGalleries{ limit = 11 })
expect_fail("PERMISSION_DENIED", store:as("visitor"):deleteGallery(g._id))
assert(store:getGallery(g._id).totalItems == 50)

-- The REST path (store:rest, progallery.restShape): body text in, response text out.
local rest = require "progallery.rest"
local text = assert(store:rest("getGallery", g._id, nil, { itemLimit = 100 }))
assert(text:find('"totalItems":50', 1, true) and text:find('"imageInfo":{"id":"abc.jpg"', 1, true))
text = assert(store:rest("createGalleryItem", g._id, nil, nil, '{"item":{"title":"r","image":{"imageInfo":'
  .. '{"id":"a.jpg","width":3,"height":4,"watermark":"w"}},"link":{"type":"EXTERNAL","wixLinkData":{"e":[]}},'
  .. '"video":null,"secondaryMedia":{"image":{"imageInfo":"https://x/y.png"}}}}'))
assert(text:find('"watermark":"w"', 1, true) and text:find('"e":[]', 1, true))
local r, _, c, field = store:rest("createGalleryItem", g._id, nil, nil, '{"item":{"image":{"imageInfo":{"id":"x"}}}}')
assert(r == nil and c == "INVALID_ARGUMENT" and field == "item.image.imageInfo.width")
r, _, c = store:rest("createGalleryItem", g._id, nil, nil, '{"item":')
assert(r == nil and c == "INVALID_ARGUMENT")
local shaped = assert(rest.galleryToRest(store:getGallery(g._id)))
assert(shaped.gallery.items[1].image.imageInfo.width == 10)
local back = assert(rest.itemFromRest(shaped.gallery.items[1]))
assert(back.image.imageInfo == IMG)
expect_fail("INVALID_ARGUMENT", rest.toRest({ image = { imageInfo = { id = "x" } } }))
assert(store:deleteGallery(clone._id).galleryId == clone._id)

-- The event feed (section 10): pages, cursors, a lease, and a signature when OpenSSL can make a key.
local feed = assert(store:events{ limit = 1000 })
assert(#feed.events > 0 and feed.events[1].metadata.seq == 1 and feed.lastSeq == feed.events[#feed.events].metadata.seq)
assert(#assert(store:events{ after = 3, limit = 5 }).events == 5)
assert(store:setEventCursor("smoke", 4) and store:eventCursor("smoke") == 4)
expect_fail("INVALID_ARGUMENT", store:setEventCursor("smoke", 3))
expect_fail("PERMISSION_DENIED", store:as("visitor"):events())
assert(store:leaseEventConsumer("smoke", "me", 1000) == true)
expect_fail("INVALID_ARGUMENT", progallery.jwtRS256("not a key", "{}"))
local keyfile = io.popen("openssl genrsa 2048 2>/dev/null")
local pem = keyfile and keyfile:read("*a") or ""
if keyfile then keyfile:close() end
if pem:find("PRIVATE KEY", 1, true) then
  assert(select(2, assert(progallery.jwtRS256(pem, '{"data":"x","iat":1}')):gsub("%.", "")) == 2)
end
store:close()
expect_fail("FAILED_PRECONDITION", store:getGallery(g._id))
local again = assert(progallery.open(path))
assert(again:getGallery(g._id).totalItems == 51) -- and the item made over REST
again:close()
if not arg[1] then os.remove(path) os.remove(path .. "-wal") os.remove(path .. "-shm") end
print("smoke: ok")
