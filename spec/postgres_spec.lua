-- What only the PostgreSQL engine has (API.md section 11): many connections and processes
-- writing one database at once, a lost backend, its options. Runs where PROGALLERY_TEST_DSN
-- names a server (scripts/pg_test_server.sh run busted ...); elsewhere each test is pending.
local progallery = require "progallery"
local S = require "spec.support"

local DSN = os.getenv("PROGALLERY_TEST_DSN")
local open = S.raw_open or progallery.open
local run = ("%x"):format(os.time() % 0xffffff)
local n_schema = 0

-- a fresh schema of the test server: a new empty store
local function fresh_dsn()
  n_schema = n_schema + 1
  return ("%s options='-csearch_path=pgs%s_%d'"):format(DSN, run, n_schema)
end

local function psql(dsn, sql)
  return S.sh("psql -qAt -v ON_ERROR_STOP=1 " .. S.shell_quote(dsn) .. " -c " .. S.shell_quote(sql))
end

local pg_it = DSN and it or pending

-- runs n copies of a Lua script at once (they start together on a "go" file); returns outputs
local function processes(n, body)
  local lua = S.lua_bin
  local cpath = package.searchpath("progallery", package.cpath)
  local base = os.tmpname()
  local script = ("package.cpath = %q; local pg = require('progallery'); "
    .. "while not io.open(%q) do end; "):format(cpath, base .. ".go")
    .. body
  local cmd = {}
  for i = 1, n do cmd[i] = ("%s -e 'N = %d' -e %s > %s.%d 2>&1 &"):format(lua, i, S.shell_quote(script), base, i) end
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

