-- Shared fixtures and utilities for the progallery specs (Lua 5.4 and LuaJIT).
local progallery = require "progallery"
local assert = require "luassert"

local S = {}

-- The engine the specs run on: PROGALLERY_TEST_ENGINE=postgres with PROGALLERY_TEST_DSN
-- (scripts/pg_test_server.sh run ... sets both) runs the stores of the specs on
-- PostgreSQL: each SQLite path the specs open maps to a PostgreSQL schema of its own
-- (":memory:" a fresh one each time, a file path the same one each time it is opened),
-- so that the engine-independent specs run unchanged on both engines.
S.engine = os.getenv("PROGALLERY_TEST_ENGINE") or "sqlite"
S.dsn = os.getenv("PROGALLERY_TEST_DSN")
S.postgres = S.engine == "postgres"
if S.postgres and not rawget(_G, "PROGALLERY_OPEN_WRAPPED") then
  assert(S.dsn and S.dsn ~= "", "PROGALLERY_TEST_ENGINE=postgres needs PROGALLERY_TEST_DSN")
  local raw_open = progallery.open
  local fresh, by_path = 0, {}
  local run = ("%x%x"):format(os.time() % 0xfffff, math.random(0, 0xfffff))
  local function schema_for(path)
    if path == ":memory:" then
      fresh = fresh + 1
      return ("m%s_%d"):format(run, fresh)
    end
    if not by_path[path] then
      local h = 5381
      for i = 1, #path do h = (h * 33 + path:byte(i)) % 4294967296 end
      by_path[path] = ("f%s_%x"):format(run, h)
    end
    return by_path[path]
  end
  function S.dsn_for(path)
    return S.dsn .. " options='-csearch_path=" .. schema_for(path) .. "'"
  end
  S.raw_open = raw_open
  progallery.open = function(opts, ...)
    -- only a valid SQLite path is mapped: bad ones reach open() as they are
    local function mappable(p) return type(p) == "string" and p ~= "" and not p:find("\0", 1, true) end
    if mappable(opts) and not opts:match("^postgres") then
      return raw_open({ dsn = S.dsn_for(opts) }, ...)
    elseif type(opts) == "table" and getmetatable(opts) == nil and rawget(opts, "dsn") == nil
        and (rawget(opts, "path") == nil or mappable(rawget(opts, "path"))) then
      local o = {}
      for k, v in pairs(opts) do o[k] = v end
      o.dsn = S.dsn_for(o.path or os.getenv("PROGALLERY_DB") or "progallery.db")
      o.path = nil
      return raw_open(o, ...)
    end
    return raw_open(opts, ...)
  end
  rawset(_G, "PROGALLERY_OPEN_WRAPPED", true)
end

S.progallery = progallery
S.null = progallery.null
S.unpack = table.unpack or unpack
S.is_luajit = type(jit) == "table"
S.lua_bin = S.is_luajit and "luajit" or "lua5.4"

S.UUID_PATTERN = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-[47]%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
S.DATE_PATTERN = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"

-- The schema version each engine writes, read from its source (SCHEMA_VERSION), so that
-- the specs that upgrade a store check against the one place it is set.
local function schema_version(file)
  local f = assert(io.open(file, "rb"))
  local text = f:read("*a")
  f:close()
  return tonumber((assert(text:match("\n#define SCHEMA_VERSION (%d+)"), file .. ": no SCHEMA_VERSION")))
end
S.SQLITE_SCHEMA = schema_version("src/storage_sqlite.c")
S.POSTGRES_SCHEMA = schema_version("src/storage_postgres.c")

-- well-formed ids that the store never made
S.MISSING_ID = "00000000-0000-4000-8000-000000000000"
S.MISSING_ID2 = "0190f5c2-1111-7abc-8def-0123456789ab"

