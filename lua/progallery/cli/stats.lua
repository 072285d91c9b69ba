-- progallery stats [--db PATH] [--json]    and    progallery check [--db PATH]
-- stats: how many galleries and items the store holds, the events feed's length (the
-- events kept: seqs prunedThrough + 1 .. lastSeq) and each consumer's lag (events after
-- its cursor).
-- check: reads every gallery and every item through the API (so every stored document is
-- decoded and validated on the way out) and compares each gallery's totalItems with the
-- items it lists; exits 1 naming each problem. Both stream, a page at a time.
local cli = require "progallery.cli"
local progress = require "progallery.cli.progress"

local _M = {}

function _M.options(name)
  local o = { ["--db"] = "value", ["--dsn"] = "value" }
  if name == "stats" then o["--json"] = "flag" end
  return o
end

function _M.usage(name)
  if name == "stats" then
    return [[
usage: progallery stats [--db PATH | --dsn DSN] [--json]

Prints the number of galleries and items in the store, the largest gallery, the events
the feed keeps, and each consumer's cursor and lag (the events it has yet to pass).

  --json        one JSON object instead of "name: value" lines
  --db PATH     the SQLite store (default: $PROGALLERY_DB, else .serve/data/progallery.db)
  --dsn DSN     a PostgreSQL store (libpq conninfo or postgresql:// URI)
]]
  end
  return [[
usage: progallery check [--db PATH | --dsn DSN]

Reads every gallery and item of the store and checks that each one reads back (its stored
document decodes and has the shape of docs/api.md, Shapes) and that each gallery's totalItems
is the number of items it lists, and totalGalleries the number of galleries. Prints "check: ok" and exits 0, or names every problem
and exits 1. Run it while nothing writes to the store.

  --db PATH     the SQLite store (default: $PROGALLERY_DB, else .serve/data/progallery.db)
  --dsn DSN     a PostgreSQL store (libpq conninfo or postgresql:// URI)
]]
end

-- Pages until a short page, not up to totalGalleries: that is a kept count (schema 7),
-- which check compares with what is listed. Returns the totalGalleries last given.
local function each_gallery(store, fn)
  local offset = 0
  while true do
    local page = cli.call(store, "listGalleries", { limit = 10, offset = offset, itemLimit = 1 })
    for _, g in ipairs(page.galleries) do fn(g, page.totalGalleries) end
    offset = offset + #page.galleries
    if #page.galleries < 10 then return page.totalGalleries end
  end
end

local function stats(opts, out)
  local store, path = cli.open_store(opts, true)
  local galleries, items, largest = 0, 0, nil
  each_gallery(store, function(g)
    galleries = galleries + 1
    items = items + g.totalItems
    if not largest or g.totalItems > largest.totalItems then largest = g end
  end)
  local head = cli.call(store, "_feedEvents", { limit = 1 })
  local feed = { lastSeq = head.lastSeq, prunedThrough = head.prunedThrough,
                 events = head.lastSeq - head.prunedThrough, consumers = {} }
  local after
  repeat
    local page = cli.call(store, "_feedConsumers", { after = after, limit = 1000 }).consumers
    for _, c in ipairs(page) do
      feed.consumers[#feed.consumers + 1] = { name = c.name, seq = c.seq, lag = head.lastSeq - c.seq }
    end
    after = page[#page] and page[#page].name
  until #page == 0
  store:close()
  local res = { store = path, galleries = galleries, items = items,
                largestGallery = largest and { id = largest._id, name = largest.name, items = largest.totalItems } or nil,
                feed = feed }
  if opts.json then
    -- consumers is an array even when empty (encodeJSON's second argument: the keys whose
    -- empty tables are arrays)
    out:write(assert(require("progallery").encodeJSON(res, { consumers = true })), "\n")
  else
    out:write(("store: %s\ngalleries: %d\nitems: %d\n"):format(path, galleries, items))
    if largest then
      out:write(("largest gallery: %s (%q, %d items)\n"):format(largest._id, largest.name or "", largest.totalItems))
    end
    out:write(("events: %d kept (seq %d to %d)\n"):format(feed.events, feed.prunedThrough + 1, feed.lastSeq))
    for _, c in ipairs(feed.consumers) do
      out:write(("consumer %s: at seq %d, %d behind\n"):format(c.name, c.seq, c.lag))
    end
  end
  return 0
end

local function check(opts, out, err)
  local store = cli.open_store(opts, true)
  local problems = {}
  local function problem(msg)
    problems[#problems + 1] = msg
    err:write("check: ", msg, "\n")
  end
  local galleries, items = 0, 0
  local bar
  local total_galleries = each_gallery(store, function(g, total)
    bar = bar or progress.new("check", total)
    galleries = galleries + 1
    -- keyset pages (queryGalleryItems' cursor): an itemOffset page re-reads everything
    -- before it, quadratic in a gallery's size
    local offset, seen, q = 0, {}, { cursorPaging = { limit = 100 } }
    while true do
      local page, e, code = store:queryGalleryItems(g._id, q)
      if not page then
        problem(("gallery %s: items from %d do not read: %s (%s)"):format(g._id, offset, tostring(e), tostring(code)))
        break
      end
      for _, it in ipairs(page.items) do
        if seen[it._id] then problem(("gallery %s: item %s listed twice"):format(g._id, it._id)) end
        seen[it._id] = true
      end
      offset = offset + #page.items
      if not page.pagingMetadata.hasNext then break end
      q = { cursorPaging = { limit = 100, cursor = page.pagingMetadata.cursors.next } }
    end
    items = items + offset
    if offset ~= g.totalItems then
      problem(("gallery %s: totalItems is %d, but it lists %d items"):format(g._id, g.totalItems, offset))
    end
    bar:step()
  end)
  if bar then bar:done() end
  store:close()
  if total_galleries ~= galleries then
    problem(("totalGalleries is %d, but the store lists %d galleries"):format(total_galleries, galleries))
  end
  if #problems > 0 then
    err:write(("check: %d problem%s in %d galleries, %d items\n"):format(#problems, #problems == 1 and "" or "s", galleries, items))
    return 1
  end
  out:write(("check: ok (%d galleries, %d items)\n"):format(galleries, items))
  return 0
end

function _M.run(name, opts, pos, out, err)
  if #pos > 0 then cli.usage_error(name .. " takes no arguments") end
  if name == "stats" then return stats(opts, out) end
  return check(opts, out, err)
end

return _M
