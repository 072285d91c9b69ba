-- Spec sections 3, 4, 6: galleries.
local S = require "spec.support"
local progallery = S.progallery
local null = S.null

local function near_now(date)
  local ms = S.date_ms(date)
  local now = S.now_ms()
  return math.abs(ms - now) < 120000, ("date %s is not near now"):format(date)
end

describe("galleries", function()
  local store
  before_each(function() store = S.admin() end)
  after_each(function() store:close() end)

  describe("createGallery", function()
    it("with no arguments creates an empty gallery with generated fields", function()
      local g = S.ok(store:createGallery())
      assert.is_true(S.is_uuid(g._id), tostring(g._id))
      assert.is_nil(g.name)
      assert.equal("number", type(g.sortOrder))
      assert.equal(0, g.totalItems)
      assert.equal("table", type(g.items))
      assert.equal(0, #g.items)
      assert.is_nil(next(g.items))
      assert.is_true(S.is_date(g._createdDate), tostring(g._createdDate))
      assert.is_true(S.is_date(g._updatedDate), tostring(g._updatedDate))
      assert.is_true(near_now(g._createdDate))
      assert.is_true(near_now(g._updatedDate))
      assert.is_true(g._updatedDate >= g._createdDate)
    end)

    it("ids are lower-case time-ordered UUID v7, increasing in creation order", function()
      local prev = ""
      for i = 1, 20 do
        local g = S.ok(store:createGallery { gallery = { items = { { title = "a" }, { title = "b" } } } })
        for _, id in ipairs { g._id, g.items[1]._id, g.items[2]._id } do
          assert.is_true(S.is_uuid(id), id)
          assert.equal("7", id:sub(15, 15), id)
          local ms = tonumber(id:sub(1, 8) .. id:sub(10, 13), 16)
          assert.is_true(math.abs(ms - S.now_ms()) < 120000, id)
          assert.is_true(id > prev, id .. " <= " .. prev)
          prev = id
        end
      end
    end)

    it("returns exactly the documented gallery keys", function()
      local g = S.ok(store:createGallery { gallery = { name = "n", items = { S.simple_item("a") } } })
      local allowed = { _id = 1, revision = 1, name = 1, sortOrder = 1, totalItems = 1, items = 1, _createdDate = 1,
        _updatedDate = 1 }
      for k in pairs(g) do assert.is_truthy(allowed[k], "unexpected gallery key " .. tostring(k)) end
      for k in pairs(allowed) do assert.is_not_nil(g[k], "missing gallery key " .. k) end
    end)

    it("accepts an empty options table and an explicit nil/null gallery", function()
      assert.equal(0, S.ok(store:createGallery {}).totalItems)
      assert.equal(0, S.ok(store:createGallery { gallery = {} }).totalItems)
      assert.equal(0, S.ok(store:createGallery { gallery = null }).totalItems)
      assert.equal(0, S.ok(store:createGallery(null)).totalItems)
      assert.equal(4, S.ok(store:listGalleries()).totalGalleries)
    end)

    it("creates the Velo example gallery (reference 12.1)", function()
      local input = S.velo_gallery()
      local g = S.ok(store:createGallery { gallery = input })
      assert.equal("My New Gallery", g.name)
      assert.equal(3, g.totalItems)
      assert.equal(3, #g.items)
      local a, b, c = g.items[1], g.items[2], g.items[3]
      assert.equal("IMAGE", a.type)
      assert.equal("VIDEO", b.type)
      assert.equal("TEXT", c.type)
      assert.equal("Item 1", a.title)
      assert.equal("This is the first item in my gallery.", a.description)
      assert.same({ values = { "voice", "bees", "wind" } }, a.tags)
      assert.same({ text = "Click here for more info.", url = "https://www.wix.com/about/us" }, a.link)
      assert.same(S.image_item().image, a.image)
      assert.same({ type = "WIX_MEDIA", videoInfo = S.VID, durationInMillis = 5000 }, b.video)
      assert.same(S.text_item().text, c.text)
      for _, it_ in ipairs(g.items) do
        assert.is_true(S.is_uuid(it_._id))
        assert.is_true(S.is_date(it_._createdDate))
        assert.is_true(S.is_date(it_._updatedDate))
      end
      -- items keep input order with increasing default sortOrders
      assert.is_true(a.sortOrder < b.sortOrder and b.sortOrder < c.sortOrder)
      -- a fetch returns the same thing
      assert.same(g, S.ok(store:getGallery(g._id)))
    end)

    it("stores name and sortOrder", function()
      local g = S.ok(store:createGallery { gallery = { name = "Named", sortOrder = 5 } })
      assert.equal("Named", g.name)
      assert.equal(5, g.sortOrder)
      local got = S.ok(store:getGallery(g._id))
      assert.equal("Named", got.name)
      assert.equal(5, got.sortOrder)
    end)

    it("null name on create means absent", function()
      local g = S.ok(store:createGallery { gallery = { name = null } })
      assert.is_nil(g.name)
      assert.is_nil(S.ok(store:getGallery(g._id)).name)
    end)

    it("accepts 0 items and returns an empty items array", function()
      local g = S.ok(store:createGallery { gallery = { name = "e", items = {} } })
      assert.equal(0, g.totalItems)
      assert.same({}, g.items)
    end)

    it("returns only the first 50 items but counts all", function()
      local items = {}
      for i = 1, 60 do items[i] = S.simple_item("t" .. i) end
      local g = S.ok(store:createGallery { gallery = { items = items } })
      assert.equal(60, g.totalItems)
      assert.equal(50, #g.items)
      assert.equal("t1", g.items[1].title)
      assert.equal("t50", g.items[50].title)
    end)

    it("accepts a fetched gallery as input, ignoring its read-only keys", function()
      local src = S.ok(store:createGallery { gallery = S.velo_gallery() })
      local copy = S.ok(store:createGallery { gallery = S.ok(store:getGallery(src._id)) })
      assert.are_not.equal(src._id, copy._id)
      assert.equal(3, copy.totalItems)
      for i = 1, 3 do
        assert.are_not.equal(src.items[i]._id, copy.items[i]._id)
        assert.equal(src.items[i].title, copy.items[i].title)
        assert.same(src.items[i].image, copy.items[i].image)
        assert.same(src.items[i].video, copy.items[i].video)
        assert.same(src.items[i].text, copy.items[i].text)
        assert.equal(src.items[i].type, copy.items[i].type)
      end
    end)

    it("gallery default sortOrder is now, but above every existing gallery", function()
      local g1 = S.ok(store:createGallery())
      assert.is_true(math.abs(g1.sortOrder - S.now_ms()) < 120000, tostring(g1.sortOrder))
      local g2 = S.ok(store:createGallery())
      assert.is_true(g2.sortOrder >= g1.sortOrder + 1)
      S.ok(store:createGallery { gallery = { sortOrder = 4e15 } })
      local g4 = S.ok(store:createGallery())
      assert.equal(4e15 + 1, g4.sortOrder)
      -- a low explicit value does not pull the default down
      S.ok(store:createGallery { gallery = { sortOrder = -7 } })
      local g6 = S.ok(store:createGallery())
      assert.equal(4e15 + 2, g6.sortOrder)
    end)

    it("the gallery default follows updated and deleted galleries", function()
      local a = S.ok(store:createGallery())
      S.ok(store:updateGallery(a._id, { sortOrder = 8e15 }))
      assert.equal(8e15 + 1, S.ok(store:createGallery()).sortOrder)
      local big = S.ok(store:createGallery { gallery = { sortOrder = 9e15 } })
      S.ok(store:deleteGallery(big._id))
      -- 9e15 is gone; the largest live one is 8e15 + 1
      assert.equal(8e15 + 2, S.ok(store:createGallery()).sortOrder)
    end)

    it("returns the first page of items ordered by sortOrder, not input order", function()
      local g = S.ok(store:createGallery { gallery = { items = {
        S.simple_item("three", 3), S.simple_item("one", 1), S.simple_item("two", 2) } } })
      assert.same({ "one", "two", "three" }, { g.items[1].title, g.items[2].title, g.items[3].title })
    end)

    it("gallery.items = null means no items", function()
      local g = S.ok(store:createGallery { gallery = { name = "n", items = null } })
      assert.equal(0, g.totalItems)
      assert.same({}, g.items)
    end)

    it("allows duplicate gallery sortOrders", function()
      local a = S.ok(store:createGallery { gallery = { sortOrder = 10 } })
      local b = S.ok(store:createGallery { gallery = { sortOrder = 10 } })
      assert.equal(10, a.sortOrder)
      assert.equal(10, b.sortOrder)
    end)
  end)

  describe("clone", function()
    local src
    before_each(function()
      local items = { S.image_item(), S.video_item(), S.text_item() }
      items[1].sortOrder = 5
      items[2].sortOrder = 10
      items[3].sortOrder = 1000
      items[1].link.target = "_blank"
      src = S.ok(store:createGallery { gallery = { name = "Source", sortOrder = 3, items = items } })
    end)

    it("gives the clone and its items dates of now, not the source's", function()
      local path = S.tmppath()
      local fs = S.ok(progallery.open { path = path, caller = "admin" })
      local old = S.ok(fs:createGallery { gallery = { name = "old", items = { S.simple_item("a"), S.simple_item("b") } } })
      -- age the source by 26 years, behind the store's back
      S.sqlite(path, "UPDATE galleries SET created_ms = 946684800000, updated_ms = 946684800000;"
                  .. " UPDATE items SET created_ms = 946684800000, updated_ms = 946684800000;")
      assert.equal("2000-01-01T00:00:00.000Z", S.ok(fs:getGallery(old._id)).items[1]._updatedDate)
      local c = S.ok(fs:createGallery { cloneFromGalleryId = old._id })
      fs:close()
      local now = S.now_ms()
      for _, d in ipairs { c._createdDate, c._updatedDate, c.items[1]._createdDate, c.items[2]._updatedDate } do
        assert.is_true(math.abs(S.date_ms(d) - now) < 120000, d)
      end
    end)

    it("copies name and every item's fields with new ids, sort orders and dates", function()
      local c = S.ok(store:createGallery { cloneFromGalleryId = src._id })
      assert.is_true(S.is_uuid(c._id))
      assert.are_not.equal(src._id, c._id)
      assert.equal("Source", c.name)
      assert.equal(3, c.totalItems)
      assert.equal(3, #c.items)
      assert.is_true(c._createdDate >= src._createdDate)
      -- new gallery sortOrder by the default rule, not the copied 3
      assert.is_true(c.sortOrder >= src.sortOrder + 1)
      local src_ids = {}
      for _, x in ipairs(src.items) do src_ids[x._id] = true end
      for i = 1, 3 do
        local a, b = src.items[i], c.items[i]
        assert.is_true(S.is_uuid(b._id))
        assert.is_nil(src_ids[b._id], "clone reused an item id")
        for _, k in ipairs { "title", "description", "type" } do assert.equal(a[k], b[k], k) end
        for _, k in ipairs { "link", "tags", "image", "video", "text" } do assert.same(a[k], b[k], k) end
        assert.is_true(S.is_date(b._createdDate))
        assert.is_true(b._createdDate >= a._createdDate)
      end
      -- new sort orders, consecutive, relative order kept
      assert.are_not.equal(5, c.items[1].sortOrder)
      assert.equal(c.items[1].sortOrder + 1, c.items[2].sortOrder)
      assert.equal(c.items[1].sortOrder + 2, c.items[3].sortOrder)
      assert.is_true(math.abs(c.items[1].sortOrder - S.now_ms()) < 120000)
      -- source untouched
      assert.same(src, S.ok(store:getGallery(src._id)))
      assert.equal(2, S.ok(store:listGalleries()).totalGalleries)
      -- the clone persists as returned
      assert.same(c, S.ok(store:getGallery(c._id)))
    end)

    it("lets gallery name and sortOrder override and appends gallery.items", function()
      local c = S.ok(store:createGallery {
        cloneFromGalleryId = src._id,
        gallery = { name = "Copy", sortOrder = 7, items = { S.simple_item("extra") } },
      })
      assert.equal("Copy", c.name)
      assert.equal(7, c.sortOrder)
      assert.equal(4, c.totalItems)
      assert.equal("Item 1", c.items[1].title)
      assert.equal("Item 3", c.items[3].title)
      assert.equal("extra", c.items[4].title)
      assert.is_true(c.items[4].sortOrder > c.items[3].sortOrder)
    end)

    it("cloned items keep the source's listing order, ties included", function()
      local t = S.ok(store:createGallery { gallery = { name = "ties", items = {
        S.simple_item("A", 5), S.simple_item("B", 5), S.simple_item("C", 1), S.simple_item("D", 5) } } })
      local src_order = {}
      for i, x in ipairs(S.ok(store:listGalleryItems(t._id)).items) do src_order[i] = x.title end
      assert.same({ "C", "A", "B", "D" }, src_order)
      local c = S.ok(store:createGallery { cloneFromGalleryId = t._id })
      local got = {}
      for i, x in ipairs(S.ok(store:listGalleryItems(c._id)).items) do got[i] = x.title end
      assert.same(src_order, got)
      for i = 2, 4 do assert.equal(c.items[1].sortOrder + i - 1, c.items[i].sortOrder) end
    end)

    it("null name with a clone keeps the source name", function()
      local c = S.ok(store:createGallery { cloneFromGalleryId = src._id, gallery = { name = null } })
      assert.equal("Source", c.name)
    end)

    it("clones every item of a large gallery, returning the first page", function()
      local big = S.gallery_with(store, 70, "big")
      local c = S.ok(store:createGallery { cloneFromGalleryId = big._id })
      assert.equal(70, c.totalItems)
      assert.equal(50, #c.items)
      local all = S.ok(store:listGalleryItems(c._id, { itemLimit = 100 })).items
      assert.equal(70, #all)
      for i = 1, 70 do assert.equal("t" .. i, all[i].title) end
    end)

    it("clones an empty gallery", function()
      local e = S.ok(store:createGallery { gallery = { name = "empty" } })
      local c = S.ok(store:createGallery { cloneFromGalleryId = e._id })
      assert.equal("empty", c.name)
      assert.equal(0, c.totalItems)
      assert.same({}, c.items)
    end)

    it("unknown source is NOT_FOUND and creates nothing", function()
      S.expect_err("NOT_FOUND", nil, store.createGallery, store, { cloneFromGalleryId = S.MISSING_ID })
      assert.equal(1, S.ok(store:listGalleries()).totalGalleries)
    end)

    it("a malformed source id is INVALID_ARGUMENT", function()
      S.expect_err("INVALID_ARGUMENT", "cloneFromGalleryId", store.createGallery, store, { cloneFromGalleryId = "nope" })
      S.expect_err("INVALID_ARGUMENT", "cloneFromGalleryId", store.createGallery, store, { cloneFromGalleryId = 42 })
      assert.equal(1, S.ok(store:listGalleries()).totalGalleries)
    end)

    it("a deleted source is NOT_FOUND", function()
      S.ok(store:deleteGallery(src._id))
      S.expect_err("NOT_FOUND", nil, store.createGallery, store, { cloneFromGalleryId = src._id })
      assert.equal(0, S.ok(store:listGalleries()).totalGalleries)
    end)
  end)

  describe("getGallery", function()
    local g
    before_each(function() g = S.gallery_with(store, 120, "paged") end)

    it("defaults to itemOffset 0, itemLimit 50", function()
      local r = S.ok(store:getGallery(g._id))
      assert.equal(120, r.totalItems)
      assert.equal(50, #r.items)
      assert.equal("t1", r.items[1].title)
      assert.equal("t50", r.items[50].title)
      assert.equal("paged", r.name)
    end)

    it("pages with itemOffset and itemLimit", function()
      local r = S.ok(store:getGallery(g._id, { itemOffset = 50, itemLimit = 100 }))
      assert.equal(70, #r.items)
      assert.equal("t51", r.items[1].title)
      assert.equal("t120", r.items[70].title)
      assert.equal(120, r.totalItems)
      r = S.ok(store:getGallery(g._id, { itemLimit = 1 }))
      assert.equal(1, #r.items)
      assert.equal("t1", r.items[1].title)
      r = S.ok(store:getGallery(g._id, { itemOffset = 119 }))
      assert.equal(1, #r.items)
      assert.equal("t120", r.items[1].title)
    end)

    it("pages the same way as listGalleryItems", function()
      for _, o in ipairs { { itemOffset = 10, itemLimit = 7 }, { itemOffset = 0, itemLimit = 100 }, { itemOffset = 115 } } do
        assert.same(S.ok(store:listGalleryItems(g._id, o)).items, S.ok(store:getGallery(g._id, o)).items)
      end
    end)

    it("an offset past the end gives an empty items array and the live total", function()
      local r = S.ok(store:getGallery(g._id, { itemOffset = 500 }))
      assert.equal("table", type(r.items))
      assert.equal(0, #r.items)
      assert.equal(120, r.totalItems)
    end)

    it("treats nil/null options and null option values as defaults", function()
      assert.equal(50, #S.ok(store:getGallery(g._id, null)).items)
      assert.equal(50, #S.ok(store:getGallery(g._id, {})).items)
      assert.equal(50, #S.ok(store:getGallery(g._id, { itemLimit = null, itemOffset = null })).items)
    end)

    it("rejects out-of-range and non-integer paging", function()
      for _, bad in ipairs { 0, 101, -1, 1.5, "10", 0 / 0, math.huge, true, {} } do
        S.expect_err("INVALID_ARGUMENT", "itemLimit", store.getGallery, store, g._id, { itemLimit = bad })
      end
      for _, bad in ipairs { -1, 0.5, "0", -math.huge, 0 / 0, false } do
        S.expect_err("INVALID_ARGUMENT", "itemOffset", store.getGallery, store, g._id, { itemOffset = bad })
      end
      S.ok(store:getGallery(g._id, { itemLimit = 100 }))
    end)

    it("rejects unknown option keys naming the key", function()
      local msg = S.expect_err("INVALID_ARGUMENT", nil, store.getGallery, store, g._id, { itemLimt = 5 })
      assert.is_truthy(msg:find("itemLimt", 1, true), msg)
      msg = S.expect_err("INVALID_ARGUMENT", nil, store.getGallery, store, g._id, { limit = 5 })
      assert.is_truthy(msg:find("limit", 1, true), msg)
    end)

    it("ignores a trailing extra argument", function()
      assert.equal(5, #S.ok(store:getGallery(g._id, { itemLimit = 5 }, {})).items)
    end)

    it("NOT_FOUND for an unknown id, INVALID_ARGUMENT for a malformed one", function()
      S.expect_err("NOT_FOUND", nil, store.getGallery, store, S.MISSING_ID)
      S.expect_err("INVALID_ARGUMENT", "galleryId", store.getGallery, store, "1234")
      S.expect_err("INVALID_ARGUMENT", "galleryId", store.getGallery, store, nil)
    end)

    it("matches ids case-insensitively", function()
      local r = S.ok(store:getGallery(g._id:upper()))
      assert.equal(g._id, r._id)
    end)
  end)

  describe("listGalleries", function()
    it("on an empty store", function()
      local r = S.ok(store:listGalleries())
      assert.equal(0, r.totalGalleries)
      assert.same({}, r.galleries)
      assert.equal("table", type(r.galleries))
    end)

    it("defaults to limit 10, offset 0, itemLimit 10; orders by creation", function()
      local made = {}
      for i = 1, 13 do
        -- decreasing sortOrder: must not affect the order
        made[i] = S.ok(store:createGallery { gallery = { name = "g" .. i, sortOrder = 100 - i } })
      end
      S.ok(store:createGalleryItems(made[1]._id, (function()
        local l = {}
        for i = 1, 12 do l[i] = S.simple_item("i" .. i) end
        return l
      end)()))
      local r = S.ok(store:listGalleries())
      assert.equal(13, r.totalGalleries)
      assert.equal(10, #r.galleries)
      for i = 1, 10 do assert.equal(made[i]._id, r.galleries[i]._id) end
      assert.equal(12, r.galleries[1].totalItems)
      assert.equal(10, #r.galleries[1].items)
      assert.equal("i1", r.galleries[1].items[1].title)
      assert.equal(0, r.galleries[2].totalItems)
      assert.same({}, r.galleries[2].items)
      local r2 = S.ok(store:listGalleries { offset = 10 })
      assert.equal(3, #r2.galleries)
      assert.equal(13, r2.totalGalleries)
      for i = 1, 3 do assert.equal(made[10 + i]._id, r2.galleries[i]._id) end
      local r3 = S.ok(store:listGalleries { limit = 2, offset = 1, itemLimit = 100 })
      assert.equal(2, #r3.galleries)
      assert.equal(made[2]._id, r3.galleries[1]._id)
      local r4 = S.ok(store:listGalleries { itemLimit = 100 })
      assert.equal(12, #r4.galleries[1].items)
      local r5 = S.ok(store:listGalleries { itemLimit = 3 })
      assert.equal(3, #r5.galleries[1].items)
      assert.equal(12, r5.galleries[1].totalItems)
      local big = S.ok(store:listGalleries { offset = 2 ^ 53 })
      assert.same({}, big.galleries)
      assert.equal(13, big.totalGalleries)
      local r6 = S.ok(store:listGalleries { offset = 100 })
      assert.same({}, r6.galleries)
      assert.equal(13, r6.totalGalleries)
    end)

    it("returns full galleries (same as getGallery with the item limit)", function()
      local g = S.ok(store:createGallery { gallery = S.velo_gallery() })
      local r = S.ok(store:listGalleries())
      assert.same(g, r.galleries[1])
    end)

    it("rejects out-of-range and non-integer paging", function()
      for _, bad in ipairs { 0, 11, -1, 2.5, "5", 0 / 0 } do
        S.expect_err("INVALID_ARGUMENT", "limit", store.listGalleries, store, { limit = bad })
      end
      for _, bad in ipairs { -1, 0.5, "1", math.huge } do
        S.expect_err("INVALID_ARGUMENT", "offset", store.listGalleries, store, { offset = bad })
      end
      for _, bad in ipairs { 0, 101, 1.5, "10" } do
        S.expect_err("INVALID_ARGUMENT", "itemLimit", store.listGalleries, store, { itemLimit = bad })
      end
      local msg = S.expect_err("INVALID_ARGUMENT", nil, store.listGalleries, store, { itemOffset = 1 })
      assert.is_truthy(msg:find("itemOffset", 1, true), msg)
      S.expect_err("INVALID_ARGUMENT", "options", store.listGalleries, store, "limit=5")
      assert.equal(0, S.ok(store:listGalleries { limit = 10, offset = 0, itemLimit = 100 }).totalGalleries)
      assert.equal(0, S.ok(store:listGalleries { limit = 1 }).totalGalleries)
      assert.equal(0, S.ok(store:listGalleries { limit = null, offset = null, itemLimit = null }).totalGalleries)
      assert.equal(0, S.ok(store:listGalleries(null)).totalGalleries)
    end)

    it("totalGalleries tracks creates and deletes", function()
      local a = S.ok(store:createGallery())
      S.ok(store:createGallery())
      assert.equal(2, S.ok(store:listGalleries()).totalGalleries)
      S.ok(store:deleteGallery(a._id))
      local r = S.ok(store:listGalleries())
      assert.equal(1, r.totalGalleries)
      assert.equal(1, #r.galleries)
      assert.are_not.equal(a._id, r.galleries[1]._id)
    end)

    -- totalGalleries is a kept count (schema 7 SQLite / 6 PostgreSQL), not count(*): every
    -- way a gallery comes or goes must move it, and a rolled-back write must not
    it("totalGalleries, a kept count, follows every way a gallery comes or goes", function()
      local path = S.tmppath()
      local s = S.ok(progallery.open { path = path, caller = "admin" })
      local function total() return S.ok(s:listGalleries { limit = 1 }).totalGalleries end
      local a = S.ok(s:createGallery { gallery = { name = "a", items = { { title = "x" } } } })
      S.ok(s:createGallery())
      S.ok(s:createGallery { cloneFromGalleryId = a._id })
      assert.equal(3, total())
      -- a create that fails (a bad item) leaves no gallery and no count behind
      S.expect_err("INVALID_ARGUMENT", "gallery.items[2].title", s.createGallery, s,
        { gallery = { items = { { title = "ok" }, { title = 5 } } } })
      assert.equal(3, total())
      S.ok(s:deleteGallery(a._id))
      S.expect_err("NOT_FOUND", nil, s.deleteGallery, s, a._id)
      assert.equal(2, total())
      -- rows written and removed behind the store's back (the sqlite3 shell or psql)
      local out, ok = S.sqlite(path, "INSERT INTO galleries(id, name, sort_order, created_ms, updated_ms)"
        .. " VALUES ('" .. S.MISSING_ID2 .. "', 'by hand', 0, 1, 1)")
      assert(ok, out)
      assert.equal(3, total())
      assert.equal("by hand", S.ok(s:getGallery(S.MISSING_ID2)).name)
      out, ok = S.sqlite(path, "DELETE FROM galleries WHERE id = '" .. S.MISSING_ID2 .. "'")
      assert(ok, out)
      assert.equal(2, total())
      assert.equal(2, #S.ok(s:listGalleries()).galleries)
      s:close()
    end)

    it("a store made before the kept count gets it, right, on open", function()
      local path = S.tmppath()
      local s = S.ok(progallery.open { path = path, caller = "admin" })
      for i = 1, 5 do S.ok(s:createGallery { gallery = { name = "g" .. i } }) end
      s:close()
      -- back to the version before: no count table, no triggers
      local out, ok = S.sqlite(path, S.postgres
        and ("DROP TRIGGER galleries_counted ON galleries; ALTER TABLE feed DROP COLUMN galleries;"
          .. " UPDATE progallery_meta SET value = %d WHERE name = 'schema_version';"):format(S.POSTGRES_SCHEMA - 1)
        or ("DROP TRIGGER galleries_counted_in; DROP TRIGGER galleries_counted_out; DROP TABLE site_counts;"
          .. " PRAGMA user_version = %d;"):format(S.SQLITE_SCHEMA - 1))
      assert(ok, out)
      s = S.ok(progallery.open { path = path, caller = "admin" })
      assert.equal(5, S.ok(s:listGalleries { limit = 1 }).totalGalleries)
      S.ok(s:createGallery())
      assert.equal(6, S.ok(s:listGalleries { limit = 1 }).totalGalleries)
      s:close()
    end)
  end)

  describe("updateGallery", function()
    local g
    before_each(function()
      g = S.ok(store:createGallery { gallery = { name = "old", sortOrder = 1, items = { S.simple_item("a") } } })
    end)

    it("updates the name only, leaving sortOrder, items and dates", function()
      local u = S.ok(store:updateGallery(g._id, { name = "new" }))
      assert.equal("new", u.name)
      assert.equal(1, u.sortOrder)
      assert.equal(g._id, u._id)
      assert.equal(1, u.totalItems)
      assert.equal(g.items[1]._id, u.items[1]._id)
      assert.equal(g._createdDate, u._createdDate)
      assert.is_true(u._updatedDate > g._updatedDate)
      assert.same(u, S.ok(store:getGallery(g._id)))
    end)

    it("a rename and a new sortOrder stay through later item writes, in the indexes too", function()
      -- item writes save the gallery row without its name and sortOrder (storage:
      -- gallery_update's named = 0); the renaming update saves them
      S.ok(store:updateGallery(g._id, { name = "renamed", sortOrder = 7.25 }))
      local it = S.ok(store:createGalleryItem(g._id, S.simple_item("b")))
      S.ok(store:updateGalleryItem({ galleryId = g._id, itemId = it._id }, { title = "c" }))
      S.ok(store:deleteGalleryItem { galleryId = g._id, itemId = g.items[1]._id })
      local got = S.ok(store:getGallery(g._id))
      assert.equal("renamed", got.name)
      assert.equal(7.25, got.sortOrder)
      assert.equal(1, got.totalItems)
      local q = S.ok(store:queryGalleries { filter = { name = { ["$eq"] = "renamed" } } })
      assert.same({ g._id }, S.ids(q.galleries))
      assert.same({}, S.ok(store:queryGalleries { filter = { name = { ["$eq"] = "old" } } }).galleries)
    end)

    it("updates the sortOrder only", function()
      local u = S.ok(store:updateGallery(g._id, { sortOrder = -2.5 }))
      assert.equal(-2.5, u.sortOrder)
      assert.equal("old", u.name)
    end)

    it("an empty update succeeds and changes nothing but may bump _updatedDate", function()
      local u = S.ok(store:updateGallery(g._id, {}))
      assert.equal("old", u.name)
      assert.equal(1, u.sortOrder)
    end)

    it("null clears the name; sortOrder cannot be cleared", function()
      local u = S.ok(store:updateGallery(g._id, { name = null }))
      assert.is_nil(u.name)
      assert.is_nil(S.ok(store:getGallery(g._id)).name)
      S.expect_err("INVALID_ARGUMENT", "gallery.sortOrder", store.updateGallery, store, g._id, { sortOrder = null })
      assert.equal(1, S.ok(store:getGallery(g._id)).sortOrder)
    end)

    it("ignores read-only keys, including items, so a fetched gallery can be sent back", function()
      local fetched = S.ok(store:getGallery(g._id))
      fetched.name = "renamed"
      fetched.items = { S.simple_item("ignored") }
      fetched.totalItems = 99
      fetched._id = S.MISSING_ID
      fetched._createdDate = "2000-01-01T00:00:00.000Z"
      fetched._updatedDate = "2000-01-01T00:00:00.000Z"
      local u = S.ok(store:updateGallery(g._id, fetched))
      assert.equal("renamed", u.name)
      assert.equal(g._id, u._id)
      assert.equal(1, u.totalItems)
      assert.equal("a", u.items[1].title)
      assert.equal(g._createdDate, u._createdDate)
      assert.is_true(u._updatedDate >= g._updatedDate, u._updatedDate)
    end)

    it("returns the first 50 items", function()
      local list = {}
      for i = 1, 60 do list[i] = S.simple_item("x" .. i) end
      S.ok(store:createGalleryItems(g._id, list))
      local u = S.ok(store:updateGallery(g._id, { name = "n" }))
      assert.equal(61, u.totalItems)
      assert.equal(50, #u.items)
    end)

    it("_updatedDate strictly increases on consecutive updates", function()
      local prev = g._updatedDate
      for i = 1, 5 do
        local u = S.ok(store:updateGallery(g._id, { name = "n" .. i }))
        assert.is_true(u._updatedDate > prev, u._updatedDate .. " <= " .. prev)
        prev = u._updatedDate
      end
    end)

    it("errors: missing, malformed id, bad gallery", function()
      S.expect_err("NOT_FOUND", nil, store.updateGallery, store, S.MISSING_ID, { name = "x" })
      S.expect_err("INVALID_ARGUMENT", "galleryId", store.updateGallery, store, "x", { name = "x" })
      S.expect_err("INVALID_ARGUMENT", "gallery", store.updateGallery, store, g._id, nil)
      S.expect_err("INVALID_ARGUMENT", "gallery", store.updateGallery, store, g._id, "name")
      S.expect_err("INVALID_ARGUMENT", "gallery.name", store.updateGallery, store, g._id, { name = 5 })
      S.expect_err("INVALID_ARGUMENT", "gallery.nmae", store.updateGallery, store, g._id, { nmae = "x" })
      local after = S.ok(store:getGallery(g._id))
      assert.equal("old", after.name)
      assert.equal(g._updatedDate, after._updatedDate)
    end)
  end)

  describe("deleteGallery", function()
    it("removes the gallery and all its items", function()
      local g, items = S.gallery_with(store, 3)
      local other = S.gallery_with(store, 1, "other")
      local r = S.ok(store:deleteGallery(g._id))
      assert.same({ galleryId = g._id }, r)
      S.expect_err("NOT_FOUND", nil, store.getGallery, store, g._id)
      S.expect_err("NOT_FOUND", nil, store.listGalleryItems, store, g._id)
      for _, x in ipairs(items) do
        S.expect_err("NOT_FOUND", nil, store.getGalleryItem, store, { galleryId = g._id, itemId = x._id })
      end
      local l = S.ok(store:listGalleries())
      assert.equal(1, l.totalGalleries)
      assert.equal(other._id, l.galleries[1]._id)
      assert.equal(1, l.galleries[1].totalItems)
      -- deleting again
      S.expect_err("NOT_FOUND", nil, store.deleteGallery, store, g._id)
      S.expect_err("NOT_FOUND", nil, store.updateGallery, store, g._id, { name = "zombie" })
      S.expect_err("NOT_FOUND", nil, store.createGalleryItem, store, g._id, S.simple_item("z"))
    end)

    it("returns the id in lower case when given upper case", function()
      local g = S.ok(store:createGallery())
      local r = S.ok(store:deleteGallery(g._id:upper()))
      assert.same({ galleryId = g._id }, r)
    end)

    it("rejects malformed ids", function()
      S.expect_err("INVALID_ARGUMENT", "galleryId", store.deleteGallery, store, "abc")
      S.expect_err("INVALID_ARGUMENT", "galleryId", store.deleteGallery, store, {})
    end)
  end)

  describe("_updatedDate of a gallery follows its items", function()
    it("changes when an item is created, updated, deleted or bulk-deleted", function()
      local g, items = S.gallery_with(store, 3)
      local function upd() return S.ok(store:getGallery(g._id))._updatedDate end
      local created = S.ok(store:getGallery(g._id))._createdDate
      local prev = upd()
      local steps = {
        function() S.ok(store:createGalleryItem(g._id, S.simple_item("n"))) end,
        function() S.ok(store:updateGalleryItem({ galleryId = g._id, itemId = items[1]._id }, { title = "u" })) end,
        function() S.ok(store:deleteGalleryItem { galleryId = g._id, itemId = items[2]._id }) end,
        function() S.ok(store:bulkDeleteGalleryItems(g._id, { items[3]._id })) end,
        function() S.ok(store:createGalleryItems(g._id, { S.simple_item("m") })) end,
      }
      for i, step in ipairs(steps) do
        step()
        local now = upd()
        assert.is_true(now > prev, ("step %d: %s not after %s"):format(i, now, prev))
        prev = now
      end
      assert.equal(created, S.ok(store:getGallery(g._id))._createdDate)
    end)

    it("does not change on reads or failed writes", function()
      local g = S.gallery_with(store, 1)
      local before = S.ok(store:getGallery(g._id))._updatedDate
      S.ok(store:listGalleryItems(g._id))
      S.ok(store:listGalleries())
      S.expect_err("INVALID_ARGUMENT", nil, store.createGalleryItem, store, g._id, { bogus = 1 })
      S.expect_err("NOT_FOUND", nil, store.deleteGalleryItem, store, { galleryId = g._id, itemId = S.MISSING_ID })
      assert.equal(before, S.ok(store:getGallery(g._id))._updatedDate)
    end)
  end)
end)
