-- progallery.rest: the Velo <-> REST v2 codec of API.md section 9. Pure Lua except the
-- "through the store" block, which requires the C module lazily.
local rest = require "progallery.rest"
local cjson = require "cjson"
local null = cjson.null
local unpack = table.unpack or unpack

local IMG = "wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/38939f9568z222d6avc6285c9ac1e9129.jpg#originWidth=200&originHeight=199"
local IMG_REST = {
  id = "38939f9568z222d6avc6285c9ac1e9129.jpg", height = 199, width = 200,
  altText = "38939f9568z222d6avc6285c9ac1e9129.jpg", filename = "38939f9568z222d6avc6285c9ac1e9129.jpg", url = IMG,
}
local VID = "wix:video://v1/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c/BigBuckBunny.mp4#posterUri=8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg&posterWidth=1280&posterHeight=720"
local VID_REST = {
  id = "8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c", filename = "BigBuckBunny.mp4",
  posters = { { id = "8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg", height = 720, width = 1280 } },
}
local D1, D2 = "2026-11-27T20:38:40.123Z", "2026-11-27T20:38:41.456Z"
local GID, IID = "10874ccf-5867-4225-9550-3885079bad66", "534264c7-0c61-45ce-b414-891aacadf4c2"

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

local function velo_item()
  return {
    _id = IID, type = "IMAGE", sortOrder = 1657439075188, title = "Item 1",
    link = { text = "more", url = "https://www.wix.com/about/us" }, tags = { values = { "voice", "bees" } },
    image = {
      imageInfo = IMG, focalPoint = { x = 0.9, y = 0.1 }, quality = 100,
      unsharpMasking = { amount = 2.41, radius = 28.6, threshold = 0.47 },
      exif = { Artist = "Bob Dylan", _id = "exif keeps its keys" },
    },
    _createdDate = D1, _updatedDate = D2,
  }
end

local function rest_item()
  return {
    id = IID, type = "IMAGE", sortOrder = 1657439075188, title = "Item 1",
    link = { text = "more", url = "https://www.wix.com/about/us" }, tags = { values = { "voice", "bees" } },
    image = {
      imageInfo = IMG_REST, focalPoint = { x = 0.9, y = 0.1 }, quality = 100,
      unsharpMasking = { amount = 2.41, radius = 28.6, threshold = 0.47 },
      exif = { Artist = "Bob Dylan", _id = "exif keeps its keys" },
    },
    createdDate = D1, updatedDate = D2,
  }
end

local function velo_gallery()
  local video = { _id = "v-id", type = "VIDEO", video = { type = "WIX_MEDIA", videoInfo = VID, durationInMillis = 5000 },
                  _createdDate = D1, _updatedDate = D2 }
  local text = { _id = "t-id", type = "TEXT", text = { html = "<p>Hi!</p>", css = { id = "css keeps its keys", ratio = -50 } } }
  return { _id = GID, name = "My New Gallery", sortOrder = 1098567432145, totalItems = 3,
           _createdDate = D1, _updatedDate = D2, items = { velo_item(), video, text } }
end

local function rest_gallery()
  local video = { id = "v-id", type = "VIDEO", video = { type = "WIX_MEDIA", videoInfo = VID_REST, durationInMillis = 5000 },
                  createdDate = D1, updatedDate = D2 }
  local text = { id = "t-id", type = "TEXT", text = { html = "<p>Hi!</p>", css = { id = "css keeps its keys", ratio = -50 } } }
  return { id = GID, name = "My New Gallery", sortOrder = 1098567432145, totalItems = 3,
           createdDate = D1, updatedDate = D2, items = { rest_item(), video, text } }
end