describe("postgres engine #postgres", function()
  pg_it("opens by dsn, by a postgresql:// path, and by engine = \"postgres\"", function()
    local dsn = fresh_dsn()
    local a = S.ok(open { dsn = dsn, caller = "admin" })
    local g = S.ok(a:createGallery { gallery = { name = "one" } })
    local b = S.ok(open { engine = "postgres", dsn = dsn })
    assert.equal("one", S.ok(b:getGallery(g._id)).name)
    a:close()
    b:close()
    local uri = "postgresql:///progallery_test?host=127.0.0.1&port=" .. DSN:match("port=(%d+)") .. "&user=postgres"
    local c = S.ok(open(uri))
    c:close()
  end)

  pg_it("refuses an option that does not apply to the engine, naming it", function()
    S.assert_err("INVALID_ARGUMENT", "connectTimeout", open { path = ":memory:", connectTimeout = 100 })
    S.assert_err("INVALID_ARGUMENT", "statementTimeout", open { path = ":memory:", statementTimeout = 100 })
    S.assert_err("INVALID_ARGUMENT", "path", open { dsn = DSN, path = "x.db" })
    S.assert_err("INVALID_ARGUMENT", "dsn", open { engine = "postgres" })
    S.assert_err("INVALID_ARGUMENT", "dsn", open { dsn = 42 })
    S.assert_err("INVALID_ARGUMENT", "engine", open { engine = "mysql", dsn = DSN })
  end)

  pg_it("a server that is not there is UNAVAILABLE, within connectTimeout", function()
    local t = os.time()
    S.assert_err("UNAVAILABLE", "dsn", open { dsn = "host=127.0.0.1 port=1 user=postgres dbname=x", connectTimeout = 2000 })
    assert.is_true(os.time() - t < 10)
  end)

  pg_it("dataVersion moves for every commit of any connection, and not for reads", function()
    local dsn = fresh_dsn()
    local a = S.ok(open { dsn = dsn, caller = "admin" })
    local b = S.ok(open { dsn = dsn, caller = "admin" })
    local v0 = S.ok(a:dataVersion())
    local g = S.ok(b:createGallery {})
    local v1 = S.ok(a:dataVersion())
    assert.is_true(v1 > v0)
    S.ok(a:getGallery(g._id))
    assert.equal(v1, S.ok(a:dataVersion()))
    S.ok(a:createGalleryItem(g._id, { title = "x" }))
    assert.is_true(S.ok(b:dataVersion()) > v1)
    a:close()
    b:close()
  end)

  pg_it("4 processes writing one gallery at once: totalItems, sortOrders and seqs stay exact", function()
    local dsn = fresh_dsn()
    local s = S.ok(open { dsn = dsn, caller = "admin" })
    local g = S.ok(s:createGallery {})
    local outs = processes(4, ("local s = assert(pg.open{ dsn = %q, caller = 'admin' }); "
      .. "for i = 1, 40 do local ok, e, c = s:createGalleryItem(%q, { title = N .. ':' .. i }); "
      .. "if not ok then print('FAIL', e, c) os.exit(1) end; "
      .. "if i %% 10 == 0 then assert(s:createGalleryItems(%q, { { title = 'b' }, { title = 'c' } })) end end; "
      .. "print('ok')"):format(dsn, g._id, g._id))
    for i = 1, 4 do assert.equal("ok\n", outs[i]) end
    local got = S.ok(s:getGallery(g._id, { itemLimit = 100 }))
    assert.equal(4 * 48, got.totalItems)
    local seen, all, offset = {}, {}, 0
    for _ = 1, 10 do
      local page = S.ok(s:listGalleryItems(g._id, { itemOffset = offset, itemLimit = 100 }))
      for _, it in ipairs(page.items) do all[#all + 1] = it end
      offset = offset + #page.items
      if #page.items == 0 then break end
    end
    assert.equal(4 * 48, #all)
    for _, it in ipairs(all) do
      assert.is_nil(seen[it.sortOrder], "a default sortOrder given twice: " .. tostring(it.sortOrder))
      seen[it.sortOrder] = true
    end
    -- the feed: one gallery_created + 192 item_created, seq 1..193 without gap or repeat,
    -- entityEventSequence 1..193 for the one gallery
    local evs = {}
    local after = 0
    for _ = 1, 10 do -- bounded: 193 events in pages of 100
      local r = S.ok(progallery.elevate(function() return s:events { after = after, limit = 100 } end)())
      for _, e in ipairs(r.events) do evs[#evs + 1] = e end
      if #r.events == 0 then break end
      after = r.events[#r.events].metadata.seq
    end
    assert.equal(1 + 4 * 48, #evs)
    for i, e in ipairs(evs) do
      assert.equal(i, e.metadata.seq)
      assert.equal(tostring(i), e.metadata.entityEventSequence)
    end
    s:close()
  end)

  pg_it("4 processes creating galleries at once never share a default sortOrder", function()
    local dsn = fresh_dsn()
    S.ok(open { dsn = dsn }):close() -- the schema, made once
    local outs = processes(4, ("local s = assert(pg.open{ dsn = %q, caller = 'admin' }); "
      .. "for i = 1, 25 do assert(s:createGallery{}) end; print('ok')"):format(dsn))
    for i = 1, 4 do assert.equal("ok\n", outs[i]) end
    local s = S.ok(open { dsn = dsn, caller = "admin" })
    local seen, n, offset = {}, 0, 0
    for _ = 1, 20 do
      local page = S.ok(s:listGalleries { offset = offset, limit = 10 })
      for _, g in ipairs(page.galleries) do
        assert.is_nil(seen[g.sortOrder], "sortOrder given twice")
        seen[g.sortOrder] = true
        n = n + 1
      end
      offset = offset + #page.galleries
      if #page.galleries == 0 then break end
    end
    assert.equal(100, n)
    s:close()
  end)

  -- totalGalleries is kept by a trigger on the feed's row: creations (which append after
  -- their insert) and deletions (which append before their delete) at once must neither
  -- deadlock nor miscount
  pg_it("4 processes creating and deleting galleries at once: no deadlock, totalGalleries exact", function()
    local dsn = fresh_dsn()
    S.ok(open { dsn = dsn }):close()
    local outs = processes(4, ("local s = assert(pg.open{ dsn = %q, caller = 'admin' }); "
      .. "for i = 1, 30 do local g = assert(s:createGallery{ gallery = { items = { { title = 'x' } } } }); "
      .. "if i %% 3 ~= 0 then assert(s:deleteGallery(g._id)) end end; print('ok')"):format(dsn))
    for i = 1, 4 do assert.equal("ok\n", outs[i]) end
    local s = S.ok(open { dsn = dsn, caller = "admin" })
    local n, page = 0, nil
    repeat
      page = S.ok(s:listGalleries { limit = 10, offset = n })
      n = n + #page.galleries
    until #page.galleries < 10
    assert.equal(40, n)
    assert.equal(40, page.totalGalleries)
    s:close()
  end)

  pg_it("a terminated backend is UNAVAILABLE (changing nothing), and the next call reconnects", function()
    local dsn = fresh_dsn()
    local s = S.ok(open { dsn = dsn, caller = "admin" })
    local g = S.ok(s:createGallery {})
    local out, ok = psql(DSN, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
      .. " WHERE application_name = 'progallery' AND pid <> pg_backend_pid()")
    assert(ok, out)
    assert.is_true(tonumber(out) >= 1, out)
    local r, msg, code = s:createGalleryItem(g._id, { title = "lost" })
    assert.is_nil(r)
    assert.equal("UNAVAILABLE", code, msg)
    -- the next call reconnects by itself (prepared statements made again on the new backend)
    local it = S.ok(s:createGalleryItem(g._id, { title = "after" }))
    local got = S.ok(s:getGallery(g._id))
    assert.equal(1, got.totalItems)
    assert.equal(it._id, got.items[1]._id)
    S.ok(s:dataVersion())
    s:close()
  end)

  pg_it("stores of one process share its idle connections: 40 stores, one backend", function()
    local dsn = fresh_dsn() .. " application_name=pgpool" .. run
    local function backends()
      local out, ok = psql(DSN, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgpool" .. run .. "'")
      assert(ok, out)
      return tonumber(out)
    end
    local stores = {}
    for i = 1, 40 do
      stores[i] = S.ok(open { dsn = dsn, caller = "admin" })
      S.ok(stores[i]:createGallery { gallery = { name = "s" .. i } })
    end
    for i = 1, 40 do assert.equal(40, S.ok(stores[i]:listGalleries {}).totalGalleries) end
    assert.equal(1, backends())
    -- a lost connection is not given to the next store: it reconnects
    assert(psql(DSN, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgpool" .. run .. "'"))
    local r, msg, code = stores[1]:getGallery(S.random_uuid())
    assert.is_nil(r)
    assert.equal("UNAVAILABLE", code, msg)
    for i = 1, 40 do S.ok(stores[i]:dataVersion()) end
    assert.equal(1, backends())
    for i = 1, 40 do stores[i]:close() end
  end)

  -- A write on a store opened with opts while another session holds its gallery's row
  -- for hold seconds: r, msg, code of that write, and the seconds it took. Once the lock is
  -- gone, checks that it changed nothing and that the next write works.
  local function write_past_a_lock(opts, hold)
    local dsn = fresh_dsn()
    opts.dsn, opts.caller = dsn, "admin"
    local s = S.ok(open(opts))
    local g = S.ok(s:createGallery {})
    local schema = dsn:match("search_path=([%w_]+)")
    os.execute(("psql -qAt %s -c %s >/dev/null 2>&1 &"):format(S.shell_quote(DSN),
      S.shell_quote(("BEGIN; SELECT 1 FROM %s.galleries FOR UPDATE; SELECT pg_sleep(%d); COMMIT"):format(schema, hold))))
    os.execute("sleep 0.5")
    local t0 = os.time()
    local r, msg, code = s:createGalleryItem(g._id, { title = "x" })
    local took = os.time() - t0
    os.execute("sleep " .. hold)
    assert.equal(0, S.ok(s:getGallery(g._id)).totalItems)
    S.ok(s:createGalleryItem(g._id, { title = "y" }))
    s:close()
    return r, msg, code, took
  end

  pg_it("a write blocked on a lock past busyTimeout is UNAVAILABLE, and changes nothing", function()
    local r, msg, code = write_past_a_lock({ busyTimeout = 200 }, 2)
    assert.is_nil(r)
    assert.equal("UNAVAILABLE", code, msg)
    assert.matches("busyTimeout = 200 ms", msg, 1, true)
  end)

  pg_it("statementTimeout reaches the server: a statement past it is UNAVAILABLE naming it, and changes nothing", function()
    -- busyTimeout far above statementTimeout: what ends the wait is the statement's timeout
    local r, msg, code, took = write_past_a_lock({ busyTimeout = 20000, statementTimeout = 300 }, 3)
    assert.is_nil(r)
    assert.equal("UNAVAILABLE", code, msg)
    assert.matches("statementTimeout = 300 ms", msg, 1, true)
    assert.is_true(took <= 2, "the call waited past statementTimeout")
  end)

  -- SQLite compares names as bytes; a database whose default collation is a language's
  -- (ICU "en": "a" before "B") must give the same order and the same pages.
  pg_it("queryGalleries orders names as bytes, as SQLite does, whatever the database's collation", function()
    local db = ("pgicu%s"):format(run)
    assert(select(2, psql(DSN, ("CREATE DATABASE %s TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C'"):format(db))))
    local dsn = DSN:gsub("dbname=%S+", "dbname=" .. db)
    local s = S.ok(open { dsn = dsn, caller = "admin" })
    for _, name in ipairs { "b", "A", "a", "B", "ab", "Ä" } do S.ok(s:createGallery { gallery = { name = name } }) end
    local want = { "A", "B", "a", "ab", "b", "Ä" } -- byte order (UTF-8 "Ä" is 0xC3 0x84)
    for _, limit in ipairs { 100, 1, 4 } do -- one page, and through keyset cursors
      local got, cursor = {}, nil
      repeat
        local q = cursor and { cursorPaging = { cursor = cursor, limit = limit } }
            or { sort = { { fieldName = "name", order = "ASC" } }, cursorPaging = { limit = limit } }
        local r = S.ok(s:queryGalleries(q))
        for _, g in ipairs(r.galleries) do got[#got + 1] = g.name end
        cursor = r.pagingMetadata.cursors.next
      until not cursor
      assert.same(want, got)
    end
    s:close()
    psql(DSN, ("DROP DATABASE %s"):format(db))
  end)

  pg_it("readonly: reads work, every write is FAILED_PRECONDITION", function()
    local dsn = fresh_dsn()
    local w = S.ok(open { dsn = dsn, caller = "admin" })
    local g = S.ok(w:createGallery { gallery = { name = "r" } })
    local r = S.ok(open { dsn = dsn, caller = "admin", readonly = true })
    assert.equal("r", S.ok(r:getGallery(g._id)).name)
    S.assert_err("FAILED_PRECONDITION", nil, r:createGallery {})
    w:close()
    r:close()
  end)

  pg_it("a database whose schema version is newer than the code is refused", function()
    local dsn = fresh_dsn()
    S.ok(open { dsn = dsn }):close()
    local schema = dsn:match("search_path=([%w_]+)")
    assert(select(2, psql(DSN, ("UPDATE %s.progallery_meta SET value = 99"):format(schema))))
    S.assert_err("FAILED_PRECONDITION", "dsn", open { dsn = dsn })
  end)
end)
