-- Runs one measurement of one case for progallery ("pg"), the LuaSQL peer
-- ("peer") or the marshalling floor ("floor", createN only: prof/marshal_floor.c,
-- no store at all) in a fresh process, and prints "<seconds> <calls>" (wall
-- time of the calls only; opening the store is outside the timing).
--   worker.lua IMPL CASE DB N ARGS...   (cases and arguments as in raw.c, plus
--   createG: N x createGallery{gallery={name=...}})
local common = require "common"
local clock = require "benchclock"

local impl, case, db, n = arg[1], arg[2], arg[3], tonumber(arg[4])
local a5, a6 = arg[5], arg[6]
local sync = ((case == "create1" and a5 == "full")
              or ((case == "move" or case == "movehand") and arg[8] == "full")) and "full" or "normal"

if impl == "floor" then
  assert(case == "createN", "the floor is measured for createN only")
  local floor, items = require "marshal_floor", common.items(1000)
  local t0 = clock.now()
  for _ = 1, n do floor.roundtrip(items) end
  io.write(("%.9f %d\n"):format(clock.now() - t0, n))
  return
end
local s = common.open(impl, db, sync)

local function check(r, msg, code)
  if not r then error(("%s %s: %s %s"):format(impl, case, tostring(msg), tostring(code))) end
  return r
end

local t0, t1
if case == "create1" then
  local gid, item = a6, common.item
  t0 = clock.now()
  for _ = 1, n do check(s:createGalleryItem(gid, item)) end
  t1 = clock.now()
elseif case == "createN" then
  local gid, items = a6, common.items(1000)
  t0 = clock.now()
  for _ = 1, n do check(s:createGalleryItems(gid, items)) end
  t1 = clock.now()
elseif case == "get" then
  local gid, opts = a5, { itemLimit = tonumber(a6) }
  local r = check(s:getGallery(gid, opts))
  assert(#r.items == math.min(opts.itemLimit, r.totalItems), "short page")
  t0 = clock.now()
  for _ = 1, n do check(s:getGallery(gid, opts)) end
  t1 = clock.now()
elseif case == "list" then
  local opts = { limit = 10, offset = tonumber(a5), itemLimit = tonumber(a6) }
  t0 = clock.now()
  for _ = 1, n do check(s:listGalleries(opts)) end
  t1 = clock.now()
  local r = check(s:listGalleries(opts))
  assert(#r.galleries == 10 and #r.galleries[10].items == 10, "short list page")
elseif case == "clone" then
  local opts = { cloneFromGalleryId = a5 }
  t0 = clock.now()
  for _ = 1, n do check(s:createGallery(opts)) end
  t1 = clock.now()
elseif case == "delete" then
  local ids = {}
  for id in a5:gmatch("[^,]+") do ids[#ids + 1] = id end
  t0 = clock.now()
  for i = 1, n do check(s:deleteGallery(ids[i])) end
  t1 = clock.now()
elseif case == "update" then
  local ids, patches = { galleryId = a5, itemId = a6 }, {}
  for i = 1, n do patches[i] = { title = "Beach at sunset, take " .. i } end
  t0 = clock.now()
  for i = 1, n do check(s:updateGalleryItem(ids, patches[i])) end
  t1 = clock.now()
elseif case == "query" or case == "listoff" then
  -- page a6 (from 1) of 50 items of gallery a5: by its cursor (reached untimed, page by
  -- page) or by itemOffset
  local gid, page = a5, tonumber(a6)
  local q
  if case == "query" then
    local cursor
    for _ = 2, page do
      cursor = check(s:queryGalleryItems(gid, { cursorPaging = { limit = 50, cursor = cursor } }))
        .pagingMetadata.cursors.next
    end
    q = { cursorPaging = { limit = 50, cursor = cursor } }
    local r = check(s:queryGalleryItems(gid, q))
    assert(#r.items == 50, "short query page")
    t0 = clock.now()
    for _ = 1, n do check(s:queryGalleryItems(gid, q)) end
    t1 = clock.now()
  else
    q = { itemOffset = (page - 1) * 50, itemLimit = 50 }
    assert(#check(s:listGalleryItems(gid, q)).items == 50, "short list page")
    t0 = clock.now()
    for _ = 1, n do check(s:listGalleryItems(gid, q)) end
    t1 = clock.now()
  end
elseif case == "move" or case == "movehand" then
  -- (spec section 14) the 100 items of a5 (comma-separated) before the anchor a6, in one
  -- moveGalleryItems call ("move") or by hand in 100 updateGalleryItem calls ("movehand"),
  -- each setting a sortOrder between the anchor and the item before it; the client is
  -- given those neighbours for free (read before the timing). N repetitions of the same move,
  -- after one untimed.
  local ids = {}
  for id in a5:gmatch("[^,]+") do ids[#ids + 1] = id end
  local gid = arg[7]
  local opts = { before = a6 }
  local sorts, keys = {}, {}
  if case == "movehand" then
    local moved, prev, anchor_sort = {}, nil, nil
    for _, id in ipairs(ids) do moved[id] = true end
    local off = 0
    while not anchor_sort do
      local page = check(s:listGalleryItems(gid, { itemOffset = off, itemLimit = 100 })).items
      assert(#page > 0, "movehand: no anchor")
      for _, it in ipairs(page) do
        if it._id == a6 then anchor_sort = it.sortOrder break end
        if not moved[it._id] then prev = it.sortOrder end
      end
      off = off + 100
    end
    local lo = prev or anchor_sort - #ids - 1
    for i = 1, #ids do
      sorts[i] = { sortOrder = lo + (anchor_sort - lo) * i / (#ids + 1) }
      keys[i] = { galleryId = gid, itemId = ids[i] }
    end
  end
  local function once()
    if case == "move" then
      check(s:moveGalleryItems(gid, ids, opts))
    else
      for i = 1, #ids do check(s:updateGalleryItem(keys[i], sorts[i])) end
    end
  end
  -- One untimed repetition first, as the read cases make one untimed call: it reads the
  -- pages of the 100 spread items from the file into SQLite's cache (the same pages on
  -- both sides: 12 to 19 ms of the first move, 1 to 2 ms each after) and puts the items
  -- in their places, so that every timed repetition does the same work.
  once()
  t0 = clock.now()
  for _ = 1, n do once() end
  t1 = clock.now()
elseif case == "createG" then
  local opts = { gallery = { name = "another gallery" } }
  t0 = clock.now()
  for _ = 1, n do check(s:createGallery(opts)) end
  t1 = clock.now()
else
  error("unknown case " .. tostring(case))
end
s:close()
io.write(("%.9f %d\n"):format(t1 - t0, n))
