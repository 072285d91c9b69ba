-- Two nginx nodes (scripts/serve.sh, each its own workers and response cache) on one
-- PostgreSQL (API.md section 11): a write on either is read on the other at once, and
-- with a thread pool no PostgreSQL call (the cache's dataVersion check included) runs on
-- the event loop. Runs where PROGALLERY_TEST_DSN names a server.
local S = require "spec.support"

local DSN = os.getenv("PROGALLERY_TEST_DSN")
local pg_it = (DSN and os.execute("test -x /usr/sbin/nginx") and os.execute("test -f build-luajit/progallery.so")) and it or pending
local KEY = "pg-nodes-admin-key"

local free_port = S.free_port

local function serve(dir, port, dsn, workers)
  return S.sh(("PORT=%d PROGALLERY_SERVE_DIR=%s PROGALLERY_NO_DEPS=1 PROGALLERY_ADMIN_KEY=%s PROGALLERY_WORKERS=%d"
    .. " PROGALLERY_DSN=%s sh scripts/serve.sh start"):format(port, dir, KEY, workers or 2, S.shell_quote(dsn)))
end

local function stop(dir)
  S.sh(("PROGALLERY_SERVE_DIR=%s sh scripts/serve.sh stop; rm -rf %s"):format(dir, dir))
end

-- method, url, body? -> status, body
local function http(method, url, body)
  local cmd = ("curl -s -m 20 -w '\\n%%{http_code}' -X %s -H 'Authorization: %s' -H 'Content-Type: application/json' %s %s")
    :format(method, KEY, body and ("-d " .. S.shell_quote(body)) or "", S.shell_quote(url))
  local out = S.sh(cmd)
  local text, code = out:match("^(.*)\n(%d+)$")
  return tonumber(code), text
end

describe("two nginx nodes on one PostgreSQL #postgres", function()
  local dirs, bases, dsn = {}, {}, nil

  setup(function()
    if not DSN then return end
    dsn = DSN .. (" options='-csearch_path=nodes%x'"):format(os.time() % 0xffffff)
    for n = 1, 2 do
      dirs[n] = S.tmpdir()
      local port = free_port()
      local out, ok = serve(dirs[n], port, dsn, n == 1 and 1 or 2)
      assert(ok, out)
      bases[n] = ("http://127.0.0.1:%d/pro-gallery/v2"):format(port)
    end
  end)

  teardown(function()
    for n = 1, #dirs do stop(dirs[n]) end
  end)

  pg_it("a write on either node is read on the other at once, through each node's cache", function()
    local status, body = http("POST", bases[1] .. "/galleries", '{"gallery":{"name":"shared"}}')
    assert.equal(200, status, body)
    local id = assert(body:match('"id":"([%x%-]+)"'))
    for round = 1, 3 do
      -- both nodes cache the gallery, then one changes it: the other answers the change
      for n = 1, 2 do assert.equal(200, (http("GET", bases[n] .. "/galleries/" .. id))) end
      local writer, reader = round % 2 + 1, (round + 1) % 2 + 1
      status, body = http("POST", bases[writer] .. "/galleries/" .. id .. "/items",
        ('{"item":{"title":"r%d"}}'):format(round))
      assert.equal(200, status, body)
      status, body = http("GET", bases[reader] .. "/galleries/" .. id)
      assert.equal(200, status, body)
      assert.matches('"totalItems":' .. round .. "[,}]", body)
      assert.matches('"title":"r' .. round .. '"', body)
    end
  end)

  pg_it("a GET waiting on PostgreSQL does not stall the node's event loop (dataVersion in the pool)", function()
    -- another session locks the change counters: dataVersion() waits on it for 3 s
    local schema = dsn:match("search_path=([%w_]+)")
    os.execute(("psql -qAt %s -c %s >/dev/null 2>&1 &"):format(S.shell_quote(DSN), S.shell_quote(
      ("BEGIN; LOCK TABLE %s.progallery_changes IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT"):format(schema))))
    os.execute("sleep 0.5")
    -- node 1 has one worker: a GET of galleries blocks on the lock in a pool thread...
    os.execute(("curl -s -m 20 -o /dev/null %s &"):format(S.shell_quote(bases[1] .. "/galleries")))
    os.execute("sleep 0.3")
    -- ... while the same worker still answers what needs no database at once
    local t0 = os.clock()
    local f = io.popen(("date +%%s%%N; curl -s -m 20 -o /dev/null -w '%%{http_code}' %s; echo; date +%%s%%N")
      :format(S.shell_quote(bases[1]:gsub("/pro%-gallery/v2$", "") .. "/nothing-here")))
    local a, code, b = f:read("*l"), f:read("*l"), f:read("*l")
    f:close()
    local ms = (tonumber(b) - tonumber(a)) / 1e6
    assert.equal("404", code)
    assert.is_true(ms < 1000, ("the event loop answered after %.0f ms"):format(ms))
    assert(t0)
    os.execute("sleep 3")
  end)

  pg_it("GET /events waiting on PostgreSQL does not stall the event loop either (the feed read in the pool)", function()
    local status, body = http("GET", bases[1] .. "/events")
    assert.equal(200, status, body)
    assert.matches('"lastSeq":4[,}]', body)
    local schema = dsn:match("search_path=([%w_]+)")
    os.execute(("psql -qAt %s -c %s >/dev/null 2>&1 &"):format(S.shell_quote(DSN), S.shell_quote(
      ("BEGIN; LOCK TABLE %s.event_chunks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT"):format(schema))))
    os.execute("sleep 0.5")
    os.execute(("curl -s -m 20 -o /dev/null -H 'Authorization: %s' %s &"):format(KEY, S.shell_quote(bases[1] .. "/events")))
    os.execute("sleep 0.3")
    local f = io.popen(("date +%%s%%N; curl -s -m 20 -o /dev/null -w '%%{http_code}' %s; echo; date +%%s%%N")
      :format(S.shell_quote(bases[1]:gsub("/pro%-gallery/v2$", "") .. "/nothing-here")))
    local a, code, b = f:read("*l"), f:read("*l"), f:read("*l")
    f:close()
    local ms = (tonumber(b) - tonumber(a)) / 1e6
    assert.equal("404", code)
    assert.is_true(ms < 1000, ("the event loop answered after %.0f ms"):format(ms))
    os.execute("sleep 3")
  end)
end)
