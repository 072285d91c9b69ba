-- progallery.frontend: API.md section 8. The conversion tests are pure Lua; the
-- "through the store" block needs the C module (required lazily, so the rest runs alone).
local frontend = require "progallery.frontend"
local uri = require "progallery.uri"
local cjson = require "cjson"
local null = cjson.null
local unpack = table.unpack or unpack

local IMG = "wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/38939f9568z222d6avc6285c9ac1e9129.jpg#originWidth=200&originHeight=199"
local IMG2 = "wix:image://v1/99bc1c6f66444769b531221214c885ac.jpeg/A%20View.jpeg#originWidth=3264&originHeight=2448"
local VID = "wix:video://v1/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c/BigBuckBunny.mp4#posterUri=8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg&posterWidth=1280&posterHeight=720"
local POSTER = "wix:image://v1/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg#originWidth=1280&originHeight=720"
local VIMEO = "https://vimeo.com/322240916"

-- pcall wrapper: asserts no raise, returns all results packed
local function call(fn, ...)
  local r = { pcall(fn, ...) }
  assert(r[1], "raised: " .. tostring(r[2]))
  return unpack(r, 2, 4)
end

local function invalid(fn, ...)
  local v, msg, code = call(fn, ...)
  assert.is_nil(v)
  assert.equal("string", type(msg))
  assert.equal("INVALID_ARGUMENT", code, msg)
  return msg
end

local function image_item(id)
  return {
    _id = id or "11111111-1111-4111-8111-111111111111", type = "IMAGE", sortOrder = 1,
    title = "A View", description = "desc",
    link = { url = "https://www.wix.com/about/us" },
    tags = { values = { "a" } },
    image = { imageInfo = IMG2, focalPoint = { x = 0.5, y = 0.5 } },
    _createdDate = "2026-01-01T00:00:00.000Z", _updatedDate = "2026-01-01T00:00:00.000Z",
  }
end

local function video_item(id)
  return { _id = id or "22222222-2222-4222-8222-222222222222", type = "VIDEO", title = "Bunny",
           video = { type = "WIX_MEDIA", videoInfo = VID, durationInMillis = 5000 } }
end

local function text_item(id)
  return { _id = id or "33333333-3333-4333-8333-333333333333", type = "TEXT",
           text = { html = "<p>Hi!</p>" } }
end

local function bare_item(id)
  return { _id = id or "44444444-4444-4444-8444-444444444444", type = "UNDEFINED", title = "empty" }
end

local function link_text_item(id)
  local it = image_item(id or "55555555-5555-4555-8555-555555555555")
  it.link = { text = "Click here", url = "https://example.com" }
  return it
end

