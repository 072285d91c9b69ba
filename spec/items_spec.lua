-- Spec sections 3, 4, 6: items.
local S = require "spec.support"
local null = S.null

local function titles(items)
  local t = {}
  for i, x in ipairs(items) do t[i] = x.title end
  return t
end

describe("items", function()
  local store, g
  before_each(function()
    store = S.admin()
    g = S.ok(store:createGallery { gallery = { name = "G" } })
  end)
  after_each(function() store:close() end)

  local function ids_of(itemId, galleryId)
    return { galleryId = galleryId or g._id, itemId = itemId }
  end

  describe("createGalleryItem", function()
    it("creates an image item with every field round-tripping", function()
      local input = S.image_item()
      input.link.target = "_self"
      input.sortOrder = 12.25
      local x = S.ok(store:createGalleryItem(g._id, input))
      assert.is_true(S.is_uuid(x._id))
      assert.equal("IMAGE", x.type)
      assert.equal(12.25, x.sortOrder)
      assert.equal(input.title, x.title)
      assert.equal(input.description, x.description)
      assert.same(input.link, x.link)
      assert.same(input.tags, x.tags)
      assert.same(input.image, x.image)
      assert.is_nil(x.video)
      assert.is_nil(x.text)
      assert.is_true(S.is_date(x._createdDate))
      assert.is_true(S.is_date(x._updatedDate))
      local allowed = { _id = 1, type = 1, sortOrder = 1, title = 1, description = 1, link = 1, tags = 1,
        image = 1, video = 1, text = 1, _createdDate = 1, _updatedDate = 1, revision = 1 }
      for k in pairs(x) do assert.is_truthy(allowed[k], "unexpected item key " .. tostring(k)) end
      assert.equal("1", x.revision)
      assert.same(x, S.ok(store:getGalleryItem(ids_of(x._id))))
    end)

    it("creates the Velo createGalleryItem example (legacy image.type ignored)", function()
      local x = S.ok(store:createGalleryItem(g._id, {
        description = "New image item",
        title = "My first gallery item",
        tags = { values = { "ball", "sea", "beach" } },
        image = {
          type = "WIX_MEDIA",
          imageInfo = "wix:image://v1/9e6ea4_650d8cd45f7545c4b39178feb0ee8c70~mv2.jpg/300.jpg#originWidth=200&originHeight=300",
        },
        link = { text = "Click here for more info.", url = "https://www.wix.com/about/us" },
      }))
      assert.equal("IMAGE", x.type)
      assert.same({ imageInfo = "wix:image://v1/9e6ea4_650d8cd45f7545c4b39178feb0ee8c70~mv2.jpg/300.jpg#originWidth=200&originHeight=300" }, x.image)
      assert.same({ values = { "ball", "sea", "beach" } }, x.tags)
    end)

    it("creates video and text items with computed type", function()
      local v = S.ok(store:createGalleryItem(g._id, S.video_item()))
      assert.equal("VIDEO", v.type)
      assert.same(S.video_item().video, v.video)
      assert.is_nil(v.image)
      local t = S.ok(store:createGalleryItem(g._id, S.text_item()))
      assert.equal("TEXT", t.type)
      assert.same(S.text_item().text, t.text)
      local full = S.ok(store:createGalleryItem(g._id, {
        text = { html = "<p>x</p>", css = { a = { b = { "x", 1, true } } }, editorHtml = "<p>e</p>", editorFontId = "font-1" },
      }))
      assert.same({ html = "<p>x</p>", css = { a = { b = { "x", 1, true } } }, editorHtml = "<p>e</p>", editorFontId = "font-1" }, full.text)
      local yt = S.ok(store:createGalleryItem(g._id, { video = { type = "YOUTUBE", videoInfo = "https://www.youtube.com/watch?v=abc" } }))
      assert.same({ type = "YOUTUBE", videoInfo = "https://www.youtube.com/watch?v=abc" }, yt.video)
    end)

    it("keeps the Velo css example, including an empty googleFonts array, and encodes it as JSON", function()
      local cjson = require "cjson"
      local css = {
        backgroundColor = "rgba(232, 230, 230, 0.7)", googleFonts = {}, height = 420,
        textVerticalAlignment = "middle", canvasLayout = "square", ratio = -50, padding = 30, width = 420,
      }
      local x = S.ok(store:createGalleryItem(g._id, { title = "Item 1", text = { html = S.HTML, css = css } }))
      assert.same(css, x.text.css)
      local back = cjson.decode(cjson.encode(x))
      assert.equal(420, back.text.css.width)
      assert.equal("TEXT", back.type)
    end)

    it("an item with no media is UNDEFINED and unset fields are absent", function()
      local x = S.ok(store:createGalleryItem(g._id, {}))
      assert.equal("UNDEFINED", x.type)
      for _, k in ipairs { "title", "description", "link", "tags", "image", "video", "text" } do
        assert.is_nil(x[k], k)
      end
      assert.equal("number", type(x.sortOrder))
      local y = S.ok(store:createGalleryItem(g._id, { title = "only title" }))
      assert.equal("UNDEFINED", y.type)
      assert.is_nil(y.description)
    end)

    it("optional sub-fields that were not given stay absent", function()
      local x = S.ok(store:createGalleryItem(g._id, { image = { imageInfo = S.IMG }, link = { url = "https://a.b/" } }))
      assert.same({ imageInfo = S.IMG }, x.image)
      assert.same({ url = "https://a.b/" }, x.link)
      local v = S.ok(store:createGalleryItem(g._id, { video = { videoInfo = S.VID } }))
      assert.equal("VIDEO", v.type)
      assert.is_nil(v.video.durationInMillis)
      assert.equal(S.VID, v.video.videoInfo)
    end)

    it("null on create means absent", function()
      local x = S.ok(store:createGalleryItem(g._id, { title = null, description = null, link = null, tags = null,
        video = null, text = null, image = { imageInfo = S.IMG } }))
      assert.equal("IMAGE", x.type)
      assert.is_nil(x.title)
      assert.is_nil(x.link)
      assert.is_nil(x.video)
    end)

    it("link = {} is stored as absent; tags = {} as empty values", function()
      local x = S.ok(store:createGalleryItem(g._id, { link = {}, tags = {} }))
      assert.is_nil(x.link)
      assert.same({ values = {} }, x.tags)
      assert.same({ values = {} }, S.ok(store:getGalleryItem(ids_of(x._id))).tags)
    end)

    it("ignores read-only keys", function()
      local x = S.ok(store:createGalleryItem(g._id, {
        _id = S.MISSING_ID, type = "TEXT", _createdDate = "2000-01-01T00:00:00.000Z",
        _updatedDate = "2000-01-01T00:00:00.000Z", image = { imageInfo = S.IMG },
      }))
      assert.are_not.equal(S.MISSING_ID, x._id)
      assert.is_true(S.is_uuid(x._id))
      assert.equal("IMAGE", x.type)
      assert.are_not.equal("2000-01-01T00:00:00.000Z", x._createdDate)
      assert.are_not.equal("2000-01-01T00:00:00.000Z", x._updatedDate)
      S.expect_err("NOT_FOUND", nil, store.getGalleryItem, store, ids_of(S.MISSING_ID))
    end)

    it("legacy video.duration is used when durationInMillis is absent and never echoed", function()
      local a = S.ok(store:createGalleryItem(g._id, { video = { videoInfo = S.VID, duration = 5000 } }))
      assert.same({ videoInfo = S.VID, durationInMillis = 5000 }, a.video)
      local b = S.ok(store:createGalleryItem(g._id, { video = { videoInfo = S.VID, duration = "7000" } }))
      assert.equal(7000, b.video.durationInMillis)
      assert.is_nil(b.video.duration)
      local c = S.ok(store:createGalleryItem(g._id, { video = { videoInfo = S.VID, duration = 1, durationInMillis = 2 } }))
      assert.equal(2, c.video.durationInMillis)
      assert.is_nil(c.video.duration)
    end)

    it("numbers: integral values come back integral, floats exact, up to 2^53", function()
      local big = 2 ^ 53
      local x = S.ok(store:createGalleryItem(g._id, {
        sortOrder = big, video = { videoInfo = S.VID, durationInMillis = big },
      }))
      assert.equal(9007199254740992, x.sortOrder)
      assert.equal(9007199254740992, x.video.durationInMillis)
      assert.equal(("%.0f"):format(big), ("%.0f"):format(x.video.durationInMillis))
      local y = S.ok(store:createGalleryItem(g._id, { sortOrder = 2 ^ 53 - 1 }))
      assert.equal(9007199254740991, y.sortOrder)
      local z = S.ok(store:createGalleryItem(g._id, { sortOrder = 0.1 + 0.2 }))
      assert.equal(0.1 + 0.2, z.sortOrder)
      local w = S.ok(store:createGalleryItem(g._id, { sortOrder = 3.0 }))
      assert.equal(3, w.sortOrder)
      local neg = S.ok(store:createGalleryItem(g._id, { sortOrder = -1e300 }))
      assert.equal(-1e300, neg.sortOrder)
      if math.type then
        assert.equal("integer", math.type(x.sortOrder))
        assert.equal("integer", math.type(x.video.durationInMillis))
        assert.equal("integer", math.type(w.sortOrder))
        assert.equal("float", math.type(z.sortOrder))
        local fetched = S.ok(store:getGalleryItem(ids_of(w._id)))
        assert.equal("integer", math.type(fetched.sortOrder))
        local q = S.ok(store:createGalleryItem(g._id, { image = { imageInfo = S.IMG, quality = 90.0 } }))
        assert.equal("integer", math.type(q.image.quality))
        local beyond = S.ok(store:createGalleryItem(g._id, { sortOrder = 2 ^ 53 + 2 }))
        assert.equal("float", math.type(beyond.sortOrder))
        assert.equal(2 ^ 53 + 2, beyond.sortOrder)
      end
    end)

    it("keeps UTF-8 text exactly", function()
      local s = "héllo — ✓ 😀 日本語"
      local x = S.ok(store:createGalleryItem(g._id, { title = s, description = s, tags = { values = { s } } }))
      assert.equal(s, x.title)
      assert.equal(s, S.ok(store:getGalleryItem(ids_of(x._id))).description)
      assert.same({ values = { s } }, x.tags)
    end)

    it("NOT_FOUND for an unknown gallery, and nothing is created", function()
      S.expect_err("NOT_FOUND", nil, store.createGalleryItem, store, S.MISSING_ID, S.simple_item("x"))
      assert.equal(0, S.ok(store:getGallery(g._id)).totalItems)
    end)

    it("ignores a trailing extra argument", function()
      local x = S.ok(store:createGalleryItem(g._id, S.simple_item("x"), {}))
      assert.equal("x", x.title)
    end)
  end)

  describe("createGalleryItems", function()
    it("creates items in input order and returns { items }", function()
      local r = S.ok(store:createGalleryItems(g._id, { S.image_item(), S.video_item(), S.text_item() }))
      local keys = {}
      for k in pairs(r) do keys[#keys + 1] = k end
      assert.same({ "items" }, keys)
      assert.equal(3, #r.items)
      assert.same({ "Item 1", "Item 2", "Item 3" }, titles(r.items))
      assert.same({ "IMAGE", "VIDEO", "TEXT" }, { r.items[1].type, r.items[2].type, r.items[3].type })
      assert.is_true(r.items[1].sortOrder < r.items[2].sortOrder)
      assert.is_true(r.items[2].sortOrder < r.items[3].sortOrder)
      local listed = S.ok(store:listGalleryItems(g._id)).items
      assert.same(r.items, listed)
      assert.equal(3, S.ok(store:getGallery(g._id)).totalItems)
    end)

    it("accepts exactly 1 and 1000 items", function()
      assert.equal(1, #S.ok(store:createGalleryItems(g._id, { S.simple_item("one") })).items)
      local list = {}
      for i = 1, 1000 do list[i] = { title = "b" .. i } end
      local r = S.ok(store:createGalleryItems(g._id, list))
      assert.equal(1000, #r.items)
      assert.equal("b1000", r.items[1000].title)
      assert.equal(1001, S.ok(store:getGallery(g._id)).totalItems)
    end)

    it("0 items is INVALID_ARGUMENT, 1001 is RESOURCE_EXHAUSTED; nothing is created", function()
      S.expect_err("INVALID_ARGUMENT", "items", store.createGalleryItems, store, g._id, {})
      local list = {}
      for i = 1, 1001 do list[i] = { title = "b" .. i } end
      S.expect_err("RESOURCE_EXHAUSTED", "items", store.createGalleryItems, store, g._id, list)
      assert.equal(0, S.ok(store:getGallery(g._id)).totalItems)
    end)
  end)

  describe("ordering", function()
    it("orders by sortOrder ascending, ties by creation order", function()
      S.ok(store:createGalleryItem(g._id, S.simple_item("five-a", 5)))
      S.ok(store:createGalleryItem(g._id, S.simple_item("one", 1)))
      S.ok(store:createGalleryItem(g._id, S.simple_item("five-b", 5)))
      S.ok(store:createGalleryItem(g._id, S.simple_item("neg", -3.5)))
      S.ok(store:createGalleryItems(g._id, { S.simple_item("five-c", 5), S.simple_item("three", 3) }))
      S.ok(store:createGalleryItem(g._id, S.simple_item("five-d", 5)))
      local want = { "neg", "one", "three", "five-a", "five-b", "five-c", "five-d" }
      assert.same(want, titles(S.ok(store:listGalleryItems(g._id)).items))
      assert.same(want, titles(S.ok(store:getGallery(g._id)).items))
      assert.same(want, titles(S.ok(store:listGalleries()).galleries[1].items))
    end)

    it("an updated sortOrder moves the item", function()
      local r = S.ok(store:createGalleryItems(g._id, { S.simple_item("a", 1), S.simple_item("b", 2), S.simple_item("c", 3) }))
      S.ok(store:updateGalleryItem(ids_of(r.items[3]._id), { sortOrder = 1.5 }))
      assert.same({ "a", "c", "b" }, titles(S.ok(store:listGalleryItems(g._id)).items))
    end)

    it("default sortOrder is now in ms, and never below the gallery's largest + 1", function()
      local a = S.ok(store:createGalleryItem(g._id, { title = "a" }))
      assert.is_true(math.abs(a.sortOrder - S.now_ms()) < 120000, tostring(a.sortOrder))
      S.ok(store:createGalleryItem(g._id, S.simple_item("high", 5e15)))
      local b = S.ok(store:createGalleryItem(g._id, { title = "b" }))
      assert.equal(5e15 + 1, b.sortOrder)
      local r = S.ok(store:createGalleryItems(g._id, { { title = "c" }, { title = "d", sortOrder = 7 }, { title = "e" } }))
      assert.equal(5e15 + 2, r.items[1].sortOrder)
      assert.equal(7, r.items[2].sortOrder)
      assert.equal(5e15 + 3, r.items[3].sortOrder)
      local list = titles(S.ok(store:listGalleryItems(g._id)).items)
      assert.same({ "d", "a", "high", "b", "c", "e" }, list)
    end)

    it("the default follows updated and deleted items", function()
      local a = S.ok(store:createGalleryItem(g._id, { title = "a" }))
      S.ok(store:updateGalleryItem(ids_of(a._id), { sortOrder = 7e15 }))
      assert.equal(7e15 + 1, S.ok(store:createGalleryItem(g._id, { title = "b" })).sortOrder)
      local big = S.ok(store:createGalleryItem(g._id, S.simple_item("big", 9e15)))
      S.ok(store:deleteGalleryItem(ids_of(big._id)))
      assert.equal(7e15 + 2, S.ok(store:createGalleryItem(g._id, { title = "c" })).sortOrder)
    end)

    it("createGalleryItems returns the items in input order whatever their sortOrders", function()
      local r = S.ok(store:createGalleryItems(g._id, { S.simple_item("c", 3), S.simple_item("a", 1), S.simple_item("b", 2) }))
      assert.same({ "c", "a", "b" }, titles(r.items))
      assert.same({ "a", "b", "c" }, titles(S.ok(store:listGalleryItems(g._id)).items))
    end)

    it("the default only looks at the same gallery", function()
      local other = S.ok(store:createGallery())
      S.ok(store:createGalleryItem(other._id, S.simple_item("far", 6e15)))
      local a = S.ok(store:createGalleryItem(g._id, { title = "a" }))
      assert.is_true(a.sortOrder < 6e15)
      assert.is_true(math.abs(a.sortOrder - S.now_ms()) < 120000)
    end)

    it("items created without sortOrder in one call keep their input order", function()
      local list = {}
      for i = 1, 30 do list[i] = { title = ("n%02d"):format(i) } end
      S.ok(store:createGalleryItems(g._id, list))
      local got = titles(S.ok(store:listGalleryItems(g._id)).items)
      for i = 1, 30 do assert.equal(("n%02d"):format(i), got[i]) end
    end)
  end)

  describe("getGalleryItem", function()
    it("gets an item and rejects unknown identifier keys", function()
      local x = S.ok(store:createGalleryItem(g._id, S.image_item()))
      local got = S.ok(store:getGalleryItem(ids_of(x._id)))
      assert.same(x, got)
      local upper = S.ok(store:getGalleryItem { galleryId = g._id:upper(), itemId = x._id:upper() })
      assert.equal(x._id, upper._id)
      local msg = S.expect_err("INVALID_ARGUMENT", nil, store.getGalleryItem, store, { galleryId = g._id, itemId = x._id, extra = 1 })
      assert.is_truthy(msg:find("extra", 1, true), msg)
      S.expect_err("INVALID_ARGUMENT", "itemId", store.getGalleryItem, store, { galleryId = g._id })
      S.expect_err("INVALID_ARGUMENT", "galleryId", store.getGalleryItem, store, { itemId = x._id })
      S.expect_err("INVALID_ARGUMENT", "itemId", store.getGalleryItem, store, { galleryId = g._id, itemId = "x" })
      S.expect_err("INVALID_ARGUMENT", "identifiers", store.getGalleryItem, store, x._id)
      S.expect_err("NOT_FOUND", nil, store.getGalleryItem, store, ids_of(S.MISSING_ID))
      S.expect_err("NOT_FOUND", nil, store.getGalleryItem, store, ids_of(x._id, S.MISSING_ID))
      assert.same(x, S.ok(store:getGalleryItem(ids_of(x._id), {})))
    end)
  end)

  describe("updateGalleryItem", function()
    local x
    before_each(function()
      local input = S.image_item()
      input.link.target = "_blank"
      input.sortOrder = 10
      x = S.ok(store:createGalleryItem(g._id, input))
    end)

    it("partial update: absent keys are left as they are", function()
      local u = S.ok(store:updateGalleryItem(ids_of(x._id), { title = "new title" }))
      assert.equal("new title", u.title)
      for _, k in ipairs { "description", "sortOrder", "type", "_id", "_createdDate" } do
        assert.equal(x[k], u[k], k)
      end
      for _, k in ipairs { "link", "tags", "image" } do assert.same(x[k], u[k], k) end
      assert.is_true(u._updatedDate > x._updatedDate)
      assert.same(u, S.ok(store:getGalleryItem(ids_of(x._id))))
    end)

    it("an empty update keeps every field", function()
      local u = S.ok(store:updateGalleryItem(ids_of(x._id), {}))
      for _, k in ipairs { "title", "description", "sortOrder", "type", "_id", "_createdDate" } do
        assert.equal(x[k], u[k], k)
      end
      assert.same(x.image, u.image)
    end)

    it("null clears title, description, link, tags and media", function()
      local u = S.ok(store:updateGalleryItem(ids_of(x._id), { title = null, description = null, link = null, tags = null }))
      for _, k in ipairs { "title", "description", "link", "tags" } do assert.is_nil(u[k], k) end
      assert.equal("IMAGE", u.type)
      assert.same(x.image, u.image)
      local v = S.ok(store:updateGalleryItem(ids_of(x._id), { image = null }))
      assert.is_nil(v.image)
      assert.equal("UNDEFINED", v.type)
      local fetched = S.ok(store:getGalleryItem(ids_of(x._id)))
      assert.equal("UNDEFINED", fetched.type)
      for _, k in ipairs { "title", "description", "link", "tags", "image", "video", "text" } do
        assert.is_nil(fetched[k], k)
      end
      assert.equal(10, fetched.sortOrder)
    end)

    it("null clears a video or text member too", function()
      local v = S.ok(store:createGalleryItem(g._id, S.video_item()))
      assert.equal("UNDEFINED", S.ok(store:updateGalleryItem(ids_of(v._id), { video = null })).type)
      local t = S.ok(store:createGalleryItem(g._id, S.text_item()))
      local u = S.ok(store:updateGalleryItem(ids_of(t._id), { text = null }))
      assert.equal("UNDEFINED", u.type)
      assert.is_nil(u.text)
    end)

    it("sortOrder cannot be cleared", function()
      S.expect_err("INVALID_ARGUMENT", "item.sortOrder", store.updateGalleryItem, store, ids_of(x._id), { sortOrder = null })
      assert.equal(10, S.ok(store:getGalleryItem(ids_of(x._id))).sortOrder)
    end)

    it("a given nested object replaces the stored one whole", function()
      local u = S.ok(store:updateGalleryItem(ids_of(x._id), {
        link = { url = "https://example.com/" },
        tags = { values = { "only" } },
        image = { imageInfo = S.IMG2 },
      }))
      assert.same({ url = "https://example.com/" }, u.link)
      assert.same({ values = { "only" } }, u.tags)
      assert.same({ imageInfo = S.IMG2 }, u.image)
      assert.same(u, S.ok(store:getGalleryItem(ids_of(x._id))))
    end)

    it("a given video or text replaces the stored one whole (css and duration do not survive)", function()
      local v = S.ok(store:createGalleryItem(g._id, S.video_item()))
      local u = S.ok(store:updateGalleryItem(ids_of(v._id), { video = { videoInfo = S.VID } }))
      assert.same({ videoInfo = S.VID }, u.video)
      local t = S.ok(store:createGalleryItem(g._id, S.text_item()))
      u = S.ok(store:updateGalleryItem(ids_of(t._id), { text = { html = "x" } }))
      assert.same({ html = "x" }, u.text)
      assert.same(u, S.ok(store:getGalleryItem(ids_of(t._id))))
    end)

    it("switching media switches type and drops the old member", function()
      local v = S.ok(store:updateGalleryItem(ids_of(x._id), { video = { videoInfo = S.VID } }))
      assert.equal("VIDEO", v.type)
      assert.is_nil(v.image)
      assert.same({ videoInfo = S.VID }, v.video)
      local t = S.ok(store:updateGalleryItem(ids_of(x._id), { text = { html = "<b>t</b>" } }))
      assert.equal("TEXT", t.type)
      assert.is_nil(t.video)
      assert.same({ html = "<b>t</b>" }, t.text)
      local i = S.ok(store:updateGalleryItem(ids_of(x._id), { image = { imageInfo = S.IMG } }))
      assert.equal("IMAGE", i.type)
      assert.is_nil(i.text)
      assert.is_nil(i.video)
      local fetched = S.ok(store:getGalleryItem(ids_of(x._id)))
      assert.equal("IMAGE", fetched.type)
      assert.is_nil(fetched.text)
      -- non-media fields survived the switches
      assert.equal(x.title, fetched.title)
      assert.same(x.tags, fetched.tags)
    end)

    it("link = {} in an update clears the link; type in an update is ignored", function()
      local u = S.ok(store:updateGalleryItem(ids_of(x._id), { link = {}, type = "VIDEO" }))
      assert.is_nil(u.link)
      assert.equal("IMAGE", u.type)
      assert.same(x.image, u.image)
    end)

    it("media can be added to an UNDEFINED item", function()
      local e = S.ok(store:createGalleryItem(g._id, { title = "e" }))
      local u = S.ok(store:updateGalleryItem(ids_of(e._id), { text = { html = "h" } }))
      assert.equal("TEXT", u.type)
    end)

    it("two media members in one update is INVALID_ARGUMENT and changes nothing", function()
      local msg = S.expect_err("INVALID_ARGUMENT", nil, store.updateGalleryItem, store, ids_of(x._id),
        { image = { imageInfo = S.IMG }, video = { videoInfo = S.VID } })
      assert.matches("^item[%.:%s]", msg)
      assert.same(x, S.ok(store:getGalleryItem(ids_of(x._id))))
    end)

    it("a fetched item can be sent back unchanged", function()
      local fetched = S.ok(store:getGalleryItem(ids_of(x._id)))
      local u = S.ok(store:updateGalleryItem(ids_of(x._id), fetched))
      for _, k in ipairs { "title", "description", "sortOrder", "type", "_id", "_createdDate" } do
        assert.equal(x[k], u[k], k)
      end
      for _, k in ipairs { "link", "tags", "image" } do assert.same(x[k], u[k], k) end
      -- read-only keys are ignored even when they disagree
      fetched.type = "VIDEO"
      fetched._id = S.MISSING_ID
      fetched._createdDate = "2000-01-01T00:00:00.000Z"
      fetched._updatedDate = "2000-01-01T00:00:00.000Z"
      fetched.revision = u.revision -- the one key of a fetched item that is checked (revisions_spec)
      local u2 = S.ok(store:updateGalleryItem(ids_of(x._id), fetched))
      assert.equal("IMAGE", u2.type)
      assert.equal(x._id, u2._id)
      assert.equal(x._createdDate, u2._createdDate)
      assert.is_true(u2._updatedDate > u._updatedDate, u2._updatedDate)
    end)

    it("_updatedDate strictly increases; _createdDate never changes", function()
      local prev = x._updatedDate
      for i = 1, 5 do
        local u = S.ok(store:updateGalleryItem(ids_of(x._id), { title = "t" .. i }))
        assert.is_true(u._updatedDate > prev, u._updatedDate .. " <= " .. prev)
        assert.equal(x._createdDate, u._createdDate)
        prev = u._updatedDate
      end
    end)

    it("does not touch other items", function()
      local other = S.ok(store:createGalleryItem(g._id, S.video_item()))
      S.ok(store:updateGalleryItem(ids_of(x._id), { title = "changed", image = null }))
      assert.same(other, S.ok(store:getGalleryItem(ids_of(other._id))))
    end)
  end)

  describe("deleteGalleryItem", function()
    it("deletes one item and returns { itemId }", function()
      local r = S.ok(store:createGalleryItems(g._id, { S.simple_item("a"), S.simple_item("b") }))
      local d = S.ok(store:deleteGalleryItem(ids_of(r.items[1]._id)))
      assert.same({ itemId = r.items[1]._id }, d)
      S.expect_err("NOT_FOUND", nil, store.getGalleryItem, store, ids_of(r.items[1]._id))
      local left = S.ok(store:listGalleryItems(g._id)).items
      assert.same({ "b" }, titles(left))
      assert.equal(1, S.ok(store:getGallery(g._id)).totalItems)
      S.expect_err("NOT_FOUND", nil, store.deleteGalleryItem, store, ids_of(r.items[1]._id))
      S.expect_err("NOT_FOUND", nil, store.updateGalleryItem, store, ids_of(r.items[1]._id), { title = "z" })
    end)

    it("returns the id in lower case when given upper case", function()
      local x = S.ok(store:createGalleryItem(g._id, S.simple_item("a")))
      assert.same({ itemId = x._id }, S.ok(store:deleteGalleryItem { galleryId = g._id, itemId = x._id:upper() }))
    end)
  end)

  describe("wrong gallery", function()
    it("getting, updating or deleting an item through another gallery is NOT_FOUND", function()
      local other = S.ok(store:createGallery { gallery = { name = "other" } })
      local x = S.ok(store:createGalleryItem(g._id, S.image_item()))
      local via = ids_of(x._id, other._id)
      S.expect_err("NOT_FOUND", nil, store.getGalleryItem, store, via)
      S.expect_err("NOT_FOUND", nil, store.updateGalleryItem, store, via, { title = "hijack" })
      S.expect_err("NOT_FOUND", nil, store.deleteGalleryItem, store, via)
      local b = S.ok(store:bulkDeleteGalleryItems(other._id, { x._id }))
      assert.same({}, b.itemIds)
      assert.same(x, S.ok(store:getGalleryItem(ids_of(x._id))))
      assert.equal(0, S.ok(store:getGallery(other._id)).totalItems)
      assert.equal(1, S.ok(store:getGallery(g._id)).totalItems)
    end)
  end)

  describe("bulkDeleteGalleryItems", function()
    local items
    before_each(function()
      local r = S.ok(store:createGalleryItems(g._id, {
        S.simple_item("a"), S.simple_item("b"), S.simple_item("c"), S.simple_item("d"),
      }))
      items = r.items
    end)

    it("deletes the listed items and returns their ids in input order", function()
      local r = S.ok(store:bulkDeleteGalleryItems(g._id, { items[3]._id, items[1]._id }))
      assert.same({ itemIds = { items[3]._id, items[1]._id } }, r)
      assert.same({ "b", "d" }, titles(S.ok(store:listGalleryItems(g._id)).items))
      assert.equal(2, S.ok(store:getGallery(g._id)).totalItems)
    end)

    it("skips unknown ids and reports duplicates once", function()
      local r = S.ok(store:bulkDeleteGalleryItems(g._id, {
        S.MISSING_ID, items[2]._id, items[2]._id, items[4]._id:upper(), S.MISSING_ID2,
      }))
      assert.same({ items[2]._id, items[4]._id }, r.itemIds)
      assert.same({ "a", "c" }, titles(S.ok(store:listGalleryItems(g._id)).items))
    end)

    it("only unknown ids: empty result, nothing deleted", function()
      local r = S.ok(store:bulkDeleteGalleryItems(g._id, { S.MISSING_ID }))
      assert.same({}, r.itemIds)
      assert.equal("table", type(r.itemIds))
      assert.equal(4, S.ok(store:getGallery(g._id)).totalItems)
    end)

    it("a malformed id fails the whole call", function()
      S.expect_err("INVALID_ARGUMENT", "itemIds[2]", store.bulkDeleteGalleryItems, store, g._id,
        { items[1]._id, "not-a-uuid", items[2]._id })
      S.expect_err("INVALID_ARGUMENT", "itemIds[1]", store.bulkDeleteGalleryItems, store, g._id, { 42 })
      assert.equal(4, S.ok(store:getGallery(g._id)).totalItems)
    end)

    it("batch bounds: 0 is INVALID_ARGUMENT, 1000 is fine, 1001 is RESOURCE_EXHAUSTED", function()
      S.expect_err("INVALID_ARGUMENT", "itemIds", store.bulkDeleteGalleryItems, store, g._id, {})
      local ids = { items[1]._id }
      for i = 2, 1000 do ids[i] = S.random_uuid() end
      local r = S.ok(store:bulkDeleteGalleryItems(g._id, ids))
      assert.same({ items[1]._id }, r.itemIds)
      ids = { items[2]._id }
      for i = 2, 1001 do ids[i] = S.random_uuid() end
      S.expect_err("RESOURCE_EXHAUSTED", "itemIds", store.bulkDeleteGalleryItems, store, g._id, ids)
      assert.equal(3, S.ok(store:getGallery(g._id)).totalItems)
    end)

    it("NOT_FOUND when the gallery does not exist", function()
      S.expect_err("NOT_FOUND", nil, store.bulkDeleteGalleryItems, store, S.MISSING_ID, { items[1]._id })
      assert.equal(4, S.ok(store:getGallery(g._id)).totalItems)
    end)
  end)

  describe("listGalleryItems", function()
    it("returns { items } with default limit 50 and paging", function()
      local gg = S.gallery_with(store, 120)
      local r = S.ok(store:listGalleryItems(gg._id))
      local keys = {}
      for k in pairs(r) do keys[#keys + 1] = k end
      assert.same({ "items" }, keys)
      assert.equal(50, #r.items)
      assert.equal("t1", r.items[1].title)
      r = S.ok(store:listGalleryItems(gg._id, { itemOffset = 100, itemLimit = 100 }))
      assert.equal(20, #r.items)
      assert.equal("t101", r.items[1].title)
      r = S.ok(store:listGalleryItems(gg._id, { itemOffset = 120 }))
      assert.same({}, r.items)
      r = S.ok(store:listGalleryItems(g._id))
      assert.equal("table", type(r.items))
      assert.equal(0, #r.items)
      for _, bad in ipairs { 0, 101, 2.5, "1" } do
        S.expect_err("INVALID_ARGUMENT", "itemLimit", store.listGalleryItems, store, gg._id, { itemLimit = bad })
      end
      S.expect_err("INVALID_ARGUMENT", "itemOffset", store.listGalleryItems, store, gg._id, { itemOffset = -1 })
      for _, v in ipairs { 0.5, "0", 0 / 0, math.huge, true } do -- never clamped or converted
        S.expect_err("INVALID_ARGUMENT", "itemOffset", store.listGalleryItems, store, gg._id, { itemOffset = v })
        S.expect_err("INVALID_ARGUMENT", "itemLimit", store.listGalleryItems, store, gg._id, { itemLimit = v })
      end
      S.expect_err("INVALID_ARGUMENT", "itemLimit", store.listGalleryItems, store, gg._id, { itemLimit = 101 })
      local msg = S.expect_err("INVALID_ARGUMENT", nil, store.listGalleryItems, store, gg._id, { offset = 1 })
      assert.is_truthy(msg:find("offset", 1, true), msg)
      S.expect_err("NOT_FOUND", nil, store.listGalleryItems, store, S.MISSING_ID)
    end)
  end)

  describe("array marking with an OpenResty-style cjson", function()
    -- run in a subprocess whose cjson carries array_mt / empty_array_mt (as
    -- OpenResty's does): every empty result array must carry that metatable
    for _, field in ipairs { "array_mt", "empty_array_mt" } do
      it("marks empty result arrays with cjson." .. field, function()
        local lpath, cpath = S.abs_paths()
        local prog = ([[
          package.path = %q; package.cpath = %q
          local real = require "cjson"
          local MARK = {}
          package.loaded.cjson = setmetatable({ %s = MARK }, { __index = real })
          local p = require "progallery"
          local s = assert(p.open { path = ":memory:", caller = "admin" })
          local g = assert(s:createGallery())
          local out = {}
          local function mark(name, t) out[#out + 1] = name .. "=" .. tostring(getmetatable(t) == MARK) end
          mark("create.items", g.items)
          mark("get.items", assert(s:getGallery(g._id)).items)
          mark("list.items", assert(s:listGalleryItems(g._id)).items)
          mark("galleries", assert(s:listGalleries { offset = 5 }).galleries)
          mark("itemIds", assert(s:bulkDeleteGalleryItems(g._id, { "00000000-0000-4000-8000-000000000000" })).itemIds)
          mark("tags.values", assert(s:createGalleryItem(g._id, { tags = { values = {} } })).tags.values)
          io.write(table.concat(out, " "))
        ]]):format(lpath, cpath, field)
        local out = S.sh(S.lua_bin .. " -e " .. S.shell_quote(prog))
        for _, name in ipairs { "create.items", "get.items", "list.items", "galleries", "itemIds", "tags.values" } do
          assert.matches(S.esc(name) .. "=true", out, nil, false, out)
        end
      end)
    end
  end)

  describe("cascade", function()
    it("deleting a gallery deletes its items from every read, other galleries untouched", function()
      local other = S.ok(store:createGallery())
      local keep = S.ok(store:createGalleryItem(other._id, S.simple_item("keep")))
      local r = S.ok(store:createGalleryItems(g._id, { S.simple_item("a"), S.simple_item("b") }))
      S.ok(store:deleteGallery(g._id))
      for _, x in ipairs(r.items) do
        S.expect_err("NOT_FOUND", nil, store.getGalleryItem, store, ids_of(x._id))
        S.expect_err("NOT_FOUND", nil, store.getGalleryItem, store, ids_of(x._id, other._id))
      end
      local l = S.ok(store:listGalleries())
      assert.equal(1, l.totalGalleries)
      assert.equal(1, l.galleries[1].totalItems)
      assert.same(keep, S.ok(store:getGalleryItem(ids_of(keep._id, other._id))))
    end)
  end)
end)
