-- The peer: the progallery API written the way a Lua user would without
-- progallery, in plain Lua over Debian's LuaSQL (lua-sql-sqlite3 2.6.0) with
-- lua-cjson for the nested fields. Same schema and indexes as progallery (so
-- both read the same files), WAL, the same synchronous setting, one
-- transaction per call (BEGIN IMMEDIATE for writes), the same ordering, the
-- same default sortOrder rule, the same result shapes as Lua tables.
--
-- What a LuaSQL user has to live with: no prepared statements and no bound
-- parameters (2.6.0 silently ignores them), so every statement is a string
-- with values escaped by conn:escape; no way to register an SQL function, so
-- ids are made in Lua and a clone copies row by row; no millisecond clock in
-- plain Lua, so "now" comes from SQLite. Happy path only: no validation.
local luasql = require "luasql.sqlite3"
local cjson = require "cjson"

local fmt, floor, mtype = string.format, math.floor, math.type

local SCHEMA = [[
CREATE TABLE galleries(gid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT,
  sort_order NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
  item_count INTEGER NOT NULL DEFAULT 0, revision INTEGER NOT NULL DEFAULT 1);
CREATE INDEX galleries_by_created ON galleries(created_ms);
CREATE INDEX galleries_by_sort ON galleries(sort_order);
CREATE TABLE items(iid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, gid INTEGER NOT NULL,
  sort_order NOT NULL, type TEXT NOT NULL, created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL, doc TEXT NOT NULL, revision INTEGER NOT NULL DEFAULT 1);
CREATE INDEX items_by_order ON items(gid, sort_order);
]]

local NOW = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
local READONLY = { _id = true, type = true, sortOrder = true, _createdDate = true,
                   _updatedDate = true, totalItems = true, items = true }

local Peer = {}
Peer.__index = Peer

local M = {}

function M.open(path, synchronous)
  local env = assert(luasql.sqlite3())
  local conn = assert(env:connect(path))
  local self = setmetatable({ env = env, conn = conn, last_ms = 0, counter = 0 }, Peer)
  self:exec("PRAGMA busy_timeout = 5000")
  self:rows("PRAGMA journal_mode = WAL")
  self:exec("PRAGMA synchronous = " .. (synchronous == "normal" and "NORMAL" or "FULL"))
  if self:row("PRAGMA user_version")[1] == 0 then
    self:exec("BEGIN IMMEDIATE")
    for stmt in SCHEMA:gmatch("[^;]+;") do self:exec(stmt) end
    self:exec("PRAGMA user_version = 2")
    self:exec("COMMIT")
  end
  return self
end

function Peer:close()
  self.conn:close()
  self.env:close()
end

-- ---- SQL helpers -----------------------------------------------------------

function Peer:exec(sql)
  local r, err = self.conn:execute(sql)
  if not r then error(err .. " in " .. sql, 2) end
  if type(r) == "userdata" then r:close() end
  return r
end

function Peer:q(s)
  if s == nil or s == cjson.null then return "NULL" end
  return "'" .. self.conn:escape(s) .. "'"
end

local function num(n)
  if mtype(n) == "integer" then return fmt("%d", n) end
  if n == floor(n) and n > -2^63 and n < 2^63 then return fmt("%d", floor(n)) end
  return fmt("%.17g", n)
end

-- First row as an array ("n") or a table keyed by column name ("a"), or nil.
function Peer:row(sql, mode)
  local cur = assert(self.conn:execute(sql))
  local r = cur:fetch({}, mode or "n")
  cur:close()
  return r
end

