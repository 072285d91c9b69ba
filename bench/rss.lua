-- Peak RSS over N getGallery calls (default 1,000,000) of a 10-item gallery:
-- VmHWM and VmRSS from /proc/self/status, sampled every N/10 calls; growth
-- is the peak at the end minus the peak after the first sample (warm-up).
--   rss.lua DB GALLERY_ID [N]
local progallery = require "progallery"
local clock = require "benchclock"
local db, gid, n = arg[1], arg[2], tonumber(arg[3] or "1000000")

local function status()
  local f = assert(io.open("/proc/self/status"))
  local t = f:read("a")
  f:close()
  return tonumber(t:match("VmHWM:%s*(%d+)")), tonumber(t:match("VmRSS:%s*(%d+)"))
end

local s = assert(progallery.open{ path = db })
local step = n // 10
local first_hwm, samples = nil, {}
local t0 = clock.now()
for i = 1, n do
  local g = s:getGallery(gid)
  if not g or #g.items ~= 10 then error("getGallery failed at call " .. i) end
  if i % step == 0 then
    local hwm, rss = status()
    first_hwm = first_hwm or hwm
    samples[#samples + 1] = ("%dk:%d"):format(i // 1000, rss)
  end
end
local secs = clock.now() - t0
local hwm, rss = status()
s:close()
print(("RSS over %d getGallery calls (10-item gallery, %.1f us/call): VmHWM %d KiB after %d calls,"
       .. " %d KiB at the end: growth %d KiB (target < 1024 KiB: %s)."):format(
  n, secs / n * 1e6, first_hwm, step, hwm, hwm - first_hwm, hwm - first_hwm < 1024 and "PASS" or "MISS"))
print("VmRSS KiB by calls: " .. table.concat(samples, " "))
