-- progallery.uri: wix:image:// and wix:video:// parsing and the REST conversion of
-- reference section 2.11, checked with the vectors of section 12.4. Pure Lua.
local uri = require "progallery.uri"
local cjson = require "cjson"

-- calls fn under pcall; asserts it did not raise and returns its results
local function call(fn, ...)
  local r = { pcall(fn, ...) }
  assert(r[1], "raised: " .. tostring(r[2]))
  return r[2], r[3], r[4]
end

-- nil, message, code, as every helper and the store fail
local function refused(fn, ...)
  local v, err, code = call(fn, ...)
  assert.is_nil(v)
  assert.equal("string", type(err))
  assert.is_true(code == "INVALID_ARGUMENT" or code == "RESOURCE_EXHAUSTED", tostring(code) .. ": " .. err)
  return err, code
end

-- reference 12.4, image SDK -> REST
local IMAGE_VECTORS = {
  {
    "wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/38939f9568z222d6avc6285c9ac1e9129.jpg#originWidth=200&originHeight=199",
    { id = "38939f9568z222d6avc6285c9ac1e9129.jpg", height = 199, width = 200,
      altText = "38939f9568z222d6avc6285c9ac1e9129.jpg", filename = "38939f9568z222d6avc6285c9ac1e9129.jpg",
      url = "wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/38939f9568z222d6avc6285c9ac1e9129.jpg#originWidth=200&originHeight=199" },
  },
  {
    "wix:image://v1/9e6ea4_650d8cd45f7545c4b39178feb0ee8c70~mv2.jpg/300.jpg#originWidth=200&originHeight=300",
    { id = "9e6ea4_650d8cd45f7545c4b39178feb0ee8c70~mv2.jpg", height = 300, width = 200,
      altText = "300.jpg", filename = "300.jpg",
      url = "wix:image://v1/9e6ea4_650d8cd45f7545c4b39178feb0ee8c70~mv2.jpg/300.jpg#originWidth=200&originHeight=300" },
  },
  {
    "wix:image://v1/99bc1c6f66444769b531221214c885ac.jpeg/A%20View.jpeg#originWidth=3264&originHeight=2448",
    { id = "99bc1c6f66444769b531221214c885ac.jpeg", height = 2448, width = 3264,
      altText = "A View.jpeg", filename = "A View.jpeg",
      url = "wix:image://v1/99bc1c6f66444769b531221214c885ac.jpeg/A%20View.jpeg#originWidth=3264&originHeight=2448" },
  },
}

-- reference 12.4, video SDK -> REST
local VIDEO_VECTORS = {
  {
    "wix:video://v1/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c/BigBuckBunny.mp4#posterUri=8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg&posterWidth=1280&posterHeight=720",
    { id = "8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c", filename = "BigBuckBunny.mp4",
      posters = { { id = "8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg", height = 720, width = 1280 } } },
  },
  { "https://vimeo.com/322240916", { url = "https://vimeo.com/322240916" } },
  {
    "wix:video://v1/80c05f_e2c524db1f264178a8558c92dbf76fb0/_#posterUri=80c05f_e2c524db1f264178a8558c92dbf76fb0f000.jpg&posterWidth=1920&posterHeight=1080",
    { id = "80c05f_e2c524db1f264178a8558c92dbf76fb0", filename = "_",
      posters = { { id = "80c05f_e2c524db1f264178a8558c92dbf76fb0f000.jpg", height = 1080, width = 1920 } } },
  },
}