S.IMG = "wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/38939f9568z222d6avc6285c9ac1e9129.jpg#originWidth=200&originHeight=199"
S.IMG2 = "wix:image://v1/25139f9568b74d8aac6286c9ac1e8186.jpg/25139f9568b74d8aac6286c9ac1e8186.jpg#originWidth=4000&originHeight=2667"
S.VID = "wix:video://v1/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c/BigBuckBunny.mp4#posterUri=8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg&posterWidth=1280&posterHeight=720"
S.HTML = "\n      <div class=\"te-pro-gallery-text-item\">\n<p style=\"text-align:center\"><span style=\"font-size:11px\">Hi!</span></p>\n      </div>"

function S.is_uuid(s)
  return type(s) == "string" and s:match(S.UUID_PATTERN) ~= nil and s == s:lower()
end

function S.is_date(s)
  return type(s) == "string" and s:match(S.DATE_PATTERN) ~= nil
end

-- epoch milliseconds of an ISO date "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC)
function S.date_ms(s)
  local y, mo, d, h, mi, se, ms = s:match("^(%d+)%-(%d+)%-(%d+)T(%d+):(%d+):(%d+)%.(%d+)Z$")
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from civil (Howard Hinnant), integer arithmetic via math.floor
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(se) * 1000 + tonumber(ms)
end

function S.now_ms()
  return os.time() * 1000
end

-- a fresh private admin store
function S.admin()
  local store, err, code = progallery.open { path = ":memory:", caller = "admin" }
  assert(store, "cannot open an in-memory store: " .. tostring(err) .. " " .. tostring(code))
  return store
end