describe("progallery.rest", function()
  it("has a version", function()
    assert.equal("string", type(rest._VERSION))
  end)

  describe("toRest", function()
    it("converts an item: renamed keys, imageInfo object, everything else kept", function()
      assert.same(rest_item(), call(rest.toRest, velo_item()))
    end)

    it("converts a gallery with image, video and text items at every level", function()
      assert.same(rest_gallery(), call(rest.toRest, velo_gallery()))
    end)

    it("converts list results", function()
      local r = call(rest.toRest, { galleries = { velo_gallery(), velo_gallery() }, totalGalleries = 2 })
      assert.same({ galleries = { rest_gallery(), rest_gallery() }, totalGalleries = 2 }, r)
      assert.same({ items = { rest_item() } }, call(rest.toRest, { items = { velo_item() } }))
    end)

    it("maps http(s) media to {url}", function()
      local r = call(rest.toRest, { image = { imageInfo = "https://x/y.jpg" }, video = { videoInfo = "https://vimeo.com/1" } })
      assert.same({ url = "https://x/y.jpg" }, r.image.imageInfo)
      assert.same({ url = "https://vimeo.com/1" }, r.video.videoInfo)
    end)

    it("turns NaN and the infinities into strings, finite numbers stay numbers", function()
      local r = call(rest.toRest, { sortOrder = 0 / 0, items = { { sortOrder = math.huge }, { sortOrder = -math.huge }, { sortOrder = 2.5 } } })
      assert.equal("NaN", r.sortOrder)
      assert.equal("Infinity", r.items[1].sortOrder)
      assert.equal("-Infinity", r.items[2].sortOrder)
      assert.equal(2.5, r.items[3].sortOrder)
    end)

    it("keeps null and leaves the input alone", function()
      local v = velo_item()
      v.title = null
      local before = cjson.encode(v)
      local r = call(rest.toRest, v)
      assert.equal(null, r.title)
      assert.equal(before, cjson.encode(v))
      assert.equal(null, call(rest.toRest, { image = { imageInfo = null } }).image.imageInfo)
    end)

    it("keeps cjson's array markers and no other metatable", function()
      for _, mt in ipairs { cjson.array_mt or false, cjson.empty_array_mt or false } do
        if mt then
          local r = call(rest.toRest, { items = setmetatable({}, mt), exif = { a = setmetatable({}, mt) } })
          assert.equal(mt, getmetatable(r.items))
          assert.equal(mt, getmetatable(r.exif.a))
        end
      end
      local r = call(rest.toRest, { items = setmetatable({}, {}), exif = setmetatable({}, { __index = {} }) })
      assert.is_nil(getmetatable(r.items))
      assert.is_nil(getmetatable(r.exif))
    end)

    it("passes scalars and delete results through", function()
      assert.equal(5, call(rest.toRest, 5))
      assert.same({ galleryId = GID }, call(rest.toRest, { galleryId = GID }))
      assert.same({ itemIds = { IID } }, call(rest.toRest, { itemIds = { IID } }))
    end)
  end)

  describe("fromRest", function()
    it("converts an item back", function()
      assert.same(velo_item(), call(rest.fromRest, rest_item()))
    end)

    it("converts a gallery back at every level", function()
      assert.same(velo_gallery(), call(rest.fromRest, rest_gallery()))
    end)

    it("round-trips toRest exactly", function()
      assert.same(velo_gallery(), call(rest.fromRest, call(rest.toRest, velo_gallery())))
    end)

    it("survives a trip through JSON", function()
      local json = cjson.encode((call(rest.toRest, velo_gallery())))
      assert.same(velo_gallery(), call(rest.fromRest, cjson.decode(json)))
    end)

    it("turns the float strings back into numbers only in float fields", function()
      local r = call(rest.fromRest, {
        sortOrder = "Infinity", title = "NaN", description = "-Infinity",
        image = { focalPoint = { x = "-Infinity", y = "NaN" }, unsharpMasking = { amount = "NaN", radius = "Infinity", threshold = "NaN" },
                  exif = { sortOrder = "NaN" } },
        link = { x = "NaN" },
        items = { { sortOrder = "-Infinity" } },
      })
      assert.equal(math.huge, r.sortOrder)
      assert.equal("NaN", r.title)
      assert.equal("-Infinity", r.description)
      assert.equal(-math.huge, r.image.focalPoint.x)
      assert.is_true(r.image.focalPoint.y ~= r.image.focalPoint.y)
      assert.is_true(r.image.unsharpMasking.amount ~= r.image.unsharpMasking.amount)
      assert.equal(math.huge, r.image.unsharpMasking.radius)
      assert.equal("NaN", r.image.exif.sortOrder)
      assert.equal("NaN", r.link.x)
      assert.equal(-math.huge, r.items[1].sortOrder)
    end)

    it("accepts the 12.5 create request and yields the Velo strings", function()
      local body = {
        gallery = {
          name = "My New Gallery",
          items = {
            { title = "Item 1", image = { imageInfo = { id = "38939f9568z222d6avc6285c9ac1e9129.jpg", height = 199, width = 200,
                filename = "38939f9568z222d6avc6285c9ac1e9129.jpg" } } },
            { title = "Item 2", video = { type = "WIX_MEDIA", videoInfo = VID_REST, durationInMillis = 5000 } },
            { title = "Item 3", text = { html = "<p>Hi!</p>", css = { backgroundColor = "rgba(205, 14, 205, 0.3)" } } },
          },
        },
      }
      local r = call(rest.fromRest, body)
      assert.equal(IMG, r.gallery.items[1].image.imageInfo)
      assert.equal(VID, r.gallery.items[2].video.videoInfo)
      assert.same({ html = "<p>Hi!</p>", css = { backgroundColor = "rgba(205, 14, 205, 0.3)" } }, r.gallery.items[3].text)
    end)

    it("accepts the 12.5 external video request", function()
      local r = call(rest.fromRest, { item = { title = "Item 1", video = { type = "VIMEO", videoInfo = { url = "https://vimeo.com/322240916" }, durationInMillis = 5000 } } })
      assert.same({ item = { title = "Item 1", video = { type = "VIMEO", videoInfo = "https://vimeo.com/322240916", durationInMillis = 5000 } } }, r)
    end)

    it("renames read-only keys of a body sent back; id wins over a stale _id", function()
      local r = call(rest.fromRest, { item = { id = IID, _id = "stale", title = "t", createdDate = D1 } })
      assert.same({ item = { _id = IID, title = "t", _createdDate = D1 } }, r)
    end)

    it("keeps a string imageInfo (a lenient client) for the store to check", function()
      assert.equal(IMG, call(rest.fromRest, { image = { imageInfo = IMG } }).image.imageInfo)
    end)

    it("keeps null", function()
      assert.same({ item = { title = null, link = null } }, call(rest.fromRest, { item = { title = null, link = null } }))
    end)
  end)

  describe("envelopes", function()
    it("galleryToRest / itemToRest wrap", function()
      assert.same({ gallery = rest_gallery() }, call(rest.galleryToRest, velo_gallery()))
      assert.same({ item = rest_item() }, call(rest.itemToRest, velo_item()))
    end)

    it("galleryFromRest / itemFromRest unwrap-side conversion with REST paths", function()
      assert.same(velo_gallery(), call(rest.galleryFromRest, rest_gallery()))
      assert.same(velo_item(), call(rest.itemFromRest, rest_item()))
      local msg = invalid(rest.itemFromRest, { image = { imageInfo = { id = "a" } } })
      assert.matches("^item%.image%.imageInfo", msg)
    end)

    it("response() wraps single entities and converts the others", function()
      for _, f in ipairs { "createGallery", "getGallery", "updateGallery" } do
        assert.same({ gallery = rest_gallery() }, call(rest.response, f, velo_gallery()))
      end
      for _, f in ipairs { "createGalleryItem", "getGalleryItem", "updateGalleryItem" } do
        assert.same({ item = rest_item() }, call(rest.response, f, velo_item()))
      end
      assert.same({ galleries = { rest_gallery() }, totalGalleries = 1 },
        call(rest.response, "listGalleries", { galleries = { velo_gallery() }, totalGalleries = 1 }))
      assert.same({ items = { rest_item() } }, call(rest.response, "listGalleryItems", { items = { velo_item() } }))
      assert.same({ items = { rest_item() } }, call(rest.response, "createGalleryItems", { items = { velo_item() } }))
      assert.same({ galleryId = GID }, call(rest.response, "deleteGallery", { galleryId = GID }))
      assert.same({ itemId = IID }, call(rest.response, "deleteGalleryItem", { itemId = IID }))
      assert.same({ itemIds = { IID } }, call(rest.response, "bulkDeleteGalleryItems", { itemIds = { IID } }))
    end)

    it("lists the keys that are arrays in REST", function()
      for _, k in ipairs { "items", "galleries", "values", "itemIds", "posters" } do
        assert.is_true(rest.ARRAY_KEYS[k], k)
      end
    end)
  end)

  describe("malformed input", function()
    it("names the path of a bad imageInfo / videoInfo string (toRest)", function()
      local g = velo_gallery()
      g.items[1].image.imageInfo = "not-a-uri"
      assert.matches("^gallery%.items%[1%]%.image%.imageInfo: ", invalid(rest.galleryToRest, g))
      g = velo_gallery()
      g.items[2].video.videoInfo = IMG
      assert.matches("^gallery%.items%[2%]%.video%.videoInfo: ", invalid(rest.galleryToRest, g))
      -- an object is checked too, and the message names the field inside it
      assert.matches("^image%.imageInfo%.width: ", invalid(rest.toRest, { image = { imageInfo = { id = "x" } } }))
      assert.matches("^image%.imageInfo: ", invalid(rest.toRest, { image = { imageInfo = 3 } }))
    end)

    it("names the path of a bad imageInfo / videoInfo object (fromRest)", function()
      assert.matches("^item%.image%.imageInfo%.height: ", invalid(rest.fromRest, { item = { image = { imageInfo = { id = "x", width = 1 } } } }))
      assert.matches("^item%.image%.imageInfo: ", invalid(rest.fromRest, { item = { image = { imageInfo = {} } } }))
      assert.matches("^item%.image%.imageInfo: ", invalid(rest.fromRest, { item = { image = { imageInfo = 7 } } }))
      assert.matches("^item%.video%.videoInfo%.posters: ", invalid(rest.fromRest, { item = { video = { videoInfo = { id = "v", posters = "x" } } } }))
      assert.matches("^items%[2%]%.image%.imageInfo: ", invalid(rest.fromRest, { items = { {}, { image = { imageInfo = true } } } }))
    end)

    it("refuses values JSON cannot hold", function()
      invalid(rest.toRest, { title = print })
      invalid(rest.fromRest, { title = coroutine.create(print) })
      invalid(rest.toRest, { exif = { f = print } })
      invalid(rest.toRest, { [true] = 1 })
      invalid(rest.toRest, io.stdout)
    end)

    it("refuses cycles and absurd nesting without raising", function()
      local cyc = {}
      cyc.a = cyc
      invalid(rest.toRest, cyc)
      invalid(rest.fromRest, cyc)
      local ex = {}
      ex.exif = ex
      invalid(rest.toRest, { image = ex })
      local deep = {}
      local cur = deep
      for _ = 1, 10000 do cur[1] = {}; cur = cur[1] end
      invalid(rest.fromRest, deep)
    end)

    it("survives hostile metatables", function()
      local function boom() error("boom") end
      invalid(rest.toRest, { image = setmetatable({ imageInfo = 1 }, { __index = boom, __pairs = boom }) })
      invalid(rest.fromRest, setmetatable({ image = { imageInfo = 1 } }, { __pairs = boom }))
    end)

    it("wrappers refuse non-tables and bad names", function()
      for _, v in ipairs { "x", 1, true, null, print } do
        invalid(rest.galleryToRest, v)
        invalid(rest.itemToRest, v)
        invalid(rest.galleryFromRest, v)
        invalid(rest.itemFromRest, v)
        invalid(rest.response, "getGallery", v)
        invalid(rest.response, "listGalleries", v)
      end
      invalid(rest.galleryToRest, nil)
      invalid(rest.response, nil, {})
      invalid(rest.response, 5, {})
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

    local function input_items()
      local it = velo_item()
      it._id, it.type, it._createdDate, it._updatedDate, it.sortOrder = nil, nil, nil, nil, nil
      return {
        it,
        { title = "vid", video = { type = "WIX_MEDIA", videoInfo = VID, durationInMillis = 5000 } },
        { title = "ext", video = { type = "VIMEO", videoInfo = "https://vimeo.com/322240916" } },
        { title = "txt", text = { html = "<p>x</p>", css = { backgroundColor = "red" } } },
      }
    end

    it("a stored gallery goes to REST JSON and back unchanged", function()
      local g = assert(store:createGallery { gallery = { name = "G", items = input_items() } })
      local got = assert(store:getGallery(g._id))
      local body = call(rest.response, "getGallery", got)
      assert.equal(got._id, body.gallery.id)
      assert.is_nil(body.gallery._id)
      assert.equal(got.items[1]._id, body.gallery.items[1].id)
      assert.equal(got.items[1]._createdDate, body.gallery.items[1].createdDate)
      assert.same(IMG_REST, body.gallery.items[1].image.imageInfo)
      assert.same(VID_REST, body.gallery.items[2].video.videoInfo)
      assert.same({ url = "https://vimeo.com/322240916" }, body.gallery.items[3].video.videoInfo)
      local back = call(rest.fromRest, cjson.decode(cjson.encode(body)))
      assert.same(cjson.decode(cjson.encode(got)), back.gallery)
    end)

    it("a REST create body (fromRest) is accepted by createGallery, read-only keys and all", function()
      local g = assert(store:createGallery { gallery = { name = "G", items = input_items() } })
      local body = cjson.decode(cjson.encode((call(rest.response, "getGallery", assert(store:getGallery(g._id))))))
      local velo = call(rest.fromRest, body)
      local copy, err, code = store:createGallery { gallery = velo.gallery }
      assert(copy, tostring(err) .. " " .. tostring(code))
      assert.equal(4, copy.totalItems)
      assert.equal(IMG, copy.items[1].image.imageInfo)
      assert.equal(VID, copy.items[2].video.videoInfo)
      assert.not_equal(g._id, copy._id)
    end)

    it("a REST PATCH item body updates through the store", function()
      local g = assert(store:createGallery { gallery = { name = "G", items = input_items() } })
      local id = g.items[1]._id
      local velo = call(rest.fromRest, { item = { id = id, title = "renamed",
        image = { imageInfo = { id = "abc.jpg", width = 10, height = 20, filename = "new one.jpg" } } } })
      local r, err, code = store:updateGalleryItem({ galleryId = g._id, itemId = id }, velo.item)
      assert(r, tostring(err) .. " " .. tostring(code))
      assert.equal("renamed", r.title)
      assert.equal("wix:image://v1/abc.jpg/new%20one.jpg#originWidth=10&originHeight=20", r.image.imageInfo)
    end)
  end)
end)
