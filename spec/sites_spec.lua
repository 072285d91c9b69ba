-- Spec section 14, "Sites": many sites on one nginx (scripts/serve.sh with PROGALLERY_SITES),
-- chosen by wix-site-id, each with its own store, admin key, response cache, events and
-- webhooks; and (issue 13) with a thread pool, the event loop never opens a PostgreSQL
-- store, the webhook deliverer's included. Real nginx, node + npm for the official SDK's
-- webhook receiver. On SQLite (tag #nginx) each site is a file; with
-- PROGALLERY_TEST_ENGINE=postgres (scripts/pg_test_server.sh run ...; tag #postgres) each
-- site is a schema of ONE database (the site entry's `schema`).
local cjson = require "cjson"
local S = require "spec.support"

local ROOT = S.cwd()
-- the suite runs nginx specs on SQLite with #nginx and the PostgreSQL run excludes that tag
-- (scripts/test.sh): on PostgreSQL these are #postgres, as spec/pg_nodes_spec.lua is
local TAG = S.postgres and "#postgres" or "#nginx"
local q = S.shell_quote
local RUN = ("%x%x"):format(os.time() % 0xfffff, math.random(0, 0xfff))

local sh, read_file, write_file, sleep, eventually = S.run, S.read_file, S.write_file, S.sleep, S.eventually
local mktemp_dir, remove_dir, free_port = S.server_dir, S.remove_server_dir, S.free_port

-- where each site keeps its galleries: a file in the serve dir (the workers' own), or a
-- schema of the test database
local function store_of(dir, id)
  if S.postgres then return { dsn = S.dsn, schema = ("st%s_%s"):format(RUN, (id:gsub("%W", "_"))) } end
  return { db = dir .. "/serve/data/" .. id .. ".db" }
end

-- a Lua file returning the sites table (what PROGALLERY_SITES names)
local function sites_file(path, sites)
  local lines = { "return {" }
  for id, e in pairs(sites) do
    local fields = {}
    for k, v in pairs(e) do
      if type(v) == "table" then
        local urls = {}
        for i, u in ipairs(v) do urls[i] = ("%q"):format(u) end
        fields[#fields + 1] = k .. " = { " .. table.concat(urls, ", ") .. " }"
      else
        fields[#fields + 1] = k .. " = " .. ("%q"):format(v)
      end
    end
    lines[#lines + 1] = ("  [%q] = { %s },"):format(id, table.concat(fields, ", "))
  end
  lines[#lines + 1] = "}"
  write_file(path, table.concat(lines, "\n") .. "\n")
end

local function serve(serve_dir, env)
  local vars = { PORT = free_port(), PROGALLERY_SERVE_DIR = serve_dir, PROGALLERY_NO_DEPS = "1",
    PROGALLERY_WORKERS = "2", PROGALLERY_THREADS = "2", PROGALLERY_BUSY_TIMEOUT = "2000",
    PROGALLERY_LOG_LEVEL = "info" }
  for k, v in pairs(env) do vars[k] = v end
  local assigns = {}
  for k, v in pairs(vars) do assigns[#assigns + 1] = k .. "=" .. q(v) end
  local srv = { env = table.concat(assigns, " "), dir = serve_dir,
    base = "http://127.0.0.1:" .. vars.PORT .. "/pro-gallery/v2" }
  local out, st = sh(srv.env .. " sh scripts/serve.sh start")
  assert(st == 0, "serve.sh did not start: " .. out)
  return srv
end
local function stop(srv) if srv then sh(srv.env .. " sh scripts/serve.sh stop") end end

-- method, path, { site = id | false, key = key | nil, body = table | nil } -> status, JSON, text
local function http(srv, method, path, o)
  o = o or {}
  local args = { "curl -s -S --max-time 30 -X " .. method, "-w '\\n%{http_code}'" }
  if o.site then args[#args + 1] = "-H " .. q("wix-site-id: " .. o.site) end
  if o.key then args[#args + 1] = "-H " .. q("Authorization: " .. o.key) end
  if o.body then args[#args + 1] = "-H 'Content-Type: application/json' --data-binary " .. q(cjson.encode(o.body)) end
  args[#args + 1] = q(srv.base .. path)
  local out, st = sh(table.concat(args, " "))
  assert(st == 0, "curl failed: " .. out)
  local text, status = out:match("^(.*)\n(%d%d%d)%s*$")
  local ok, json = pcall(cjson.decode, text)
  return tonumber(status), ok and json or nil, text
end

-- every gallery of a site (pages of 10, the most a page holds)
local function all_galleries(srv, site)
  local all, offset = {}, 0
  repeat
    local status, res, text = http(srv, "GET", "/galleries?limit=10&itemLimit=1&offset=" .. offset, { site = site })
    assert.equal(200, status, text)
    for _, g in ipairs(res.galleries) do all[#all + 1] = g end
    offset = offset + #res.galleries
  until #res.galleries == 0
  return all
end

local function assert_404(status, json, text)
  assert.equal(404, status, text)
  assert.equal("NOT_FOUND", json and json.details.applicationError.code, text)
end

-- the official SDK's receiver (spec/support.lua)
local ensure_sdk, keys, stop_receiver, received = S.ensure_sdk, S.rsa_keys, S.stop_receiver, S.received
local function start_receiver(dir, name, pub) return S.start_receiver(dir, name, pub) end

-- a site's whole feed through GET /events (its admin key)
local function events_of(srv, site, key)
  local status, res, text = http(srv, "GET", "/events?limit=1000", { site = site, key = key })
  assert.equal(200, status, text)
  return res.events, res.lastSeq
end

describe("sites in progallery.http.new{}", function()
  local http = require "progallery.http"
  local function new(conf)
    conf.cache = false -- resty.lrucache needs nginx; the cache per site is checked through nginx below
    return http.new(conf)
  end
  local function refused(field, conf)
    local h, err = new(conf)
    assert.is_nil(h)
    assert.is_string(err)
    assert.equal(field, err:sub(1, #field), err)
    assert.matches("^" .. field:gsub("%p", "%%%0") .. ":", err)
    return err
  end

  it("builds one site per entry, each with its own key, store and default", function()
    local h = assert(new { sites = { a = { db = "/tmp/a.db", adminKey = "ka" },
      ["0190f5c2-1111-7abc-8def-0123456789ab"] = { dsn = "host=x dbname=y", schema = "site_b", adminKey = "kb" } },
      defaultSite = "a" })
    assert.equal("a", h.default_site.id)
    assert.equal("/tmp/a.db", h.sites.a.store_conf.path)
    local b = h.sites["0190f5c2-1111-7abc-8def-0123456789ab"]
    assert.equal("host=x dbname=y options='-csearch_path=site_b'", b.store_conf.dsn)
    assert.is_true(b.remote); assert.is_false(h.sites.a.remote)
    assert.are_not.equal(h.sites.a.auth, b.auth)
    assert.is_nil(new { sites = { a = { db = "/tmp/a.db", adminKey = "ka" } } }.default_site)
    -- a URI takes the schema as a parameter
    local sites = require "progallery.http.sites"
    assert.equal("postgresql://h/db?options=-csearch_path%3Ds", sites.with_schema("postgresql://h/db", "s"))
    assert.equal("postgres://h/db?sslmode=disable&options=-csearch_path%3Ds",
      sites.with_schema("postgres://h/db?sslmode=disable", "s"))
    h = assert(new { sites = { a = { db = "postgresql://h/db", schema = "s", adminKey = "k" } } })
    assert.equal("postgresql://h/db?options=-csearch_path%3Ds", h.sites.a.store_conf.dsn)
    assert.is_nil(h.sites.a.store_conf.path)
  end)

  it("keeps a single-site conf as it was: no sites, wix-site-id ignored", function()
    local h = assert(new { db = "/tmp/one.db", adminKey = "k" })
    assert.is_nil(h.sites)
    assert.equal("/tmp/one.db", h.default_site.store_conf.path)
    assert.equal(h.default_site.auth, h.auth)
    assert.equal("/tmp/one.db", h.store_conf.path)
    refused("db", { })
    refused("dsn", { dsn = 5 })
    refused("adminKey", { db = "x", adminKey = 5 })
    refused("defaultSite", { db = "x", defaultSite = "a" })
  end)

  it("refuses a bad sites table, naming the field", function()
    local ok = { db = "/tmp/a.db", adminKey = "k" }
    refused("sites", { sites = "a" })
    refused("sites", { sites = {} })
    refused("sites", { sites = { ok } })                              -- a number key
    refused("sites", { sites = { ["a b"] = ok } })
    refused("sites", { sites = { ["-a"] = ok } })
    refused("sites", { sites = { [("x"):rep(101)] = ok } })
    refused("sites.a", { sites = { a = "x" } })
    refused("sites.a.dsn", { sites = { a = { db = "x", dsn = "host=y", adminKey = "k" } } })
    refused("sites.a.db", { sites = { a = { adminKey = "k" } } })
    refused("sites.a.db", { sites = { a = { db = "", adminKey = "k" } } })
    refused("sites.a.dsn", { sites = { a = { dsn = 5, adminKey = "k" } } })
    refused("sites.a.adminKey", { sites = { a = { db = "x" } } })
    refused("sites.a.adminKey", { sites = { a = { db = "x", adminKey = "" } } })
    refused("sites.a.adminKey", { sites = { a = { db = "x", adminKey = 5 } } })
    refused("sites.a.foo", { sites = { a = { db = "x", adminKey = "k", foo = 1 } } })
    refused("sites.b.db", { sites = { a = { db = "x", adminKey = "k" }, b = { db = "x", adminKey = "k2" } } })
    refused("sites.b.dsn", { sites = { a = { dsn = "host=h", schema = "s", adminKey = "k" },
                                       b = { dsn = "host=h", schema = "s", adminKey = "k2" } } })
    assert(new { sites = { a = { dsn = "host=h", schema = "s", adminKey = "k" },
                           b = { dsn = "host=h", schema = "t", adminKey = "k2" } } })
    for _, bad in ipairs { "Site", "1a", "a-b", "a;drop", ("s"):rep(64), "pg_x", "information_schema", "", 5 } do
      refused("sites.a.schema", { sites = { a = { dsn = "host=h", schema = bad, adminKey = "k" } } })
    end
    refused("sites.a.schema", { sites = { a = { db = "/tmp/a.db", schema = "s", adminKey = "k" } } })
    refused("sites.a.schema", { sites = { a = { dsn = "host=h options=-cx=1", schema = "s", adminKey = "k" } } })
    refused("sites.a.webhooks", { sites = { a = { db = "x", adminKey = "k", webhooks = 5 } } })
    refused("sites.a.webhookKey", { sites = { a = { db = "x", adminKey = "k", webhooks = { "http://127.0.0.1:1/h" } } } })
    refused("sites.a.webhookKey", { webhookKey = "not a pem", sites = { a = { db = "x", adminKey = "k", webhooks = { "http://127.0.0.1:1/h" } } } })
    refused("defaultSite", { sites = { a = ok }, defaultSite = "b" })
    refused("defaultSite", { sites = { a = ok }, defaultSite = 5 })
    for _, k in ipairs { "db", "dsn", "adminKey", "webhooks", "instanceId" } do
      refused(k, { sites = { a = ok }, [k] = "x" })
    end
  end)
end)

describe("many sites on one server (make serve, PROGALLERY_SITES) " .. TAG, function()
  local dir, srv, solo, rx = nil, nil, nil, {}
  local KEYS = { ["site-a"] = "key-a-" .. RUN, ["site-b"] = "key-b-" .. RUN, ["site-c"] = "key-c-" .. RUN }

  setup(function()
    ensure_sdk()
    dir = mktemp_dir()
    local key, pub = keys(dir)
    rx.a, rx.b = start_receiver(dir, "a", pub), start_receiver(dir, "b", pub)
    rx.shared = start_receiver(dir, "shared", pub) -- one URL, two sites: two consumers
    local sites = {}
    for id, k in pairs(KEYS) do
      sites[id] = store_of(dir, id)
      sites[id].adminKey = k
    end
    sites["site-a"].webhooks = { rx.a.url, rx.shared.url }
    sites["site-b"].webhooks = { rx.b.url }
    sites["site-c"].webhooks = { rx.shared.url }
    sites_file(dir .. "/sites.lua", sites)
    srv = serve(dir .. "/serve", { PROGALLERY_SITES = dir .. "/sites.lua", PROGALLERY_DEFAULT_SITE = "site-a",
      PROGALLERY_WEBHOOK_KEY = key })
    -- a second server with one site and no default
    local one = { solo = store_of(dir, "solo") }
    one.solo.adminKey = "key-solo"
    one.solo.db = one.solo.db and (dir .. "/solo/data/solo.db")
    sites_file(dir .. "/solo.lua", one)
    solo = serve(dir .. "/solo", { PROGALLERY_SITES = dir .. "/solo.lua" })
  end)

  teardown(function()
    stop(srv)
    stop(solo)
    stop_receiver(rx.a)
    stop_receiver(rx.b)
    stop_receiver(rx.shared)
    if S.postgres then
      for _, id in ipairs { "site_a", "site_b", "site_c", "solo" } do
        sh(("psql -qAt %s -c %s"):format(q(S.dsn), q(("DROP SCHEMA IF EXISTS st%s_%s CASCADE"):format(RUN, id))))
      end
    end
    remove_dir(dir)
  end)

  local A = { site = "site-a" }
  local first_gallery
  local function as(site, key) return { site = site, key = key } end
  local function create(site, name, items)
    local status, res, text = http(srv, "POST", "/galleries", { site = site, key = KEYS[site],
      body = { gallery = { name = name, items = items } } })
    assert.equal(200, status, text)
    return res.gallery
  end

  it("a request without wix-site-id goes to the default site; an unknown site is 404; no default: 404", function()
    local g = create("site-a", "default-" .. RUN)
    first_gallery = g.id
    local status, res = http(srv, "GET", "/galleries/" .. g.id)          -- no header: site-a
    assert.equal(200, status); assert.equal(g.id, res.gallery.id)
    status = http(srv, "GET", "/galleries/" .. g.id, A)
    assert.equal(200, status)
    -- the default site's key works without the header; another site's does not
    status = http(srv, "PATCH", "/galleries/" .. g.id, { key = KEYS["site-a"], body = { gallery = { name = "d2" } } })
    assert.equal(200, status)
    assert.equal(401, (http(srv, "PATCH", "/galleries/" .. g.id, { key = KEYS["site-b"], body = { gallery = { name = "x" } } })))
    for _, bad in ipairs { "site-z", "SITE-A", "site-a ", "site-a,site-b", ("x"):rep(200) } do
      local st, json, text = http(srv, "GET", "/galleries", { site = bad })
      if bad == "site-a " then
        assert.equal(200, st, text) -- white space around a header value is not part of it
      else
        assert_404(st, json, text)
        assert.matches("no such site", json.message, 1, true)
      end
    end
    -- an unknown site is 404 whatever the route, the key or the method
    assert_404(http(srv, "POST", "/galleries", { site = "site-z", key = KEYS["site-a"], body = { gallery = {} } }))
    assert_404(http(srv, "GET", "/events", { site = "site-z", key = KEYS["site-a"] }))
    -- the solo server has no default site
    local st, json, text = http(solo, "GET", "/galleries")
    assert_404(st, json, text)
    assert.matches("wix-site-id", json.message, 1, true)
    assert_404(http(solo, "GET", "/galleries", { site = "site-a" }))
    assert.equal(200, (http(solo, "GET", "/galleries", { site = "solo" })))
    assert.equal(200, (http(solo, "POST", "/galleries", { site = "solo", key = "key-solo", body = { gallery = {} } })))
  end)

  it("reads and writes: a site never sees nor changes another's galleries (both ways)", function()
    local ga = create("site-a", "A-" .. RUN, { { title = "a1" } })
    local gb = create("site-b", "B-" .. RUN, { { title = "b1" } })
    local ia = ga.items and ga.items[1] and ga.items[1].id
    if not ia then
      local _, r = http(srv, "GET", "/galleries/" .. ga.id .. "/items", A)
      ia = r.items[1].id
    end
    -- reads: each gallery is 404 through the other site, with or without its key
    for _, c in ipairs { { g = ga, own = "site-a", other = "site-b" }, { g = gb, own = "site-b", other = "site-a" },
                         { g = ga, own = "site-a", other = "site-c" } } do
      assert.equal(200, (http(srv, "GET", "/galleries/" .. c.g.id, { site = c.own })))
      assert_404(http(srv, "GET", "/galleries/" .. c.g.id, { site = c.other }))
      assert_404(http(srv, "GET", "/galleries/" .. c.g.id .. "/items", as(c.other, KEYS[c.other])))
      for _, g in ipairs(all_galleries(srv, c.other)) do assert.are_not.equal(c.g.id, g.id) end
    end
    assert_404(http(srv, "GET", "/galleries/" .. ga.id .. "/items/" .. ia, { site = "site-b" }))
    -- writes through B with B's key: every one is a 404, and A's data stays as it was
    local _, before = http(srv, "GET", "/galleries/" .. ga.id, A)
    local B = as("site-b", KEYS["site-b"])
    assert_404(http(srv, "PATCH", "/galleries/" .. ga.id, { site = B.site, key = B.key, body = { gallery = { name = "hijacked" } } }))
    assert_404(http(srv, "POST", "/galleries/" .. ga.id .. "/items", { site = B.site, key = B.key, body = { item = { title = "x" } } }))
    assert_404(http(srv, "PATCH", "/galleries/" .. ga.id .. "/items/" .. ia, { site = B.site, key = B.key, body = { item = { title = "x" } } }))
    assert_404(http(srv, "DELETE", "/galleries/" .. ga.id .. "/items/" .. ia, B))
    local st, res = http(srv, "POST", "/galleries/" .. ga.id .. "/items/delete", { site = B.site, key = B.key, body = { itemIds = { ia } } })
    assert.is_true(st == 404 or (st == 200 and #res.itemIds == 0), tostring(st))
    assert_404(http(srv, "DELETE", "/galleries/" .. ga.id, B))
    -- a clone through B of A's gallery finds nothing to clone
    assert_404(http(srv, "POST", "/galleries", { site = B.site, key = B.key, body = { cloneFromGalleryId = ga.id } }))
    local _, after = http(srv, "GET", "/galleries/" .. ga.id, A)
    assert.same(before, after)
    -- and B's own writes land in B only: A's count of galleries does not move
    local la = all_galleries(srv, "site-a")
    for i = 1, 3 do create("site-b", "more-" .. i) end
    assert.same(la, all_galleries(srv, "site-a"))
    -- the other way: A's writes never reach B's gallery
    local _, bb = http(srv, "GET", "/galleries/" .. gb.id, { site = "site-b" })
    assert_404(http(srv, "DELETE", "/galleries/" .. gb.id, as("site-a", KEYS["site-a"])))
    assert_404(http(srv, "DELETE", "/galleries/" .. gb.id, { key = KEYS["site-a"] })) -- the default site: A
    local _, ba = http(srv, "GET", "/galleries/" .. gb.id, { site = "site-b" })
    assert.same(bb, ba)
  end)

  it("keys: each site's admin key is refused on every other site (401), and is admin on its own", function()
    for site, key in pairs(KEYS) do
      for other in pairs(KEYS) do
        local st, json, text = http(srv, "POST", "/galleries", { site = other, key = key, body = { gallery = { name = "k" } } })
        if other == site then
          assert.equal(200, st, text)
        else
          assert.equal(401, st, text)
          assert.equal("UNAUTHENTICATED", json.details.applicationError.code)
        end
      end
      -- a visitor (no key) may read but not write
      assert.equal(200, (http(srv, "GET", "/galleries", { site = site })))
      assert.equal(403, (http(srv, "POST", "/galleries", { site = site, body = { gallery = {} } })))
    end
  end)

  it("cache: a cached GET of one site is never the answer for another, same path and query", function()
    local ga = create("site-a", "cached-" .. RUN)
    local path = "/galleries/" .. ga.id .. "?itemLimit=3"
    -- both workers' caches hold A's answer (several rounds: either worker may answer)
    for _ = 1, 6 do assert.equal(200, (http(srv, "GET", path, A))) end
    for _ = 1, 6 do assert_404(http(srv, "GET", path, { site = "site-b" })) end
    for _ = 1, 6 do assert_404(http(srv, "GET", path, { site = "site-c" })) end
    -- one list URI, three answers, each its own site's, however often they alternate
    local want = {}
    for site in pairs(KEYS) do
      local _, _, text = http(srv, "GET", "/galleries?limit=10", { site = site })
      want[site] = text
    end
    assert.are_not.equal(want["site-a"], want["site-b"])
    assert.are_not.equal(want["site-b"], want["site-c"])
    for _ = 1, 4 do
      for site in pairs(KEYS) do
        local st, _, text = http(srv, "GET", "/galleries?limit=10", { site = site })
        assert.equal(200, st)
        assert.equal(want[site], text, site)
      end
    end
    -- a write in B moves B's answer only
    create("site-b", "moves-b")
    for _ = 1, 4 do
      assert.equal(want["site-a"], select(3, http(srv, "GET", "/galleries?limit=10", A)))
      assert.are_not.equal(want["site-b"], select(3, http(srv, "GET", "/galleries?limit=10", { site = "site-b" })))
    end
  end)

  it("events: GET /events of a site shows its own events only; its key only", function()
    local ga = create("site-a", "ev-a-" .. RUN)
    local gb = create("site-b", "ev-b-" .. RUN)
    local ea = events_of(srv, "site-a", KEYS["site-a"])
    local eb = events_of(srv, "site-b", KEYS["site-b"])
    local ids_a, ids_b = {}, {}
    for _, e in ipairs(ea) do ids_a[e.id] = true end
    for _, e in ipairs(eb) do
      ids_b[e.id] = true
      assert.is_nil(ids_a[e.id], "an event of A in B's feed")
      assert.are_not.equal(ga.id, e.entityId)
    end
    for _, e in ipairs(ea) do assert.are_not.equal(gb.id, e.entityId) end
    local function has(list, id)
      for _, e in ipairs(list) do if e.entityId == id then return true end end
      return false
    end
    assert.is_true(has(ea, ga.id)); assert.is_true(has(eb, gb.id))
    -- another site's key is not the admin key here
    assert.equal(401, (http(srv, "GET", "/events", as("site-b", KEYS["site-a"]))))
    assert.equal(403, (http(srv, "GET", "/events", { site = "site-b" })))
  end)

  it("webhooks: each site's endpoint gets its own site's events only, signed, with its instanceId", function()
    -- writes in both sites, interleaved
    for i = 1, 3 do
      local a = create("site-a", "wh-a" .. i, { { title = "x" } })
      local b = create("site-b", "wh-b" .. i)
      http(srv, "PATCH", "/galleries/" .. a.id, { site = "site-a", key = KEYS["site-a"], body = { gallery = { name = "wh-a" .. i .. "'" } } })
      http(srv, "DELETE", "/galleries/" .. b.id, as("site-b", KEYS["site-b"]))
    end
    local ea = events_of(srv, "site-a", KEYS["site-a"])
    local eb = events_of(srv, "site-b", KEYS["site-b"])
    assert.is_true(#ea > 0 and #eb > 0)
    for name, feed in pairs { a = ea, b = eb } do
      local r = rx[name]
      assert(eventually(30, function() return #received(r) >= #feed end),
        ("site %s: %d of %d events arrived\n%s"):format(name, #received(r), #feed,
          (read_file(srv.dir .. "/logs/error.log") or ""):sub(-3000)))
      sleep(0.5) -- anything more (another site's event) would arrive now
      local got = received(r)
      assert.equal(#feed, #got, "site " .. name .. " got events that are not its own")
      for i, e in ipairs(feed) do
        assert.is_nil(got[i].error, got[i].error)
        assert.equal(e.id, got[i].envelope.metadata._id, "site " .. name .. ", event " .. i)
        assert.equal("site-" .. name, got[i].envelope.metadata.instanceId) -- the default: the site id
      end
    end
  end)

  it("webhooks: one URL on two sites is two consumers, each with its own cursor and lease", function()
    for i = 1, 2 do create("site-c", "wh-c" .. i); create("site-a", "wh-a-shared" .. i) end
    local ea = events_of(srv, "site-a", KEYS["site-a"])
    local ec = events_of(srv, "site-c", KEYS["site-c"])
    assert(eventually(30, function() return #received(rx.shared) >= #ea + #ec end),
      ("%d of %d events arrived"):format(#received(rx.shared), #ea + #ec))
    sleep(0.5)
    local got = received(rx.shared)
    assert.equal(#ea + #ec, #got, "an event was delivered twice, or lost")
    -- per site (the instanceId), exactly that site's feed, in its order
    local by_site = { ["site-a"] = {}, ["site-c"] = {} }
    for _, r in ipairs(got) do
      assert.is_nil(r.error, r.error)
      local list = by_site[r.envelope.metadata.instanceId]
      assert.is_table(list, tostring(r.envelope.metadata.instanceId))
      list[#list + 1] = r.envelope.metadata._id
    end
    for site, feed in pairs { ["site-a"] = ea, ["site-c"] = ec } do
      assert.equal(#feed, #by_site[site], site)
      for i, e in ipairs(feed) do assert.equal(e.id, by_site[site][i], site .. " event " .. i) end
    end
  end)

  -- SQLite: a file per site (the stores above); this one runs on PostgreSQL
  -- registered on the runs against a server only (the SQLite runs check the files above)
  local pg_it = S.postgres and it or function() end
  pg_it("PostgreSQL: one database, a schema per site, each with its own tables", function()
    for _, id in ipairs { "site_a", "site_b", "site_c", "solo" } do
      local out = sh(("psql -qAt %s -c %s"):format(q(S.dsn), q(("SELECT count(*) FROM st%s_%s.galleries"):format(RUN, id))))
      assert.matches("^[1-9]%d*%s*$", out, nil, false, id)
    end
    local function count_in(id)
      local out = sh(("psql -qAt %s -c %s"):format(q(S.dsn),
        q(("SELECT count(*) FROM st%s_%s.galleries WHERE id = '%s'"):format(RUN, id, first_gallery))))
      return (out:gsub("%s+$", ""))
    end
    assert.equal("1", count_in("site_a"))
    assert.equal("0", count_in("site_b"))
    assert.equal("0", count_in("site_c"))
  end)
end)

describe("one site, as before sites (make serve without PROGALLERY_SITES) " .. TAG, function()
  local dir, srv, r
  teardown(function()
    stop(srv)
    stop_receiver(r)
    if S.postgres then
      sh(("psql -qAt %s -c %s"):format(q(S.dsn), q(("DROP SCHEMA IF EXISTS st%s_single CASCADE"):format(RUN))))
    end
    remove_dir(dir)
  end)

  it("webhooks follow the served store (PROGALLERY_DSN too); wix-site-id is ignored", function()
    ensure_sdk()
    dir = mktemp_dir()
    local key, pub = keys(dir)
    r = start_receiver(dir, "single", pub)
    local env = { PROGALLERY_ADMIN_KEY = "single-key", PROGALLERY_WEBHOOKS = r.url, PROGALLERY_WEBHOOK_KEY = key }
    if S.postgres then env.PROGALLERY_DSN = S.dsn .. (" options='-csearch_path=st%s_single'"):format(RUN) end
    srv = serve(dir .. "/serve", env)
    local st, res, text = http(srv, "POST", "/galleries", { key = "single-key", body = { gallery = { name = "one" } } })
    assert.equal(200, st, text)
    assert.equal(200, (http(srv, "GET", "/galleries/" .. res.gallery.id, { site = "any-site-id" })))
    local events = events_of(srv, "whatever", "single-key")
    assert.equal(1, #events)
    assert(eventually(20, function() return #received(r) >= 1 end),
      "no webhook arrived\n" .. (read_file(srv.dir .. "/logs/error.log") or ""):sub(-3000))
    assert.equal(events[1].id, received(r)[1].envelope.metadata._id)
  end)
end)

-- issue 13: "In OpenResty, every PostgreSQL call in the thread pool, never on the event
-- loop". A private nginx whose event-loop VM counts progallery.open calls (the thread VMs
-- load progallery afresh, without the counter), with two sites, their webhooks, the cache
-- and GET /events in use.
describe("the event loop's stores " .. TAG, function()
  local dir, pub, key, rxs = nil, nil, nil, {}
  local started = {}
  setup(function()
    ensure_sdk()
    dir = mktemp_dir()
    key, pub = keys(dir)
  end)
  teardown(function()
    for _, d in ipairs(started) do
      local pid = read_file(d .. "/logs/nginx.pid")
      if pid and pid:match("^%d+") then sh("kill -QUIT " .. pid:match("^%d+")) end
    end
    sleep(0.3)
    for _, r in ipairs(rxs) do stop_receiver(r) end
    if S.postgres then
      for _, s in ipairs { "p0a", "p0b", "p1a", "p1b" } do
        sh(("psql -qAt %s -c %s"):format(q(S.dsn), q(("DROP SCHEMA IF EXISTS st%s_%s CASCADE"):format(RUN, s))))
      end
    end
    remove_dir(dir)
  end)

  -- starts the probe nginx (pool on or off); returns its base URL
  local function probe(tag, pool)
    local d = dir .. "/" .. tag
    sh("mkdir -p " .. q(d .. "/conf") .. " " .. q(d .. "/logs") .. " " .. q(d .. "/tmp") .. " " .. q(d .. "/data"))
    sh("chmod 777 " .. q(d .. "/data"))
    local sites = {}
    for _, id in ipairs { "a", "b" } do
      local r = start_receiver(dir, tag .. id, pub)
      rxs[#rxs + 1] = r
      local st = store_of(dir, tag .. id)
      if st.db then st.db = d .. "/data/" .. id .. ".db" end
      st.adminKey, st.webhooks = "k" .. id, { r.url }
      sites[id] = st
    end
    sites_file(d .. "/sites.lua", sites)
    local port = free_port()
    write_file(d .. "/conf/nginx.conf", ([[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon on;
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log info;
events { worker_connections 256; }
thread_pool progallery threads=2;
http {
  access_log off;
  client_body_temp_path tmp;
  lua_package_path "%s/lua/?.lua;;";
  lua_package_cpath "%s/build-luajit/?.so;;";
  init_by_lua_block {
    local progallery = require "progallery"
    local raw, opened = progallery.open, { n = 0, dsn = 0 }
    progallery.open = function(o, ...)
      opened.n = opened.n + 1
      if type(o) == "table" and o.dsn then opened.dsn = opened.dsn + 1 end
      return raw(o, ...)
    end
    local f = assert(io.open(%q)); local pem = f:read("*a"); f:close()
    package.loaded.probe = { opened = opened, handler = assert(require("progallery.http").new {
      sites = dofile(%q), defaultSite = "a", webhookKey = pem, threadPool = %s, busyTimeout = 2000 }) }
  }
  init_worker_by_lua_block { package.loaded.probe.handler:init_worker() }
  server {
    listen 127.0.0.1:%d;
    location = /opened { content_by_lua_block { local o = package.loaded.probe.opened; ngx.say(o.n, " ", o.dsn) } }
    location / { content_by_lua_block { package.loaded.probe.handler:handle() } }
  }
}
]]):format(ROOT, ROOT, key, d .. "/sites.lua", pool and '"progallery"' or "nil", port))
    local out, st = sh(("/usr/sbin/nginx -p %s/ -c conf/nginx.conf -e logs/error.log"):format(q(d)))
    assert(st == 0, "the probe nginx did not start: " .. out)
    started[#started + 1] = d
    local p = { base = "http://127.0.0.1:" .. port .. "/pro-gallery/v2", root = "http://127.0.0.1:" .. port, dir = d,
      rx = { a = rxs[#rxs - 1], b = rxs[#rxs] } }
    assert(eventually(5, function() return (http(p, "GET", "/galleries")) == 200 end), read_file(d .. "/logs/error.log"))
    return p
  end

  -- every kind of store use: writes, cached GETs, GET /events, deliveries; -> the
  -- event-loop VM's count of opens (all, PostgreSQL)
  local function exercise(p)
    for _, site in ipairs { "a", "b" } do
      local st, res = http(p, "POST", "/galleries", { site = site, key = "k" .. site, body = { gallery = { name = site } } })
      assert.equal(200, st)
      for _ = 1, 3 do assert.equal(200, (http(p, "GET", "/galleries/" .. res.gallery.id, { site = site }))) end
      assert.equal(200, (http(p, "GET", "/events", { site = site, key = "k" .. site })))
      assert(eventually(20, function() return #received(p.rx[site]) >= 1 end),
        "no webhook arrived for site " .. site .. "\n" .. (read_file(p.dir .. "/logs/error.log") or ""):sub(-3000))
    end
    local out = sh("curl -s " .. q(p.root .. "/opened"))
    local n, pg = out:match("^(%d+) (%d+)")
    return tonumber(n), tonumber(pg)
  end

  it("with a thread pool: no PostgreSQL store is opened on the event loop, nor a deliverer's store", function()
    local n, pg = exercise(probe("p1", true))
    assert.equal(0, pg)
    -- SQLite: the two sites' own pairs (the cache's version check, GET /events), no more;
    -- PostgreSQL: none at all
    assert.equal(S.postgres and 0 or 2, n)
  end)

  it("without a pool the same counter sees every store the event loop opens (the test can fail)", function()
    local n, pg = exercise(probe("p0", false))
    -- each site's pair and each endpoint's deliverer
    assert.equal(4, n)
    assert.equal(S.postgres and 4 or 0, pg)
  end)
end)
