-- progallery.http: the REST v2 API (API.md section 9) as an OpenResty content handler.
--
--   -- nginx.conf: init_by_lua_block { app = require "app" }   (loads code only)
--   local handler = require("progallery.http").new{
--       db = "/srv/site/progallery.db",   -- required
--       adminKey = os.getenv("PROGALLERY_ADMIN_KEY"),
--       prefix = "/pro-gallery/v2",       -- default; "/progallery/v2" always answers too
--       maxBody = 1048576,                -- bytes; a larger body is a 413
--       threadPool = "progallery",        -- nginx thread_pool name, or nil: direct calls
--       busyTimeout = 5000, synchronous = "full",   -- passed to progallery.open
--       cache = true,                     -- per-worker cache of GET responses (default);
--                                         -- false: none; or { maxBytes = 33554432,
--                                         -- maxEntries = 2000 }: its bounds, which hold
--                                         -- for every entry (key + body bytes), so one
--                                         -- larger than maxBytes is never stored
--   }
--   init_worker_by_lua_block { app.handler:init_worker() }   -- opens this worker's store
--   location / { content_by_lua_block { app.handler:handle() } }
--   error_page 413 = @too_large;  location @too_large { content_by_lua_block { app.handler:reject(413) } }
--
-- Worker model: a store is opened per worker in init_worker (never before fork). With a
-- thread pool, every API call runs through ngx.run_worker_thread in an nginx thread: the
-- thread's Lua VM decodes the body, calls its own store (kept in a module-level table of
-- that VM), converts and encodes the result, and hands back only a status and a JSON
-- string, so SQLite work (and its busy waits) never stalls the event loop. Without a pool,
-- or where ngx.run_worker_thread is missing, the worker's own store is called directly.
-- Each store call is one transaction, so none is held across a yield.
--
-- Every client-visible failure is a JSON body
--   { message, details = { applicationError = { code, description },
--                          validationError = { fieldViolations = {{field, description}} }? } }
-- and no Lua error text reaches a client: the handler runs under xpcall, and anything
-- unexpected is logged with ngx.log and answered with a generic 500.
--
-- execute(store, op, params) is the pure part (no ngx): routing results in, status and
-- JSON text out. It runs on Lua 5.4 too.

local progallery = require "progallery"
local rest = require "progallery.rest"

local type, pairs, ipairs, next, tostring, tonumber, pcall, xpcall, setmetatable, getmetatable =
    type, pairs, ipairs, next, tostring, tonumber, pcall, xpcall, setmetatable, getmetatable
local rawget, rawequal = rawget, rawequal
local byte, sub, find, gsub, format, lower, match =
    string.byte, string.sub, string.find, string.gsub, string.format, string.lower, string.match
local concat = table.concat
local floor, huge = math.floor, math.huge

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M }

local NULL = progallery.null
local escape_key = progallery.escapeKey -- a caller's key as messages name it: UTF-8, \xHH

local json = require "progallery.http.json"
local errors = require "progallery.http.errors"
local router = require "progallery.http.router"
local auth = require "progallery.http.auth"

local text_of = errors.text_of

local ops = require "progallery.http.ops"
local thread = require "progallery.http.thread"

-- The pure part, and the worker thread's entry (as progallery.http.thread's execute).
_M.execute = ops.execute
_M.thread_execute = thread.execute

-- ---------------------------------------------------------------------------------
-- nginx side

-- Response cache bounds (per worker), unless conf.cache sets them.
local CACHE_MAX_ENTRIES, CACHE_MAX_BYTES = 2000, 32 * 1024 * 1024

-- conf.cache -> the cache table, nil (off), or nil, message.
local function new_cache(c)
    if c == false then return nil end
    if c == nil or c == true then c = {} end
    if type(c) ~= "table" then return nil, "cache: expected a boolean or { maxBytes?, maxEntries? }" end
    local maxBytes, maxEntries = c.maxBytes, c.maxEntries
    if maxBytes == nil then maxBytes = CACHE_MAX_BYTES end
    if maxEntries == nil then maxEntries = CACHE_MAX_ENTRIES end
    if type(maxBytes) ~= "number" or maxBytes < 0 or maxBytes ~= maxBytes then
        return nil, "cache.maxBytes: expected a number of bytes"
    end
    if type(maxEntries) ~= "number" or maxEntries < 0 or maxEntries ~= maxEntries then
        return nil, "cache.maxEntries: expected a number of entries"
    end
    return { maxBytes = maxBytes, maxEntries = maxEntries, entries = {}, count = 0, bytes = 0 }
