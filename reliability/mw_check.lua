-- Many-writers checker: replays every worker's acknowledgement log and compares
-- the result with the file, gallery by gallery and item by item.
-- lua5.4 mw_check.lua DB LOG...
-- Prints "check: ..." and exits 1 on any difference.
local R = dofile((os.getenv("PG_ROOT") or ".") .. "/reliability/lib.lua")
local pg = R.pg()
local db = arg[1]

local model, problems, acks = {}, {}, 0
local function problem(fmt, ...) problems[#problems + 1] = fmt:format(...) end

local function items_from(w, first)
  local t = {}
  for i = first, #w - 1, 2 do t[w[i]] = w[i + 1] end
  return t
end

for i = 2, #arg do
  for _, line in ipairs(R.read_lines(arg[i])) do
    local w = R.split(line)
    local op, gid = w[1], w[2]
    acks = acks + 1
    if op == "G" or op == "C" then
      if model[gid] then problem("gallery %s created twice", gid) end
      model[gid] = { name = w[3] ~= "-" and w[3] or nil, items = items_from(w, 4) }
    elseif not model[gid] then
      problem("log %s: %s on unknown gallery %s", arg[i], op, gid)
    elseif op == "I" then
      for id, t in pairs(items_from(w, 3)) do
        if model[gid].items[id] then problem("item %s created twice", id) end
        model[gid].items[id] = t
      end
    elseif op == "U" then
      if not model[gid].items[w[3]] then problem("update of unknown item %s", w[3]) end
      model[gid].items[w[3]] = w[4]
    elseif op == "X" then
      for j = 3, #w do model[gid].items[w[j]] = nil end
    elseif op == "D" then
      model[gid].items[w[3]] = nil
    elseif op == "N" then
      model[gid].name = w[3]
    elseif op == "R" then
      model[gid] = nil
    else
      problem("bad log line: %s", line)
    end
  end
end

local raw = R.raw_checks(db)
for _, p in ipairs(raw or {}) do problem("%s", p) end

local store = assert(pg.open { path = db, caller = "admin" })
local st = R.dump(store)
store:close()

local ng, ni, dbg, dbi = 0, 0, 0, 0
for gid, m in pairs(model) do
  ng = ng + 1
  local g = st.g[gid]
  if not g then
    problem("acknowledged gallery %s is missing", gid)
  else
    if g.name ~= m.name then problem("gallery %s: name %s, acknowledged %s", gid, tostring(g.name), tostring(m.name)) end
    local seen = {}
    for _, it in ipairs(g.items) do
      seen[it._id] = true
      if m.items[it._id] == nil then
        problem("gallery %s: item %s (%s) was never acknowledged", gid, it._id, tostring(it.title))
      elseif m.items[it._id] ~= it.title then
        problem("item %s: title %s, acknowledged %s", it._id, tostring(it.title), m.items[it._id])
      end
    end
    for id in pairs(m.items) do
      ni = ni + 1
      if not seen[id] then problem("gallery %s: acknowledged item %s is missing", gid, id) end
    end
    if g.totalItems ~= #g.items then problem("gallery %s: totalItems %d, %d items", gid, g.totalItems, #g.items) end
  end
end
for _, gid in ipairs(st.order) do
  dbg = dbg + 1
  dbi = dbi + #st.g[gid].items
  if not model[gid] then problem("gallery %s (%s) was never acknowledged", gid, tostring(st.g[gid].name)) end
end
local rg, ri = R.raw_counts(db)
if rg ~= ng or ri ~= ni then problem("sqlite3 counts %s galleries / %s items, acknowledged %d / %d", rg, ri, ng, ni) end

for i = 1, math.min(#problems, 20) do io.stderr:write("check: FAIL " .. problems[i] .. "\n") end
print(("check: %d acknowledged writes replayed; expected %d galleries / %d items; file has %d / %d; integrity %s; %d problems"):format(
  acks, ng, ni, dbg, dbi, raw and "FAILED" or "ok", #problems))
os.exit(#problems == 0 and 0 or 1)
