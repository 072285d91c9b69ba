-- make bench, PostgreSQL part: progallery's postgres engine against raw libpq C doing the
-- same SQL (bench/pg_raw.c) on the same throwaway server in the same run, alternating,
-- medians of BENCH_PG_REPS runs; and 1 vs 4 concurrent writers on 4 galleries.
--   lua5.4 bench/pg.lua DSN RAW_BINARY
local progallery = require "progallery"
local DSN, RAW = arg[1], arg[2]
local REPS = tonumber(os.getenv("BENCH_PG_REPS") or "") or 5
local schema = ("bench%x"):format(os.time() % 0xffffff)
local dsn = DSN .. " options='-csearch_path=" .. schema .. "'"
local s = assert(progallery.open { dsn = dsn, caller = "admin", events = false })

local function clock()
  local f = io.popen("date +%s.%N")
  local t = tonumber(f:read("*l"))
  f:close()
  return t
end

local function items(n, tag)
  local t = {}
  for i = 1, n do t[i] = { title = "bench item", description = "an item of the benchmark " .. (tag or "") } end
  return t
end

local function gallery(n)
  local g = assert(s:createGallery {})
  local left = n
  while left > 0 do
    local k = math.min(left, 1000)
    assert(s:createGalleryItems(g._id, items(k)))
    left = left - k
  end
  return g._id
end

local function raw(case, n, gid, src)
  local f = io.popen(("%s %q %s %d %s %s"):format(RAW, dsn, case, n, gid, src or ""))
  local out = f:read("*a")
  f:close()
  return assert(tonumber(out), "pg_raw: " .. out)
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local g_items, g_batch, g_read = gallery(0), gallery(0), gallery(100)
local src = gallery(10000)

local cases = {
  { name = "createGalleryItem", unit = "calls", n = 300, raw = "item1", gid = g_items,
    pg = function(n) for _ = 1, n do assert(s:createGalleryItem(g_items, { title = "bench item" })) end end },
  { name = "createGalleryItems of 1,000 (raw: pipeline)", unit = "calls", n = 5, raw = "items1000", gid = g_batch,
    pg = function(n) local b = items(1000) for _ = 1, n do assert(s:createGalleryItems(g_batch, b)) end end },
  { name = "getGallery with 100 items", unit = "calls", n = 500, raw = "get100", gid = g_read,
    pg = function(n) for _ = 1, n do assert(s:getGallery(g_read, { itemLimit = 100 })) end end },
  { name = "clone of 10,000 items", unit = "calls", n = 2, raw = "clone", gid = src, src = src,
    pg = function(n) for _ = 1, n do assert(s:createGallery { cloneFromGalleryId = src }) end end },
}

print(("%-45s %14s %14s %8s"):format("PostgreSQL case", "progallery/s", "raw libpq/s", "vs raw"))
for _, c in ipairs(cases) do
  local pg, rw = {}, {}
  for rep = 1, REPS do
    local t0 = clock()
    c.pg(c.n)
    pg[rep] = clock() - t0
    rw[rep] = raw(c.raw, c.n, c.gid, c.src)
  end
  local p, r = median(pg), median(rw)
  print(("%-45s %14.1f %14.1f %7.2fx"):format(c.name, c.n / p, c.n / r, r / p))
end

-- moveGalleryItems (spec section 14): 100 items spread over a 10,000-item gallery moved
-- before its 21st item in one call, against 100 updateGalleryItem calls setting the same
-- sort orders by hand (the neighbours given for free); the same move again each time
do
  local mg = gallery(10000)
  local ids, keys, sorts = {}, {}, {}
  for k = 0, 99 do ids[#ids + 1] = assert(s:listGalleryItems(mg, { itemOffset = 100 * k + 50, itemLimit = 1 })).items[1]._id end
  local anchor = assert(s:listGalleryItems(mg, { itemOffset = 20, itemLimit = 1 })).items[1]
  local prev = assert(s:listGalleryItems(mg, { itemOffset = 19, itemLimit = 1 })).items[1].sortOrder
  for i = 1, #ids do
    keys[i] = { galleryId = mg, itemId = ids[i] }
    sorts[i] = { sortOrder = prev + (anchor.sortOrder - prev) * i / (#ids + 1) }
  end
  local N, mv, hand, ratios = 5, {}, {}, {}
  for rep = 1, REPS do
    local t0 = clock()
    for _ = 1, N do assert(s:moveGalleryItems(mg, ids, { before = anchor._id })) end
    mv[rep] = (clock() - t0) / N
    t0 = clock()
    for _ = 1, N do for i = 1, #ids do assert(s:updateGalleryItem(keys[i], sorts[i])) end end
    hand[rep] = (clock() - t0) / N
    ratios[rep] = hand[rep] / mv[rep]
  end
  print(("%-45s %11.2f ms %11.2f ms %7.1fx (target >= 10x)"):format("moveGalleryItems 100 of 10,000 vs 100 updates",
    median(mv) * 1e3, median(hand) * 1e3, median(ratios)))
end

-- concurrent writers: k processes, each createGalleryItem on its own gallery
local function writers(k, n)
  local gids = {}
  for i = 1, k do gids[i] = gallery(0) end
  local go = os.tmpname()
  os.remove(go)
  local cmd = {}
  for i = 1, k do
    local script = ("package.cpath = %q; local pg = require 'progallery'; local s = assert(pg.open{ dsn = %q,"
      .. " caller = 'admin', events = false }); while not io.open(%q) do end;"
      .. " for i = 1, %d do assert(s:createGalleryItem(%q, { title = 'w' })) end")
      :format(package.cpath, dsn, go, n, gids[i])
    cmd[i] = ("lua5.4 -e %q &"):format(script)
  end
  local t0 = clock()
  os.execute(table.concat(cmd, " ") .. " touch " .. go .. "; wait")
  local dt = clock() - t0
  os.remove(go)
  return k * n / dt
end
local one, four = {}, {}
for rep = 1, 3 do one[rep] = writers(1, 400); four[rep] = writers(4, 400) end
local o, f = median(one), median(four)
print(("%-45s %14.1f"):format("1 writer, createGalleryItem calls/s", o))
print(("%-45s %14.1f %22.2fx of 1 writer"):format("4 writers on 4 galleries, calls/s", f, f / o))
print("(SQLite cannot do this: BEGIN IMMEDIATE serializes every writer of one file.)")
s:close()