describe("progallery.frontend", function()
  it("has a version", function()
    assert.equal("string", type(frontend._VERSION))
  end)

  describe("toGalleryItems mapping", function()
    it("maps an image item field by field", function()
      local items, skipped = call(frontend.toGalleryItems, { image_item() })
      assert.same({ {
        type = "image", src = IMG2, slug = "11111111-1111-4111-8111-111111111111",
        title = "A View", description = "desc", link = "https://www.wix.com/about/us",
      } }, items)
      assert.same({}, skipped)
    end)

    it("maps a wix video with a poster and gives it a thumbnail", function()
      local items = call(frontend.toGalleryItems, { video_item() })
      assert.same({ {
        type = "video", src = VID, slug = "22222222-2222-4222-8222-222222222222",
        title = "Bunny", thumbnail = POSTER,
      } }, items)
    end)

    it("the thumbnail is the poster form of progallery.uri", function()
      local items = call(frontend.toGalleryItems, { video_item() })
      assert.equal(uri.posterImage(VID), items[1].thumbnail)
    end)

    it("gives no thumbnail to an http video or a wix video without poster", function()
      local a, b = video_item(), video_item("x")
      a.video.videoInfo = VIMEO
      b.video.videoInfo = "wix:video://v1/abc/clip.mp4"
      local items = call(frontend.toGalleryItems, { a, b })
      assert.equal(2, #items)
      assert.equal(VIMEO, items[1].src)
      assert.is_nil(items[1].thumbnail)
      assert.is_nil(items[2].thumbnail)
      assert.equal("video", items[2].type)
    end)

    it("keeps http(s) image sources as they are", function()
      local it = image_item()
      it.image.imageInfo = "https://example.com/a.jpg"
      assert.equal("https://example.com/a.jpg", call(frontend.toGalleryItems, { it })[1].src)
    end)

    it("leaves absent fields absent (and null counts as absent)", function()
      local it = { image = { imageInfo = IMG }, title = null, description = null, link = null, _id = null }
      local items = call(frontend.toGalleryItems, { it })
      assert.same({ { type = "image", src = IMG } }, items)
      local it2 = { image = { imageInfo = IMG }, link = { url = null, text = null } }
      assert.same({ { type = "image", src = IMG } }, call(frontend.toGalleryItems, { it2 }))
    end)

    it("a link with only a url becomes the url string; empty link text is no text", function()
      local it = image_item()
      it.link = { url = "https://a.example", text = "" }
      local items, skipped = call(frontend.toGalleryItems, { it })
      assert.equal("https://a.example", items[1].link)
      assert.same({}, skipped)
    end)

    it("accepts a gallery, a bare array and a listGalleryItems result alike", function()
      local list = { image_item(), video_item() }
      local a = call(frontend.toGalleryItems, list)
      local b = call(frontend.toGalleryItems, { _id = "g", name = "G", totalItems = 2, items = list })
      local c = call(frontend.toGalleryItems, { items = list })
      assert.same(a, b)
      assert.same(a, c)
      assert.equal(2, #a)
    end)

    it("keeps the input order", function()
      local items = call(frontend.toGalleryItems, { video_item("v"), image_item("i"), video_item("w") })
      assert.same({ "v", "i", "w" }, { items[1].slug, items[2].slug, items[3].slug })
    end)

    it("an empty gallery gives two empty arrays", function()
      local items, skipped = call(frontend.toGalleryItems, { items = {} })
      assert.same({}, items)
      assert.same({}, skipped)
      items, skipped = call(frontend.toGalleryItems, {})
      assert.same({}, items)
      assert.same({}, skipped)
    end)

    it("does not modify its input", function()
      local it = link_text_item()
      local before = cjson.encode(it)
      call(frontend.toGalleryItems, { it, image_item() })
      assert.equal(before, cjson.encode(it))
    end)
  end)

  describe("skipped items", function()
    it("reports a text item", function()
      local items, skipped = call(frontend.toGalleryItems, { text_item("t") })
      assert.same({}, items)
      assert.same({ { _id = "t", reason = "text item" } }, skipped)
    end)

    it("reports an item with type TEXT even without a text member", function()
      local _, skipped = call(frontend.toGalleryItems, { { _id = "t", type = "TEXT" } })
      assert.same({ { _id = "t", reason = "text item" } }, skipped)
    end)

    it("reports an item without media", function()
      local items, skipped = call(frontend.toGalleryItems, { bare_item("n") })
      assert.same({}, items)
      assert.same({ { _id = "n", reason = "no media" } }, skipped)
    end)

    it("counts a null media member as no media", function()
      local _, skipped = call(frontend.toGalleryItems, { { _id = "n", image = null } })
      assert.same({ { _id = "n", reason = "no media" } }, skipped)
    end)

    it("reports an item whose link has text, image or video", function()
      local v = video_item("v")
      v.link = { text = "watch", url = "https://x" }
      local items, skipped = call(frontend.toGalleryItems, { link_text_item("l"), v })
      assert.same({}, items)
      assert.same({ { _id = "l", reason = "link has text" }, { _id = "v", reason = "link has text" } }, skipped)
    end)

    it("reports a link with text even without a url", function()
      local it = image_item("l")
      it.link = { text = "just text" }
      local _, skipped = call(frontend.toGalleryItems, { it })
      assert.same({ { _id = "l", reason = "link has text" } }, skipped)
    end)

    it("a text item with link text is reported as a text item", function()
      local t = text_item("t")
      t.link = { text = "x" }
      local _, skipped = call(frontend.toGalleryItems, { t })
      assert.same({ { _id = "t", reason = "text item" } }, skipped)
    end)

    it("mixes shown and skipped items in input order", function()
      local items, skipped = call(frontend.toGalleryItems, {
        image_item("i1"), text_item("t1"), bare_item("n1"), video_item("v1"), link_text_item("l1"), text_item("t2"),
      })
      assert.same({ "i1", "v1" }, { items[1].slug, items[2].slug })
      assert.equal(2, #items)
      assert.same({
        { _id = "t1", reason = "text item" }, { _id = "n1", reason = "no media" },
        { _id = "l1", reason = "link has text" }, { _id = "t2", reason = "text item" },
      }, skipped)
    end)

    it("exports the reason strings", function()
      assert.equal("text item", frontend.REASON_TEXT)
      assert.equal("no media", frontend.REASON_NO_MEDIA)
      assert.equal("link has text", frontend.REASON_LINK_TEXT)
    end)
  end)

  describe("strict mode", function()
    for _, case in ipairs {
      { "text item", text_item }, { "no media", bare_item }, { "link has text", link_text_item },
    } do
      it("refuses the first '" .. case[1] .. "' item with INVALID_ARGUMENT", function()
        local msg = invalid(frontend.toGalleryItems, { image_item(), case[2]("bad-id") }, { strict = true })
        assert.matches(case[1], msg, 1, true)
        assert.matches("bad-id", msg, 1, true)
        assert.matches("^items%[2%]", msg)
      end)
    end

    it("names gallery.items in the path for a gallery", function()
      local msg = invalid(frontend.toGalleryItems, { items = { text_item() } }, { strict = true })
      assert.matches("^gallery%.items%[1%]", msg)
    end)

    it("converts normally when nothing would be skipped", function()
      local items, skipped = call(frontend.toGalleryItems, { image_item(), video_item() }, { strict = true })
      assert.equal(2, #items)
      assert.same({}, skipped)
    end)

    it("strict = false, null or no options skip as usual", function()
      for _, opts in ipairs { { strict = false }, { strict = null }, {}, null } do
        local items, skipped = call(frontend.toGalleryItems, { text_item(), image_item() }, opts)
        assert.equal(1, #items)
        assert.equal(1, #skipped)
      end
    end)
  end)

  describe("toGalleryItems malformed input", function()
    local bad_args = { nil, 1, "items", true, null, function() end, io.stdout,
                       { a = 1 }, { [2] = image_item() }, { 1, nil, 3 } }
    for i = 1, 10 do
      it("refuses a bad argument #" .. i, function()
        invalid(frontend.toGalleryItems, bad_args[i])
      end)
    end

    local function with(patch)
      local it = image_item()
      patch(it)
      return { it }
    end

    local cases = {
      { "item not a table", { "x" }, "^items%[1%]" },
      { "items not an array", { items = "x" }, "^gallery%.items" },
      { "items a map", { items = { a = 1 } }, "^gallery%.items" },
      { "image not a table", with(function(it) it.image = "x" end), "^items%[1%]%.image" },
      { "imageInfo missing", with(function(it) it.image = {} end), "^items%[1%]%.image%.imageInfo" },
      { "imageInfo not a string", with(function(it) it.image.imageInfo = 5 end), "^items%[1%]%.image%.imageInfo" },
      { "imageInfo not a URI", with(function(it) it.image.imageInfo = "ftp://x" end), "^items%[1%]%.image%.imageInfo" },
      { "videoInfo missing", { { video = { type = "YOUTUBE" } } }, "^items%[1%]%.video%.videoInfo" },
      { "videoInfo wrong kind", { { video = { videoInfo = IMG } } }, "^items%[1%]%.video%.videoInfo" },
      { "two media members", with(function(it) it.video = { videoInfo = VID } end), "^items%[1%]" },
      { "title a number", with(function(it) it.title = 5 end), "^items%[1%]%.title" },
      { "description a table", with(function(it) it.description = {} end), "^items%[1%]%.description" },
      { "_id a number", with(function(it) it._id = 5 end), "^items%[1%]%._id" },
      { "link a string", with(function(it) it.link = "https://x" end), "^items%[1%]%.link" },
      { "link.url a number", with(function(it) it.link = { url = 1 } end), "^items%[1%]%.link%.url" },
      { "link.text a boolean", with(function(it) it.link = { text = true } end), "^items%[1%]%.link%.text" },
      { "type a number", with(function(it) it.type = 1 end), "^items%[1%]%.type" },
      { "text not a table", { { text = "hi" } }, "^items%[1%]%.text" },
    }
    for _, c in ipairs(cases) do
      it("refuses: " .. c[1], function()
        local msg = invalid(frontend.toGalleryItems, c[2])
        assert.matches(c[3], msg)
      end)
    end

    it("refuses bad options", function()
      assert.matches("^options", invalid(frontend.toGalleryItems, {}, 5))
      assert.matches("^options", invalid(frontend.toGalleryItems, {}, "strict"))
      assert.matches("^options%.strict", invalid(frontend.toGalleryItems, {}, { strict = "yes" }))
      assert.matches("^options", invalid(frontend.toGalleryItems, {}, { strikt = true }))
    end)

    it("reads hostile tables raw: their metatables change nothing", function()
      local function boom() error("boom") end
      local cyc = {} -- an item that is its own image: imageInfo is missing, whatever the depth
      cyc.image = cyc
      local hostile = { __index = boom, __pairs = boom, __len = boom }
      for _, c in ipairs {
        { setmetatable({}, hostile), {} },
        { setmetatable({ bogus = 1 }, hostile), { bogus = 1 } },
        { { items = setmetatable({ 1 }, hostile) }, { items = { 1 } } },
        { { setmetatable({}, hostile) }, { {} } },
        { { { image = setmetatable({}, hostile) } }, { { image = {} } } },
        { { cyc }, { cyc } },
        { { { image = { imageInfo = IMG }, link = setmetatable({}, hostile) } },
          { { image = { imageInfo = IMG }, link = {} } } },
      } do
        assert.same({ call(frontend.toGalleryItems, c[2]) }, { call(frontend.toGalleryItems, c[1]) })
      end
    end)
  end)

  describe("fromGalleryItems", function()
    it("maps an image item back to a backend item", function()
      local out = call(frontend.fromGalleryItems, { {
        type = "image", src = IMG, slug = "s1", title = "t", description = "d", link = "https://x",
      } })
      assert.same({ {
        _id = "s1", title = "t", description = "d", link = { url = "https://x" }, image = { imageInfo = IMG },
      } }, out)
    end)

    it("maps a video item back, ignoring the thumbnail", function()
      local out = call(frontend.fromGalleryItems, { { type = "video", src = VID, thumbnail = POSTER } })
      assert.same({ { video = { videoInfo = VID } } }, out)
    end)

    it("matches type case-insensitively", function()
      local out = call(frontend.fromGalleryItems, {
        { type = "Image", src = IMG }, { type = "IMAGE", src = IMG }, { type = "ViDeO", src = VID },
      })
      assert.same({ imageInfo = IMG }, out[1].image)
      assert.same({ imageInfo = IMG }, out[2].image)
      assert.same({ videoInfo = VID }, out[3].video)
    end)

    it("keeps http(s) sources as they are", function()
      local out = call(frontend.fromGalleryItems, {
        { type = "image", src = "https://example.com/a%20b.jpg?x=1" }, { type = "video", src = VIMEO },
      })
      assert.equal("https://example.com/a%20b.jpg?x=1", out[1].image.imageInfo)
      assert.equal(VIMEO, out[2].video.videoInfo)
    end)

    it("infers the type from src when it is missing", function()
      local out = call(frontend.fromGalleryItems, { { src = IMG }, { src = VID }, { src = "https://x/y.png" } })
      assert.is_not_nil(out[1].image)
      assert.is_not_nil(out[2].video)
      assert.is_not_nil(out[3].image)
    end)

    it("adds wix: to legacy sources", function()
      local out = call(frontend.fromGalleryItems, { { type = "image", src = "image://v1/a.jpg/a.jpg#originWidth=1&originHeight=1" } })
      assert.equal("wix:image://v1/a.jpg/a.jpg#originWidth=1&originHeight=1", out[1].image.imageInfo)
    end)

    it("gives an empty array for an empty array", function()
      assert.same({}, call(frontend.fromGalleryItems, {}))
    end)

    it("treats null fields as absent", function()
      local out = call(frontend.fromGalleryItems, { { type = "image", src = IMG, title = null, link = null, slug = null } })
      assert.same({ { image = { imageInfo = IMG } } }, out)
    end)

    it("inverts toGalleryItems", function()
      local fitems = call(frontend.toGalleryItems, { image_item(), video_item() })
      local back = call(frontend.fromGalleryItems, fitems)
      assert.same(fitems, (call(frontend.toGalleryItems, back)))
    end)

    local cases = {
      { "not a table", "x", "^items" },
      { "a map", { a = 1 }, "^items" },
      { "a holey array", { [1] = { src = IMG }, [3] = { src = IMG } }, "^items" },
      { "an item not a table", { 5 }, "^items%[1%]" },
      { "src missing", { { type = "image" } }, "^items%[1%]%.src" },
      { "src not a string", { { type = "image", src = 5 } }, "^items%[1%]%.src" },
      { "src not a media URI", { { type = "image", src = "file:///etc/passwd" } }, "^items%[1%]%.src" },
      { "image type with a video src", { { type = "image", src = VID } }, "^items%[1%]%.src" },
      { "video type with an image src", { { type = "video", src = IMG } }, "^items%[1%]%.src" },
      { "type text", { { type = "text", src = IMG } }, "^items%[1%]%.type" },
      { "type a number", { { type = 1, src = IMG } }, "^items%[1%]%.type" },
      { "link a table", { { src = IMG, link = { url = "x" } } }, "^items%[1%]%.link" },
      { "title a number", { { src = IMG, title = 2 } }, "^items%[1%]%.title" },
      { "second item bad", { { src = IMG }, { src = IMG, description = false } }, "^items%[2%]%.description" },
    }
    for _, c in ipairs(cases) do
      it("refuses: " .. c[1], function()
        assert.matches(c[3], invalid(frontend.fromGalleryItems, c[2]))
      end)
    end

    it("refuses nil, null, functions and hostile tables without raising", function()
      invalid(frontend.fromGalleryItems, nil)
      invalid(frontend.fromGalleryItems, null)
      invalid(frontend.fromGalleryItems, print)
      -- raw contents are invalid too, so LuaJIT (no __pairs) must refuse it as well
      invalid(frontend.fromGalleryItems, setmetatable({ bogus = 1 }, { __pairs = function() error("x") end, __index = function() error("x") end }))
      invalid(frontend.fromGalleryItems, { setmetatable({ src = 1 }, { __index = function() error("x") end }) })
    end)
  end)

  describe("toJSON", function()
    it("is [] for no items, even with Debian's cjson", function()
      assert.equal("[]", call(frontend.toJSON, {}))
      assert.equal("[]", call(frontend.toJSON, { items = {} }))
    end)

    it("is [] when every item is skipped", function()
      assert.equal("[]", call(frontend.toJSON, { text_item(), bare_item(), link_text_item() }))
    end)

    it("is a JSON array of the converted items", function()
      local json = call(frontend.toJSON, { image_item(), text_item(), video_item() })
      assert.equal("string", type(json))
      assert.matches("^%[", json)
      local decoded = cjson.decode(json)
      assert.same(call(frontend.toGalleryItems, { image_item(), video_item() }), decoded)
    end)

    it("writes URIs without escaped slashes and keeps backslashes exact", function()
      local it = image_item()
      it.title = "a\\/b\\\\/c/\\"
      local json = call(frontend.toJSON, { it })
      assert.matches("wix:image://v1/", json, 1, true)
      assert.equal(it.title, cjson.decode(json)[1].title)
    end)

    it("passes strict through", function()
      local _, msg, code = call(frontend.toJSON, { text_item() }, { strict = true })
      assert.equal("INVALID_ARGUMENT", code)
      assert.matches("text item", msg)
    end)

    it("returns the error of a malformed argument", function()
      invalid(frontend.toJSON, 42)
      invalid(frontend.toJSON, { { image = { imageInfo = 1 } } })
    end)

    it("does not change the caller's cjson settings", function()
      call(frontend.toJSON, { image_item() })
      assert.equal("{}", cjson.encode({}))
    end)
  end)

  describe("through the store", function()
    local progallery, store

    before_each(function()
      progallery = require "progallery"
      store = require("spec.support").admin()
    end)

    after_each(function()
      if store then store:close() end
    end)

    local function backend_items()
      local img, vid, txt, lnk = image_item(), video_item(), text_item(), link_text_item()
      for _, it in ipairs { img, vid, txt, lnk } do
        it._id, it._createdDate, it._updatedDate, it.type, it.sortOrder = nil, nil, nil, nil, nil
      end
      local none = { title = "no media here" }
      local ext = { title = "external", video = { type = "VIMEO", videoInfo = VIMEO } }
      return { img, vid, txt, none, lnk, ext }
    end

    it("converts a gallery read back from the store", function()
      local g = assert(store:createGallery { gallery = { name = "G", items = backend_items() } })
      local got = assert(store:getGallery(g._id))
      local items, skipped = call(frontend.toGalleryItems, got)
      assert.equal(3, #items)
      assert.same({ "image", "video", "video" }, { items[1].type, items[2].type, items[3].type })
      assert.equal(got.items[1]._id, items[1].slug)
      assert.equal(IMG2, items[1].src)
      assert.equal("A View", items[1].title)
      assert.equal("https://www.wix.com/about/us", items[1].link)
      assert.equal(POSTER, items[2].thumbnail)
      assert.equal(VIMEO, items[3].src)
      assert.is_nil(items[3].thumbnail)
      assert.same({
        { _id = got.items[3]._id, reason = "text item" },
        { _id = got.items[4]._id, reason = "no media" },
        { _id = got.items[5]._id, reason = "link has text" },
      }, skipped)
    end)

    it("strict mode refuses the stored text item", function()
      local g = assert(store:createGallery { gallery = { name = "G", items = backend_items() } })
      local msg = invalid(frontend.toGalleryItems, assert(store:getGallery(g._id)), { strict = true })
      assert.matches("text item", msg)
    end)

    it("fromGalleryItems output is accepted by createGalleryItems and round-trips", function()
      local g = assert(store:createGallery { gallery = { name = "src", items = backend_items() } })
      local fitems = call(frontend.toGalleryItems, assert(store:getGallery(g._id)))
      local back = call(frontend.fromGalleryItems, fitems)
      local h = assert(store:createGallery { gallery = { name = "copy" } })
      local r, err, code = store:createGalleryItems(h._id, back)
      assert(r, tostring(err) .. " " .. tostring(code))
      assert.equal(#fitems, #r.items)
      local again = call(frontend.toGalleryItems, assert(store:getGallery(h._id)))
      for i = 1, #fitems do
        assert.not_equal(fitems[i].slug, again[i].slug) -- new ids
        again[i].slug, fitems[i].slug = nil, nil
      end
      assert.same(fitems, again)
    end)

    it("fromGalleryItems of hand-written $w items (mixed-case type, http src) is accepted", function()
      local h = assert(store:createGallery { gallery = { name = "hand" } })
      local back = call(frontend.fromGalleryItems, {
        { type = "Image", src = IMG, title = "A", link = "https://wix.com" },
        { type = "VIDEO", src = VIMEO, description = "external" },
        { type = "image", src = "https://example.com/pic.jpg" },
      })
      local r, err, code = store:createGalleryItems(h._id, back)
      assert(r, tostring(err) .. " " .. tostring(code))
      assert.same({ "IMAGE", "VIDEO", "IMAGE" }, { r.items[1].type, r.items[2].type, r.items[3].type })
      assert.equal("https://example.com/pic.jpg", r.items[3].image.imageInfo)
      assert.same({ url = "https://wix.com" }, r.items[1].link)
    end)

    it("fromGalleryItems refuses what the store would refuse, with the store's code", function()
      local h = assert(store:createGallery { gallery = { name = "bounds" } })
      local legacy_long = "image://v1/id/" .. ("n"):rep(4096 - 4 - 14 - 29 + 1) .. "#originWidth=1&originHeight=1"
      for _, c in ipairs {
        { { src = IMG, title = ("t"):rep(1024) } },
        { { src = IMG, title = ("t"):rep(1025) }, "RESOURCE_EXHAUSTED", "^items%[1%]%.title" },
        { { src = IMG, title = "\255" }, "INVALID_ARGUMENT", "^items%[1%]%.title" },
        { { src = IMG, title = "a\0b" }, "INVALID_ARGUMENT", "^items%[1%]%.title" },
        { { src = IMG, description = ("d"):rep(16384) } },
        { { src = IMG, description = ("d"):rep(16385) }, "RESOURCE_EXHAUSTED", "^items%[1%]%.description" },
        { { src = IMG, link = "https://x/" .. ("l"):rep(4086) } },
        { { src = IMG, link = "https://x/" .. ("l"):rep(4087) }, "RESOURCE_EXHAUSTED", "^items%[1%]%.link" },
        { { src = IMG, link = "\192\128" }, "INVALID_ARGUMENT", "^items%[1%]%.link" },
        { { src = "https://x/" .. ("s"):rep(4087) }, "RESOURCE_EXHAUSTED", "^items%[1%]%.src" },
        { { src = legacy_long }, "RESOURCE_EXHAUSTED", "^items%[1%]%.src" },
        -- 4096 bytes with "wix:", but its filename past the 1024 bytes a REST object holds
        { { src = legacy_long:sub(1, 14) .. legacy_long:sub(16) }, "RESOURCE_EXHAUSTED", "^items%[1%]%.src" },
        { { src = "image://v1/id/" .. ("n"):rep(1024) .. "#originWidth=1&originHeight=1" } },
        { { src = "HTTPS://example.com/a.jpg" }, "INVALID_ARGUMENT", "^items%[1%]%.src" },
        { { src = "wix:image://v1/abc/x.jpg" }, "INVALID_ARGUMENT", "^items%[1%]%.src" },
      } do
        local out, msg, code = frontend.fromGalleryItems { c[1] }
        -- the same mapping sent to the store as it is
        local f = c[1]
        local src = f.src:find("^image:") and ("wix:" .. f.src) or f.src
        local r, serr, scode = store:createGalleryItem(h._id, { image = { imageInfo = src }, title = f.title,
          description = f.description, link = f.link and { url = f.link } })
        if c[2] then
          assert.is_nil(out)
          assert.equal(c[2], code, msg)
          assert.matches(c[3], msg)
          assert.is_nil(r)
          assert.equal(c[2], scode, serr)
        else
          assert.is_not_nil(out, msg)
          assert.is_not_nil(r, serr)
          assert(store:createGalleryItems(h._id, out))
        end
      end
    end)

    it("toJSON of an empty stored gallery is []", function()
      local g = assert(store:createGallery { gallery = { name = "empty" } })
      assert.equal("[]", call(frontend.toJSON, assert(store:getGallery(g._id))))
    end)

    it("galleryJSON pages through more items than one getGallery returns", function()
      local g = assert(store:createGallery { gallery = { name = "big" } })
      local list = {}
      for i = 1, 130 do list[i] = { title = "t" .. i, image = { imageInfo = IMG } } end
      list[7] = { title = "txt", text = { html = "<p>x</p>" } }
      assert(store:createGalleryItems(g._id, list))
      local visitor = assert(store:as("visitor"))
      local json, skipped, items = call(frontend.galleryJSON, visitor, g._id)
      assert.equal("string", type(json))
      assert.equal(129, #cjson.decode(json))
      assert.equal(129, #items)
      assert.equal(1, #skipped)
      assert.equal("text item", skipped[1].reason)
      assert.equal("t130", items[129].title)
    end)

    it("galleryJSON passes store errors through and refuses a non-store", function()
      local _, msg, code = call(frontend.galleryJSON, store, "00000000-0000-4000-8000-000000000000")
      assert.equal("NOT_FOUND", code, msg)
      invalid(frontend.galleryJSON, 5, "x")
      invalid(frontend.galleryJSON, {}, "x")
    end)
  end)
end)
