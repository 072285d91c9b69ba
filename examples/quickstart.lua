-- Quickstart: create a gallery with an image, a video and a text item,
-- clone it, list galleries, update and delete an item, and convert the
-- gallery into $w.Gallery items for page code.
--   lua5.4 examples/quickstart.lua [path.db]      (see scripts/demo.sh)
local progallery = require "progallery"
local frontend = require "progallery.frontend"

local path = arg and arg[1] or os.getenv("PROGALLERY_DB") or "progallery-demo.db"

-- A store whose calls run as a site visitor: reads only. Writes go through
-- elevate(), like Velo backend code calling wix-auth's elevate().
local store = assert(progallery.open{ path = path, caller = "visitor" })
local elevate = progallery.elevate

local function check(result, err, code)
  if result == nil then
    io.stderr:write(("error: %s (%s)\n"):format(tostring(err), tostring(code)))
    os.exit(1)
  end
  return result
end

local function show_item(item)
  local media = item.image and item.image.imageInfo or item.video and item.video.videoInfo
      or item.text and (#item.text.html .. " bytes of HTML") or "-"
  print(("    %-9s %-16s sortOrder=%-14s %s"):format(item.type, item.title or "(no title)",
    tostring(item.sortOrder), media))
end

local function show_gallery(label, g)
  print(("%s: %q  id=%s  totalItems=%d  created=%s"):format(label, g.name or "", g._id,
    g.totalItems, g._createdDate))
  for _, item in ipairs(g.items) do show_item(item) end
end

local create = elevate(function(options) return store:createGallery(options) end)
local gallery = check(create{ gallery = {
  name = "Summer trip",
  items = {
    { title = "Beach", description = "Morning light on the sea",
      tags = { values = { "sea", "beach" } },
      image = { imageInfo = "wix:image://v1/38939f_beach.jpg/beach.jpg#originWidth=4000&originHeight=2667",
                focalPoint = { x = 0.5, y = 0.3 }, quality = 90 } },
    { title = "Waves", link = { url = "https://vimeo.com/322240916" },
      video = { type = "VIMEO", videoInfo = "https://vimeo.com/322240916", durationInMillis = 5000 } },
    { title = "Notes", text = { html = "<p>What a week!</p>", css = { backgroundColor = "#fafafa" } } },
  },
} })
show_gallery("created", gallery)

local clone = check(create{ cloneFromGalleryId = gallery._id, gallery = { name = "Summer trip (copy)" } })
show_gallery("cloned", clone)

-- Reads need no elevation.
local page = check(store:listGalleries{ limit = 10, itemLimit = 2 })
print(("listed: %d galleries in the site (showing up to 2 items each)"):format(page.totalGalleries))
for _, g in ipairs(page.galleries) do
  print(("  %s  %q  %d items"):format(g._id, g.name or "", g.totalItems))
end

local waves = clone.items[2]
local updated = check(elevate(store.updateGalleryItem)(store,
  { galleryId = clone._id, itemId = waves._id }, { title = "Big waves", description = progallery.null }))
print("updated:") show_item(updated)

local notes = clone.items[3]
check(elevate(store.deleteGalleryItem)(store, { galleryId = clone._id, itemId = notes._id }))
print(("deleted: item %s (%s)"):format(notes._id, notes.title))

-- Without elevation a visitor cannot write:
local _, err, code = store:deleteGallery(clone._id)
print(("visitor write refused: %s (%s)"):format(err, code))

local fetched = check(store:getGallery(gallery._id))
local items, skipped = frontend.toGalleryItems(fetched)
print(("converted: %d $w.Gallery items"):format(#items))
for _, it in ipairs(items) do print(("    %-6s %-8s %s"):format(it.type, it.title or "", it.src)) end
for _, s in ipairs(skipped) do print(("    skipped %s: %s"):format(s._id, s.reason)) end
print("as JSON for page code: " .. check(frontend.toJSON(fetched)))

store:close()
print(("done; data kept in %s"):format(path))
