-- Spec section 7: error codes and messages, and atomicity (section 3).
local S = require "spec.support"
local progallery = S.progallery

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

local function wait_for(p, seconds)
  local deadline = os.time() + seconds
  while not exists(p) do
    if os.time() > deadline then return false end
    os.execute("sleep 0.05")
  end
  return true
end

describe("errors", function()
  local store, g
  before_each(function()
    store = S.admin()
    g = S.ok(store:createGallery { gallery = { name = "G", items = { S.image_item(), S.video_item() } } })
  end)
  after_each(function()
    store:close()
    S.cleanup()
  end)

  describe("shape", function()
    it("a failure is exactly three values: nil, message, code", function()
      local n = select("#", store:getGallery("bad"))
      assert.equal(3, n)
      local r, msg, code = store:getGallery("bad")
      assert.is_nil(r)
      assert.equal("string", type(msg))
      assert.equal("INVALID_ARGUMENT", code)
      assert.equal(3, select("#", store:getGallery(S.MISSING_ID)))
    end)
  end)

  describe("codes and message paths", function()
    it("a path longer than 255 bytes is cut on a character boundary, with the message after it", function()
      -- four levels of 70-byte keys (two-byte characters) put the failing value past byte 255
      local k = function(c) return c .. ("é"):rep(34) .. "!" end
      local exif = { [k("a")] = { [k("b")] = { [k("c")] = { [k("d")] = function() end } } } }
      local r, msg, code = store:createGalleryItem(g._id, { image = { imageInfo = S.IMG, exif = exif } })
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", code)
      local path, rest = msg:match("^(.-): (unsupported value: function)$")
      assert.truthy(path, msg)
      assert.truthy(#path <= 255 and #path >= 254, #path)
      local full = "item.image.exif." .. k("a") .. "." .. k("b") .. "." .. k("c") .. "." .. k("d")
      assert.equal(full:sub(1, #path), path)
      assert.not_equal(0xC3, path:byte(-1), "cut inside a character") -- a naive cut at 255 ends on é's first byte
      assert.equal("unsupported value: function", rest)
    end)

    it("INVALID_ARGUMENT: message starts with the field path", function()
      local msg = S.expect_err("INVALID_ARGUMENT", "item.image.imageInfo", store.createGalleryItem, store, g._id, { image = {} })
      assert.matches("^item%.image%.imageInfo: ", msg)
      S.expect_err("INVALID_ARGUMENT", "items[2].title", store.createGalleryItems, store, g._id, { { title = "ok" }, { title = 1 } })
      S.expect_err("INVALID_ARGUMENT", "gallery.items[1].title", store.createGallery, store, { gallery = { items = { { title = 1 } } } })
      S.expect_err("INVALID_ARGUMENT", "galleryId", store.getGallery, store, "x")
      S.expect_err("INVALID_ARGUMENT", "itemId", store.getGalleryItem, store, { galleryId = g._id, itemId = "x" })
      S.expect_err("INVALID_ARGUMENT", "itemIds[1]", store.bulkDeleteGalleryItems, store, g._id, { "x" })
      S.expect_err("INVALID_ARGUMENT", "itemIds", store.bulkDeleteGalleryItems, store, g._id, {})
      S.expect_err("INVALID_ARGUMENT", "items", store.createGalleryItems, store, g._id, {})
      S.expect_err("INVALID_ARGUMENT", "limit", store.listGalleries, store, { limit = 11 })
      S.expect_err("INVALID_ARGUMENT", "offset", store.listGalleries, store, { offset = -1 })
      S.expect_err("INVALID_ARGUMENT", "itemOffset", store.listGalleryItems, store, g._id, { itemOffset = -1 })
      S.expect_err("INVALID_ARGUMENT", "options", store.getGallery, store, g._id, "x")
      S.expect_err("INVALID_ARGUMENT", "identifiers", store.getGalleryItem, store, "x")
      S.expect_err("INVALID_ARGUMENT", "item", store.createGalleryItem, store, g._id, "x")
      S.expect_err("INVALID_ARGUMENT", "gallery", store.updateGallery, store, g._id, "x")
      S.expect_err("INVALID_ARGUMENT", "cloneFromGalleryId", store.createGallery, store, { cloneFromGalleryId = "x" })
      S.expect_err("INVALID_ARGUMENT", "item.title", store.updateGalleryItem, store,
        { galleryId = g._id, itemId = g.items[1]._id }, { title = "\255" })
    end)

    it("PERMISSION_DENIED", function()
      local v = S.view(store, "visitor")
      local msg = S.expect_err("PERMISSION_DENIED", nil, v.deleteGallery, v, g._id)
      assert.is_true(#msg > 0)
      assert.equal(1, S.ok(store:listGalleries()).totalGalleries)
    end)

    it("NOT_FOUND names the id that matched nothing", function()
      S.expect_err("NOT_FOUND", "galleryId", store.getGallery, store, S.MISSING_ID)
      S.expect_err("NOT_FOUND", "galleryId", store.deleteGallery, store, S.MISSING_ID)
      S.expect_err("NOT_FOUND", "galleryId", store.updateGallery, store, S.MISSING_ID, { name = "x" })
      S.expect_err("NOT_FOUND", "galleryId", store.listGalleryItems, store, S.MISSING_ID)
      S.expect_err("NOT_FOUND", "galleryId", store.createGalleryItem, store, S.MISSING_ID, { title = "x" })
      S.expect_err("NOT_FOUND", "galleryId", store.createGalleryItems, store, S.MISSING_ID, { { title = "x" } })
      S.expect_err("NOT_FOUND", "galleryId", store.bulkDeleteGalleryItems, store, S.MISSING_ID, { S.MISSING_ID2 })
      S.expect_err("NOT_FOUND", "cloneFromGalleryId", store.createGallery, store, { cloneFromGalleryId = S.MISSING_ID })
      local ids = { galleryId = g._id, itemId = S.MISSING_ID }
      S.expect_err("NOT_FOUND", "itemId", store.getGalleryItem, store, ids)
      S.expect_err("NOT_FOUND", "itemId", store.updateGalleryItem, store, ids, { title = "x" })
      S.expect_err("NOT_FOUND", "itemId", store.deleteGalleryItem, store, ids)
      -- missing gallery through the item functions: either id may be named
      local msg = S.expect_err("NOT_FOUND", nil, store.getGalleryItem, store, { galleryId = S.MISSING_ID, itemId = g.items[1]._id })
      assert.is_truthy(msg:match("^galleryId[:%s]") or msg:match("^itemId[:%s]"), msg)
    end)

    it("RESOURCE_EXHAUSTED for batch and size bounds", function()
      local list = {}
      for i = 1, 1001 do list[i] = { title = "x" } end
      S.expect_err("RESOURCE_EXHAUSTED", "items", store.createGalleryItems, store, g._id, list)
      S.expect_err("RESOURCE_EXHAUSTED", "gallery.items", store.createGallery, store, { gallery = { items = list } })
      local ids = {}
      for i = 1, 1001 do ids[i] = S.MISSING_ID end
      S.expect_err("RESOURCE_EXHAUSTED", "itemIds", store.bulkDeleteGalleryItems, store, g._id, ids)
      S.expect_err("RESOURCE_EXHAUSTED", "item.description", store.createGalleryItem, store, g._id, { description = ("d"):rep(16385) })
      assert.equal(2, S.ok(store:getGallery(g._id)).totalItems)
      assert.equal(1, S.ok(store:listGalleries()).totalGalleries)
    end)

    it("FAILED_PRECONDITION for a closed store, a read-only store and a newer schema #sqlite", function()
      local p = S.tmppath()
      local w = S.ok(progallery.open { path = p, caller = "admin" })
      S.ok(w:createGallery())
      w:close()
      local ro = S.ok(progallery.open { path = p, caller = "admin", readonly = true })
      local msg = S.expect_err("FAILED_PRECONDITION", nil, ro.createGallery, ro)
      assert.are_not.equal("store is closed", msg)
      ro:close()
      local res = S.call(ro.createGallery, ro)
      assert.equal("store is closed", res[2])
      assert.equal("FAILED_PRECONDITION", res[3])
      S.sqlite(p, "PRAGMA user_version=999;")
      res = S.call(progallery.open, { path = p })
      S.assert_err("FAILED_PRECONDITION", nil, res[1], res[2], res[3])
    end)

    it("FAILED_PRECONDITION for a negative schema version (no progallery writes one) #sqlite", function()
      local p = S.tmppath()
      S.ok(progallery.open { path = p, caller = "admin" }):close()
      S.sqlite(p, "PRAGMA user_version=-1;")
      local res = S.call(progallery.open, { path = p })
      S.assert_err("FAILED_PRECONDITION", nil, res[1], res[2], res[3])
      assert.truthy(res[2]:find("schema version -1", 1, true), res[2])
    end)

    it("INTERNAL, with no undefined behaviour, for stored dates no clock wrote", function()
      local function damaged(res)
        S.assert_err("INTERNAL", nil, res[1], res[2], res[3])
        assert.truthy(res[2]:find("date is out of range", 1, true), res[2])
      end
      for _, ms in ipairs { "-9223372036854775808", "9223372036854775807", "-62135596800001", "253402300800000" } do
        local p = S.tmppath()
        local st = S.ok(progallery.open { path = p, caller = "admin" })
        local g = S.ok(st:createGallery { gallery = { name = "G", items = { { title = "a" } } } })
        local iid = g.items[1]._id
        local g2 = S.ok(st:createGallery { gallery = { name = "fine", items = { { title = "b" } } } })
        st:close()
        S.sqlite(p, "UPDATE galleries SET created_ms = " .. ms .. " WHERE name = 'G';")
        st = S.ok(progallery.open { path = p, caller = "admin" })
        damaged(S.call(st.getGallery, st, g._id))
        damaged(S.call(st.listGalleries, st))
        S.ok(st:getGallery(g2._id)) -- the rest still reads
        st:close()
        S.sqlite(p, "UPDATE galleries SET created_ms = 0; UPDATE items SET updated_ms = " .. ms ..
          " WHERE id = '" .. iid .. "';")
        st = S.ok(progallery.open { path = p, caller = "admin" })
        damaged(S.call(st.getGalleryItem, st, { galleryId = g._id, itemId = iid }))
        damaged(S.call(st.getGallery, st, g._id))
        damaged(S.call(st.listGalleryItems, st, g._id))
        assert.equal("1970-01-01T00:00:00.000Z", S.ok(st:getGallery(g2._id))._createdDate)
        st:close()
      end
    end)

    it("INTERNAL for a file that is not a database #sqlite", function()
      local p = S.tmppath()
      local f = assert(io.open(p, "wb"))
      f:write(("this is definitely not an SQLite database file\n"):rep(200))
      f:close()
      local res = S.call(progallery.open, { path = p, caller = "admin" }) -- open is not lazy
      S.assert_err("INTERNAL", nil, res[1], res[2], res[3])
    end)

    it("INTERNAL, never a raise, for a database damaged after it was written #sqlite", function()
      local p = S.tmppath()
      local st = S.ok(progallery.open { path = p, caller = "admin" })
      local items = {}
      for i = 1, 200 do items[i] = { title = ("item %d "):format(i) .. ("x"):rep(200) } end
      local gid = S.ok(st:createGallery { gallery = { name = "G", items = items } })._id
      st:close() -- the last connection checkpoints the log into the file
      local f = assert(io.open(p, "r+b"))
      local size = f:seek("end")
      assert.is_true(size > 8 * 4096, size)
      f:seek("set", 2 * 4096) -- keep page 1 (header and schema): the damage is in the data
      f:write(("­"):rep(size - 3 * 4096))
      f:close()
      st = S.ok(progallery.open { path = p, caller = "admin" })
      for _, call in ipairs {
        function() return st:getGallery(gid, { itemLimit = 100 }) end,
        function() return st:listGalleryItems(gid, { itemOffset = 100 }) end,
        function() return st:createGalleryItem(gid, { title = "more" }) end,
      } do
        local res = S.call(call)
        S.assert_err("INTERNAL", nil, res[1], res[2], res[3])
      end
      st:close()
    end)

    it("an unopenable path fails without raising #sqlite", function()
      local res = S.call(progallery.open, { path = "/nonexistent-dir-progallery/x/y.db" })
      assert.is_nil(res[1])
      assert.equal("string", type(res[2]))
      assert.is_truthy(({ INTERNAL = true, UNAVAILABLE = true, INVALID_ARGUMENT = true })[res[3]], tostring(res[3]))
    end)
  end)

  describe("atomicity", function()
    it("a createGalleryItems batch with one bad item creates nothing", function()
      for _, pos in ipairs { 1, 3, 5 } do
        local list = {}
        for i = 1, 5 do list[i] = S.simple_item("v" .. i) end
        list[pos] = { image = { imageInfo = "not a uri" } }
        S.expect_err("INVALID_ARGUMENT", ("items[%d].image.imageInfo"):format(pos), store.createGalleryItems, store, g._id, list)
      end
      local after = S.ok(store:getGallery(g._id))
      assert.equal(2, after.totalItems)
      assert.equal(g._updatedDate, after._updatedDate)
      assert.equal(2, #S.ok(store:listGalleryItems(g._id)).items)
    end)

    it("a failed createGallery with bad items creates no gallery", function()
      local items = { S.image_item(), S.video_item(), { text = {} } }
      S.expect_err("INVALID_ARGUMENT", "gallery.items[3].text.html", store.createGallery, store,
        { gallery = { name = "never", items = items } })
      S.expect_err("INVALID_ARGUMENT", "gallery.items[1].image.imageInfo", store.createGallery, store,
        { cloneFromGalleryId = g._id, gallery = { items = { { image = {} } } } })
      local l = S.ok(store:listGalleries())
      assert.equal(1, l.totalGalleries)
      assert.equal(g._id, l.galleries[1]._id)
    end)

    it("a failed update changes no field, not even the valid ones", function()
      local ids = { galleryId = g._id, itemId = g.items[1]._id }
      S.expect_err("INVALID_ARGUMENT", "item.image.quality", store.updateGalleryItem, store, ids,
        { title = "would change", image = { imageInfo = S.IMG2, quality = 1 } })
      assert.same(g.items[1], S.ok(store:getGalleryItem(ids)))
      S.expect_err("INVALID_ARGUMENT", "gallery.sortOrder", store.updateGallery, store, g._id, { name = "would change", sortOrder = 0 / 0 })
      assert.same(g, S.ok(store:getGallery(g._id)))
    end)

    it("a bulk delete with a malformed id deletes nothing", function()
      S.expect_err("INVALID_ARGUMENT", "itemIds[3]", store.bulkDeleteGalleryItems, store, g._id,
        { g.items[1]._id, g.items[2]._id, "zzz" })
      assert.equal(2, S.ok(store:getGallery(g._id)).totalItems)
    end)
  end)

  describe("UNAVAILABLE", function()
    local function hold_lock(db, seconds, flag, done)
      local script = ("BEGIN IMMEDIATE;\n.shell touch %s\n.shell sleep %d\n.shell touch %s\nCOMMIT;\n")
        :format(flag, seconds, done)
      local cmd = ("(printf %%s %s | sqlite3 %s >/dev/null 2>&1 &)"):format(S.shell_quote(script), S.shell_quote(db))
      os.execute(cmd)
      -- whatever happens in the test, let the lock holder finish before cleanup
      finally(function() wait_for(done, seconds + 10) end)
      return wait_for(flag, 10)
    end

    it("a write blocked past busyTimeout returns UNAVAILABLE and changes nothing #sqlite", function()
      local db = S.tmppath()
      local flag, done = S.tmppath(".locked"), S.tmppath(".done")
      local w = S.ok(progallery.open { path = db, caller = "admin", busyTimeout = 100 })
      local gg = S.ok(w:createGallery { gallery = { name = "locked" } })
      assert.is_true(hold_lock(db, 4, flag, done), "the sqlite3 CLI did not take the lock")
      local res = S.call(w.createGalleryItem, w, gg._id, S.simple_item("blocked"))
      local returned_while_locked = not exists(done)
      S.assert_err("UNAVAILABLE", nil, res[1], res[2], res[3])
      assert.is_true(returned_while_locked, "the call waited for the lock instead of giving up after busyTimeout")
      res = S.call(w.updateGallery, w, gg._id, { name = "blocked" })
      S.assert_err("UNAVAILABLE", nil, res[1], res[2], res[3])
      -- reads still work under WAL while the writer holds its lock
      assert.equal("locked", S.ok(w:getGallery(gg._id)).name)
      assert.is_true(wait_for(done, 15))
      os.execute("sleep 0.3")
      -- after the lock is released the store works and the failed calls left nothing
      local after = S.ok(w:getGallery(gg._id))
      assert.equal("locked", after.name)
      assert.equal(0, after.totalItems)
      S.ok(w:createGalleryItem(gg._id, S.simple_item("now fine")))
      w:close()
    end)

    it("the default busyTimeout (5000 ms) waits for a 1 s lock #sqlite", function()
      local db = S.tmppath()
      local flag, done = S.tmppath(".locked"), S.tmppath(".done")
      local w = S.ok(progallery.open { path = db, caller = "admin" })
      local gg = S.ok(w:createGallery())
      assert.is_true(hold_lock(db, 1, flag, done))
      local x = S.ok(w:createGalleryItem(gg._id, S.simple_item("waited")))
      assert.equal("waited", x.title)
      assert.is_true(exists(done))
      w:close()
    end)

    it("a write waits for a lock shorter than busyTimeout #sqlite", function()
      local db = S.tmppath()
      local flag, done = S.tmppath(".locked"), S.tmppath(".done")
      local w = S.ok(progallery.open { path = db, caller = "admin", busyTimeout = 8000 })
      local gg = S.ok(w:createGallery())
      assert.is_true(hold_lock(db, 1, flag, done))
      local x = S.ok(w:createGalleryItem(gg._id, S.simple_item("waited")))
      assert.equal("waited", x.title)
      assert.is_true(exists(done), "the write succeeded while the lock was supposedly held")
      w:close()
    end)
  end)
end)
