-- progallery export [--db PATH] [--output FILE]    and    progallery import FILE [--db PATH]
-- A whole store as JSON Lines (docs/site.md, "Export format"): a header line, then each
-- gallery as {"gallery":{...}} (Velo shape: _id, name, sortOrder, dates) followed by its
-- items, a page of 100 a line as {"items":[...]}: the text store:rest answers, the items'
-- stored REST form (media as Wix's REST objects, every field they carry), then the event
-- feed (its events as stored, the consumers' cursors, the galleries' entity seqs), then
-- {"end":{...counts}}. import gives them back through _restoreGallery and, for each items
-- line as its text, store:rest("restoreItems") (the C codec, so an empty array stays one),
-- with their ids, dates and sort orders. Both stream: a page of items (100) is in memory at
-- a time, whatever the store's size. Numbers are written
-- exactly (progallery.encodeJSON, and the C REST codec), so a sortOrder or a focal point
-- comes back bit for bit.
local cli = require "progallery.cli"
local progress = require "progallery.cli.progress"

local _M = {}

-- version 2 adds the event feed (docs/site.md); a version 1 file (no feed) still imports
_M.FORMAT, _M.VERSION, _M.READS = "progallery-export", 2, { [1] = true, [2] = true }
local PAGE, BATCH, FEED_PAGE = 100, 1000, 1000
-- the records a line after the header holds, one each
local RECORD_LIST = "gallery, items, feed, events, consumers, galleries, end"
local RECORDS = {}
for k in RECORD_LIST:gmatch("[^, ]+") do RECORDS[k] = true end

function _M.options(name)
  local o = { ["--db"] = "value", ["--dsn"] = "value" }
  if name == "export" then o["--output"] = "value" end
  return o
end

function _M.usage(name)
  if name == "export" then
    return [[
usage: progallery export [--db PATH | --dsn DSN] [--output FILE]

Writes the whole store (galleries and items, with their ids, dates and sort orders, and the
event feed with its consumers' cursors) as
JSON Lines to FILE, or to stdout. Streamed: memory does not grow with the store. Run it
while nothing writes to the store (each page of 100 items is read in its own transaction).

  --output FILE  write here instead of stdout (written to FILE.part, renamed when complete)
  --db PATH      the SQLite store (default: $PROGALLERY_DB, else .serve/data/progallery.db)
  --dsn DSN      a PostgreSQL store (libpq conninfo or postgresql:// URI)
]]
  end
  return [[
usage: progallery import FILE [--db PATH | --dsn DSN]

Reads an export (FILE, or - for stdin) into a store that has no galleries yet, keeping every
id, date and sort order, and the event feed (an empty feed only). Streamed, a transaction per line of items (100 as export writes them, at most 1000). A file that is
cut short (no end line) or malformed stops the import with the line number; what was read
before stays in the store.

  --db PATH      the SQLite store (default: $PROGALLERY_DB, else .serve/data/progallery.db)
  --dsn DSN      a PostgreSQL store (libpq conninfo or postgresql:// URI)
]]
end

local function encoder()
  local json = require "progallery.http.json"
  return function(v)
    local s, err = json.encode(v)
    if not s then cli.fail("cannot encode: " .. tostring(err)) end
    return s
  end
end

-- Calls fn(gallery) for every gallery, in listGalleries' order.
local function each_gallery(store, fn)
  local offset = 0
  while true do
    local page = cli.call(store, "listGalleries", { limit = 10, offset = offset, itemLimit = 1 })
    for _, g in ipairs(page.galleries) do fn(g) end
    offset = offset + #page.galleries
    if #page.galleries == 0 or offset >= page.totalGalleries then return page.totalGalleries end
  end
end

-- The feed after the galleries: where it begins, its events as stored (a line of FEED_PAGE),
-- the consumers' cursors and the galleries' entityEventSequence, so that a consumer goes
-- on from its cursor in the new store as if nothing had moved. Returns the events written.
local function export_feed(store, line)
  local n, after = 0, nil
  local first = cli.call(store, "_feedEvents", { limit = 1 })
  line{ feed = { prunedThrough = first.prunedThrough, lastSeq = first.lastSeq } }
  after = first.prunedThrough
  while true do
    local page = cli.call(store, "_feedEvents", { after = after, limit = FEED_PAGE })
    if #page.events == 0 then break end
    line{ events = page.events }
    n = n + #page.events
    after = page.events[#page.events].seq
  end
  for _, what in ipairs{ { "_feedConsumers", "consumers", "name" }, { "_feedEntitySeqs", "galleries", "galleryId" } } do
    local fn, key, by = what[1], what[2], what[3]
    after = nil
    while true do
      local page = cli.call(store, fn, { after = after, limit = FEED_PAGE })[key]
      if #page == 0 then break end
      line{ [key] = page }
      after = page[#page][by]
    end
  end
  return n
end

local function export(opts, out, err)
  local cjson = require "cjson"
  local store = cli.open_store(opts, true)
  local encode = encoder()
  local ngal, nitems = 0, 0
  each_gallery(store, function(g) ngal = ngal + 1; nitems = nitems + g.totalItems end)
  local dest, tmp = out, nil
  if opts.output then
    tmp = opts.output .. ".part"
    local f, ferr = io.open(tmp, "wb")
    if not f then cli.fail("--output: " .. tostring(ferr)) end
    dest = f
  end
  local function line(v)
    local ok, werr = dest:write(encode(v), "\n")
    if not ok then cli.fail("write: " .. tostring(werr)) end
  end
  line{ format = _M.FORMAT, version = _M.VERSION, progallery = require "progallery.version",
        galleries = ngal, items = nitems }
  local bar = progress.new("export", nitems)
  local gseen, iseen = 0, 0
  each_gallery(store, function(g)
    local want = g.totalItems
    g.items, g.totalItems = nil, nil
    line{ gallery = g }
    gseen = gseen + 1
    -- keyset pages (queryGalleryItems' cursor), not itemOffset: an offset page re-reads
    -- everything before it, which made a 160,000-item gallery's export 8 s, quadratic
    local body = '{"query":{"cursorPaging":{"limit":' .. PAGE .. '}}}'
    local seen = 0
    while seen < want do
      local text, e, code = store:rest("queryGalleryItems", g._id, nil, nil, body)
      if not text then cli.fail(("queryGalleryItems: %s (%s)"):format(tostring(e), tostring(code))) end
      -- the line is the page's text as the C codec wrote it, without its pagingMetadata
      -- (the last one: the page's own comes after every item)
      local items, paging = text:match('^(.*%]),"pagingMetadata":(.*)}$')
      if not items then cli.fail("queryGalleryItems: an answer without pagingMetadata") end
      local n = #cjson.decode(items .. "}").items
      if n == 0 then break end
      local ok, werr = dest:write(items, "}\n")
      if not ok then cli.fail("write: " .. tostring(werr)) end
      seen = seen + n
      iseen = iseen + n
      bar:step(n)
      local meta = cjson.decode(paging)
      if not meta.hasNext then break end
      body = '{"query":{"cursorPaging":{"limit":' .. PAGE .. ',"cursor":' .. cjson.encode(meta.cursors.next) .. '}}}'
    end
  end)
  local nevents = export_feed(store, line)
  line{ ["end"] = { galleries = gseen, items = iseen, events = nevents } }
  bar:done()
  store:close()
  if tmp then
    local ok, cerr = dest:close()
    if not ok then os.remove(tmp); cli.fail("--output: " .. tostring(cerr)) end
    ok, cerr = os.rename(tmp, opts.output)
    if not ok then cli.fail("--output: " .. tostring(cerr)) end
  else
    dest:flush()
  end
  err:write(("export: %d galleries, %d items, %d events\n"):format(gseen, iseen, nevents))
  return 0
end

local function import(opts, pos, err)
  local file = pos[1]
  if not file then cli.usage_error("FILE is required (- for stdin)") end
  if #pos > 1 then cli.usage_error("one FILE only") end
  local input = io.stdin
  if file ~= "-" then
    local f, ferr = io.open(file, "rb")
    if not f then cli.fail(tostring(ferr)) end
    input = f
  end
  local cjson = require("cjson").new()
  cjson.decode_max_depth(64)
  local store = cli.open_store(opts)
  local existing = cli.call(store, "listGalleries", { limit = 1 }).totalGalleries
  if existing > 0 then
    cli.fail(("the store %s already has %d galler%s; import reads into an empty store")
      :format(opts.db or cli.default_db(), existing, existing == 1 and "y" or "ies"))
  end
  local lineno, header, ended = 0, nil, nil
  local bar
  local gallery = nil
  local ngal, nitems, nevents, feed = 0, 0, 0, nil
  -- a stopped import keeps what it wrote (a transaction a line), and a second import
  -- refuses a store that is not empty: say so, with the way out
  local function kept()
    if ngal == 0 then return "" end
    return ("\n%d galler%s and %d items imported before it stay in the store; to start over,"
      .. " import into a new, empty store"):format(ngal, ngal == 1 and "y" or "ies", nitems)
  end
  local function bad(msg) cli.fail(("%s:%d: %s%s"):format(file, lineno, msg, kept())) end
  -- an items line goes to the store as the text it is (store:rest "restoreItems": the C
  -- codec reads it), so that nothing of the REST form is lost to a Lua table on the way
  -- (lua-cjson cannot tell an empty array from an empty object)
  local function restore_items(text, n)
    local res, e, code = store:rest("restoreItems", gallery, nil, nil, text)
    if not res then bad(("%s (%s)"):format(tostring(e), tostring(code))) end
    nitems = nitems + n
    bar:step(n)
  end
  for text in input:lines() do
    lineno = lineno + 1
    if ended then bad("text after the end line") end
    local ok, rec = pcall(cjson.decode, text)
    if not ok or type(rec) ~= "table" then bad("not a JSON object: " .. tostring(rec)) end
    -- one record a line: a second record key, or one misspelt, would be dropped unread
    local kind
    if header then
      for k in pairs(rec) do
        if not RECORDS[k] then bad(("unknown key %q (a line holds one of: %s)"):format(tostring(k), RECORD_LIST)) end
        if kind then bad(("two records in one line (%s and %s)"):format(kind, k)) end
        kind = k
      end
    end
    if not header then
      if rec.format ~= _M.FORMAT then bad("not a progallery export (no format header)") end
      if not _M.READS[rec.version] then bad("export version " .. tostring(rec.version) .. " is not one this progallery reads (1, 2)") end
      header = rec
      bar = progress.new("import", tonumber(rec.items))
    elseif rec.gallery then
      local res, e, code = store:_restoreGallery(rec.gallery)
      if not res then bad(("%s (%s)"):format(tostring(e), tostring(code))) end
      gallery = res.galleryId
      ngal = ngal + 1
    elseif rec.items then
      if not gallery then bad("items before any gallery") end
      if type(rec.items) ~= "table" or (#rec.items == 0 and next(rec.items) ~= nil) then
        bad("items: expected an array")
      end
      if #rec.items > BATCH then bad(("items: more than %d in one line"):format(BATCH)) end
      -- an empty one too: the C codec refuses a key given twice, which cjson hid
      restore_items(text, #rec.items)
    elseif rec.feed or rec.events or rec.consumers or rec.galleries then
      local part
      if rec.feed then
        if type(rec.feed) ~= "table" then bad("feed: expected an object") end
        part, feed = { prunedThrough = rec.feed.prunedThrough }, rec.feed
      elseif not feed then
        bad("events, consumers or galleries before the feed line")
      elseif rec.events then
        part = { events = rec.events }
        nevents = nevents + (type(rec.events) == "table" and #rec.events or 0)
      elseif rec.consumers then part = { consumers = rec.consumers }
      else part = { galleries = rec.galleries } end
      local res, e, code = store:_restoreFeed(part)
      if not res then bad(("%s (%s)"):format(tostring(e), tostring(code))) end
    elseif rec["end"] ~= nil then
      if type(rec["end"]) ~= "table" then bad("end: expected an object { galleries, items[, events] }") end
      ended = rec["end"]
    else
      bad("unknown record (expected gallery, items, feed, events, consumers, galleries or end)")
    end
  end
  if input ~= io.stdin then input:close() end
  if not header then cli.fail(file .. ": empty (not a progallery export)") end
  if not ended then cli.fail(("%s: cut short after line %d (no end line)%s"):format(file, lineno, kept())) end
  if ended.galleries ~= ngal or ended.items ~= nitems then
    cli.fail(("%s: the end line counts %s galleries and %s items, the file held %d and %d")
      :format(file, tostring(ended.galleries), tostring(ended.items), ngal, nitems))
  end
  if feed and (ended.events ~= nevents or cli.call(store, "_feedEvents", { limit = 1 }).lastSeq ~= feed.lastSeq) then
    cli.fail(("%s: the feed does not end where the export's did (seq %s; %s events counted, %d read)")
      :format(file, tostring(feed.lastSeq), tostring(ended.events), nevents))
  end
  bar:done()
  store:close()
  err:write(("import: %d galleries, %d items, %d events\n"):format(ngal, nitems, nevents))
  return 0
end

function _M.run(name, opts, pos, out, err)
  if name == "export" then
    if #pos > 0 then cli.usage_error("export takes no FILE (use --output FILE or > FILE)") end
    return export(opts, out, err)
  end
  return import(opts, pos, err)
end

return _M
