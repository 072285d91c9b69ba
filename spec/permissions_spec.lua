-- Spec section 5 (and the check order of section 3): permissions and elevation.
local S = require "spec.support"
local progallery = S.progallery

describe("permissions", function()
  local base, admin, gid, iid, iid2

  before_each(function()
    base = S.ok(progallery.open { path = ":memory:" }) -- visitor
    admin = S.view(base, "admin")
    local g = S.ok(admin:createGallery { gallery = { name = "G", items = { S.image_item(), S.video_item() } } })
    gid, iid, iid2 = g._id, g.items[1]._id, g.items[2]._id
  end)
  after_each(function()
    base:close()
    S.cleanup()
  end)

  -- every write, as a list of { name, args... } built against the fixture
  local function writes()
    return {
      { "createGallery", { gallery = { name = "new" } } },
      { "createGallery" },
      { "createGallery", { cloneFromGalleryId = gid } },
      { "updateGallery", gid, { name = "changed" } },
      { "deleteGallery", gid },
      { "createGalleryItem", gid, S.simple_item("new") },
      { "createGalleryItems", gid, { S.simple_item("new1"), S.simple_item("new2") } },
      { "updateGalleryItem", { galleryId = gid, itemId = iid }, { title = "changed" } },
      { "moveGalleryItems", gid, { iid2 }, { before = iid } },
      { "deleteGalleryItem", { galleryId = gid, itemId = iid } },
      { "bulkDeleteGalleryItems", gid, { iid, iid2 } },
    }
  end

  local function snapshot()
    local l = S.ok(admin:listGalleries { itemLimit = 100 })
    return l
  end

  local function assert_all_denied(store, label)
    local before = snapshot()
    for _, w in ipairs(writes()) do
      local msg = S.expect_err("PERMISSION_DENIED", nil, store[w[1]], store, S.unpack(w, 2))
      assert.is_truthy(#msg > 0, label .. " " .. w[1])
    end
    assert.same(before, snapshot())
  end

  local function assert_all_allowed(store, label)
    for i = 1, #writes() do
      local w = writes()[i] -- built against the current fixture ids
      local r, msg, code = store[w[1]](store, S.unpack(w, 2))
      assert.is_not_nil(r, ("%s %s: %s %s"):format(label, w[1], tostring(msg), tostring(code)))
      if w[1] == "deleteGallery" or w[1] == "deleteGalleryItem" or w[1] == "bulkDeleteGalleryItems" then
        local g = S.ok(admin:createGallery { gallery = { name = "G", items = { S.image_item(), S.video_item() } } })
        gid, iid, iid2 = g._id, g.items[1]._id, g.items[2]._id
      end
    end
  end

  describe("identities", function()
    for _, who in ipairs { "visitor", "member" } do
      it(who .. " is denied every write and nothing changes", function()
        assert_all_denied(S.view(base, who), who)
      end)
    end

    it("{ role = 'member' / 'visitor', id } tables are denied", function()
      assert_all_denied(S.view(base, { role = "member", id = "m-1" }), "member table")
      assert_all_denied(S.view(base, { role = "visitor", id = "v-1" }), "visitor table")
      assert_all_denied(S.view(base, { role = "visitor" }), "visitor table without id")
    end)

    it("a store opened with caller = 'member' is denied", function()
      local m = S.ok(progallery.open { path = ":memory:", caller = "member" })
      S.expect_err("PERMISSION_DENIED", nil, m.createGallery, m)
      S.expect_err("PERMISSION_DENIED", nil, m.createGallery, m, { gallery = { name = "x" } })
      assert.equal(0, S.ok(m:listGalleries()).totalGalleries)
      m:close()
      local t = S.ok(progallery.open { path = ":memory:", caller = { role = "admin", id = "a" } })
      S.ok(t:createGallery())
      t:close()
    end)

    it("admin may do every write", function()
      assert_all_allowed(admin, "admin")
    end)

    it("{ role = 'admin', id } may do every write", function()
      assert_all_allowed(S.view(base, { role = "admin", id = "owner" }), "admin table")
    end)

    it("reads are open to every identity", function()
      for _, who in ipairs { "visitor", "member", "admin", { role = "member", id = "x" }, { role = "visitor" } } do
        local v = S.view(base, who)
        assert.equal("G", S.ok(v:getGallery(gid)).name)
        assert.equal(1, S.ok(v:listGalleries()).totalGalleries)
        assert.equal(2, #S.ok(v:listGalleryItems(gid)).items)
        assert.equal(iid, S.ok(v:getGalleryItem { galleryId = gid, itemId = iid })._id)
      end
    end)

    it("denial does not depend on argument validity", function()
      local v = S.view(base, "visitor")
      S.expect_err("PERMISSION_DENIED", nil, v.createGalleryItem, v, "bad id", { bogus = 1 })
      S.expect_err("PERMISSION_DENIED", nil, v.createGalleryItems, v, gid, {})
      S.expect_err("PERMISSION_DENIED", nil, v.updateGallery, v, S.MISSING_ID, { name = 5 })
      S.expect_err("PERMISSION_DENIED", nil, v.deleteGallery, v, S.MISSING_ID)
      S.expect_err("PERMISSION_DENIED", nil, v.bulkDeleteGalleryItems, v, gid, {})
      S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v, { cloneFromGalleryId = "nope" })
    end)
  end)

  describe("check order", function()
    it("closed store first", function()
      local v = S.view(base, "visitor")
      v:close()
      local res = S.call(v.createGalleryItem, v, "bad", { bogus = 1 })
      assert.equal("store is closed", res[2])
      assert.equal("FAILED_PRECONDITION", res[3])
    end)

    it("then PERMISSION_DENIED, then read-only, then arguments, then existence", function()
      local p = S.tmppath()
      local w = S.ok(progallery.open { path = p, caller = "admin" })
      S.ok(w:createGallery())
      w:close()
      local ro_visitor = S.ok(progallery.open { path = p, readonly = true })
      local ro_admin = S.view(ro_visitor, "admin")
      S.expect_err("PERMISSION_DENIED", nil, ro_visitor.createGalleryItem, ro_visitor, "bad", { bogus = 1 })
      S.expect_err("FAILED_PRECONDITION", nil, ro_admin.createGalleryItem, ro_admin, "bad", { bogus = 1 })
      S.expect_err("FAILED_PRECONDITION", nil, ro_admin.deleteGallery, ro_admin, S.MISSING_ID)
      ro_visitor:close()
      S.expect_err("INVALID_ARGUMENT", "item.bogus", admin.createGalleryItem, admin, S.MISSING_ID, { bogus = 1 })
      S.expect_err("NOT_FOUND", nil, admin.createGalleryItem, admin, S.MISSING_ID, { title = "ok" })
    end)
  end)

  describe("elevate", function()
    local auth
    before_each(function() auth = require "progallery.auth" end)

    it("progallery.elevate and progallery.auth.elevate are the same function", function()
      assert.equal("function", type(progallery.elevate))
      assert.is_true(rawequal(progallery.elevate, auth.elevate))
    end)

    for _, which in ipairs { "progallery.elevate", "auth.elevate" } do
      it("allows every write for the duration of the call (" .. which .. ")", function()
        local elevate = which == "auth.elevate" and auth.elevate or progallery.elevate
        local v = S.view(base, "visitor")
        for i = 1, #writes() do
          local w = writes()[i]
          local f = elevate(function(...) return v[w[1]](v, ...) end)
          local r, msg, code = f(S.unpack(w, 2))
          assert.is_not_nil(r, ("%s: %s %s"):format(w[1], tostring(msg), tostring(code)))
          if w[1]:match("^delete") or w[1] == "bulkDeleteGalleryItems" then
            local g = S.ok(admin:createGallery { gallery = { name = "G", items = { S.image_item(), S.video_item() } } })
            gid, iid, iid2 = g._id, g.items[1]._id, g.items[2]._id
          end
          -- and the elevation is gone afterwards
          S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v)
        end
      end)
    end

    it("elevating a store method directly works (elevate(store.createGallery))", function()
      local v = S.view(base, "member")
      local g = S.ok(progallery.elevate(v.createGallery)(v, { gallery = { name = "direct" } }))
      assert.equal("direct", g.name)
      S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v)
    end)

    it("passes arguments and every return value unchanged, nils included", function()
      local seen
      local f = progallery.elevate(function(...)
        seen = { n = select("#", ...), ... }
        return nil, 2, nil, "four", nil
      end)
      local t = {}
      local r = { n = select("#", f(1, nil, t, nil)), f(1, nil, t, nil) }
      assert.equal(4, seen.n)
      assert.equal(1, seen[1])
      assert.is_nil(seen[2])
      assert.is_true(rawequal(t, seen[3]))
      assert.equal(5, r.n)
      assert.is_nil(r[1])
      assert.equal(2, r[2])
      assert.is_nil(r[3])
      assert.equal("four", r[4])
      assert.is_nil(r[5])
      local none = progallery.elevate(function() end)
      assert.equal(0, select("#", none()))
      local many = progallery.elevate(function() return S.unpack({ n = 300 }, 1, 300) end)
      assert.equal(300, select("#", many()))
    end)

    it("a denied call inside an elevated function does not happen (elevated calls succeed)", function()
      local v = S.view(base, "visitor")
      local f = progallery.elevate(function()
        return v:createGallery { gallery = { name = "in" } }
      end)
      assert.equal("in", S.ok(f()).name)
      assert.equal(2, S.ok(admin:listGalleries()).totalGalleries)
    end)

    it("ends when the function raises; the error propagates unchanged", function()
      local v = S.view(base, "visitor")
      local obj = { "custom error object" }
      local f = progallery.elevate(function() error(obj) end)
      local ok, e = pcall(f)
      assert.is_false(ok)
      assert.is_true(rawequal(obj, e))
      S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v)
      local plain = function() error("plain message") end
      local ok1, e1 = pcall(plain)
      local ok2, e2 = pcall(progallery.elevate(plain))
      assert.is_false(ok1); assert.is_false(ok2)
      assert.equal(e1, e2)
      local ok3, e3 = pcall(progallery.elevate(function() error("no position", 0) end))
      assert.is_false(ok3)
      assert.equal("no position", e3)
      local ok4, e4 = pcall(progallery.elevate(function() error() end))
      assert.is_false(ok4)
      assert.is_nil(e4)
      S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v)
      assert.equal(1, S.ok(admin:listGalleries()).totalGalleries)
    end)

    it("nests: an inner elevated call returning or raising does not end the outer elevation", function()
      local v = S.view(base, "visitor")
      local inner = progallery.elevate(function() return "inner" end)
      local inner_err = progallery.elevate(function() error("inner failed") end)
      local f = progallery.elevate(function()
        assert.equal("inner", inner())
        local a = v:createGallery { gallery = { name = "after inner" } }
        local ok = pcall(inner_err)
        local b = v:createGallery { gallery = { name = "after inner error" } }
        return a, b, ok
      end)
      local a, b, ok = f()
      assert.is_false(ok)
      assert.equal("after inner", a and a.name)
      assert.equal("after inner error", b and b.name)
      S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v)
      -- elevate of an elevated function
      local twice = progallery.elevate(progallery.elevate(function() return v:createGallery() end))
      assert.is_not_nil(twice())
      S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v)
    end)

    it("does not leak into a coroutine created inside the elevated function", function()
      local v = S.view(base, "visitor")
      local inside, outside
      progallery.elevate(function()
        inside = { coroutine.wrap(function() return v:createGallery() end)() }
        outside = { v:createGallery() }
      end)()
      assert.is_nil(inside[1])
      assert.equal("PERMISSION_DENIED", inside[3])
      assert.is_not_nil(outside[1])
      assert.equal(2, S.ok(admin:listGalleries()).totalGalleries)
    end)

    it("holds across a yield and never leaks into other coroutines meanwhile", function()
      local v = S.view(base, "visitor")
      local f = progallery.elevate(function()
        local a = { v:createGallery { gallery = { name = "before yield" } } }
        coroutine.yield("paused")
        local b = { v:createGallery { gallery = { name = "after yield" } } }
        return a, b
      end)
      local co = coroutine.create(f)
      local ok, what = coroutine.resume(co)
      assert.is_true(ok, tostring(what))
      assert.equal("paused", what)
      -- while co is suspended inside the elevated call:
      S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v) -- main
      local other = coroutine.wrap(function() return { v:createGallery() } end)()
      assert.is_nil(other[1])
      assert.equal("PERMISSION_DENIED", other[3])
      -- a second, independent request coroutine that yields too
      local co2 = coroutine.create(function()
        coroutine.yield()
        return v:createGallery()
      end)
      coroutine.resume(co2)
      local ok2, r2, m2, c2 = coroutine.resume(co2)
      assert.is_true(ok2)
      assert.is_nil(r2)
      assert.equal("PERMISSION_DENIED", c2, tostring(m2))
      -- resume the elevated one: still elevated after the yield
      local ok3, a, b = coroutine.resume(co)
      assert.is_true(ok3, tostring(a))
      assert.equal("before yield", a[1] and a[1].name, tostring(a[2]))
      assert.equal("after yield", b[1] and b[1].name, tostring(b[2]))
      assert.equal("dead", coroutine.status(co))
      S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v)
      assert.equal(3, S.ok(admin:listGalleries()).totalGalleries)
    end)

    it("two interleaved coroutines: only the elevated one may write", function()
      local v = S.view(base, "visitor")
      local log = {}
      local elevated = coroutine.create(progallery.elevate(function()
        for i = 1, 3 do
          local r, _, code = v:createGallery()
          log[#log + 1] = "E" .. i .. ":" .. (r and "ok" or code)
          coroutine.yield()
        end
      end))
      local plain = coroutine.create(function()
        for i = 1, 3 do
          local r, _, code = v:createGallery()
          log[#log + 1] = "P" .. i .. ":" .. (r and "ok" or code)
          coroutine.yield()
        end
      end)
      for _ = 1, 4 do
        if coroutine.status(elevated) ~= "dead" then assert(coroutine.resume(elevated)) end
        if coroutine.status(plain) ~= "dead" then assert(coroutine.resume(plain)) end
      end
      assert.same({
        "E1:ok", "P1:PERMISSION_DENIED", "E2:ok", "P2:PERMISSION_DENIED", "E3:ok", "P3:PERMISSION_DENIED",
      }, log)
    end)

    it("an elevated coroutine that errors after yielding does not leave elevation behind", function()
      local v = S.view(base, "visitor")
      local co = coroutine.create(progallery.elevate(function()
        coroutine.yield()
        error("late failure")
      end))
      assert(coroutine.resume(co))
      local ok, e = coroutine.resume(co)
      assert.is_false(ok)
      assert.matches("late failure", e)
      S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v)
      -- an abandoned (never resumed) elevated coroutine does not elevate anyone else
      local abandoned = coroutine.create(progallery.elevate(function() coroutine.yield() end))
      assert(coroutine.resume(abandoned))
      abandoned = nil
      collectgarbage()
      S.expect_err("PERMISSION_DENIED", nil, v.createGallery, v)
    end)

    it("does not elevate reads' results or change what reads return", function()
      local v = S.view(base, "visitor")
      local plain = S.ok(v:getGallery(gid))
      local elevated = S.ok(progallery.elevate(function() return v:getGallery(gid) end)())
      assert.same(plain, elevated)
    end)

    -- every way out of an elevated call, then: a visitor write must be denied again
    local function still_denied(v, what)
      local r, msg, code = v:createGallery { gallery = { name = "after " .. what } }
      assert.is_nil(r, what .. ": a visitor wrote after the elevated call ended")
      assert.equal("PERMISSION_DENIED", code, what .. ": " .. tostring(msg))
    end

    it("ends when the elevated function returns more values than the stack can take back", function()
      local v = S.view(base, "visitor")
      local max = jit and 65500 or 1000000 -- each VM's stack limit in slots
      local big = {}
      for i = 1, max do big[i] = i end
      local function plain(n) return S.unpack(big, 1, n) end
      local f = progallery.elevate(function(n)
        assert(v:createGallery { gallery = { name = "inside" } })
        return S.unpack(big, 1, n)
      end)
      -- the most values a function can return here, then counts around it, so
      -- that the elevated call runs out of stack at each point after its function
      local lo, hi = 0, max
      while hi - lo > 1 do
        local mid = math.floor((lo + hi) / 2)
        if pcall(plain, mid) then lo = mid else hi = mid end
      end
      local failed = 0
      for n = lo - 30, lo + 2 do
        if not pcall(f, n) then failed = failed + 1 end
        still_denied(v, n .. " results")
      end
      assert.is_true(failed >= 2, "calls that ran out of stack: " .. failed)
    end)

    -- at(depth, seen) calls f `depth` levels down, calling seen(level) at each
    -- level on the way. One run from far too deep tells how deep the stack goes;
    -- then every depth around that, so that the overflow falls at each point of
    -- the elevated call in turn.
    local function overflow_around(at, v)
      local far, lowest = 10000000, nil
      assert.is_false(pcall(at, far, function(level) lowest = level end))
      local limit = far - lowest
      local overflows = 0
      for d = limit - 5, limit + 2 do
        local ok, err = pcall(at, d, function() end)
        if not ok then
          overflows = overflows + 1
          assert.matches("overflow", tostring(err))
        end
        still_denied(v, "depth " .. d)
      end
      assert.is_true(overflows >= 2, "overflows: " .. overflows)
    end

    it("ends when the elevated call is made where the Lua stack overflows", function()
      local v = S.view(base, "visitor")
      local f = progallery.elevate(function() return v:createGallery { gallery = { name = "deep" } } end)
      local function at(depth, seen)
        seen(depth)
        if depth == 0 then return (f()) end
        return (at(depth - 1, seen)) -- not a tail call: each level keeps a frame
      end
      overflow_around(at, v)
    end)

    it("ends when the elevated call is made where the C stack overflows", function()
      local v = S.view(base, "visitor")
      local f = progallery.elevate(function() return v:createGallery { gallery = { name = "deep" } } end)
      local function at(depth, seen)
        seen(depth)
        if depth == 0 then return (f()) end
        local ok, r = pcall(at, depth - 1, seen) -- each level a C call
        if not ok then error(r, 0) end
        return r
      end
      overflow_around(at, v)
    end)

    it("a message handler of an error from inside the elevated call is not elevated", function()
      local v = S.view(base, "visitor")
      local got
      local f = progallery.elevate(function() error("inside") end)
      local ok = xpcall(f, function(e)
        got = { v:createGallery { gallery = { name = "from the handler" } } }
        return e
      end)
      assert.is_false(ok)
      assert.is_nil(got[1])
      assert.equal("PERMISSION_DENIED", got[3])
    end)

    -- an object whose finalizer writes through the visitor store
    local function finalizable(fn)
      if newproxy then -- LuaJIT: tables have no __gc
        local p = newproxy(true)
        getmetatable(p).__gc = fn
        return p
      end
      return setmetatable({}, { __gc = fn })
    end

    it("a finalizer that runs during an elevated call is not elevated by it", function()
      local v = S.view(base, "visitor")
      local codes = {}
      local function write_from_finalizer()
        local r, _, code = v:createGallery { gallery = { name = "from a finalizer" } }
        codes[#codes + 1] = r and "written" or code
      end
      local f = progallery.elevate(function()
        for _ = 1, 20 do finalizable(write_from_finalizer) end
        collectgarbage() -- finalizers run inside collectgarbage, inside the elevated call
        for _ = 1, 20 do finalizable(write_from_finalizer) end
        local pause = collectgarbage("setpause", 0) -- and from allocations
        for i = 1, 20000 do local _ = { i } end
        collectgarbage("setpause", pause)
        return v:createGallery { gallery = { name = "elevated" } }
      end)
      assert(f())
      collectgarbage()
      assert.is_true(#codes >= 20, "finalizers ran: " .. #codes)
      for _, c in ipairs(codes) do assert.equal("PERMISSION_DENIED", c) end
      local names = {}
      local page, offset = nil, 0
      repeat
        page = S.ok(admin:listGalleries { limit = 10, offset = offset }).galleries
        for _, g in ipairs(page) do names[g.name or ""] = true end
        offset = offset + #page
      until #page == 0
      assert.is_nil(names["from a finalizer"])
      assert.is_true(names["elevated"])
    end)

    -- Lua 5.4 only: LuaJIT shows nothing by which a hook's frame can be told
    -- apart (docs/api.md, Permissions, says so)
    if not jit then it("a debug hook that runs during an elevated call is not elevated by it", function()
      local v = S.view(base, "visitor")
      local codes = {}
      local f = progallery.elevate(function()
        debug.sethook(function()
          debug.sethook()
          local r, _, code = v:createGallery { gallery = { name = "from a hook" } }
          codes[#codes + 1] = r and "written" or code
        end, "", 1)
        for i = 1, 100 do local _ = i * 2 end
        debug.sethook()
        return true
      end)
      assert(f())
      assert.same({ "PERMISSION_DENIED" }, codes)
    end) end
  end)
end)
