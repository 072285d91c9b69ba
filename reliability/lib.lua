-- Shared helpers of the reliability harnesses (Lua 5.4; no C modules besides progallery).
-- Usage: local R = dofile(ROOT .. "/reliability/lib.lua")
-- Environment: PG_ROOT (repository root), PG_CPATH (directory with progallery.so;
-- default $PG_ROOT/build).
local R = {}

R.root = os.getenv("PG_ROOT") or "."
local cdir = os.getenv("PG_CPATH") or (R.root .. "/build")
package.path = R.root .. "/lua/?.lua;" .. package.path
package.cpath = cdir .. "/?.so;" .. package.cpath

function R.pg()
  return require "progallery"
end

-- Wall-clock milliseconds with 10 ms resolution (no luaposix here): /proc/uptime.
function R.now_ms()
  local f = io.open("/proc/uptime")
  local s = f:read("l")
  f:close()
  local a, b = s:match("^(%d+)%.(%d+)")
  return tonumber(a) * 1000 + tonumber(b) * (b:len() == 2 and 10 or 1)
end

function R.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Runs a shell command; returns its output (trailing white space removed) and success.
function R.sh(cmd)
  local f = io.popen(cmd .. " 2>&1")
  local out = f:read("a")
  local ok = f:close()
  return (out:gsub("%s+$", "")), ok
end

function R.sqlite(path, sql)
  return R.sh("sqlite3 " .. R.q(path) .. " " .. R.q(sql))
end

