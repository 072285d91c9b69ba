-- The writer and the arithmetic of bench/webhooks.sh: writes CALLS x createGalleryItems of
-- BATCH items to the served file as fast as it can, waits (bounded) until the sink has every
-- event, and prints events/s delivered and the commit-to-receipt lag.
--   lua5.4 bench/webhooks.lua DB LAGS CALLS BATCH
local progallery = require "progallery"
local db, lags, calls, batch = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
local store = assert(progallery.open { path = db, caller = "admin", synchronous = "normal" })
local function now_ms()
  local p = io.popen("date +%s%3N"); local t = tonumber(p:read("*l")); p:close(); return t
end
local function arrived()
  local rows = {}
  local f = io.open(lags)
  if f then
    for line in f:lines() do
      local at, lag = line:match("^(%d+) (%-?%d+) ")
      if at then rows[#rows + 1] = { tonumber(at), tonumber(lag) } end
    end
    f:close()
  end
  return rows
end
local function wait_for(want)
  local rows, deadline = nil, now_ms() + 120000
  repeat
    os.execute("sleep 0.2")
    rows = arrived()
  until #rows >= want or now_ms() > deadline
  if #rows < want then
    print(("bench-webhooks: only %d of %d events arrived within 120 s"):format(#rows, want))
    os.exit(1)
  end
  return rows
end
local function lag_stats(rows, from)
  local sorted = {}
  for i = from, #rows do sorted[#sorted + 1] = rows[i][2] end
  table.sort(sorted)
  local function pct(p) return sorted[math.max(1, math.ceil(#sorted * p))] end
  return pct(0.5), pct(0.99), sorted[#sorted]
end
local g = assert(store:createGallery { gallery = { name = "bench" } })
local items = {}
for i = 1, batch do items[i] = { title = "item " .. i, image = { imageInfo = "https://example.com/" .. i .. ".jpg" } } end
local t0 = now_ms()
for _ = 1, calls do assert(store:createGalleryItems(g._id, items)) end
local t1 = now_ms()
local want = calls * batch + 1
local rows = wait_for(want)
local last = 0
for _, r in ipairs(rows) do last = math.max(last, r[1]) end
local m, p99, mx = lag_stats(rows, 1)
print(("Webhook delivery through nginx, one POST per event, to a receiver that answers at once:"))
print(("  burst: %d events (%d x createGalleryItems of %d, committed in %d ms): %.0f events/s from the"
  .. " first commit to the last receipt; lag median %d ms, p99 %d ms (queueing behind the burst)")
  :format(want, calls, batch, t1 - t0, want / ((last - t0) / 1000), m, p99))
-- paced: one createGalleryItem every 20 ms, so that the lag is the delivery's own
local paced = 200
for i = 1, paced do
  assert(store:createGalleryItem(g._id, items[1]))
  os.execute("sleep 0.02")
end
store:close()
rows = wait_for(want + paced)
m, p99, mx = lag_stats(rows, want + 1)
print(("  paced: %d single writes 20 ms apart: lag commit -> receipt median %d ms, p99 %d ms, max %d ms")
  :format(paced, m, p99, mx))
