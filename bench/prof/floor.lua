-- Is "createGalleryItems >= 0.7x raw C" reachable? Alternates, 7 times: raw C's
-- createGalleryItems(1,000) SQL work, progallery's call, and the marshalling floor
-- (marshal_floor.c: read 1,000 input items from Lua, build the 1,000 result tables;
-- no SQL). Prints medians in ms per 1,000-item call.
--   prof.sh floor      (needs the bench work dir: raw, empty.db, doc.json)
local common = require "common"
local clock = require "benchclock"
local floor = require "marshal_floor"
local W = assert(arg[1])
local function sh(cmd) local p = io.popen(cmd); local o = p:read("a"); p:close(); return o end
local function median(t) table.sort(t); return t[(#t + 1) // 2] end
local gid = assert(arg[2], "gallery id of empty.db")
local items = common.items(1000)
local N = 10
local r = { raw = {}, pg = {}, floor = {} }
for _ = 1, 7 do
  os.execute("cp " .. W .. "/empty.db " .. W .. "/f.db; rm -f " .. W .. "/f.db-wal " .. W .. "/f.db-shm")
  local out = sh(("%s/raw createN %s/f.db %d normal %s %s/doc.json"):format(W, W, N, gid, W))
  table.insert(r.raw, tonumber(out:match("^([%d.]+)")) / N * 1e3)
  os.execute("cp " .. W .. "/empty.db " .. W .. "/f.db; rm -f " .. W .. "/f.db-wal " .. W .. "/f.db-shm")
  local s = common.open("pg", W .. "/f.db", "normal")
  local t0 = clock.now()
  for _ = 1, N do assert(s:createGalleryItems(gid, items)) end
  table.insert(r.pg, (clock.now() - t0) / N * 1e3)
  s:close()
  t0 = clock.now()
  for _ = 1, N do floor.roundtrip(items) end
  table.insert(r.floor, (clock.now() - t0) / N * 1e3)
end
local raw, pg, fl = median(r.raw), median(r.pg), median(r.floor)
print(("ms per createGalleryItems(1,000): raw C SQL %.2f, progallery %.2f (%.2fx C), marshalling floor %.2f"):format(raw, pg, raw / pg, fl))
print(("best possible = raw + floor = %.2f ms = %.2fx raw C (target 0.7x needs <= %.2f ms)"):format(raw + fl, raw / (raw + fl), raw / 0.7))