function R.split(line, sep)
  local t = {}
  for w in line:gmatch(sep and ("[^" .. sep .. "]+") or "%S+") do t[#t + 1] = w end
  return t
end

function R.rmdb(p)
  for _, s in ipairs { "", "-wal", "-shm", "-journal" } do os.remove(p .. s) end
end

-- Integrity and bookkeeping checks done with the sqlite3 CLI (not through the
-- library): returns nil or a list of problems.
function R.raw_checks(path)
  local problems = {}
  local out, ok = R.sqlite(path, "PRAGMA integrity_check;")
  if not ok or out ~= "ok" then problems[#problems + 1] = "integrity_check: " .. out end
  if R.sqlite(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('items', 'galleries');") == "0" then
    return #problems > 0 and problems or nil -- a file killed before its schema was made
  end
  out = R.sqlite(path, "SELECT count(*) FROM items WHERE gid NOT IN (SELECT gid FROM galleries);")
  if out ~= "0" then problems[#problems + 1] = "orphan items: " .. out end
  out = R.sqlite(path, "SELECT count(*) FROM galleries g WHERE item_count <> "
    .. "(SELECT count(*) FROM items i WHERE i.gid = g.gid);")
  if out ~= "0" then problems[#problems + 1] = "galleries whose item_count is wrong: " .. out end
  return #problems > 0 and problems or nil
end

function R.raw_counts(path)
  if R.sqlite(path, "SELECT count(*) FROM sqlite_master WHERE name = 'galleries';") == "0" then return 0, 0 end
  local g = R.sqlite(path, "SELECT count(*) FROM galleries;")
  local i = R.sqlite(path, "SELECT count(*) FROM items;")
  return tonumber(g), tonumber(i)
end

-- Reads the whole store through the API: { order = {gid...}, g = { [gid] = {
-- name, totalItems, items = { {id, title, doc...}... } } } }. Raises on error.
function R.dump(store)
  local st = { order = {}, g = {} }
  local offset = 0
  while true do
    local page, err, code = store:listGalleries { limit = 10, offset = offset, itemLimit = 1 }
    assert(page, "listGalleries: " .. tostring(err) .. " " .. tostring(code))
    for _, gal in ipairs(page.galleries) do
      local rec = { name = gal.name, totalItems = gal.totalItems, items = {}, raw = gal }
      local io_ = 0
      while true do
        local p, e2, c2 = store:listGalleryItems(gal._id, { itemOffset = io_, itemLimit = 100 })
        assert(p, "listGalleryItems: " .. tostring(e2) .. " " .. tostring(c2))
        for _, it in ipairs(p.items) do rec.items[#rec.items + 1] = it end
        if #p.items < 100 then break end
        io_ = io_ + 100
      end
      st.order[#st.order + 1] = gal._id
      st.g[gal._id] = rec
    end
    if #page.galleries < 10 then break end
    offset = offset + 10
  end
  return st
end

-- The event feed (spec section 10) replayed from its first event into galleries and
-- items, and compared with a dump of the store (R.dump): the feed must hold exactly the
-- committed changes. Returns a list of problems (empty: the feed reproduces the store).
-- Also checks that seq runs 1, 2, 3, ... without a gap (nothing is pruned by default).
function R.feed_check(store, st)
  local probs, galleries, items, after, expect = {}, {}, {}, 0, 1
  local function p(fmt, ...) if #probs < 10 then probs[#probs + 1] = fmt:format(...) end end
  while true do
    local page, err, code = store:events { after = after, limit = 1000 }
    if not page then p("events after %d: %s %s", after, tostring(err), tostring(code)); return probs end
    for _, e in ipairs(page.events) do
      local m = e.metadata
      if m.seq ~= expect then p("seq %d where %d was next", m.seq, expect) end
      expect = m.seq + 1
      local gid = m.entityId
      if m.slug == "created" then
        if galleries[gid] then p("gallery %s created twice", gid) end
        galleries[gid] = { name = e.entity.name, items = {} }
      elseif m.slug == "updated" then
        if not galleries[gid] then p("update of gallery %s before its creation", gid)
        else galleries[gid].name = e.entity.name end
      elseif m.slug == "deleted" then
        if not galleries[gid] then p("deletion of gallery %s that was never created", gid) end
        for id, it in pairs(items) do if it.gid == gid then p("gallery %s deleted before its item %s", gid, id) end end
        galleries[gid] = nil
      elseif m.slug == "gallery_item_created" or m.slug == "gallery_item_updated" then
        local it = e.data.item or e.data.updatedItem
        if not galleries[gid] then p("item %s in gallery %s that does not exist", it._id, gid) end
        if m.slug == "gallery_item_created" and items[it._id] then p("item %s created twice", it._id) end
        if m.slug == "gallery_item_updated" and not items[it._id] then p("item %s updated before its creation", it._id) end
        items[it._id] = { gid = gid, title = it.title, d = it.description and #it.description or 0 }
      else
        if not items[e.data.itemId] then p("item %s deleted but never created", e.data.itemId) end
        items[e.data.itemId] = nil
      end
      after = m.seq
    end
    if #page.events < 1000 then break end
  end
  local live = 0
  for _, gid in ipairs(st.order) do
    local g, r = st.g[gid], galleries[gid]
    live = live + 1
    if not r then p("gallery %s is in the store, not in the replayed feed", gid)
    else
      if r.name ~= g.name then p("gallery %s: the feed says name %s, the store %s", gid, tostring(r.name), tostring(g.name)) end
      for _, it in ipairs(g.items) do
        local ri = items[it._id]
        if not ri then p("item %s is in the store, not in the replayed feed", it._id)
        elseif ri.gid ~= gid or ri.title ~= it.title or ri.d ~= (it.description and #it.description or 0) then
          p("item %s differs between the feed and the store", it._id)
        end
        items[it._id] = nil
      end
    end
  end
  local n = 0
  for _ in pairs(galleries) do n = n + 1 end
  if n ~= live then p("the replayed feed has %d galleries, the store %d", n, live) end
  for id in pairs(items) do p("item %s is in the replayed feed, not in the store", id); break end
  return probs, after
end

-- Writes a line and flushes it: an acknowledgement is on disk (in the page
-- cache, which survives SIGKILL) before the next call starts.
function R.logger(path)
  local f = assert(io.open(path, "a"))
  f:setvbuf("full", 1048576)
  return function(line)
    f:write(line, "\n")
    f:flush()
  end, f
end

-- Complete lines of a log; a last line without its newline is not returned.
function R.read_lines(path)
  local f = io.open(path, "rb")
  if not f then return {} end
  local data = f:read("a")
  f:close()
  local lines = {}
  for l in data:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  return lines
end

R.IMG = "wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/a.jpg#originWidth=200&originHeight=199"

-- Length of the valid UTF-8 character at s[i] (1 to 4), or nil (a NUL byte
-- counts as not text here, as in the core).
local function utf8_char(s, i)
  local c = s:byte(i)
  if not c or c == 0 then return nil end
  if c < 0x80 then return 1 end
  local n, min, cp
  if c >= 0xC2 and c <= 0xDF then n, min, cp = 2, 0x80, c - 0xC0
  elseif c >= 0xE0 and c <= 0xEF then n, min, cp = 3, 0x800, c - 0xE0
  elseif c >= 0xF0 and c <= 0xF4 then n, min, cp = 4, 0x10000, c - 0xF0
  else return nil end
  for j = i + 1, i + n - 1 do
    local b = s:byte(j)
    if not b or b < 0x80 or b > 0xBF then return nil end
    cp = cp * 64 + (b - 0x80)
  end
  if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return nil end
  return n
end

-- s is valid UTF-8 with no control characters (what every message must be).
function R.is_text(s)
  local i = 1
  while i <= #s do
    local n = utf8_char(s, i)
    if not n or (n == 1 and (s:byte(i) < 0x20 or s:byte(i) == 0x7F)) then return false end
    i = i + n
  end
  return true
end

-- A key as messages name it (an oracle for the core's rule, written anew):
-- UTF-8 text as it is, a backslash doubled, any other byte as \xHH.
function R.escaped(s)
  local out, i = {}, 1
  while i <= #s do
    local n, c = utf8_char(s, i), s:byte(i)
    if n and n > 1 then out[#out + 1] = s:sub(i, i + n - 1); i = i + n
    elseif c == 0x5C then out[#out + 1] = "\\\\"; i = i + 1
    elseif c >= 0x20 and c < 0x7F then out[#out + 1] = string.char(c); i = i + 1
    else out[#out + 1] = ("\\x%02x"):format(c); i = i + 1 end
  end
  return table.concat(out)
end

return R
