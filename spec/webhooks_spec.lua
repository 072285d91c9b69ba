-- Spec section 10.5: webhooks from nginx, received by the official Wix SDK, and the HTTP
-- client they go out with. Tagged #nginx (real nginx, node + npm for the SDK receiver).
-- Every server runs on 127.0.0.1 in a temporary directory and is stopped in teardown.
local cjson = require "cjson"
local progallery = require "progallery"

local S = require "spec.support"
-- the files these specs read are the served SQLite file's, whatever engine the run maps to
local open = S.raw_open or progallery.open

local ROOT = S.cwd()
local q = S.shell_quote
local sh, read_file, write_file, sleep, now = S.run, S.read_file, S.write_file, S.sleep, S.now
local mktemp_dir, remove_dir, free_port, eventually = S.server_dir, S.remove_server_dir, S.free_port, S.eventually

local function nginx_bin() return (sh("command -v nginx || echo /usr/sbin/nginx"):gsub("%s+$", "")) end

local function curl(method, url, key, body)
  local args = { "curl -s -S --max-time 30 -X " .. method, "-w '\\n%{http_code}'" }
  if key then args[#args + 1] = "-H " .. q("Authorization: " .. key) end
  if body then args[#args + 1] = "-H 'Content-Type: application/json' --data-binary " .. q(cjson.encode(body)) end
  args[#args + 1] = q(url)
  local out, st = sh(table.concat(args, " "))
  assert(st == 0, "curl failed: " .. out)
  local text, status = out:match("^(.*)\n(%d%d%d)%s*$")
  local ok, json = pcall(cjson.decode, text)
  return tonumber(status), ok and json or nil, text
end

-- waits (bounded) until pred() is true; returns its last value
local function eventually(seconds, pred)
  local deadline = now() + seconds
  local v = pred()
  while not v and now() < deadline do sleep(0.2); v = pred() end
  return v
end

describe("progallery.http.client against a real server #nginx", function()
  local dir, port
  setup(function()
    dir, port = mktemp_dir(), free_port()
    sh("mkdir -p " .. q(dir .. "/conf") .. " " .. q(dir .. "/logs") .. " " .. q(dir .. "/tmp"))
    write_file(dir .. "/conf/nginx.conf", ([[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon on;
master_process off;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path tmp;
  lua_package_path "%s/spec/?.lua;%s/lua/?.lua;;";
  lua_package_cpath "%s/build-luajit/?.so;;";
  server {
    listen 127.0.0.1:%d;
    location ~ ^/t/(\w+)$ { content_by_lua_block { require("webhook_lab").target(ngx.var[1]) } }
    location = /run { content_by_lua_block { require("webhook_lab").run() } }
  }
}
]]):format(ROOT, ROOT, ROOT, port))
    local out, st = sh(("%s -p %s/ -c conf/nginx.conf -e logs/error.log"):format(nginx_bin(), q(dir)))
    assert(st == 0, "the lab nginx did not start: " .. out)
    eventually(5, function() return select(2, sh("curl -s -o /dev/null http://127.0.0.1:" .. port .. "/t/length")) == 0 end)
  end)
  teardown(function()
    local pid = read_file(dir .. "/logs/nginx.pid")
    if pid and pid:match("^%d+") then sh("kill -QUIT " .. pid:match("^%d+")) end
    sleep(0.2)
    remove_dir(dir)
  end)

  local function run(to, timeout, extra)
    local url = ("http://127.0.0.1:%d/run?to=%s&timeout=%d%s"):format(port, to, timeout or 2000, extra or "")
    local status, res, text = curl("GET", url)
    assert(status == 200 and res, text)
    return res
  end

  it("reads a body by Content-Length, in chunks, or up to the close; skips 1xx", function()
    local r = run("/t/length", nil, "&body=hello")
    assert.equal(200, r.status); assert.equal("echo:hello", r.body)
    r = run("/t/chunked")
    assert.equal(200, r.status); assert.equal("one,two", r.body)
    r = run("/t/close")
    assert.equal(200, r.status); assert.equal("until close", r.body)
    assert.equal("1, 2", r.headers["x-a"])
    r = run("/t/continue")
    assert.equal(204, r.status); assert.equal("", r.body)
    r = run("/t/status500")
    assert.equal(500, r.status); assert.equal("no", r.body)
  end)

  it("fails with a message on a timeout, a dropped connection, garbage, a refused port", function()
    local r = run("/t/hang", 300)
    assert.is_nil(r.status); assert.matches("timeout", r.err)
    assert.is_true(r.seconds < 2, "the 300 ms timeout took " .. r.seconds .. " s")
    r = run("/t/drop")
    assert.is_nil(r.status); assert.matches("closed", r.err)
    r = run("/t/garbage")
    assert.is_nil(r.status); assert.matches("malformed status line", r.err)
  end)

  it("stops at 64 KiB of head (one endless line) or of trailers; a few trailers are read past", function()
    local r = run("/t/longline", 5000)
    assert.is_nil(r.status); assert.matches("line longer than", r.err)
    assert.is_true(r.seconds < 1, "it waited for the line's end: " .. r.seconds .. " s")
    r = run("/t/trailers")
    assert.equal(200, r.status); assert.equal("abc", r.body)
    r = run("/t/trailers%3Fmany%3D1")
    assert.is_nil(r.status); assert.matches("reading the trailers: line longer than", r.err)
  end)

  it("parses http(s) URLs and refuses others", function()
    local client = require "progallery.http.client"
    assert.same({ scheme = "http", host = "127.0.0.1", port = 9000, path = "/a?b=1" }, client.parse_url("http://127.0.0.1:9000/a?b=1#x"))
    assert.same({ scheme = "https", host = "example.com", port = 443, path = "/" }, client.parse_url("https://example.com"))
    assert.same({ scheme = "http", host = "::1", port = 80, path = "/" }, client.parse_url("http://[::1]"))
    for _, bad in ipairs { "ftp://x/", "http://", "http://u@h/", "http://h:0/", "http://h:70000/", "http://h/a b", 5 } do
      assert.is_nil((client.parse_url(bad)))
    end
  end)
end)

-- the server of scripts/serve.sh with webhooks, and SDK receivers
local KEY, PUB
local function keys(dir) KEY, PUB = S.rsa_keys(dir) end
local ensure_sdk, stop_receiver, received = S.ensure_sdk, S.stop_receiver, S.received
local function start_receiver(dir, name, port, mode) return S.start_receiver(dir, name, PUB, port, mode) end

local function start_server(dir, env, attempt)
  local port = free_port()
  local key = "test-admin-key-" .. os.time()
  local vars = { PORT = port, PROGALLERY_SERVE_DIR = dir .. "/serve", PROGALLERY_ADMIN_KEY = key,
    PROGALLERY_NO_DEPS = "1", PROGALLERY_WORKERS = "2", PROGALLERY_THREADS = "2",
    PROGALLERY_BUSY_TIMEOUT = "2000", PROGALLERY_LOG_LEVEL = "info" }
  for k, v in pairs(env) do vars[k] = v end
  local assigns = {}
  for k, v in pairs(vars) do assigns[#assigns + 1] = k .. "=" .. q(v) end
  local srv = { env = table.concat(assigns, " "), port = port, key = key, dir = dir .. "/serve",
    base = "http://127.0.0.1:" .. port .. "/pro-gallery/v2", db = dir .. "/serve/data/progallery.db" }
  local out, st = sh(srv.env .. " sh scripts/serve.sh start")
  if st ~= 0 and out:find("Address already in use", 1, true) and (attempt or 1) < 3 then
    sh("rm -rf " .. q(dir .. "/serve")) -- taken meanwhile by another process: another port
    return start_server(dir, env, (attempt or 1) + 1)
  end
  assert(st == 0, "serve.sh did not start: " .. out)
  return srv
end

local function stop_server(srv)
  if srv then sh(srv.env .. " sh scripts/serve.sh stop") end
end

-- the store's own feed, read from the file (Lua 5.4, beside nginx)
local function feed(srv)
  local store = assert(open { path = srv.db, caller = "admin", readonly = true })
  local r = assert(store:events { limit = 1000 })
  store:close()
  return r.events
end

local HANDLER = {
  created = "onGalleryCreated", updated = "onGalleryUpdated", deleted = "onGalleryDeleted",
  gallery_item_created = "onGalleryItemCreated", gallery_item_updated = "onGalleryItemUpdated",
  gallery_item_deleted = "onGalleryItemDeleted",
}
local IMG = "wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/38939f9568z222d6avc6285c9ac1e9129.jpg#originWidth=200&originHeight=199"

-- REST writes through nginx that fire all six events
local function writes(srv, tag)
  local _, g = curl("POST", srv.base .. "/galleries", srv.key, { gallery = { name = "G" .. tag, items = {
    { title = "a" .. tag, image = { imageInfo = { id = "38939f9568z222d6avc6285c9ac1e9129.jpg", width = 200, height = 199,
      filename = "38939f9568z222d6avc6285c9ac1e9129.jpg" } } } } } })
  local gid = assert(g and g.gallery and g.gallery.id, "createGallery failed")
  local _, it = curl("POST", srv.base .. "/galleries/" .. gid .. "/items", srv.key, { item = { title = "b" .. tag } })
  curl("PATCH", srv.base .. "/galleries/" .. gid .. "/items/" .. it.item.id, srv.key, { item = { title = "c" .. tag } })
  curl("PATCH", srv.base .. "/galleries/" .. gid, srv.key, { gallery = { name = "H" .. tag } })
  curl("DELETE", srv.base .. "/galleries/" .. gid .. "/items/" .. it.item.id, srv.key)
  curl("DELETE", srv.base .. "/galleries/" .. gid, srv.key)
  return gid
end

-- every stored event matches the SDK envelope the receiver's handler got, in order
local function assert_envelopes(events, got, instance_id)
  assert.equal(#events, #got)
  for i, ev in ipairs(events) do
    local m, r = ev.metadata, got[i]
    assert.is_nil(r.error, r.error)
    assert.equal(HANDLER[m.slug], r.handler, "event " .. i)
    local em = r.envelope.metadata
    assert.equal(m._id, em._id)
    assert.equal(m.entityId, em.entityId)
    assert.equal(m.slug, em.slug)
    assert.equal(m.entityFqdn, em.entityFqdn)
    assert.equal(m.eventTime, em.eventTime)
    assert.equal(m.entityEventSequence, em.entityEventSequence)
    assert.equal(m.originatedFrom, em.originatedFrom)
    assert.equal(false, em.triggeredByAnonymizeRequest)
    assert.equal(instance_id, em.instanceId)
    assert.same(m.identity, em.identity)
    if m.slug == "created" or m.slug == "updated" then
      assert.equal(ev.entity._id, r.envelope.entity._id)
      assert.equal(ev.entity.name, r.envelope.entity.name)
      assert.equal(ev.entity.totalItems, r.envelope.entity.totalItems)
      assert.equal(ev.entity._createdDate, r.envelope.entity._createdDate)
    elseif m.slug == "deleted" then
      assert.is_nil(r.envelope.entity); assert.is_nil(r.envelope.data)
    elseif m.slug == "gallery_item_deleted" then
      assert.same(ev.data, r.envelope.data)
    else
      local mine = ev.data.item or ev.data.updatedItem
      local theirs = r.envelope.data.item or r.envelope.data.updatedItem
      assert.is_table(theirs, "data." .. (ev.data.item and "item" or "updatedItem"))
      assert.equal(mine._id, theirs._id)
      assert.equal(mine.title, theirs.title)
      assert.equal(mine.sortOrder, theirs.sortOrder)
      assert.equal(mine._updatedDate, theirs._updatedDate)
      if mine.image then assert.equal(mine.image.imageInfo, theirs.image.imageInfo) end
    end
  end
end

describe("webhooks through nginx, received by the official Wix SDK #nginx", function()
  local dir, srv, rx
  setup(function()
    ensure_sdk()
    dir = mktemp_dir()
    keys(dir)
  end)
  teardown(function()
    stop_server(srv)
    stop_receiver(rx)
    remove_dir(dir)
  end)

  it("every event arrives, signed, with the SDK's envelope, in order; a stopped receiver misses nothing", function()
    local rport = free_port()
    rx = start_receiver(dir, "sdk", rport)
    srv = start_server(dir, { PROGALLERY_WEBHOOKS = rx.url, PROGALLERY_WEBHOOK_KEY = KEY, PROGALLERY_INSTANCE_ID = "site-42" })
    writes(srv, 1)
    local events = feed(srv)
    assert.equal(8, #events) -- gallery, 2 items, item updated, gallery updated, item deleted, cascade, gallery deleted
    assert(eventually(15, function() return #received(rx) >= #events end), "not all events arrived: "
      .. #received(rx) .. " of " .. #events .. "\n" .. (read_file(srv.dir .. "/logs/error.log") or ""):sub(-3000))
    assert_envelopes(events, received(rx), "site-42")
    -- the pull endpoint carries the same domain events, for the admin key only
    local status, pulled = curl("GET", srv.base .. "/events?after=0&limit=3", srv.key)
    assert.equal(200, status)
    assert.equal(3, #pulled.events); assert.equal(3, pulled.lastSeq)
    assert.equal(events[1].metadata._id, pulled.events[1].id)
    assert.equal(events[1].entity._id, pulled.events[1].createdEvent.entity.id)
    assert.equal(events[2].data.item._id, pulled.events[2].actionEvent.body.item.id)
    assert.is_table(pulled.events[2].actionEvent.body.item.image.imageInfo)
    assert.equal(403, (curl("GET", srv.base .. "/events")))
    assert.equal(400, (curl("GET", srv.base .. "/events?limit=0", srv.key)))
    assert.equal(405, (curl("POST", srv.base .. "/events", srv.key, {})))
    local _, empty, text = curl("GET", srv.base .. "/events?after=" .. #events, srv.key)
    assert.truthy(text:find('"events":[]', 1, true), text) -- an empty page is an array
    assert.equal(#events, empty.lastSeq)

    -- stop the receiver, write, start it again: everything arrives, in order
    stop_receiver(rx)
    writes(srv, 2)
    sleep(1.5)
    rx = start_receiver(dir, "sdk", rport)
    events = feed(srv)
    assert.equal(16, #events)
    assert(eventually(30, function() return #received(rx) >= #events end), "after the restart: "
      .. #received(rx) .. " of " .. #events)
    assert_envelopes(events, received(rx), "site-42")
  end)
end)

describe("webhook receivers that fail #nginx", function()
  local dir, srv, rxs = nil, nil, {}
  setup(function()
    ensure_sdk()
    dir = mktemp_dir()
    keys(dir)
  end)
  teardown(function()
    stop_server(srv)
    for _, r in pairs(rxs) do stop_receiver(r) end
    remove_dir(dir)
  end)

  it("a 500, a hang or a dropped connection is retried with backoff and blocks neither others nor requests", function()
    for _, mode in ipairs { "fail", "hang", "close", "ok" } do rxs[mode] = start_receiver(dir, mode, free_port(), mode) end
    srv = start_server(dir, { PROGALLERY_WEBHOOKS = table.concat({ rxs.fail.url, rxs.hang.url, rxs.close.url, rxs.ok.url }, " "),
      PROGALLERY_WEBHOOK_KEY = KEY })
    local t0 = now()
    writes(srv, 1)
    -- a blocked deliverer would hold the healthy endpoint for the hang's 10 s timeout, and more
    assert(eventually(20, function() return #received(rxs.ok) >= 8 end), "the healthy endpoint was held up")
    assert.is_true(now() - t0 < 20, "the healthy endpoint took " .. (now() - t0) .. " s")
    -- requests stay fast while the others fail
    local t1 = now()
    for _ = 1, 5 do assert.equal(200, (curl("GET", srv.base .. "/galleries"))) end
    assert.is_true(now() - t1 < 5, "requests were slowed by failing deliveries: " .. (now() - t1) .. " s")
    -- attempts at the failing endpoint 1, 2, 4 s apart: three within about 4 s of the first,
    -- and not dozens (no backoff) by then
    local function attempts()
      local log = read_file(srv.dir .. "/logs/error.log") or ""
      return select(2, log:gsub(rxs.fail.url:gsub("%p", "%%%0") .. ": event 1 not delivered", "")), log
    end
    local ok3 = eventually(20, function() return attempts() >= 3 end)
    local n, log = attempts()
    assert(ok3, "attempts at the failing endpoint: " .. n .. "\n" .. log:sub(-4000))
    assert.is_true(n <= 6, "attempts at the failing endpoint: " .. n)
    assert.equal(0, #received(rxs.fail)) -- each attempt answered 500, nothing handled
    assert.matches(rxs.close.url:gsub("%p", "%%%0") .. ": event 1 not delivered", log)
    -- a backoff that ends in ngx.sleep(0) can spin on nginx's cached clock: never
    assert.is_nil(log:find("ngx.sleep(0)", 1, true), "a deliverer called ngx.sleep(0)")
    -- the broken endpoints' cursors stay on the first event; the healthy one is at the end
    local store = assert(open { path = srv.db, caller = "admin", readonly = true })
    assert.equal(0, store:eventCursor("webhook:" .. rxs.fail.url))
    assert.equal(0, store:eventCursor("webhook:" .. rxs.hang.url))
    assert.equal(8, store:eventCursor("webhook:" .. rxs.ok.url))
    store:close()
  end)
end)

describe("webhooks while nginx workers are killed #nginx", function()
  local dir, srv, rx
  setup(function()
    ensure_sdk()
    dir = mktemp_dir()
    keys(dir)
  end)
  teardown(function()
    stop_server(srv)
    stop_receiver(rx)
    remove_dir(dir)
  end)

  it("kill -9 of the workers mid-delivery: every event arrives at least once, in order", function()
    rx = start_receiver(dir, "slow", free_port(), "slow")
    srv = start_server(dir, { PROGALLERY_WEBHOOKS = rx.url, PROGALLERY_WEBHOOK_KEY = KEY })
    for round = 1, 3 do writes(srv, round) end
    local events = feed(srv)
    assert.equal(24, #events)
    assert(eventually(10, function() return #received(rx) >= 2 end), "deliveries did not start")
    local master = (read_file(srv.dir .. "/logs/nginx.pid") or ""):match("%d+")
    local workers = sh("pgrep -P " .. master)
    local killed = 0
    for pid in workers:gmatch("%d+") do sh("kill -9 " .. pid); killed = killed + 1 end
    assert.is_true(killed >= 1, "no worker of master " .. tostring(master) .. " to kill: " .. workers)
    local at_kill = #received(rx)
    assert.is_true(at_kill < #events, "every event was delivered before the kill: the test proves nothing")
    -- the master starts new workers; the dead holder's lease runs out (30 s: three times the
    -- default webhookTimeout), then one resumes from the endpoint's cursor
    assert(eventually(75, function()
      local ids = {}
      for _, r in ipairs(received(rx)) do ids[r.envelope.metadata._id] = true end
      for _, e in ipairs(events) do if not ids[e.metadata._id] then return false end end
      return true
    end), "events were lost after the kill: " .. #received(rx) .. " deliveries")
    -- first deliveries in seq order; a repeat is a re-delivery of events already seen
    local first, seen = {}, {}
    for _, r in ipairs(received(rx)) do
      local id = r.envelope.metadata._id
      if not seen[id] then seen[id] = true; first[#first + 1] = id end
    end
    assert.equal(#events, #first)
    for i, e in ipairs(events) do assert.equal(e.metadata._id, first[i], "event " .. i) end
  end)
end)

describe("a move's events through webhooks, received by the official Wix SDK #nginx", function()
  local dir, srv, rx
  setup(function()
    ensure_sdk()
    dir = mktemp_dir()
    keys(dir)
  end)
  teardown(function()
    stop_server(srv)
    stop_receiver(rx)
    remove_dir(dir)
  end)

  it("hands Item Moved deletions and the target's creations to the SDK's handlers, in order", function()
    rx = start_receiver(dir, "moves", free_port())
    srv = start_server(dir, { PROGALLERY_WEBHOOKS = rx.url, PROGALLERY_WEBHOOK_KEY = KEY, PROGALLERY_INSTANCE_ID = "site-7" })
    local _, a = curl("POST", srv.base .. "/galleries", srv.key, { gallery = { name = "A", items = { { title = "1" }, { title = "2" } } } })
    local _, b = curl("POST", srv.base .. "/galleries", srv.key, { gallery = { name = "B" } })
    local gid, bid = a.gallery.id, b.gallery.id
    local ids = { a.gallery.items[1].id, a.gallery.items[2].id }
    assert.equal(200, (curl("POST", srv.base .. "/galleries/" .. gid .. "/items/move", srv.key, { itemIds = { ids[2] }, before = ids[1] })))
    assert.equal(200, (curl("POST", srv.base .. "/galleries/" .. gid .. "/items/move", srv.key, { itemIds = { ids[1], ids[2] }, toGalleryId = bid })))
    local events = feed(srv)
    -- 2 created galleries + 2 items, 1 update, 2 deletions (Item Moved) + 2 creations
    assert.equal(9, #events)
    assert.equal("Item Moved", events[6].metadata.originatedFrom)
    assert(eventually(15, function() return #received(rx) >= #events end), "not all events arrived: "
      .. #received(rx) .. " of " .. #events)
    assert_envelopes(events, received(rx), "site-7")
    local got = received(rx)
    assert.equal("onGalleryItemDeleted", got[6].handler)
    assert.equal("Item Moved", got[6].envelope.metadata.originatedFrom)
    assert.equal("onGalleryItemCreated", got[8].handler)
    assert.equal(bid, got[8].envelope.metadata.entityId)
  end)
end)
