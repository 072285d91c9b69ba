-- Many-writers worker: one of N processes writing to one SQLite file at once.
-- lua5.4 mw_worker.lua DB LOG WID SECONDS BUSY_TIMEOUT_MS SEED [reader]
-- Every acknowledged write is appended to LOG (flushed) once the call returned.
-- A writer owns the galleries it created: only it changes them, so the final
-- content of each gallery follows from its owner's log alone. Other writers
-- clone them (a clone records what it got). Prints one line of counts; exits 1
-- on any unexpected result.
local R = dofile((os.getenv("PG_ROOT") or ".") .. "/reliability/lib.lua")
local pg = R.pg()

local db, logpath, wid, seconds, bt, seed, mode = arg[1], arg[2], arg[3], tonumber(arg[4]),
  tonumber(arg[5]), tonumber(arg[6]), arg[7]
math.randomseed(seed)
local reader = mode == "reader"

local store, err, code
for _ = 1, 50 do -- opening may meet the lock of another process creating the schema
  store, err, code = pg.open { path = db, caller = "admin", busyTimeout = bt }
  if store or code ~= "UNAVAILABLE" then break end
end
if not store then
  io.stderr:write(("worker %s: open failed: %s %s\n"):format(wid, tostring(err), tostring(code)))
  os.exit(1)
end
local ack = R.logger(logpath)
if os.getenv("PG_SABOTAGE") == "many-writers" and wid == "1" then -- self-test: lose every 20th ack
  local real, n = ack, 0
  ack = function(line) n = n + 1; if n % 20 ~= 0 then real(line) end end
end

local stats = { calls = 0, acks = 0, unavailable = 0, notfound = 0, failures = 0 }
local function fail(msg)
  stats.failures = stats.failures + 1
  io.stderr:write(("worker %s: FAIL %s\n"):format(wid, msg))
end

-- Runs fn; returns the result, or nil and the code of an allowed failure.
-- UNAVAILABLE is allowed only after waiting busyTimeout; NOT_FOUND only where
-- another process may have removed the target (`foreign`).
local function call(what, foreign, fn, ...)
  local t0 = R.now_ms()
  local res, e, c = fn(store, ...)
  local dt = R.now_ms() - t0
  stats.calls = stats.calls + 1
  if res then return res end
  if c == "UNAVAILABLE" then
    stats.unavailable = stats.unavailable + 1
    if dt + 20 < bt then -- /proc/uptime has 10 ms steps
      fail(("%s: UNAVAILABLE after %d ms, busyTimeout is %d ms: %s"):format(what, dt, bt, e))
    end
    return nil, c
  end
  if c == "NOT_FOUND" and foreign then
    stats.notfound = stats.notfound + 1
    return nil, c
  end
  fail(("%s: %s %s"):format(what, tostring(c), tostring(e)))
  return nil, c
end

local own, ownlist, foreign = {}, {}, {}
local seq = 0
local function title()
  seq = seq + 1
  return ("w%s-%d"):format(wid, seq)