describe("progallery.uri", function()
  it("has a version and loads without the C module", function()
    assert.equal("string", type(uri._VERSION))
  end)

  it("treats cjson.null as null", function()
    assert.is_true(uri.isNull(cjson.null))
    assert.is_true(uri.isNull(nil))
    assert.is_false(uri.isNull(false))
    assert.is_false(uri.isNull(io.stdout))
  end)

  describe("encodeURIComponent (JS semantics)", function()
    it("leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ) alone", function()
      local keep = "ABCXYZabcxyz0189-_.!~*'()"
      assert.equal(keep, call(uri.encodeURIComponent, keep))
    end)

    it("escapes everything else as upper-case %XX of the UTF-8 bytes", function()
      assert.equal("a%20b", call(uri.encodeURIComponent, "a b"))
      assert.equal("%2F%3F%23%26%3D%2B%25%3A%40%24%2C%3B", call(uri.encodeURIComponent, "/?#&=+%:@$,;"))
      assert.equal("%C3%A9%E2%82%AC", call(uri.encodeURIComponent, "é€"))
      assert.equal("%00", call(uri.encodeURIComponent, "\0"))
    end)

    it("refuses invalid UTF-8 and non-strings", function()
      refused(uri.encodeURIComponent, "\255")
      refused(uri.encodeURIComponent, 12)
    end)
  end)

  describe("decodeURIComponent (JS semantics)", function()
    it("decodes every escape, reserved characters included, and keeps +", function()
      assert.equal("A View/#?+", call(uri.decodeURIComponent, "A%20View%2F%23%3F+"))
      assert.equal("é", call(uri.decodeURIComponent, "%c3%a9"))
    end)

    it("refuses malformed escapes and invalid UTF-8 like JS's URIError", function()
      refused(uri.decodeURIComponent, "%zz")
      refused(uri.decodeURIComponent, "abc%")
      refused(uri.decodeURIComponent, "abc%4")
      refused(uri.decodeURIComponent, "%FF")
      refused(uri.decodeURIComponent, "%C3")
      refused(uri.decodeURIComponent, "%ED%A0%80") -- a surrogate
    end)
  end)

  describe("parseImage", function()
    it("splits a wix:image URI into its parts", function()
      local p = call(uri.parseImage, IMAGE_VECTORS[3][1])
      assert.equal("image", p.kind)
      assert.equal("wix", p.scheme)
      assert.equal("99bc1c6f66444769b531221214c885ac.jpeg", p.id)
      assert.equal("A View.jpeg", p.filename)
      assert.equal(3264, p.width)
      assert.equal(2448, p.height)
      assert.equal(IMAGE_VECTORS[3][1], p.uri)
    end)

    it("adds wix: to the legacy image: form", function()
      local p = call(uri.parseImage, "image://v1/abc.jpg/x.jpg#originWidth=1&originHeight=2")
      assert.equal("wix:image://v1/abc.jpg/x.jpg#originWidth=1&originHeight=2", p.uri)
      assert.equal("abc.jpg", p.id)
    end)

    it("maps http(s) URLs to {url}; the scheme is lower case, as the store takes it", function()
      assert.same({ kind = "image", scheme = "http", url = "https://x.com/a.jpg" },
        call(uri.parseImage, "https://x.com/a.jpg"))
      refused(uri.parseImage, "HTTP://x.com/a.jpg")
    end)

    it("reads the fragment's sizes first-wins; an image needs both (a video's are 0 when absent)", function()
      local p = call(uri.parseImage, "wix:image://v1/a/b#originHeight=5&originWidth=7&originWidth=9&watermark=a+b")
      assert.equal(7, p.width)
      assert.equal(5, p.height)
      assert.equal("a b", p.params.watermark)
      refused(uri.parseImage, "wix:image://v1/a/b")
      refused(uri.parseImage, "wix:image://v1/a/b#originWidth=1")
      p = call(uri.parseVideo, "wix:video://v1/a/b")
      assert.equal(0, p.posterWidth)
      assert.equal(0, p.posterHeight)
    end)

    it("has no filename when the path has none; an empty one is refused", function()
      assert.is_nil(call(uri.parseImage, "wix:image://v1/a#originWidth=1&originHeight=1").filename)
      refused(uri.parseImage, "wix:image://v1/a/#originWidth=1&originHeight=1")
    end)

    it("refuses what is neither a wix:image URI nor an http(s) URL", function()
      for _, bad in ipairs {
        "", "ftp://x/y.jpg", "wix:video://v1/a/b", "wix:image://v2/a/b", "wix:image://v1/",
        "wix:image://v1//b.jpg#originWidth=1&originHeight=1",
        "wix:image://v1/a/%zz#originWidth=1&originHeight=1",
        "wix:image://v1/a/b#originWidth=wide&originHeight=1",
        "wix:image://v1/a/b#originWidth=1&originHeight=Infinity",
        "mailto:x@y", "/relative/path.jpg",
      } do
        local err = refused(uri.parseImage, bad)
        assert.is_true(#err > 0, bad)
      end
    end)

    it("refuses non-strings without raising", function()
      for _, bad in ipairs { 1, true, {}, cjson.null, function() end } do
        refused(uri.parseImage, bad)
      end
      refused(uri.parseImage, nil)
    end)
  end)

  describe("parseVideo", function()
    it("splits a wix:video URI with a poster", function()
      local p = call(uri.parseVideo, VIDEO_VECTORS[1][1])
      assert.equal("video", p.kind)
      assert.equal("8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c", p.id)
      assert.equal("BigBuckBunny.mp4", p.filename)
      assert.equal("8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg", p.posterUri)
      assert.equal(1280, p.posterWidth)
      assert.equal(720, p.posterHeight)
    end)

    it("adds wix: to the legacy video: form", function()
      assert.equal("wix:video://v1/a/b.mp4", call(uri.parseVideo, "video://v1/a/b.mp4").uri)
    end)

    it("has no poster when posterUri is absent or empty", function()
      assert.is_nil(call(uri.parseVideo, "wix:video://v1/a/b.mp4").posterUri)
      assert.is_nil(call(uri.parseVideo, "wix:video://v1/a/b.mp4#posterUri=&posterWidth=1").posterUri)
    end)

    it("refuses bad input", function()
      for _, bad in ipairs { "", "wix:image://v1/a/b", "rtmp://x", "wix:video://v1/",
        "wix:video://v1/a/b#posterWidth=x", 5, {} } do
        refused(uri.parseVideo, bad)
      end
    end)
  end)

  describe("imageToRest (12.4 vectors)", function()
    for i, v in ipairs(IMAGE_VECTORS) do
      it("vector " .. i, function()
        assert.same(v[2], call(uri.imageToRest, v[1]))
      end)
    end

    it("gives only id, width and height without a filename", function()
      assert.same({ id = "abc.jpg", width = 3, height = 4 },
        call(uri.imageToRest, "wix:image://v1/abc.jpg#originWidth=3&originHeight=4"))
    end)

    it("maps an http(s) image to {url}", function()
      assert.same({ url = "http://example.com/a.png" }, call(uri.imageToRest, "http://example.com/a.png"))
    end)

    it("uses the wix: form as url for a legacy string", function()
      local r = call(uri.imageToRest, "image://v1/abc.jpg/x.jpg#originWidth=1&originHeight=2")
      assert.equal("wix:image://v1/abc.jpg/x.jpg#originWidth=1&originHeight=2", r.url)
    end)

    it("refuses garbage with a message", function()
      local err = refused(uri.imageToRest, "not a uri")
      assert.matches("wix:image", err)
    end)
  end)

  describe("imageFromRest", function()
    it("builds the URI of the reverse-direction vector", function()
      assert.equal(
        "wix:image://v1/8a0a22_e71e9490127741bc8aba94587ffe81a1~mv2.jpg/photo%20one.jpg#originWidth=586&originHeight=768",
        call(uri.imageFromRest, { id = "8a0a22_e71e9490127741bc8aba94587ffe81a1~mv2.jpg",
          height = 768, width = 586, filename = "photo one.jpg" }))
    end)

    for i, v in ipairs(IMAGE_VECTORS) do
      it("turns vector " .. i .. " back into its string", function()
        assert.equal(v[1], call(uri.imageFromRest, v[2]))
      end)
    end

    it("uses altText when there is no filename, and nothing when neither", function()
      assert.equal("wix:image://v1/a/alt%20t#originWidth=1&originHeight=2",
        call(uri.imageFromRest, { id = "a", altText = "alt t", width = 1, height = 2 }))
      assert.equal("wix:image://v1/a/f#originWidth=1&originHeight=2",
        call(uri.imageFromRest, { id = "a", altText = "alt", filename = "f", width = 1, height = 2 }))
      assert.equal("wix:image://v1/a#originWidth=1&originHeight=2",
        call(uri.imageFromRest, { id = "a", width = 1, height = 2, filename = "" }))
    end)

    it("writes integral floats as integers", function()
      assert.equal("wix:image://v1/a#originWidth=10&originHeight=20",
        call(uri.imageFromRest, { id = "a", width = 10.0, height = 20.0 }))
    end)

    it("returns url when there is no id", function()
      assert.equal("https://x/y.png", call(uri.imageFromRest, { url = "https://x/y.png" }))
      assert.equal("https://x/y.png", call(uri.imageFromRest, { id = cjson.null, url = "https://x/y.png" }))
    end)

    it("refuses objects it cannot turn into a string", function()
      for _, bad in ipairs {
        {}, { id = "a" }, { id = "a", width = 1 }, { id = "a", width = -1, height = 1 },
        { id = "a", width = 1.5, height = 1 }, { id = "a", width = "1", height = 1 },
        { id = "a", width = 0 / 0, height = 1 }, { id = "a/b", width = 1, height = 1 },
        { id = 5, width = 1, height = 1 }, { id = "a", width = 1, height = 1, filename = 3 },
        { id = "a", width = 1, height = 1, filename = "\255" }, { url = 7 },
        "wix:image://v1/a", 12, cjson.null,
        setmetatable({}, { __index = function() error("boom") end }),
      } do
        refused(uri.imageFromRest, bad)
      end
      refused(uri.imageFromRest, nil)
    end)
  end)

  describe("videoToRest (12.4 vectors)", function()
    for i, v in ipairs(VIDEO_VECTORS) do
      it("vector " .. i, function()
        assert.same(v[2], call(uri.videoToRest, v[1]))
      end)
    end

    it("gives only the id for a bare wix:video URI", function()
      assert.same({ id = "abc" }, call(uri.videoToRest, "wix:video://v1/abc"))
    end)

    it("decodes the filename", function()
      assert.same({ id = "abc", filename = "my clip.mp4" }, call(uri.videoToRest, "wix:video://v1/abc/my%20clip.mp4"))
    end)
  end)

  describe("videoFromRest", function()
    for i, v in ipairs(VIDEO_VECTORS) do
      it("turns vector " .. i .. " back into its string", function()
        assert.equal(v[1], call(uri.videoFromRest, v[2]))
      end)
    end

    it("prefers the second poster, as the SDK does", function()
      assert.equal("wix:video://v1/v/f.mp4#posterUri=p2.jpg&posterWidth=3&posterHeight=4",
        call(uri.videoFromRest, { id = "v", filename = "f.mp4", posters = {
          { id = "p1.jpg", width = 1, height = 2 }, { id = "p2.jpg", width = 3, height = 4 } } }))
    end)

    it("takes the poster id from the last segment of its url when it has no id", function()
      assert.equal("wix:video://v1/v#posterUri=p.jpg&posterWidth=1&posterHeight=2",
        call(uri.videoFromRest, { id = "v", posters = {
          { url = "https://static.wixstatic.com/media/p.jpg?x=1", width = 1, height = 2 } } }))
      local function from(url)
        return call(uri.videoFromRest, { id = "v", posters = { { url = url, width = 1, height = 2 } } })
      end
      assert.equal("wix:video://v1/v#posterUri=p.jpg&posterWidth=1&posterHeight=2", from("p.jpg#frag"))
      assert.equal("wix:video://v1/v#posterUri=p.jpg&posterWidth=1&posterHeight=2", from("a//b/p.jpg"))
      assert.is_nil(from("https://a.example/media/"))
      -- in linear time: a long segment ending in "/" (a quadratic search took minutes)
      assert.is_nil(from(string.rep("a", 200000) .. "/"))
      assert.is_nil(from("/" .. string.rep("a", 200000))) -- past a poster id's 1024 bytes
      assert.equal("wix:video://v1/v#posterUri=" .. string.rep("a", 1024) .. "&posterWidth=1&posterHeight=2",
        from("/" .. string.rep("a", 1024)))
    end)

    it("omits the fragment without posters and encodes the filename", function()
      assert.equal("wix:video://v1/v/a%20b.mp4", call(uri.videoFromRest, { id = "v", filename = "a b.mp4" }))
      assert.equal("wix:video://v1/v", call(uri.videoFromRest, { id = "v", posters = {} }))
    end)

    it("refuses objects it cannot turn into a string", function()
      for _, bad in ipairs {
        {}, { filename = "x" }, { id = "v", posters = "p" }, { id = "v", posters = { "p" } },
        { id = "v", posters = { { id = "p" } } }, { id = "v", posters = { { width = 1, height = 1 } } },
        { id = "v", posters = { { id = "p", width = "1", height = 1 } } }, { id = true }, 3, "x",
      } do
        refused(uri.videoFromRest, bad)
      end
    end)
  end)

  describe("posterImage (the $w.Gallery thumbnail form)", function()
    it("names the poster as a wix:image URI with its size", function()
      assert.equal(
        "wix:image://v1/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg#originWidth=1280&originHeight=720",
        call(uri.posterImage, VIDEO_VECTORS[1][1]))
    end)

    it("agrees with imageFromRest of the REST poster object", function()
      local poster = call(uri.videoToRest, VIDEO_VECTORS[3][1]).posters[1]
      poster.filename = poster.id
      assert.equal(call(uri.imageFromRest, poster), call(uri.posterImage, VIDEO_VECTORS[3][1]))
    end)

    it("is nil without a poster, for http videos and for garbage", function()
      assert.is_nil(call(uri.posterImage, "wix:video://v1/a/b.mp4"))
      assert.is_nil(call(uri.posterImage, "https://vimeo.com/1"))
      assert.is_nil(call(uri.posterImage, 42))
    end)
  end)

  describe("round trips", function()
    it("string -> REST -> string is the identity for canonical URIs", function()
      for _, v in ipairs(IMAGE_VECTORS) do
        assert.equal(v[1], call(uri.imageFromRest, call(uri.imageToRest, v[1])))
      end
      for _, v in ipairs(VIDEO_VECTORS) do
        assert.equal(v[1], call(uri.videoFromRest, call(uri.videoToRest, v[1])))
      end
    end)

    it("REST -> string -> REST keeps id, size and filename with awkward characters", function()
      local obj = { id = "x~1.jpg", width = 10, height = 20, filename = "ä b/c#d?e&f=g%h+i.jpg" }
      local back = call(uri.imageToRest, call(uri.imageFromRest, obj))
      assert.equal(obj.id, back.id)
      assert.equal(obj.width, back.width)
      assert.equal(obj.height, back.height)
      assert.equal(obj.filename, back.filename)
      assert.equal(obj.filename, back.altText)
    end)
  end)
end)
