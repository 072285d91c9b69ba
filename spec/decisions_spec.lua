-- One test per decision docs/decisions.md records where API.md is silent
-- ("Decisions where the spec is silent"), so the docs and the code cannot drift.
local progallery = require "progallery"
local S = require "spec.support"
local null = progallery.null

local IMG = "wix:image://v1/abc.jpg/abc.jpg#originWidth=10&originHeight=20"

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

local function admin()
  local s = S.admin()
  return s, assert(s:createGallery{})
end

local function fails(code, prefix, r, msg, c)
  assert.is_nil(r)
  assert.equal(code, c)
  assert.matches("^" .. prefix:gsub("[%.%[%]%-]", "%%%0"), msg)
end

describe("decisions", function()
  it("integral numbers come back as integers; ids match in any case", function()
    local s, g = admin()
    local it = assert(s:createGalleryItem(g._id, { sortOrder = 3.0 }))
    assert.equal(3, it.sortOrder)
    if math.type then assert.equal("integer", math.type(it.sortOrder)) end
    local got = assert(s:getGalleryItem{ galleryId = g._id:upper(), itemId = it._id:upper() })
    assert.equal(it._id, got._id)
    assert.equal(it._id:lower(), got._id)
  end)

  it("null in a create is absent; sortOrder cannot be cleared", function()
    local s, g = admin()
    local it = assert(s:createGalleryItem(g._id, { title = null, link = null, sortOrder = null }))
    assert.is_nil(it.title)
    assert.is_nil(it.link)
    fails("INVALID_ARGUMENT", "item.sortOrder", s:updateGalleryItem({ galleryId = g._id, itemId = it._id }, { sortOrder = null }))
  end)

  it("size bounds are RESOURCE_EXHAUSTED, an empty tag INVALID_ARGUMENT, before NOT_FOUND", function()
    local s = admin()
    local missing = "00000000-0000-7000-8000-000000000000"
    fails("RESOURCE_EXHAUSTED", "item.title", s:createGalleryItem(missing, { title = ("x"):rep(1025) }))
    fails("RESOURCE_EXHAUSTED", "item.text.editorHtml",
      s:createGalleryItem(missing, { text = { html = "<p/>", editorHtml = ("x"):rep(1024 * 1024 + 1) } }))
    fails("RESOURCE_EXHAUSTED", "item.text.editorFontId",
      s:createGalleryItem(missing, { text = { html = "<p/>", editorFontId = ("x"):rep(1025) } }))
    fails("INVALID_ARGUMENT", "item.tags.values[1]", s:createGalleryItem(missing, { tags = { values = { "" } } }))
    local ids = {}
    for i = 1, 1001 do ids[i] = missing end
    fails("RESOURCE_EXHAUSTED", "itemIds", s:bulkDeleteGalleryItems(missing, ids))
  end)

  it("an empty link is no link (and clears one); empty tags are { values = {} }", function()
    local s, g = admin()
    local it = assert(s:createGalleryItem(g._id, { link = {}, tags = {} }))
    assert.is_nil(it.link)
    assert.same({ values = {} }, it.tags)
    local ids = { galleryId = g._id, itemId = it._id }
    assert(s:updateGalleryItem(ids, { link = { url = "https://a.example/" } }))
    assert.is_nil(assert(s:updateGalleryItem(ids, { link = {} })).link)
  end)

  it("a missing focal point coordinate is 0; video.duration fills durationInMillis", function()
    local s, g = admin()
    local it = assert(s:createGalleryItem(g._id, { image = { imageInfo = IMG, focalPoint = { y = 0.5 } } }))
    assert.same({ x = 0, y = 0.5 }, it.image.focalPoint)
    local v = assert(s:createGalleryItem(g._id, { video = { videoInfo = "https://vimeo.com/1", duration = "5000" } }))
    assert.equal(5000, v.video.durationInMillis)
    assert.is_nil(v.video.duration)
    v = assert(s:createGalleryItem(g._id, { video = { videoInfo = "https://vimeo.com/1", duration = 1, durationInMillis = 2 } }))
    assert.equal(2, v.video.durationInMillis)
  end)

  it("_updatedDate moves on every update, even within one millisecond", function()
    local s, g = admin()
    local it = assert(s:createGalleryItem(g._id, { title = "a" }))
    local ids, last = { galleryId = g._id, itemId = it._id }, it._updatedDate
    for i = 1, 20 do
      local u = assert(s:updateGalleryItem(ids, { title = "t" .. i }))
      assert.is_true(u._updatedDate > last)
      last = u._updatedDate
    end
  end)

  it("a clone's items get consecutive sort orders in source order; name = null keeps the name", function()
    local s, g = admin()
    assert(s:updateGallery(g._id, { name = "Source" }))
    assert(s:createGalleryItems(g._id, { { title = "b", sortOrder = 20 }, { title = "a", sortOrder = 10 } }))
    local c = assert(s:createGallery{ cloneFromGalleryId = g._id, gallery = { name = null } })
    assert.equal("Source", c.name)
    assert.equal("a", c.items[1].title)
    assert.equal(c.items[1].sortOrder + 1, c.items[2].sortOrder)
  end)

  it("bulk delete reports a repeated id once and skips ids of other galleries", function()
    local s, g = admin()
    local other = assert(s:createGallery{ gallery = { items = { { title = "x" } } } })
    local it = assert(s:createGalleryItem(g._id, { title = "a" }))
    local r = assert(s:bulkDeleteGalleryItems(g._id, { it._id, it._id, other.items[1]._id }))
    assert.same({ it._id }, r.itemIds)
    assert.equal(1, s:getGallery(other._id).totalItems)
  end)

  it("media URIs: the filename is optional, and a video's poster too (as Wix's SDK writes them)", function()
    local s, g = admin()
    for _, m in ipairs {
      { image = { imageInfo = "wix:image://v1/abc.jpg#originWidth=1&originHeight=2" } },
      { video = { videoInfo = "wix:video://v1/abc" } },
      { video = { videoInfo = "wix:video://v1/abc/x.mp4" } },
    } do
      assert(s:createGalleryItem(g._id, m))
    end
    for _, m in ipairs {
      { image = { imageInfo = "wix:image://v1/abc.jpg" } },
      { image = { imageInfo = "wix:image://v1/abc.jpg/x.jpg#originWidth=a&originHeight=2" } },
      { video = { videoInfo = "wix:video://v1/" } },
      { video = { videoInfo = "wix:video://v1/abc/x.mp4#posterUri=p&posterWidth=wide" } },
    } do
      local r, msg, code = s:createGalleryItem(g._id, m)
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", code)
    end
  end)

  it("integers go up to 2^53 (offsets: an empty page past the end); beyond is refused, not rounded", function()
    local s, g = admin()
    assert.same(0, #assert(s:listGalleries{ offset = 2 ^ 53 }).galleries)
    assert.same(0, #assert(s:getGallery(g._id, { itemOffset = 2 ^ 53 })).items)
    fails("INVALID_ARGUMENT", "offset", s:listGalleries{ offset = 2 ^ 54 })
    if math.maxinteger then -- Lua 5.4 integers that a double cannot hold exactly
      fails("INVALID_ARGUMENT", "item.sortOrder", s:createGalleryItem(g._id, { sortOrder = math.maxinteger }))
      local just_beyond = load("return (1 << 53) + 1")() -- 5.4 syntax, kept out of LuaJIT's parser
      fails("INVALID_ARGUMENT", "itemOffset", s:getGallery(g._id, { itemOffset = just_beyond }))
    end
    assert(s:createGalleryItem(g._id, { video = { videoInfo = "https://v.example/1", durationInMillis = 2 ^ 53 } }))
    fails("INVALID_ARGUMENT", "item.video.durationInMillis",
      s:createGalleryItem(g._id, { video = { videoInfo = "https://v.example/1", durationInMillis = 2 ^ 54 } }))
  end)

  it("a key that is not UTF-8 is named whole in the message, escaped, and the message stays valid UTF-8", function()
    local s, g = admin()
    local r, msg, code = s:createGalleryItem(g._id, { image = { imageInfo = IMG, exif = { ["k\255\254"] = 1 } } })
    assert.is_nil(r)
    assert.equal("INVALID_ARGUMENT", code)
    assert.equal("item.image.exif.k\\xff\\xfe: key must be valid UTF-8", msg)
    r, msg = s:createGalleryItem(g._id, { image = { imageInfo = IMG, exif = { ["a\0b"] = 1 } } })
    assert.is_nil(r)
    assert.equal("item.image.exif.a\\x00b: key must not contain a NUL byte", msg)
    r, msg = s:createGalleryItem(g._id, { ["ti\0tle"] = "x" })
    assert.equal("item.ti\\x00tle: unknown field", msg)
    r, msg = s:createGalleryItem(g._id, { ["a\\x00"] = "x" }) -- a backslash is doubled: no look-alikes
    assert.equal("item.a\\\\x00: unknown field", msg)
    r, msg = s:listGalleries { ["lim\0it"] = 1 }
    assert.equal("lim\\x00it: unknown option", msg)
    r, msg = s:getGalleryItem { galleryId = g._id, ["\255"] = 1 }
    assert.equal("\\xff: unknown option", msg)
    r, msg = progallery.open { ["pa\0th"] = "x.db" }
    assert.equal("pa\\x00th: unknown option", msg)
    assert.equal("caf\195\169 \\x01\\\\", progallery.escapeKey("caf\195\169 \1\\"))
    assert.equal("INVALID_ARGUMENT", select(3, progallery.escapeKey(1)))
  end)

  it("a role or option name with a NUL byte is not the name before it", function()
    assert.equal("INVALID_ARGUMENT", select(3, progallery.open { path = os.tmpname(), caller = "admin\0x" }))
    assert.equal("INVALID_ARGUMENT", select(3, progallery.open { path = os.tmpname(), caller = { ["role\0x"] = "admin" } }))
    local s = progallery.open(os.tmpname())
    assert.equal("INVALID_ARGUMENT", select(3, s:as { role = "admin\0" }))
  end)

  it("read-only open of a file never set up, or missing, is FAILED_PRECONDITION", function()
    local path = os.tmpname() -- exists, empty
    local r, _, code = progallery.open{ path = path, readonly = true }
    assert.is_nil(r)
    assert.equal("FAILED_PRECONDITION", code)
    os.remove(path)
    r, _, code = progallery.open{ path = path, readonly = true }
    assert.is_nil(r)
    assert.equal("FAILED_PRECONDITION", code)
  end)

  it("open refuses an empty path and a path with a NUL byte, in both forms", function()
    for _, args in ipairs { { "" }, { "a\0b" }, { { path = "" } }, { { path = "a\0b" } } } do
      local r, msg, code = progallery.open(args[1])
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", code)
      assert.matches("^path: ", msg)
    end
  end)

  it("elevate of something not callable is nil, message, INVALID_ARGUMENT", function()
    for _, x in ipairs { 1, "f", {}, true } do
      local f, msg, code = progallery.elevate(x)
      assert.is_nil(f)
      assert.equal("INVALID_ARGUMENT", code)
      assert.matches("^fn: ", msg)
    end
    local callable = setmetatable({}, { __call = function(_, a) return a + 1 end })
    assert.equal(3, progallery.elevate(callable)(2))
  end)

  it("garbage collection closes a store (its WAL is checkpointed away) #sqlite", function()
    local path = os.tmpname()
    os.remove(path)
    do
      local s = assert(progallery.open{ path = path, caller = "admin" })
      assert(s:createGallery{})
      assert.is_true(exists(path .. "-wal"))
    end
    collectgarbage()
    collectgarbage()
    assert.is_false(exists(path .. "-wal"))
    local s = assert(progallery.open(path))
    assert.equal(1, s:listGalleries().totalGalleries)
    s:close()
    os.remove(path) os.remove(path .. "-wal") os.remove(path .. "-shm")
  end)
end)