end

-- conf -> handler, or nil, message. Opens nothing (call init_worker in each worker).
function _M.new(conf)
    if type(conf) ~= "table" then return nil, "conf: expected a table" end
    if type(conf.db) ~= "string" or conf.db == "" then return nil, "db: expected a path" end
    local caller, err = auth.new(conf.adminKey)
    if not caller then return nil, err end
    local routes
    routes, err = router.new(conf.prefix)
    if not routes then return nil, err end
    local maxBody = conf.maxBody or 1048576
    if type(maxBody) ~= "number" or maxBody < 0 then return nil, "maxBody: expected bytes" end
    if conf.threadPool ~= nil and type(conf.threadPool) ~= "string" then
        return nil, "threadPool: expected a thread_pool name"
    end
    local cache
    cache, err = new_cache(conf.cache)
    if err then return nil, err end
    return setmetatable({
        router = routes,
        maxBody = maxBody,
        threadPool = conf.threadPool,
        auth = caller,
        storeConf = { path = conf.db, busyTimeout = conf.busyTimeout, synchronous = conf.synchronous },
        stores = nil, -- this worker's, from init_worker
        cache = cache, -- GET responses, see cache_key
    }, mt)
end

local function ngx_log(level, ...)
    if ngx and ngx.log then ngx.log(level, ...) end
end

-- Per worker (init_worker_by_lua): opens this worker's store. Returns true or nil, message.
function _M:init_worker()
    local pair, err, code = thread.open_stores(self.storeConf)
    if not pair then
        ngx_log(ngx.ERR, "progallery: cannot open ", self.storeConf.path, ": ", err, " (", code, ")")
        return nil, err
    end
    self.stores = pair
    if self.threadPool and not (ngx and ngx.run_worker_thread) then
        ngx_log(ngx.WARN, "progallery: ngx.run_worker_thread is missing; calling the store directly")
    end
    return true
end

local function send(status, body, allow)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json; charset=utf-8"
    ngx.header["Cache-Control"] = "no-store"
    if allow then ngx.header["Allow"] = allow end
    ngx.header["Content-Length"] = #body
    local rid = ngx.var.request_id
    if rid then ngx.header["X-Wix-Request-Id"] = rid end
    ngx.print(body)
    return ngx.exit(ngx.HTTP_OK)
end

local function send_error(code, msg, allow)
    local status, body, log = errors.response(code, msg)
    if log then ngx_log(ngx.ERR, "progallery: ", log) end
    return send(status, body, allow)
end

-- Reads the body up to maxBody bytes: text, or nil when it is too large.
function _M:read_body()
    local cl = ngx.var.http_content_length -- wherever it is among the headers
    if cl and tonumber(cl) and tonumber(cl) > self.maxBody then return nil end
    ngx.req.read_body()
    local data = ngx.req.get_body_data()
    if not data then
        local file = ngx.req.get_body_file()
        if file then
            local f = io.open(file, "rb")
            if not f then error("cannot read the buffered body", 0) end
            local size = f:seek("end")
            if size > self.maxBody then f:close(); return nil end
            f:seek("set")
            data = f:read("*a")
            f:close()
        end
    end
    data = data or ""
    if #data > self.maxBody then return nil end
    return data
end

local function query_args()
    local args = ngx.req.get_uri_args(200)
    local out = {}
    for k, v in pairs(args) do
        if type(k) == "string" then out[k] = v end -- booleans (?flag) and arrays pass as they are
    end
    return out
end

function _M:call(role, op, params)
    local run = ngx.run_worker_thread
    if self.threadPool and run then
        local ok, status, body, log = run(self.threadPool, "progallery.http.thread", "execute",
                                           self.storeConf, role, op, params)
        if not ok then
            ngx_log(ngx.ERR, "progallery: worker thread failed: ", tostring(status))
            local s, b = errors.response("INTERNAL", "internal error")
            return s, b
        end
        return status, body, log
    end
    if not self.stores then
        local ok = self:init_worker()
        if not ok then
            return errors.response("INTERNAL", "internal error")
        end
    end
    return ops.execute(role == "admin" and self.stores.admin or self.stores.visitor, op, params)
end

