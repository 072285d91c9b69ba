-- Shared by the driver and the workers: the item every create uses, and the store openers.
local M = {}

-- A typical item: title, description, link, tags, and an image with a focal point.
M.item = {
  title = "Beach at sunset",
  description = "A long sandy beach at sunset, palm trees on the left and the tide coming in.",
  link = { url = "https://example.com/galleries/summer/beach", target = "_blank" },
  tags = { values = { "beach", "sunset", "summer" } },
  image = {
    imageInfo = "wix:image://v1/11062b_a1b2c3d4e5f6~mv2.jpg/beach.jpg#originWidth=4000&originHeight=3000",
    focalPoint = { x = 0.5, y = 0.4 },
  },
}

function M.items(n)
  local t = {}
  for i = 1, n do t[i] = M.item end
  return t
end

-- impl: "pg" (progallery, admin), "pgoff" (the same with the event feed off: events =
-- false, for the feed's overhead) or "peer" (LuaSQL).
function M.open(impl, path, synchronous)
  if impl == "pg" or impl == "pgoff" then
    local progallery = require "progallery"
    return assert(progallery.open{ path = path, caller = "admin", synchronous = synchronous,
                                   events = impl == "pg" })
  end
  return require("peer").open(path, synchronous)
end

-- A store (as M.open) on a fresh file prof.db in dir: what the profiling scripts of
-- bench/prof/ start from.
function M.fresh(dir, impl, synchronous)
  local path = dir .. "/prof.db"
  for _, suffix in ipairs { "", "-wal", "-shm" } do os.remove(path .. suffix) end
  return M.open(impl, path, synchronous)
end

return M
