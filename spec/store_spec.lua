-- Spec section 2: stores.
local S = require "spec.support"
local progallery = S.progallery

describe("store", function()
  after_each(S.cleanup)

  describe("module", function()
    it("has one version: lua/progallery/version.lua's, in the C module, every Lua module and the rockspec", function()
      local v = require "progallery.version"
      assert.matches("^%d+%.%d+%.%d+$", v)
      assert.equal(v, progallery._VERSION)
      for _, name in ipairs { "progallery.auth", "progallery.uri", "progallery.frontend", "progallery.rest" } do
        assert.equal(v, require(name)._VERSION, name)
      end
      local rockspecs = S.sh("ls progallery-*.rockspec")
      assert.equal("progallery-" .. v .. "-1.rockspec", rockspecs)
      local f = assert(io.open("progallery-" .. v .. "-1.rockspec"))
      local text = f:read("*a")
      f:close()
      assert.truthy(text:find('version = "' .. v .. '-1"', 1, true))
    end)

    it("exports only luaopen_progallery from the C module", function()
      local so = package.searchpath("progallery", package.cpath)
      local out = S.sh("nm -D --defined-only " .. S.shell_quote(so))
      local names = {}
      for name in out:gmatch("%x+ [TDBR] ([%w_]+)") do
        if not name:match("^_") then names[#names + 1] = name end
      end
      assert.same({ "luaopen_progallery" }, names)
    end)

    it("exposes null as the same value as cjson.null", function()
      local cjson = require "cjson"
      assert.equal("userdata", type(progallery.null))
      assert.is_true(rawequal(cjson.null, progallery.null))
    end)

    it("carries every API function and elevate at module level", function()
      for _, name in ipairs { "createGallery", "getGallery", "listGalleries", "updateGallery",
        "deleteGallery", "createGalleryItem", "createGalleryItems", "getGalleryItem",
        "updateGalleryItem", "deleteGalleryItem", "bulkDeleteGalleryItems", "listGalleryItems",
        "open", "elevate" } do
        assert.equal("function", type(progallery[name]), name)
      end
    end)

    it("progallery.elevate is require('progallery.auth').elevate", function()
      local auth = require "progallery.auth"
      assert.equal("function", type(auth.elevate))
      assert.is_true(rawequal(progallery.elevate, auth.elevate))
    end)
  end)

  describe("open", function()
    it("opens an in-memory store from an options table", function()
      local store, err, code = progallery.open { path = ":memory:" }
      assert.is_nil(err, tostring(err))
      assert.is_nil(code)
      assert.is_not_nil(store)
      local r = S.ok(store:listGalleries())
      assert.equal(0, r.totalGalleries)
      assert.same({}, r.galleries)
      store:close()
    end)

    it("accepts a bare path string #sqlite", function()
      local p = S.tmppath()
      local store = S.ok(progallery.open(p))
      local r = S.ok(store:listGalleries())
      assert.equal(0, r.totalGalleries)
      store:close()
      local f = io.open(p, "rb")
      assert.is_not_nil(f, "database file was not created")
      f:close()
    end)

    it("in-memory stores are private to each open", function()
      local a, b = S.admin(), S.admin()
      S.ok(a:createGallery { gallery = { name = "only in a" } })
      assert.equal(1, S.ok(a:listGalleries()).totalGalleries)
      assert.equal(0, S.ok(b:listGalleries()).totalGalleries)
      a:close(); b:close()
    end)

    it("defaults caller to visitor (writes denied)", function()
      local store = S.ok(progallery.open { path = ":memory:" })
      S.expect_err("PERMISSION_DENIED", nil, store.createGallery, store, { gallery = { name = "x" } })
      assert.equal(0, S.ok(store:listGalleries()).totalGalleries)
      store:close()
    end)

    it("caller = 'admin' allows writes", function()
      local store = S.admin()
      local g = S.ok(store:createGallery { gallery = { name = "x" } })
      assert.is_true(S.is_uuid(g._id))
      store:close()
    end)

    it("accepts synchronous 'full' and 'normal' and a busyTimeout", function()
      for _, sync in ipairs { "full", "normal" } do
        local p = S.tmppath()
        local store, err, code = progallery.open { path = p, caller = "admin", synchronous = sync, busyTimeout = 250 }
        assert.is_not_nil(store, tostring(err) .. " " .. tostring(code))
        local g = S.ok(store:createGallery { gallery = { name = sync } })
        assert.equal(sync, S.ok(store:getGallery(g._id)).name)
        store:close()
      end
    end)

    it("synchronous reaches SQLite: 'full' (the default) syncs the log at every commit, 'normal' does not", function()
      -- counted in a child process with an LD_PRELOAD shim around fsync/fdatasync (spec/sync_count.c)
      local dir = S.tmpdir()
      local shim = dir .. "/sync_count.so"
      local _, built = S.sh(("cc -shared -fPIC -o %s spec/sync_count.c -ldl"):format(S.shell_quote(shim)))
      assert.truthy(built, "cc could not build spec/sync_count.c")
      local lpath, cpath = S.abs_paths()
      local commits = 30
      local function syncs(mode)
        local out = dir .. "/" .. mode .. ".count"
        local prog = ([[package.path=%q; package.cpath=%q
          local s = assert(require("progallery").open { path = %q, caller = "admin", synchronous = %s })
          local g = assert(s:createGallery { gallery = { name = "sync" } })
          for i = 1, %d do assert(s:createGalleryItem(g._id, { title = "t" .. i })) end
          s:close()]]):format(lpath, cpath, dir .. "/" .. mode .. ".db",
                              mode == "default" and "nil" or ("%q"):format(mode), commits - 1)
        local preload = ((os.getenv("LD_PRELOAD") or "") .. " " .. shim):gsub("^ ", "")
        local cmd = ("LD_PRELOAD=%s SYNC_COUNT_OUT=%s %s -e %s"):format(S.shell_quote(preload),
          S.shell_quote(out), S.lua_bin, S.shell_quote(prog))
        local text, ok = S.sh(cmd)
        assert.truthy(ok, text)
        local f = assert(io.open(out))
        local n = tonumber(f:read("*l"))
        f:close()
        return n
      end
      local full, normal, default = syncs("full"), syncs("normal"), syncs("default")
      assert.truthy(full >= normal + commits, ("full %d, normal %d syncs"):format(full, normal))
      assert.truthy(default >= normal + commits, ("default %d, normal %d syncs"):format(default, normal))
      assert.truthy(normal < commits, ("normal: %d syncs for %d commits"):format(normal, commits))
    end)

    it("rejects bad options with nil, message, INVALID_ARGUMENT and never raises", function()
      local bad = {
        { synchronous = "sometimes" },
        { synchronous = 1 },
        { busyTimeout = -1 },
        { busyTimeout = "100" },
        { busyTimeout = 0 / 0 },
        { readonly = "yes" },
        { path = 42 },
        { path = "a\0b" },
        { caller = 42 },
        { caller = function() end },
        { bogusOption = true },
      }
      for _, opts in ipairs(bad) do
        if opts.path == nil then opts.path = ":memory:" end
        local res = S.call(progallery.open, opts)
        assert.is_nil(res[1], "accepted bad options")
        assert.equal("string", type(res[2]))
        assert.equal("INVALID_ARGUMENT", res[3], res[2])
      end
      -- every option of milliseconds: an integer >= 0 that fits an int, named in the message
      for _, key in ipairs { "busyTimeout", "connectTimeout", "statementTimeout" } do
        for _, v in ipairs { -1, 1.5, 2 ^ 31, 0 / 0, "100", true } do
          local res = S.call(progallery.open, { path = ":memory:", [key] = v })
          S.assert_err("INVALID_ARGUMENT", key, res[1], res[2], res[3])
          assert.matches("integer number of ms", res[2])
        end
      end
      local res = S.call(progallery.open, 42)
      assert.is_nil(res[1])
      assert.equal("INVALID_ARGUMENT", res[3])
    end)

    it("creates the file in WAL mode with a schema version in user_version #sqlite", function()
      local p = S.tmppath()
      local store = S.ok(progallery.open { path = p, caller = "admin" })
      S.ok(store:createGallery { gallery = { name = "x" } })
      assert.equal("wal", (S.sqlite(p, "PRAGMA journal_mode;")))
      local uv = tonumber((S.sqlite(p, "PRAGMA user_version;")))
      assert.is_number(uv)
      assert.is_true(uv >= 1, "user_version should be set, got " .. tostring(uv))
      store:close()
      -- reopening keeps the version
      local again = S.ok(progallery.open { path = p })
      again:close()
      assert.equal(uv, tonumber((S.sqlite(p, "PRAGMA user_version;"))))
    end)

    it("refuses a file whose user_version is newer than the code #sqlite", function()
      local p = S.tmppath()
      local store = S.ok(progallery.open { path = p, caller = "admin" })
      S.ok(store:createGallery { gallery = { name = "x" } })
      store:close()
      S.sqlite(p, "PRAGMA user_version=999;")
      assert.equal("999", (S.sqlite(p, "PRAGMA user_version;")))
      local res = S.call(progallery.open, { path = p, caller = "admin" })
      S.assert_err("FAILED_PRECONDITION", nil, res[1], res[2], res[3])
      -- and the file is left alone
      assert.equal("999", (S.sqlite(p, "PRAGMA user_version;")))
    end)

    it("refuses a fresh sqlite file stamped with a newer user_version #sqlite", function()
      local p = S.tmppath()
      S.sqlite(p, "PRAGMA user_version=999;")
      local res = S.call(progallery.open, { path = p })
      S.assert_err("FAILED_PRECONDITION", nil, res[1], res[2], res[3])
    end)

    it("persists data across close and reopen", function()
      local p = S.tmppath()
      local store = S.ok(progallery.open { path = p, caller = "admin" })
      local g = S.ok(store:createGallery { gallery = { name = "kept", items = { S.image_item() } } })
      store:close()
      local again = S.ok(progallery.open { path = p })
      local got = S.ok(again:getGallery(g._id))
      assert.equal("kept", got.name)
      assert.equal(1, got.totalItems)
      assert.equal(g.items[1]._id, got.items[1]._id)
      assert.same(S.image_item().image, got.items[1].image)
      assert.equal(g._createdDate, got._createdDate)
      again:close()
    end)

    it("two connections on one file see each other's writes", function()
      local p = S.tmppath()
      local a = S.ok(progallery.open { path = p, caller = "admin" })
      local b = S.ok(progallery.open { path = p, caller = "admin" })
      local g = S.ok(a:createGallery { gallery = { name = "from a" } })
      assert.equal("from a", S.ok(b:getGallery(g._id)).name)
      local it1 = S.ok(b:createGalleryItem(g._id, S.simple_item("from b")))
      local seen = S.ok(a:getGalleryItem { galleryId = g._id, itemId = it1._id })
      assert.equal("from b", seen.title)
      S.ok(b:deleteGallery(g._id))
      S.expect_err("NOT_FOUND", nil, a.getGallery, a, g._id)
      a:close(); b:close()
    end)
  end)

  describe("readonly", function()
    local p, gid
    before_each(function()
      p = S.tmppath()
      local w = S.ok(progallery.open { path = p, caller = "admin" })
      local g = S.ok(w:createGallery { gallery = { name = "ro", items = { S.image_item() } } })
      gid = g._id
      w:close()
    end)

    it("reads work and every write returns FAILED_PRECONDITION", function()
      local ro = S.ok(progallery.open { path = p, caller = "admin", readonly = true })
      local g = S.ok(ro:getGallery(gid))
      assert.equal("ro", g.name)
      local iid = g.items[1]._id
      local ids = { galleryId = gid, itemId = iid }
      local calls = {
        { "createGallery", { gallery = { name = "n" } } },
        { "createGallery", { cloneFromGalleryId = gid } },
        { "updateGallery", gid, { name = "n" } },
        { "deleteGallery", gid },
        { "createGalleryItem", gid, S.simple_item("x") },
        { "createGalleryItems", gid, { S.simple_item("x") } },
        { "updateGalleryItem", ids, { title = "n" } },
        { "deleteGalleryItem", ids },
        { "bulkDeleteGalleryItems", gid, { iid } },
      }
      for _, c in ipairs(calls) do
        local fn = ro[c[1]]
        S.expect_err("FAILED_PRECONDITION", nil, fn, ro, S.unpack(c, 2))
      end
      -- a writer on the same file is seen by the read-only store
      local w = S.ok(progallery.open { path = p, caller = "admin" })
      S.ok(w:updateGallery(gid, { name = "ro" }))
      local other = S.ok(w:createGallery { gallery = { name = "written elsewhere" } })
      assert.equal("written elsewhere", S.ok(ro:getGallery(other._id)).name)
      S.ok(w:deleteGallery(other._id))
      w:close()
      -- nothing changed by the refused writes
      local after = S.ok(ro:getGallery(gid))
      assert.equal("ro", after.name)
      assert.equal(1, after.totalItems)
      assert.equal(1, S.ok(ro:listGalleries()).totalGalleries)
      ro:close()
    end)
  end)

  describe("close", function()
    local function all_calls(store, gid)
      gid = gid or S.MISSING_ID
      local ids = { galleryId = gid, itemId = S.MISSING_ID2 }
      return {
        { "createGallery" },
        { "getGallery", gid },
        { "listGalleries" },
        { "updateGallery", gid, { name = "x" } },
        { "deleteGallery", gid },
        { "createGalleryItem", gid, S.simple_item("x") },
        { "createGalleryItems", gid, { S.simple_item("x") } },
        { "getGalleryItem", ids },
        { "updateGalleryItem", ids, { title = "x" } },
        { "deleteGalleryItem", ids },
        { "bulkDeleteGalleryItems", gid, { S.MISSING_ID2 } },
        { "listGalleryItems", gid },
      }
    end

    local function assert_closed(store, gid)
      for _, c in ipairs(all_calls(store, gid)) do
        local res = S.call(store[c[1]], store, S.unpack(c, 2))
        assert.is_nil(res[1], c[1])
        assert.equal("store is closed", res[2], c[1])
        assert.equal("FAILED_PRECONDITION", res[3], c[1])
      end
    end

    it("is idempotent and every call afterwards fails with 'store is closed'", function()
      local store = S.admin()
      local g = S.ok(store:createGallery())
      S.call(store.close, store)
      S.call(store.close, store)
      S.call(store.close, store)
      assert_closed(store, g._id)
    end)

    it("bad arguments on a closed store still report the closed store first", function()
      local store = S.admin()
      store:close()
      local res = S.call(store.getGallery, store, "not-a-uuid")
      assert.equal("store is closed", res[2])
      assert.equal("FAILED_PRECONDITION", res[3])
      res = S.call(store.createGalleryItems, store, 42, 42)
      assert.equal("FAILED_PRECONDITION", res[3])
    end)

    it("store:as on a closed store is FAILED_PRECONDITION, not a raise", function()
      local store = S.admin()
      store:close()
      local res = S.call(store.as, store, "admin")
      assert.is_nil(res[1])
      assert.equal("store is closed", res[2])
      assert.equal("FAILED_PRECONDITION", res[3])
    end)

    it("a closed file store releases the file: it can be reopened and written", function()
      local p = S.tmppath()
      local store = S.ok(progallery.open { path = p, caller = "admin" })
      S.ok(store:createGallery())
      store:close()
      local again = S.ok(progallery.open { path = p, caller = "admin", busyTimeout = 100 })
      S.ok(again:createGallery())
      assert.equal(2, S.ok(again:listGalleries()).totalGalleries)
      again:close()
    end)

    if _VERSION == "Lua 5.4" and not S.is_luajit then
      it("__close closes the store at the end of a <close> block", function()
        local chunk = assert(load([[
          local progallery = ...
          local outer
          do
            local store <close> = progallery.open { path = ":memory:", caller = "admin" }
            outer = store
            assert(store:createGallery())
          end
          return outer
        ]]))
        local store = chunk(progallery)
        assert_closed(store)
      end)

      it("__close on a view closes only the view", function()
        local base = S.admin()
        local chunk = assert(load([[
          local base = ...
          local outer
          do
            local view <close> = assert(base:as("admin"))
            outer = view
            assert(view:createGallery())
          end
          return outer
        ]]))
        local view = chunk(base)
        local res = S.call(view.listGalleries, view)
        assert.equal("store is closed", res[2])
        assert.equal("FAILED_PRECONDITION", res[3])
        assert.equal(1, S.ok(base:listGalleries()).totalGalleries)
        base:close()
      end)
    end

    it("has a __gc metamethod (garbage collection closes)", function()
      local store = S.admin()
      local mt = debug.getmetatable(store)
      assert.equal("table", type(mt))
      assert.equal("function", type(rawget(mt, "__gc")))
      if not S.is_luajit then
        assert.equal("function", type(rawget(mt, "__close")))
      end
      store:close()
    end)
  end)

  describe("as(identity)", function()
    it("returns a view on the same data running as the identity", function()
      local store = S.ok(progallery.open { path = ":memory:" }) -- visitor
      S.expect_err("PERMISSION_DENIED", nil, store.createGallery, store)
      local admin = S.view(store, "admin")
      local g = S.ok(admin:createGallery { gallery = { name = "via view" } })
      -- the base store sees the view's write
      assert.equal("via view", S.ok(store:getGallery(g._id)).name)
      -- a visitor view of an admin store is denied
      local adm = S.admin()
      local vis = S.view(adm, "visitor")
      S.expect_err("PERMISSION_DENIED", nil, vis.createGallery, vis)
      S.ok(adm:createGallery())
      assert.equal(1, S.ok(vis:listGalleries()).totalGalleries)
      store:close(); adm:close()
    end)

    it("accepts a { role, id } table identity", function()
      local store = S.ok(progallery.open { path = ":memory:" })
      local v = S.view(store, { role = "admin", id = "owner-1" })
      S.ok(v:createGallery())
      local m = S.view(store, { role = "member", id = "m-1" })
      S.expect_err("PERMISSION_DENIED", nil, m.createGallery, m)
      assert.equal(1, S.ok(m:listGalleries()).totalGalleries)
      store:close()
    end)

    it("an unknown identity is INVALID_ARGUMENT, never a raise", function()
      local store = S.admin()
      for _, who in ipairs { "root", "", 42, true, { role = "superuser" }, { id = "x" }, function() end, io.stdout } do
        local res = S.call(store.as, store, who)
        assert.is_nil(res[1], tostring(who))
        assert.equal("string", type(res[2]))
        assert.equal("INVALID_ARGUMENT", res[3])
      end
      store:close()
    end)

    it("closing a view closes only the view", function()
      local store = S.admin()
      local view = S.view(store, "admin")
      local g = S.ok(view:createGallery { gallery = { name = "v" } })
      view:close()
      view:close() -- idempotent
      local res = S.call(view.getGallery, view, g._id)
      assert.is_nil(res[1])
      assert.equal("store is closed", res[2])
      assert.equal("FAILED_PRECONDITION", res[3])
      -- the store is still open
      assert.equal("v", S.ok(store:getGallery(g._id)).name)
      S.ok(store:createGallery())
      -- and a new view still works
      local v2 = S.view(store, "visitor")
      assert.equal(2, S.ok(v2:listGalleries()).totalGalleries)
      store:close()
    end)

    it("closing the store closes its views", function()
      local store = S.admin()
      local view = S.view(store, "visitor")
      store:close()
      local res = S.call(view.listGalleries, view)
      assert.is_nil(res[1])
      assert.equal("store is closed", res[2])
      assert.equal("FAILED_PRECONDITION", res[3])
    end)

    it("collecting a view does not close the store", function()
      local store = S.admin()
      do
        local v = S.view(store, "admin")
        S.ok(v:createGallery())
        v = nil
      end
      collectgarbage(); collectgarbage()
      assert.equal(1, S.ok(store:listGalleries()).totalGalleries)
      store:close()
    end)
  end)

  describe("default store (module-level functions)", function()
    local function run_lua(dir, env, code)
      local lpath, cpath = S.abs_paths()
      local prog = ("package.path=%q; package.cpath=%q; %s"):format(lpath, cpath, code)
      local cmd = ("cd %s && %s %s -e %s"):format(S.shell_quote(dir), env, S.lua_bin, S.shell_quote(prog))
      return S.sh(cmd)
    end

    it("uses PROGALLERY_DB and default options (visitor caller) #sqlite", function()
      local dir = S.tmpdir()
      local db = dir .. "/env.db"
      local out = run_lua(dir, "PROGALLERY_DB=" .. S.shell_quote(db), [[
        local p = require "progallery"
        local r, e, c = p.createGallery { gallery = { name = "x" } }
        io.write("denied=", tostring(c), "\n")
        local g = assert(p.elevate(function() return p.createGallery { gallery = { name = "env" } } end)())
        local l = assert(p.listGalleries())
        io.write("id=", g._id, "\n", "total=", l.totalGalleries, "\n")
      ]])
      assert.matches("denied=PERMISSION_DENIED", out)
      assert.matches("total=1", out)
      local id = out:match("id=([%x%-]+)")
      assert.is_true(S.is_uuid(id), out)
      local store = S.ok(progallery.open { path = db })
      assert.equal("env", S.ok(store:getGallery(id)).name)
      store:close()
      local f = io.open(dir .. "/progallery.db", "rb")
      assert.is_nil(f, "progallery.db must not be created when PROGALLERY_DB is set")
      S.sh("rm -rf " .. S.shell_quote(dir))
    end)

    it("falls back to ./progallery.db without PROGALLERY_DB #sqlite", function()
      local dir = S.tmpdir()
      local out = run_lua(dir, "env -u PROGALLERY_DB", [[
        local p = require "progallery"
        local g = assert(p.elevate(p.createGallery)({ gallery = { name = "default" } }))
        io.write("id=", g._id, "\n")
      ]])
      local id = out:match("id=([%x%-]+)")
      assert.is_true(S.is_uuid(id), out)
      local store = S.ok(progallery.open { path = dir .. "/progallery.db" })
      assert.equal("default", S.ok(store:getGallery(id)).name)
      store:close()
      S.sh("rm -rf " .. S.shell_quote(dir))
    end)

    it("open{} without a path takes PROGALLERY_DB, else ./progallery.db #sqlite", function()
      local dir = S.tmpdir()
      local code = [[
        local s = assert(require("progallery").open { caller = "admin" })
        io.write("id=", assert(s:createGallery { gallery = { name = "opened" } })._id, "\n")
        s:close()
      ]]
      local env_id = run_lua(dir, "PROGALLERY_DB=" .. S.shell_quote(dir .. "/env.db"), code):match("id=([%x%-]+)")
      local cwd_id = run_lua(dir, "env -u PROGALLERY_DB", code):match("id=([%x%-]+)")
      assert.is_true(S.is_uuid(env_id) and S.is_uuid(cwd_id), tostring(env_id) .. " " .. tostring(cwd_id))
      for file, id in pairs { ["env.db"] = env_id, ["progallery.db"] = cwd_id } do
        local store = S.ok(progallery.open { path = dir .. "/" .. file })
        assert.equal("opened", S.ok(store:getGallery(id)).name)
        assert.equal(1, S.ok(store:listGalleries()).totalGalleries, file)
        store:close()
      end
      S.sh("rm -rf " .. S.shell_quote(dir))
    end)

    it("writes dates in UTC whatever the process time zone", function()
      local dir = S.tmpdir()
      local out = run_lua(dir, "TZ=Asia/Kolkata", [[
        local s = assert(require("progallery").open { path = ":memory:", caller = "admin" })
        io.write("date=", assert(s:createGallery())._createdDate, "\n", "now=", os.time(), "\n")
      ]])
      local date, now = out:match("date=(%S+)"), tonumber(out:match("now=(%d+)"))
      assert.truthy(date and now, out)
      assert.is_true(math.abs(S.date_ms(date) - now * 1000) < 120000, out) -- +05:30 would be off by 5.5 h
    end)
  end)

  describe("module", function()
    it("is the C module itself: no progallery.lua or progallery/init.lua to shadow it", function()
      assert.is_nil(package.searchpath("progallery", "./lua/?.lua;./lua/?/init.lua"))
      assert.equal("C", debug.getinfo(S.raw_open or progallery.open, "S").what) -- S.raw_open: under the PostgreSQL run
      assert.equal(progallery.elevate, require("progallery.auth").elevate)
      assert.equal("string", type(progallery._VERSION))
    end)
  end)
end)
