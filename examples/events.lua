-- Events: a Velo-style backend/events.js module, in Lua, driven by progallery.events.
--   lua5.4 examples/events.lua [path.db]
-- The handlers keep a tiny search index of item titles in sync with the store. Run it
-- twice on the same file: the second run hands over only what changed since the first,
-- because the consumer's cursor is stored in the store with the data.
local progallery = require "progallery"
local events = require "progallery.events"

local path = arg and arg[1] or os.getenv("PROGALLERY_DB") or "progallery-demo.db"
local store = assert(progallery.open { path = path, caller = "admin" })

-- What a Velo site puts in backend/events.js, under the same names.
local index = {} -- item id -> title
local site_events = {
  wixProGallery_onGalleryCreated = function(event)
    print(("gallery created: %s (%d items)"):format(event.entity.name or "?", event.entity.totalItems))
  end,
  wixProGallery_onGalleryItemCreated = function(event)
    index[event.data.item._id] = event.data.item.title
  end,
  wixProGallery_onGalleryItemUpdated = function(event)
    index[event.data.updatedItem._id] = event.data.updatedItem.title
  end,
  wixProGallery_onGalleryItemDeleted = function(event)
    index[event.data.itemId] = nil
  end,
}

-- Some changes...
local g = assert(store:createGallery { gallery = { name = "Trip", items = {
  { title = "Beach", image = { imageInfo = "https://example.com/beach.jpg" } },
  { title = "Hills", image = { imageInfo = "https://example.com/hills.jpg" } },
} } })
assert(store:updateGalleryItem({ galleryId = g._id, itemId = g.items[1]._id }, { title = "Sunny beach" }))
assert(store:deleteGalleryItem { galleryId = g._id, itemId = g.items[2]._id })

-- ...handed to the handlers, in order, until the consumer has seen them all.
local total = 0
repeat
  local handled, err, code = events.dispatch(store, site_events, { consumer = "search-index" })
  if not handled then error(("dispatch: %s (%s)"):format(err, code)) end
  if err then error("a handler raised (the event is handed again next time): " .. err) end
  total = total + handled
until handled == 0

for id, title in pairs(index) do print(("indexed %s: %s"):format(id, title)) end
print(("handled %d events; the cursor is at seq %d"):format(total, store:eventCursor("search-index")))
store:close()
