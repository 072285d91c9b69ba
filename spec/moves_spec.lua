-- Spec section 14: moveGalleryItems. A model-based part (random moves within and between
-- galleries, checked after every step against a plain Lua model of each gallery's order
-- and against a consumer that mirrors the event feed), forced renumbering, every bad
-- input, the events. Runs on both engines (spec/support.lua) and both VMs; the HTTP part
-- (tag nginx) under a real nginx.
local S = require "spec.support"
local null = S.null

-- every event after seq `after`, oldest first
local function events_after(store, after)
  local out = {}
  repeat
    local page = S.ok(store:events { after = after, limit = 1000 })
    for _, e in ipairs(page.events) do out[#out + 1] = e end
    after = page.lastSeq
  until #page.events < 1000
  return out, after
end

local function order_of(store, gid) return S.ids(S.all_items(store, gid)) end

-- the whole visible state: every gallery with all its items, and the feed's end
local function snapshot(store, gids)
  local snap = {}
  for i, gid in ipairs(gids) do
    local g = S.ok(store:getGallery(gid, { itemLimit = 1 }))
    g.items = S.all_items(store, gid)
    snap[i] = g
  end
  snap.lastSeq = select(2, events_after(store, 0))
  return snap
end

local function index_of(list, x)
  for i, v in ipairs(list) do if v == x then return i end end
end

-- model: the ids of `moved` leave `from` (keeping their order there) and go into `to`
-- before / after the anchor, or at the end. Returns the moved ids in their new order.
local function model_move(from, to, moved, how, anchor)
  local set, in_order = {}, {}
  for _, id in ipairs(moved) do set[id] = true end
  for _, id in ipairs(from) do if set[id] then in_order[#in_order + 1] = id end end
  for i = #from, 1, -1 do if set[from[i]] then table.remove(from, i) end end
  local at = #to + 1
  if how == "before" then at = index_of(to, anchor) elseif how == "after" then at = index_of(to, anchor) + 1 end
  for k, id in ipairs(in_order) do table.insert(to, at + k - 1, id) end
  return in_order
end

-- A consumer that mirrors sortOrder and gallery of every item from the feed alone.
local function new_mirror()
  local m = { items = {}, seq = 0 }
  function m.apply(store)
    local evs
    evs, m.seq = events_after(store, m.seq)
    for _, e in ipairs(evs) do
      local slug, gid = e.metadata.slug, e.metadata.entityId
      if slug == "gallery_item_created" then
        m.items[e.data.item._id] = { gid = gid, sort = e.data.item.sortOrder, rev = e.data.item.revision }
      elseif slug == "gallery_item_updated" then
        local it = e.data.updatedItem
        assert.is_not_nil(m.items[it._id], "an update of an item the mirror does not know")
        assert.equal(m.items[it._id].gid, gid, "an update in another gallery than the item's")
        m.items[it._id] = { gid = gid, sort = it.sortOrder, rev = it.revision }
      elseif slug == "gallery_item_deleted" then
        assert.equal(m.items[e.data.itemId].gid, gid)
        m.items[e.data.itemId] = nil
      end
    end
    return evs
  end
  -- the mirror agrees with the store on every item's gallery and sortOrder
  function m.check(store, gids)
    local n = 0
    for _, gid in ipairs(gids) do
      for _, it in ipairs(S.all_items(store, gid)) do
        n = n + 1
        local got = m.items[it._id]
        assert.is_not_nil(got, "the mirror lost item " .. it._id)
        assert.equal(gid, got.gid)
        assert.equal(it.sortOrder, got.sort, "mirrored sortOrder of " .. it._id)
        assert.equal(it.revision, got.rev, "mirrored revision of " .. it._id)
      end
    end
    local known = 0
    for _ in pairs(m.items) do known = known + 1 end
    assert.equal(n, known, "the mirror holds items the store does not")
  end
  return m
end

-- Checks one move's events (evs, in feed order): for a move between galleries the
-- source's deletions (originatedFrom "Item Moved"), the target's renumbered items, then
-- one created per moved item in its new order; within a gallery the renumbered items,
-- then one updated per moved item. Returns the number of renumbered items.
local function check_move_events(evs, src, dst, moved_in_order)
  local n, k, i = #evs, #moved_in_order, 1
  local cross = src ~= dst
  local moved = {}
  for _, id in ipairs(moved_in_order) do moved[id] = true end
  if cross then
    for j = 1, k do
      local e = evs[i]
      assert.equal("gallery_item_deleted", e.metadata.slug)
      assert.equal("Item Moved", e.metadata.originatedFrom)
      assert.equal(src, e.metadata.entityId)
      assert.equal(moved_in_order[j], e.data.itemId)
      i = i + 1
    end
  end
  local renumbered = n - (cross and 2 * k or k)
  assert.is_true(renumbered >= 0, "too few events: " .. n)
  for _ = 1, renumbered do
    local e = evs[i]
    assert.equal("gallery_item_updated", e.metadata.slug)
    assert.equal(dst, e.metadata.entityId)
    assert.is_nil(e.metadata.originatedFrom)
    assert.is_nil(moved[e.data.updatedItem._id], "a moved item among the renumbered ones")
    i = i + 1
  end
  for j = 1, k do
    local e = evs[i]
    assert.equal(cross and "gallery_item_created" or "gallery_item_updated", e.metadata.slug)
    assert.equal(dst, e.metadata.entityId)
    assert.is_nil(e.metadata.originatedFrom)
    local it = cross and e.data.item or e.data.updatedItem
    assert.equal(moved_in_order[j], it._id)
    i = i + 1
  end
  -- entityEventSequence grows by one per event of each gallery
  local last = {}
  for _, e in ipairs(evs) do
    local gid, es = e.metadata.entityId, tonumber(e.metadata.entityEventSequence)
    if last[gid] then assert.equal(last[gid] + 1, es) end
    last[gid] = es
  end
  return renumbered
end

describe("moveGalleryItems", function()
  local store
  before_each(function() store = S.admin() end)
  after_each(function() store:close() end)

  describe("within a gallery", function()
    local g, items, ids
    before_each(function()
      g, items = S.gallery_with(store, 6)
      ids = S.ids(items)
    end)

    it("moves items before an anchor, keeping their order in the gallery (not the order of itemIds)", function()
      local r = S.ok(store:moveGalleryItems(g._id, { ids[6], ids[2] }, { before = ids[4] }))
      assert.same({ ids[2], ids[6] }, S.ids(r.items))
      assert.same({ ids[1], ids[3], ids[2], ids[6], ids[4], ids[5] }, order_of(store, g._id))
    end)

    it("moves items after an anchor, and to the end without one", function()
      S.ok(store:moveGalleryItems(g._id, { ids[1] }, { after = ids[5] }))
      assert.same({ ids[2], ids[3], ids[4], ids[5], ids[1], ids[6] }, order_of(store, g._id))
      S.ok(store:moveGalleryItems(g._id, { ids[3], ids[2] }))
      assert.same({ ids[4], ids[5], ids[1], ids[6], ids[2], ids[3] }, order_of(store, g._id))
      S.ok(store:moveGalleryItems(g._id, { ids[4] }, {}))
      assert.same({ ids[5], ids[1], ids[6], ids[2], ids[3], ids[4] }, order_of(store, g._id))
    end)

    it("moves before the first item and after the last", function()
      S.ok(store:moveGalleryItems(g._id, { ids[5], ids[6] }, { before = ids[1] }))
      assert.same({ ids[5], ids[6], ids[1], ids[2], ids[3], ids[4] }, order_of(store, g._id))
      S.ok(store:moveGalleryItems(g._id, { ids[1] }, { after = ids[4] }))
      assert.same({ ids[5], ids[6], ids[2], ids[3], ids[4], ids[1] }, order_of(store, g._id))
    end)

    it("chooses sort orders strictly between the neighbours, evenly spaced, other items untouched", function()
      local before = S.all_items(store, g._id)
      local r = S.ok(store:moveGalleryItems(g._id, { ids[5], ids[6], ids[1] }, { after = ids[2] }))
      local lo, hi = before[2].sortOrder, before[3].sortOrder
      local s1, s2, s3 = r.items[1].sortOrder, r.items[2].sortOrder, r.items[3].sortOrder
      assert.is_true(lo < s1 and s1 < s2 and s2 < s3 and s3 < hi)
      assert.near(s2 - s1, s3 - s2, 1e-9 * math.abs(hi))
      local after = S.all_items(store, g._id)
      for _, it in ipairs(after) do
        if it._id == ids[2] or it._id == ids[3] or it._id == ids[4] then
          assert.equal(before[index_of(ids, it._id)].sortOrder, it.sortOrder)
          assert.equal(before[index_of(ids, it._id)]._updatedDate, it._updatedDate)
        end
      end
    end)

    it("returns the moved items as getGalleryItem shows them, with a later _updatedDate", function()
      local old = S.ok(store:getGalleryItem { galleryId = g._id, itemId = ids[3] })
      local r = S.ok(store:moveGalleryItems(g._id, { ids[3] }, { before = ids[1] }))
      local now = S.ok(store:getGalleryItem { galleryId = g._id, itemId = ids[3] })
      assert.same(now, r.items[1])
      assert.is_true(now._updatedDate > old._updatedDate)
      assert.equal(old._createdDate, now._createdDate)
      assert.same(old.image, now.image)
      assert.equal(old.title, now.title)
      local gal = S.ok(store:getGallery(g._id))
      assert.is_true(gal._updatedDate > g._updatedDate)
      assert.equal(6, gal.totalItems)
    end)

    it("grows the moved items' revisions and the gallery's by one, and no other item's", function()
      local before = S.all_items(store, g._id)
      local grev = S.ok(store:getGallery(g._id, { itemLimit = 1 })).revision
      local r = S.ok(store:moveGalleryItems(g._id, { ids[5], ids[2] }, { before = ids[1] }))
      local was = {}
      for _, it in ipairs(before) do was[it._id] = tonumber(it.revision) end
      assert.equal(was[ids[2]] + 1, tonumber(r.items[1].revision))
      assert.equal(was[ids[5]] + 1, tonumber(r.items[2].revision))
      for _, it in ipairs(S.all_items(store, g._id)) do
        local moved = it._id == ids[2] or it._id == ids[5]
        assert.equal(was[it._id] + (moved and 1 or 0), tonumber(it.revision))
      end
      assert.equal(tonumber(grev) + 1, tonumber(S.ok(store:getGallery(g._id, { itemLimit = 1 })).revision))
    end)

    it("accepts toGalleryId equal to galleryId as a move within it", function()
      S.ok(store:moveGalleryItems(g._id, { ids[1] }, { toGalleryId = g._id, after = ids[2] }))
      assert.same({ ids[2], ids[1], ids[3], ids[4], ids[5], ids[6] }, order_of(store, g._id))
    end)

    it("places between tied neighbours by renumbering (ties are broken by creation order)", function()
      local t = S.ok(store:createGallery { gallery = { items = {
        { title = "a", sortOrder = 5 }, { title = "b", sortOrder = 5 }, { title = "c", sortOrder = 5 },
        { title = "d", sortOrder = 7 } } } })
      local tid = S.ids(t.items)
      local seq = select(2, events_after(store, 0))
      S.ok(store:moveGalleryItems(t._id, { tid[3] }, { after = tid[1] }))
      local after = S.all_items(store, t._id)
      assert.same({ tid[1], tid[3], tid[2], tid[4] }, S.ids(after))
      for i = 2, #after do assert.is_true(after[i - 1].sortOrder < after[i].sortOrder) end
      local evs = events_after(store, seq)
      assert.is_true(check_move_events(evs, t._id, t._id, { tid[3] }) >= 2, "renumbered")
      -- each item whose sortOrder the renumbering changed has a new revision; tid[3] moved once
      for i, it in ipairs(after) do
        local old = t.items[index_of(tid, it._id)]
        local changed = it.sortOrder ~= old.sortOrder
        assert.equal(tonumber(old.revision) + (changed and 1 or 0), tonumber(it.revision), "item " .. i)
      end
    end)
  end)

  describe("between galleries", function()
    it("moves items into another gallery, keeping their ids, counts and dates of both", function()
      local a, ai = S.gallery_with(store, 5, "A")
      local b, bi = S.gallery_with(store, 3, "B")
      local aid, bid = S.ids(ai), S.ids(bi)
      local arev = S.ok(store:getGallery(a._id, { itemLimit = 1 })).revision
      local brev = S.ok(store:getGallery(b._id, { itemLimit = 1 })).revision
      local r = S.ok(store:moveGalleryItems(a._id, { aid[4], aid[2] }, { toGalleryId = b._id, before = bid[2] }))
      assert.same({ aid[2], aid[4] }, S.ids(r.items))
      assert.same({ aid[1], aid[3], aid[5] }, order_of(store, a._id))
      assert.same({ bid[1], aid[2], aid[4], bid[2], bid[3] }, order_of(store, b._id))
      local ga, gb = S.ok(store:getGallery(a._id)), S.ok(store:getGallery(b._id))
      assert.equal(3, ga.totalItems)
      assert.equal(5, gb.totalItems)
      assert.is_true(ga._updatedDate > a._updatedDate)
      assert.is_true(gb._updatedDate > b._updatedDate)
      assert.equal(tonumber(arev) + 1, tonumber(ga.revision)) -- both galleries, once each
      assert.equal(tonumber(brev) + 1, tonumber(gb.revision))
      assert.equal(tonumber(ai[2].revision) + 1, tonumber(r.items[1].revision))
      S.expect_err("NOT_FOUND", "itemId", store.getGalleryItem, store, { galleryId = a._id, itemId = aid[2] })
      assert.same(r.items[1], S.ok(store:getGalleryItem { galleryId = b._id, itemId = aid[2] }))
    end)

    it("moves into an empty gallery and to the end of another", function()
      local a, ai = S.gallery_with(store, 3, "A")
      local e = S.ok(store:createGallery { gallery = { name = "E" } })
      local aid = S.ids(ai)
      S.ok(store:moveGalleryItems(a._id, { aid[1], aid[2], aid[3] }, { toGalleryId = e._id }))
      assert.same({}, order_of(store, a._id))
      assert.same(aid, order_of(store, e._id))
      -- back, one at a time, each to the end
      S.ok(store:moveGalleryItems(e._id, { aid[2] }, { toGalleryId = a._id }))
      S.ok(store:moveGalleryItems(e._id, { aid[1] }, { toGalleryId = a._id }))
      assert.same({ aid[2], aid[1] }, order_of(store, a._id))
      -- a new item without sortOrder still lands at the end
      local x = S.ok(store:createGalleryItem(a._id, { title = "new" }))
      assert.same({ aid[2], aid[1], x._id }, order_of(store, a._id))
    end)

    it("records the source's deletions (Item Moved) and the target's creations, in order", function()
      local a, ai = S.gallery_with(store, 4, "A")
      local b = S.ok(store:createGallery { gallery = { name = "B" } })
      local aid = S.ids(ai)
      local seq = select(2, events_after(store, 0))
      S.ok(store:moveGalleryItems(a._id, { aid[3], aid[1] }, { toGalleryId = b._id }))
      local evs = events_after(store, seq)
      assert.equal(4, #evs)
      assert.equal(0, check_move_events(evs, a._id, b._id, { aid[1], aid[3] }))
      assert.equal("wix.pro_gallery.gallery_v2_gallery_item_deleted", evs[1].metadata.eventType)
      assert.equal("wix.pro_gallery.gallery_v2_gallery_item_created", evs[3].metadata.eventType)
      assert.equal(evs[1].metadata.eventTime, evs[4].metadata.eventTime)
      assert.same(S.ok(store:getGalleryItem { galleryId = b._id, itemId = aid[1] }), evs[3].data.item)
    end)
  end)

  describe("concurrency", function()
    it("opposite moves between two galleries from two processes all commit (no deadlock)", function()
      local path = S.tmppath()
      local a, b, ai, bi
      do
        local s = S.ok(S.progallery.open { path = path, caller = "admin" })
        a, ai = S.gallery_with(s, 6, "A")
        b, bi = S.gallery_with(s, 6, "B")
        s:close()
      end
      local lpath, cpath = S.abs_paths()
      local open = S.postgres and ("{ dsn = %q, caller = 'admin', busyTimeout = 20000 }"):format(S.dsn_for(path))
                   or ("{ path = %q, caller = 'admin', busyTimeout = 20000 }"):format(path)
      -- each process moves its own items (so it always knows where they are) out and back:
      -- one starts A -> B, the other B -> A, so the two lock the galleries in opposite orders
      local function worker(from, to, ids, out)
        return ([[
          package.path = %q; package.cpath = %q
          local p = require "progallery"
          local s = assert(p.open(%s))
          local from, to, ids = %q, %q, { %s }
          local failed = 0
          for round = 1, 60 do
            local r, err, code = s:moveGalleryItems(from, ids, { toGalleryId = to })
            if not r then failed = failed + 1; io.stderr:write(tostring(code), " ", tostring(err), "\n")
            else from, to = to, from end
          end
          local f = assert(io.open(%q, "w")); f:write(failed, " ", from); f:close()
        ]]):format(lpath, cpath, open, from, to, ("%q, %q"):format(ids[1], ids[2]), out)
      end
      local o1, o2 = path .. ".w1", path .. ".w2"
      local p1 = worker(a._id, b._id, { ai[1]._id, ai[2]._id }, o1)
      local p2 = worker(b._id, a._id, { bi[1]._id, bi[2]._id }, o2)
      S.sh(("%s -e %s 2>%s.e1 & %s -e %s 2>%s.e2 & wait"):format(S.lua_bin, S.shell_quote(p1), path,
        S.lua_bin, S.shell_quote(p2), path))
      local function result(f)
        local h = io.open(f)
        local t = h and h:read("*a") or ""
        if h then h:close() end
        os.remove(f)
        return t
      end
      local r1, r2 = result(o1), result(o2)
      local e1, e2 = result(path .. ".e1"), result(path .. ".e2")
      assert.equal("0 " .. a._id, r1, e1) -- 60 moves: back where they started
      assert.equal("0 " .. b._id, r2, e2)
      local s = S.ok(S.progallery.open { path = path, caller = "admin" })
      for _, g in ipairs { { a, ai }, { b, bi } } do
        local items = S.all_items(s, g[1]._id)
        assert.equal(6, #items)
        assert.equal(6, S.ok(s:getGallery(g[1]._id)).totalItems)
        local set = {}
        for _, it in ipairs(g[2]) do set[it._id] = true end
        for _, it in ipairs(items) do assert.is_true(set[it._id]) end
      end
      s:close()
      S.cleanup()
    end)
  end)

  describe("renumbering", function()
    it("renumbers the target when doubles run out (70 moves before one anchor), keeping order and mirrors", function()
      local g, items = S.gallery_with(store, 80)
      local order = S.ids(items)
      local mirror = new_mirror()
      mirror.apply(store)
      local anchor = order[2]
      local renumbers, renumbered_total = 0, 0
      for step = 1, 70 do
        local id = order[#order]
        local seq = mirror.seq
        S.ok(store:moveGalleryItems(g._id, { id }, { before = anchor }))
        local moved = model_move(order, order, { id }, "before", anchor)
        assert.same(order, order_of(store, g._id), "order after step " .. step)
        local evs = mirror.apply(store)
        assert.is_true(evs[1] == nil or evs[1].metadata.seq > seq)
        local r = check_move_events(evs, g._id, g._id, moved)
        if r > 0 then renumbers, renumbered_total = renumbers + 1, renumbered_total + r end
        mirror.check(store, { g._id })
      end
      assert.is_true(renumbers >= 1, "70 halvings of a gap must run out of doubles")
      local all = S.all_items(store, g._id)
      for i = 2, #all do assert.is_true(all[i - 1].sortOrder < all[i].sortOrder) end
      assert.equal(80, S.ok(store:getGallery(g._id)).totalItems)
    end)

    it("renumbers the target, not the source, on a move between galleries", function()
      local src, si = S.gallery_with(store, 3, "S")
      local dst = S.ok(store:createGallery { gallery = { items = {
        { title = "x", sortOrder = 1 }, { title = "y", sortOrder = 1 }, { title = "z", sortOrder = 1 } } } })
      local did = S.ids(dst.items)
      local before_src = S.all_items(store, src._id)
      local seq = select(2, events_after(store, 0))
      S.ok(store:moveGalleryItems(src._id, { si[2]._id }, { toGalleryId = dst._id, after = did[1] }))
      assert.same({ did[1], si[2]._id, did[2], did[3] }, order_of(store, dst._id))
      local after_src = S.all_items(store, src._id)
      assert.equal(before_src[1].sortOrder, after_src[1].sortOrder)
      assert.equal(before_src[3].sortOrder, after_src[2].sortOrder)
      assert.is_true(check_move_events(events_after(store, seq), src._id, dst._id, { si[2]._id }) >= 1)
    end)

    it("finds room next to huge and tiny sort orders", function()
      local g = S.ok(store:createGallery { gallery = { items = {
        { title = "a", sortOrder = -1.7e308 }, { title = "b", sortOrder = 1.7e308 },
        { title = "c", sortOrder = 1.7976931348623157e308 } } } })
      local id = S.ids(g.items)
      S.ok(store:moveGalleryItems(g._id, { id[1] }, { after = id[3] }))
      assert.same({ id[2], id[3], id[1] }, order_of(store, g._id))
      S.ok(store:moveGalleryItems(g._id, { id[1] }, { after = id[2] }))
      assert.same({ id[2], id[1], id[3] }, order_of(store, g._id))
      S.ok(store:moveGalleryItems(g._id, { id[3] }, { before = id[2] }))
      assert.same({ id[3], id[2], id[1] }, order_of(store, g._id))
      for _, it in ipairs(S.all_items(store, g._id)) do
        assert.is_true(it.sortOrder == it.sortOrder and it.sortOrder > -math.huge and it.sortOrder < math.huge)
      end
    end)
  end)

  describe("model-based", function()
    it("random moves within and between galleries agree with a model after every step", function()
      local seed = tonumber(os.getenv("MOVES_SEED") or "") or os.time()
      math.randomseed(seed)
      local why = "MOVES_SEED=" .. seed
      local gids, model = {}, {}
      -- A: many ties (sortOrders from 1..4), B: default sort orders, C: empty
      local ties = {}
      for i = 1, 25 do ties[i] = { title = "a" .. i, sortOrder = math.random(1, 4) } end
      local a = S.ok(store:createGallery { gallery = { name = "A" } })
      local made = S.ok(store:createGalleryItems(a._id, ties)).items
      local pos = {}
      for i, it in ipairs(made) do pos[it._id] = i end
      local sorted = S.ids(made)
      table.sort(sorted, function(x, y)
        local sx, sy = ties[pos[x]].sortOrder, ties[pos[y]].sortOrder
        if sx ~= sy then return sx < sy end
        return pos[x] < pos[y]
      end)
      gids[1], model[a._id] = a._id, sorted
      local b, bi = S.gallery_with(store, 20, "B")
      gids[2], model[b._id] = b._id, S.ids(bi)
      local c = S.ok(store:createGallery { gallery = { name = "C" } })
      gids[3], model[c._id] = c._id, {}
      for _, gid in ipairs(gids) do assert.same(model[gid], order_of(store, gid), why) end
      local mirror = new_mirror()
      mirror.apply(store)
      for step = 1, 150 do
        local src = gids[math.random(#gids)]
        if #model[src] > 0 then
          local dst = math.random() < 0.5 and src or gids[math.random(#gids)]
          -- a random subset, given in a random order
          local pool = { S.unpack(model[src]) }
          local k = math.random(1, math.min(#pool, math.random() < 0.1 and #pool or 6))
          local moved = {}
          for i = 1, k do
            local j = math.random(i, #pool)
            pool[i], pool[j] = pool[j], pool[i]
            moved[i] = pool[i]
          end
          local movedset = {}
          for _, id in ipairs(moved) do movedset[id] = true end
          local candidates = {}
          for _, id in ipairs(model[dst]) do if not movedset[id] then candidates[#candidates + 1] = id end end
          local how = ({ "before", "after", "end" })[math.random(3)]
          local anchor
          if how ~= "end" and #candidates > 0 then anchor = candidates[math.random(#candidates)] else how = "end" end
          local opts = {}
          if anchor then opts[how] = anchor end
          if dst ~= src or math.random() < 0.3 then opts.toGalleryId = dst end
          local what = ("%s step %d: %d items %s %s"):format(why, step, k, how, dst == src and "within" or "across")
          local r = S.ok(store:moveGalleryItems(src, moved, opts))
          local in_order = model_move(model[src], model[dst], moved, how, anchor)
          assert.same(in_order, S.ids(r.items), what)
          for _, gid in ipairs(gids) do
            assert.same(model[gid], order_of(store, gid), what)
            assert.equal(#model[gid], S.ok(store:getGallery(gid, { itemLimit = 1 })).totalItems, what)
          end
          local evs = mirror.apply(store)
          check_move_events(evs, src, dst, in_order)
          mirror.check(store, gids)
        end
      end
    end)
  end)

  describe("bad input", function()
    local a, b, aid, bid, gids, before
    before_each(function()
      local ai, bi
      a, ai = S.gallery_with(store, 4, "A")
      b, bi = S.gallery_with(store, 2, "B")
      aid, bid = S.ids(ai), S.ids(bi)
      gids = { a._id, b._id }
      before = snapshot(store, gids)
    end)
    after_each(function()
      -- nothing changed: items, orders, counts, dates, and no event
      assert.same(before, snapshot(store, gids))
    end)

    local function bad(code, field, ...)
      S.expect_err(code, field, store.moveGalleryItems, store, ...)
    end

    it("names the field of every bad argument", function()
      bad("INVALID_ARGUMENT", "galleryId", nil, { aid[1] })
      bad("INVALID_ARGUMENT", "galleryId", "nope", { aid[1] })
      bad("INVALID_ARGUMENT", "galleryId", 5, { aid[1] })
      bad("INVALID_ARGUMENT", "itemIds", a._id)
      bad("INVALID_ARGUMENT", "itemIds", a._id, null)
      bad("INVALID_ARGUMENT", "itemIds", a._id, "x")
      bad("INVALID_ARGUMENT", "itemIds", a._id, {})
      bad("INVALID_ARGUMENT", "itemIds", a._id, { x = aid[1] })
      bad("INVALID_ARGUMENT", "itemIds[2]", a._id, { aid[1], "not-a-uuid" })
      bad("INVALID_ARGUMENT", "itemIds[1]", a._id, { 7 })
      bad("INVALID_ARGUMENT", "itemIds[3]", a._id, { aid[1], aid[2], aid[1] })
      local many = {}
      for i = 1, 1001 do many[i] = S.random_uuid() end
      bad("RESOURCE_EXHAUSTED", "itemIds", a._id, many)
      bad("INVALID_ARGUMENT", "options", a._id, { aid[1] }, "x")
      bad("INVALID_ARGUMENT", "beforeItem", a._id, { aid[1] }, { beforeItem = aid[2] })
      bad("INVALID_ARGUMENT", "before", a._id, { aid[1] }, { before = "x" })
      bad("INVALID_ARGUMENT", "after", a._id, { aid[1] }, { after = 12 })
      bad("INVALID_ARGUMENT", "after", a._id, { aid[1] }, { before = aid[2], after = aid[3] })
      bad("INVALID_ARGUMENT", "before", a._id, { aid[1], aid[2] }, { before = aid[2] })
      bad("INVALID_ARGUMENT", "after", a._id, { aid[1] }, { after = aid[1], toGalleryId = b._id })
      bad("INVALID_ARGUMENT", "toGalleryId", a._id, { aid[1] }, { toGalleryId = "x" })
      bad("INVALID_ARGUMENT", "toGalleryId", a._id, { aid[1] }, { toGalleryId = {} })
    end)

    it("is NOT_FOUND for galleries, items and anchors that are not there", function()
      bad("NOT_FOUND", "galleryId", S.MISSING_ID, { aid[1] })
      bad("NOT_FOUND", "toGalleryId", a._id, { aid[1] }, { toGalleryId = S.MISSING_ID })
      -- an item of another gallery, or of none; the last of several valid ones
      bad("NOT_FOUND", "itemIds[1]", a._id, { bid[1] })
      bad("NOT_FOUND", "itemIds[3]", a._id, { aid[1], aid[2], S.MISSING_ID })
      -- the anchor must be in the target gallery
      bad("NOT_FOUND", "before", a._id, { aid[1] }, { before = bid[1] })
      bad("NOT_FOUND", "after", a._id, { aid[1] }, { after = aid[2], toGalleryId = b._id })
      bad("NOT_FOUND", "before", a._id, { aid[1] }, { before = S.MISSING_ID })
    end)

    it("needs the right to write", function()
      for _, who in ipairs { "visitor", "member" } do
        local v = S.view(store, who)
        S.expect_err("PERMISSION_DENIED", nil, v.moveGalleryItems, v, a._id, { aid[1] }, { before = aid[3] })
      end
      local elevated = S.progallery.elevate(function()
        return S.view(store, "visitor"):moveGalleryItems(a._id, { aid[1] }, { after = aid[2] })
      end)
      S.ok(elevated())
      assert.same({ aid[2], aid[1], aid[3], aid[4] }, order_of(store, a._id))
      before = snapshot(store, gids) -- that move was meant to happen
    end)

    it("never raises on hostile values", function()
      for _, v in ipairs(S.hostile_values()) do
        local r = S.call(store.moveGalleryItems, store, a._id, v, v)
        assert.is_nil(r[1])
        r = S.call(store.moveGalleryItems, store, v, { aid[1] }, { before = v, toGalleryId = v })
        assert.is_nil(r[1])
      end
    end)
  end)

  describe("atomicity", function()
    it("a move that fails at its last item's update leaves everything as it was (renumbering too)", function()
      local path = S.tmppath()
      local st = S.ok(S.progallery.open { path = path, caller = "admin" })
      local a, ai = S.gallery_with(st, 4, "A")
      -- a target whose ties force a renumbering before the items are placed
      local b = S.ok(st:createGallery { gallery = { name = "B", items = {
        { title = "x", sortOrder = 3 }, { title = "y", sortOrder = 3 }, { title = "z", sortOrder = 3 } } } })
      local victim = ai[3]._id -- the last of the moved items in their order: updated last
      local sql = S.postgres and ([[
        CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN
          IF NEW.id = '%s' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER boom BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION boom();]]):format(victim)
        or ("CREATE TRIGGER boom BEFORE UPDATE ON items WHEN NEW.id = '%s'"
            .. " BEGIN SELECT RAISE(ABORT, 'boom'); END;"):format(victim)
      -- SQL behind the store's back (S.sqlite, but without an LD_PRELOAD of the sanitizer
      -- runs: psql hangs under a preloaded libasan)
      local function behind(text)
        if not S.postgres then return S.sqlite(path, text) end
        return S.sh("env -u LD_PRELOAD psql -qAt -v ON_ERROR_STOP=1 " .. S.shell_quote(S.dsn_for(path))
          .. " -c " .. S.shell_quote(text))
      end
      local out, ok = behind(sql)
      assert(ok, out)
      local gids = { a._id, b._id }
      local before = snapshot(st, gids)
      local r, err, code = st:moveGalleryItems(a._id, { ai[3]._id, ai[1]._id, ai[2]._id },
        { toGalleryId = b._id, after = b.items[1]._id })
      assert.is_nil(r)
      assert.equal("INTERNAL", code, err)
      assert.same(before, snapshot(st, gids))
      -- and without the trigger the same move goes through, renumbering B
      out, ok = behind("DROP TRIGGER boom" .. (S.postgres and " ON items" or ""))
      assert(ok, out)
      S.ok(st:moveGalleryItems(a._id, { ai[3]._id, ai[1]._id, ai[2]._id }, { toGalleryId = b._id, after = b.items[1]._id }))
      assert.same({ b.items[1]._id, ai[1]._id, ai[2]._id, ai[3]._id, b.items[2]._id, b.items[3]._id }, order_of(st, b._id))
      st:close()
      S.cleanup()
    end)
  end)

  describe("batches", function()
    it("moves 1000 items in one call, between galleries", function()
      local a = S.ok(store:createGallery { gallery = { name = "A" } })
      local list = {}
      for i = 1, 1000 do list[i] = { title = "t" .. i } end
      local ids = S.ids(S.ok(store:createGalleryItems(a._id, list)).items)
      local b, bi = S.gallery_with(store, 2, "B")
      local r = S.ok(store:moveGalleryItems(a._id, ids, { toGalleryId = b._id, after = bi[1]._id }))
      assert.equal(1000, #r.items)
      local want = { bi[1]._id }
      for i = 1, 1000 do want[#want + 1] = ids[i] end
      want[#want + 1] = bi[2]._id
      assert.same(want, order_of(store, b._id))
      assert.equal(0, S.ok(store:getGallery(a._id)).totalItems)
      assert.equal(1002, S.ok(store:getGallery(b._id)).totalItems)
    end)
  end)

  describe("export / import", function()
    it("moves the Item Moved events to another store as they are", function()
      local a, ai = S.gallery_with(store, 3, "A")
      local b = S.ok(store:createGallery { gallery = { name = "B" } })
      S.ok(store:moveGalleryItems(a._id, { ai[2]._id }, { toGalleryId = b._id }))
      local rows, after = {}, nil
      repeat
        local page = S.ok(store:_feedEvents { after = after, limit = 1000 })
        for _, e in ipairs(page.events) do rows[#rows + 1] = e end
        after = page.events[#page.events] and page.events[#page.events].seq
      until #page.events == 0
      local other = S.admin()
      for _, gid in ipairs { a._id, b._id } do S.ok(other:_restoreGallery(S.ok(store:getGallery(gid)))) end
      S.ok(other:_restoreFeed { prunedThrough = 0 })
      S.ok(other:_restoreFeed { events = rows })
      local want, got = S.ok(store:events { after = 0 }), S.ok(other:events { after = 0 })
      assert.same(want, got)
      local moved = 0
      for _, e in ipairs(got.events) do
        if e.metadata.originatedFrom == "Item Moved" then moved = moved + 1 end
      end
      assert.equal(1, moved)
      -- an origin the store does not know is refused, not stored
      rows[#rows].origin = 9
      local third = S.admin()
      S.ok(third:_restoreFeed { prunedThrough = 0 })
      S.expect_err("INVALID_ARGUMENT", nil, third._restoreFeed, third, { events = rows })
      other:close()
      third:close()
    end)
  end)

  describe("REST (store:rest)", function()
    it("moves with REST names and shapes, and errors name REST fields", function()
      local cjson = require "cjson"
      local a, ai = S.gallery_with(store, 3, "A")
      local b = S.ok(store:createGallery { gallery = { name = "B" } })
      local aid = S.ids(ai)
      local text = S.ok(store:rest("moveGalleryItems", a._id, nil, nil,
        cjson.encode { itemIds = { aid[3], aid[1] }, toGalleryId = b._id, galleryId = a._id }))
      local res = cjson.decode(text)
      assert.same({ aid[1], aid[3] }, { res.items[1].id, res.items[2].id })
      assert.is_table(res.items[1].image.imageInfo)
      assert.is_string(res.items[1].createdDate)
      assert.same({ aid[1], aid[3] }, order_of(store, b._id))
      local r, err, code = store:rest("moveGalleryItems", a._id, nil, nil,
        cjson.encode { itemIds = { aid[2], aid[2] } })
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", code)
      assert.matches("^itemIds%[2%]: the same id as itemIds%[0%]", err)
      r, err, code = store:rest("moveGalleryItems", a._id, nil, nil, cjson.encode { itemIds = { aid[2] }, first = true })
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", code)
      assert.matches("^first", err)
    end)

    it("carries originatedFrom to pull consumers, webhooks and Lua handlers", function()
      local cjson = require "cjson"
      local events = require "progallery.events"
      local a, ai = S.gallery_with(store, 2, "A")
      local b = S.ok(store:createGallery { gallery = { name = "B" } })
      local before = S.ok(store:events { after = 0, limit = 1000 }).lastSeq
      S.ok(store:setEventCursor("mirror", before))
      S.ok(store:moveGalleryItems(a._id, { ai[1]._id }, { toGalleryId = b._id }))
      local page = cjson.decode(S.ok(store:rest("events", nil, nil, { after = before })))
      assert.equal(2, #page.events)
      assert.equal("gallery_item_deleted", page.events[1].slug)
      assert.equal("Item Moved", page.events[1].originatedFrom)
      assert.equal(a._id, page.events[1].entityId)
      assert.equal(ai[1]._id, page.events[1].actionEvent.body.itemId)
      assert.equal("gallery_item_created", page.events[2].slug)
      assert.is_nil(page.events[2].originatedFrom)
      assert.equal(ai[1]._id, page.events[2].actionEvent.body.item.id)
      local hooks = cjson.decode(S.ok(store:rest("webhookEvents", nil, nil, { after = before })))
      assert.same(page.events[1], cjson.decode(hooks.events[1].data))
      local seen = {}
      S.ok(events.dispatch(store, {
        onGalleryItemDeleted = function(e) seen[#seen + 1] = "deleted:" .. tostring(e.metadata.originatedFrom) end,
        wixProGallery_onGalleryItemCreated = function(e) seen[#seen + 1] = "created:" .. e.data.item._id end,
      }, { consumer = "mirror" }))
      assert.same({ "deleted:Item Moved", "created:" .. ai[1]._id }, seen)
    end)
  end)
end)

-- ---- HTTP, under a real nginx (scripts/serve.sh, as spec/http_spec.lua starts it) --------

describe("POST /galleries/{id}/items/move under nginx #nginx", function()
  local cjson = require "cjson"
  local srv

  local sh = S.run
  local q = S.shell_quote

  local function request(method, path, body)
    local tmp = srv.dir .. "/req"
    local args = { "curl -s -S --max-time 30 -X " .. method, "-o " .. q(tmp .. ".out"), "-w '%{http_code}'",
                   "-H " .. q("Authorization: " .. srv.key) }
    if body then
      S.write_file(tmp .. ".in", type(body) == "table" and cjson.encode(body) or body)
      args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. q(tmp .. ".in")
    end
    args[#args + 1] = q(srv.base .. "/progallery/v2" .. path)
    local out, st = sh(table.concat(args, " "))
    assert(st == 0, "curl failed: " .. out)
    local text = S.read_file(tmp .. ".out") or ""
    local ok, json = pcall(cjson.decode, text)
    return tonumber(out:match("(%d%d%d)%s*$")), ok and json or nil, text
  end

  setup(function()
    if not io.open("build-luajit/progallery.so") then
      local out, st = sh("make -s luajit")
      assert(st == 0, "make luajit failed:\n" .. out)
    end
    local dir, port = S.server_dir(), S.free_port()
    srv = { dir = dir, port = port, key = "moves-key-" .. os.time(), base = "http://127.0.0.1:" .. port }
    srv.env = ("PORT=%d PROGALLERY_SERVE_DIR=%s PROGALLERY_ADMIN_KEY=%s PROGALLERY_NO_DEPS=1 PROGALLERY_WORKERS=2")
      :format(port, q(dir), q(srv.key))
    local out, st = sh(srv.env .. " sh scripts/serve.sh start")
    assert(st == 0, "nginx did not start:\n" .. out)
  end)

  teardown(function()
    if not srv then return end
    sh(srv.env .. " sh scripts/serve.sh stop")
    S.remove_server_dir(srv.dir)
  end)

  it("moves within and between galleries, answers {items} in REST shape, and its events", function()
    local st, a = request("POST", "/galleries", { gallery = { name = "A", items = {
      { title = "1", image = { imageInfo = { id = "x1.jpg", width = 10, height = 10 } } }, { title = "2" }, { title = "3" } } } })
    assert.equal(200, st)
    local _, b = request("POST", "/galleries", { gallery = { name = "B", items = { { title = "b1" } } } })
    local aid = { a.gallery.items[1].id, a.gallery.items[2].id, a.gallery.items[3].id }
    local gid, bid = a.gallery.id, b.gallery.id
    local fst, feed, ftext = request("GET", "/events?limit=1000")
    assert.equal(200, fst, ftext)
    local seq = feed.lastSeq
    -- within: 1 and 3 (given as 3, 1) after 2
    local st2, r = request("POST", "/galleries/" .. gid .. "/items/move", { itemIds = { aid[3], aid[1] }, after = aid[2], galleryId = gid })
    assert.equal(200, st2)
    assert.same({ aid[1], aid[3] }, { r.items[1].id, r.items[2].id })
    assert.equal("x1.jpg", r.items[1].image.imageInfo.id)
    assert.is_string(r.items[1].updatedDate)
    local _, list = request("GET", "/galleries/" .. gid .. "/items")
    assert.same({ aid[2], aid[1], aid[3] }, { list.items[1].id, list.items[2].id, list.items[3].id })
    -- between: 2 before b1
    local st3 = request("POST", "/galleries/" .. gid .. "/items/move", { itemIds = { aid[2] }, before = b.gallery.items[1].id, toGalleryId = bid })
    assert.equal(200, st3)
    local _, gb = request("GET", "/galleries/" .. bid)
    assert.equal(2, gb.gallery.totalItems)
    assert.same({ aid[2], b.gallery.items[1].id }, { gb.gallery.items[1].id, gb.gallery.items[2].id })
    local _, ga = request("GET", "/galleries/" .. gid)
    assert.equal(2, ga.gallery.totalItems)
    local est, evs, etext = request("GET", ("/events?after=%d"):format(seq))
    assert.equal(200, est, etext)
    local slugs = {}
    for i, e in ipairs(evs.events) do slugs[i] = e.slug .. (e.originatedFrom and (":" .. e.originatedFrom) or "") end
    assert.same({ "gallery_item_updated", "gallery_item_updated", "gallery_item_deleted:Item Moved", "gallery_item_created" }, slugs)
  end)

  it("answers bad input with 400 / 404 naming the REST field, and 405 for other methods", function()
    local _, a = request("POST", "/galleries", { gallery = { name = "A", items = { { title = "1" }, { title = "2" } } } })
    local gid, i1, i2 = a.gallery.id, a.gallery.items[1].id, a.gallery.items[2].id
    local path = "/galleries/" .. gid .. "/items/move"
    local function field(json)
      local v = json.details.validationError and json.details.validationError.fieldViolations
      return v and v[1].field
    end
    local cases = {
      { { itemIds = { i1, i1 } }, 400, "INVALID_ARGUMENT", "itemIds[1]" },
      { { itemIds = { i1, "nope" } }, 400, "INVALID_ARGUMENT", "itemIds[1]" },
      { { itemIds = {} }, 400, "INVALID_ARGUMENT", "itemIds" },
      { { before = i2 }, 400, "INVALID_ARGUMENT", "itemIds" },
      { { itemIds = { i1 }, before = i2, after = i2 }, 400, "INVALID_ARGUMENT", "after" },
      { { itemIds = { i1 }, before = i1 }, 400, "INVALID_ARGUMENT", "before" },
      { { itemIds = { i1 }, toGalleryId = "x" }, 400, "INVALID_ARGUMENT", "toGalleryId" },
      { { itemIds = { i1 }, position = 1 }, 400, "INVALID_ARGUMENT", "position" },
      { { itemIds = { i1 }, galleryId = S.MISSING_ID }, 400, "INVALID_ARGUMENT", "galleryId" },
      { { itemIds = { S.MISSING_ID } }, 404, "NOT_FOUND", nil, "^itemIds%[0%]: no item with id " },
      { { itemIds = { i1, S.MISSING_ID } }, 404, "NOT_FOUND", nil, "^itemIds%[1%]: no item with id " },
      { { itemIds = { i1 }, after = S.MISSING_ID }, 404, "NOT_FOUND" },
      { { itemIds = { i1 }, toGalleryId = S.MISSING_ID }, 404, "NOT_FOUND" },
    }
    for _, c in ipairs(cases) do
      local st, json, text = request("POST", path, c[1])
      assert.equal(c[2], st, text)
      assert.equal(c[3], json.details.applicationError.code, text)
      if c[4] then assert.equal(c[4], field(json), text) end
      -- the message's path is the REST one (0-based) whatever the code
      if c[5] then assert.matches(c[5], json.message, text) end
    end
    local st, json = request("POST", "/galleries/" .. S.MISSING_ID .. "/items/move", { itemIds = { i1 } })
    assert.equal(404, st)
    assert.equal("NOT_FOUND", json.details.applicationError.code)
    st = request("GET", path)
    assert.equal(405, st)
    local _, list = request("GET", "/galleries/" .. gid .. "/items")
    assert.same({ i1, i2 }, { list.items[1].id, list.items[2].id })
  end)

  it("is refused without the admin key", function()
    local _, a = request("POST", "/galleries", { gallery = { items = { { title = "1" } } } })
    local out = sh(("curl -s -o /dev/null -w '%%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary %s %s")
      :format(q(cjson.encode { itemIds = { a.gallery.items[1].id } }), q(srv.base .. "/progallery/v2/galleries/" .. a.gallery.id .. "/items/move")))
    assert.equal("403", out:match("%d%d%d"))
  end)
end)
