-- progallery.http under a real nginx (lua-nginx-module loads build-luajit/progallery.so),
-- driven with curl. Tagged #nginx: run it once with `busted --tags=nginx` (it needs nginx,
-- libnginx-mod-http-lua and curl; the SDK test also needs node and npm). Every server runs
-- on 127.0.0.1 with a temporary prefix and is stopped in teardown, failures or not.
local cjson = require "cjson"
-- stock lua-cjson writes 14 significant digits; progallery.http's encoder is exact
local encode = require("progallery.http.json").encode

local ROOT = (function()
  local f = assert(io.popen("pwd"))
  local d = f:read("*l")
  f:close()
  return d
end)()

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1; echo \"__exit=$?\""))
  local out = f:read("*a")
  f:close()
  local status = tonumber(out:match("__exit=(%d+)%s*$"))
  return out:gsub("__exit=%d+%s*$", ""), status
end

local function read_file(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function write_file(p, s)
  local f = assert(io.open(p, "wb"))
  f:write(s)
  f:close()
end

-- world-traversable, so that a root master's workers (nobody) reach their data dir
local function mktemp_dir()
  local out = sh("mktemp -d /tmp/progallery-http.XXXXXX")
  local dir = out:gsub("%s+$", "")
  sh("chmod 755 " .. q(dir))
  return dir
end

-- a loopback port nothing listens on, outside the ephemeral range (spec/support.lua)
local free_port = require("spec.support").free_port

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local DATE = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"
local MISSING = "00000000-0000-4000-8000-000000000000"

-- Starts the example server through scripts/serve.sh; returns a server table.
local function start_server(env)
  local dir = mktemp_dir()
  local port = free_port()
  local key = "test-admin-key-" .. tostring(os.time())
  local vars = {
    PORT = port, PROGALLERY_SERVE_DIR = dir, PROGALLERY_ADMIN_KEY = key,
    PROGALLERY_NO_DEPS = "1", PROGALLERY_WORKERS = "4", PROGALLERY_THREADS = "4",
    PROGALLERY_MAX_BODY = "65536", PROGALLERY_BUSY_TIMEOUT = "1000", PROGALLERY_LOG_LEVEL = "info",
  }
  for k, v in pairs(env or {}) do vars[k] = v end
  local assigns = {}
  for k, v in pairs(vars) do assigns[#assigns + 1] = k .. "=" .. q(v) end
  local srv = { dir = dir, port = port, key = key, env = table.concat(assigns, " "),
                base = "http://127.0.0.1:" .. port, db = dir .. "/data/progallery.db" }
  local out, st = sh(srv.env .. " sh scripts/serve.sh start")
  srv.started = st == 0
  srv.start_output = out
  return srv
end

local function stop_server(srv)
  if not srv then return end
  local out = sh(srv.env .. " sh scripts/serve.sh stop")
  if not out:find("stopped nginx", 1, true) then io.stderr:write("[http_spec] " .. out) end
  -- belt and braces: the master pid, if still there
  local pid = read_file(srv.dir .. "/logs/nginx.pid")
  if pid and pid:match("^%d+") then sh("kill -TERM " .. pid:match("^%d+")) end
end

local function remove_dir(dir)
  if dir and dir:match("^/tmp/progallery%-http%.") then sh("rm -rf " .. q(dir)) end
end

-- One HTTP request with curl. opts: headers = {...}, body = string | table (JSON-encoded),
-- auth = "admin" | "none" | "empty" | <key>, chunked = bool.
-- Returns status, body text, decoded JSON (or nil), response headers (lower-case names).
local seen_bodies = {}
local function request(srv, method, path, opts)
  opts = opts or {}
  local tmp = srv.dir .. "/req"
  local args = { "curl -s -S --max-time 30 -X " .. method, "-o " .. q(tmp .. ".out"),
                 "-D " .. q(tmp .. ".hdr"), "-w '%{http_code}'" }
  local auth = opts.auth or "admin"
  if auth == "admin" then args[#args + 1] = "-H " .. q("Authorization: " .. srv.key)
  elseif auth == "empty" then args[#args + 1] = "-H 'Authorization;'"
  elseif auth ~= "none" then args[#args + 1] = "-H " .. q("Authorization: " .. auth) end
  for _, h in ipairs(opts.headers or {}) do args[#args + 1] = "-H " .. q(h) end
  if opts.body ~= nil then
    local body = type(opts.body) == "table" and encode(opts.body) or opts.body
    write_file(tmp .. ".in", body)
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. q(tmp .. ".in")
    if opts.chunked then args[#args + 1] = "-H 'Transfer-Encoding: chunked'" end
  end
  args[#args + 1] = q(srv.base .. path)
  local out, st = sh(table.concat(args, " "))
  assert(st == 0, "curl failed: " .. out)
  local status = tonumber(out:match("(%d%d%d)%s*$"))
  local text = read_file(tmp .. ".out") or ""
  local headers = {}
  for line in (read_file(tmp .. ".hdr") or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then headers[k:lower()] = v end
  end
  seen_bodies[#seen_bodies + 1] = text
  local ok, json = pcall(cjson.decode, text)
  return status, text, ok and json or nil, headers
end

local function assert_error(status, json, want_status, code, srvtext)
  assert.are.equal(want_status, status, srvtext)
  assert.is_table(json, srvtext)
  assert.is_string(json.message)
  assert.are.equal(code, json.details.applicationError.code)
  assert.is_string(json.details.applicationError.description)
end

local function violation(json)
  local v = json.details and json.details.validationError and json.details.validationError.fieldViolations
  return v and v[1] and v[1].field, v and v[1] and v[1].description
end

local function nginx_bin()
  return (sh("command -v nginx || echo /usr/sbin/nginx"):gsub("%s+$", ""))
end

-- A second, private nginx (one process) running spec/http_driver.lua: cosockets and
-- ngx.thread send raw bytes, time requests and keep many in flight at once, in an exact
-- order, which curl from the shell cannot. drive(driver, args) posts args (JSON) to it.
local function start_driver()
  local dir, port = mktemp_dir(), free_port()
  sh("mkdir -p " .. q(dir .. "/conf") .. " " .. q(dir .. "/logs") .. " " .. q(dir .. "/tmp"))
  write_file(dir .. "/conf/nginx.conf", ([[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon on;
master_process off;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path tmp;
  client_max_body_size 64m;
  client_body_buffer_size 64m;
  lua_package_path "%s/spec/?.lua;;";
  server {
    listen 127.0.0.1:%d;
    location = /run { content_by_lua_block { require("http_driver").run() } }
  }
}
]]):format(ROOT, port))
  local out, st = sh(("%s -p %s/ -c conf/nginx.conf -e logs/error.log"):format(nginx_bin(), q(dir)))
  assert(st == 0, "the driver nginx did not start: " .. out)
  for _ = 1, 50 do
    local _, cst = sh(("curl -s -o /dev/null --max-time 1 http://127.0.0.1:%d/"):format(port))
    if cst == 0 then break end
    sh("sleep 0.1")
  end
  return { dir = dir, port = port }
end

local function stop_driver(d)
  if not d then return end
  local pid = read_file(d.dir .. "/logs/nginx.pid")
  if pid and pid:match("^%d+") then sh("kill -QUIT " .. pid:match("^%d+")) end
  sh("sleep 0.2")
  remove_dir(d.dir)
end

local function drive(d, args)
  write_file(d.dir .. "/args.json", cjson.encode(args))
  local out, st = sh(("curl -s -S --max-time 600 --data-binary @%s -o %s -w '%%{http_code}' http://127.0.0.1:%d/run")
    :format(q(d.dir .. "/args.json"), q(d.dir .. "/result.json"), d.port))
  assert(st == 0, "driver request failed: " .. out)
  local text = read_file(d.dir .. "/result.json") or ""
  local ok, res = pcall(cjson.decode, text)
  assert(out:match("200") and ok and type(res) == "table", "driver failed: " .. text:sub(1, 2000)
    .. "\n" .. (read_file(d.dir .. "/logs/error.log") or ""):sub(-2000))
  return res
end

-- A raw request as the driver sends it: HTTP/1.1, closing its connection.
local function raw_request(method, path, headers, body)
  local lines = { method .. " " .. path .. " HTTP/1.1", "Host: 127.0.0.1" }
  for _, h in ipairs(headers or {}) do lines[#lines + 1] = h end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  lines[#lines + 1] = "Connection: close"
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")
end

local function list(t) return type(t) == "table" and t or {} end -- cjson: {} for an empty array

-- REST fixture (reference 12.5)
local function fixture_gallery()
  return {
    gallery = {
      name = "My New Gallery",
      items = {
        {
          title = "Item 1", description = "This is the first item in my gallery.",
          tags = { values = { "voice", "bees", "wind" } },
          link = { text = "Click here for more info.", url = "https://www.wix.com/about/us" },
          image = {
            imageInfo = { id = "38939f9568z222d6avc6285c9ac1e9129.jpg", height = 199, width = 200,
                          filename = "38939f9568z222d6avc6285c9ac1e9129.jpg" },
            focalPoint = { x = 0.900576923076923, y = 0.0972887222382463 },
            exif = { Artist = "Bob Dylan", ExposureTime = "0.005" },
            quality = 100,
            unsharpMasking = { amount = 2.41, radius = 28.6, threshold = 0.4745098 },
          },
        },
        {
          title = "Item 2",
          video = { type = "WIX_MEDIA", durationInMillis = 5000, videoInfo = {
            id = "8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c", filename = "BigBuckBunny.mp4",
            posters = { { id = "8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg", height = 720, width = 1280 } },
          } },
        },
        { title = "Item 3", text = { html = "<p>Hi!</p>", css = { backgroundColor = "rgba(205, 14, 205, 0.3)" } } },
      },
    },
  }
end

describe("progallery.http under nginx #nginx", function()
  local srv

  setup(function()
    if not read_file(ROOT .. "/build-luajit/progallery.so") then
      local out, st = sh("make -s luajit")
      assert(st == 0, "make luajit failed:\n" .. out)
    end
    srv = start_server()
    assert(srv.started, "nginx did not start:\n" .. srv.start_output)
  end)

  teardown(function()
    stop_server(srv)
    if srv then
      local log = read_file(srv.dir .. "/logs/error.log") or ""
      -- keep the prefix when something crashed, for a look
      if not log:find("signal 11", 1, true) then remove_dir(srv.dir) end
    end
  end)

  it("runs 4 worker processes", function()
    local pid = assert(read_file(srv.dir .. "/logs/nginx.pid")):match("%d+")
    -- workers only: the media cache (docs/site.md) adds nginx's cache manager and loader.
    -- A child just forked still carries the master's title for a moment (a cache process too:
    -- one CI run counted 5), so the count is read until the titles settle, for up to 5 s.
    local n
    for _ = 1, 25 do
      local masters = 0
      n = 0
      for line in (sh("ps -o args= --ppid " .. pid) .. "\n"):gmatch("([^\n]*)\n") do
        if line:find("master process", 1, true) then masters = masters + 1 end
        if line ~= "" and not line:find("cache %a+ process") then n = n + 1 end
      end
      if masters == 0 then break end
      sh("sleep 0.2")
    end
    assert.are.equal(4, n)
  end)

  it("lists an empty store with [] on both prefixes", function()
    for _, prefix in ipairs { "/pro-gallery/v2", "/progallery/v2" } do
      local status, text, json, headers = request(srv, "GET", prefix .. "/galleries", { auth = "none" })
      assert.are.equal(200, status)
      assert.truthy(text:find('"galleries":[]', 1, true), text)
      assert.are.equal(0, json.totalGalleries)
      assert.truthy(headers["content-type"]:find("application/json", 1, true))
    end
  end)

  describe("every route", function()
    local gid, items

    it("POST /galleries creates (REST fixture) and answers {gallery} with REST media objects", function()
      local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries",
        { body = fixture_gallery(), headers = { "wix-site-id: 6f6a1f3e-0000-4000-8000-000000000001" } })
      assert.are.equal(200, status, text)
      local g = json.gallery
      assert.truthy(g.id:match(UUID))
      assert.truthy(g.createdDate:match(DATE))
      assert.is_nil(g._id)
      assert.are.equal("My New Gallery", g.name)
      assert.are.equal(3, g.totalItems)
      items = g.items
      assert.are.equal(3, #items)
      local img = items[1].image.imageInfo
      -- what the client sent, unchanged (API.md section 12)
      assert.are.same({ id = "38939f9568z222d6avc6285c9ac1e9129.jpg", height = 199, width = 200,
        filename = "38939f9568z222d6avc6285c9ac1e9129.jpg" }, img)
      assert.are.equal(0.900576923076923, items[1].image.focalPoint.x)
      assert.are.equal(0.4745098, items[1].image.unsharpMasking.threshold)
      assert.are.same({ "voice", "bees", "wind" }, items[1].tags.values)
      assert.are.equal("IMAGE", items[1].type)
      assert.are.equal("VIDEO", items[2].type)
      assert.are.same({ { id = "8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg", height = 720, width = 1280 } },
        items[2].video.videoInfo.posters)
      assert.are.equal("BigBuckBunny.mp4", items[2].video.videoInfo.filename)
      assert.are.equal("TEXT", items[3].type)
      assert.are.equal("rgba(205, 14, 205, 0.3)", items[3].text.css.backgroundColor)
      assert.truthy(items[1].updatedDate:match(DATE))
      gid = g.id
    end)

    it("POST and GET give back every field of Wix's REST objects as sent (API.md section 12)", function()
      local F = require "spec.fixtures.rest_items"
      for _, item in ipairs { F.image, F.video, F.text } do
        local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
          { body = { item = item } })
        assert.are.equal(200, status, text)
        assert.are.same(item, F.own_fields(json.item))
        status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries/" .. gid .. "/items/" .. json.item.id)
        assert.are.equal(200, status, text)
        assert.are.same(item, F.own_fields(json.item))
        status = request(srv, "DELETE", "/pro-gallery/v2/galleries/" .. gid .. "/items/" .. json.item.id)
        assert.are.equal(200, status)
      end
    end)

    it("GET /galleries lists with limit, offset and itemLimit", function()
      local status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries?limit=10&offset=0&itemLimit=1")
      assert.are.equal(200, status, text)
      assert.are.equal(1, json.totalGalleries)
      assert.are.equal(gid, json.galleries[1].id)
      assert.are.equal(1, #json.galleries[1].items)
      assert.are.equal(3, json.galleries[1].totalItems)
    end)

    it("GET /galleries/{id} with itemOffset/itemLimit (and galleryId repeated)", function()
      local status, text, json = request(srv, "GET",
        "/progallery/v2/galleries/" .. gid .. "?galleryId=" .. gid .. "&itemOffset=1&itemLimit=1", { auth = "empty" })
      assert.are.equal(200, status, text)
      assert.are.equal(gid, json.gallery.id)
      assert.are.equal(1, #json.gallery.items)
      assert.are.equal("Item 2", json.gallery.items[1].title)
    end)

    -- nginx reads at most 200 query parameters: the ones after must not be dropped unchecked
    it("a query of more than 200 parameters is a 400, not its tail ignored", function()
      local pad = {}
      for i = 1, 200 do pad[i] = "a" .. i end
      pad = table.concat(pad, "&")
      local status, text, json = request(srv, "GET", "/progallery/v2/galleries/" .. gid .. "?" .. pad
        .. "&galleryId=" .. MISSING .. "&itemLimit=abc")
      assert.are.equal(400, status, text)
      assert.are.equal("INVALID_ARGUMENT", json.details.applicationError.code)
      assert.are.equal("query: more than 200 parameters", json.message)
      status, text, json = request(srv, "GET", "/progallery/v2/galleries?" .. pad:gsub("&a200$", "") .. "&limit=1")
      assert.are.equal(200, status, text)
      assert.are.equal(1, #json.galleries)
    end)

    it("GET /galleries/{id}/items and /items/{itemId}", function()
      local status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries/" .. gid .. "/items?itemLimit=100")
      assert.are.equal(200, status, text)
      assert.are.same({ "Item 1", "Item 2", "Item 3" }, { json.items[1].title, json.items[2].title, json.items[3].title })
      status, text, json = request(srv, "GET", ("/progallery/v2/galleries/%s/items/%s?galleryId=%s&itemId=%s")
        :format(gid, items[2].id, gid, items[2].id), { auth = "none" })
      assert.are.equal(200, status, text)
      assert.are.equal(items[2].id, json.item.id)
      assert.are.equal(5000, json.item.video.durationInMillis)
    end)

    it("PATCH /galleries/{id} takes a fetched gallery back (read-only keys ignored)", function()
      local _, _, fetched = request(srv, "GET", "/pro-gallery/v2/galleries/" .. gid)
      local g = fetched.gallery
      g.name = "Renamed"
      g.sortOrder = 420
      g._id = g.id
      local status, text, json = request(srv, "PATCH", "/progallery/v2/galleries/" .. gid, { body = { gallery = g } })
      assert.are.equal(200, status, text)
      assert.are.equal("Renamed", json.gallery.name)
      assert.are.equal(420, json.gallery.sortOrder)
      assert.are.equal(3, json.gallery.totalItems)
    end)

    it("cached GETs see every write: through the API and by another process", function()
      local path = "/pro-gallery/v2/galleries/" .. gid
      for _ = 1, 8 do -- warm the cache of every worker
        local status, _, json = request(srv, "GET", path, { auth = "none" })
        assert.are.equal(200, status)
        assert.are.equal("Renamed", json.gallery.name)
      end
      local status = request(srv, "PATCH", path, { body = { gallery = { name = "Via API" } } })
      assert.are.equal(200, status)
      for _ = 1, 8 do
        local _, _, json = request(srv, "GET", path, { auth = "none" })
        assert.are.equal("Via API", json.gallery.name)
      end
      local out, st = sh("LUA_PATH='" .. ROOT .. "/lua/?.lua;;' LUA_CPATH='" .. ROOT .. "/build/?.so;;' lua5.4 -e "
        .. q("local s = assert(require('progallery').open{ path = " .. string.format("%q", srv.db)
          .. ", caller = 'admin' }); assert(s:updateGallery(" .. string.format("%q", gid)
          .. ", { name = 'Renamed' })); s:close()"))
      assert.are.equal(0, st, out)
      for _ = 1, 8 do
        local _, _, json = request(srv, "GET", path, { auth = "none" })
        assert.are.equal("Renamed", json.gallery.name)
      end
    end)

    it("POST /galleries/{id}/items (galleryId repeated in the body)", function()
      local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items", { body = {
        galleryId = gid, item = { title = "Vimeo", video = { type = "VIMEO", videoInfo = { url = "https://vimeo.com/322240916" } } } } })
      assert.are.equal(200, status, text)
      assert.are.equal("VIDEO", json.item.type)
      assert.are.same({ url = "https://vimeo.com/322240916" }, json.item.video.videoInfo)
      items[4] = json.item
    end)

    it("PATCH /galleries/{id}/items/{itemId} takes a fetched item back", function()
      local it = items[1]
      local body = { galleryId = gid, item = { id = it.id, _id = it.id, type = "IMAGE", title = "New title",
        createdDate = it.createdDate, updatedDate = it.updatedDate, sortOrder = it.sortOrder } }
      local status, text, json = request(srv, "PATCH", ("/progallery/v2/galleries/%s/items/%s"):format(gid, it.id), { body = body })
      assert.are.equal(200, status, text)
      assert.are.equal("New title", json.item.title)
      assert.are.same(it.image, json.item.image)
      assert.are_not.equal(it.updatedDate, json.item.updatedDate)
    end)

    it("ETag on GET and PATCH; If-Match: stale is 409 ABORTED (nothing changes), current or * is 200", function()
      local gpath = "/pro-gallery/v2/galleries/" .. gid
      local ipath = ("%s/items/%s"):format(gpath, items[2].id)
      for _, path in ipairs { gpath, ipath } do
        local status, text, json, headers = request(srv, "GET", path)
        assert.are.equal(200, status, text)
        local entity = json.gallery or json.item
        assert.truthy(entity.revision:match("^%d+$"), text)
        assert.are.equal('"' .. entity.revision .. '"', headers.etag)
        -- a cached answer (every worker warmed) carries it too
        for _ = 1, 8 do
          local _, _, _, h = request(srv, "GET", path, { auth = "none" })
          assert.are.equal(headers.etag, h.etag)
        end
        local body = json.gallery and { gallery = { name = "etag" } } or { item = { title = "etag" } }
        local stale = '"' .. (tonumber(entity.revision) + 5) .. '"' -- not current: from the future
        local st, t, j, h = request(srv, "PATCH", path, { body = body, headers = { "If-Match: " .. stale } })
        assert_error(st, j, 409, "ABORTED", t)
        assert.truthy(j.message:find("^If%-Match: "), t)
        assert.is_nil(h.etag)
        local _, _, again, h2 = request(srv, "GET", path)
        assert.are.same(json, again) -- nothing changed
        assert.are.equal(headers.etag, h2.etag)
        st, t, j, h = request(srv, "PATCH", path, { body = body, headers = { "If-Match: " .. headers.etag } })
        assert.are.equal(200, st, t)
        local updated = j.gallery or j.item
        assert.are.equal(tostring(tonumber(entity.revision) + 1), updated.revision)
        assert.are.equal('"' .. updated.revision .. '"', h.etag)
        st, t, j, h = request(srv, "PATCH", path, { body = body, headers = { "If-Match: *" } })
        assert.are.equal(200, st, t)
        -- the same revision in the body and If-Match: one precondition; disagreeing: 409
        local cur = (j.gallery or j.item).revision
        local both = json.gallery and { gallery = { name = "b", revision = cur } } or { item = { title = "b", revision = cur } }
        st, t = request(srv, "PATCH", path, { body = both, headers = { 'If-Match: "' .. cur .. '"' } })
        assert.are.equal(200, st, t)
        st, t, j = request(srv, "PATCH", path, { body = both, headers = { 'If-Match: "' .. (tonumber(cur) + 1) .. '"' } })
        assert_error(st, j, 409, "ABORTED", t)
        -- back as it was, for the tests after this one
        st, t = request(srv, "PATCH", path, { body = json.gallery and { gallery = { name = entity.name } }
                                                   or { item = { title = entity.title } } })
        assert.are.equal(200, st, t)
        -- a malformed If-Match is a 400 naming it
        for _, bad in ipairs { "abc", '"abc"', 'W/"1"', '"1", "2"', '"0"', '""' } do
          st, t, j = request(srv, "PATCH", path, { body = body, headers = { "If-Match: " .. bad } })
          assert_error(st, j, 400, "INVALID_ARGUMENT", t)
          assert.are.equal("If-Match", (violation(j)), t)
        end
      end
      -- DELETE with a stale If-Match is refused and the item stays; with the current one it goes
      local _, _, created = request(srv, "POST", gpath .. "/items", { body = { item = { title = "doomed" } } })
      local dpath = gpath .. "/items/" .. created.item.id
      local st, t, j = request(srv, "DELETE", dpath, { headers = { 'If-Match: "7"' } })
      assert_error(st, j, 409, "ABORTED", t)
      assert.are.equal(200, (request(srv, "GET", dpath)))
      st, t = request(srv, "DELETE", dpath, { headers = { 'If-Match: "1"' } })
      assert.are.equal(200, st, t)
      assert.are.equal(404, (request(srv, "GET", dpath)))
      local _, _, g2 = request(srv, "POST", "/pro-gallery/v2/galleries", { body = { gallery = { name = "doomed" } } })
      local g2path = "/pro-gallery/v2/galleries/" .. g2.gallery.id
      st, t, j = request(srv, "DELETE", g2path, { headers = { 'If-Match: "2"' } })
      assert_error(st, j, 409, "ABORTED", t)
      st, t = request(srv, "DELETE", g2path, { headers = { 'If-Match: "1"' } })
      assert.are.equal(200, st, t)
      assert.are.equal(404, (request(srv, "GET", g2path)))
    end)

    -- nginx checks these on the answer, after the call ran: a write must not come back as
    -- a 304 or an HTML 412 when it was made
    it("If-None-Match / If-Modified-Since / If-Unmodified-Since never hide a write's answer", function()
      local _, _, g = request(srv, "POST", "/pro-gallery/v2/galleries", { body = { gallery = { name = "cond" } } })
      local gp = "/pro-gallery/v2/galleries/" .. g.gallery.id
      local conds = { "If-None-Match: *", 'If-None-Match: "2"', 'If-None-Match: "3"',
                      "If-Modified-Since: Fri, 04 Dec 2099 20:37:27 GMT",
                      "If-Unmodified-Since: Fri, 04 Dec 2099 20:37:27 GMT",
                      "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT" }
      for i, c in ipairs(conds) do
        local st, t, j = request(srv, "PATCH", gp, { body = { gallery = { name = "cond " .. i } }, headers = { c } })
        assert.are.equal(200, st, c .. ": " .. tostring(t))
        assert.are.equal("cond " .. i, j.gallery.name, c)
        st, t, j = request(srv, "POST", gp .. "/items", { body = { item = { title = "i" .. i } }, headers = { c } })
        assert.are.equal(200, st, c .. ": " .. tostring(t))
        local ip = gp .. "/items/" .. j.item.id
        st, t = request(srv, "POST", "/pro-gallery/v2/galleries/query", { body = { query = {} }, headers = { c } })
        assert.are.equal(200, st, c .. ": " .. tostring(t))
        st, t = request(srv, "DELETE", ip, { headers = { c } })
        assert.are.equal(200, st, c .. ": " .. tostring(t))
        assert.are.equal(404, (request(srv, "GET", ip)))
      end
      -- a GET: If-Unmodified-Since is no 412 (no Last-Modified is sent); If-None-Match with
      -- the current tag is a 304 revalidation, with another tag the answer
      local st, t, j, h = request(srv, "GET", gp, { headers = { "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT" } })
      assert.are.equal(200, st, t)
      assert.are.equal("cond " .. #conds, j.gallery.name)
      st = request(srv, "GET", gp, { headers = { "If-None-Match: " .. h.etag } })
      assert.are.equal(304, st)
      st, t = request(srv, "GET", gp, { headers = { 'If-None-Match: "1"' } })
      assert.are.equal(200, st, t)
      -- the specs after this one share the server: leave it as found
      st, t = request(srv, "DELETE", gp, { headers = { "If-None-Match: *" } })
      assert.are.equal(200, st, t)
    end)

    it("POST /galleries clones, then POST .../items/delete bulk-deletes", function()
      local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { body = { cloneFromGalleryId = gid } })
      assert.are.equal(200, status, text)
      local clone = json.gallery
      assert.are_not.equal(gid, clone.id)
      assert.are.equal(4, clone.totalItems)
      assert.are.equal("Renamed", clone.name)
      local ids = { clone.items[1].id, clone.items[3].id, MISSING }
      status, text, json = request(srv, "POST", "/progallery/v2/galleries/" .. clone.id .. "/items/delete",
        { body = { galleryId = clone.id, itemIds = ids } })
      assert.are.equal(200, status, text)
      assert.are.same({ clone.items[1].id, clone.items[3].id }, json.itemIds)
      -- deprecated DELETE /items?itemsIds=... answers {gallery}
      status, text, json = request(srv, "DELETE", ("/progallery/v2/galleries/%s/items?galleryId=%s&itemsIds=%s&itemsIds=%s")
        :format(clone.id, clone.id, clone.items[2].id, clone.items[4].id))
      assert.are.equal(200, status, text)
      assert.are.equal(0, json.gallery.totalItems)
      assert.truthy(text:find('"items":[]', 1, true), text)
      status, text, json = request(srv, "DELETE", "/pro-gallery/v2/galleries/" .. clone.id)
      assert.are.equal(200, status, text)
      assert.are.same({ galleryId = clone.id }, json)
    end)

    it("DELETE /galleries/{id}/items/{itemId}, then it is 404", function()
      local path = ("/pro-gallery/v2/galleries/%s/items/%s"):format(gid, items[4].id)
      local status, text, json = request(srv, "DELETE", path .. "?galleryId=" .. gid .. "&itemId=" .. items[4].id)
      assert.are.equal(200, status, text)
      assert.are.same({ itemId = items[4].id }, json)
      status, text, json = request(srv, "GET", path)
      assert_error(status, json, 404, "NOT_FOUND", text)
      status, text, json = request(srv, "DELETE", path)
      assert_error(status, json, 404, "NOT_FOUND", text)
    end)

    it("DELETE /galleries/{id}, then reads are 404", function()
      local _, _, created = request(srv, "POST", "/pro-gallery/v2/galleries", { body = { gallery = { name = "tmp" } } })
      local id = created.gallery.id
      assert.truthy(request(srv, "GET", "/pro-gallery/v2/galleries/" .. id) == 200)
      local status, text, json = request(srv, "DELETE", "/progallery/v2/galleries/" .. id .. "?galleryId=" .. id)
      assert.are.equal(200, status, text)
      assert.are.same({ galleryId = id }, json)
      status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries/" .. id)
      assert_error(status, json, 404, "NOT_FOUND", text)
      status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries/" .. id .. "/items")
      assert_error(status, json, 404, "NOT_FOUND", text)
    end)

    it("auth: visitor writes are 403, a wrong key 401, reads open to all", function()
      local body = { gallery = { name = "x" } }
      local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { auth = "none", body = body })
      assert_error(status, json, 403, "PERMISSION_DENIED", text)
      status, text, json = request(srv, "POST", "/progallery/v2/galleries", { auth = "empty", body = body })
      assert_error(status, json, 403, "PERMISSION_DENIED", text)
      status, text, json = request(srv, "PATCH", "/pro-gallery/v2/galleries/" .. gid, { auth = "none", body = body })
      assert_error(status, json, 403, "PERMISSION_DENIED", text)
      status, text, json = request(srv, "DELETE", "/pro-gallery/v2/galleries/" .. gid, { auth = "none" })
      assert_error(status, json, 403, "PERMISSION_DENIED", text)
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { auth = srv.key .. "x", body = body })
      assert_error(status, json, 401, "UNAUTHENTICATED", text)
      status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries", { auth = "wrong" })
      assert_error(status, json, 401, "UNAUTHENTICATED", text)
      status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries", { auth = srv.key:sub(1, -2) })
      assert_error(status, json, 401, "UNAUTHENTICATED", text)
      -- nothing was written
      local _, _, list = request(srv, "GET", "/pro-gallery/v2/galleries", { auth = "none" })
      assert.are.equal(1, list.totalGalleries)
      assert.are.equal("Renamed", list.galleries[1].name)
    end)

    it("non-UUID path segments (also 'undefined') are 400 with a field violation", function()
      local cases = {
        { "GET", "/progallery/v2/galleries/undefined", "galleryId" },
        { "GET", "/pro-gallery/v2/galleries/not-a-uuid/items", "galleryId" },
        { "PATCH", "/progallery/v2/galleries/" .. gid .. "/items/undefined", "itemId" },
        { "DELETE", "/progallery/v2/galleries/" .. gid .. "/items/xyz", "itemId" },
        { "GET", "/progallery/v2/galleries/a/b", "galleryId" },
        { "GET", "/progallery/v2/galleries/", "galleryId" },
      }
      for _, c in ipairs(cases) do
        local status, text, json = request(srv, c[1], c[2], { body = c[1] == "PATCH" and { item = { title = "t" } } or nil })
        assert_error(status, json, 400, "INVALID_ARGUMENT", c[2] .. " " .. text)
        assert.are.equal(c[3], (violation(json)))
      end
      -- a path id repeated differently in the query or body is refused
      local status, text, json = request(srv, "GET", "/progallery/v2/galleries/" .. gid .. "?galleryId=" .. MISSING)
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      status, text, json = request(srv, "POST", "/progallery/v2/galleries/" .. gid .. "/items",
        { body = { galleryId = MISSING, item = { title = "t" } } })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("galleryId", (violation(json)))
    end)

    it("validation errors carry REST field names with 0-based indexes", function()
      local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
        { body = { item = { image = { imageInfo = { id = "a.jpg", width = 1, height = 1 }, quality = 5 } } } })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("item.image.quality", (violation(json)))
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { body = { gallery = { items = {
        { title = "fine" }, { image = { imageInfo = "ftp://nope" } } } } } })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("gallery.items[1].image.imageInfo", (violation(json)))
      assert.truthy(json.message:find("^gallery%.items%[1%]%.image%.imageInfo: "), json.message)
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { body = { gallery = { items = {
        { title = "fine" }, { title = "x" }, { image = { imageInfo = { id = "a.jpg" } } } } } } })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("gallery.items[2].image.imageInfo.width", (violation(json)))
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
        { body = '{"item":{"sortOrder":"NaN"}}' })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("item.sortOrder", (violation(json)))
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
        { body = { item = { title = "t", bogus = 1 } } })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("item.bogus", (violation(json)))
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
        { body = { item = { title = "t" }, extra = true } })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("extra", (violation(json)))
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
        { body = '{"item":{"title":"\255\254"}}' })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries?limit=11")
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("limit", (violation(json)))
      status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries/" .. gid .. "/items?itemLimit=abc")
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("itemLimit", (violation(json)))
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items/delete",
        { body = { itemIds = { items[1].id, "nope" } } })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("itemIds[1]", (violation(json)))
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items/delete",
        { body = { itemIds = {} } })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      -- RESOURCE_EXHAUSTED is a 400 too
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
        { body = { item = { title = string.rep("x", 2000) } } })
      assert_error(status, json, 400, "RESOURCE_EXHAUSTED", text)
      assert.are.equal("item.title", (violation(json)))
      status, text, json = request(srv, "PATCH", "/pro-gallery/v2/galleries/" .. gid, { body = {} })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("gallery", (violation(json)))
    end)

    it("malformed JSON and non-object bodies are 400", function()
      for _, body in ipairs { '{"gallery":', "[]", '"x"', "{'a':1}", '{"gallery":{"sortOrder":NaN}}',
                              string.rep("[", 200) } do
        local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { body = body })
        assert_error(status, json, 400, "INVALID_ARGUMENT", body .. " -> " .. text)
      end
      -- a key twice in one object: parsers differ on which one they keep, so it is refused
      local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries",
        { body = '{"gallery":{"name":"a","name":"b"}}' })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("body", (violation(json)))
      assert.are.equal('body: key "name" given twice in one object', json.message)
    end)

    it("hostile input: deep nesting, NUL and bad UTF-8, path tricks, SQL-looking text", function()
      -- 60,000 levels of nesting, just under the 64 KiB body limit
      local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries",
        { body = '{"gallery":' .. string.rep("[", 60000) })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
        { body = '{"item":{"title":"a\\u0000b"}}' })
      assert_error(status, json, 400, "INVALID_ARGUMENT", text)
      assert.are.equal("item.title", (violation(json)))
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
        { body = '{"item":{"title":"\255\254"}}' })
      assert.are.equal(400, status, text)
      -- a key that is not UTF-8, or holds a NUL, is named whole and escaped, in valid UTF-8
      local valid_utf8 = require("progallery.uri").validUTF8
      for _, c in ipairs {
        { "/pro-gallery/v2/galleries", '{"\255\254":1}', "\\xff\\xfe: unknown field" },
        { "/pro-gallery/v2/galleries", '{"a\\u0000b":1}', "a\\x00b: unknown field" },
        { "/pro-gallery/v2/galleries/" .. gid .. "/items", '{"item":{"ti\\u0000tle":"x"}}', "item.ti\\x00tle: unknown field" },
        { "/pro-gallery/v2/galleries/" .. gid .. "/items", '{"item":{"image":{"\255":{"imageInfo":5}}}}',
          "item.image.\\xff: unknown field" },
      } do
        status, text, json = request(srv, "POST", c[1], { body = c[2] })
        assert_error(status, json, 400, "INVALID_ARGUMENT", text)
        assert.is_true(valid_utf8(text), text)
        assert.is_truthy(json.message:find(c[3], 1, true), json.message)
      end
      -- a padded Authorization is trimmed: the admin key with spaces around it is the admin
      status, text = request(srv, "GET", "/pro-gallery/v2/galleries", { auth = "  \t" .. srv.key .. "   " })
      assert.are.equal(200, status, text)
      status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries",
        { auth = srv.key:sub(1, 4) .. string.rep(" ", 3000) .. srv.key:sub(5) })
      assert_error(status, json, 401, "UNAUTHENTICATED", text)
      -- path tricks: nginx normalises dot segments; whatever arrives is routed or refused, as JSON
      for _, path in ipairs { "/pro-gallery/v2/x/../galleries", "/pro-gallery/v2//galleries",
                              "/pro-gallery/v2/galleries/%2e%2e", "/pro-gallery/v2/galleries/" .. gid .. "%00",
                              "/pro-gallery/v2/galleries/" .. gid .. "/items/" .. gid,
                              "/pro-gallery/v2/galleries/" .. gid:upper() } do
        status, text, json = request(srv, "GET", path, { auth = "none" })
        assert.is_table(json, path .. " " .. text)
        assert.truthy(status == 200 or status == 400 or status == 404, path .. " " .. status)
        if status ~= 200 then assert.is_string(json.details.applicationError.code) end
      end
      status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries/" .. gid:upper(), { auth = "none" })
      assert.are.equal(200, status, text)
      assert.are.equal(gid, json.gallery.id)
      -- SQL-looking strings are data: stored and returned literally, nothing else happens
      local evil = "Robert'); DROP TABLE galleries; --"
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
        { body = { item = { title = evil, description = "1 OR 1=1; SELECT * FROM items" } } })
      assert.are.equal(200, status, text)
      local id = json.item.id
      status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries/" .. gid .. "/items/" .. id, { auth = "none" })
      assert.are.equal(200, status, text)
      assert.are.equal(evil, json.item.title)
      assert.are.equal("1 OR 1=1; SELECT * FROM items", json.item.description)
      status = request(srv, "DELETE", "/pro-gallery/v2/galleries/" .. gid .. "/items/" .. id)
      assert.are.equal(200, status)
      status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries", { auth = "none" })
      assert.are.equal(200, status, text)
      assert.is_true(json.totalGalleries >= 1)
    end)

    it("unknown routes are 404, wrong methods 405 with Allow", function()
      -- ("/" is the page of galleries: spec/site_spec.lua)
      for _, path in ipairs { "/pro-gallery/v2", "/pro-gallery/v2/", "/pro-gallery/v2/gallery",
                              "/pro-gallery/v3/galleries", "/pro-gallery/v2/galleries/" .. gid .. "/things",
                              "/progallery/v2/galleries/" .. gid .. "/items/" .. MISSING .. "/more" } do
        local status, text, json = request(srv, "GET", path)
        assert_error(status, json, 404, "NOT_FOUND", path .. " " .. text)
      end
      local cases = {
        { "PUT", "/pro-gallery/v2/galleries", "GET, POST" },
        { "DELETE", "/pro-gallery/v2/galleries", "GET, POST" },
        { "POST", "/progallery/v2/galleries/" .. gid, "GET, PATCH, DELETE" },
        { "PATCH", "/progallery/v2/galleries/" .. gid .. "/items", "GET, POST, DELETE" },
        { "GET", "/progallery/v2/galleries/" .. gid .. "/items/delete", "POST" },
        { "POST", "/progallery/v2/galleries/" .. gid .. "/items/" .. MISSING, "GET, PATCH, DELETE" },
      }
      for _, c in ipairs(cases) do
        local status, text, json, headers = request(srv, c[1], c[2])
        assert_error(status, json, 405, "METHOD_NOT_ALLOWED", c[1] .. " " .. c[2] .. " " .. text)
        assert.are.equal(c[3], headers["allow"])
      end
    end)

    it("bodies over maxBody are 413 (with a length and chunked)", function()
      local big = '{"gallery":{"name":"' .. string.rep("a", 70000) .. '"}}'
      local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { body = big })
      assert_error(status, json, 413, "PAYLOAD_TOO_LARGE", text)
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { body = big, chunked = true })
      assert_error(status, json, 413, "PAYLOAD_TOO_LARGE", text)
      -- just under the limit is read (and judged by the store)
      local fits = '{"gallery":{"name":"' .. string.rep("a", 60000) .. '"}}'
      status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { body = fits })
      assert_error(status, json, 400, "RESOURCE_EXHAUSTED", text)
      assert.are.equal("gallery.name", (violation(json)))
    end)

    it("a locked database is 503 UNAVAILABLE after busyTimeout, and nothing is written", function()
      -- another connection holds the write lock for 3 s (busyTimeout is 1 s here)
      local locker = "(echo 'BEGIN IMMEDIATE;'; sleep 3; echo 'ROLLBACK;') | sqlite3 " .. q(srv.db) .. " >/dev/null 2>&1 &"
      os.execute(locker)
      os.execute("sleep 0.5")
      local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
        { body = { item = { title = "while locked" } } })
      assert_error(status, json, 503, "UNAVAILABLE", text)
      -- reads go on (WAL)
      local st2 = request(srv, "GET", "/pro-gallery/v2/galleries/" .. gid)
      assert.are.equal(200, st2)
      os.execute("sleep 3")
      local _, _, list = request(srv, "GET", "/pro-gallery/v2/galleries/" .. gid .. "/items?itemLimit=100")
      for _, it in ipairs(list.items) do assert.are_not.equal("while locked", it.title) end
      status = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items", { body = { item = { title = "after" } } })
      assert.are.equal(200, status)
    end)

    it("no response ever carried Lua error text or a stack trace", function()
      assert.is_true(#seen_bodies > 50)
      for _, b in ipairs(seen_bodies) do
        assert.falsy(b:find("%.lua:%d+") or b:find("traceback", 1, true) or b:find("<html", 1, true), b)
      end
    end)
  end)

  it("keeps every acknowledged write under concurrent load, and no refused one (2,400 POSTs, 4 workers, concurrency 32)", function()
    local gids = {}
    for i = 1, 4 do
      local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { body = { gallery = { name = "load " .. i } } })
      assert.are.equal(200, status, text)
      gids[i] = json.gallery.id
    end
    local N = 2400
    local cfg = {}
    for n = 1, N do
      local g = gids[(n % 4) + 1]
      if n > 1 then cfg[#cfg + 1] = "next" end -- each block is its own transfer
      -- the query string only tags the request in the write-out; the handler ignores it
      cfg[#cfg + 1] = ('url = "%s/pro-gallery/v2/galleries/%s/items?w=%d"'):format(srv.base, g, n)
      cfg[#cfg + 1] = 'request = "POST"'
      cfg[#cfg + 1] = ('header = "Authorization: %s"'):format(srv.key)
      cfg[#cfg + 1] = 'header = "Content-Type: application/json"'
      cfg[#cfg + 1] = ('data = "{\\"item\\":{\\"title\\":\\"w-%d\\"}}"'):format(n)
      cfg[#cfg + 1] = 'output = "/dev/null"'
      cfg[#cfg + 1] = "silent" -- per block: options do not carry over a "next"
      cfg[#cfg + 1] = 'write-out = "%{http_code} %{url_effective}\\n"'
    end
    write_file(srv.dir .. "/load.cfg", table.concat(cfg, "\n") .. "\n")
    local t0 = os.time()
    local res = srv.dir .. "/load.out"
    local msg, st = sh("(curl -s --parallel --parallel-max 32 --config " .. q(srv.dir .. "/load.cfg") .. " >" .. q(res) .. " 2>" .. q(res .. ".err") .. ")")
    assert.are.equal(0, st, msg)
    local out = read_file(res)
    local acked, statuses, lines = {}, {}, 0
    local odd = {}
    for line in out:gmatch("[^\n]+") do
      local code, n = line:match("^(%d%d%d) %S-%?w=(%d+)$")
      if not code then odd[#odd + 1] = line end
      lines = lines + 1
      statuses[code or "?"] = (statuses[code or "?"] or 0) + 1
      if code == "200" then acked[tonumber(n)] = true end
    end
    assert.are.equal(N, lines, table.concat(odd, "\n"))
    assert.are.equal(0, #odd, table.concat(odd, "\n"))
    -- a write that waited longer than busyTimeout (1 s on this server) for SQLite's write lock
    -- is refused, 503 UNAVAILABLE, as documented: on a loaded machine one in a run happens
    -- (seen once in CI runs of this session). A refused write must then be absent (below);
    -- more than 1% refused is a regression, not load.
    local refused = statuses["503"] or 0
    assert.are.same({ ["200"] = N - refused, ["503"] = statuses["503"] }, statuses)
    assert.is_true(refused <= N / 100, refused .. " writes refused")
    io.stderr:write(("[http_spec] %d writes in ~%d s\n"):format(N, os.time() - t0))
    -- every acknowledged write is there, exactly once; counts are exact
    local found = {}
    for i, g in ipairs(gids) do
      local expect = 0
      for n in pairs(acked) do if (n % 4) + 1 == i then expect = expect + 1 end end
      local seen = 0
      local offset = 0
      while true do
        local status, text, json = request(srv, "GET", ("/pro-gallery/v2/galleries/%s/items?itemOffset=%d&itemLimit=100"):format(g, offset))
        assert.are.equal(200, status, text)
        for _, it in ipairs(json.items) do
          local n = tonumber(it.title:match("^w%-(%d+)$"))
          assert.is_number(n)
          assert.is_nil(found[n], "duplicate write " .. n)
          assert.are.equal(i, (n % 4) + 1)
          found[n] = true
          seen = seen + 1
        end
        if #json.items < 100 then break end
        offset = offset + 100
      end
      assert.are.equal(expect, seen)
      local _, _, gj = request(srv, "GET", "/pro-gallery/v2/galleries/" .. g .. "?itemLimit=1")
      assert.are.equal(expect, gj.gallery.totalItems)
    end
    for n in pairs(acked) do assert.is_true(found[n], "acknowledged write " .. n .. " missing") end
    local c = 0
    for n in pairs(found) do c = c + 1; assert.is_true(acked[n], "refused write " .. n .. " is in the store") end
    assert.are.equal(N - refused, c)
  end)

  it("the official Wix SDK (@wix/sdk 1.21.16, @wix/pro-gallery 1.0.117) drives every function", function()
    local _, has_node = sh("command -v node && command -v npm")
    assert(has_node == 0, "node and npm are required for the SDK test (apt-get install nodejs npm)")
    local dir = ROOT .. "/spec/sdk"
    local need = not read_file(dir .. "/node_modules/@wix/sdk/package.json")
      or not (read_file(dir .. "/node_modules/@wix/sdk/package.json") or ""):find('"version": "1.21.16"', 1, true)
      or not (read_file(dir .. "/node_modules/@wix/pro-gallery/package.json") or ""):find('"version": "1.0.117"', 1, true)
    if need then
      local out, st = sh("cd " .. q(dir) .. " && npm ci --no-audit --no-fund --loglevel=error")
      assert(st == 0, "npm could not install @wix/sdk and @wix/pro-gallery into spec/sdk/node_modules "
        .. "(is the npm registry reachable?):\n" .. out)
    end
    local out, st = sh(("cd %s && BASE_URL=%s ADMIN_KEY=%s node sdk_test.mjs"):format(q(dir), q(srv.base), q(srv.key)))
    assert.are.equal(0, st, out)
    local passed, failed = out:match("(%d+) passed, (%d+) failed")
    assert.are.equal("0", failed, out)
    assert.is_true(tonumber(passed) >= 20, out)
  end)

  it("logged no Lua errors in the workers", function()
    local log = read_file(srv.dir .. "/logs/error.log") or ""
    assert.falsy(log:find("lua entry thread aborted", 1, true), log)
    assert.falsy(log:find("progallery: request failed", 1, true), log)
    assert.falsy(log:find("[alert]", 1, true), log)
  end)
end)

describe("progallery.http without a thread pool #nginx", function()
  local srv
  setup(function()
    srv = start_server { PROGALLERY_THREAD_POOL = "off", PROGALLERY_WORKERS = "2",
                         PROGALLERY_PREFIX = "/site/api/gallery/" }
    assert(srv.started, "nginx did not start:\n" .. srv.start_output)
  end)
  teardown(function()
    stop_server(srv)
    if srv then remove_dir(srv.dir) end
  end)

  it("serves the same API with direct store calls", function()
    local status, text, json = request(srv, "POST", "/progallery/v2/galleries", { body = fixture_gallery() })
    assert.are.equal(200, status, text)
    local gid = json.gallery.id
    status, text, json = request(srv, "GET", "/site/api/gallery/galleries/" .. gid .. "/items", { auth = "none" })
    assert.are.equal(200, status, text)
    assert.are.equal(3, #json.items)
    status, text, json = request(srv, "DELETE", "/site/api/gallery/galleries/" .. gid, { auth = "none" })
    assert_error(status, json, 403, "PERMISSION_DENIED", text)
    -- ETag and If-Match without the pool too (a write's answer stays 200 with nginx's own check)
    local headers
    status, text, json, headers = request(srv, "GET", "/progallery/v2/galleries/" .. gid)
    assert.are.equal('"' .. json.gallery.revision .. '"', headers.etag)
    status, text, json = request(srv, "PATCH", "/progallery/v2/galleries/" .. gid,
      { body = { gallery = { name = "x" } }, headers = { 'If-Match: "' .. (tonumber(json.gallery.revision) + 1) .. '"' } })
    assert_error(status, json, 409, "ABORTED", text)
    status, text, json, headers = request(srv, "PATCH", "/progallery/v2/galleries/" .. gid,
      { body = { gallery = { name = "x" } }, headers = { "If-Match: " .. headers.etag } })
    assert.are.equal(200, status, text)
    assert.are.equal('"' .. json.gallery.revision .. '"', headers.etag)
    status, text, json = request(srv, "GET", "/progallery/v2/galleries/undefined")
    assert_error(status, json, 400, "INVALID_ARGUMENT", text)
    local log = read_file(srv.dir .. "/logs/error.log") or ""
    assert.falsy(log:find("lua entry thread aborted", 1, true), log)
  end)

  it("answers under a configured prefix (trailing slash ignored) and the SDK's, not the default", function()
    local status, text, json = request(srv, "GET", "/site/api/gallery/galleries", { auth = "none" })
    assert.are.equal(200, status, text)
    assert.is_number(json.totalGalleries)
    status = request(srv, "GET", "/progallery/v2/galleries", { auth = "none" })
    assert.are.equal(200, status)
    status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries", { auth = "none" })
    assert_error(status, json, 404, "NOT_FOUND", text)
  end)
end)

-- A bare nginx (no progallery.http) with one handler: what an OpenResty site's own code sees.
describe("progallery inside nginx's LuaJIT #nginx", function()
  local dir, port
  setup(function()
    dir, port = mktemp_dir(), free_port()
    sh("mkdir -p " .. q(dir .. "/conf") .. " " .. q(dir .. "/logs"))
    write_file(dir .. "/conf/nginx.conf", ([[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon on;
master_process off;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 16; }
http {
  access_log off;
  lua_package_path "%s/lua/?.lua;;";
  lua_package_cpath "%s/build-luajit/?.so;;";
  server {
    listen 127.0.0.1:%d;
    location / {
      content_by_lua_block {
        local pg = require "progallery"
        local s = assert(pg.open { path = "%s/null.db", caller = "admin" })
        local g = assert(s:createGallery { gallery = { name = "n", items = { { title = "t", description = "d" } } } })
        local ids = { galleryId = g._id, itemId = g.items[1]._id }
        local item = assert(s:updateGalleryItem(ids, { title = ngx.null }))
        local empty = assert(s:updateGallery(g._id, { name = ngx.null }))
        s:close()
        ngx.say("same=", tostring(pg.null == ngx.null), " title=", tostring(item.title),
                " description=", tostring(item.description), " name=", tostring(empty.name))
      }
    }
    location = /cache {
      content_by_lua_block {
        -- resty.lrucache through the default path (";;"), as progallery.http's cache uses it
        local cache = require "progallery.http.cache"
        local h = assert(require("progallery.http").new { db = "%s/null.db" })
        local c = assert(cache.new { maxEntries = 2, maxBytes = 100 })
        local store = { dataVersion = function() return 7 end }
        local filed = {}
        for _, uri in ipairs { "/a", "/b", "/c" } do
          local key, v = c:key(store, "visitor", uri)
          filed[#filed + 1] = tostring(c:set(store, key, uri .. "-body", v))
        end
        ngx.say("lrucache=", package.loaded["resty.lrucache"] and "loaded" or "missing",
                " handler_cache=", tostring(getmetatable(h.cache).__index == cache),
                " filed=", table.concat(filed, ","), " a=", tostring(c:get("visitor /a")),
                " c=", tostring(c:get("visitor /c")), " entries=", c.lru:count())
      }
    }
  }
}
]]):format(ROOT, ROOT, port, dir, dir))
    local nginx = sh("command -v nginx || echo /usr/sbin/nginx"):gsub("%s+$", "")
    local out, st = sh(("%s -p %s/ -c conf/nginx.conf -e logs/error.log"):format(nginx, q(dir)))
    assert(st == 0, out)
  end)
  teardown(function()
    local pid = read_file(dir .. "/logs/nginx.pid")
    if pid and pid:match("^%d+") then sh("kill -QUIT " .. pid:match("^%d+")) end
    sh("sleep 0.3")
    remove_dir(dir)
  end)

  it("ngx.null is progallery.null: it clears a field as the API says", function()
    local out
    for _ = 1, 50 do
      out = sh(("curl -s --max-time 5 http://127.0.0.1:%d/"):format(port))
      if out:find("same=", 1, true) then break end
      sh("sleep 0.1")
    end
    assert.are.equal("same=true title=nil description=d name=nil", (out:gsub("%s+$", "")),
      read_file(dir .. "/logs/error.log"))
  end)

  it("runs progallery.http's response cache on resty.lrucache, found through the default path", function()
    local out = sh(("curl -s --max-time 5 http://127.0.0.1:%d/cache"):format(port))
    assert.are.equal("lrucache=loaded handler_cache=true filed=true,true,true a=nil c=/c-body entries=2",
      (out:gsub("%s+$", "")), read_file(dir .. "/logs/error.log"))
  end)
end)

-- One worker with the default thread pool: requests in flight together on one worker,
-- hostile requests beside cheap ones, and the errors nginx answers itself. Driven through
-- spec/http_driver.lua (a second nginx) where order or timing matters.
describe("progallery.http on one worker #nginx", function()
  local srv, driver
  setup(function()
    srv = start_server { PROGALLERY_WORKERS = "1", PROGALLERY_THREADS = "4" }
    assert(srv.started, "nginx did not start:\n" .. srv.start_output)
    driver = start_driver()
  end)
  teardown(function()
    stop_driver(driver)
    stop_server(srv)
    if srv then remove_dir(srv.dir) end
  end)

  it("reads its writes: no GET sent after a PATCH was answered returns data from before it", function()
    -- a page of 100 items: slow enough to read that a PATCH commits while readers run
    local items = {}
    for i = 1, 100 do
      items[i] = { title = "Item " .. i, description = string.rep("words ", 30),
        tags = { values = { "voice", "bees", "wind" } },
        image = { imageInfo = { id = "38939f9568z222d6avc6285c9ac1e9129.jpg", height = 199, width = 200,
                                filename = "beach.jpg" },
                  focalPoint = { x = 0.9, y = 0.1 }, quality = 90,
                  exif = { Artist = "Bob Dylan", ExposureTime = "0.005", Make = "Canon" } } }
    end
    items[1].title = "round-0"
    local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries",
      { body = { gallery = { name = "read your writes", items = items } } })
    assert.are.equal(200, status, text)
    local g, iid = json.gallery, nil
    for _, it in ipairs(g.items) do if it.title == "round-0" then iid = it.id end end
    assert.is_string(iid)
    local rounds, readers = 40, 8
    local res = drive(driver, { op = "ryw", port = srv.port, key = srv.key,
      path = "/pro-gallery/v2/galleries/" .. g.id .. "?itemLimit=100",
      patch_path = "/pro-gallery/v2/galleries/" .. g.id .. "/items/" .. iid,
      patch_body = '{"item":{"title":"round-%d"}}', pattern = '"title":"round%-(%d+)"',
      rounds = rounds, readers = readers })
    assert.are.same({}, list(res.patch_failures))
    assert.are.equal(rounds, res.last_round)
    assert.is_true(res.gets >= rounds * readers * 3, "gets: " .. tostring(res.gets))
    io.stderr:write(("[http_spec] read your writes: %d GETs over %d rounds, %d stale\n")
      :format(res.gets, rounds, res.stale))
    assert.are.equal(0, res.stale, "stale GETs (first 50): " .. cjson.encode(list(res.violations)))
  end)

  it("sees Authorization however many headers come before it (150 here)", function()
    local pad = {}
    for i = 1, 150 do pad[i] = ("X-Pad-%03d: %d"):format(i, i) end
    local function with(auth)
      local h = {}
      for i, v in ipairs(pad) do h[i] = v end
      h[#h + 1] = "Authorization: " .. auth
      return h
    end
    local status, text, json = request(srv, "GET", "/pro-gallery/v2/galleries", { auth = "none", headers = with("wrong") })
    assert_error(status, json, 401, "UNAUTHENTICATED", text)
    status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries",
      { auth = "none", headers = with("wrong"), body = { gallery = { name = "after 150 headers" } } })
    assert_error(status, json, 401, "UNAUTHENTICATED", text)
    -- and the admin key there is the admin
    status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries",
      { auth = "none", headers = with(srv.key), body = { gallery = { name = "after 150 headers" } } })
    assert.are.equal(200, status, text)
    status, text = request(srv, "DELETE", "/pro-gallery/v2/galleries/" .. json.gallery.id)
    assert.are.equal(200, status, text)
  end)

  it("costs linear time in the request's size: hostile requests beside same-size benign ones", function()
    local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { body = { gallery = { name = "linear" } } })
    assert.are.equal(200, status, text)
    local items = "/pro-gallery/v2/galleries/" .. json.gallery.id .. "/items"
    local admin = { "Authorization: " .. srv.key, "Content-Type: application/json" }
    local N = 7000 -- under nginx's 8 KiB for one header line or the request line
    local function get(path, headers) return raw_request("GET", path, headers) end
    local function post(body) return raw_request("POST", items, admin, body) end
    -- JSON bodies up to the 64 KiB limit: many keys, deep nesting, long media URLs
    local function keys(n, value)
      local t = {}
      for i = 1, n do t[i] = ('"k%05d":%s'):format(i, value) end
      return "{" .. table.concat(t, ",") .. "}"
    end
    local function nested(depth, branches)
      local t = {}
      for i = 1, branches do
        t[i] = ('"b%04d":'):format(i) .. string.rep('{"a":', depth) .. "1" .. string.rep("}", depth)
      end
      return "{" .. table.concat(t, ",") .. "}"
    end
    local function flat(size) -- an object of about size bytes, of short string members
      return keys(math.floor(size / 24), '"' .. string.rep("x", 12) .. '"')
    end
    local function exif(obj) return '{"item":{"title":"t","image":{"imageInfo":"https://x.test/y.jpg","exif":' .. obj .. "}}}" end
    local function poster(url)
      return '{"item":{"video":{"type":"WIX_MEDIA","videoInfo":{"id":"v1","posters":[{"url":"' .. url
        .. '","width":1,"height":1}]}}}}'
    end
    local pairs_ = {
      { name = "Authorization of spaces", small = true,
        hostile = get("/pro-gallery/v2/galleries", { "Authorization: a" .. string.rep(" ", N) .. "b" }),
        benign = get("/pro-gallery/v2/galleries", { "Authorization: " .. string.rep("a", N + 2) }) },
      { name = "query number of digits", small = true,
        hostile = get("/pro-gallery/v2/galleries?limit=" .. string.rep("1", N) .. "x"),
        benign = get("/pro-gallery/v2/galleries?limit=x" .. string.rep("1", N)) },
      { name = "query of many args", small = true,
        hostile = get("/pro-gallery/v2/galleries?" .. string.rep("limit=1&", math.floor(N / 8))),
        benign = get("/pro-gallery/v2/galleries?limit=" .. string.rep("x", N)) }, -- a 400 too: never cached
      { name = "path of many segments", small = true,
        hostile = get("/pro-gallery/v2/galleries/" .. string.rep("a/", math.floor(N / 2))),
        benign = get("/pro-gallery/v2/galleries/" .. string.rep("a", N)) },
      { name = "path of many slashes", small = true,
        hostile = get("/pro-gallery/v2/galleries" .. string.rep("/", N) .. "x"),
        benign = get("/pro-gallery/v2/galleries/" .. string.rep("x", N)) },
      { name = "body of many unknown keys",
        hostile = post('{"item":' .. keys(5000, "1") .. "}"), benign = post(exif(keys(5000, "1"))) },
      { name = "body nested to cjson's limit",
        hostile = post(exif(nested(58, 140))), benign = post(exif(flat(140 * 358))) },
      { name = "body nested to the codec's limit",
        hostile = post(exif(nested(27, 290))), benign = post(exif(flat(290 * 173))) },
      { name = "poster URL ending in a slash",
        hostile = post(poster(string.rep("a", N) .. "/")), benign = post(poster("/" .. string.rep("a", N))) },
    }
    for _, p in ipairs(pairs_) do
      assert(#p.hostile < 65536 and #p.benign < 65536, p.name)
      -- same size, within a few percent
      assert(math.abs(#p.hostile - #p.benign) <= #p.benign * 0.1, p.name .. ": " .. #p.hostile .. " vs " .. #p.benign)
    end
    -- the cheap GET misses the cache (its own query each time): it needs a pool thread.
    -- A pair that misses its bound is measured again, up to twice: the machine is shared,
    -- and one stall in a median of five (15x once, in CI) is noise; a quadratic path
    -- misses by 100x and more on every try, so it still fails.
    local function measure(pairs_now)
      local res = drive(driver, { op = "latency", port = srv.port, cheap = get("/pro-gallery/v2/galleries?c={seq}"),
                                  pairs = pairs_now, samples = 21, reps = 5, inflight = 20 })
      local alone = res.alone
      io.stderr:write(("[http_spec] cheap GET alone %.2f ms\n"):format(alone * 1000))
      local report, bad, missed = {}, {}, {}
      for _, p in ipairs(pairs_now) do
        local c = res.cases[p.name]
        report[#report + 1] = ("  %-34s hostile %8.2f ms (%s) benign %7.2f ms (%s) | cheap GET beside 20 hostile %8.2f ms, beside 20 benign %7.2f ms")
          :format(p.name, c.hostile * 1000, c.hostile_status, c.benign * 1000, c.benign_status,
                  c.cheap_under_hostile * 1000, c.cheap_under_benign * 1000)
        local n = #bad
        -- Generous factors: linear handling stays near 1, a quadratic one is far above (on
        -- the code before the fix: 130 to 480 for one request, 450 for a cheap GET beside
        -- them). The cheap GET's own latency is the unit of slack for sub-millisecond noise.
        if c.hostile > 10 * c.benign + 10 * alone then
          bad[#bad + 1] = p.name .. ": hostile/benign = " .. c.hostile / c.benign
        end
        if c.cheap_under_hostile > 10 * c.cheap_under_benign + 10 * alone then
          bad[#bad + 1] = p.name .. ": cheap GET beside hostile/beside benign = " .. c.cheap_under_hostile / c.cheap_under_benign
        end
        -- small requests (a header or the URI, under 8 KiB): 20 of them ahead of the cheap
        -- GET cost it a few times its own latency, whatever they carry
        if p.small and c.cheap_under_hostile > 100 * alone then
          bad[#bad + 1] = p.name .. ": cheap GET beside hostile/alone = " .. c.cheap_under_hostile / alone
        end
        if #bad > n then missed[#missed + 1] = p end
      end
      io.stderr:write("[http_spec] latencies:\n" .. table.concat(report, "\n") .. "\n")
      return bad, missed
    end
    local bad, missed = measure(pairs_)
    for _ = 1, 2 do
      if #missed == 0 then break end
      bad, missed = measure(missed)
    end
    assert.are.same({}, bad)
  end)

  it("answers every error nginx itself makes with the JSON error body, status and type", function()
    local P = "/pro-gallery/v2/galleries"
    local function line(method, path, version, headers, body)
      local h = {}
      for i, v in ipairs(headers or { "Host: 127.0.0.1" }) do h[i] = v end
      h[#h + 1] = "Connection: close" -- the driver reads until the server closes
      return method .. " " .. path .. " " .. (version or "HTTP/1.1") .. "\r\n"
        .. table.concat(h, "\r\n") .. "\r\n\r\n" .. (body or "")
    end
    local many = { "Host: 127.0.0.1" }
    for i = 1, 40 do many[#many + 1] = ("X-Many-%02d: %s"):format(i, string.rep("m", 1000)) end
    local cases = {
      { "a URI longer than nginx's buffers", line("GET", P .. "?x=" .. string.rep("a", 9000)), 414, "RESOURCE_EXHAUSTED" },
      { "a header line longer than nginx's buffers",
        line("GET", P, nil, { "Host: 127.0.0.1", "X-Big: " .. string.rep("b", 9000) }), 400, "RESOURCE_EXHAUSTED" },
      { "headers larger than nginx's buffers together", line("GET", P, nil, many), 400, "RESOURCE_EXHAUSTED" },
      { "TRACE", line("TRACE", P), 405, "METHOD_NOT_ALLOWED" },
      { "an unknown method", line("FOO", P), 405, "METHOD_NOT_ALLOWED" },
      { "a lower-case method", line("get", P), 400, "INVALID_ARGUMENT" },
      { "an unknown Transfer-Encoding",
        line("POST", P, nil, { "Host: 127.0.0.1", "Transfer-Encoding: gzip" }, "x"), 501, "NOT_IMPLEMENTED" },
      { "HTTP/3.0", line("GET", P, "HTTP/3.0"), 505, "INVALID_ARGUMENT" },
      { "two Host headers", line("GET", P, nil, { "Host: a", "Host: b" }), 400, "INVALID_ARGUMENT" },
      { "two Authorization headers",
        line("GET", P, nil, { "Host: a", "Authorization: " .. srv.key, "Authorization: x" }), 400, "INVALID_ARGUMENT" },
      { "two Content-Length headers",
        line("POST", P, nil, { "Host: a", "Content-Length: 1", "Content-Length: 1" }, "x"), 400, "INVALID_ARGUMENT" },
      { "Content-Length and Transfer-Encoding",
        line("POST", P, nil, { "Host: a", "Content-Length: 5", "Transfer-Encoding: chunked" }, "0\r\n\r\n"), 400, "INVALID_ARGUMENT" },
      { "a bad chunk", line("POST", P, nil, { "Host: a", "Transfer-Encoding: chunked" }, "zz\r\n\r\n"), 400, "INVALID_ARGUMENT" },
      { "a bad Content-Length", line("POST", P, nil, { "Host: a", "Content-Length: abc" }), 400, "INVALID_ARGUMENT" },
      { "no Host in HTTP/1.1", line("GET", P, nil, {}), 400, "INVALID_ARGUMENT" },
      { "a NUL in the URI", line("GET", P .. "%00"), 400, "INVALID_ARGUMENT" },
      { "a header name with a space", line("GET", P, nil, { "Host: a", "Bad Header: x" }), 400, "INVALID_ARGUMENT" },
      { "a body over client_max_body_size",
        line("POST", P, nil, { "Host: a", "Authorization: " .. srv.key, "Content-Length: 70000" }, string.rep("x", 70000)),
        413, "PAYLOAD_TOO_LARGE" },
      { "a request for an error page itself", line("GET", "/.progallery-error/414"), 404, "NOT_FOUND" },
    }
    local requests = {}
    for i, c in ipairs(cases) do requests[i] = c[2] end
    local res = drive(driver, { op = "raw", port = srv.port, requests = requests, timeout = 10000 })
    for i, c in ipairs(cases) do
      local r = res.responses[i]
      local what = c[1] .. ": " .. cjson.encode(r):sub(1, 600)
      assert.are.equal(c[3], r.status, what)
      assert.truthy((r.headers["content-type"] or ""):find("^application/json"), what)
      local ok, json = pcall(cjson.decode, r.body or "")
      assert.is_true(ok and type(json) == "table", what)
      assert.is_string(json.message, what)
      assert.are.equal(c[4], json.details.applicationError.code, what)
      assert.is_string(json.details.applicationError.description, what)
      assert.falsy((r.body or ""):find("<html", 1, true), what)
    end
  end)
end)

describe("queries over HTTP (spec section 14) #nginx", function()
  local srv, gid
  setup(function()
    srv = start_server()
    assert(srv.started, "nginx did not start:\n" .. srv.start_output)
    local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries", { body = fixture_gallery() })
    assert.are.equal(200, status, text)
    gid = json.gallery.id
  end)
  teardown(function()
    stop_server(srv)
    if srv then remove_dir(srv.dir) end
  end)

  it("POST /galleries/{id}/items/query pages REST items with cursors, for a visitor too", function()
    local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items/query",
      { auth = "none", body = { query = { filter = { title = { ["$startsWith"] = "Item" } },
        sort = { { fieldName = "sortOrder", order = "DESC" } }, cursorPaging = { limit = 2 } } } })
    assert.are.equal(200, status, text)
    assert.are.equal(2, #json.items)
    assert.are.equal("Item 3", json.items[1].title)
    assert.truthy(json.items[1].id:match(UUID))
    assert.truthy(json.items[1].createdDate:match(DATE))
    assert.is_nil(json.items[1]._id)
    assert.are.equal(2, json.pagingMetadata.count)
    local next = json.pagingMetadata.cursors.next
    assert.is_string(next)
    status, text, json = request(srv, "POST", "/progallery/v2/galleries/" .. gid .. "/items/query",
      { auth = "none", body = { query = { cursorPaging = { cursor = next } } } })
    assert.are.equal(200, status, text)
    assert.are.equal(1, #json.items)
    assert.are.equal("Item 1", json.items[1].title)
    assert.is_table(json.items[1].image.imageInfo) -- the REST media object
    assert.is_nil(json.pagingMetadata.cursors.next)
  end)

  it("POST /galleries/query finds a gallery by name, without its items", function()
    local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/query",
      { auth = "none", body = { query = { filter = { name = "My New Gallery" } } } })
    assert.are.equal(200, status, text)
    assert.are.equal(1, #json.galleries)
    assert.are.equal(gid, json.galleries[1].id)
    assert.are.equal(3, json.galleries[1].totalItems)
    assert.is_nil(json.galleries[1].items)
    status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/query", { body = "" })
    assert.are.equal(200, status, text)
    assert.are.equal(1, #json.galleries)
  end)

  it("answers a query's errors as 400 with the field", function()
    local status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items/query",
      { body = { query = { filter = { ["$or"] = { { title = "a" }, { foo = 1 } } } } } })
    assert_error(status, json, 400, "INVALID_ARGUMENT", text)
    assert.are.equal("query.filter.$or[1].foo", (violation(json)))
    status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/query",
      { body = { query = { cursorPaging = { cursor = "forged" } } } })
    assert_error(status, json, 400, "INVALID_ARGUMENT", text)
    assert.are.equal("query.cursorPaging.cursor", (violation(json)))
    status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/query", { body = { filter = {} } })
    assert_error(status, json, 400, "INVALID_ARGUMENT", text)
    status, text, json = request(srv, "POST", "/pro-gallery/v2/galleries/" .. MISSING .. "/items/query",
      { body = { query = {} } })
    assert_error(status, json, 404, "NOT_FOUND", text)
    local headers
    status, text, json, headers = request(srv, "GET", "/pro-gallery/v2/galleries/query")
    assert.are.equal(405, status, text)
    assert.are.equal("POST", headers["allow"])
    status, text = request(srv, "GET", "/pro-gallery/v2/galleries/" .. gid .. "/items/query")
    assert.are.equal(405, status, text)
  end)

  it("is never answered from the response cache: a query sees the write before it", function()
    local path = "/pro-gallery/v2/galleries/" .. gid .. "/items/query"
    local body = { query = { filter = { title = "Item 4" } } }
    local _, _, json = request(srv, "POST", path, { auth = "none", body = body })
    assert.are.equal(0, #json.items)
    local status, text = request(srv, "POST", "/pro-gallery/v2/galleries/" .. gid .. "/items",
      { body = { item = { title = "Item 4", text = { html = "<p>4</p>" } } } })
    assert.are.equal(200, status, text)
    _, text, json = request(srv, "POST", path, { auth = "none", body = body })
    assert.are.equal(1, #json.items, text)
  end)
end)
