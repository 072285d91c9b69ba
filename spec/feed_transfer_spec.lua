-- Moving the event feed between stores (progallery export / import, docs/site.md): the
-- store methods _feedEvents, _feedConsumers, _feedEntitySeqs and _restoreFeed. The command's
-- round trips are in cli_spec; here the calls' rules and every way a restore refuses.
local S = require "spec.support"

local function feed_rows(store)
  local rows, after = {}, nil
  repeat
    local page = S.ok(store:_feedEvents { after = after, limit = 1000 })
    for _, e in ipairs(page.events) do rows[#rows + 1] = e end
    after = page.events[#page.events] and page.events[#page.events].seq
  until #page.events == 0
  return rows
end

-- a store with galleries, items, updates, a deletion and a consumer
local function filled()
  local store = S.admin()
  local g = S.ok(store:createGallery { gallery = { name = "A", items = { S.simple_item("a"), S.simple_item("b") } } })
  S.ok(store:updateGalleryItem({ galleryId = g._id, itemId = g.items[1]._id }, { title = "a2" }))
  S.ok(store:deleteGalleryItem { galleryId = g._id, itemId = g.items[2]._id })
  S.ok(store:setEventCursor("hook", 2))
  return store, g
end

describe("moving the feed (export / import)", function()
  after_each(function() S.cleanup() end)

  it("restores events, cursors and entity seqs so that the feed reads the same", function()
    local a, g = filled()
    local b = S.admin()
    local rows = feed_rows(a)
    assert.equal(S.ok(a:events { after = 0 }).lastSeq, #rows)
    -- galleries first (as import does), then the feed
    S.ok(b:_restoreGallery(S.ok(a:getGallery(g._id))))
    S.ok(b:_restoreFeed { prunedThrough = 0 })
    S.ok(b:_restoreFeed { events = { rows[1], rows[2] } })
    S.ok(b:_restoreFeed { events = { table.unpack(rows, 3) } })
    S.ok(b:_restoreFeed { consumers = S.ok(a:_feedConsumers()).consumers })
    S.ok(b:_restoreFeed { galleries = S.ok(a:_feedEntitySeqs()).galleries })
    assert.same(S.ok(a:events { after = 0 }), S.ok(b:events { after = 0 }))
    assert.same(feed_rows(a), feed_rows(b))
    assert.equal(2, b:eventCursor("hook"))
    assert.same(S.ok(a:_feedEntitySeqs()), S.ok(b:_feedEntitySeqs()))
    -- and the next write continues both feeds alike
    S.ok(a:updateGallery(g._id, { name = "B" }))
    S.ok(b:updateGallery(g._id, { name = "B" }))
    local ea, eb = S.ok(a:events { after = #rows }).events[1], S.ok(b:events { after = #rows }).events[1]
    assert.equal(ea.metadata.seq, eb.metadata.seq)
    assert.equal(ea.metadata.entityEventSequence, eb.metadata.entityEventSequence)
    a:close(); b:close()
  end)

  it("pages consumers by name and galleries by id", function()
    local store = S.admin()
    for _, n in ipairs { "c", "a", "b" } do S.ok(store:setEventCursor(n, 0)) end
    local p1 = S.ok(store:_feedConsumers { limit = 2 }).consumers
    assert.same({ "a", "b" }, { p1[1].name, p1[2].name })
    local p2 = S.ok(store:_feedConsumers { after = "b", limit = 2 }).consumers
    assert.same({ { name = "c", seq = 0 } }, p2)
    assert.same({}, S.ok(store:_feedEntitySeqs()).galleries)
    S.ok(store:createGallery { gallery = { name = "x" } })
    S.ok(store:createGallery { gallery = { name = "y" } })
    local gs = S.ok(store:_feedEntitySeqs { limit = 1000 }).galleries
    assert.equal(2, #gs)
    assert.truthy(gs[1].galleryId < gs[2].galleryId)
    assert.same({ gs[2] }, S.ok(store:_feedEntitySeqs { after = gs[1].galleryId }).galleries)
    store:close()
  end)

  it("refuses bad options and callers without the admin identity", function()
    local store = S.admin()
    S.expect_err("INVALID_ARGUMENT", "options.limit", store._feedEvents, store, { limit = 0 })
    S.expect_err("INVALID_ARGUMENT", "options.limit", store._feedEvents, store, { limit = 1001 })
    S.expect_err("INVALID_ARGUMENT", "options.after", store._feedEvents, store, { after = -1 })
    S.expect_err("INVALID_ARGUMENT", "options.after", store._feedConsumers, store, { after = 1 })
    S.expect_err("INVALID_ARGUMENT", "options.after", store._feedEntitySeqs, store, { after = "nope" })
    S.expect_err("INVALID_ARGUMENT", "bogus", store._feedEvents, store, { bogus = 1 })
    S.expect_err("INVALID_ARGUMENT", "options", store._feedEvents, store, "x")
    local visitor = S.view(store, "visitor")
    for _, fn in ipairs { "_feedEvents", "_feedConsumers", "_feedEntitySeqs" } do
      S.expect_err("PERMISSION_DENIED", nil, visitor[fn], visitor, {})
    end
    S.expect_err("PERMISSION_DENIED", nil, visitor._restoreFeed, visitor, { prunedThrough = 0 })
    store:close()
  end)

  it("refuses a restore that would not continue the feed, or rows the store cannot read", function()
    local a, g = filled()
    local rows = feed_rows(a)
    local b = S.admin()
    local function refused(code, path, part) S.expect_err(code, path, b._restoreFeed, b, part) end
    refused("INVALID_ARGUMENT", "part", {})
    refused("INVALID_ARGUMENT", "part", { events = rows, consumers = {} })
    refused("INVALID_ARGUMENT", "nope", { nope = 1 })
    refused("INVALID_ARGUMENT", "part.prunedThrough", { prunedThrough = -1 })
    refused("INVALID_ARGUMENT", "part.events", { events = {} })
    refused("INVALID_ARGUMENT", "part.events[1]", { events = { rows[2] } }) -- a gap
    local function with(i, k, v)
      local r = S.deepcopy(rows[i])
      r[k] = v
      return r
    end
    refused("INVALID_ARGUMENT", "part.events[1].seq", { events = { with(1, "seq", 0) } })
    refused("INVALID_ARGUMENT", "part.events[1].id", { events = { with(1, "id", "x") } })
    refused("INVALID_ARGUMENT", "part.events[1].galleryId", { events = { with(1, "galleryId", 7) } })
    refused("INVALID_ARGUMENT", "part.events[1].actor", { events = { with(1, "actor", 9) } })
    refused("INVALID_ARGUMENT", "part.events[1].time", { events = { with(1, "time", 1e300) } })
    refused("INVALID_ARGUMENT", "part.events[1]", { events = { with(1, "type", "wix.other") } })
    refused("INVALID_ARGUMENT", "part.events[1]", { events = { with(1, "sortOrder", 0 / 0) } })
    -- a misspelt, extra or missing member: refused, not dropped or defaulted (an event with
    -- no id read back with entityId "", an item's without itemId as the all-zero UUID)
    refused("INVALID_ARGUMENT", "part.events[1].bogus", { events = { with(1, "bogus", "x") } })
    refused("INVALID_ARGUMENT", "part.events[1].id", { events = { with(1, "id", nil) } })
    refused("INVALID_ARGUMENT", "part.events[1].galleryId", { events = { with(1, "galleryId", nil) } })
    refused("INVALID_ARGUMENT", "part.events[1].itemId", { events = { with(1, "itemId", g._id) } }) -- a gallery's
    local first_item
    for i, r in ipairs(rows) do if r.itemId then first_item = first_item or i end end
    assert.truthy(first_item)
    local before = {}
    for i = 1, first_item - 1 do before[i] = rows[i] end
    before[first_item] = with(first_item, "itemId", nil)
    refused("INVALID_ARGUMENT", "part.events[" .. first_item .. "].itemId", { events = before })
    -- an item event whose document is not one: the envelope cannot be built
    local item_row
    for i, r in ipairs(rows) do if r.type:find("item_created$") then item_row = i; break end end
    refused("INVALID_ARGUMENT", "part.events[2]", { events = { rows[1], with(item_row, "doc", "{") } })
    refused("INVALID_ARGUMENT", "part.consumers[1].seq", { consumers = { { name = "x", seq = 5 } } }) -- past the feed
    refused("INVALID_ARGUMENT", "part.consumers[1]", { consumers = { { name = "", seq = 0 } } })
    refused("NOT_FOUND", "part.galleries[1]", { galleries = { { galleryId = g._id, eventSeq = 3 } } })
    -- none of it changed the store
    assert.same({}, feed_rows(b))
    assert.equal(0, b:eventCursor("x"))
    -- a feed that is not empty takes no new beginning
    S.ok(b:_restoreFeed { events = { rows[1] } })
    refused("FAILED_PRECONDITION", "part.prunedThrough", { prunedThrough = 0 })
    a:close(); b:close()
  end)
end)
