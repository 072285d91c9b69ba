-- Lua API fuzzer: random sequences of the 13 API calls with random, mostly
-- malformed arguments, against an in-memory Lua model of what the store must hold.
-- lua5.4 fuzz_api.lua SEED CALLS [SECONDS]        (LuaJIT works too)
-- Each call is built from a valid argument plus zero, one or two injected faults
-- (wrong types, out-of-range numbers, NaN, inf, huge or deep tables, cycles,
-- invalid UTF-8, NUL bytes, functions, coroutines, userdata, tables with mixed
-- or odd keys, unknown keys, oversize strings and batches), some wrapped in
-- metatables whose every metamethod raises (tables are read raw: the result
-- must be as without the metatable), and some run in GC storms (weak argument
-- tables, finalizers clearing them during the call, a collector stepping on
-- almost every allocation). Checked after every call:
--   * it never raises (pcall) and never crashes the process;
--   * it returns a result, or nil, a message string and one of the known codes;
--   * the code is the one the injected fault implies (a valid call must
--     succeed, or be NOT_FOUND when it names something the model lacks;
--     PERMISSION_DENIED through a visitor view, FAILED_PRECONDITION when closed,
--     ABORTED for a stale revision given to an update or a delete);
--   * after a successful write, the whole store (listed through the API) equals
--     the model: galleries, order, names, sort orders, counts, every item field,
--     ids and dates (created dates fixed, updated dates strictly increasing on
--     every change), revisions (from 1, one more per change; a gallery's with its
--     items' changes too); results of reads equal the model's pages.
-- Deterministic for a seed (up to the clock-dependent default sort orders).
local R = dofile((os.getenv("PG_ROOT") or ".") .. "/reliability/lib.lua")
local pg = R.pg()
local seed, max_calls, max_secs = tonumber(arg[1] or 1), tonumber(arg[2] or 2000), tonumber(arg[3] or 1e9)
math.randomseed(seed)
local null = pg.null
local unpack = table.unpack or unpack
local rnd = math.random
local function chance(p) return rnd() < p end
local function pick(t) return t[rnd(#t)] end

local store = assert(pg.open { path = os.getenv("FUZZ_DB") or ":memory:", caller = "admin" })
local visitor = store:as("visitor")

local KNOWN_CODES = { INVALID_ARGUMENT = true, PERMISSION_DENIED = true, NOT_FOUND = true,
  RESOURCE_EXHAUSTED = true, FAILED_PRECONDITION = true, ABORTED = true, UNAVAILABLE = true, INTERNAL = true }
local INV, RES, NF = "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "NOT_FOUND"

local stats = { calls = 0, ok = 0, errors = 0, failures = 0, checks = 0, byCode = {} }
local function fail(fmt, ...)
  stats.failures = stats.failures + 1
  io.stderr:write(("fuzz-api (seed %d, call %d): FAIL "):format(seed, stats.calls) .. fmt:format(...) .. "\n")
  if stats.failures >= 10 then
    print(("fuzz-api: seed %d: stopped after 10 failures"):format(seed))
    os.exit(1)
  end
end

-- ---- values -----------------------------------------------------------------

local function raiser() error("metamethod called", 0) end
local RAISING_MT = {}
for _, k in ipairs { "__index", "__newindex", "__pairs", "__ipairs", "__len", "__eq", "__lt", "__le",
  "__concat", "__call", "__tostring", "__unm", "__add", "__close" } do RAISING_MT[k] = raiser end
-- Tables that get the raising metatable for the duration of the next call
-- (the harness itself builds and reads them without it).
local HOSTILE = {}
EXPECT_IN_MESSAGE = nil -- text a fault's failure message must contain (checked by invoke)
-- (a table with a metatable of its own, a locked one say, keeps it)
local function hostile(t)
  if type(t) == "table" and getmetatable(t) == nil and chance(0.5) then HOSTILE[#HOSTILE + 1] = t end
  return t
end

local MB = { "é", "€", "😀", "ß", "中" }
local function ustr(maxlen)
  local n = rnd(0, maxlen)
  if n > 40 and chance(0.7) then return ("a"):rep(n) end
  local t = {}
  for i = 1, n do t[i] = chance(0.1) and pick(MB) or string.char(rnd(32, 126)) end
  local s = table.concat(t)
  if #s > maxlen then s = s:sub(1, maxlen):gsub("[\128-\255]+$", "") end
  return s
end
local BAD_UTF8 = { "\255", "a\192\175", "\237\160\128", "\244\144\128\128", "ab\0cd", "\0", "\226\130", "x\128" }
local function bad_string() return pick(BAD_UTF8) end
local co = coroutine.create(function() end)
local function deep(n) local t = {}; local c = t; for _ = 1, n do c.a = {}; c = c.a end return t end
local function cyclic() local t = { a = 1 }; t.self = t; return t end
local function wide_cycle() local t = {}; for i = 1, 20 do t[i] = t end return t end
local WRONG = {
  function() return 42 end, function() return 1.5 end, function() return true end,
  function() return {} end, function() return { 1, 2 } end, function() return print end,
  function() return co end, function() return io.stdout end, function() return 0 / 0 end,
  function() return math.huge end, function() return deep(60) end, function() return cyclic() end,
  function() return { [1] = "a", x = "b" } end, function() return { [1.5] = 1 } end,
  function() return { [true] = 1 } end, function() return { [math.huge] = 1 } end,
  function() return { [-1] = 1 } end, function() return { [1] = 1, [3] = 3 } end,
  function() return setmetatable({}, { __index = raiser, __pairs = raiser, __metatable = "locked" }) end,
  function() return wide_cycle() end,
}
local function wrong() return pick(WRONG)() end
-- Something that is not a string (for string fields).
local function not_string()
  local v = wrong()
  return v
end
local function not_number()
  local v = pick { "1", true, {}, print, co, io.stdout, { 1 } }
  return v
end

local WIX_IMG = "wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/a.jpg#originWidth=200&originHeight=199"
local WIX_VID = "wix:video://v1/8b7eef_9c5e/Bunny.mp4#posterUri=8b7eef_f002.jpg&posterWidth=1280&posterHeight=720"
local function url(kind)
  if chance(0.5) then return kind == "image" and WIX_IMG or WIX_VID end
  return (chance(0.5) and "https://" or "http://") .. "example.com/" .. ustr(20):gsub("[%s\128-\255]", "x")
end
local function finite()
  return pick { 0, 1, -1, 0.5, -2.25, 1e15, -1e300, 2 ^ 53, 12345, rnd(-1000, 1000), rnd() * 100 }
end

-- exif / css: nested tables of string keys with string/number/boolean/array values.
local function free_table(depth)
  local t = {}
  for _ = 1, rnd(0, 4) do
    local k = ustr(8)
    local r = rnd(6)
    if r == 1 and depth < 4 then t[k] = free_table(depth + 1)
    elseif r == 2 and depth < 4 then
      local a = {}
      for i = 1, rnd(1, 3) do a[i] = pick { "s", 1, true, 2.5 } end
      t[k] = a
    elseif r == 3 then t[k] = rnd(-100, 100)
    elseif r == 4 then t[k] = chance(0.5)
    else t[k] = ustr(10) end
  end
  return t
end
local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in next, v do c[k] = copy(x) end
  return c
end

-- ---- valid inputs and their normal form ---------------------------------------

-- Returns input, normalised doc fields (nil when absent) for a media member.
local function gen_media(kind, mode)
  if kind == "image" then
    local v = { imageInfo = url("image") }
    local n = { imageInfo = v.imageInfo }
    if chance(0.3) then
      local fp = {}
      if chance(0.7) then fp.x = rnd() end
      if chance(0.7) then fp.y = pick { 0, 1, rnd() } end
      v.focalPoint = fp
      n.focalPoint = { x = fp.x or 0, y = fp.y or 0 }
    end
    if chance(0.3) then v.exif = free_table(1); n.exif = copy(v.exif) end
    if chance(0.3) then v.quality = rnd(30, 100); n.quality = v.quality end
    if chance(0.2) then
      local u = {}
      if chance(0.7) then u.amount = rnd() * 5 end
      if chance(0.7) then u.radius = rnd(0, 10) end
      if chance(0.7) then u.threshold = rnd() end
      if chance(0.2) then u.amount = null end
      v.unsharpMasking = u
      n.unsharpMasking = { amount = u.amount ~= null and u.amount or nil, radius = u.radius, threshold = u.threshold }
    end
    if chance(0.1) then v.type = "image" end -- legacy, ignored
    return v, n
  elseif kind == "video" then
    local v = { videoInfo = url("video") }
    local n = { videoInfo = v.videoInfo }
    if chance(0.4) then v.type = pick { "UNDEFINED", "WIX_MEDIA", "YOUTUBE", "VIMEO" }; n.type = v.type end
    if chance(0.3) then v.durationInMillis = rnd(0, 10 ^ 6); n.durationInMillis = v.durationInMillis end
    if chance(0.3) then
      local d = rnd(0, 99999)
      v.duration = chance(0.5) and tostring(d) or d
      if not n.durationInMillis then n.durationInMillis = d end
    end
    return v, n
  else
    local v = { html = ustr(60) }
    local n = { html = v.html }
    if chance(0.3) then v.css = free_table(1); n.css = copy(v.css) end
    if chance(0.3) then v.editorHtml = ustr(30); n.editorHtml = v.editorHtml end
    if chance(0.3) then v.editorFontId = ustr(10); n.editorFontId = v.editorFontId end
    return v, n
  end
end

local CLEARABLE = { "title", "description", "link", "tags", "image", "video", "text" }
-- mode "create" | "update". Returns input, patch: for create the doc; for
-- update field -> value or null (clear). sort: number or nil.
local function gen_item(mode)
  local v, n = {}, {}
  if chance(0.6) then v.title = ustr(chance(0.05) and 1024 or 30); n.title = v.title end
  if chance(0.3) then v.description = ustr(chance(0.05) and 16384 or 80); n.description = v.description end
  if chance(0.3) then
    local l, ln = {}, {}
    if chance(0.6) then l.text = ustr(20); ln.text = l.text end
    if chance(0.6) then l.url = url("image"); ln.url = l.url end
    if chance(0.4) then l.target = pick { "_blank", "_self" }; ln.target = l.target end
    if chance(0.1) then l.text = null; ln.text = nil end
    v.link = l
    n.link = next(ln) and ln or (mode == "update" and null or nil)
  end
  if chance(0.3) then
    local tv = {}
    for i = 1, rnd(0, chance(0.05) and 100 or 4) do tv[i] = ustr(10) .. "t" end
    v.tags = chance(0.1) and {} or { values = tv }
    n.tags = { values = v.tags.values and copy(tv) or {} }
  end
  if chance(0.6) then
    local kind = pick { "image", "video", "text" }
    local m, mn = gen_media(kind, mode)
    v[kind] = m; n[kind] = mn
  end
  local sort
  if chance(0.3) then v.sortOrder = finite(); sort = v.sortOrder end
  if chance(0.1) then v._id = wrong(); v.type = "IMAGE"; v._createdDate = 1; v._updatedDate = print end
  if mode == "update" and chance(0.3) then
    local k = pick(CLEARABLE)
    if not (v[k] ~= nil and (k == "image" or k == "video" or k == "text")) then
      v[k] = null; n[k] = null
    end
  elseif mode == "create" and chance(0.1) then
    v.title = null; n.title = nil
  end
  return v, n, sort
end

-- ---- faults --------------------------------------------------------------------

-- Each returns the expected code after damaging the item input v.
local ITEM_FAULTS = {
  function(v) v.title = not_string(); return INV end,
  function(v) v.title = ("x"):rep(1025); return RES end,
  function(v) v.title = bad_string(); return INV end,
  function(v) v.description = ("d"):rep(16385); return RES end,
  function(v) v[pick { "titel", "Title", "image2", "", "x\0y" }] = pick { 1, null, "x" }; return INV end,
  function(v) -- an unknown key that is not text: the message names it whole, escaped
    local k = pick { "\255\254", "a\0b", "tab\tkey", "back\\slash", "\226\130", "caf\195\169\1", "\0" }
    v[k] = 1
    EXPECT_IN_MESSAGE = R.escaped(k) .. ": unknown field"
    return INV
  end,
  function(v) v.image = { imageInfo = WIX_IMG }; v.text = { html = "h" }; v.video = nil; return INV end,
  function(v) v.image = { quality = 50 }; v.video, v.text = nil, nil; return INV end,
  function(v) v.image = { imageInfo = pick { "ftp://x/y", "wix:image://v1//x", "https://a b", "wix:video://v1/x", "" } }; v.video, v.text = nil, nil; return INV end,
  function(v) v.image = { imageInfo = "https://" .. ("a"):rep(4100) }; v.video, v.text = nil, nil; return RES end,
  function(v) v.image = { imageInfo = WIX_IMG, quality = pick { 29, 101, 50.5, 0 / 0, math.huge, "90" } }; v.video, v.text = nil, nil; return INV end,
  function(v) v.image = { imageInfo = WIX_IMG, focalPoint = pick { { x = 1.5 }, { y = -0.1 }, { x = "0.5" }, { z = 0 }, "c", { 0.5, 0.5 } } }; v.video, v.text = nil, nil; return INV end,
  function(v) v.image = { imageInfo = WIX_IMG, unsharpMasking = pick { { amount = 6 }, { radius = -1 }, { threshold = 2 }, { sigma = 1 } } }; v.video, v.text = nil, nil; return INV end,
  function(v) v.link = pick { { target = "_top" }, { href = "x" }, "http://x", { 1, 2 }, { url = 5 } }; return INV end,
  function(v) v.link = { text = ("t"):rep(1025) }; return RES end,
  function(v) local t = {}; for i = 1, 101 do t[i] = "t" .. i end; v.tags = { values = t }; return RES end,
  function(v) v.tags = pick { { values = { "" } }, { values = "x" }, { value = { "a" } }, { values = { 1 } }, { values = { "a", nil, "c" } }, "tag" }; return INV end,
  function(v) v.tags = { values = { ("t"):rep(257) } }; return RES end,
  function(v) v.image = { imageInfo = WIX_IMG, exif = pick { deep(6), { f = print }, { n = 0 / 0 }, { z = null }, cyclic(), { [1] = 1, a = 2 }, { 1, 2 }, { s = bad_string() } } }; v.video, v.text = nil, nil; return INV end,
  function(v) v.image = { imageInfo = WIX_IMG, exif = { big = ("e"):rep(70000) } }; v.video, v.text = nil, nil; return RES end,
  function(v) local e = {}; for i = 1, 9000 do e["k" .. i] = "vvvv" end; v.image = { imageInfo = WIX_IMG, exif = e }; v.video, v.text = nil, nil; return RES end,
  function(v) v.sortOrder = pick { 0 / 0, math.huge, -math.huge, "1", true, {} }; return INV end,
  function(v) v.video = { videoInfo = WIX_VID, durationInMillis = pick { -1, 1.5, 0 / 0 } }; v.image, v.text = nil, nil; return INV end,
  function(v) v.video = { videoInfo = WIX_VID, type = pick { "X", "youtube", 1 } }; v.image, v.text = nil, nil; return INV end,
  function(v) v.video = { videoInfo = WIX_VID, duration = pick { "12a", "", "1234567890123456", -5, 1.5 } }; v.image, v.text = nil, nil; return INV end,
  function(v) v.text = pick { { css = {} }, { html = 5 }, { html = "h", font = 1 } }; v.image, v.video = nil, nil; return INV end,
  function(v) v.text = { html = ("h"):rep(1024 * 1024 + 1) }; v.image, v.video = nil, nil; return RES end,
  function(v) v.title = deep(100); return INV end,
  function(v) v.link = v; return INV end,
  function(v) v[1] = "mixed"; return INV end,
  function(v) v[true] = 1; return INV end,
  function(v) v[math.huge] = 1; return INV end,
  function(v) v[2 ^ 60] = 1; return INV end,
  function(v) for i = 1, 20000 do v["junk" .. i] = i end; return INV end,
}
local function fault_item(v, nfaults)
  local codes = {}
  for _ = 1, nfaults do codes[pick(ITEM_FAULTS)(v)] = true end
  if nfaults > 1 then EXPECT_IN_MESSAGE = nil end -- the other fault may be reported first
  return codes
end
-- A whole item argument that is not an item table.
local function not_item() return pick { 1, "item", print, co, io.stdout, { 1, 2 }, { { title = "a" } }, true, 0 / 0 } end

local function rand_uuid()
  return ("%08x-%04x-%04x-%04x-%012x"):format(rnd(0, 0x7fffffff), rnd(0, 0xffff), 0x4000 + rnd(0, 0xfff), 0x8000 + rnd(0, 0x3fff), rnd(0, 2 ^ 40))
end
local BAD_IDS = { "", "abc", "00000000-0000-4000-8000-00000000000", "00000000-0000-4000-8000-0000000000000",
  "0000000g-0000-4000-8000-000000000000", "00000000_0000-4000-8000-000000000000", 5, true, {}, print,
  "00000000-0000-4000-8000-00000000000\0", "\255\255" }
local function bad_id() return pick(BAD_IDS) end

-- ---- model ----------------------------------------------------------------------

local M = { order = {}, g = {}, seq = 0 } -- gallery: {id, name, sort, created, updated, items = {...}}
local function item_lookup(id)
  for _, gid in ipairs(M.order) do
    for idx, it in ipairs(M.g[gid].items) do if it._id == id then return M.g[gid], it, idx end end
  end
end
local function sort_items(g)
  table.sort(g.items, function(a, b) if a.sortOrder ~= b.sortOrder then return a.sortOrder < b.sortOrder end return a.seq < b.seq end)
end
local function max_sort(list)
  local m
  for _, x in ipairs(list) do if m == nil or x.sortOrder > m then m = x.sortOrder end end
  return m
end
local function some_gallery() return #M.order > 0 and M.g[pick(M.order)] or nil end
local function some_item()
  local g = some_gallery()
  if g and #g.items > 0 then return g, pick(g.items) end
end

local function deq(a, b, path)
  if type(a) == "number" and type(b) == "number" then
    if a == b then return nil end
    return path .. ": " .. tostring(a) .. " ~= " .. tostring(b)
  end
  if type(a) ~= type(b) then return path .. ": " .. type(a) .. " ~= " .. type(b) end
  if type(a) ~= "table" then
    if a == b then return nil end
    return path .. ": " .. tostring(a):sub(1, 60) .. " ~= " .. tostring(b):sub(1, 60)
  end
  for k, x in next, a do
    local e = deq(x, rawget(b, k), path .. "." .. tostring(k))
    if e then return e end
  end
  for k in next, b do if rawget(a, k) == nil then return path .. "." .. tostring(k) .. ": unexpected" end end
  return nil
end

local ITEM_KEYS = { "_id", "type", "sortOrder", "title", "description", "link", "tags", "image", "video", "text",
  "_createdDate", "_updatedDate", "revision" }
local function item_view(it) local t = {}; for _, k in ipairs(ITEM_KEYS) do t[k] = it[k] end return t end
local function doc_type(it)
  return it.image and "IMAGE" or it.video and "VIDEO" or it.text and "TEXT" or "UNDEFINED"
end

-- Bounds of the clock (epoch ms) around a call: default sort orders lie inside.
local function clock() return os.time() * 1000 end
local T0, T1
-- A default sort order given by the store: checks the rule, returns it.
local function check_default_sort(got, prev_max, what)
  if type(got) ~= "number" then fail("%s: sortOrder %s", what, tostring(got)) return 0 end
  local floor_ = prev_max and prev_max + 1.0 -- in doubles, as the store computes it
  -- (time() is a coarse clock: it may lag the store's clock by a few ms)
  local ok = (floor_ and got == floor_ and floor_ >= T0 - 50) or (got >= T0 - 50 and got <= T1 + 1050 and (not floor_ or got >= floor_))
  if not ok then fail("%s: default sortOrder %s, previous max %s, clock %d..%d", what, tostring(got), tostring(prev_max), T0, T1 + 999) end
  return got
end

-- Turns a validated create input into a model item (ids, dates from the store's item).
local function new_item(n, got, sort, prev_max, what)
  M.seq = M.seq + 1
  local it = { seq = M.seq }
  for k, x in pairs(n) do it[k] = copy(x) end
  it._id = got._id
  it.type = doc_type(it)
  it.sortOrder = sort or check_default_sort(got.sortOrder, prev_max, what)
  it._createdDate, it._updatedDate = got._createdDate, got._updatedDate
  it.revision = "1"
  if it._createdDate ~= it._updatedDate then fail("%s: a new item has _createdDate ~= _updatedDate", what) end
  if type(it._id) ~= "string" or not it._id:match("^%x+%-%x+%-7%x+%-[89ab]%x+%-%x+$") or it._id ~= it._id:lower() then
    fail("%s: bad new id %s", what, tostring(it._id))
  end
  return it
end

local function touch(g, newdate, what)
  if not (newdate and newdate > g._updatedDate) then
    fail("%s: gallery _updatedDate %s did not move past %s", what, tostring(newdate), g._updatedDate)
  end
  g._updatedDate = newdate
  g.revision = g.revision + 1
end

local function next_revision(r) return tostring(tonumber(r) + 1) end

-- Sometimes gives a write (its entity or its options table t) a revision: the current one
-- (the call goes through), one that is not current (ABORTED, unless something else fails
-- first: a bad argument or a missing id), or a malformed one (INVALID_ARGUMENT, which the
-- arguments' other faults may beat). Returns the expected codes.
local function with_revision(t, current, expect)
  if type(t) ~= "table" or not chance(0.3) then return expect end
  local r = rnd(4)
  if r <= 2 then
    t.revision = current or "1" -- a missing entity: NOT_FOUND stays expected
  elseif r == 3 then
    local n = tonumber(current or "1")
    t.revision = tostring(n > 1 and chance(0.5) and n - rnd(1, n - 1) or n + rnd(1, 1000))
    if not next(expect) then expect = { ABORTED = true } end
  else
    t.revision = pick { 5, true, {}, "", "x", "-1", "0", "1.5", " 1", ("9"):rep(20), "9223372036854775808", "1\0" }
    local e = {}
    for k in pairs(expect) do if k ~= NF then e[k] = true end end
    e[INV] = true
    expect = e
  end
  return expect
end

-- Lists the whole store and compares it with the model.
local function list_all_items(gid)
  local items, off = {}, 0
  while true do
    local p, e, c = store:listGalleryItems(gid, { itemOffset = off, itemLimit = 100 })
    if not p then fail("listGalleryItems %s: %s %s", gid, tostring(c), tostring(e)) return items end
    for _, it in ipairs(p.items) do items[#items + 1] = it end
    if #p.items < 100 then return items end
    off = off + 100
  end
end
local function gallery_updated(gid)
  local g = store:getGallery(gid, { itemLimit = 1 })
  return g and g._updatedDate
end
local function check_store(what)
  stats.checks = stats.checks + 1
  local all, off = {}, 0
  while true do
    local p, e, c = store:listGalleries { limit = 10, offset = off, itemLimit = 1 }
    if not p then fail("%s: listGalleries: %s %s", what, tostring(c), tostring(e)) return end
    if p.totalGalleries ~= #M.order then fail("%s: totalGalleries %d, model %d", what, p.totalGalleries, #M.order) end
    for _, g in ipairs(p.galleries) do all[#all + 1] = g end
    if #p.galleries < 10 then break end
    off = off + 10
  end
  if #all ~= #M.order then fail("%s: %d galleries, model %d", what, #all, #M.order) return end
  for i, g in ipairs(all) do
    local m = M.g[M.order[i]]
    if g._id ~= m._id then fail("%s: gallery %d is %s, model %s", what, i, g._id, m._id) return end
    for _, k in ipairs { "name", "sortOrder", "_createdDate", "_updatedDate" } do
      if g[k] ~= m[k] then fail("%s: gallery %s %s = %s, model %s", what, g._id, k, tostring(g[k]), tostring(m[k])) end
    end
    if g.revision ~= tostring(m.revision) then
      fail("%s: gallery %s revision = %s, model %d", what, g._id, tostring(g.revision), m.revision)
    end
    if g.totalItems ~= #m.items then fail("%s: gallery %s totalItems %d, model %d", what, g._id, g.totalItems, #m.items) end
    local items = list_all_items(g._id)
    if #items ~= #m.items then fail("%s: gallery %s lists %d items, model %d", what, g._id, #items, #m.items)
    else
      for j, it in ipairs(items) do
        local e = deq(item_view(m.items[j]), it, ("gallery %s item %d"):format(g._id, j))
        if e then fail("%s: %s", what, e) break end
      end
    end
  end
end

-- ---- calls -------------------------------------------------------------------------

-- GC storms, for about one call in eight: the call gets a copy of its
-- arguments in which every table is weak (its tables held, until the call
-- runs, only by a list), finalizers that run during the call drop that list
-- and clear every table of the copy, and the collector steps on almost every
-- allocation. Nothing the call read may be freed before it ends: the outcome
-- must be as for the arguments themselves. Finalizers act only while the call
-- runs; the harness reads the originals, which the storm never touches.
local WEAK_MT, RAISING_WEAK_MT = { __mode = "kv" }, { __mode = "kv" }
for k, f in pairs(RAISING_MT) do RAISING_WEAK_MT[k] = f end
local storm = { calls = 0, finalized = 0, cleared = 0, held = nil, live = false }
-- a copy of v whose tables are weak (raising ones stay raising); tables with a
-- metatable of their own are shared, as are all other values
local function weak_copy(v, held, seen)
  if type(v) ~= "table" then return v end
  local mt = getmetatable(v)
  if mt ~= nil and mt ~= RAISING_MT then return v end
  if seen[v] then return seen[v] end
  local c = {}
  seen[v] = c
  held[#held + 1] = c
  for k, x in next, v do rawset(c, weak_copy(k, held, seen), weak_copy(x, held, seen)) end
  setmetatable(c, mt and RAISING_WEAK_MT or WEAK_MT)
  return c
end
local function storm_finalizer()
  if not storm.live then return end
  storm.finalized = storm.finalized + 1
  local held = storm.held
  storm.held = nil
  for _, t in ipairs(held or {}) do
    local keys = {}
    for k in next, t do keys[#keys + 1] = k end
    for _, k in ipairs(keys) do rawset(t, k, nil) end
    storm.cleared = storm.cleared + 1
  end
end
-- f(...) in a storm
local function storm_call(f, ...)
  local held, seen, args = {}, {}, { n = select("#", ...), ... }
  for i = 1, args.n do args[i] = weak_copy(args[i], held, seen) end
  storm.held = held
  local sentinels = {}
  for i = 1, 8 do
    if newproxy then -- LuaJIT: only userdata have finalizers
      sentinels[i] = newproxy(true)
      getmetatable(sentinels[i]).__gc = storm_finalizer
    else
      sentinels[i] = setmetatable({}, { __gc = storm_finalizer })
    end
  end
  storm.calls = storm.calls + 1
  local pause, stepmul = collectgarbage("setpause", 0), collectgarbage("setstepmul", 1000)
  storm.live = true
  sentinels = nil -- garbage from here: collected, and finalized, during the call if a cycle ends
  -- no table constructor before the call: its allocation could run a finalizer first
  local ok, res, err, code = pcall(f, unpack(args, 1, args.n))
  storm.live = false
  storm.held = nil
  collectgarbage("setpause", pause)
  collectgarbage("setstepmul", stepmul)
  return ok, res, err, code
end

-- Runs a call through pcall; checks the shape of its outcome against `expect`
-- (a set of codes; empty set = must succeed). Returns the result or nil.
-- Callers that are the harness's own Lua before the store's call (the REST path: its
-- conversion to JSON walks and allocates) never run in a storm: a finalizer would clear
-- the arguments before any of the store's code saw them.
local NO_STORM = {}
local function invoke(what, expect, fn, ...)
  stats.calls = stats.calls + 1
  for _, t in ipairs(HOSTILE) do setmetatable(t, RAISING_MT) end
  local ok, res, err, code
  if chance(0.125) and not NO_STORM[fn] then ok, res, err, code = storm_call(fn, ...)
  else ok, res, err, code = pcall(fn, ...) end
  for _, t in ipairs(HOSTILE) do setmetatable(t, nil) end
  HOSTILE = {}
  if not ok then fail("%s raised: %s", what, tostring(res)) return nil end
  local want_in_message = EXPECT_IN_MESSAGE
  EXPECT_IN_MESSAGE = nil
  if res == nil then
    stats.errors = stats.errors + 1
    if type(err) ~= "string" or not KNOWN_CODES[code] then
      fail("%s: bad failure shape: %s %s", what, tostring(err), tostring(code)) return nil
    end
    if not R.is_text(err) then fail("%s: message is not UTF-8 text: %q", what, err) end
    -- (the call may have failed on something else first: an argument replaced after the fault)
    if want_in_message and err:find("unknown field$") and not err:find(want_in_message, 1, true) then
      fail("%s: message %q does not name the key as %q", what, err, want_in_message)
    end
    stats.byCode[code] = (stats.byCode[code] or 0) + 1
    if not expect[code] then
      local want = {}
      for k in pairs(expect) do want[#want + 1] = k end
      fail("%s: got %s (%s), expected %s", what, code, err:sub(1, 200), #want > 0 and table.concat(want, "|") or "success")
    end
    return nil
  end
  stats.ok = stats.ok + 1
  if next(expect) then
    local want = {}
    for k in pairs(expect) do want[#want + 1] = k end
    fail("%s: succeeded, expected %s", what, table.concat(want, "|"))
    return nil
  end
  return res
end

-- Ids of the model, sometimes upper-cased (ids are accepted in any case).
local function cased(id) return chance(0.2) and id:upper() or id end

local ops = {}

function ops.createGallery()
  local gin, opts, expect = {}, {}, {}
  local name, sort, items, itemsN, itemSorts = nil, nil, {}, {}, {}
  if chance(0.7) then
    if chance(0.7) then gin.name = ustr(chance(0.05) and 1024 or 20); name = gin.name end
    if chance(0.1) then gin.name = null; name = nil end
    if chance(0.3) then gin.sortOrder = finite(); sort = gin.sortOrder end
    if chance(0.5) then
      for i = 1, rnd(0, 6) do local v, n, s = gen_item("create"); items[i] = hostile(v); itemsN[i] = n; itemSorts[i] = s end
      gin.items = items
    end
    if chance(0.1) then gin._id, gin.totalItems, gin._createdDate = "x", 5, 0 end
    opts.gallery = hostile(gin)
  end
  local src
  if chance(0.3) then
    src = some_gallery()
    if src then opts.cloneFromGalleryId = cased(src._id)
    else opts.cloneFromGalleryId = rand_uuid(); expect[NF] = true end
  end
  local r = rnd(10)
  if r == 1 then
    expect = { [INV] = true }
    pick {
      function() opts.gallery = pick { "g", 1, { 1, 2 }, print } end,
      function() opts.extra = 1 end,
      function() gin.name = pick { not_string(), bad_string() }; opts.gallery = gin end,
      function() gin.sortOrder = pick { 0 / 0, "1", math.huge }; opts.gallery = gin end,
      function() gin.items = pick { "x", { 1 }, { [2] = {} } }; opts.gallery = gin end,
      function() gin.color = "red"; opts.gallery = gin end,
      function() opts.cloneFromGalleryId = bad_id() end,
    }()
  elseif r == 2 then
    expect = { [RES] = true }
    pick {
      function() gin.name = ("n"):rep(1025); opts.gallery = gin end,
      function() local t = {}; for i = 1, 1001 do t[i] = {} end; gin.items = t; opts.gallery = gin end,
    }()
  elseif r == 3 and #items > 0 then
    expect = fault_item(items[rnd(#items)], 1)
  end
  local arg = opts
  if not next(opts) and chance(0.5) then arg = nil end
  if chance(0.05) then arg = pick { "x", 5, print }; expect = { [INV] = true } end
  T0 = clock()
  local res = invoke("createGallery", expect, store.createGallery, store, arg)
  T1 = clock()
  if not res then return end
  -- model
  local g = { _id = res._id, _createdDate = res._createdDate, _updatedDate = res._updatedDate, items = {},
              revision = 1 }
  if g._createdDate ~= g._updatedDate then fail("createGallery: dates differ") end
  if res.revision ~= "1" then fail("createGallery: revision %s", tostring(res.revision)) end
  g.name = name
  if src and name == nil then g.name = src.name end
  local all = {}
  for _, gid in ipairs(M.order) do all[#all + 1] = M.g[gid] end
  g.sortOrder = sort or check_default_sort(res.sortOrder, max_sort(all), "createGallery")
  local listed = list_all_items(res._id)
  -- ids of one connection are time-ordered (UUIDv7): id order is creation order
  table.sort(listed, function(a, b) return a._id < b._id end)
  local base
  if src then
    for i, it in ipairs(src.items) do
      M.seq = M.seq + 1
      local c = copy(it)
      c.seq = M.seq
      local got = listed[i] or {}
      c._id, c._createdDate, c._updatedDate = got._id, got._createdDate, got._updatedDate
      c.revision = "1"
      base = base or check_default_sort(got.sortOrder, nil, "clone")
      c.sortOrder = base + i - 1
      g.items[i] = c
    end
  end
  for i, n in ipairs(itemsN) do
    local got = listed[#g.items + 1] or {}
    local prev = max_sort(g.items)
    g.items[#g.items + 1] = new_item(n, got, itemSorts[i], prev, "createGallery item")
  end
  sort_items(g)
  M.g[g._id] = g
  M.order[#M.order + 1] = g._id
  if #res.items ~= math.min(50, #g.items) then fail("createGallery returned %d items, expected %d", #res.items, math.min(50, #g.items)) end
  check_store("createGallery")
end

-- createGalleryItem through the REST path (store:rest, the C codec progallery.http uses):
-- the item in REST shape (progallery.rest, the same codec) as JSON text in, the
-- response text out, read back to the Velo shape the model checks.
local rest = require "progallery.rest"
local cjson = require "cjson"
local function has_nonfinite(v, seen)
  if type(v) == "number" then return v ~= v or v == math.huge or v == -math.huge end
  if type(v) ~= "table" or seen[v] then return false end
  seen[v] = true -- each table once: cycles, and tables shared many times over
  for _, x in next, v do if has_nonfinite(x, seen) then return true end end
  return false
end
local function rest_create_item(s, gid, item)
  -- JSON has no NaN: over REST one is the string "NaN", another value (in exif, a valid one)
  if has_nonfinite(item, {}) then return s:createGalleryItem(gid, item) end
  local body_item = rest.toRest(item, "item")
  -- a Velo value with no JSON form (a function among the ignored read-only keys, say)
  -- cannot travel over REST: that one goes to the Lua API
  if body_item == nil and item ~= nil then return s:createGalleryItem(gid, item) end
  local body = pg.encodeJSON({ item = body_item }, rest.ARRAY_KEYS, { exif = true, css = true, wixLinkData = true })
  local text, rerr, rcode = s:rest("createGalleryItem", gid, nil, nil, body)
  if not text then return nil, rerr, rcode end
  return rest.fromRest(cjson.decode(text).item, "item")
end

NO_STORM[rest_create_item] = true

local function item_call(name)
  local g = some_gallery()
  local gid, expect = g and cased(g._id) or rand_uuid(), {}
  if not g then expect[NF] = true end
  local n = name == "createGalleryItem" and 1 or rnd(1, chance(0.05) and 60 or 5)
  local inputs, norms, sorts = {}, {}, {}
  for i = 1, n do local v, nn, s = gen_item("create"); inputs[i] = hostile(v); norms[i] = nn; sorts[i] = s end
  local arg2 = name == "createGalleryItem" and inputs[1] or inputs
  local r = rnd(10)
  if r <= 4 then expect = fault_item(inputs[rnd(n)], r == 1 and 2 or 1)
  elseif r == 5 then gid = bad_id(); expect = { [INV] = true }
  elseif r == 6 then
    expect = { [INV] = true }
    if name == "createGalleryItem" then arg2 = not_item() else arg2 = pick { {}, "x", { 1, 2 }, { [1] = {}, [3] = {} } } end
  elseif r == 7 and name == "createGalleryItems" then
    local t = {}
    for i = 1, 1001 do t[i] = {} end
    arg2 = t; expect = { [RES] = true }
  end
  if chance(0.03) then arg2 = nil; expect = { [INV] = true } end
  local prev = g and max_sort(g.items)
  T0 = clock()
  local fn = store[name]
  if name == "createGalleryItem" and type(gid) == "string" and chance(0.3) then
    fn = rest_create_item
    stats.rest = (stats.rest or 0) + 1
  end
  local res = invoke(name, expect, fn, store, gid, arg2)
  T1 = clock()
  if not res then return end
  local got = name == "createGalleryItem" and { res } or res.items
  if #got ~= n then fail("%s returned %d items, sent %d", name, #got, n) return end
  for i = 1, n do
    local it = new_item(norms[i], got[i], sorts[i], prev, name)
    if not sorts[i] or prev == nil or sorts[i] > prev then prev = it.sortOrder end
    local e = deq(item_view(it), got[i], name .. " result")
    if e then fail("%s", e) end
    g.items[#g.items + 1] = it
  end
  sort_items(g)
  touch(g, gallery_updated(g._id), name)
  check_store(name)
end
ops.createGalleryItem = function() item_call("createGalleryItem") end
ops.createGalleryItems = function() item_call("createGalleryItems") end

function ops.updateGalleryItem()
  local g, it = some_item()
  local ids, expect = {}, {}
  if g then ids = { galleryId = cased(g._id), itemId = cased(it._id) }
  else ids = { galleryId = rand_uuid(), itemId = rand_uuid() }; expect[NF] = true end
  local v, n, sort = gen_item("update")
  v = hostile(v)
  local r = rnd(10)
  if r <= 3 then expect = fault_item(v, 1)
  elseif r == 4 then
    expect = { [INV] = true }
    pick {
      function() ids = pick { "x", 5, { galleryId = ids.galleryId }, { itemId = ids.itemId }, print } end,
      function() ids.other = 1 end,
      function() ids.itemId = bad_id() end,
      function() v = not_item() end,
      function() v.sortOrder = null end,
    }()
  elseif r == 5 and g and #M.order > 1 then
    local other = M.g[pick(M.order)]
    if other ~= g then ids.galleryId = other._id; expect = { [NF] = true } end -- an item reached through another gallery
  end
  if chance(0.03) then v = nil; expect = { [INV] = true } end
  expect = with_revision(v, it and it.revision, expect)
  local opts -- the revision in the options as well (each given one must be current)
  if chance(0.3) then opts = {}; expect = with_revision(opts, it and it.revision, expect) end
  local res = invoke("updateGalleryItem", expect, store.updateGalleryItem, store, ids, v, opts)
  if not res then return end
  local before = it._updatedDate
  local sabotage = os.getenv("PG_SABOTAGE") == "fuzz-api" -- self-test: the model forgets clears
  for k, x in pairs(n) do
    if x == null then if not sabotage then it[k] = nil end else it[k] = copy(x) end
    if (k == "image" or k == "video" or k == "text") and x ~= null then
      for _, mk in ipairs { "image", "video", "text" } do if mk ~= k then it[mk] = nil end end
    end
  end
  if sort then it.sortOrder = sort end
  it.type = doc_type(it)
  it._updatedDate = res._updatedDate
  it.revision = next_revision(it.revision)
  if not (it._updatedDate > before) then fail("updateGalleryItem: _updatedDate did not move") end
  local e = deq(item_view(it), res, "updateGalleryItem result")
  if e then fail("%s", e) end
  sort_items(g)
  touch(g, gallery_updated(g._id), "updateGalleryItem")
  check_store("updateGalleryItem")
end

function ops.updateGallery()
  local g = some_gallery()
  local gid, expect = g and cased(g._id) or rand_uuid(), {}
  if not g then expect[NF] = true end
  local v, name, sort = {}, nil, nil
  if chance(0.6) then v.name = chance(0.2) and null or ustr(20); name = v.name end
  if chance(0.4) then v.sortOrder = finite(); sort = v.sortOrder end
  if chance(0.1) then v.items, v.totalItems, v._id = print, "x", 1 end -- read-only: ignored
  v = hostile(v)
  local r = rnd(8)
  if r == 1 then
    expect = { [INV] = true }
    pick {
      function() v.sortOrder = null end, function() v.name = not_string() end,
      function() v.name = bad_string() end, function() v.owner = "x" end,
      function() v = pick { "x", { 1 }, print } end, function() gid = bad_id() end,
      function() v = nil end,
    }()
  elseif r == 2 then v.name = ("n"):rep(1025); expect = { [RES] = true } end
  expect = with_revision(v, g and tostring(g.revision), expect)
  local opts
  if chance(0.3) then opts = {}; expect = with_revision(opts, g and tostring(g.revision), expect) end
  local res = invoke("updateGallery", expect, store.updateGallery, store, gid, v, opts)
  if not res then return end
  if name == null then g.name = nil elseif name ~= nil then g.name = name end
  if sort then g.sortOrder = sort end
  touch(g, res._updatedDate, "updateGallery")
  if res.totalItems ~= #g.items or #res.items ~= math.min(50, #g.items) then fail("updateGallery: item counts") end
  check_store("updateGallery")
end

function ops.deleteGallery()
  local g = some_gallery()
  local gid, expect = g and cased(g._id) or rand_uuid(), {}
  if not g or chance(0.2) then gid = chance(0.5) and rand_uuid() or bad_id(); expect = { [type(gid) == "string" and #gid == 36 and gid:match("^[%x-]+$") and NF or INV] = true } end
  local opts
  if chance(0.4) then opts = {}; expect = with_revision(opts, g and tostring(g.revision), expect) end
  local res = invoke("deleteGallery", expect, store.deleteGallery, store, gid, opts)
  if not res then return end
  if res.galleryId ~= g._id then fail("deleteGallery returned %s", tostring(res.galleryId)) end
  M.g[g._id] = nil
  for i, x in ipairs(M.order) do if x == g._id then table.remove(M.order, i) break end end
  check_store("deleteGallery")
end

function ops.deleteGalleryItem()
  local g, it = some_item()
  local ids, expect
  if g then ids, expect = { galleryId = cased(g._id), itemId = cased(it._id) }, {}
  else ids, expect = { galleryId = rand_uuid(), itemId = rand_uuid() }, { [NF] = true } end
  if chance(0.2) then ids = pick { { galleryId = ids.galleryId }, { itemId = 5, galleryId = ids.galleryId }, "id", { galleryId = ids.galleryId, itemId = ids.itemId, x = 1 } }; expect = { [INV] = true } end
  local opts
  if chance(0.4) then opts = {}; expect = with_revision(opts, it and it.revision, expect) end
  local res = invoke("deleteGalleryItem", expect, store.deleteGalleryItem, store, ids, opts)
  if not res then return end
  if res.itemId ~= it._id then fail("deleteGalleryItem returned %s", tostring(res.itemId)) end
  for i, x in ipairs(g.items) do if x == it then table.remove(g.items, i) break end end
  touch(g, gallery_updated(g._id), "deleteGalleryItem")
  check_store("deleteGalleryItem")
end

function ops.bulkDeleteGalleryItems()
  local g = some_gallery()
  local gid, expect = g and cased(g._id) or rand_uuid(), {}
  if not g then expect[NF] = true end
  local list, want, seen = {}, {}, {}
  for _ = 1, rnd(1, 6) do
    local r = rnd(4)
    local id
    if r <= 2 and g and #g.items > 0 then id = pick(g.items)._id
    elseif r == 3 then local _, other = some_item(); id = other and other._id or rand_uuid()
    else id = rand_uuid() end
    list[#list + 1] = cased(id)
    if g and not seen[id] then
      for _, x in ipairs(g.items) do if x._id == id then want[#want + 1] = id; seen[id] = true break end end
    end
  end
  local r = rnd(8)
  if r == 1 then list[rnd(#list)] = bad_id(); expect = { [INV] = true }
  elseif r == 2 then list = pick { {}, "x", { [1] = "a", [3] = "b" }, print }; expect = { [INV] = true }
  elseif r == 3 then local t = {}; for i = 1, 1001 do t[i] = rand_uuid() end; list = t; expect = { [RES] = true } end
  local res = invoke("bulkDeleteGalleryItems", expect, store.bulkDeleteGalleryItems, store, gid, list)
  if not res then return end
  local e = deq(want, res.itemIds, "bulkDelete itemIds")
  if e then fail("%s", e) end
  if #want > 0 then
    local del = {}
    for _, id in ipairs(want) do del[id] = true end
    local keep = {}
    for _, x in ipairs(g.items) do if not del[x._id] then keep[#keep + 1] = x end end
    g.items = keep
    touch(g, gallery_updated(g._id), "bulkDelete")
  end
  check_store("bulkDeleteGalleryItems")
end

-- moveGalleryItems (spec section 14): random items of a gallery, given in a random order,
-- before / after a random anchor or to the end, within the gallery or into another. The
-- model moves them in their current order; the store's new sort orders are taken from
-- the result and the target's listing once the order is checked against the model (a
-- renumbering changes other items' sortOrder: then every item of the target has an
-- integer one, and each one that changed a later _updatedDate).
function ops.moveGalleryItems()
  local g = some_gallery()
  local gid, expect = g and cased(g._id) or rand_uuid(), {}
  if not g then expect[NF] = true end
  local dst = (g and chance(0.5)) and g or some_gallery()
  local list, moved, seen = {}, {}, {}
  if g and #g.items > 0 then
    for _ = 1, rnd(1, math.min(#g.items, chance(0.1) and 40 or 5)) do
      local it = pick(g.items)
      if not seen[it] then seen[it] = true; moved[#moved + 1] = it; list[#list + 1] = cased(it._id) end
    end
  else
    list[1] = rand_uuid()
    if g then expect[NF] = true end
  end
  local opts, how, anchor = {}, "end", nil
  if dst and dst ~= g then opts.toGalleryId = cased(dst._id) elseif dst and chance(0.2) then opts.toGalleryId = cased(dst._id) end
  if dst and chance(0.7) then
    local cands = {}
    for _, it in ipairs(dst.items) do if not seen[it] then cands[#cands + 1] = it end end
    if #cands > 0 then
      anchor = pick(cands)
      how = chance(0.5) and "before" or "after"
      opts[how] = cased(anchor._id)
    end
  end
  local r = rnd(24) -- a fault in 10 of 24 calls
  if r == 1 then list[rnd(#list)] = bad_id(); expect = { [INV] = true }
  elseif r == 2 then list = pick { {}, "x", { [1] = list[1], [3] = list[1] }, print, 5 }; expect = { [INV] = true }
  elseif r == 3 then local t = {}; for i = 1, 1001 do t[i] = rand_uuid() end; list = t; expect = { [RES] = true }
  elseif r == 4 then list[#list + 1] = list[1]; expect = { [INV] = true } -- the same id twice
  elseif r == 5 then opts[pick { "before", "after", "toGalleryId" }] = bad_id(); expect = { [INV] = true }
  elseif r == 6 then opts.before, opts.after = list[1], list[1]; expect = { [INV] = true }
  elseif r == 7 then opts[how == "after" and "after" or "before"] = list[rnd(#list)]; expect = { [INV] = true } -- anchor among the moved
  elseif r == 8 then opts[pick { "position", "Before", "galleryId" }] = 1; expect = { [INV] = true }
  elseif r == 9 then opts = pick { "x", 5, print }; expect = { [INV] = true }
  elseif r == 10 and not next(expect) then
    local code = NF
    pick {
      function() opts.toGalleryId = rand_uuid() end,
      function() opts.before, opts.after = nil, nil; opts[chance(0.5) and "before" or "after"] = rand_uuid() end,
      function() list[#list + 1] = rand_uuid() end,
      function() -- an item of another gallery, or an anchor in another than the target
        local og, oi = some_item()
        if og and og ~= g then
          list[#list + 1] = oi._id
          if oi == anchor then code = INV end -- the anchor is then among the moved items
        elseif og and og ~= (dst or g) then
          opts.before, opts.after = oi._id, nil
          -- an anchor among the moved items is refused first, without reading the store
          if seen[oi] then code = INV end
        else list[#list + 1] = rand_uuid() end
      end,
    }()
    expect = { [code] = true }
  end
  if type(list) == "table" then hostile(list) end
  if type(opts) == "table" then hostile(opts) end
  local res = invoke("moveGalleryItems", expect, store.moveGalleryItems, store, gid, list, opts)
  if not res then if next(expect) == nil then return end check_store("moveGalleryItems (refused)") return end
  local target = dst or g
  -- the model: moved items leave g in their order there, and enter target at the place
  local order = {}
  for _, it in ipairs(g.items) do if seen[it] then order[#order + 1] = it end end
  local keep = {}
  for _, it in ipairs(g.items) do if not seen[it] then keep[#keep + 1] = it end end
  g.items = keep
  local at = #target.items + 1
  if anchor then
    for i, it in ipairs(target.items) do if it == anchor then at = how == "before" and i or i + 1 break end end
  end
  for k, it in ipairs(order) do table.insert(target.items, at + k - 1, it) end
  if #res.items ~= #order then fail("moveGalleryItems: %d items back, moved %d", #res.items, #order) return end
  for k, it in ipairs(order) do
    local got = res.items[k]
    if got._id ~= it._id then fail("moveGalleryItems: result %d is %s, model %s", k, tostring(got._id), it._id) return end
    if not (got._updatedDate > it._updatedDate) then fail("moveGalleryItems: _updatedDate did not move") end
    it.sortOrder, it._updatedDate = got.sortOrder, got._updatedDate
    it.revision = next_revision(it.revision) -- one change, even when renumbered first
    local e = deq(item_view(it), got, "moveGalleryItems result")
    if e then fail("%s", e) end
  end
  local listed = list_all_items(target._id)
  if #listed ~= #target.items then fail("moveGalleryItems: target lists %d, model %d", #listed, #target.items) return end
  local renumbered = false
  for i, it in ipairs(target.items) do
    local got = listed[i]
    if got._id ~= it._id then fail("moveGalleryItems: target item %d is %s, model %s", i, got._id, it._id) return end
    if not seen[it] and got.sortOrder ~= it.sortOrder then
      renumbered = true
      if not (got._updatedDate > it._updatedDate) then fail("moveGalleryItems: a renumbered item kept its _updatedDate") end
      it.sortOrder, it._updatedDate = got.sortOrder, got._updatedDate
      it.revision = next_revision(it.revision)
    end
  end
  if renumbered then
    for _, it in ipairs(target.items) do
      if it.sortOrder ~= math.floor(it.sortOrder) and not seen[it] then fail("moveGalleryItems: renumbered to %s", tostring(it.sortOrder)) end
    end
  end
  stats.moves = (stats.moves or 0) + 1
  if renumbered then stats.renumbers = (stats.renumbers or 0) + 1 end
  -- the model's own order rule (sortOrder, then creation) must give the same order
  local before_sort = {}
  for i, it in ipairs(target.items) do before_sort[i] = it end
  sort_items(target)
  for i, it in ipairs(target.items) do
    if it ~= before_sort[i] then fail("moveGalleryItems: sort orders do not give the moved order at %d", i) break end
  end
  touch(g, gallery_updated(g._id), "moveGalleryItems source")
  if target ~= g then touch(target, gallery_updated(target._id), "moveGalleryItems target") end
  check_store("moveGalleryItems")
end

local function paging_fault(opts, keys)
  local k = pick(keys)
  opts[k] = pick { -1, 0.5, 0 / 0, math.huge, "1", true, 1e300 }
  if k:match("imit") and chance(0.5) then opts[k] = k == "limit" and 11 or pick { 0, 101 } end
  return { [INV] = true }
end

-- A gallery to page through (or a random id: NOT_FOUND), with random item paging.
local function item_page_args()
  local g = some_gallery()
  local gid, expect = g and cased(g._id) or rand_uuid(), {}
  if not g then expect[NF] = true end
  local opts = {}
  if chance(0.5) then opts.itemOffset = rnd(0, 5) end
  if chance(0.5) then opts.itemLimit = rnd(1, 100) end
  return g, gid, opts, expect
end

-- The page of g's items that opts select, exactly (count and every item).
local function check_item_page(items, g, opts, what)
  local off, lim = opts.itemOffset or 0, opts.itemLimit or 50
  if #items ~= math.max(0, math.min(lim, #g.items - off)) then fail("%s: %d items", what, #items) end
  for i, x in ipairs(items) do
    local e = deq(item_view(g.items[off + i]), x, what .. " item " .. i)
    if e then fail("%s", e) break end
  end
end

function ops.getGallery()
  local g, gid, opts, expect = item_page_args()
  if chance(0.2) then expect = paging_fault(opts, { "itemOffset", "itemLimit" })
  elseif chance(0.05) then opts.limit = 1; expect = { [INV] = true }
  elseif chance(0.05) then gid = bad_id(); expect = { [INV] = true } end
  local res = invoke("getGallery", expect, store.getGallery, store, gid, hostile(opts), {})
  if not res then return end
  if res.totalItems ~= #g.items then fail("getGallery totalItems") end
  check_item_page(res.items, g, opts, "getGallery")
end

function ops.listGalleries()
  local opts, expect = {}, {}
  if chance(0.5) then opts.limit = rnd(1, 10) end
  if chance(0.5) then opts.offset = rnd(0, #M.order + 2) end
  if chance(0.5) then opts.itemLimit = rnd(1, 100) end
  if chance(0.2) then expect = paging_fault(opts, { "limit", "offset", "itemLimit" })
  elseif chance(0.05) then opts.itemOffset = 1; expect = { [INV] = true } end
  local arg = opts
  if not next(expect) and chance(0.1) then arg = nil; opts = {} end
  local res = invoke("listGalleries", expect, store.listGalleries, store, arg and hostile(arg))
  if not res then return end
  local off, lim, il = opts.offset or 0, opts.limit or 10, opts.itemLimit or 10
  if res.totalGalleries ~= #M.order then fail("listGalleries totalGalleries") end
  if #res.galleries ~= math.max(0, math.min(lim, #M.order - off)) then fail("listGalleries: %d galleries", #res.galleries) end
  for i, gg in ipairs(res.galleries) do
    local m = M.g[M.order[off + i]]
    if not m or gg._id ~= m._id or #gg.items ~= math.min(il, #m.items) then fail("listGalleries: gallery %d", i) break end
  end
end

function ops.listGalleryItems()
  local g, gid, opts, expect = item_page_args()
  if chance(0.2) then expect = paging_fault(opts, { "itemOffset", "itemLimit" }) end
  local res = invoke("listGalleryItems", expect, store.listGalleryItems, store, gid, hostile(opts))
  if not res then return end
  check_item_page(res.items, g, opts, "listGalleryItems")
end

function ops.getGalleryItem()
  local g, it = some_item()
  local ids, expect
  if g then ids, expect = { galleryId = cased(g._id), itemId = cased(it._id) }, {}
  else ids, expect = { galleryId = rand_uuid(), itemId = rand_uuid() }, { [NF] = true } end
  if chance(0.2) then ids = pick { nil, "x", { galleryId = ids.galleryId }, { galleryId = 1, itemId = ids.itemId } }; expect = { [INV] = true } end
  local res = invoke("getGalleryItem", expect, store.getGalleryItem, store, ids)
  if not res then return end
  local e = deq(item_view(it), res, "getGalleryItem")
  if e then fail("%s", e) end
end

-- queryGalleryItems (spec section 14): the default sort is the model's order, so paging
-- through with random page sizes gives g.items exactly; a title filter gives the model's
-- items of that title. Now and then a query or a cursor that is wrong in some way: an
-- altered or random cursor, or a random value in place of the query, is INVALID_ARGUMENT.
local function garbage_cursor(real)
  if real and chance(0.6) then
    local i = rnd(#real)
    local c = real:sub(i, i)
    return real:sub(1, i - 1) .. (c == "A" and "B" or "A") .. real:sub(i + 1)
  end
  local t = {}
  for i = 1, rnd(0, 200) do t[i] = string.char(rnd(0, 255)) end
  return pick { table.concat(t), ("A"):rep(rnd(1, 300)), "", bad_string() }
end
M.last_cursor = nil

function ops.queryGalleryItems()
  local g = some_gallery()
  local gid, nf = g and cased(g._id) or rand_uuid(), not g
  local limit = rnd(1, 12)
  local filter, title
  if g and #g.items > 0 and chance(0.3) then
    title = pick(g.items).title
    if title ~= nil then filter = { title = title } end
  end
  if chance(0.15) then
    local q = pick { wrong(), { filter = wrong() }, { sort = wrong() }, { cursorPaging = wrong() },
      { cursorPaging = { cursor = garbage_cursor(M.last_cursor) } }, { filter = { [ustr(10)] = wrong() } },
      { cursorPaging = { limit = pick { 0, 101, 1.5, -3 } } } }
    local expect = { [INV] = true }
    if nf then expect[NF] = true end
    -- (a table that happens to be a valid query, {} say, succeeds)
    hostile(q)
    for _, t in ipairs(HOSTILE) do setmetatable(t, RAISING_MT) end
    local ok, r, err, code = pcall(store.queryGalleryItems, store, gid, q)
    for _, t in ipairs(HOSTILE) do setmetatable(t, nil) end
    HOSTILE = {}
    stats.calls = stats.calls + 1
    if not ok then fail("queryGalleryItems(bad) raised: %s", tostring(r)) return end
    if r == nil and not expect[code] then fail("queryGalleryItems(bad): %s %s", tostring(code), tostring(err)) end
    return
  end
  local got, cursor, pages = {}, nil, 0
  repeat
    local q = cursor and { cursorPaging = { cursor = cursor, limit = limit } }
      or { filter = filter, cursorPaging = { limit = limit } }
    local res = invoke("queryGalleryItems", nf and { [NF] = true } or {}, store.queryGalleryItems, store, gid, hostile(q))
    if not res then return end
    for _, x in ipairs(res.items) do got[#got + 1] = x end
    cursor = res.pagingMetadata.cursors.next
    if cursor then M.last_cursor = cursor end
    pages = pages + 1
  until not cursor or pages > 200
  local want = {}
  for _, it in ipairs(g.items) do
    if filter == nil or it.title == title then want[#want + 1] = it end
  end
  if #got ~= #want then fail("queryGalleryItems: %d items, model %d", #got, #want) return end
  for i, x in ipairs(got) do
    local e = deq(item_view(want[i]), x, "queryGalleryItems item " .. i)
    if e then fail("%s", e) break end
  end
end

-- queryGalleries: by the name of a gallery of the model, every gallery of that name.
function ops.queryGalleries()
  local g = some_gallery()
  local name = g and g.name or ustr(10)
  local filter = name ~= nil and { name = name } or { name = { ["$startsWith"] = "" } }
  if chance(0.15) then
    local q = pick { wrong(), { filter = { name = wrong() } }, { sort = { { fieldName = wrong() } } },
      { cursorPaging = { cursor = garbage_cursor(M.last_cursor) } } }
    hostile(q)
    for _, t in ipairs(HOSTILE) do setmetatable(t, RAISING_MT) end
    local ok, r, err, code = pcall(store.queryGalleries, store, q)
    for _, t in ipairs(HOSTILE) do setmetatable(t, nil) end
    HOSTILE = {}
    stats.calls = stats.calls + 1
    if not ok then fail("queryGalleries(bad) raised: %s", tostring(r)) return end
    if r == nil and code ~= INV then fail("queryGalleries(bad): %s %s", tostring(code), tostring(err)) end
    return
  end
  local res = invoke("queryGalleries", {}, store.queryGalleries, store, hostile({ filter = filter, cursorPaging = { limit = 100 } }))
  if not res then return end
  local want = 0
  for _, id in ipairs(M.order) do
    local m = M.g[id]
    if (name ~= nil and m.name == name) or (name == nil and m.name ~= nil) then want = want + 1 end
  end
  if #res.galleries ~= want then fail("queryGalleries: %d galleries, model %d", #res.galleries, want) end
end

-- Writes through a visitor view are refused whatever the arguments; a closed
-- view refuses everything.
local WRITES = { "createGallery", "updateGallery", "deleteGallery", "createGalleryItem", "createGalleryItems",
  "updateGalleryItem", "deleteGalleryItem", "bulkDeleteGalleryItems", "moveGalleryItems" }
local ALL = { "getGallery", "listGalleries", "getGalleryItem", "listGalleryItems", "queryGalleryItems",
  "queryGalleries" }
for _, w in ipairs(WRITES) do ALL[#ALL + 1] = w end
function ops.denied()
  local f = pick(WRITES)
  local args = { wrong(), wrong() }
  invoke(f .. " (visitor)", { PERMISSION_DENIED = true }, visitor[f], visitor, unpack(args))
  local closed = store:as("admin")
  closed:close()
  local f2 = pick(ALL)
  invoke(f2 .. " (closed)", { FAILED_PRECONDITION = true }, closed[f2], closed, wrong(), wrong())
end

local WEIGHTS = {
  { "createGallery", 12 }, { "createGalleryItem", 12 }, { "createGalleryItems", 10 }, { "updateGalleryItem", 14 },
  { "updateGallery", 6 }, { "deleteGallery", 3 }, { "deleteGalleryItem", 5 }, { "bulkDeleteGalleryItems", 6 },
  { "getGallery", 6 }, { "listGalleries", 5 }, { "listGalleryItems", 6 }, { "getGalleryItem", 6 }, { "denied", 3 },
  { "queryGalleryItems", 5 }, { "queryGalleries", 3 },
  { "moveGalleryItems", 10 },
}
local total = 0
for _, w in ipairs(WEIGHTS) do total = total + w[2] end
local started = os.clock()
local n = 0
while n < max_calls and os.clock() - started < max_secs do
  n = n + 1
  local r = rnd(total)
  for _, w in ipairs(WEIGHTS) do
    if r <= w[2] then ops[w[1]]() break end
    r = r - w[2]
  end
  -- keep the store small: drop a big gallery now and then
  if #M.order > 12 then
    local gid = M.order[1]
    if store:deleteGallery(gid) then M.g[gid] = nil; table.remove(M.order, 1) end
  end
end
check_store("final")
store:close()
local codes = {}
for k, v in pairs(stats.byCode) do codes[#codes + 1] = k .. "=" .. v end
table.sort(codes)
print(("fuzz-api: seed %d: %d operations, %d calls (%d ok, %d refused: %s; %d creates through store:rest; %d moves, %d renumbering), %d in GC storms (%d finalizers ran during calls, clearing %d argument tables), %d full store comparisons, %d failures"):format(
  seed, n, stats.calls, stats.ok, stats.errors, table.concat(codes, " "), stats.rest or 0, stats.moves or 0, stats.renumbers or 0, storm.calls, storm.finalized, storm.cleared, stats.checks, stats.failures))
os.exit(stats.failures == 0 and 0 or 1, true)