function Peer:rows(sql)
  local cur = assert(self.conn:execute(sql))
  local out, r = {}, cur:fetch({}, "a")
  while r do
    out[#out + 1] = r
    r = cur:fetch({}, "a")
  end
  return out
end

local function iso(ms)
  return os.date("!%Y-%m-%dT%H:%M:%S", ms // 1000) .. fmt(".%03dZ", ms % 1000)
end

-- UUIDv7 in Lua: 48-bit ms, a counter for ids within one millisecond, random bits.
function Peer:uuid7(ms)
  if ms > self.last_ms then
    self.last_ms, self.counter = ms, math.random(0, 0x3FF)
  else
    self.counter = self.counter + 1
    if self.counter > 0xFFF then self.last_ms, self.counter = self.last_ms + 1, 0 end
  end
  local t = self.last_ms
  return fmt("%08x-%04x-7%03x-%04x-%06x%06x", t >> 16, t & 0xFFFF, self.counter,
             0x8000 | math.random(0, 0x3FFF), math.random(0, 0xFFFFFF), math.random(0, 0xFFFFFF))
end

local function next_sort(max, now)
  if max and max + 1 > now then return max + 1 end
  return now
end

local function later(prev, now)
  if now > prev then return now end
  return prev + 1
end

local function item_type(doc)
  if doc.image then return "IMAGE" elseif doc.video then return "VIDEO"
  elseif doc.text then return "TEXT" end
  return "UNDEFINED"
end

-- Images are stored as Wix's REST object (schema 2), a Velo string read as the SDK reads it
-- and written back from it (happy path: a wix:image string with a file name).
local function image_object(s)
  local id, name, w, h = s:match("^wix:image://v1/([^/#?]+)/([^#?]+)#originWidth=(%d+)&originHeight=(%d+)")
  if not id then return s end
  name = name:gsub("%%(%x%x)", function(x) return string.char(tonumber(x, 16)) end)
  return { id = id, url = s, height = tonumber(h), width = tonumber(w), altText = name, filename = name }
end

local function image_string(o)
  if type(o) ~= "table" then return o end
  local name = (o.filename or o.altText or ""):gsub("[^%w%-_%.!~%*'%(%)]", function(c)
    return fmt("%%%02X", c:byte())
  end)
  return fmt("wix:image://v1/%s%s#originWidth=%d&originHeight=%d", o.id, name ~= "" and "/" .. name or "",
             o.width, o.height)
end

-- The item's own fields (everything but the read-only keys and sortOrder) as stored JSON.
local function doc_of(item)
  local doc = {}
  for k, v in pairs(item) do
    if not READONLY[k] and v ~= cjson.null then doc[k] = v end
  end
  if doc.image and doc.image.imageInfo then
    local img = {}
    for k, v in pairs(doc.image) do img[k] = v end
    img.imageInfo = image_object(img.imageInfo)
    doc.image = img
  end
  return doc
end

local function item_out(row, doc)
  if doc.image and doc.image.imageInfo then doc.image.imageInfo = image_string(doc.image.imageInfo) end
  doc._id = row.id
  doc.type = row.type
  doc.sortOrder = row.sort_order
  doc._createdDate = iso(row.created_ms)
  doc._updatedDate = iso(row.updated_ms)
  doc.revision = fmt("%d", row.revision or 1)
  return doc
end

local G_COLS = "gid, id, name, sort_order, created_ms, updated_ms, item_count, revision"
local I_COLS = "iid, id, gid, type, sort_order, created_ms, updated_ms, doc, revision"

function Peer:find_gallery(id)
  return self:row("SELECT " .. G_COLS .. " FROM galleries WHERE id = " .. self:q(id:lower()), "a")
end

function Peer:find_item(g, id)
  local it = self:row("SELECT " .. I_COLS .. " FROM items WHERE id = " .. self:q(id:lower()), "a")
  if it and it.gid == g.gid then return it end
end

function Peer:items_page(gid, offset, limit)
  local cur = assert(self.conn:execute(fmt(
    "SELECT iid, id, type, sort_order, created_ms, updated_ms, doc, revision FROM items"
    .. " WHERE gid = %d ORDER BY sort_order, iid LIMIT %d OFFSET %d", gid, limit, offset)))
  local out, r = {}, cur:fetch({}, "a")
  while r do
    out[#out + 1] = item_out(r, cjson.decode(r.doc))
    r = cur:fetch(r, "a")
  end
  return out
end

function Peer:gallery_out(g, offset, limit)
  return {
    _id = g.id, name = g.name, sortOrder = g.sort_order, totalItems = g.item_count,
    items = self:items_page(g.gid, offset or 0, limit or 50),
    _createdDate = iso(g.created_ms), _updatedDate = iso(g.updated_ms),
    revision = fmt("%d", g.revision),
  }
end

-- A gallery's revision grows with every change to it or its items (one per call).
function Peer:save_gallery(g)
  g.revision = g.revision + 1
  self:exec(fmt("UPDATE galleries SET name = %s, sort_order = %s, updated_ms = %d,"
                .. " item_count = %d, revision = %d WHERE gid = %d", self:q(g.name), num(g.sort_order),
                g.updated_ms, g.item_count, g.revision, g.gid))
end

function Peer:fail(msg, code)
  self:exec("ROLLBACK")
  return nil, msg, code
end

-- Inserts items at the end of g, in input order; returns the created items.
function Peer:insert_items(g, items, now)
  local r = self:row("SELECT max(sort_order) FROM items WHERE gid = " .. g.gid)
  local max = r[1]
  local out = {}
  for i = 1, #items do
    local item = items[i]
    local doc = doc_of(item)
    local sort = item.sortOrder or next_sort(max, now)
    local row = { id = self:uuid7(now), type = item_type(doc), sort_order = sort,
                  created_ms = now, updated_ms = now }
    self:exec(fmt("INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc)"
                  .. " VALUES ('%s', %d, %s, '%s', %d, %d, %s)", row.id, g.gid, num(sort),
                  row.type, now, now, self:q(cjson.encode(doc))))
    if not max or sort > max then max = sort end
    out[i] = item_out(row, doc)
  end
  g.item_count = g.item_count + #items
  return out
end

function Peer:now_ms()
  return self:row("SELECT " .. NOW)[1]
end

-- ---- the API ---------------------------------------------------------------

function Peer:createGallery(opts)
  opts = opts or {}
  local in_g = opts.gallery or {}
  self:exec("BEGIN IMMEDIATE")
  local now = self:now_ms()
  local src
  if opts.cloneFromGalleryId then
    src = self:find_gallery(opts.cloneFromGalleryId)
    if not src then return self:fail("cloneFromGalleryId: no such gallery", "NOT_FOUND") end
  end
  local max = self:row("SELECT max(sort_order) FROM galleries")[1]
  local g = { id = self:uuid7(now), name = in_g.name or (src and src.name),
              sort_order = in_g.sortOrder or next_sort(max, now),
              created_ms = now, updated_ms = now, item_count = 0, revision = 0 }
  if g.name == cjson.null then g.name = src and src.name or nil end
  self:exec(fmt("INSERT INTO galleries(id, name, sort_order, created_ms, updated_ms, item_count)"
                .. " VALUES ('%s', %s, %s, %d, %d, 0)", g.id, self:q(g.name), num(g.sort_order),
                now, now))
  g.gid = self:row("SELECT last_insert_rowid()")[1]
  if src then
    -- No SQL functions from LuaSQL: read the source rows, insert copies with new ids.
    local cur = assert(self.conn:execute(fmt(
      "SELECT type, doc FROM items WHERE gid = %d ORDER BY sort_order, iid", src.gid)))
    local r, sort = cur:fetch({}, "a"), now
    while r do
      self:exec(fmt("INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc)"
                    .. " VALUES ('%s', %d, %s, '%s', %d, %d, %s)", self:uuid7(now), g.gid,
                    num(sort), r.type, now, now, self:q(r.doc)))
      sort = sort + 1
      g.item_count = g.item_count + 1
      r = cur:fetch(r, "a")
    end
  end
  if in_g.items and #in_g.items > 0 then self:insert_items(g, in_g.items, now) end
  self:save_gallery(g)
  local out = self:gallery_out(g, 0, 50)
  self:exec("COMMIT")
  return out
end

function Peer:getGallery(id, opts)
  opts = opts or {}
  self:exec("BEGIN")
  local g = self:find_gallery(id)
  if not g then return self:fail("galleryId: no such gallery", "NOT_FOUND") end
  local out = self:gallery_out(g, opts.itemOffset or 0, opts.itemLimit or 50)
  self:exec("COMMIT")
  return out
end

function Peer:listGalleries(opts)
  opts = opts or {}
  self:exec("BEGIN")
  local total = self:row("SELECT count(*) FROM galleries")[1]
  local rows = self:rows(fmt("SELECT " .. G_COLS .. " FROM galleries ORDER BY created_ms, gid"
                             .. " LIMIT %d OFFSET %d", opts.limit or 10, opts.offset or 0))
  local list = {}
  for i, g in ipairs(rows) do list[i] = self:gallery_out(g, 0, opts.itemLimit or 10) end
  self:exec("COMMIT")
  return { galleries = list, totalGalleries = total }
end

function Peer:updateGallery(id, patch)
  self:exec("BEGIN IMMEDIATE")
  local now = self:now_ms()
  local g = self:find_gallery(id)
  if not g then return self:fail("galleryId: no such gallery", "NOT_FOUND") end
  if patch.name == cjson.null then g.name = nil elseif patch.name then g.name = patch.name end
  if patch.sortOrder then g.sort_order = patch.sortOrder end
  g.updated_ms = later(g.updated_ms, now)
  self:save_gallery(g)
  local out = self:gallery_out(g, 0, 50)
  self:exec("COMMIT")
  return out
end

function Peer:deleteGallery(id)
  self:exec("BEGIN IMMEDIATE")
  local g = self:find_gallery(id)
  if not g then return self:fail("galleryId: no such gallery", "NOT_FOUND") end
  self:exec("DELETE FROM items WHERE gid = " .. g.gid)
  self:exec("DELETE FROM galleries WHERE gid = " .. g.gid)
  self:exec("COMMIT")
  return { galleryId = g.id }
end

function Peer:createGalleryItems(gid, items)
  self:exec("BEGIN IMMEDIATE")
  local now = self:now_ms()
  local g = self:find_gallery(gid)
  if not g then return self:fail("galleryId: no such gallery", "NOT_FOUND") end
  local out = self:insert_items(g, items, now)
  g.updated_ms = later(g.updated_ms, now)
  self:save_gallery(g)
  self:exec("COMMIT")
  return { items = out }
end

function Peer:createGalleryItem(gid, item)
  local r, msg, code = self:createGalleryItems(gid, { item })
  if not r then return r, msg, code end
  return r.items[1]
end

function Peer:getGalleryItem(ids)
  self:exec("BEGIN")
  local g = self:find_gallery(ids.galleryId)
  local it = g and self:find_item(g, ids.itemId)
  if not it then return self:fail("itemId: no such item", "NOT_FOUND") end
  self:exec("COMMIT")
  return item_out(it, cjson.decode(it.doc))
end

function Peer:updateGalleryItem(ids, patch)
  self:exec("BEGIN IMMEDIATE")
  local now = self:now_ms()
  local g = self:find_gallery(ids.galleryId)
  local it = g and self:find_item(g, ids.itemId)
  if not it then return self:fail("itemId: no such item", "NOT_FOUND") end
  local doc = cjson.decode(it.doc)
  for k, v in pairs(patch) do
    if v == cjson.null then
      doc[k] = nil
    elseif not READONLY[k] then
      if k == "image" or k == "video" or k == "text" then
        doc.image, doc.video, doc.text = nil, nil, nil
      end
      doc[k] = v
      if k == "image" then doc.image = doc_of({ image = v }).image end
    end
  end
  it.type = item_type(doc)
  if patch.sortOrder then it.sort_order = patch.sortOrder end
  it.updated_ms = later(it.updated_ms, now)
  it.revision = it.revision + 1
  self:exec(fmt("UPDATE items SET sort_order = %s, type = '%s', updated_ms = %d, doc = %s,"
                .. " revision = %d WHERE iid = %d", num(it.sort_order), it.type, it.updated_ms,
                self:q(cjson.encode(doc)), it.revision, it.iid))
  g.updated_ms = later(g.updated_ms, now)
  self:save_gallery(g)
  self:exec("COMMIT")
  return item_out(it, doc)
end

function Peer:deleteGalleryItem(ids)
  self:exec("BEGIN IMMEDIATE")
  local now = self:now_ms()
  local g = self:find_gallery(ids.galleryId)
  local it = g and self:find_item(g, ids.itemId)
  if not it then return self:fail("itemId: no such item", "NOT_FOUND") end
  self:exec("DELETE FROM items WHERE iid = " .. it.iid)
  g.item_count = g.item_count - 1
  g.updated_ms = later(g.updated_ms, now)
  self:save_gallery(g)
  self:exec("COMMIT")
  return { itemId = it.id }
end

function Peer:bulkDeleteGalleryItems(gid, itemIds)
  self:exec("BEGIN IMMEDIATE")
  local now = self:now_ms()
  local g = self:find_gallery(gid)
  if not g then return self:fail("galleryId: no such gallery", "NOT_FOUND") end
  local deleted, seen = {}, {}
  for _, id in ipairs(itemIds) do
    local it = not seen[id:lower()] and self:find_item(g, id)
    if it then
      seen[it.id] = true
      self:exec("DELETE FROM items WHERE iid = " .. it.iid)
      g.item_count = g.item_count - 1
      deleted[#deleted + 1] = it.id
    end
  end
  if #deleted > 0 then
    g.updated_ms = later(g.updated_ms, now)
    self:save_gallery(g)
  end
  self:exec("COMMIT")
  return { itemIds = deleted }
end

function Peer:listGalleryItems(gid, opts)
  opts = opts or {}
  self:exec("BEGIN")
  local g = self:find_gallery(gid)
  if not g then return self:fail("galleryId: no such gallery", "NOT_FOUND") end
  local items = self:items_page(g.gid, opts.itemOffset or 0, opts.itemLimit or 50)
  self:exec("COMMIT")
  return { items = items }
end

-- queryGalleryItems (spec section 14) for the bench's query only: the default sort
-- (sortOrder, then the row key), no filter, keyset cursors. The cursor is the position as
-- JSON text, unsigned: no HMAC in plain Lua (that favours the peer).
function Peer:queryGalleryItems(gid, query)
  query = query or {}
  assert(query.filter == nil and query.sort == nil, "the peer queries with the default sort only")
  local paging = query.cursorPaging or {}
  local limit = paging.limit or 50
  local after = ""
  self:exec("BEGIN")
  local g
  if paging.cursor then
    local c = cjson.decode(paging.cursor)
    g = self:find_gallery(c.g)
    if not g or c.g ~= gid then return self:fail("cursor: another gallery", "INVALID_ARGUMENT") end
    after = fmt(" AND sort_order >= %s AND (sort_order, iid) > (%s, %d)", num(c.s), num(c.s), c.r)
  else
    g = self:find_gallery(gid)
  end
  if not g then return self:fail("galleryId: no such gallery", "NOT_FOUND") end
  local cur = assert(self.conn:execute(fmt(
    "SELECT iid, id, type, sort_order, created_ms, updated_ms, doc, revision FROM items"
    .. " WHERE gid = %d%s ORDER BY sort_order, iid LIMIT %d", g.gid, after, limit + 1)))
  local items, r, last = {}, cur:fetch({}, "a"), nil
  while r and #items < limit do
    last = { s = r.sort_order, r = r.iid }
    items[#items + 1] = item_out(r, cjson.decode(r.doc))
    r = cur:fetch({}, "a")
  end
  cur:close()
  self:exec("COMMIT")
  local next
  if r and last then next = cjson.encode { g = g.id, s = last.s, r = last.r } end
  return { items = items, pagingMetadata = { count = #items, cursors = { next = next }, hasNext = next ~= nil } }
end

return M
