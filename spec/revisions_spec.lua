-- Revisions (API.md section 14): every gallery and item carries `revision`, digits as a
-- string, from "1", growing with every change (a gallery's with its items' changes too:
-- docs/decisions.md); updates and deletes given a revision that is not current fail with
-- ABORTED and change nothing. Runs on SQLite and, through spec/support.lua, PostgreSQL.
local progallery = require "progallery"
local cjson = require "cjson"
local S = require "spec.support"

local function rev(x) return tonumber(x.revision) end

-- everything a store holds, for "nothing changed"
local function snapshot(store)
  local out = {}
  for _, g in ipairs(S.ok(store:listGalleries { limit = 10, itemLimit = 100 }).galleries) do
    out[#out + 1] = g
  end
  return out
end

describe("revisions", function()
  local store
  before_each(function() store = S.admin() end)
  after_each(function() store:close() end)

  it("start at \"1\" on every gallery and item, however made", function()
    local g = S.ok(store:createGallery { gallery = { name = "g", items = { S.simple_item("a"), S.simple_item("b") } } })
    assert.equal("1", g.revision)
    for _, it in ipairs(g.items) do assert.equal("1", it.revision) end
    local one = S.ok(store:createGalleryItem(g._id, S.image_item()))
    assert.equal("1", one.revision)
    for _, it in ipairs(S.ok(store:createGalleryItems(g._id, { S.video_item(), S.text_item() })).items) do
      assert.equal("1", it.revision)
    end
    local clone = S.ok(store:createGallery { cloneFromGalleryId = g._id })
    assert.equal("1", clone.revision)
    assert.equal(5, #clone.items)
    for _, it in ipairs(clone.items) do assert.equal("1", it.revision) end
    -- a revision in a create is read-only, ignored like _id and the dates (whatever it holds)
    local x = S.ok(store:createGalleryItem(g._id, { title = "t", revision = "41" }))
    assert.equal("1", x.revision)
    x = S.ok(store:createGalleryItem(g._id, { title = "t", revision = {} }))
    assert.equal("1", x.revision)
    assert.equal("1", S.ok(store:createGallery { gallery = { revision = "9" } }).revision)
    -- reads say the same
    assert.equal("1", S.ok(store:getGalleryItem { galleryId = g._id, itemId = one._id }).revision)
    assert.equal("1", S.ok(store:getGallery(clone._id)).revision)
  end)

  it("grow by one with every change; an item's write moves its gallery's revision too", function()
    local g = S.ok(store:createGallery { gallery = { name = "g" } })
    local ids = function(id) return { galleryId = g._id, itemId = id } end
    local a = S.ok(store:createGalleryItem(g._id, { title = "a" }))
    local b = S.ok(store:createGalleryItem(g._id, { title = "b" }))
    assert.equal(3, rev(S.ok(store:getGallery(g._id)))) -- two item creates
    local a2 = S.ok(store:updateGalleryItem(ids(a._id), { title = "a2" }))
    assert.equal("2", a2.revision)
    local a3 = S.ok(store:updateGalleryItem(ids(a._id), { sortOrder = 5 }))
    assert.equal("3", a3.revision)
    assert.equal("3", S.ok(store:getGalleryItem(ids(a._id))).revision)
    assert.equal("1", S.ok(store:getGalleryItem(ids(b._id))).revision) -- its sibling did not move
    assert.equal(5, rev(S.ok(store:getGallery(g._id))))
    assert.equal("6", S.ok(store:updateGallery(g._id, { name = "h" })).revision)
    S.ok(store:createGalleryItems(g._id, { { title = "c" }, { title = "d" } })) -- one call, one change
    assert.equal(7, rev(S.ok(store:getGallery(g._id))))
    S.ok(store:deleteGalleryItem(ids(b._id)))
    assert.equal(8, rev(S.ok(store:getGallery(g._id))))
    S.ok(store:bulkDeleteGalleryItems(g._id, { a._id, S.MISSING_ID }))
    assert.equal(9, rev(S.ok(store:getGallery(g._id))))
    S.ok(store:bulkDeleteGalleryItems(g._id, { S.MISSING_ID })) -- deleted nothing: no change
    assert.equal(9, rev(S.ok(store:getGallery(g._id))))
    -- a list shows the same revisions as a get
    for _, lg in ipairs(S.ok(store:listGalleries()).galleries) do
      assert.equal(S.ok(store:getGallery(lg._id)).revision, lg.revision)
    end
  end)

  it("a current revision lets the write through; a stale one is ABORTED and changes nothing", function()
    local g = S.gallery_with(store, 3)
    local ids = function(id) return { galleryId = g._id, itemId = id } end
    local it = S.ok(store:getGallery(g._id)).items[2]
    local fresh = S.ok(store:updateGalleryItem(ids(it._id), { title = "one", revision = it.revision }))
    assert.equal(rev(it) + 1, rev(fresh))
    local before = snapshot(store)
    local msg = S.expect_err("ABORTED", "item.revision", store.updateGalleryItem, store, ids(it._id),
      { title = "two", revision = it.revision })
    assert.truthy(msg:find(("%s is not the current revision (%s)"):format(it.revision, fresh.revision), 1, true), msg)
    -- a revision from the future is not current either
    S.expect_err("ABORTED", "item.revision", store.updateGalleryItem, store, ids(it._id),
      { title = "two", revision = tostring(rev(fresh) + 1) })
    local gnow = S.ok(store:getGallery(g._id))
    msg = S.expect_err("ABORTED", "gallery.revision", store.updateGallery, store, g._id,
      { name = "x", revision = tostring(rev(gnow) - 1) })
    assert.truthy(msg:find("not the current revision", 1, true), msg)
    S.expect_err("ABORTED", "options.revision", store.deleteGalleryItem, store, ids(it._id),
      { revision = it.revision })
    S.expect_err("ABORTED", "options.revision", store.deleteGallery, store, g._id,
      { revision = tostring(rev(gnow) - 1) })
    assert.same(before, snapshot(store))
    -- a fetched object sent back whole carries its revision: accepted while current
    local fetched = S.ok(store:getGallery(g._id))
    fetched.name = "sent back"
    local u = S.ok(store:updateGallery(g._id, fetched))
    assert.equal(rev(fetched) + 1, rev(u))
    S.expect_err("ABORTED", "gallery.revision", store.updateGallery, store, g._id, fetched)
    -- null says nothing (no check), like an absent revision
    assert.equal(rev(u) + 1, rev(S.ok(store:updateGallery(g._id, { name = "n", revision = S.null }))))
    -- current revisions delete
    local cur = S.ok(store:getGalleryItem(ids(it._id)))
    assert.same({ itemId = it._id }, S.ok(store:deleteGalleryItem(ids(it._id), { revision = cur.revision })))
    gnow = S.ok(store:getGallery(g._id))
    assert.same({ galleryId = g._id }, S.ok(store:deleteGallery(g._id, { revision = gnow.revision })))
    S.expect_err("NOT_FOUND", "galleryId", store.getGallery, store, g._id)
  end)

  it("an update takes the revision in its options too, checked as a delete's is", function()
    local g = S.gallery_with(store, 2)
    local it = S.ok(store:getGallery(g._id)).items[1]
    local ids = { galleryId = g._id, itemId = it._id }
    local before = snapshot(store)
    local last = S.ok(store:events { after = 0, limit = 1000 }).lastSeq
    -- stale: ABORTED naming options.revision, nothing written, no event
    local msg = S.expect_err("ABORTED", "options.revision", store.updateGalleryItem, store, ids,
      { title = "x" }, { revision = tostring(rev(it) + 1) })
    assert.truthy(msg:find(("%d is not the current revision (%s)"):format(rev(it) + 1, it.revision), 1, true), msg)
    local gnow = S.ok(store:getGallery(g._id))
    S.expect_err("ABORTED", "options.revision", store.updateGallery, store, g._id, { name = "x" },
      { revision = tostring(rev(gnow) + 1) })
    -- given in both places, each is checked: a current one does not cover a stale one
    S.expect_err("ABORTED", "options.revision", store.updateGalleryItem, store, ids,
      { title = "x", revision = it.revision }, { revision = tostring(rev(it) + 1) })
    S.expect_err("ABORTED", "item.revision", store.updateGalleryItem, store, ids,
      { title = "x", revision = tostring(rev(it) + 1) }, { revision = it.revision })
    -- malformed options, judged before anything is read (a missing gallery too)
    for _, bad in ipairs { { revision = 1 }, { revision = "" }, { revision = "0" }, { revision = "1.0" } } do
      S.expect_err("INVALID_ARGUMENT", "options.revision", store.updateGalleryItem, store, ids, { title = "x" }, bad)
      S.expect_err("INVALID_ARGUMENT", "options.revision", store.updateGallery, store, S.MISSING_ID, { name = "x" }, bad)
    end
    S.expect_err("INVALID_ARGUMENT", "rev", store.updateGalleryItem, store, ids, { title = "x" }, { rev = "1" })
    S.expect_err("INVALID_ARGUMENT", "options", store.updateGallery, store, g._id, { name = "x" }, "1")
    assert.same(before, snapshot(store))
    assert.equal(0, #S.ok(store:events { after = last }).events)
    -- current: written; an empty options table (Velo's) or progallery.null checks nothing
    local u = S.ok(store:updateGalleryItem(ids, { title = "y" }, { revision = it.revision }))
    assert.equal(rev(it) + 1, rev(u))
    assert.equal("y", u.title)
    u = S.ok(store:updateGalleryItem(ids, { title = "z" }, {}))
    assert.equal(rev(it) + 2, rev(u))
    u = S.ok(store:updateGalleryItem(ids, { title = "w" }, { revision = S.null }))
    assert.equal(rev(it) + 3, rev(u))
    gnow = S.ok(store:getGallery(g._id))
    local gu = S.ok(store:updateGallery(g._id, { name = "n" }, { revision = gnow.revision }))
    assert.equal(rev(gnow) + 1, rev(gu))
    assert.equal("n", gu.name)
  end)

  it("a stale revision records no event", function()
    local g = S.ok(store:createGallery { gallery = { name = "e" } })
    local x = S.ok(store:createGalleryItem(g._id, { title = "t" }))
    S.ok(store:updateGalleryItem({ galleryId = g._id, itemId = x._id }, { title = "u" }))
    local last = S.ok(store:events { after = 0, limit = 1000 }).lastSeq
    S.expect_err("ABORTED", nil, store.updateGalleryItem, store, { galleryId = g._id, itemId = x._id },
      { title = "v", revision = "1" })
    S.expect_err("ABORTED", nil, store.deleteGallery, store, g._id, { revision = "1" })
    assert.equal(0, #S.ok(store:events { after = last }).events)
  end)

  it("a malformed revision is INVALID_ARGUMENT naming the field, before anything is read", function()
    local g = S.gallery_with(store, 1)
    local it = g.items[1] or S.ok(store:getGallery(g._id)).items[1]
    local ids = { galleryId = g._id, itemId = it._id }
    local before = snapshot(store)
    local bad = { 1, 2.5, true, {}, "", "abc", "-1", "+1", "0", "00", " 1", "1 ", "1.0", "1e3", "0x10",
                  "99999999999999999999", "9223372036854775808", "1\0", "\255" }
    for _, v in ipairs(bad) do
      local label = type(v) == "string" and ("%q"):format(v) or tostring(v)
      S.expect_err("INVALID_ARGUMENT", "item.revision", store.updateGalleryItem, store, ids,
        { title = "x", revision = v })
      S.expect_err("INVALID_ARGUMENT", "gallery.revision", store.updateGallery, store, g._id,
        { name = "x", revision = v })
      S.expect_err("INVALID_ARGUMENT", "options.revision", store.deleteGalleryItem, store, ids, { revision = v })
      S.expect_err("INVALID_ARGUMENT", "options.revision", store.deleteGallery, store, g._id, { revision = v })
      -- the same on a gallery that is not there: the argument is judged first
      S.expect_err("INVALID_ARGUMENT", "options.revision", store.deleteGallery, store, S.MISSING_ID,
        { revision = v }, label)
    end
    S.expect_err("INVALID_ARGUMENT", "options", store.deleteGallery, store, g._id, "1")
    S.expect_err("INVALID_ARGUMENT", "rev", store.deleteGallery, store, g._id, { rev = "1" })
    S.expect_err("INVALID_ARGUMENT", "rev", store.deleteGalleryItem, store, ids, { rev = "1" })
    assert.same(before, snapshot(store))
    -- the largest revision is well-formed (and stale here)
    S.expect_err("ABORTED", "item.revision", store.updateGalleryItem, store, ids,
      { title = "x", revision = "9223372036854775807" })
    S.expect_err("ABORTED", "item.revision", store.updateGalleryItem, store, ids,
      { title = "x", revision = "0000000000000000009" })
  end)

  it("a missing gallery or item is NOT_FOUND whatever the revision says", function()
    local g = S.ok(store:createGallery {})
    S.expect_err("NOT_FOUND", "galleryId", store.updateGallery, store, S.MISSING_ID, { revision = "1" })
    S.expect_err("NOT_FOUND", "itemId", store.deleteGalleryItem, store, { galleryId = g._id, itemId = S.MISSING_ID },
      { revision = "1" })
  end)

  it("the events carry the entity's revision", function()
    local last = S.ok(store:events { after = 0, limit = 1000 }).lastSeq
    local g = S.ok(store:createGallery { gallery = { name = "ev" } })
    local x = S.ok(store:createGalleryItem(g._id, { title = "t" }))
    S.ok(store:updateGalleryItem({ galleryId = g._id, itemId = x._id }, { title = "u" }))
    S.ok(store:updateGallery(g._id, { name = "ev2" }))
    local evs = S.ok(store:events { after = last }).events
    assert.equal(4, #evs)
    assert.equal("1", evs[1].entity.revision)        -- gallery created
    assert.equal("1", evs[2].data.item.revision)     -- item created
    assert.equal("2", evs[3].data.updatedItem.revision)
    assert.equal("4", evs[4].entity.revision)        -- two item writes, then its own
    -- and in the REST domain events
    local page = cjson.decode((store:rest("events", nil, nil, { after = last })))
    assert.equal("1", page.events[1].createdEvent.entity.revision)
    assert.equal("2", page.events[3].actionEvent.body.updatedItem.revision)
    assert.equal("4", page.events[4].updatedEvent.currentEntity.revision)
  end)

  it("REST (store:rest): the revision in the shapes, the answer's revision, If-Match", function()
    local text, r = store:rest("createGallery", nil, nil, nil, '{"gallery":{"name":"r"}}')
    local g = cjson.decode(text).gallery
    assert.equal("1", g.revision)
    assert.equal("1", r)
    text, r = store:rest("createGalleryItem", g.id, nil, nil, '{"item":{"title":"t","revision":"77"}}')
    local it = cjson.decode(text).item
    assert.equal("1", it.revision)
    assert.equal("1", r)
    text, r = store:rest("getGallery", g.id)
    assert.equal("2", cjson.decode(text).gallery.revision)
    assert.equal("2", r)
    text, r = store:rest("listGalleryItems", g.id)
    assert.equal("1", cjson.decode(text).items[1].revision)
    assert.is_nil(r) -- a list is about no one entity
    -- If-Match on an update and a delete
    local res, msg, code, field = store:rest("updateGalleryItem", g.id, it.id, nil, '{"item":{"title":"u"}}', '"2"')
    assert.is_nil(res)
    assert.equal("ABORTED", code)
    assert.equal("If-Match", field)
    assert.truthy(msg:find("^If%-Match: 2 is not the current revision %(1%)"), msg)
    text, r = store:rest("updateGalleryItem", g.id, it.id, nil, '{"item":{"title":"u"}}', ' "1" ')
    assert.equal("2", cjson.decode(text).item.revision)
    assert.equal("2", r)
    text = store:rest("updateGalleryItem", g.id, it.id, nil, '{"item":{"title":"v"}}', "*")
    assert.equal("3", cjson.decode(text).item.revision)
    -- a body revision and If-Match that agree are one precondition (the body's field named);
    -- two that disagree cannot both be current
    res, msg, code, field = store:rest("updateGalleryItem", g.id, it.id, nil, '{"item":{"revision":"1"}}', '"1"')
    assert.equal("ABORTED", code)
    assert.equal("item.revision", field)
    res, msg, code, field = store:rest("updateGalleryItem", g.id, it.id, nil, '{"item":{"revision":"1"}}', '"3"')
    assert.equal("ABORTED", code)
    assert.equal("If-Match", field)
    assert.truthy(msg:find("disagree", 1, true), msg)
    assert.equal("3", cjson.decode((store:rest("getGalleryItem", g.id, it.id))).item.revision)
    res, msg, code, field = store:rest("updateGalleryItem", g.id, it.id, nil, '{"item":{"revision":"1"}}')
    assert.equal("ABORTED", code)
    assert.equal("item.revision", field)
    res, msg, code, field = store:rest("updateGalleryItem", g.id, it.id, nil, '{"item":{"revision":2}}')
    assert.equal("INVALID_ARGUMENT", code)
    assert.equal("item.revision", field)
    for _, bad in ipairs { "", "1", '"x"', 'W/"3"', '"3","4"', '"', '"0"' } do
      res, msg, code, field = store:rest("deleteGalleryItem", g.id, it.id, nil, nil, bad)
      assert.equal("INVALID_ARGUMENT", code, bad)
      assert.equal("If-Match", field, bad)
    end
    res, msg, code = store:rest("deleteGallery", g.id, nil, nil, nil, '"3"')
    assert.equal("ABORTED", code)
    assert.truthy(msg:find("^If%-Match: 3 is not the current revision"), msg)
    -- reads ignore If-Match
    assert.is_string((store:rest("getGallery", g.id, nil, nil, nil, '"1"')))
    res, msg, code = store:rest("getGallery", g.id, nil, nil, nil, 5)
    assert.equal("INVALID_ARGUMENT", code)
    local cur = cjson.decode((store:rest("getGallery", g.id))).gallery.revision
    assert.equal('{"galleryId":"' .. g.id .. '"}', (store:rest("deleteGallery", g.id, nil, nil, nil, '"' .. cur .. '"')))
  end)

  it("export and import keep every revision (a store moved is the same store)", function()
    local g = S.gallery_with(store, 3)
    local ids = function(id) return { galleryId = g._id, itemId = id } end
    local items = S.ok(store:getGallery(g._id)).items
    S.ok(store:updateGalleryItem(ids(items[1]._id), { title = "x" }))
    S.ok(store:updateGalleryItem(ids(items[1]._id), { title = "y" }))
    local want = S.ok(store:getGallery(g._id))
    local dst = S.admin()
    -- what `progallery export` writes: the gallery in the Velo shape, the items as REST text
    local gal = S.deepcopy(want)
    gal.items, gal.totalItems = nil, nil
    S.ok(dst:_restoreGallery(gal))
    local text = assert(store:rest("listGalleryItems", g._id, nil, { itemLimit = 100 }))
    assert(dst:rest("restoreItems", g._id, nil, nil, text))
    assert.same(want, S.ok(dst:getGallery(g._id)))
    assert.equal("3", S.ok(dst:getGalleryItem(ids(items[1]._id))).revision)
    -- an export from before revisions (none in it) comes back at 1; a malformed one is refused
    local old = S.deepcopy(gal)
    old._id, old.revision = S.random_uuid(), nil
    S.ok(dst:_restoreGallery(old))
    assert.equal("1", S.ok(dst:getGallery(old._id)).revision)
    local badg = S.deepcopy(gal)
    badg._id, badg.revision = S.random_uuid(), "x"
    S.expect_err("INVALID_ARGUMENT", "gallery.revision", dst._restoreGallery, dst, badg)
    dst:close()
  end)
end)

-- runs n copies of a Lua script at once (they start together on a "go" file); returns outputs
local function processes(n, body)
  local cpath = package.searchpath("progallery", package.cpath)
  local base = os.tmpname()
  local script = ("package.cpath = %q; local pg = require('progallery'); "
    .. "while not io.open(%q) do end; "):format(cpath, base .. ".go") .. body
  local cmd = {}
  for i = 1, n do
    cmd[i] = ("%s -e 'N = %d' -e %s > %s.%d 2>&1 &"):format(S.lua_bin, i, S.shell_quote(script), base, i)
  end
  assert(os.execute(table.concat(cmd, " ") .. " sleep 0.5; touch " .. base .. ".go; wait"))
  local outs = {}
  for i = 1, n do
    local f = assert(io.open(base .. "." .. i))
    outs[i] = f:read("*a")
    f:close()
    os.remove(base .. "." .. i)
  end
  os.remove(base .. ".go")
  os.remove(base)
  return outs
end

describe("revisions under concurrent writers", function()
  it("4 processes update one item with the revision they all read: one wins, three are ABORTED", function()
    local path = S.tmppath()
    local s = S.ok(progallery.open { path = path, caller = "admin" })
    local g = S.ok(s:createGallery { gallery = { items = { { title = "x" } } } })
    local it = g.items[1]
    -- the store's own open options for the other processes (a PostgreSQL schema under the specs' engine)
    local open_opts = S.postgres and ("{ dsn = %q, caller = 'admin', busyTimeout = 10000 }"):format(S.dsn_for(path))
      or ("{ path = %q, caller = 'admin', busyTimeout = 10000 }"):format(path)
    for round = 1, 3 do
      local cur = S.ok(s:getGalleryItem { galleryId = g._id, itemId = it._id }).revision
      local outs = processes(4, ("local s = assert(pg.open%s); "
        .. "local r, e, c = s:updateGalleryItem({ galleryId = %q, itemId = %q }, { title = 'p' .. N, revision = %q }); "
        .. "print(r and ('ok ' .. r.revision) or c)"):format(open_opts, g._id, it._id, cur))
      local won, aborted = {}, 0
      for i, out in ipairs(outs) do
        local rev = out:match("^ok (%d+)")
        if rev then won[#won + 1] = i; assert.equal(tostring(tonumber(cur) + 1), rev)
        elseif out:match("^ABORTED") then aborted = aborted + 1
        else error("process " .. i .. ": " .. out) end
      end
      assert.equal(1, #won, "round " .. round)
      assert.equal(3, aborted)
      local now = S.ok(s:getGalleryItem { galleryId = g._id, itemId = it._id })
      assert.equal("p" .. won[1], now.title)
      assert.equal(tostring(tonumber(cur) + 1), now.revision)
    end
    s:close()
  end)
end)

describe("revisions on a store made before them", function()
  it("a version-3 SQLite file: its rows start at 1 and grow from there #sqlite", function()
    local path = S.tmppath()
    local s = S.ok(progallery.open { path = path, caller = "admin" })
    local g = S.gallery_with(s, 2)
    s:close()
    -- back to schema 3, what this code wrote before revisions: no revision columns
    local out, ok = S.sqlite(path, [[
      ALTER TABLE galleries DROP COLUMN revision; ALTER TABLE items DROP COLUMN revision;
      PRAGMA user_version = 3;]])
    assert(ok, out)
    s = S.ok(progallery.open { path = path, caller = "admin" })
    assert.equal(S.SQLITE_SCHEMA, tonumber((S.sqlite(path, "PRAGMA user_version"))))
    local got = S.ok(s:getGallery(g._id))
    assert.equal("1", got.revision)
    for _, it in ipairs(got.items) do assert.equal("1", it.revision) end
    assert.equal("2", S.ok(s:updateGallery(g._id, { name = "n", revision = "1" })).revision)
    s:close()
  end)

  local DSN = S.postgres and S.dsn or os.getenv("PROGALLERY_TEST_DSN")
  local pg_it = DSN and it or pending
  pg_it("a PostgreSQL database of schema 3: its rows start at 1 and grow from there #postgres", function()
    local schema = ("rv%x_%d"):format(os.time() % 0xffffff, math.random(0, 0xffff))
    local dsn = ("%s options='-csearch_path=%s'"):format(DSN, schema)
    local open = S.raw_open or progallery.open
    local s = S.ok(open { dsn = dsn, caller = "admin" })
    local g = S.gallery_with(s, 2)
    s:close()
    local sql = ("ALTER TABLE %s.galleries DROP COLUMN revision; ALTER TABLE %s.items DROP COLUMN revision;"
      .. " UPDATE %s.progallery_meta SET value = 3 WHERE name = 'schema_version'"):format(schema, schema, schema)
    local out, ok = S.sh("psql -qAt -v ON_ERROR_STOP=1 " .. S.shell_quote(DSN) .. " -c " .. S.shell_quote(sql))
    assert(ok, out)
    s = S.ok(open { dsn = dsn, caller = "admin" })
    local got = S.ok(s:getGallery(g._id))
    assert.equal("1", got.revision)
    for _, it in ipairs(got.items) do assert.equal("1", it.revision) end
    assert.equal("2", S.ok(s:updateGallery(g._id, { name = "n", revision = "1" })).revision)
    s:close()
    local v = S.sh("psql -qAt " .. S.shell_quote(DSN) .. " -c "
      .. S.shell_quote(("SELECT value FROM %s.progallery_meta WHERE name = 'schema_version'"):format(schema)))
    assert.equal(S.POSTGRES_SCHEMA, tonumber(v:match("%d+")))
  end)
end)
