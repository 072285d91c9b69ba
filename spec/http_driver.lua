-- A load and raw-request driver for spec/http_spec.lua, run inside a second, private nginx
-- (one process, LuaJIT): cosockets and ngx.thread give exact ordering between requests
-- that are in flight at once, which curl from the shell cannot. Not a spec file itself.
--
--   POST /run  body: JSON { op = "raw" | "ryw" | "latency", port = <target port>, ... }
--   -> JSON result (see each op below); a driver failure is a 500 with { error = ... }.
--
-- Every connection goes to 127.0.0.1:<port> only, and every loop is bounded by its
-- arguments (rounds, samples, in-flight counts) and by socket timeouts.
local ffi = require "ffi"
local cjson = require "cjson.safe"

local spawn, wait = ngx.thread.spawn, ngx.thread.wait
local concat = table.concat

local _M = {}

pcall(ffi.cdef, "struct pg_driver_timespec { long tv_sec; long tv_nsec; };"
  .. "int clock_gettime(int clk_id, struct pg_driver_timespec *tp);")
local ts = ffi.new("struct pg_driver_timespec")
local CLOCK_MONOTONIC = 1

-- seconds, monotonic, sub-microsecond resolution (ngx.now() only has milliseconds)
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- "HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody" -> { status, headers (lower-case names), body, raw }
local function parse_response(raw)
  local res = { raw = raw, headers = {} }
  local head_end = raw:find("\r\n\r\n", 1, true)
  if not raw:find("^HTTP/%d%.%d %d%d%d") or not head_end then
    res.body = raw -- HTTP/0.9: the body alone, or nothing at all
    return res
  end
  local head = raw:sub(1, head_end - 1)
  res.status = tonumber(head:match("^HTTP/%d%.%d (%d%d%d)"))
  for line in head:gmatch("\r\n([^\r\n]*)") do
    local k, v = line:match("^([^:]+):%s*(.-)%s*$")
    if k then res.headers[k:lower()] = v end
  end
  local body = raw:sub(head_end + 4)
  if (res.headers["transfer-encoding"] or ""):lower() == "chunked" then
    local out, pos = {}, 1
    while true do
      local size_hex, after = body:match("^(%x+)[^\r\n]*\r\n()", pos)
      if not size_hex then break end
      local size = tonumber(size_hex, 16)
      if size == 0 then break end
      out[#out + 1] = body:sub(after, after + size - 1)
      pos = after + size + 2
    end
    body = concat(out)
  end
  res.body = body
  return res
end

-- One connection: send raw bytes, read until the server closes. Returns the parsed
-- response (with .time = seconds from the first byte sent to the close) or nil, error.
local function exchange(port, raw, timeout_ms)
  local sock = ngx.socket.tcp()
  sock:settimeout(timeout_ms or 30000)
  local ok, err = sock:connect("127.0.0.1", port)
  if not ok then return nil, "connect: " .. tostring(err) end
  local t0 = now()
  local sent
  sent, err = sock:send(raw)
  if not sent then sock:close(); return nil, "send: " .. tostring(err) end
  local data, rerr, partial = sock:receive("*a")
  local t1 = now()
  sock:close()
  if not data then
    if rerr ~= "closed" then
      local res = parse_response(partial or "")
      res.error, res.time = rerr, t1 - t0
      return res
    end
    data = partial or ""
  end
  local res = parse_response(data)
  res.time = t1 - t0
  return res
end
_M.exchange = exchange

-- A well-formed HTTP/1.1 request that closes its connection.
local function build(method, path, headers, body)
  local lines = { method .. " " .. path .. " HTTP/1.1", "Host: 127.0.0.1" }
  for _, h in ipairs(headers or {}) do lines[#lines + 1] = h end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  lines[#lines + 1] = "Connection: close"
  return concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")
end

local function median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

local ops = {}

-- { requests = { raw, ... }, timeout = ms } -> { responses = { { status, headers, body, error? } } }
-- Sent one after the other, each on its own connection.
function ops.raw(a)
  local out = {}
  for i, raw in ipairs(a.requests) do
    local res, err = exchange(a.port, raw, a.timeout or 10000)
    if not res then res = { error = err } end
    res.raw = nil
    out[i] = res
  end
  return { responses = out }
end

-- Read your writes on one worker. Per round r: `readers` slow GETs start at staggered
-- times, each of its own URL (`path` plus "ryw=<r>-<i>" in the query, which the handler
-- ignores, so that each misses the cache and reads in a thread); meanwhile a PATCH of
-- `patch_path` with `patch_body` (its "%d" becomes r) is sent, and once it is answered,
-- checker GETs go over the same URLs, one after the other, until every reader is done and
-- `tail` passes more are made. Every GET records the newest round acknowledged when it
-- was sent and must see (`pattern` captures the round in the body) that round or a later
-- one.
-- -> { rounds, gets, stale (count), violations = { { round, want, got, status, who } } (the
--    first 50), patch_failures, last_round }
function ops.ryw(a)
  local port, key = a.port, a.key
  local rounds, readers, tail = a.rounds or 20, a.readers or 8, a.tail or 2
  local stagger = a.stagger or 0.002 -- s between reader starts
  local write_after = a.write_after or 0.004 -- s after the round starts
  local pattern = a.pattern or '"name":"round%-(%d+)"'
  local max_checks = a.max_checks or 400 -- checker GETs per round, at most
  local sep = a.path:find("?", 1, true) and "&" or "?"
  local acked = a.start_round or 0
  local gets, stale, violations, patch_failures = 0, 0, {}, {}

  local function get(url, round, who)
    local want = acked
    local res, err = exchange(port, build("GET", url))
    gets = gets + 1
    local got = res and res.status == 200 and tonumber((res.body or ""):match(pattern))
    if not got or got < want then
      stale = stale + 1
      if #violations < 50 then
        violations[#violations + 1] = { round = round, want = want, got = got or cjson.null,
          status = res and res.status or cjson.null, error = err or (res and res.error) or cjson.null,
          who = who, url = url }
      end
    end
  end

  for r = acked + 1, acked + rounds do
    local urls = {}
    for i = 1, readers do urls[i] = a.path .. sep .. "ryw=" .. r .. "-" .. i end
    local pending = readers
    local threads = {}
    for i = 1, readers do
      threads[#threads + 1] = spawn(function()
        if i > 1 then ngx.sleep((i - 1) * stagger) end
        get(urls[i], r, "reader")
        pending = pending - 1
      end)
    end
    threads[#threads + 1] = spawn(function()
      ngx.sleep(write_after)
      local res, err = exchange(port, build("PATCH", a.patch_path,
        { "Authorization: " .. key, "Content-Type: application/json" },
        (a.patch_body:gsub("%%d", tostring(r)))))
      if not res or res.status ~= 200 then
        patch_failures[#patch_failures + 1] = { round = r, status = res and res.status or cjson.null,
          error = err or cjson.null, body = res and res.body or cjson.null }
        return
      end
      acked = r -- from here on, every GET sent must see round r
      local passes, checks = 0, 0
      while passes < tail and checks < max_checks do
        local done_before = pending == 0
        for i = 1, readers do
          get(urls[i], r, "checker")
          checks = checks + 1
        end
        if done_before then passes = passes + 1 end
      end
    end)
    for _, t in ipairs(threads) do wait(t) end
  end
  return { rounds = rounds, gets = gets, stale = stale, violations = violations,
           patch_failures = patch_failures, last_round = acked }
end

-- Latency of a cheap request beside hostile ones, as ratios (the caller compares).
--   cheap = raw request, "{seq}" in it replaced by a new number each time (so that it can
--   miss a cache); pairs = { { name, hostile = raw, benign = raw }, ... };
--   samples (cheap alone), reps (each single request), inflight (hostile or benign at once)
-- -> { alone = s, cases = { name = { hostile = s, benign = s,
--                                    cheap_under_hostile = s, cheap_under_benign = s,
--                                    hostile_status, benign_status } } }
function ops.latency(a)
  local port = a.port
  local samples, reps, inflight = a.samples or 21, a.reps or 3, a.inflight or 20
  local seq = 0
  local function time_of(raw)
    if raw == a.cheap then
      seq = seq + 1
      raw = raw:gsub("{seq}", tostring(seq))
    end
    local res, err = exchange(port, raw)
    if not res then error("request failed: " .. tostring(err), 0) end
    return res.time, res.status
  end
  for _ = 1, 3 do time_of(a.cheap) end -- warm up
  local alone = {}
  for i = 1, samples do alone[i] = time_of(a.cheap) end

  -- the cheap request's latency while `inflight` copies of raw are being answered
  local function cheap_beside(raw)
    local times = {}
    for i = 1, reps do
      local threads = {}
      for j = 1, inflight do threads[j] = spawn(exchange, port, raw) end
      ngx.sleep(0.001) -- let every copy reach the server first
      times[i] = time_of(a.cheap)
      for _, t in ipairs(threads) do wait(t) end
    end
    return median(times)
  end

  local cases = {}
  for _, p in ipairs(a.pairs) do
    local h, b = {}, {}
    local hs, bs
    for i = 1, reps do
      b[i], bs = time_of(p.benign)
      h[i], hs = time_of(p.hostile)
    end
    cases[p.name] = {
      hostile = median(h), benign = median(b), hostile_status = hs, benign_status = bs,
      cheap_under_benign = cheap_beside(p.benign), cheap_under_hostile = cheap_beside(p.hostile),
    }
  end
  return { alone = median(alone), cases = cases }
end

function _M.run()
  ngx.req.read_body()
  local args = cjson.decode(ngx.req.get_body_data() or "")
  local ok, res = pcall(function()
    assert(type(args) == "table" and ops[args.op], "unknown op")
    assert(type(args.port) == "number", "port required")
    return ops[args.op](args)
  end)
  ngx.header["Content-Type"] = "application/json"
  if not ok then
    ngx.status = 500
    ngx.say(cjson.encode({ error = tostring(res) }))
    return
  end
  ngx.say(cjson.encode(res))
end

return _M
