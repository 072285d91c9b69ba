-- Spec sections 3 and 4: argument validation. Every failure is nil, message, code;
-- nothing raises; a failed call changes nothing.
local S = require "spec.support"
local progallery = S.progallery
local null = S.null

local RE = "RESOURCE_EXHAUSTED" -- "a batch or size bound exceeded" (section 7)
local IA = "INVALID_ARGUMENT"

local function utf8_rep(n_bytes)
  -- n_bytes of valid UTF-8 made of 2-byte characters plus one ASCII when odd
  local s = ("é"):rep(math.floor(n_bytes / 2))
  if n_bytes % 2 == 1 then s = s .. "a" end
  assert(#s == n_bytes)
  return s
end

local function url_of(n_bytes, prefix)
  prefix = prefix or "https://example.com/"
  return prefix .. ("a"):rep(n_bytes - #prefix)
end

describe("validation", function()
  local store, g
  before_each(function()
    store = S.admin()
    g = S.ok(store:createGallery { gallery = { name = "G" } })
  end)
  after_each(function()
    -- every failing case in this file must have created nothing
    store:close()
  end)

  local function count()
    return S.ok(store:getGallery(g._id)).totalItems
  end

  -- expects createGalleryItem(g, item) to fail with code and exact path
  local function bad(item, path, code)
    local before = count()
    local msg = S.expect_err(code or IA, path, store.createGalleryItem, store, g._id, item)
    assert.equal(before, count(), "a failed create changed the gallery")
    return msg
  end
  local function good(item)
    return S.expect_ok(store.createGalleryItem, store, g._id, item)
  end

  describe("unknown keys", function()
    it("are INVALID_ARGUMENT naming the full path", function()
      bad({ bogus = 1 }, "item.bogus")
      bad({ image = { imageInfo = S.IMG, imageInfo2 = S.IMG } }, "item.image.imageInfo2")
      bad({ image = { imageInfo = S.IMG, focalPoint = { x = 0.5, y = 0.5, z = 1 } } }, "item.image.focalPoint.z")
      bad({ image = { imageInfo = S.IMG, unsharpMasking = { amount = 1, sigma = 1 } } }, "item.image.unsharpMasking.sigma")
      bad({ video = { videoInfo = S.VID, url = "https://x.y/" } }, "item.video.url")
      bad({ text = { html = "h", body = "b" } }, "item.text.body")
      bad({ link = { url = "https://a.b/", href = "x" } }, "item.link.href")
      bad({ tags = { values = { "a" }, value = "a" } }, "item.tags.value")
      bad({ Title = "case matters" }, "item.Title")
      bad({ id = S.MISSING_ID }, "item.id")
    end)

    it("name the array index in batches (1-based)", function()
      local before = count()
      S.expect_err(IA, "items[3].image.imageInfo2", store.createGalleryItems, store, g._id,
        { S.simple_item("a"), S.simple_item("b"), { image = { imageInfo = S.IMG, imageInfo2 = "x" } } })
      assert.equal(before, count())
      S.expect_err(IA, "gallery.items[2].bogus", store.createGallery, store,
        { gallery = { name = "x", items = { S.simple_item("a"), { bogus = true } } } })
      S.expect_err(IA, "gallery.bogus", store.createGallery, store, { gallery = { bogus = true } })
      S.expect_err(IA, "gallery.items[1].image.imageInfo", store.createGallery, store,
        { gallery = { items = { { image = {} } } } })
      assert.equal(1, S.ok(store:listGalleries()).totalGalleries)
    end)

    it("in updates", function()
      local x = good(S.image_item())
      local ids = { galleryId = g._id, itemId = x._id }
      S.expect_err(IA, "item.image.imageInfo2", store.updateGalleryItem, store, ids,
        { image = { imageInfo = S.IMG, imageInfo2 = S.IMG } })
      S.expect_err(IA, "item.bogus", store.updateGalleryItem, store, ids, { title = "t", bogus = 1 })
      S.expect_err(IA, "gallery.bogus", store.updateGallery, store, g._id, { bogus = 1 })
      assert.same(x, S.ok(store:getGalleryItem(ids)))
    end)

    it("in options tables name the key", function()
      local msg = S.expect_err(IA, nil, store.createGallery, store, { galery = {} })
      assert.is_truthy(msg:find("galery", 1, true), msg)
      msg = S.expect_err(IA, nil, store.listGalleries, store, { limits = 1 })
      assert.is_truthy(msg:find("limits", 1, true), msg)
      msg = S.expect_err(IA, nil, store.deleteGalleryItem, store, { galleryId = g._id, itemId = S.MISSING_ID, x = 1 })
      assert.is_truthy(msg:find("x", 1, true), msg)
      assert.equal(1, S.ok(store:listGalleries()).totalGalleries)
    end)

    it("non-string keys are rejected", function()
      local msg = bad({ [1] = "x" }, nil)
      assert.matches("^item", msg)
      msg = bad({ image = { imageInfo = S.IMG, [true] = 1 } }, nil)
      assert.matches("^item%.image", msg)
    end)
  end)

  describe("read-only and legacy keys", function()
    it("read-only item keys are ignored on create", function()
      local x = good { _id = "garbage", type = "VIDEO", _createdDate = "yesterday", _updatedDate = "x", title = "t" }
      assert.is_true(S.is_uuid(x._id))
      assert.equal("UNDEFINED", x.type)
      assert.is_true(S.is_date(x._createdDate))
    end)

    it("read-only gallery keys are ignored", function()
      local gg = S.ok(store:createGallery { gallery = { _id = "garbage", totalItems = 99, _createdDate = "x",
        _updatedDate = "y", name = "n" } })
      assert.is_true(S.is_uuid(gg._id))
      assert.equal(0, gg.totalItems)
      assert.is_true(S.is_date(gg._createdDate))
    end)

    it("image.type is accepted and ignored", function()
      local x = good { image = { type = "WIX_MEDIA", imageInfo = S.IMG } }
      assert.same({ imageInfo = S.IMG }, x.image)
    end)

    it("video.duration must be a non-negative integer or digit string", function()
      assert.equal(0, good({ video = { videoInfo = S.VID, duration = 0 } }).video.durationInMillis)
      bad({ video = { videoInfo = S.VID, duration = -1 } }, "item.video.duration")
      bad({ video = { videoInfo = S.VID, duration = "12s" } }, "item.video.duration")
      bad({ video = { videoInfo = S.VID, duration = 1.5 } }, "item.video.duration")
    end)
  end)

  describe("media formats", function()
    it("imageInfo accepts wix:image URIs and http(s) URLs", function()
      for _, v in ipairs {
        S.IMG, S.IMG2,
        "wix:image://v1/9e6ea4_650d8cd45f7545c4b39178feb0ee8c70~mv2.jpg/300.jpg#originWidth=200&originHeight=300",
        "https://static.wixstatic.com/media/a.jpg",
        "http://example.com/x.png?a=1#frag",
      } do
        assert.equal(v, good({ image = { imageInfo = v } }).image.imageInfo)
      end
    end)

    it("imageInfo rejects anything else", function()
      local accepted = {}
      for _, v in ipairs {
        "", "image.jpg", "ftp://example.com/a.jpg", "javascript:alert(1)", "file:///etc/passwd",
        "wix:video://v1/abc/x.mp4#posterUri=p.jpg&posterWidth=1&posterHeight=1",
        "wix:image://v2/abc/x.jpg#originWidth=1&originHeight=1",
        "wix:image://v1/abc/x.jpg",
        "wix:image://v1/abc/x.jpg#originWidth=abc&originHeight=1",
        "wix:image://v1/abc/x.jpg#originHeight=1",
        "data:image/png;base64,AAAA",
      } do
        local res = S.call(store.createGalleryItem, store, g._id, { image = { imageInfo = v } })
        if res[1] ~= nil then
          accepted[#accepted + 1] = v
        else
          S.assert_err(IA, "item.image.imageInfo", res[1], res[2], res[3])
        end
      end
      assert.same({}, accepted)
      bad({ image = { imageInfo = 42 } }, "item.image.imageInfo")
      bad({ image = { imageInfo = { url = "ftp://a.b/c.jpg" } } }, "item.image.imageInfo")
      bad({ image = { imageInfo = { id = "a.jpg" } } }, "item.image.imageInfo.width")
      bad({ image = { imageInfo = { id = "a/b.jpg", width = 1, height = 1 } } }, "item.image.imageInfo.id")
      bad({ image = { imageInfo = { id = "a.jpg", width = 1, height = 1, size = 3 } } },
          "item.image.imageInfo.size")
      bad({ image = { imageInfo = null } }, "item.image.imageInfo")
    end)

    it("imageInfo and videoInfo also take Wix's REST objects, and answer the Velo string", function()
      assert.equal("https://a.b/c.jpg",
                   good({ image = { imageInfo = { url = "https://a.b/c.jpg" } } }).image.imageInfo)
      assert.equal("wix:image://v1/a.jpg/x%20y.jpg#originWidth=3&originHeight=4",
                   good({ image = { imageInfo = { id = "a.jpg", width = 3, height = 4,
                                                  filename = "x y.jpg" } } }).image.imageInfo)
      assert.equal("wix:video://v1/v1/f.mp4#posterUri=p.jpg&posterWidth=1&posterHeight=2",
                   good({ video = { videoInfo = { id = "v1", filename = "f.mp4",
                                                  posters = { { id = "p.jpg", width = 1, height = 2 } } } } })
                     .video.videoInfo)
    end)

    it("imageInfo, videoInfo and html are required", function()
      local msg = bad({ image = {} }, "item.image.imageInfo")
      assert.matches("^item%.image%.imageInfo: ", msg)
      bad({ image = { quality = 50 } }, "item.image.imageInfo")
      bad({ video = { type = "WIX_MEDIA" } }, "item.video.videoInfo")
      bad({ text = { css = { a = "b" } } }, "item.text.html")
    end)

    it("videoInfo accepts wix:video URIs and http(s) URLs and rejects others", function()
      for _, v in ipairs { S.VID, "https://vimeo.com/123", "http://example.com/v.mp4" } do
        assert.equal(v, good({ video = { videoInfo = v } }).video.videoInfo)
      end
      for _, v in ipairs { "", "video.mp4", S.IMG, "ftp://x.y/v.mp4", "wix:video://v2/a/b.mp4#posterUri=p&posterWidth=1&posterHeight=1" } do
        bad({ video = { videoInfo = v } }, "item.video.videoInfo")
      end
    end)

    it("video.type is one of the enum spellings", function()
      for _, t in ipairs { "UNDEFINED", "WIX_MEDIA", "YOUTUBE", "VIMEO" } do
        assert.equal(t, good({ video = { type = t, videoInfo = S.VID } }).video.type)
      end
      for _, t in ipairs { "youtube", "Vimeo", "", "OTHER", 1 } do
        bad({ video = { type = t, videoInfo = S.VID } }, "item.video.type")
      end
    end)

    it("link.target is _blank or _self", function()
      assert.equal("_blank", good({ link = { target = "_blank", url = "https://a.b/" } }).link.target)
      assert.equal("_self", good({ link = { target = "_self", url = "https://a.b/" } }).link.target)
      bad({ link = { target = "_top" } }, "item.link.target")
      bad({ link = { target = "blank" } }, "item.link.target")
      bad({ link = "https://a.b/" }, "item.link")
    end)

    it("two media members in one item are INVALID_ARGUMENT", function()
      local msg = bad({ image = { imageInfo = S.IMG }, video = { videoInfo = S.VID } }, nil)
      assert.matches("^item[%.:%s]", msg)
      msg = bad({ image = { imageInfo = S.IMG }, text = { html = "h" } }, nil)
      assert.matches("^item[%.:%s]", msg)
      msg = bad({ video = { videoInfo = S.VID }, text = { html = "h" } }, nil)
      assert.matches("^item[%.:%s]", msg)
    end)
  end)

  describe("types", function()
    it("wrong-typed fields name their path", function()
      bad({ title = 5 }, "item.title")
      bad({ title = true }, "item.title")
      bad({ description = {} }, "item.description")
      bad({ sortOrder = "5" }, "item.sortOrder")
      bad({ sortOrder = true }, "item.sortOrder")
      bad({ image = "x" }, "item.image")
      bad({ video = 5 }, "item.video")
      bad({ text = "<p>" }, "item.text")
      bad({ text = { html = 5 } }, "item.text.html")
      bad({ text = { html = "h", editorHtml = 5 } }, "item.text.editorHtml")
      bad({ text = { html = "h", editorFontId = {} } }, "item.text.editorFontId")
      bad({ image = { imageInfo = S.IMG, quality = "100" } }, "item.image.quality")
      bad({ image = { imageInfo = S.IMG, focalPoint = "center" } }, "item.image.focalPoint")
      bad({ image = { imageInfo = S.IMG, focalPoint = { x = "0.5" } } }, "item.image.focalPoint.x")
      bad({ tags = { values = "a" } }, "item.tags.values")
      bad({ tags = { values = { "a", 2 } } }, "item.tags.values[2]")
      bad({ link = { url = 5 } }, "item.link.url")
      bad({ link = { text = false } }, "item.link.text")
      local msg = bad({ tags = { "a", "b" } }, nil)
      assert.matches("^item%.tags", msg)
      S.expect_err(IA, "gallery.name", store.createGallery, store, { gallery = { name = 1 } })
      S.expect_err(IA, "gallery.sortOrder", store.createGallery, store, { gallery = { sortOrder = "1" } })
      S.expect_err(IA, "gallery.items", store.createGallery, store, { gallery = { items = "x" } })
      S.expect_err(IA, "gallery", store.createGallery, store, { gallery = "x" })
    end)
  end)

  describe("numbers", function()
    it("NaN and infinities are rejected everywhere", function()
      for _, v in ipairs { 0 / 0, math.huge, -math.huge } do
        bad({ sortOrder = v }, "item.sortOrder")
        bad({ image = { imageInfo = S.IMG, quality = v } }, "item.image.quality")
        bad({ image = { imageInfo = S.IMG, focalPoint = { x = v, y = 0 } } }, "item.image.focalPoint.x")
        bad({ image = { imageInfo = S.IMG, focalPoint = { x = 0, y = v } } }, "item.image.focalPoint.y")
        for _, k in ipairs { "amount", "radius", "threshold" } do
          bad({ image = { imageInfo = S.IMG, unsharpMasking = { [k] = v } } }, "item.image.unsharpMasking." .. k)
        end
        bad({ video = { videoInfo = S.VID, durationInMillis = v } }, "item.video.durationInMillis")
        bad({ image = { imageInfo = S.IMG, exif = { a = v } } }, "item.image.exif.a")
        S.expect_err(IA, "gallery.sortOrder", store.createGallery, store, { gallery = { sortOrder = v } })
      end
    end)

    it("sortOrder takes any finite number", function()
      for _, v in ipairs { 0, -1, 1.5, -1e300, 1e300, 2 ^ 53, -(2 ^ 53) } do
        assert.equal(v, good({ sortOrder = v }).sortOrder)
      end
    end)

    it("quality is an integer 30..100", function()
      assert.equal(30, good({ image = { imageInfo = S.IMG, quality = 30 } }).image.quality)
      assert.equal(100, good({ image = { imageInfo = S.IMG, quality = 100 } }).image.quality)
      for _, v in ipairs { 29, 101, 50.5, 0, -30 } do
        bad({ image = { imageInfo = S.IMG, quality = v } }, "item.image.quality")
      end
    end)

    it("focalPoint x and y are within 0..1; a missing coordinate is 0", function()
      assert.same({ x = 0, y = 1 }, good({ image = { imageInfo = S.IMG, focalPoint = { x = 0, y = 1 } } }).image.focalPoint)
      assert.same({ x = 0.25, y = 0 }, good({ image = { imageInfo = S.IMG, focalPoint = { x = 0.25 } } }).image.focalPoint)
      for _, p in ipairs { { x = -0.01, y = 0 }, { x = 1.01, y = 0 } } do
        bad({ image = { imageInfo = S.IMG, focalPoint = p } }, "item.image.focalPoint.x")
      end
      for _, p in ipairs { { x = 0, y = -1 }, { x = 0, y = 2 } } do
        bad({ image = { imageInfo = S.IMG, focalPoint = p } }, "item.image.focalPoint.y")
      end
    end)

    it("unsharpMasking: amount 0..5, radius >= 0, threshold 0..1, members optional", function()
      assert.same({ amount = 0, radius = 0, threshold = 0 },
        good({ image = { imageInfo = S.IMG, unsharpMasking = { amount = 0, radius = 0, threshold = 0 } } }).image.unsharpMasking)
      assert.same({ amount = 5, radius = 1e6, threshold = 1 },
        good({ image = { imageInfo = S.IMG, unsharpMasking = { amount = 5, radius = 1e6, threshold = 1 } } }).image.unsharpMasking)
      assert.same({ radius = 2 }, good({ image = { imageInfo = S.IMG, unsharpMasking = { radius = 2 } } }).image.unsharpMasking)
      bad({ image = { imageInfo = S.IMG, unsharpMasking = { amount = 5.01 } } }, "item.image.unsharpMasking.amount")
      bad({ image = { imageInfo = S.IMG, unsharpMasking = { amount = -0.1 } } }, "item.image.unsharpMasking.amount")
      bad({ image = { imageInfo = S.IMG, unsharpMasking = { radius = -1 } } }, "item.image.unsharpMasking.radius")
      bad({ image = { imageInfo = S.IMG, unsharpMasking = { threshold = 1.01 } } }, "item.image.unsharpMasking.threshold")
      bad({ image = { imageInfo = S.IMG, unsharpMasking = { threshold = -0.5 } } }, "item.image.unsharpMasking.threshold")
    end)

    it("durationInMillis is an integer >= 0", function()
      assert.equal(0, good({ video = { videoInfo = S.VID, durationInMillis = 0 } }).video.durationInMillis)
      assert.equal(2 ^ 53, good({ video = { videoInfo = S.VID, durationInMillis = 2 ^ 53 } }).video.durationInMillis)
      for _, v in ipairs { -1, 1.5, "100" } do
        bad({ video = { videoInfo = S.VID, durationInMillis = v } }, "item.video.durationInMillis")
      end
    end)
  end)

  describe("strings", function()
    it("must be valid UTF-8", function()
      for _, s in ipairs {
        "\255", "abc\128", "\192\175", "\237\160\128", "\244\144\128\128", "\226\130", "\248\136\128\128\128",
      } do
        bad({ title = s }, "item.title")
      end
      bad({ description = "ok\255" }, "item.description")
      bad({ tags = { values = { "fine", "\255" } } }, "item.tags.values[2]")
      bad({ link = { text = "\255" } }, "item.link.text")
      bad({ text = { html = "<p>\255</p>" } }, "item.text.html")
      bad({ image = { imageInfo = S.IMG, exif = { Artist = "\255" } } }, "item.image.exif.Artist")
      S.expect_err(IA, "gallery.name", store.createGallery, store, { gallery = { name = "\255" } })
    end)

    it("must not contain NUL", function()
      bad({ title = "a\0b" }, "item.title")
      bad({ description = "\0" }, "item.description")
      bad({ text = { html = "x\0" } }, "item.text.html")
      bad({ image = { imageInfo = S.IMG .. "\0" } }, "item.image.imageInfo")
      S.expect_err(IA, "gallery.name", store.createGallery, store, { gallery = { name = "a\0" } })
    end)

    it("byte bounds: name, title, link.text 1024", function()
      S.ok(store:createGallery { gallery = { name = utf8_rep(1024) } })
      S.expect_err(RE, "gallery.name", store.createGallery, store, { gallery = { name = utf8_rep(1025) } })
      assert.equal(utf8_rep(1024), good({ title = utf8_rep(1024) }).title)
      bad({ title = utf8_rep(1025) }, "item.title", RE)
      bad({ title = ("a"):rep(1023) .. "é" }, "item.title", RE) -- 1025 bytes, 1024 characters
      good({ link = { text = utf8_rep(1024) } })
      bad({ link = { text = utf8_rep(1025) } }, "item.link.text", RE)
      local x = good { title = "t" }
      S.expect_err(RE, "item.title", store.updateGalleryItem, store, { galleryId = g._id, itemId = x._id }, { title = utf8_rep(1025) })
      S.expect_err(RE, "gallery.name", store.updateGallery, store, g._id, { name = ("n"):rep(1025) })
      assert.equal("G", S.ok(store:getGallery(g._id)).name)
    end)

    it("byte bounds: description 16384", function()
      good({ description = utf8_rep(16384) })
      bad({ description = utf8_rep(16385) }, "item.description", RE)
    end)

    it("byte bounds: link.url, imageInfo, videoInfo 4096", function()
      good({ link = { url = url_of(4096) } })
      bad({ link = { url = url_of(4097) } }, "item.link.url", RE)
      assert.equal(4096, #good({ image = { imageInfo = url_of(4096) } }).image.imageInfo)
      bad({ image = { imageInfo = url_of(4097) } }, "item.image.imageInfo", RE)
      good({ video = { videoInfo = url_of(4096) } })
      bad({ video = { videoInfo = url_of(4097) } }, "item.video.videoInfo", RE)
    end)

    it("byte bounds: text.html 1 MiB", function()
      local html = ("<p>"):rep(math.floor(1048576 / 3)) .. ("x"):rep(1048576 % 3)
      assert.equal(1048576, #html)
      assert.equal(1048576, #good({ text = { html = html } }).text.html)
      bad({ text = { html = html .. "x" } }, "item.text.html", RE)
    end)

    it("tags: at most 100 values of 1..256 bytes", function()
      local vals = {}
      for i = 1, 100 do vals[i] = "t" .. i end
      assert.equal(100, #good({ tags = { values = vals } }).tags.values)
      vals[101] = "t101"
      bad({ tags = { values = vals } }, "item.tags.values", RE)
      assert.same({ utf8_rep(256) }, good({ tags = { values = { utf8_rep(256) } } }).tags.values)
      bad({ tags = { values = { "ok", utf8_rep(257) } } }, "item.tags.values[2]", RE)
      bad({ tags = { values = { "" } } }, "item.tags.values[1]")
      assert.same({ "x" }, good({ tags = { values = { "x" } } }).tags.values)
    end)
  end)

  describe("exif and css", function()
    it("accept flat and nested string-keyed tables of strings, numbers, booleans and arrays", function()
      local exif = { Artist = "A", ISO = 200, Flash = false, Lens = { Make = "L", Focal = 50.5 }, List = { 1, 2, 3 } }
      assert.same(exif, good({ image = { imageInfo = S.IMG, exif = exif } }).image.exif)
      local css = { backgroundColor = "rgba(1,2,3,0.5)", padding = 30, nested = { inner = { deep = { x = "y" } } } }
      assert.same(css, good({ text = { html = "h", css = css } }).text.css)
    end)

    it("depth 4 is accepted, deeper is rejected", function()
      -- 4 levels of tables counting exif itself
      good({ image = { imageInfo = S.IMG, exif = { a = { b = { c = { d = "x" } } } } } })
      good({ image = { imageInfo = S.IMG, exif = { a = { b = { { d = "x" } } } } } })
      bad({ image = { imageInfo = S.IMG, exif = { a = { b = { c = { d = { e = "x" } } } } } } }, nil)
      bad({ image = { imageInfo = S.IMG, exif = { a = { b = { { d = { "x" } } } } } } }, nil) -- through an array
      bad({ image = { imageInfo = S.IMG, exif = { a = { b = { c = { d = { e = { f = "x" } } } } } } } }, nil)
      bad({ text = { html = "h", css = { a = { b = { c = { d = { e = { f = "x" } } } } } } } }, nil)
    end)

    it("reject bad keys and values", function()
      bad({ image = { imageInfo = S.IMG, exif = { a = function() end } } }, "item.image.exif.a")
      bad({ image = { imageInfo = S.IMG, exif = { a = io.stdout } } }, "item.image.exif.a")
      bad({ image = { imageInfo = S.IMG, exif = { a = coroutine.create(print) } } }, "item.image.exif.a")
      bad({ image = { imageInfo = S.IMG, exif = { [true] = 1 } } }, nil)
      bad({ image = { imageInfo = S.IMG, exif = "Artist=Bob" } }, "item.image.exif")
      bad({ text = { html = "h", css = 5 } }, "item.text.css")
      bad({ text = { html = "h", css = { color = "\255" } } }, "item.text.css.color")
    end)

    it("reject cycles without raising", function()
      local cyc = {}
      cyc.self = cyc
      local msg = bad({ image = { imageInfo = S.IMG, exif = cyc } }, nil)
      assert.matches("^item%.image%.exif", msg)
      local c2 = { list = {} }
      c2.list[1] = c2
      msg = bad({ text = { html = "h", css = c2 } }, nil)
      assert.matches("^item%.text%.css", msg)
    end)

    it("reject very deep nesting without raising", function()
      local deep = {}
      local cur = deep
      for _ = 1, 200000 do
        cur.a = {}
        cur = cur.a
      end
      local msg = bad({ image = { imageInfo = S.IMG, exif = deep } }, nil)
      assert.matches("^item%.image%.exif", msg)
    end)

    it("are bounded to 64 KiB once encoded", function()
      good({ image = { imageInfo = S.IMG, exif = { a = ("x"):rep(60000) } } })
      -- one oversized string: the path may name exif or the member inside it
      local msg = bad({ image = { imageInfo = S.IMG, exif = { a = ("x"):rep(70000) } } }, nil, RE)
      assert.matches("^item%.image%.exif", msg)
      -- many small members: only exif as a whole is over the bound
      local spread = {}
      for i = 1, 3000 do spread[("k%04d"):format(i)] = ("v"):rep(20) end
      bad({ image = { imageInfo = S.IMG, exif = spread } }, "item.image.exif", RE)
      local fits = {}
      for i = 1, 1500 do fits[("k%04d"):format(i)] = ("v"):rep(20) end
      assert.same(fits, good({ image = { imageInfo = S.IMG, exif = fits } }).image.exif)
      local many = {}
      for i = 1, 5000 do many["key" .. i] = ("v"):rep(12) end
      bad({ text = { html = "h", css = many } }, "item.text.css", RE)
    end)
  end)

  describe("batches", function()
    it("gallery.items takes 0..1000; 1001 is RESOURCE_EXHAUSTED and creates no gallery", function()
      local list = {}
      for i = 1, 1000 do list[i] = { title = "x" .. i } end
      local gg = S.ok(store:createGallery { gallery = { items = list } })
      assert.equal(1000, gg.totalItems)
      list[1001] = { title = "x1001" }
      S.expect_err(RE, "gallery.items", store.createGallery, store, { gallery = { items = list } })
      assert.equal(2, S.ok(store:listGalleries()).totalGalleries)
    end)

    it("items must be an array", function()
      S.expect_err(IA, "items", store.createGalleryItems, store, g._id, { a = S.simple_item("x") })
      S.expect_err(IA, "items", store.createGalleryItems, store, g._id, S.simple_item("x"))
      S.expect_err(IA, "items", store.createGalleryItems, store, g._id, "items")
      S.expect_err(IA, "items[1]", store.createGalleryItems, store, g._id, { "not an item" })
      S.expect_err(IA, "itemIds", store.bulkDeleteGalleryItems, store, g._id, S.MISSING_ID)
      assert.equal(0, count())
    end)
  end)

  describe("ids", function()
    local malformed = {
      "", "x", "not-a-uuid", "00000000-0000-4000-8000-00000000000", "00000000-0000-4000-8000-0000000000000",
      "00000000000040008000000000000000", "{00000000-0000-4000-8000-000000000000}",
      " 00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000000 ",
      "g0000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-00000000000\0",
      "00000000_0000_4000_8000_000000000000",
    }

    it("malformed galleryId is INVALID_ARGUMENT in every function", function()
      for _, id in ipairs(malformed) do
        S.expect_err(IA, "galleryId", store.getGallery, store, id)
        S.expect_err(IA, "galleryId", store.updateGallery, store, id, { name = "x" })
        S.expect_err(IA, "galleryId", store.deleteGallery, store, id)
        S.expect_err(IA, "galleryId", store.createGalleryItem, store, id, { title = "x" })
        S.expect_err(IA, "galleryId", store.createGalleryItems, store, id, { { title = "x" } })
        S.expect_err(IA, "galleryId", store.getGalleryItem, store, { galleryId = id, itemId = S.MISSING_ID })
        S.expect_err(IA, "galleryId", store.updateGalleryItem, store, { galleryId = id, itemId = S.MISSING_ID }, { title = "x" })
        S.expect_err(IA, "galleryId", store.deleteGalleryItem, store, { galleryId = id, itemId = S.MISSING_ID })
        S.expect_err(IA, "galleryId", store.bulkDeleteGalleryItems, store, id, { S.MISSING_ID })
        S.expect_err(IA, "galleryId", store.listGalleryItems, store, id)
        S.expect_err(IA, "cloneFromGalleryId", store.createGallery, store, { cloneFromGalleryId = id })
      end
      assert.equal(1, S.ok(store:listGalleries()).totalGalleries)
    end)

    it("malformed itemId is INVALID_ARGUMENT", function()
      for _, id in ipairs(malformed) do
        S.expect_err(IA, "itemId", store.getGalleryItem, store, { galleryId = g._id, itemId = id })
        S.expect_err(IA, "itemId", store.updateGalleryItem, store, { galleryId = g._id, itemId = id }, { title = "x" })
        S.expect_err(IA, "itemId", store.deleteGalleryItem, store, { galleryId = g._id, itemId = id })
        S.expect_err(IA, "itemIds[1]", store.bulkDeleteGalleryItems, store, g._id, { id })
      end
    end)

    it("argument validation comes before existence", function()
      S.expect_err(IA, "item.title", store.createGalleryItem, store, S.MISSING_ID, { title = 5 })
      S.expect_err(IA, "item.title", store.updateGalleryItem, store, { galleryId = S.MISSING_ID, itemId = S.MISSING_ID }, { title = 5 })
      S.expect_err(IA, "itemIds[1]", store.bulkDeleteGalleryItems, store, S.MISSING_ID, { "bad" })
      S.expect_err(IA, "gallery.name", store.updateGallery, store, S.MISSING_ID, { name = 5 })
      S.expect_err(IA, "itemLimit", store.getGallery, store, S.MISSING_ID, { itemLimit = 0 })
      S.expect_err(IA, "gallery.name", store.createGallery, store, { cloneFromGalleryId = S.MISSING_ID, gallery = { name = 5 } })
    end)
  end)

  describe("hostile argument values", function()
    local hostile = S.hostile_values()

    -- the documented arguments of each function, with argument `slot` replaced by v
    local function args_for(name, slot, v, gid, iid)
      local ids = { galleryId = gid, itemId = iid }
      local base = {
        createGallery = { { gallery = { name = "x" } } },
        getGallery = { gid, {} },
        listGalleries = { {} },
        updateGallery = { gid, { name = "x" } },
        deleteGallery = { gid },
        createGalleryItem = { gid, { title = "x" } },
        createGalleryItems = { gid, { { title = "x" } } },
        getGalleryItem = { ids },
        updateGalleryItem = { ids, { title = "x" } },
        deleteGalleryItem = { ids },
        bulkDeleteGalleryItems = { gid, { iid } },
        listGalleryItems = { gid, {} },
      }
      local a = base[name]
      a[slot] = v
      return a
    end

    local slots = {
      createGallery = 1, getGallery = 2, listGalleries = 1, updateGallery = 2, deleteGallery = 1,
      createGalleryItem = 2, createGalleryItems = 2, getGalleryItem = 1, updateGalleryItem = 2,
      deleteGalleryItem = 1, bulkDeleteGalleryItems = 2, listGalleryItems = 2,
    }
    -- optional options slots where nil / null mean "defaults"
    local optional = { createGallery = { [1] = true }, getGallery = { [2] = true }, listGalleries = { [1] = true },
      listGalleryItems = { [2] = true } }

    for name, nslots in pairs(slots) do
      it(name .. " returns nil, message, code for every hostile value in every argument", function()
        for slot = 1, nslots do
          for _, h in ipairs(hostile) do
            local label, v = h[1], h[2]
            local x = S.ok(store:createGalleryItem(g._id, { title = "victim" }))
            local args = args_for(name, slot, v, g._id, x._id)
            local res = { pcall(store[name], store, S.unpack(args, 1, nslots)) }
            assert.is_true(res[1], ("%s(arg %d = %s) raised: %s"):format(name, slot, label, tostring(res[2])))
            local is_optional = optional[name] and optional[name][slot]
            if is_optional and (v == nil or v == null) then
              assert.is_not_nil(res[2], ("%s(arg %d = %s) should use defaults: %s"):format(name, slot, label, tostring(res[3])))
            else
              assert.is_nil(res[2], ("%s(arg %d = %s) succeeded"):format(name, slot, label))
              assert.equal("string", type(res[3]), ("%s(arg %d = %s) message"):format(name, slot, label))
              assert.equal(IA, res[4], ("%s(arg %d = %s): %s"):format(name, slot, label, tostring(res[3])))
            end
          end
        end
        -- the victim items are all still there (plus whatever a valid default call made)
        assert.is_true(S.ok(store:getGallery(g._id)).totalItems >= 1)
      end)
    end

    it("a trailing extra argument is ignored by every function", function()
      for _, h in ipairs(hostile) do
        local extra = h[2]
        local x = S.ok(store:createGalleryItem(g._id, { title = "t" }))
        local ids = { galleryId = g._id, itemId = x._id }
        local calls = {
          { "getGallery", g._id, {} }, { "listGalleries", {} }, { "listGalleryItems", g._id, {} },
          { "getGalleryItem", ids }, { "updateGalleryItem", ids, { title = "u" }, {} },
          { "updateGallery", g._id, { name = "G" }, {} }, { "createGalleryItems", g._id, { { title = "b" } } },
          { "createGalleryItem", g._id, { title = "c" } }, { "bulkDeleteGalleryItems", g._id, { S.MISSING_ID } },
          { "deleteGalleryItem", ids, {} }, { "createGallery", { gallery = { name = "tmp" } } },
        }
        for _, c in ipairs(calls) do
          local n = #c
          c[n + 1] = extra
          local res = S.pack(pcall(store[c[1]], store, S.unpack(c, 2, n + 1)))
          assert.is_true(res[1], c[1] .. " raised with trailing " .. h[1] .. ": " .. tostring(res[2]))
          assert.is_not_nil(res[2], ("%s with trailing %s: %s %s"):format(c[1], h[1], tostring(res[3]), tostring(res[4])))
        end
        local tmp = S.ok(store:createGallery())
        local res = S.pack(pcall(store.deleteGallery, store, tmp._id, {}, extra))
        assert.is_true(res[1])
        assert.same({ galleryId = tmp._id }, res[2], h[1])
      end
    end)

    it("a trailing extra argument of any type is ignored", function()
      for _, h in ipairs(hostile) do
        local x = S.ok(store:createGalleryItem(g._id, { title = "t" }, h[2]))
        local res = { pcall(store.getGalleryItem, store, { galleryId = g._id, itemId = x._id }, h[2]) }
        assert.is_true(res[1])
        assert.equal(x._id, res[2]._id, h[1])
        res = { pcall(store.deleteGalleryItem, store, { galleryId = g._id, itemId = x._id }, {}, h[2]) }
        assert.is_true(res[1])
        assert.same({ itemId = x._id }, res[2], h[1])
        res = { pcall(store.updateGallery, store, g._id, { name = "G" }, {}, h[2]) }
        assert.is_true(res[1])
        assert.equal("G", res[2] and res[2].name, h[1])
      end
    end)

    it("hostile values nested inside items never raise", function()
      for _, h in ipairs(hostile) do
        local v = h[2]
        if v ~= nil and v ~= null then
          for _, item in ipairs {
            { title = v }, { link = v }, { tags = { values = v } }, { image = { imageInfo = S.IMG, exif = { a = v } } },
            { text = { html = "h", css = { k = { v } } } }, { image = v }, { video = { videoInfo = v } },
          } do
            local res = { pcall(store.createGalleryItem, store, g._id, item) }
            assert.is_true(res[1], h[1] .. " raised: " .. tostring(res[2]))
            if res[2] == nil then
              assert.equal("string", type(res[3]), h[1])
              assert.is_truthy(({ INVALID_ARGUMENT = 1, RESOURCE_EXHAUSTED = 1 })[res[4]], h[1] .. ": " .. tostring(res[4]))
            end
          end
        end
      end
    end)

    it("valid tables with raising metamethods never make a call raise", function()
      local function boom() error("boom from metamethod", 0) end
      local cases = {
        { "item", function() return store:createGalleryItem(g._id, setmetatable({ title = "mt" }, { __index = boom, __pairs = boom, __len = boom })) end },
        { "options", function() return store:getGallery(g._id, setmetatable({}, { __index = boom, __pairs = boom })) end },
        { "identifiers", function()
          local x = S.ok(store:createGalleryItem(g._id, { title = "t" }))
          return store:getGalleryItem(setmetatable({ galleryId = g._id, itemId = x._id }, { __index = boom, __pairs = boom }))
        end },
        { "items", function() return store:createGalleryItems(g._id, setmetatable({ { title = "a" } }, { __index = boom, __len = boom })) end },
        { "exif", function()
          return store:createGalleryItem(g._id, { image = { imageInfo = S.IMG, exif = setmetatable({ a = "b" }, { __index = boom, __pairs = boom }) } })
        end },
      }
      for _, c in ipairs(cases) do
        local res = S.pack(pcall(c[2]))
        assert.is_true(res[1], c[1] .. " raised: " .. tostring(res[2]))
        if res[2] == nil then
          -- refusing tables with metatables is acceptable, but as nil, message, code
          assert.equal("string", type(res[3]), c[1])
          assert.equal(IA, res[4], c[1])
        end
      end
    end)

    it("a method called without a store returns an error instead of raising", function()
      local selves = { n = 5, nil, 42, "x", {}, io.stdout }
      for i = 1, selves.n do
        local v = selves[i]
        local res = { pcall(store.getGallery, v, g._id) }
        assert.is_true(res[1], tostring(res[2]))
        assert.is_nil(res[2])
        assert.matches("^self", res[3])
        assert.equal(IA, res[4])
      end
      local res = { pcall(store.getGallery, g._id) }
      assert.is_true(res[1])
      assert.is_nil(res[2])
      assert.equal(IA, res[4])
      res = { pcall(store.createGalleryItem) }
      assert.is_true(res[1])
      assert.equal(IA, res[4])
    end)
  end)
end)

describe("media strings shorter than the legacy prefix", function()
  -- pg_media_parse compared 11 bytes ("image://v1/") of strings of 7..10 bytes: a heap
  -- read past the end that the ASan run of the suite caught (frontend_property_spec)
  it("are refused without reading past their end", function()
    local store = S.admin()
    local g = S.ok(store:createGallery {})
    for _, s in ipairs { "image:/", "image://", "image://v", "image://v1", "video:/", "video://v1" } do
      local media = s:sub(1, 5) == "image" and { image = { imageInfo = s } } or { video = { videoInfo = s } }
      S.expect_err("INVALID_ARGUMENT", nil, store.createGalleryItem, store, g._id, media)
    end
    store:close()
  end)
end)
