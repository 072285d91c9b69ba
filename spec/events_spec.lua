-- Spec section 10.1-10.3: the events every write records, their envelope, the feed.
local S = require "spec.support"
local progallery = S.progallery

local GALLERY_TYPE = "wix.pro_gallery.gallery_v2_"
local ITEM_TYPE = "wix.pro_gallery.gallery_v2_gallery_item_"

local function feed(store, after)
  return S.ok(store:events { after = after or 0, limit = 1000 }).events
end

-- "created", "item_deleted", ... of each event after `after`
local function kinds(store, after)
  local out = {}
  for i, e in ipairs(feed(store, after)) do
    local t = e.metadata.eventType
    out[i] = t:sub(1, #ITEM_TYPE) == ITEM_TYPE and "item_" .. t:sub(#ITEM_TYPE + 1)
      or "gallery_" .. t:sub(#GALLERY_TYPE + 1)
  end
  return out
end

local function last_seq(store)
  return S.ok(store:events { after = 0, limit = 1000 }).lastSeq
end

-- the gallery a getGallery returns, as the event carries it (items = {})
local function without_items(g)
  local c = S.deepcopy(g)
  c.items = {}
  return c
end

describe("events (10.1): what each write records", function()
  local store
  before_each(function() store = S.admin() end)
  after_each(function() store:close(); S.cleanup() end)

  it("createGallery: gallery_created, then its items in order, cloned ones first", function()
    local src = S.ok(store:createGallery { gallery = { name = "S", items = { S.simple_item("a"), S.simple_item("b") } } })
    assert.same({ "gallery_created", "item_created", "item_created" }, kinds(store))
    local mark = last_seq(store)
    local c = S.ok(store:createGallery { cloneFromGalleryId = src._id,
      gallery = { items = { S.simple_item("given", -5) } } })
    local evs = feed(store, mark)
    assert.same({ "gallery_created", "item_created", "item_created", "item_created" }, kinds(store, mark))
    assert.equal(3, evs[1].entity.totalItems)
    assert.same({}, evs[1].entity.items)
    assert.same({ "a", "b", "given" }, { evs[2].data.item.title, evs[3].data.item.title, evs[4].data.item.title })
    for i = 1, 4 do assert.equal(c._id, evs[i].metadata.entityId) end
  end)

  it("a clone of more items than a chunk holds (600): every copy's event once, in the copies' order", function()
    -- the copies' events are read and appended a window at a time (api.c cloned_events)
    local src = S.gallery_with(store, 600, "S")
    local mark = last_seq(store)
    local c = S.ok(store:createGallery { cloneFromGalleryId = src._id,
      gallery = { items = { S.simple_item("given") } } })
    local evs = S.ok(store:events { after = mark, limit = 1000 }).events
    assert.equal(602, #evs)
    assert.equal("gallery_created", kinds(store, mark)[1])
    assert.equal(601, evs[1].entity.totalItems)
    local copies = S.all_items(store, c._id)
    assert.equal(601, #copies)
    for i = 1, 601 do
      local m, item = evs[i + 1].metadata, evs[i + 1].data.item
      assert.equal(mark + i + 1, m.seq)
      assert.equal(ITEM_TYPE .. "created", m.eventType)
      assert.equal(c._id, m.entityId)
      assert.same(copies[i], item)
    end
    assert.equal("t1", evs[2].data.item.title)
    assert.equal("t600", evs[601].data.item.title)
    assert.equal("given", evs[602].data.item.title)
  end)

  it("the entity and items are what the call returned", function()
    local g = S.ok(store:createGallery { gallery = { name = "G", items = { S.image_item(), S.video_item(), S.text_item() } } })
    local evs = feed(store)
    assert.same(without_items(g), evs[1].entity)
    for i = 1, 3 do assert.same(g.items[i], evs[i + 1].data.item) end
    local it = S.ok(store:updateGalleryItem({ galleryId = g._id, itemId = g.items[1]._id }, { title = "new", tags = progallery.null }))
    local up = feed(store, 4)
    assert.equal(ITEM_TYPE .. "updated", up[1].metadata.eventType)
    assert.same(it, up[1].data.updatedItem)
    local ug = S.ok(store:updateGallery(g._id, { name = "H" }))
    local ev = feed(store, 5)[1]
    assert.equal(GALLERY_TYPE .. "updated", ev.metadata.eventType)
    assert.same(without_items(ug), ev.entity)
    assert.is_nil(ev.data)
  end)

  it("items: one event per item, in input order; bulk deletes only what it deleted", function()
    local g = S.gallery_with(store, 0)
    local mark = last_seq(store)
    local one = S.ok(store:createGalleryItem(g._id, S.simple_item("one")))
    local many = S.ok(store:createGalleryItems(g._id, { S.simple_item("x", 9), S.simple_item("y", 1), S.simple_item("z") })).items
    assert.same({ "item_created", "item_created", "item_created", "item_created" }, kinds(store, mark))
    local evs = feed(store, mark)
    assert.same({ one._id, many[1]._id, many[2]._id, many[3]._id },
      { evs[1].data.item._id, evs[2].data.item._id, evs[3].data.item._id, evs[4].data.item._id })
    mark = last_seq(store)
    local other = S.gallery_with(store, 1)
    local mark2 = last_seq(store)
    local r = S.ok(store:bulkDeleteGalleryItems(g._id, { many[2]._id, S.MISSING_ID, many[1]._id, many[2]._id,
      S.all_items(store, other._id)[1]._id }))
    assert.same({ many[2]._id, many[1]._id }, r.itemIds)
    evs = feed(store, mark2)
    assert.equal(2, #evs)
    assert.same({ { itemId = many[2]._id }, { itemId = many[1]._id } }, { evs[1].data, evs[2].data })
    assert.is_nil(evs[1].metadata.originatedFrom)
    S.ok(store:deleteGalleryItem { galleryId = g._id, itemId = one._id })
    evs = feed(store, mark2 + 2)
    assert.same({ { itemId = one._id } }, { evs[1].data })
    assert.is_nil(evs[1].metadata.originatedFrom)
  end)

  it("deleteGallery: an item_deleted per item (Gallery Deleted), then gallery_deleted", function()
    local g, items = S.gallery_with(store, 3)
    local mark = last_seq(store)
    S.ok(store:deleteGallery(g._id))
    assert.same({ "item_deleted", "item_deleted", "item_deleted", "gallery_deleted" }, kinds(store, mark))
    local evs = feed(store, mark)
    local ids = {}
    for i = 1, 3 do
      ids[i] = evs[i].data.itemId
      assert.equal("Gallery Deleted", evs[i].metadata.originatedFrom)
    end
    table.sort(ids)
    local want = S.ids(items)
    table.sort(want)
    assert.same(want, ids)
    assert.same({ "metadata" }, (function() local k = {} for key in pairs(evs[4]) do k[#k + 1] = key end return k end)())
    assert.equal(g._id, evs[4].metadata.entityId)
  end)

  -- 512: the engine's last full batch is followed by an empty one (items_delete_some)
  for _, count in ipairs { 600, 512 } do
    it(("deleteGallery of more items than a chunk holds (%d): every event once, in order, numbered on"):format(count), function()
      -- the deletion appends its events a chunk at a time as it goes (api.c spill_events)
      local g, items = S.gallery_with(store, count)
      local mark = last_seq(store)
      local before = S.ok(store:events { after = mark - 1, limit = 1 }).events[1].metadata
      S.ok(store:deleteGallery(g._id))
      local evs = feed(store, mark)
      assert.equal(count + 1, #evs)
      local seen, eseq0 = {}, tonumber(before.entityEventSequence)
      local time = evs[1].metadata.eventTime
      for i, e in ipairs(evs) do
        local m = e.metadata
        assert.equal(mark + i, m.seq)
        assert.equal(g._id, m.entityId)
        assert.equal(tostring(eseq0 + i), m.entityEventSequence)
        assert.equal(time, m.eventTime)
        if i <= count then
          assert.equal("Gallery Deleted", m.originatedFrom)
          assert.is_nil(seen[e.data.itemId]); seen[e.data.itemId] = true
        end
      end
      for _, it in ipairs(items) do assert.is_true(seen[it._id], it._id) end
      assert.same("gallery_deleted", kinds(store, mark)[count + 1])
    end)
  end

  it("a failed or refused call records nothing", function()
    local g, items = S.gallery_with(store, 2)
    local mark = last_seq(store)
    S.expect_err("INVALID_ARGUMENT", nil, store.createGalleryItems, store, g._id, { S.simple_item("ok"), { bogus = 1 } })
    S.expect_err("NOT_FOUND", nil, store.updateGallery, store, S.MISSING_ID, { name = "x" })
    S.expect_err("NOT_FOUND", nil, store.deleteGalleryItem, store, { galleryId = g._id, itemId = S.MISSING_ID })
    S.expect_err("INVALID_ARGUMENT", nil, store.bulkDeleteGalleryItems, store, g._id, { items[1]._id, "nope" })
    local visitor = S.view(store, "visitor")
    S.expect_err("PERMISSION_DENIED", nil, visitor.createGallery, visitor, {})
    S.expect_err("NOT_FOUND", nil, store.createGallery, store, { cloneFromGalleryId = S.MISSING_ID })
    S.ok(store:bulkDeleteGalleryItems(g._id, { S.MISSING_ID }))
    assert.same({}, feed(store, mark))
    assert.equal(mark, last_seq(store))
  end)

  it("the events option: false records none (and nothing else changes)", function()
    local off = S.ok(progallery.open { path = ":memory:", caller = "admin", events = false })
    local g = S.gallery_with(off, 5)
    S.ok(off:deleteGallery(g._id))
    assert.same({ events = {}, lastSeq = 0 }, S.ok(off:events()))
    S.expect_err("INVALID_ARGUMENT", "events", progallery.open, { path = ":memory:", events = "no" })
    off:close()
  end)
end)

describe("events (10.2): the envelope", function()
  local store
  before_each(function() store = S.admin() end)
  after_each(function() store:close(); S.cleanup() end)

  it("metadata: id, seq, type, slug, fqdn, entity id, time, per-gallery sequence", function()
    local g1 = S.gallery_with(store, 2)
    local g2 = S.gallery_with(store, 1)
    S.ok(store:updateGallery(g1._id, { name = "again" }))
    local evs = feed(store)
    local slugs = { "created", "gallery_item_created", "gallery_item_created", "created", "gallery_item_created", "updated" }
    local ids, per = {}, {}
    for i, e in ipairs(evs) do
      local m = e.metadata
      assert.is_true(S.is_uuid(m._id))
      assert.is_nil(ids[m._id]); ids[m._id] = true
      assert.equal(i, m.seq)
      assert.equal(slugs[i], m.slug)
      assert.equal("wix.pro_gallery.v2.gallery", m.entityFqdn)
      assert.is_true(S.is_date(m.eventTime))
      assert.is_false(m.triggeredByAnonymizeRequest)
      assert.is_nil(m.originatedFrom)
      assert.matches("^%d+$", m.entityEventSequence)
      per[m.entityId] = (per[m.entityId] or 0) + 1
      assert.equal(tostring(per[m.entityId]), m.entityEventSequence)
    end
    assert.equal(g1._id, evs[1].metadata.entityId)
    assert.equal(g2._id, evs[4].metadata.entityId)
    assert.equal("4", evs[6].metadata.entityEventSequence)
    -- one call, one time (createGalleryItems' two items)
    assert.equal(evs[2].metadata.eventTime, evs[3].metadata.eventTime)
  end)

  it("each event type carries its data in the SDK's envelope shape", function()
    local g, items = S.gallery_with(store, 1)
    S.ok(store:updateGalleryItem({ galleryId = g._id, itemId = items[1]._id }, { title = "u" }))
    S.ok(store:deleteGalleryItem { galleryId = g._id, itemId = items[1]._id })
    S.ok(store:deleteGallery(g._id))
    local evs = feed(store)
    local function keys(t) local k = {} for key in pairs(t) do k[#k + 1] = key end table.sort(k) return k end
    assert.same({ "entity", "metadata" }, keys(evs[1]))
    assert.same({ "data", "metadata" }, keys(evs[2])); assert.same({ "item" }, keys(evs[2].data))
    assert.same({ "data", "metadata" }, keys(evs[3])); assert.same({ "updatedItem" }, keys(evs[3].data))
    assert.same({ "data", "metadata" }, keys(evs[4])); assert.same({ "itemId" }, keys(evs[4].data))
    assert.same({ "metadata" }, keys(evs[5]))
    assert.equal(GALLERY_TYPE .. "deleted", evs[5].metadata.eventType)
  end)

  it("identity: admin is WIX_USER; elevated members and visitors with their ids", function()
    S.ok(store:createGallery {})
    local member = S.view(store, { role = "member", id = "m-1" })
    local anon = S.view(store, { role = "visitor", id = "v-9" })
    local plain = S.view(store, "member")
    local boss = S.view(store, { role = "admin", id = "u-7" })
    progallery.elevate(function()
      S.ok(member:createGallery {}); S.ok(anon:createGallery {}); S.ok(plain:createGallery {})
    end)()
    S.ok(boss:createGallery {})
    local evs = feed(store)
    assert.same({ identityType = "WIX_USER" }, evs[1].metadata.identity)
    assert.same({ identityType = "MEMBER", memberId = "m-1" }, evs[2].metadata.identity)
    assert.same({ identityType = "ANONYMOUS_VISITOR", anonymousVisitorId = "v-9" }, evs[3].metadata.identity)
    assert.same({ identityType = "MEMBER" }, evs[4].metadata.identity)
    assert.same({ identityType = "WIX_USER", wixUserId = "u-7" }, evs[5].metadata.identity)
    S.expect_err("INVALID_ARGUMENT", "caller.id", store.as, store, { role = "member", id = ("x"):rep(257) })
  end)
end)

describe("the feed (10.3)", function()
  after_each(S.cleanup)

  it("events{after, limit}: pages oldest first; lastSeq; bounds named", function()
    local store = S.admin()
    S.gallery_with(store, 9) -- 10 events
    local r = S.ok(store:events())
    assert.equal(10, #r.events); assert.equal(10, r.lastSeq)
    r = S.ok(store:events { after = 3, limit = 4 })
    assert.same({ 4, 5, 6, 7 }, { r.events[1].metadata.seq, r.events[2].metadata.seq, r.events[3].metadata.seq, r.events[4].metadata.seq })
    assert.equal(7, r.lastSeq)
    r = S.ok(store:events { after = 10 })
    assert.same({}, r.events); assert.equal(10, r.lastSeq)
    r = S.ok(store:events { after = 50 })
    assert.equal(50, r.lastSeq)
    S.gallery_with(store, 150)
    assert.equal(100, #S.ok(store:events()).events) -- the default limit
    assert.equal(161, #S.ok(store:events { limit = 1000 }).events)
    for _, bad in ipairs { { limit = 0 }, { limit = 1001 }, { limit = 1.5 }, { limit = "1" } } do
      S.expect_err("INVALID_ARGUMENT", "limit", store.events, store, bad)
    end
    for _, bad in ipairs { { after = -1 }, { after = 0 / 0 }, { after = 2 ^ 60 } } do
      S.expect_err("INVALID_ARGUMENT", "after", store.events, store, bad)
    end
    S.expect_err("INVALID_ARGUMENT", "bogus", store.events, store, { bogus = 1 })
    S.expect_err("INVALID_ARGUMENT", "options", store.events, store, 5)
    store:close()
    S.expect_err("FAILED_PRECONDITION", nil, store.events, store)
  end)

  it("needs admin or elevation; the store's own readers are refused", function()
    local store = S.admin()
    S.ok(store:createGallery {})
    for _, who in ipairs { "visitor", "member", { role = "member", id = "m" } } do
      local v = S.view(store, who)
      S.expect_err("PERMISSION_DENIED", nil, v.events, v)
      S.expect_err("PERMISSION_DENIED", nil, v.setEventCursor, v, "c", 1)
      assert.equal(1, #S.ok(progallery.elevate(function() return v:events() end)()).events)
    end
    store:close()
  end)

  it("cursors: 0 for a new name (registering nothing), never backwards, never past the end", function()
    local store = S.admin()
    S.gallery_with(store, 2)
    assert.equal(0, S.ok(store:eventCursor("site")))
    assert.is_true(S.ok(store:setEventCursor("site", 2)))
    assert.equal(2, store:eventCursor("site"))
    assert.is_true(S.ok(store:setEventCursor("site", 2)))
    S.expect_err("INVALID_ARGUMENT", "seq", store.setEventCursor, store, "site", 1)
    S.expect_err("INVALID_ARGUMENT", "seq", store.setEventCursor, store, "site", 4)
    S.expect_err("INVALID_ARGUMENT", "seq", store.setEventCursor, store, "site", -1)
    S.expect_err("INVALID_ARGUMENT", "seq", store.setEventCursor, store, "site", 2.5)
    S.expect_err("INVALID_ARGUMENT", "seq", store.setEventCursor, store, "site")
    S.ok(store:setEventCursor("site", 3))
    S.ok(store:setEventCursor(("é"):rep(64), 1)) -- 128 bytes
    for _, bad in ipairs { "", ("x"):rep(129), "\255", "a\0b", 5 } do
      S.expect_err("INVALID_ARGUMENT", "name", store.eventCursor, store, bad)
      S.expect_err("INVALID_ARGUMENT", "name", store.setEventCursor, store, bad, 1)
    end
    S.expect_err("INVALID_ARGUMENT", "name", store.eventCursor, store)
    store:close()
  end)

  it("cursors are durable and shared by every connection to the file", function()
    local path = S.tmppath()
    local a = S.ok(progallery.open { path = path, caller = "admin" })
    S.gallery_with(a, 1)
    S.ok(a:setEventCursor("c", 1))
    a:close()
    local b = S.ok(progallery.open { path = path, caller = "admin" })
    assert.equal(1, b:eventCursor("c"))
    assert.equal(2, #S.ok(b:events()).events)
    b:close()
  end)

  it("a read-only store reads the feed; moving a cursor is a write", function()
    local path = S.tmppath()
    local a = S.ok(progallery.open { path = path, caller = "admin" })
    S.gallery_with(a, 1)
    local ro = S.ok(progallery.open { path = path, caller = "admin", readonly = true })
    assert.equal(2, #S.ok(ro:events()).events)
    assert.equal(0, ro:eventCursor("c"))
    S.expect_err("FAILED_PRECONDITION", nil, ro.setEventCursor, ro, "c", 1)
    ro:close(); a:close()
  end)

  describe("retention", function()
    it("removes old events once every consumer passed them, and says so when asked for them", function()
      local store = S.ok(progallery.open { path = ":memory:", caller = "admin", eventRetention = 0 })
      S.ok(store:setEventCursor("slow", 0)) -- a consumer from now on: nothing goes before it passed
      for _ = 1, 5 do S.ok(store:createGallery {}) end -- seq 1..5, one call each
      assert.equal(1, S.ok(store:events()).events[1].metadata.seq)
      S.ok(store:setEventCursor("slow", 2))
      S.gallery_with(store, 0)          -- seq 6
      local r = S.ok(store:events { after = 2 })
      assert.equal(3, r.events[1].metadata.seq)
      local msg = S.expect_err("FAILED_PRECONDITION", "after", store.events, store, { after = 1 })
      assert.matches("events after seq 1 were pruned", msg, 1, true)
      S.ok(store:events { after = 2 })
      -- never beyond the slowest consumer
      for _ = 1, 5 do S.gallery_with(store, 0) end
      assert.equal(3, S.ok(store:events { after = 2 }).events[1].metadata.seq)
      S.ok(store:setEventCursor("slow", 11))
      S.gallery_with(store, 0)
      r = S.ok(store:events { after = 11 })
      assert.equal(12, r.events[1].metadata.seq)
      S.expect_err("FAILED_PRECONDITION", "after", store.events, store, { after = 10 })
      store:close()
    end)

    it("with no consumers age alone decides; seq is never reused once all are gone", function()
      local store = S.ok(progallery.open { path = ":memory:", caller = "admin", eventRetention = 0 })
      S.gallery_with(store, 2)          -- seq 1..3, pruned by the next write
      S.gallery_with(store, 0)          -- seq 4
      S.gallery_with(store, 0)          -- seq 5
      local r = S.ok(store:events { after = 4 })
      assert.equal(5, r.events[1].metadata.seq)
      store:close()
      local keep = S.admin()            -- the default: 7 days
      S.gallery_with(keep, 3)
      for _ = 1, 3 do S.gallery_with(keep, 0) end
      assert.equal(1, S.ok(keep:events()).events[1].metadata.seq)
      keep:close()
    end)

    it("prunes a bounded number of rows per write, and a call's events together", function()
      local path = S.tmppath()
      local store = S.ok(progallery.open { path = path, caller = "admin" })
      for _ = 1, 40 do S.ok(store:createGallery {}) end -- 40 events of 40 calls, kept (7 days)
      store:close()
      store = S.ok(progallery.open { path = path, caller = "admin", eventRetention = 0 })
      S.ok(store:createGallery {}) -- 1 event: removes at most 2 * 1 + 16 (a call's events go together)
      S.expect_err("FAILED_PRECONDITION", "after", store.events, store)
      assert.equal(19, S.ok(store:events { after = 18 }).events[1].metadata.seq)
      S.gallery_with(store, 0)
      assert.equal(37, S.ok(store:events { after = 36 }).events[1].metadata.seq)
      S.expect_err("FAILED_PRECONDITION", "after", store.events, store, { after = 35 })
      S.expect_err("INVALID_ARGUMENT", "eventRetention", progallery.open, { path = ":memory:", eventRetention = -1 })
      -- the events of one call (here 300 of createGalleryItems) are pruned as one, never split
      S.ok(store:setEventCursor("c", 37))
      local g = S.gallery_with(store, 300) -- seq 43 (gallery), 44..343 (items)
      S.ok(store:setEventCursor("c", 200))
      local r = S.ok(store:events { after = 43, limit = 1 })
      assert.equal(44, r.events[1].metadata.seq) -- kept: the call's events up to 299 or beyond
      S.expect_err("FAILED_PRECONDITION", "after", store.events, store, { after = 42 })
      assert.is_string(g._id)
      store:close()
    end)
  end)

  it("replaying the feed reproduces the store's galleries and items", function()
    local store = S.admin()
    local g1, i1 = S.gallery_with(store, 5)
    local g2 = S.ok(store:createGallery { cloneFromGalleryId = g1._id })
    S.ok(store:updateGallery(g1._id, { name = "renamed" }))
    S.ok(store:updateGalleryItem({ galleryId = g1._id, itemId = i1[2]._id }, { title = "T", sortOrder = -1 }))
    S.ok(store:bulkDeleteGalleryItems(g1._id, { i1[3]._id, i1[4]._id }))
    local g3 = S.gallery_with(store, 2)
    S.ok(store:deleteGallery(g3._id))
    S.ok(store:deleteGalleryItem { galleryId = g2._id, itemId = S.all_items(store, g2._id)[1]._id })
    -- replay
    local galleries, items = {}, {}
    for _, e in ipairs(feed(store)) do
      local m, gid = e.metadata, e.metadata.entityId
      if m.slug == "created" or m.slug == "updated" then galleries[gid] = e.entity
      elseif m.slug == "deleted" then galleries[gid] = nil
      elseif m.slug == "gallery_item_created" then items[e.data.item._id] = { gid, e.data.item }
      elseif m.slug == "gallery_item_updated" then items[e.data.updatedItem._id] = { gid, e.data.updatedItem }
      else items[e.data.itemId] = nil end
    end
    local live = S.ok(store:listGalleries()).galleries
    local n = 0
    for _ in pairs(galleries) do n = n + 1 end
    assert.equal(#live, n)
    for _, g in ipairs(live) do
      local replayed = S.deepcopy(galleries[g._id])
      -- an item's change moves its gallery's revision (docs/decisions.md) with no gallery event
      replayed.totalItems, replayed._updatedDate, replayed.revision = nil, nil, nil
      local want = without_items(g)
      want.totalItems, want._updatedDate, want.revision = nil, nil, nil
      assert.same(want, replayed)
      for _, it in ipairs(S.all_items(store, g._id)) do
        assert.same({ g._id, it }, items[it._id])
        items[it._id] = nil
      end
    end
    assert.is_nil(next(items))
    store:close()
  end)

  for _, version in ipairs { 1, 2 } do
  it("migrates a version-" .. version .. " file, keeping its data, and starts its feed there #sqlite", function()
    local path = S.tmppath()
    local out, ok = S.sqlite(path, [[
      CREATE TABLE galleries(gid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT, sort_order NOT NULL,
        created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, item_count INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX galleries_by_created ON galleries(created_ms);
      CREATE INDEX galleries_by_sort ON galleries(sort_order);
      CREATE TABLE items(iid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, gid INTEGER NOT NULL, sort_order NOT NULL,
        type TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE INDEX items_by_order ON items(gid, sort_order);
      INSERT INTO galleries VALUES (1, '0190f5c2-1111-7abc-8def-0123456789ab', 'old', 1, 1700000000000, 1700000000000, 0);
      PRAGMA user_version = ]] .. version .. ";")
    assert(ok, out)
    local ro, _, code = progallery.open { path = path, readonly = true }
    assert.is_nil(ro); assert.equal("FAILED_PRECONDITION", code) -- a read-only store cannot upgrade
    local store = S.ok(progallery.open { path = path, caller = "admin" })
    assert.equal("old", S.ok(store:getGallery(S.MISSING_ID2)).name)
    assert.equal(S.SQLITE_SCHEMA, tonumber((S.sqlite(path, "PRAGMA user_version"))))
    S.ok(store:updateGallery(S.MISSING_ID2, { name = "new" }))
    local evs = feed(store)
    assert.equal(1, #evs)
    assert.equal("1", evs[1].metadata.entityEventSequence)
    store:close()
  end)
  end
end)

describe("leaseEventConsumer (one deliverer per consumer, 10.5)", function()
  after_each(S.cleanup)

  it("is held by one holder until it expires or is given back", function()
    local path = S.tmppath()
    local a = S.ok(progallery.open { path = path, caller = "admin" })
    local b = S.ok(progallery.open { path = path, caller = "admin" })
    assert.is_true(S.ok(a:leaseEventConsumer("webhook:x", "node-a", 60000)))
    assert.is_false(S.ok(b:leaseEventConsumer("webhook:x", "node-b", 60000)))
    assert.is_true(S.ok(a:leaseEventConsumer("webhook:x", "node-a", 60000))) -- renewed
    assert.is_true(S.ok(b:leaseEventConsumer("webhook:y", "node-b", 60000))) -- another name
    assert.is_true(S.ok(a:leaseEventConsumer("webhook:x", "node-a", 0)))     -- given back
    assert.is_true(S.ok(b:leaseEventConsumer("webhook:x", "node-b", 1)))
    local t = os.clock() + 0.01
    repeat until os.clock() > t
    assert.is_true(S.ok(a:leaseEventConsumer("webhook:x", "node-a", 60000))) -- expired: taken over
    S.expect_err("INVALID_ARGUMENT", "ms", a.leaseEventConsumer, a, "x", "h", 3600001)
    S.expect_err("INVALID_ARGUMENT", "holder", a.leaseEventConsumer, a, "x", "", 1)
    local v = S.view(a, "visitor")
    S.expect_err("PERMISSION_DENIED", nil, v.leaseEventConsumer, v, "x", "h", 1)
    a:close(); b:close()
  end)
end)

describe("the feed's pages across a big call", function()
  it("pages of any size through 1,000 events of one call come back whole and in order", function()
    local store = S.admin()
    local g, items = S.gallery_with(store, 999)
    S.ok(store:deleteGallery(g._id))
    local seen, after = {}, 0
    repeat
      local r = S.ok(store:events { after = after, limit = 7 })
      for _, e in ipairs(r.events) do seen[#seen + 1] = e end
      after = r.lastSeq
    until #r.events == 0
    assert.equal(2000, #seen)
    for i, e in ipairs(seen) do assert.equal(i, e.metadata.seq) end
    local deleted = {}
    for i = 1, 999 do
      assert.same(items[i], seen[i + 1].data.item)
      deleted[seen[1000 + i].data.itemId] = true -- the order of a gallery's deletions is the store's
      assert.equal(tostring(1000 + i), seen[1000 + i].metadata.entityEventSequence)
    end
    for i = 1, 999 do assert.is_true(deleted[items[i]._id]) end
    assert.equal("2000", seen[2000].metadata.entityEventSequence)
    store:close()
  end)
end)

-- The SQLite engine deletes a gallery's items a batch at a time in (sortOrder, row) order,
-- each batch read (for the events) and then deleted: a batch boundary inside a run of equal
-- sort orders must lose no item and leave no row behind.
describe("the SQLite engine's deletion in batches #sqlite", function()
  after_each(function() S.cleanup() end)

  it("600 items that share sort orders (ties, fractions, negatives): every item once, no row left", function()
    local path = S.tmppath()
    local store = S.ok(progallery.open { path = path, caller = "admin" })
    local g = S.ok(store:createGallery { gallery = { name = "ties" } })
    local keep = S.gallery_with(store, 3, "kept")
    local list = {}
    for i = 1, 600 do list[i] = S.simple_item("t" .. i, (i % 7) - 3.5) end
    local items = S.ok(store:createGalleryItems(g._id, list)).items
    local mark = last_seq(store)
    S.ok(store:deleteGallery(g._id))
    local evs = feed(store, mark)
    assert.equal(601, #evs)
    local seen = {}
    for i = 1, 600 do
      local id = evs[i].data.itemId
      assert.is_nil(seen[id], id); seen[id] = true
    end
    for _, it in ipairs(items) do assert.is_true(seen[it._id], it._id) end
    store:close()
    assert.equal("3", S.sqlite(path, "SELECT count(*) FROM items"):match("%d+"))
    assert.equal("3", S.sqlite(path, "SELECT count(*) FROM items WHERE gid = (SELECT gid FROM galleries WHERE id = '"
      .. keep._id .. "')"):match("%d+"))
  end)
end)

-- The SQLite engine keeps a chunk's body LZ4-compressed when that saves an eighth or more
-- (schema 6, raw_size its unpacked size); files of schema 5 hold plain bodies.
describe("the SQLite engine's compressed chunks #sqlite", function()
  local function open(path) return S.ok(progallery.open { path = path, caller = "admin" }) end
  local function chunks(path)
    local out = S.sqlite(path, "SELECT count(*), count(raw_size), coalesce(sum(length(body)), 0),"
      .. " coalesce(sum(raw_size), 0) FROM event_chunks")
    local n, packed, bytes, raw = out:match("(%d+)|(%d+)|(%d+)|(%d+)")
    return tonumber(n), tonumber(packed), tonumber(bytes), tonumber(raw)
  end
  -- a new file with one gallery
  local function fresh(name)
    local path = S.tmppath()
    local store = open(path)
    return path, store, S.ok(store:createGallery { gallery = { name = name } })
  end
  -- an item's title no compressor can shorten much: random letters
  local function noise(n)
    local t = {}
    for i = 1, n do t[i] = string.char(math.random(33, 126)) end
    return table.concat(t)
  end

  it("a batch's chunk is stored compressed and read back event for event", function()
    local path, store, g = fresh("G")
    local items = {}
    for i = 1, 300 do items[i] = { title = "photo " .. i, description = ("a beach at dusk, number %d"):format(i) } end
    local made = S.ok(store:createGalleryItems(g._id, items)).items
    local n, packed, bytes, raw = chunks(path)
    assert.is_true(packed >= 2, ("%d of %d chunks compressed"):format(packed, n))
    assert.is_true(bytes * 2 < raw, ("%d bytes for %d unpacked"):format(bytes, raw))
    local evs = feed(store)
    assert.equal(301, #evs)
    for i = 1, 300 do assert.same(made[i], evs[i + 1].data.item) end
    store:close()
  end)

  it("a chunk that does not shrink by an eighth is stored as it is", function()
    local path, store, g = fresh("G")
    local item = S.ok(store:createGalleryItem(g._id, { title = noise(900) }))
    local _, packed = chunks(path)
    assert.equal(0, packed)
    assert.same(item, feed(store)[2].data.item)
    store:close()
  end)

  it("a file of schema 5 (plain chunks) is upgraded: its events read as before, new ones compress", function()
    local path, store, g = fresh("old")
    for _ = 1, 3 do S.ok(store:createGalleryItem(g._id, { title = noise(900) })) end
    local before = feed(store)
    store:close()
    assert.equal(0, select(2, chunks(path)))
    local out, ok = S.sqlite(path, "ALTER TABLE event_chunks DROP COLUMN raw_size; PRAGMA user_version = 5;")
    assert(ok, out)
    store = open(path)
    assert.equal(S.SQLITE_SCHEMA, tonumber((S.sqlite(path, "PRAGMA user_version"))))
    assert.same(before, feed(store))
    local items = {}
    for i = 1, 100 do items[i] = { title = "new " .. i } end
    S.ok(store:createGalleryItems(g._id, items))
    assert.is_true(select(2, chunks(path)) >= 1)
    local all = feed(store)
    assert.equal(#before + 100, #all)
    assert.same(before, { S.unpack(all, 1, #before) })
    assert.equal("new 100", all[#all].data.item.title)
    store:close()
  end)

  it("a damaged compressed chunk is INTERNAL, never a crash nor a huge allocation", function()
    local path, store, g = fresh("G")
    local items = {}
    for i = 1, 50 do items[i] = { title = "photo " .. i } end
    S.ok(store:createGalleryItems(g._id, items))
    store:close()
    local out = S.sqlite(path, "SELECT last_seq, raw_size, hex(body) FROM event_chunks WHERE raw_size IS NOT NULL LIMIT 1")
    local last, raw, hex = out:match("(%d+)|(%d+)|(%x+)")
    assert.truthy(last, out)
    local damage = {
      ("raw_size = %d"):format(raw + 1),                -- says more than the body holds
      ("raw_size = %d"):format(raw - 1),                -- or less
      "raw_size = 1000000000000",                        -- no malloc of a terabyte
      "raw_size = -5",
      "raw_size = 0",
      ("body = x'%s'"):format(hex:sub(1, math.floor(#hex / 4) * 2)), -- cut short
      ("body = x'%s'"):format(("FF"):rep(math.floor(#hex / 2))),  -- not LZ4 at all
      "body = x''",
    }
    for _, set in ipairs(damage) do
      local copy = S.tmppath()
      assert(os.execute(("cp %s %s"):format(S.shell_quote(path), S.shell_quote(copy))))
      local o, ok = S.sqlite(copy, ("UPDATE event_chunks SET %s WHERE last_seq = %s;"):format(set, last))
      assert(ok, o)
      local st = open(copy)
      local res = S.call(st.events, st, { after = 0, limit = 100 })
      S.assert_err("INTERNAL", nil, res[1], res[2], res[3])
      assert.truthy(res[2]:find("event chunk is not readable", 1, true), set .. ": " .. tostring(res[2]))
      S.ok(st:getGallery(g._id)) -- the galleries still read
      st:close()
    end
  end)
end)

describe("entityEventSequence across calls that touch two galleries", function()
  after_each(S.cleanup)

  -- each gallery's events count 1, 2, 3, ... in feed order, whichever call wrote them: clones
  -- (the source found, the copy's events), moves both ways, updates, deletions
  it("grows by one with each event of its gallery, from 1", function()
    local store = S.admin()
    local a = S.gallery_with(store, 4, "a")
    local b = S.ok(store:createGallery { cloneFromGalleryId = a._id })
    S.ok(store:createGalleryItem(b._id, { title = "in b" }))
    local ai = S.all_items(store, a._id)
    local bi = S.all_items(store, b._id)
    S.ok(store:moveGalleryItems(a._id, { ai[1]._id, ai[2]._id }, { toGalleryId = b._id }))
    S.ok(store:updateGallery(a._id, { name = "a again" }))
    S.ok(store:moveGalleryItems(b._id, { bi[1]._id }, { toGalleryId = a._id }))
    S.ok(store:createGalleryItem(a._id, { title = "in a" }))
    local c = S.ok(store:createGallery { cloneFromGalleryId = b._id })
    S.ok(store:deleteGalleryItem { galleryId = b._id, itemId = bi[2]._id })
    S.ok(store:deleteGallery(b._id))
    S.ok(store:updateGallery(c._id, { name = "c" }))
    local per, galleries = {}, {}
    for _, e in ipairs(feed(store)) do
      local m = e.metadata
      if not per[m.entityId] then galleries[#galleries + 1] = m.entityId end
      per[m.entityId] = (per[m.entityId] or 0) + 1
      assert.equal(tostring(per[m.entityId]), m.entityEventSequence, m.slug .. " of " .. m.entityId)
    end
    assert.same({ a._id, b._id, c._id }, galleries)
    store:close()
  end)
end)

describe("the SQLite engine's feed position #sqlite", function()
  after_each(S.cleanup)

  -- Each connection keeps the feed's last seq from its own last append while the file's data
  -- version says nothing else committed: two stores on one file taking turns, and a third
  -- process writing between, must still number the feed 1, 2, 3, ... in commit order.
  it("stays exact when other stores and processes write between a store's appends", function()
    local path = S.tmppath()
    local a = S.ok(progallery.open { path = path, caller = "admin" })
    local b = S.ok(progallery.open { path = path, caller = "admin" })
    local g = S.ok(a:createGallery { gallery = { name = "turns" } })._id
    local want = { "gallery_created" }
    local lpath, cpath = S.abs_paths()
    local other = ([[package.path=%q; package.cpath=%q
      local s = assert(require("progallery").open { path = %q, caller = "admin" })
      assert(s:createGalleryItem(%q, { title = "other process" }))
      s:close()]]):format(lpath, cpath, path, g)
    for i = 1, 24 do
      local who = (i % 3 == 0) and b or a
      if i % 4 == 0 then
        local out, ok = S.sh(S.lua_bin .. " -e " .. S.shell_quote(other))
        assert.truthy(ok, out)
        want[#want + 1] = "item_created"
      end
      if i % 5 == 0 then
        S.ok(who:updateGallery(g, { name = "turn " .. i }))
        want[#want + 1] = "gallery_updated"
      else
        S.ok(who:createGalleryItem(g, { title = "item " .. i }))
        want[#want + 1] = "item_created"
      end
    end
    for _, st in ipairs { a, b } do
      for i, e in ipairs(feed(st)) do assert.equal(i, e.metadata.seq) end
      assert.same(want, kinds(st))
    end
    a:close()
    b:close()
  end)
end)

-- The SQLite engine holds an item write's gallery touch back and writes it with the
-- feed's counter in one UPDATE (storage_sqlite.c, touch); with the feed on or off, after
-- every kind of item write, what another connection reads of the gallery row is what the
-- writer's own calls return, and a call that fails leaves the row as it was. (Failures after
-- the touch, a full disk or no memory, are the reliability harnesses': diskfull.lua, lua_oom.c.)
describe("the gallery row after item writes, as another connection reads it", function()
  after_each(S.cleanup)

  for _, events in ipairs { true, false } do
    it("holds totalItems, revision and _updatedDate (feed " .. (events and "on" or "off") .. ")", function()
      local path = S.tmppath()
      local w = S.ok(progallery.open { path = path, caller = "admin", events = events })
      local r = S.ok(progallery.open { path = path, caller = "admin" })
      local a = S.gallery_with(w, 3, "a")
      local b = S.gallery_with(w, 2, "b")
      local function same(gid, want_total)
        local mine = S.ok(w:getGallery(gid, { itemLimit = 100 }))
        local theirs = S.ok(r:getGallery(gid, { itemLimit = 100 }))
        assert.same(mine, theirs)
        assert.equal(want_total, theirs.totalItems)
        assert.equal(want_total, #theirs.items)
        return theirs
      end
      local g0 = same(a._id, 3)
      local it = S.ok(w:createGalleryItem(a._id, { title = "four" }))
      local g1 = same(a._id, 4)
      assert.is_true(tonumber(g1.revision) > tonumber(g0.revision))
      S.ok(w:updateGalleryItem({ galleryId = a._id, itemId = it._id }, { title = "four again" }))
      local g2 = same(a._id, 4)
      assert.is_true(tonumber(g2.revision) > tonumber(g1.revision))
      -- stale revision: ABORTED, nothing written
      S.expect_err("ABORTED", nil, function()
        return w:updateGalleryItem({ galleryId = a._id, itemId = it._id }, { title = "no", revision = it.revision })
      end)
      assert.same(g2, same(a._id, 4))
      S.ok(w:createGalleryItems(a._id, { { title = "x" }, { title = "y" } }))
      same(a._id, 6)
      local ai = S.all_items(w, a._id)
      S.ok(w:moveGalleryItems(a._id, { ai[1]._id, ai[2]._id }, { toGalleryId = b._id }))
      same(a._id, 4)
      same(b._id, 4)
      S.ok(w:moveGalleryItems(b._id, { ai[1]._id }, { before = S.all_items(w, b._id)[1]._id }))
      same(b._id, 4)
      S.ok(w:deleteGalleryItem { galleryId = a._id, itemId = it._id })
      same(a._id, 3)
      S.ok(w:bulkDeleteGalleryItems(a._id, { ai[3]._id }))
      local last = same(a._id, 2)
      -- a failing call after a good one on the same connection: the row stays
      S.expect_err("NOT_FOUND", nil, function()
        return w:moveGalleryItems(a._id, { ai[1]._id }, {})
      end)
      assert.same(last, same(a._id, 2))
      -- and a fresh open reads the same
      w:close()
      local again = S.ok(progallery.open { path = path, caller = "admin" })
      assert.same(last, S.ok(again:getGallery(a._id, { itemLimit = 100 })))
      again:close(); r:close()
    end)
  end
end)