-- temp file path (the file itself is removed so the store creates it)
local tmp_paths = {}
function S.tmppath(suffix)
  local p = os.tmpname()
  os.remove(p)
  p = p .. (suffix or ".db")
  tmp_paths[#tmp_paths + 1] = p
  return p
end

function S.rmdb(p)
  os.remove(p)
  os.remove(p .. "-wal")
  os.remove(p .. "-shm")
  os.remove(p .. "-journal")
end

function S.cleanup()
  for i = #tmp_paths, 1, -1 do
    S.rmdb(tmp_paths[i])
    tmp_paths[i] = nil
  end
end

function S.tmpdir()
  local f = io.popen("mktemp -d")
  local d = f:read("*l")
  f:close()
  return d
end

function S.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- run a shell command, return its stdout (trimmed) and success flag
function S.sh(cmd)
  local f = io.popen(cmd .. " 2>&1")
  local out = f:read("*a")
  local ok = f:close()
  return (out:gsub("%s+$", "")), ok
end

-- SQL behind the store's back: on the store's own database, whichever the engine
function S.sqlite(path, sql)
  if S.postgres then
    return S.sh("psql -qAt -v ON_ERROR_STOP=1 " .. S.shell_quote(S.dsn_for(path)) .. " -c " .. S.shell_quote(sql))
  end
  return S.sh("sqlite3 " .. S.shell_quote(path) .. " " .. S.shell_quote(sql))
end

function S.cwd()
  return (S.sh("pwd"))
end

-- package paths with ./ made absolute, for subprocesses
function S.abs_paths()
  local cwd = S.cwd()
  local function fix(p)
    return (p:gsub("%./", cwd .. "/"))
  end
  return fix(package.path), fix(package.cpath)
end

-- pcall that asserts "no error raised"; returns the packed results
local function pack(...)
  return { n = select("#", ...), ... }
end
S.pack = pack

function S.call(fn, ...)
  local r = pack(pcall(fn, ...))
  if not r[1] then
    error("call raised: " .. tostring(r[2]), 2)
  end
  return { n = r.n - 1, S.unpack(r, 2, r.n) }
end

local function esc(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end
S.esc = esc

-- asserts r is nil, code is exactly `code`, and (when path is given) the
-- message starts with exactly that path (not a longer one).
function S.assert_err(code, path, r, msg, got)
  assert.is_nil(r, "expected a failure, got a result")
  assert.equal("string", type(msg), "message must be a string")
  assert.equal(code, got, "code; message was: " .. tostring(msg))
  if path then
    assert.matches("^" .. esc(path) .. "[^%w_%.%[]", msg .. " ", nil, false,
      "message should start with path '" .. path .. "'")
  end
end

-- calls fn(...) under pcall, asserts it did not raise and failed with code/path
function S.expect_err(code, path, fn, ...)
  local res = S.call(fn, ...)
  S.assert_err(code, path, res[1], res[2], res[3])
  return res[2]
end

-- calls fn(...) under pcall, asserts it did not raise and succeeded
function S.expect_ok(fn, ...)
  local res = S.call(fn, ...)
  assert(res[1] ~= nil, "expected success, got: " .. tostring(res[2]) .. " (" .. tostring(res[3]) .. ")")
  return res[1]
end

-- like assert(x, err) but reports code too; for store calls
function S.ok(r, msg, code)
  if r == nil then
    error("expected success, got: " .. tostring(msg) .. " (" .. tostring(code) .. ")", 2)
  end
  return r
end

function S.deepcopy(t, seen)
  if type(t) ~= "table" then return t end
  seen = seen or {}
  if seen[t] then return seen[t] end
  local c = {}
  seen[t] = c
  for k, v in pairs(t) do c[S.deepcopy(k, seen)] = S.deepcopy(v, seen) end
  return c
end

-- sample items (fresh tables every call) -------------------------------------

function S.image_item()
  return {
    title = "Item 1",
    description = "This is the first item in my gallery.",
    tags = { values = { "voice", "bees", "wind" } },
    link = { text = "Click here for more info.", url = "https://www.wix.com/about/us" },
    image = {
      exif = { Artist = "Bob Dylan", Copyright = "Bob Dylan MGT CO", ExposureTime = "0.005" },
      focalPoint = { x = 0.900576923076923, y = 0.0972887222382463 },
      imageInfo = S.IMG,
      quality = 100,
      unsharpMasking = { amount = 2.41, radius = 28.6, threshold = 0.4745098 },
    },
  }
end

function S.video_item()
  return {
    title = "Item 2",
    description = "This is the second item in my gallery.",
    video = { type = "WIX_MEDIA", videoInfo = S.VID, durationInMillis = 5000 },
  }
end

function S.text_item()
  return {
    title = "Item 3",
    description = "This is the third item in my gallery.",
    text = {
      css = { backgroundColor = "rgba(205, 14, 205, 0.3)", height = 420, ratio = -50 },
      html = S.HTML,
    },
  }
end

function S.simple_item(title, sortOrder)
  return { title = title, sortOrder = sortOrder, image = { imageInfo = S.IMG2 } }
end

-- the Velo createGallery example (reference 12.1), syntax normalised; keeps
-- the example's read-only `type`, legacy `video.duration`
function S.velo_gallery()
  local a, b, c = S.image_item(), S.video_item(), S.text_item()
  a.type = "IMAGE"
  b.type = "VIDEO"
  b.video = { type = "WIX_MEDIA", videoInfo = S.VID, duration = 5000 }
  c.type = "TEXT"
  return { name = "My New Gallery", items = { a, b, c } }
end

-- make a gallery with n simple items; returns gallery, items (in order)
-- every item of a gallery, in order, read page by page (listGalleryItems' 100-item pages)
function S.all_items(store, gid)
  local all, offset = {}, 0
  repeat
    local page = S.ok(store:listGalleryItems(gid, { itemOffset = offset, itemLimit = 100 }))
    for _, it in ipairs(page.items) do all[#all + 1] = it end
    offset = offset + #page.items
  until #page.items == 0
  return all
end

function S.gallery_with(store, n, name)
  local g = S.ok(store:createGallery { gallery = { name = name or "G" } })
  local items = {}
  if n > 0 then
    local list = {}
    for i = 1, n do list[i] = S.simple_item("t" .. i) end
    local r = S.ok(store:createGalleryItems(g._id, list))
    items = r.items
  end
  return g, items
end

function S.ids(list)
  local out = {}
  for i, x in ipairs(list) do out[i] = x._id end
  return out
end

-- an identity's view on a store
function S.view(store, who)
  local v, err, code = store:as(who)
  assert(v, "store:as failed: " .. tostring(err) .. " " .. tostring(code))
  return v
end

-- a well-formed UUID v4 from the Lua RNG (for ids the store never made)
function S.random_uuid()
  local function hex(n)
    local t = {}
    for i = 1, n do t[i] = ("%x"):format(math.random(0, 15)) end
    return table.concat(t)
  end
  local k = math.random(1, 4)
  return hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-" .. ("89ab"):sub(k, k) .. hex(3) .. "-" .. hex(12)
end

-- hostile argument values: none may make a function raise
function S.hostile_values()
  local cyc = {}
  cyc.self = cyc
  local arr_cyc = {}
  arr_cyc[1] = arr_cyc
  local deep = {}
  local cur = deep
  for _ = 1, 100000 do
    local nxt = {}
    cur.a = nxt
    cur = nxt
  end
  local deep_arr = {}
  cur = deep_arr
  for _ = 1, 100000 do
    local nxt = {}
    cur[1] = nxt
    cur = nxt
  end
  local function boom() error("boom from metamethod", 0) end
  return {
    { "nil", nil },
    { "number", 42 },
    { "float", 1.5 },
    { "nan", 0 / 0 },
    { "inf", math.huge },
    { "true", true },
    { "false", false },
    { "function", function() end },
    { "coroutine", coroutine.create(function() end) },
    { "userdata io.stdout", io.stdout },
    { "empty string", "" },
    { "string", "hello" },
    { "string with NUL", "a\0b" },
    { "bad utf8", "\255\254" },
    { "cyclic table", cyc },
    { "cyclic array", arr_cyc },
    { "deeply nested table", deep },
    { "deeply nested array", deep_arr },
    -- raw contents are invalid everywhere (unknown key), so the call must fail
    -- whether or not the implementation honours metamethods
    { "table with raising __index", setmetatable({ bogus = 1 }, { __index = boom }) },
    { "table with raising __pairs", setmetatable({ bogus = 1 }, { __pairs = boom }) },
    { "table with raising __len", setmetatable({ bogus = 1 }, { __len = boom, __index = boom }) },
    { "table with raising __newindex/__index/__pairs", setmetatable({ bogus = 1 }, { __newindex = boom, __index = boom, __pairs = boom }) },
    { "table with raising __eq/__tostring", setmetatable({ bogus = 1 }, { __eq = boom, __tostring = boom, __concat = boom }) },
    { "array of functions", { function() end } },
    { "null", progallery.null },
  }
end

-- ---- the nginx specs' shared parts (spec/webhooks_spec.lua, spec/sites_spec.lua) -------
-- processes, files, temporary server dirs, loopback ports, and the official SDK's webhook
-- receiver (spec/sdk/receiver.mjs)

-- cmd -> its output (stdout and stderr), its exit status
function S.run(cmd)
  local f = assert(io.popen(cmd .. " 2>&1; echo \"__exit=$?\""))
  local out = f:read("*a")
  f:close()
  local status = tonumber(out:match("__exit=(%d+)%s*$"))
  return (out:gsub("__exit=%d+%s*$", "")), status
end

function S.read_file(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function S.write_file(p, s)
  local f = assert(io.open(p, "wb"))
  f:write(s)
  f:close()
end

function S.now() return tonumber((S.run("date +%s.%N"))) end
function S.sleep(seconds) S.run("sleep " .. seconds) end

-- waits (bounded) until pred() is true; returns its last value
function S.eventually(seconds, pred)
  local deadline = S.now() + seconds
  local v = pred()
  while not v and S.now() < deadline do
    S.sleep(0.2)
    v = pred()
  end
  return v
end

-- a temporary dir for a server, world-traversable (a root master's workers run as nobody)
function S.server_dir()
  local dir = (S.run("mktemp -d /tmp/progallery-http.XXXXXX")):gsub("%s+$", "")
  S.run("chmod 755 " .. S.shell_quote(dir))
  return dir
end

function S.remove_server_dir(dir)
  if dir and dir:match("^/tmp/progallery%-http%.") then S.run("rm -rf " .. S.shell_quote(dir)) end
end

-- a loopback port nothing listens on, below Linux's ephemeral range (32768..), where
-- outgoing connections take their local ports; never the same one twice in a run
local used_ports = {}
function S.free_port()
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  for _ = 1, 50 do
    local port = math.random(20000, 32000)
    local _, st = S.run("curl -s -o /dev/null --max-time 1 http://127.0.0.1:" .. port .. "/")
    if st == 7 and not used_ports[port] then
      used_ports[port] = true
      return port
    end
  end
  error("no free loopback port found")
end

-- @wix/sdk and @wix/pro-gallery in spec/sdk/node_modules (npm ci when missing)
function S.ensure_sdk()
  local dir = S.cwd() .. "/spec/sdk"
  if not S.read_file(dir .. "/node_modules/@wix/sdk/package.json")
      or not S.read_file(dir .. "/node_modules/@wix/pro-gallery/package.json") then
    local out, st = S.run("cd " .. S.shell_quote(dir) .. " && npm ci --no-audit --no-fund --loglevel=error")
    assert(st == 0, "npm could not install @wix/sdk and @wix/pro-gallery: " .. out)
  end
end

-- a fresh RSA key pair in dir: private key path, public key path
function S.rsa_keys(dir)
  local key, pub = dir .. "/key.pem", dir .. "/pub.pem"
  local out, st = S.run(("openssl genrsa -out %s 2048 && openssl rsa -in %s -pubout -out %s")
    :format(S.shell_quote(key), S.shell_quote(key), S.shell_quote(pub)))
  assert(st == 0, out)
  return key, pub
end

-- the SDK's receiver on a port (default: a free one), verifying with the public key pub;
-- mode: "ok" (default), "fail", "hang", "close", "slow" (spec/sdk/receiver.mjs)
function S.start_receiver(dir, name, pub, port, mode)
  port = port or S.free_port()
  local q = S.shell_quote
  local r = { out = dir .. "/" .. name .. ".jsonl", log = dir .. "/" .. name .. ".log",
              pidfile = dir .. "/" .. name .. ".pid", port = port,
              url = "http://127.0.0.1:" .. port .. "/hook" }
  S.run(("cd %s && PORT=%d PUBLIC_KEY=%s OUT=%s MODE=%s nohup node spec/sdk/receiver.mjs >%s 2>&1 & echo $! >%s")
    :format(q(S.cwd()), port, q(pub), q(r.out), mode or "ok", q(r.log), q(r.pidfile)))
  assert(S.eventually(10, function() return (S.read_file(r.log) or ""):find("listening", 1, true) end),
    "receiver did not start: " .. (S.read_file(r.log) or ""))
  return r
end

function S.stop_receiver(r)
  local pid = r and S.read_file(r.pidfile)
  if pid and pid:match("%d+") then S.run("kill -TERM " .. pid:match("%d+")) end
  S.sleep(0.3) -- its port free again, for a receiver started on it next
end

-- what a receiver got: { handler, envelope } (or { error }) per event, in arrival order
function S.received(r)
  local cjson = require "cjson"
  local list = {}
  for line in (S.read_file(r.out) or ""):gmatch("[^\n]+") do list[#list + 1] = cjson.decode(line) end
  return list
end

return S
