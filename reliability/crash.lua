-- Crash harness: runs crash_child.lua on one file, kills it with SIGKILL after a
-- random delay, and checks the file after every kill:
--   * PRAGMA integrity_check is ok, no orphan items, item_count right (sqlite3 CLI);
--   * the content equals what the acknowledged calls say, gallery by gallery and
--     item by item (ids, titles, description sizes, order, names);
--   * the one call in flight at the kill (intent without acknowledgement) is
--     either wholly there or not at all: a clone has every item of its source
--     or does not exist, a batch or a bulk delete is all or nothing;
--   * the event feed holds exactly the committed changes: replayed from its first
--     event it reproduces the file's galleries and items, seq without a gap.
-- lua5.4 crash.lua ROUNDS [MAX_SECONDS] [SEED]   (CRASH_KEEP=dir keeps the first failing round's files)
-- The same file is reused by every round, so every recovery is exercised.
local R = dofile((os.getenv("PG_ROOT") or ".") .. "/reliability/lib.lua")
local pg = R.pg()
local rounds, max_secs, seed = tonumber(arg[1] or 100), tonumber(arg[2] or 120), tonumber(arg[3] or 1)
math.randomseed(seed)
local LUA = os.getenv("LUA") or "lua5.4"
local dir = R.sh("mktemp -d")
local db = dir .. "/crash.db"

local model = { g = {} } -- gid -> { name, items = { {id=, t=, d=} } }
local failures, problems_total, acked, pending_applied, pending_absent, killed = 0, 0, 0, 0, 0, 0
local started = R.now_ms()

local function parse_tok(s)
  local t, d = s:match("^(.-):(%d+)$")
  return { t = t, d = tonumber(d) }
end

-- The effect of a call on a copy of the model. ids = the acknowledged ids, or
-- nil for a call in flight (its new ids are then taken from the file).
local function copy_items(items)
  local t = {}
  for i, it in ipairs(items) do t[i] = { id = it.id, t = it.t, d = it.d } end
  return t
end
local function apply(m, w, ack)
  local op = w[2]
  local aw = ack and R.split(ack) or nil
  if op == "CG" or op == "CL" then
    local name, items, first
    if op == "CG" then
      name, items, first = w[3], {}, 4
    else
      local src = m.g[w[3]]
      if not src then return "clone of a gallery the model does not have: " .. w[3] end
      name = w[4] ~= "-" and w[4] or src.name
      items, first = copy_items(src.items), 5
      for _, it in ipairs(items) do it.id = nil end
    end
    for i = first, #w do local it = parse_tok(w[i]); items[#items + 1] = it end
    local gid = aw and aw[3] or "?"
    if aw then
      if #aw - 3 ~= #items then
        return ("%s acknowledged %d items, expected %d"):format(op, #aw - 3, #items)
      end
      for i, it in ipairs(items) do it.id = aw[3 + i] end
    end
    m.g[gid] = { name = name, items = items }
  elseif not m.g[w[3]] then
    return op .. " on a gallery the model does not have: " .. w[3]
  elseif op == "CI" then
    local items = m.g[w[3]].items
    for i = 4, #w do
      local it = parse_tok(w[i])
      if aw then it.id = aw[i] end
      items[#items + 1] = it
    end
    if aw and #aw - 3 ~= #w - 3 then return "CI acknowledged a different number of items" end
  elseif op == "UI" then
    for _, it in ipairs(m.g[w[3]].items) do
      if it.id == w[4] then local n = parse_tok(w[5]); it.t, it.d = n.t, n.d end
    end
  elseif op == "BD" then
    local del = {}
    for i = 4, #w do del[w[i]] = true end
    local keep = {}
    for _, it in ipairs(m.g[w[3]].items) do if not del[it.id] then keep[#keep + 1] = it end end
    m.g[w[3]].items = keep
  elseif op == "DG" then
    m.g[w[3]] = nil
  elseif op == "UG" then
    m.g[w[3]].name = w[4]
  end
end

local function deep_copy(m)
  local c = { g = {} }
  for gid, g in pairs(m.g) do c.g[gid] = { name = g.name, items = copy_items(g.items) } end
  return c
end

-- Compares a model with the file's content; a gallery keyed "?" (a create in
-- flight) matches the one gallery of the file the model lacks, and items
-- without id match by position. On success fills in the ids.
local function compare(m, st)
  local probs = {}
  local function p(fmt, ...) probs[#probs + 1] = fmt:format(...) end
  local extra = {}
  for _, gid in ipairs(st.order) do if not m.g[gid] then extra[#extra + 1] = gid end end
  local pairs_ = {}
  for gid, g in pairs(m.g) do
    if gid == "?" then
      if #extra ~= 1 then p("a create in flight: %d new galleries in the file", #extra)
      else pairs_[#pairs_ + 1] = { g, st.g[extra[1]], extra[1] } end
    elseif not st.g[gid] then
      p("gallery %s is missing", gid)
    else
      pairs_[#pairs_ + 1] = { g, st.g[gid], gid }
    end
  end
  if not m.g["?"] and #extra > 0 then p("%d galleries in the file were never acknowledged (first %s)", #extra, extra[1]) end
  for _, pr in ipairs(pairs_) do
    local g, f, gid = pr[1], pr[2], pr[3]
    if g.name ~= f.name then p("gallery %s: name %s, expected %s", gid, tostring(f.name), tostring(g.name)) end
    if #f.items ~= #g.items or f.totalItems ~= #g.items then
      p("gallery %s: %d items (totalItems %d), expected %d", gid, #f.items, f.totalItems, #g.items)
    else
      for i, it in ipairs(g.items) do
        local fi = f.items[i]
        local fd = fi.description and #fi.description or 0
        if (it.id and it.id ~= fi._id) or it.t ~= fi.title or it.d ~= fd then
          p("gallery %s item %d: %s %s/%d, expected %s %s/%d", gid, i, fi._id, tostring(fi.title), fd,
            tostring(it.id), it.t, it.d)
          break
        end
      end
    end
  end
  if #probs > 0 then return probs end
  if m.g["?"] then m.g[extra[1]] = m.g["?"]; m.g["?"] = nil end
  for _, pr in ipairs(pairs_) do
    for i, it in ipairs(pr[1].items) do it.id = pr[2].items[i]._id end
  end
  return nil
end

local function count(m)
  local g, i = 0, 0
  for _, x in pairs(m.g) do g = g + 1; i = i + #x.items end
  return g, i
end

local round = 0
while round < rounds and (R.now_ms() - started) < max_secs * 1000 do
  round = round + 1
  local log = ("%s/log.%d"):format(dir, round)
  local delay = round == 1 and 0.005 or math.random(20, 300) / 1000
  local sync = round % 2 == 0 and "full" or "normal"
  local cmd = ("%s %s/reliability/crash_child.lua %s %s %d %s 2>>%s/child.err & p=$!; sleep %.3f; kill -9 $p 2>/dev/null; wait $p 2>/dev/null; echo $? > %s/rc")
    :format(LUA, R.root, R.q(db), R.q(log), seed * 1000 + round, sync, dir, delay, dir)
  os.execute("{ " .. cmd .. "; } 2>/dev/null")
  local rc = R.sh("cat " .. dir .. "/rc")
  local probs = {}
  if rc == "137" then killed = killed + 1 else
    probs[#probs + 1] = "child ended by itself with status " .. rc .. ": " .. R.sh("tail -n 5 " .. dir .. "/child.err")
  end

  -- acknowledged calls, and the one in flight
  local lines = R.read_lines(log)
  local pending
  local i = 1
  while i <= #lines do
    local w = R.split(lines[i])
    if w[1] == "E" then
      probs[#probs + 1] = "child: " .. lines[i]
    elseif w[1] == "T" then
      local nxt = lines[i + 1]
      if nxt and nxt:sub(1, 1) == "A" then
        local e = apply(model, w, nxt)
        if e then probs[#probs + 1] = e end
        acked = acked + 1
        i = i + 1
      elseif nxt then
        probs[#probs + 1] = "log: intent without acknowledgement before another line: " .. lines[i]
      else
        pending = w
      end
    end
    i = i + 1
  end

  local f = io.open(db)
  if f then
    f:close()
    for _, p in ipairs(R.raw_checks(db) or {}) do probs[#probs + 1] = p end
    local store, err, code = pg.open { path = db, caller = "admin" }
    if not store then
      probs[#probs + 1] = ("reopen: %s %s"):format(tostring(err), tostring(code))
    else
      local ok, st = pcall(R.dump, store)
      local feed_probs = ok and R.feed_check(store, st) or {}
      store:close()
      for _, fp in ipairs(feed_probs) do probs[#probs + 1] = "feed: " .. fp end
      if not ok then
        probs[#probs + 1] = "read back: " .. tostring(st)
      else
        local diff = compare(model, st)
        if diff and pending then
          local m2 = deep_copy(model)
          local e = apply(m2, pending, nil)
          local diff2 = e and { e } or compare(m2, st)
          if diff2 then
            probs[#probs + 1] = "the file matches neither the acknowledged calls nor those plus the call in flight ("
              .. pending[2] .. "): " .. table.concat(diff, "; "):sub(1, 400) .. " | with it: "
              .. table.concat(diff2, "; "):sub(1, 400)
          else
            model = m2
            pending_applied = pending_applied + 1
          end
        elseif diff then
          probs[#probs + 1] = "the file differs from the acknowledged calls: " .. table.concat(diff, "; "):sub(1, 600)
        elseif pending then
          pending_absent = pending_absent + 1
        end
        local ng, ni = count(model)
        local rg, ri = R.raw_counts(db)
        if rg ~= ng or ri ~= ni then
          probs[#probs + 1] = ("sqlite3 counts %s galleries / %s items, model %d / %d"):format(rg, ri, ng, ni)
        end
      end
    end
  elseif #lines > 0 then
    probs[#probs + 1] = "the file is gone"
  end
  if #probs > 0 then
    failures = failures + 1
    problems_total = problems_total + #probs
    io.stderr:write(("crash round %d (kill after %.0f ms, synchronous=%s):\n  %s\n"):format(
      round, delay * 1000, sync, table.concat(probs, "\n  ")))
    -- CRASH_KEEP=dir: the file and the children's logs as the first failing round left them
    local keep = os.getenv("CRASH_KEEP")
    if keep and failures == 1 then
      os.execute(("rm -rf %s && cp -r %s %s"):format(R.q(keep), R.q(dir), R.q(keep)))
      io.stderr:write("crash: the file and logs of round " .. round .. " kept in " .. keep .. "\n")
      break
    end
    if failures >= 5 then break end
  end
end

local ng, ni = count(model)
print(("crash: %d rounds (%d SIGKILLs) in %.0f s, %d acknowledged calls all present, in flight at the kill: %d wholly applied / %d not at all; final %d galleries / %d items; integrity ok and the replayed feed equal to the file in every round unless listed; %d failures")
  :format(round, killed, (R.now_ms() - started) / 1000, acked, pending_applied, pending_absent, ng, ni, failures))
os.execute("rm -rf " .. R.q(dir))
os.exit(failures == 0 and 0 or 1)