function _M:_handle()
    local uri = ngx.var.uri
    local rest_path = self.router:strip(uri)
    if not rest_path then return send_error("NOT_FOUND", "no such route") end
    local method = ngx.req.get_method()
    local op, ids, msg, allow = router.route(rest_path, method)
    if not op and ids ~= "INVALID_ARGUMENT" then
        ngx.req.discard_body()
        return send_error(ids, msg, allow)
    end
    -- read through ngx.var, which finds the header however many come before it
    -- (ngx.req.get_headers stops at a count); nginx itself refuses two of them (400)
    local role = self.auth:role(ngx.var.http_authorization)
    if not role then
        ngx.req.discard_body()
        return send_error("UNAUTHENTICATED", "invalid credentials in the Authorization header")
    end
    if not op then -- a path id that is not a UUID
        ngx.req.discard_body()
        return send_error(ids, msg)
    end
    local params = { galleryId = ids.galleryId, itemId = ids.itemId, query = query_args() }
    if method == "POST" or method == "PATCH" then
        local body = self:read_body()
        if not body then
            return send_error("PAYLOAD_TOO_LARGE", "request body larger than " .. self.maxBody .. " bytes")
        end
        params.body = body
    else
        ngx.req.discard_body()
    end
    local key, version
    if method == "GET" then key, version = self:cache_key(role, ngx.var.request_uri) end
    if key then
        local hit = self:cached(key)
        if hit then return send(200, hit) end
    end
    local status, body, log = self:call(role, op, params)
    if log then ngx_log(ngx.ERR, "progallery: ", log) end
    if key and status == 200 then self:remember(key, body, version) end
    return send(status, body)
end

-- Response cache of GETs, per worker. Entries are valid while the store's
-- dataVersion() stays the same: it moves on every commit, by this worker, a
-- thread of its pool, or any other process. Each request captures the version
-- before its call (cache_key), and its body is filed only under that version,
-- and only if the version has not moved meanwhile (remember): a call that yields
-- (a worker thread) may return after a commit and after another request has
-- moved the cache on to the new version, and its older body must not land there.
-- An entry costs #key + #body bytes; the cache starts afresh when the next entry would
-- pass maxEntries or maxBytes, and an entry larger than maxBytes is not stored at all.

-- role, request URI -> key, version (this request's), or nil when not caching.
function _M:cache_key(role, uri)
    if not self.cache or not self.stores then return nil end
    local v = self.stores.visitor:dataVersion()
    if not v then return nil end
    local c = self.cache
    if c.version ~= v then
        c.version, c.entries, c.count, c.bytes = v, {}, 0, 0
    end
    return role .. " " .. uri, v
end

function _M:cached(key)
    return self.cache.entries[key]
end

-- Files body (read at `version`, from cache_key) unless the data moved on since.
function _M:remember(key, body, version)
    local c = self.cache
    if version == nil or c.version ~= version then return end
    if self.stores.visitor:dataVersion() ~= version then return end
    local size = #key + #body
    if size > c.maxBytes or c.maxEntries < 1 then return end
    local old = c.entries[key] -- two misses of one key, both answered
    if old then
        c.entries[key] = nil
        c.count, c.bytes = c.count - 1, c.bytes - (#key + #old)
    end
    if c.count >= c.maxEntries or c.bytes + size > c.maxBytes then
        c.entries, c.count, c.bytes = {}, 0, 0
    end
    c.entries[key] = body
    c.count, c.bytes = c.count + 1, c.bytes + size
end

local function traceback(e)
    return debug.traceback(tostring(e), 2)
end

-- content_by_lua entry point.
function _M:handle()
    local ok, err = xpcall(self._handle, traceback, self)
    if not ok then
        ngx_log(ngx.ERR, "progallery: request failed: ", err)
        if not ngx.headers_sent then
            local status, body = errors.response("INTERNAL", "internal error")
            ngx.status = status
            ngx.header["Content-Type"] = "application/json; charset=utf-8"
            ngx.print(body)
        end
        return ngx.exit(ngx.HTTP_OK)
    end
end

-- For error_page locations (e.g. nginx's own 413 for client_max_body_size): the same
-- JSON error body as the handler's.
function _M:reject(status)
    local code, msg = errors.for_status(status)
    if status == 413 then msg = "request body larger than " .. self.maxBody .. " bytes" end
    return send_error(code, msg)
end

return _M
