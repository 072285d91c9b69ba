-- Crash harness child: mixed writes in a loop until it is killed (SIGKILL).
-- lua5.4 crash_child.lua DB LOG SEED SYNC
-- Before each call it logs its intent ("T ..."), after the call returned its
-- acknowledgement ("A ..."), each line written and flushed at once. Titles are
-- unique ("r<seed>s<n>") and carry the description length ("title:len").
-- Any failed call is logged as "E ..." and ends the child with status 3.
local R = dofile((os.getenv("PG_ROOT") or ".") .. "/reliability/lib.lua")
local pg = R.pg()
local db, logpath, seed, sync = arg[1], arg[2], tonumber(arg[3]), arg[4]
math.randomseed(seed)
local log = R.logger(logpath)
local SABOTAGE = os.getenv("PG_SABOTAGE") == "crash"

local store, err, code = pg.open { path = db, caller = "admin", synchronous = sync }
if not store then log(("E open %s %s"):format(code, err)) os.exit(3) end

-- What the child knows: galleries (id -> { items = { {id=, t=} } }) and the id list.
local state = R.dump(store)
local gids = {}
for _, gid in ipairs(state.order) do gids[#gids + 1] = gid end
local total = 0
for _, g in pairs(state.g) do total = total + #g.items end

local seq = 0
local function tok()
  seq = seq + 1
  return ("r%ds%d:%d"):format(seed, seq, math.random(0, 3) == 0 and math.random(0, 1500) or 0)
end
local function item_of(token)
  local t, d = token:match("^(.-):(%d+)$")
  local it = { title = t, image = { imageInfo = R.IMG } }
  if tonumber(d) > 0 then it.description = ("x"):rep(tonumber(d)) end
  return it
end
local function check(what, res, e, c)
  if not res then
    log(("E %s %s %s"):format(what, tostring(c), tostring(e)))
    os.exit(3)
  end
  return res
end
local function pick(t) return t[math.random(#t)] end
local function all_items(gid)
  local items, off = {}, 0
  while true do
    local p = check("list", store:listGalleryItems(gid, { itemOffset = off, itemLimit = 100 }))
    for _, it in ipairs(p.items) do items[#items + 1] = it end
    if #p.items < 100 then return items end
    off = off + 100
  end
end
local function ids_of(items)
  local t = {}
  for i, it in ipairs(items) do t[i] = it._id end
  return table.concat(t, " ")
end
local function tokens(k)
  local t = {}
  for i = 1, k do t[i] = tok() end
  return t
end
local function inputs(toks)
  local t = {}
  for i, s in ipairs(toks) do t[i] = item_of(s) end
  return t
end
local function new_gallery(gid, items)
  state.g[gid] = { items = items }
  gids[#gids + 1] = gid
  total = total + #items
end

local ops = {}
function ops.CG()
  local toks = tokens(math.random(0, 60))
  local name = "g" .. tok():match("^[^:]+")
  log(("T CG %s %s"):format(name, table.concat(toks, " ")))
  local g = check("CG", store:createGallery { gallery = { name = name, items = inputs(toks) } })
  local items = g.totalItems > #g.items and all_items(g._id) or g.items -- a page is 50 items
  log(("A CG %s %s"):format(g._id, ids_of(items)))
  new_gallery(g._id, items)
end
function ops.CL()
  if #gids == 0 then return ops.CG() end
  local src = pick(gids)
  local name = math.random(2) == 1 and ("c" .. tok():match("^[^:]+")) or "-"
  local toks = tokens(math.random(0, 3))
  log(("T CL %s %s %s"):format(src, name, table.concat(toks, " ")))
  local opts = { cloneFromGalleryId = src }
  if name ~= "-" or #toks > 0 then
    opts.gallery = { items = inputs(toks), name = name ~= "-" and name or nil }
  end
  local g = check("CL", store:createGallery(opts))
  local items = all_items(g._id)
  log(("A CL %s %s"):format(g._id, ids_of(items)))
  new_gallery(g._id, items)
end
function ops.CI()
  if #gids == 0 then return ops.CG() end
  local gid = pick(gids)
  local toks = tokens(math.random(1, 200))
  log(("T CI %s %s"):format(gid, table.concat(toks, " ")))
  local res
  if SABOTAGE then -- not atomic: one call per item, acked as one batch
    res = { items = {} }
    for i, it in ipairs(inputs(toks)) do
      res.items[i] = check("CI", store:createGalleryItem(gid, it))
    end
  else
    res = check("CI", store:createGalleryItems(gid, inputs(toks)))
  end
  log(("A CI %s %s"):format(gid, ids_of(res.items)))
  for _, it in ipairs(res.items) do table.insert(state.g[gid].items, it) end
  total = total + #res.items
end
function ops.UI()
  if #gids == 0 then return ops.CG() end
  local gid = pick(gids)
  local items = state.g[gid].items
  if #items == 0 then return ops.CI() end
  local it = pick(items)
  local t = tok()
  log(("T UI %s %s %s"):format(gid, it._id, t))
  local new = item_of(t)
  new.description = new.description or pg.null
  check("UI", store:updateGalleryItem({ galleryId = gid, itemId = it._id }, new))
  log("A UI")
end
function ops.BD()
  if #gids == 0 then return ops.CG() end
  local gid = pick(gids)
  local items = state.g[gid].items
  if #items == 0 then return ops.CI() end
  local del, set = {}, {}
  for _ = 1, math.random(1, math.min(50, #items)) do
    local id = pick(items)._id
    del[#del + 1] = id
    set[id] = true
  end
  log(("T BD %s %s"):format(gid, table.concat(del, " ")))
  local res = check("BD", store:bulkDeleteGalleryItems(gid, del))
  log(("A BD %s"):format(table.concat(res.itemIds, " ")))
  local keep = {}
  for _, it in ipairs(items) do if not set[it._id] then keep[#keep + 1] = it end end
  total = total - (#items - #keep)
  state.g[gid].items = keep
end
function ops.DG()
  if #gids == 0 then return ops.CG() end
  local i = math.random(#gids)
  local gid = gids[i]
  log(("T DG %s"):format(gid))
  check("DG", store:deleteGallery(gid))
  log("A DG")
  total = total - #state.g[gid].items
  state.g[gid] = nil
  table.remove(gids, i)
end
function ops.UG()
  if #gids == 0 then return ops.CG() end
  local gid = pick(gids)
  local name = "n" .. tok():match("^[^:]+")
  log(("T UG %s %s"):format(gid, name))
  check("UG", store:updateGallery(gid, { name = name }))
  log("A UG")
end

local weights = { { "CG", 10 }, { "CL", 15 }, { "CI", 25 }, { "UI", 20 }, { "BD", 15 }, { "DG", 5 }, { "UG", 10 } }
while true do
  local op
  if total > 3000 or #gids > 60 then
    op = "DG"
  else
    local r = math.random(100)
    for _, w in ipairs(weights) do
      if r <= w[2] then op = w[1] break end
      r = r - w[2]
    end
  end
  ops[op]()
end
