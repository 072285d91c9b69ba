-- Spec section 10.4: progallery.events.dispatch.
local S = require "spec.support"
local progallery = S.progallery
local events = require "progallery.events"

describe("progallery.events.dispatch (10.4)", function()
  local store
  before_each(function() store = S.admin() end)
  after_each(function() store:close(); S.cleanup() end)

  it("calls the handler of each event in order, by Velo or SDK names, and moves the cursor", function()
    local g, items = S.gallery_with(store, 2)
    S.ok(store:updateGallery(g._id, { name = "x" }))
    local seen = {}
    local h = {
      wixProGallery_onGalleryCreated = function(e) seen[#seen + 1] = { "gc", e.entity._id, e.metadata.seq } end,
      onGalleryItemCreated = function(e) seen[#seen + 1] = { "ic", e.data.item._id, e.metadata.seq } end,
      onGalleryUpdated = function(e) seen[#seen + 1] = { "gu", e.entity.name, e.metadata.seq } end,
    }
    assert.equal(4, S.ok(events.dispatch(store, h)))
    assert.same({ { "gc", g._id, 1 }, { "ic", items[1]._id, 2 }, { "ic", items[2]._id, 3 }, { "gu", "x", 4 } }, seen)
    assert.equal(4, store:eventCursor("default"))
    assert.equal(0, S.ok(events.dispatch(store, h)))
    assert.equal(4, #seen)
  end)

  it("passes over events with no handler, counting them, and takes a consumer and a limit", function()
    local g = S.gallery_with(store, 3)
    S.ok(store:deleteGallery(g._id))
    local deleted = {}
    local h = { onGalleryItemDeleted = function(e) deleted[#deleted + 1] = e.data.itemId end }
    assert.equal(5, S.ok(events.dispatch(store, h, { consumer = "a", limit = 5 })))
    assert.equal(1, #deleted) -- seq 1..4: the gallery and its items; 5: the first deletion
    assert.equal(5, store:eventCursor("a"))
    assert.equal(3, S.ok(events.dispatch(store, h, { consumer = "a", limit = 5 })))
    assert.equal(3, #deleted)
    assert.equal(8, store:eventCursor("a"))
    assert.equal(0, store:eventCursor("default"))
    local gone = {}
    assert.equal(8, S.ok(events.dispatch(store, { wixProGallery_onGalleryDeleted = function(e) gone[#gone + 1] = e.metadata.entityId end },
      { consumer = "b", limit = 1000 })))
    assert.same({ g._id }, gone)
  end)

  it("a raising handler stops dispatch at its event, which is handed again next time", function()
    S.gallery_with(store, 3)
    local calls, fail_at = {}, 3
    local h = { onGalleryCreated = function() end, onGalleryItemCreated = function(e)
      calls[#calls + 1] = e.metadata.seq
      if e.metadata.seq == fail_at then error("index down") end
    end }
    local handled, msg = events.dispatch(store, h)
    assert.equal(2, handled)
    assert.matches("index down", msg)
    assert.equal(2, store:eventCursor("default"))
    fail_at = nil
    assert.equal(2, S.ok(events.dispatch(store, h)))
    assert.same({ 2, 3, 3, 4 }, calls)
  end)

  it("a new consumer is registered by its first dispatch, so pruning waits for it", function()
    local s2 = S.ok(progallery.open { path = ":memory:", caller = "admin", eventRetention = 0 })
    assert.equal(0, S.ok(events.dispatch(s2, {}, { consumer = "late" })))
    S.gallery_with(s2, 2)
    S.gallery_with(s2, 0)
    local n = 0
    assert.equal(4, S.ok(events.dispatch(s2, { onGalleryItemCreated = function() n = n + 1 end }, { consumer = "late" })))
    assert.equal(2, n)
    s2:close()
  end)

  it("refuses bad handlers and options, naming them; the store's failures come back as nil, message, code", function()
    S.expect_err("INVALID_ARGUMENT", "handlers", events.dispatch, store, nil)
    -- objects that are no store, or raise when looked at: nil, message, code, never a raise
    local raising = setmetatable({}, { __index = function() error("boom") end })
    local bad_tostring = setmetatable({}, { __tostring = function() error("t") end })
    for _, notstore in ipairs { 5, "store", true, print, {}, io.stdout, raising } do
      S.expect_err("INVALID_ARGUMENT", "store", events.dispatch, notstore, {})
    end
    S.expect_err("INVALID_ARGUMENT", "handlers.(a table value)", events.dispatch, store, { [bad_tostring] = print })
    S.expect_err("INVALID_ARGUMENT", "(a table value)", events.dispatch, store, {}, { [bad_tostring] = 1 })
    -- options read raw: an __index that raises is not called
    assert.equal(0, S.ok(events.dispatch(store, {}, setmetatable({}, { __index = function() error("x") end }))))
    -- a handler raising an error value whose __tostring raises: the count, and a message
    S.ok(store:createGallery())
    local handled, why = events.dispatch(store, { onGalleryCreated = function() error(bad_tostring) end },
      { consumer = "raiser" })
    assert.equal(0, handled)
    assert.equal("(a table value)", why)
    S.expect_err("INVALID_ARGUMENT", "handlers.onGalleryCreate", events.dispatch, store, { onGalleryCreate = print })
    S.expect_err("INVALID_ARGUMENT", "handlers.onGalleryCreated", events.dispatch, store, { onGalleryCreated = 5 })
    local msg = S.expect_err("INVALID_ARGUMENT", nil, events.dispatch, store,
      { onGalleryCreated = function() end, wixProGallery_onGalleryCreated = function() end })
    assert.matches("given under both of its names", msg, 1, true)
    S.expect_err("INVALID_ARGUMENT", "bogus", events.dispatch, store, {}, { bogus = 1 })
    S.expect_err("INVALID_ARGUMENT", "consumer", events.dispatch, store, {}, { consumer = 5 })
    S.expect_err("INVALID_ARGUMENT", "name", events.dispatch, store, {}, { consumer = "" })
    S.expect_err("INVALID_ARGUMENT", "limit", events.dispatch, store, {}, { limit = 0 })
    local v = S.view(store, "visitor")
    S.expect_err("PERMISSION_DENIED", nil, events.dispatch, v, {})
    assert.equal(1, S.ok(progallery.elevate(events.dispatch)(v, {}))) -- the gallery created above
  end)

  it("examples/events.lua runs: a Velo-style events.js module driven by dispatch", function()
    local lpath, cpath = S.abs_paths()
    local db = S.tmppath()
    local cmd = ("LUA_PATH=%s LUA_CPATH=%s %s examples/events.lua %s"):format(S.shell_quote(lpath),
      S.shell_quote(cpath), S.lua_bin, S.shell_quote(db))
    local out, ok = S.sh(cmd)
    assert.is_true(ok, out)
    assert.matches("handled 5 events", out, 1, true)
    out, ok = S.sh(cmd) -- a second run hands over only the new changes
    assert.is_true(ok, out)
    assert.matches("handled 5 events; the cursor is at seq 10", out, 1, true)
  end)
end)