end
local function pick(t) return t[math.random(#t)] end
local function item_input(t)
  local it = { title = t }
  if math.random(2) == 1 then it.image = { imageInfo = R.IMG } end
  if math.random(3) == 1 then it.description = ("d"):rep(math.random(0, 2000)) end
  return it
end
local function remember(gid, name, items)
  local rec = { name = name, items = {}, n = 0 }
  for _, it in ipairs(items) do rec.items[it._id] = it.title; rec.n = rec.n + 1 end
  own[gid] = rec
  ownlist[#ownlist + 1] = gid
end
local function forget(gid)
  own[gid] = nil
  for i, g in ipairs(ownlist) do if g == gid then table.remove(ownlist, i) break end end
end
local function item_ids(rec)
  local ids = {}
  for id in pairs(rec.items) do ids[#ids + 1] = id end
  table.sort(ids)
  return ids
end
-- All items of an own gallery (a clone may return more than one page).
local function all_items(g)
  local items, off = {}, 0
  while true do
    local p = call("listGalleryItems(own)", false, store.listGalleryItems, g, { itemOffset = off, itemLimit = 100 })
    if not p then return nil end
    for _, it in ipairs(p.items) do items[#items + 1] = it end
    if #p.items < 100 then return items end
    off = off + 100
  end
end

local function ack_items(prefix, items)
  local parts = { prefix }
  for _, it in ipairs(items) do parts[#parts + 1] = it._id .. " " .. it.title end
  ack(table.concat(parts, " "))
  stats.acks = stats.acks + 1
end

-- Snapshot invariants every read must show (each read is one transaction).
local function check_gallery(gal, limit)
  local want = math.min(gal.totalItems, limit)
  if #gal.items ~= want then
    fail(("gallery %s: %d items in a page of %d, totalItems %d"):format(gal._id, #gal.items, limit, gal.totalItems))
  end
end

local ops = {}
function ops.create()
  local k = math.random(0, 4)
  local items = {}
  for i = 1, k do items[i] = item_input(title()) end
  local name = "g" .. title()
  local g = call("createGallery", false, store.createGallery, { gallery = { name = name, items = items } })
  if not g then return end
  if #g.items ~= k then fail("createGallery returned " .. #g.items .. " items, sent " .. k) end
  remember(g._id, name, g.items)
  ack_items(("G %s %s"):format(g._id, name), g.items)
end
function ops.add()
  if #ownlist == 0 then return ops.create() end
  local gid = pick(ownlist)
  local rec = own[gid]
  if rec.n >= 40 then return ops.update() end
  local k = math.random(1, 5)
  local res
  if k == 1 then
    local it = call("createGalleryItem", false, store.createGalleryItem, gid, item_input(title()))
    res = it and { items = { it } }
  else
    local items = {}
    for i = 1, k do items[i] = item_input(title()) end
    res = call("createGalleryItems", false, store.createGalleryItems, gid, items)
  end
  if not res then return end
  for _, it in ipairs(res.items) do rec.items[it._id] = it.title; rec.n = rec.n + 1 end
  ack_items("I " .. gid, res.items)
end
function ops.update()
  if #ownlist == 0 then return ops.create() end
  local gid = pick(ownlist)
  local ids = item_ids(own[gid])
  if #ids == 0 then return ops.add() end
  local id, t = pick(ids), title()
  local it = call("updateGalleryItem", false, store.updateGalleryItem, { galleryId = gid, itemId = id }, { title = t })
  if not it then return end
  if it.title ~= t then fail("updateGalleryItem returned title " .. tostring(it.title)) end
  own[gid].items[id] = t
  ack(("U %s %s %s"):format(gid, id, t)); stats.acks = stats.acks + 1
end
function ops.clone()
  local pool = {}
  for _, g in ipairs(ownlist) do pool[#pool + 1] = g end
  for _, g in ipairs(foreign) do pool[#pool + 1] = g end
  if #pool == 0 then return ops.create() end
  local src = pick(pool)
  local opts = { cloneFromGalleryId = src }
  local name
  if math.random(2) == 1 then
    name = "c" .. title()
    local extra = {}
    for i = 1, math.random(0, 2) do extra[i] = item_input(title()) end
    opts.gallery = { name = name, items = extra }
  end
  local g = call("createGallery(clone)", not own[src], store.createGallery, opts)
  if not g then return end
  local items = g.items
  if g.totalItems > #items then items = all_items(g._id) end
  if not items then return end
  if #items ~= g.totalItems then fail("clone: listed " .. #items .. " of " .. g.totalItems) end
  if own[src] and g.totalItems < own[src].n then fail("clone of own gallery lost items") end
  remember(g._id, g.name, items)
  ack_items(("C %s %s"):format(g._id, g.name or "-"), items)
end
function ops.bulk()
  if #ownlist == 0 then return ops.create() end
  local gid = pick(ownlist)
  local ids = item_ids(own[gid])
  if #ids == 0 then return ops.add() end
  local del = {}
  for _ = 1, math.random(1, 3) do del[#del + 1] = pick(ids) end
  del[#del + 1] = "00000000-0000-4000-8000-000000000000" -- not in the gallery: skipped
  local res = call("bulkDeleteGalleryItems", false, store.bulkDeleteGalleryItems, gid, del)
  if not res then return end
  local seen = {}
  for _, id in ipairs(del) do if own[gid].items[id] then seen[id] = true end end
  local n = 0
  for _ in pairs(seen) do n = n + 1 end
  if #res.itemIds ~= n then fail(("bulkDelete: %d deleted, expected %d"):format(#res.itemIds, n)) end
  for _, id in ipairs(res.itemIds) do
    own[gid].items[id] = nil
    own[gid].n = own[gid].n - 1
  end
  ack("X " .. gid .. " " .. table.concat(res.itemIds, " ")); stats.acks = stats.acks + 1
end
function ops.delitem()
  if #ownlist == 0 then return ops.create() end
  local gid = pick(ownlist)
  local ids = item_ids(own[gid])
  if #ids == 0 then return ops.add() end
  local id = pick(ids)
  local res = call("deleteGalleryItem", false, store.deleteGalleryItem, { galleryId = gid, itemId = id })
  if not res then return end
  own[gid].items[id] = nil
  own[gid].n = own[gid].n - 1
  ack(("D %s %s"):format(gid, id)); stats.acks = stats.acks + 1
end
function ops.rename()
  if #ownlist == 0 then return ops.create() end
  local gid, name = pick(ownlist), "n" .. title()
  local g = call("updateGallery", false, store.updateGallery, gid, { name = name })
  if not g then return end
  if g.totalItems ~= own[gid].n then fail(("updateGallery: totalItems %d, own count %d"):format(g.totalItems, own[gid].n)) end
  own[gid].name = name
  ack(("N %s %s"):format(gid, name)); stats.acks = stats.acks + 1
end
function ops.delete()
  if #ownlist < 3 then return ops.create() end
  local gid = pick(ownlist)
  local res = call("deleteGallery", false, store.deleteGallery, gid)
  if not res then return end
  forget(gid)
  ack("R " .. gid); stats.acks = stats.acks + 1
end
function ops.read()
  local page = call("listGalleries", false, store.listGalleries,
    { limit = 10, offset = math.random(0, 60), itemLimit = 100 })
  if page then
    for _, g in ipairs(page.galleries) do
      check_gallery(g, 100)
      if not own[g._id] and #foreign < 200 then foreign[#foreign + 1] = g._id end
    end
  end
  if #foreign > 0 then
    local g = call("getGallery", true, store.getGallery, pick(foreign), { itemLimit = 100 })
    if g then check_gallery(g, 100) end
  end
end

local weights = reader and { { "read", 1 } } or {
  { "create", 12 }, { "add", 25 }, { "update", 20 }, { "clone", 10 }, { "bulk", 10 },
  { "delitem", 5 }, { "rename", 5 }, { "delete", 3 }, { "read", 10 },
}
local total = 0
for _, w in ipairs(weights) do total = total + w[2] end

local deadline = R.now_ms() + seconds * 1000
while R.now_ms() < deadline do
  local r, op = math.random(total), nil
  for _, w in ipairs(weights) do
    if r <= w[2] then op = w[1] break end
    r = r - w[2]
  end
  ops[op]()
end
store:close()
print(("worker %s%s: %d calls, %d acked writes, %d unavailable, %d not found, %d failures"):format(
  wid, reader and " (reader)" or "", stats.calls, stats.acks, stats.unavailable, stats.notfound, stats.failures))
os.exit(stats.failures == 0 and 0 or 1, true)
