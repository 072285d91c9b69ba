-- progallery.http: the REST v2 API (API.md section 9) as an OpenResty content handler.
--
--   -- nginx.conf: init_by_lua_block { app = require "app" }   (loads code only)
--   local handler = require("progallery.http").new{
--       db = "/srv/site/progallery.db",   -- required: a SQLite file, or
--       dsn = "host=db1,db2 dbname=site target_session_attrs=read-write",  -- PostgreSQL (API.md 11)
--       adminKey = os.getenv("PROGALLERY_ADMIN_KEY"),
--       prefix = "/pro-gallery/v2",       -- default; "/progallery/v2" always answers too
--       maxBody = 1048576,                -- bytes; a larger body is a 413
--       threadPool = "progallery",        -- nginx thread_pool name, or nil: direct calls
--       busyTimeout = 5000, synchronous = "full",   -- passed to progallery.open
--       webhooks = { { url = "http://127.0.0.1:9000/hook", events = { "onGalleryCreated" } } },
--       webhookKey = pem, instanceId = "progallery", webhookTimeout = 10000,   -- section 10.5
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
-- This file is the handler only: nginx's request in, the response out. Each concept has
-- its own file under progallery/http/:
--   router.lua  prefixes, URI + method -> operation      auth.lua    Authorization -> role
--   ops.lua     operation + params -> store call -> status, JSON (pure: runs on Lua 5.4)
--   thread.lua  the entry a worker thread runs; the store pair a worker or thread opens
--   cache.lua   the per-worker GET response cache (resty.lrucache, LuaJIT)
--   webhooks.lua  the feed POSTed to webhook endpoints   client.lua  their HTTP/1.1 client
--   events.lua  GET {prefix}/events, the feed for pull consumers
--   errors.lua  codes -> statuses and the JSON error body  json.lua    JSON text it writes
--
-- Worker model: a store is opened per worker in init_worker (never before fork). With a
-- thread pool, every API call runs through ngx.run_worker_thread in an nginx thread: the
-- thread's Lua VM hands the body text to its own store (kept in a module-level table of
-- that VM) through store:rest, whose C code decodes it, calls the API and writes the
-- response text, and hands back only a status and that text (no gallery data becomes a
-- Lua table on the way), so SQLite work (and its busy waits) never stalls the event
-- loop. Without a pool,
-- or where ngx.run_worker_thread is missing, the worker's own store is called directly.
-- Each store call is one transaction, so none is held across a yield.
--
-- No Lua error text reaches a client: the handler runs under xpcall, and anything
-- unexpected is logged with ngx.log and answered with the generic 500 JSON error body.

local progallery = require "progallery"
local errors = require "progallery.http.errors"
local router = require "progallery.http.router"
local auth = require "progallery.http.auth"
local cache = require "progallery.http.cache"
local ops = require "progallery.http.ops"
local thread = require "progallery.http.thread"
local webhooks = require "progallery.http.webhooks"
local pull = require "progallery.http.events"

local type, pairs, tostring, tonumber, xpcall, setmetatable, error =
    type, pairs, tostring, tonumber, xpcall, setmetatable, error
local open = io.open
local traceback = debug.traceback

local error_response = errors.response

local _M = { _VERSION = progallery._VERSION }
local mt = { __index = _M }

-- The pure part, and the worker thread's entry: the same functions as ops.execute and
-- thread.execute (the handler runs "progallery.http.thread", "execute" in its pool).
_M.execute = ops.execute
_M.thread_execute = thread.execute

-- conf.cache -> the response cache, nil (off), or nil, message.
local function new_cache(c)
    if c == false then return nil end
    if c == true then c = nil end
    return cache.new(c)
end

-- conf -> handler, or nil, message. Opens nothing (call init_worker in each worker).
function _M.new(conf)
    if type(conf) ~= "table" then return nil, "conf: expected a table" end
    if conf.dsn ~= nil and (type(conf.dsn) ~= "string" or conf.dsn == "") then
        return nil, "dsn: expected a libpq connection string or a postgresql:// URI"
    end
    if conf.dsn == nil and (type(conf.db) ~= "string" or conf.db == "") then return nil, "db: expected a path" end
    local caller, err = auth.new(conf.adminKey)
    if not caller then return nil, err end
    local routes
    routes, err = router.new(conf.prefix)
    if not routes then return nil, err end
    local max_body = conf.maxBody or 1048576
    if type(max_body) ~= "number" or max_body < 0 then return nil, "maxBody: expected bytes" end
    if conf.threadPool ~= nil and type(conf.threadPool) ~= "string" then
        return nil, "threadPool: expected a thread_pool name"
    end
    local responses
    responses, err = new_cache(conf.cache)
    if err then return nil, err end
    local hooks
    hooks, err = webhooks.new(conf)
    if err then return nil, err end
    return setmetatable({
        router = routes,
        auth = caller,
        max_body = max_body,
        thread_pool = conf.threadPool,
        store_conf = { path = conf.dsn == nil and conf.db or nil, dsn = conf.dsn,
                       busyTimeout = conf.busyTimeout, synchronous = conf.synchronous },
        -- a server engine: its dataVersion is a network round trip, so (with a pool) it
        -- runs in a thread like every other call of it, never on the event loop
        remote = conf.dsn ~= nil or (type(conf.db) == "string" and conf.db:match("^postgres") ~= nil),
        stores = nil,      -- this worker's, from init_worker
        cache = responses, -- GET responses (progallery.http.cache), or nil
        webhooks = hooks,  -- progallery.http.webhooks, or nil
    }, mt)
end

local function log(level, ...)
    if ngx and ngx.log then ngx.log(level, ...) end
end

-- Per worker (init_worker_by_lua): opens this worker's store. Returns true or nil, message.
function _M:init_worker()
    local pair, err, code = thread.open_stores(self.store_conf)
    if not pair then
        log(ngx.ERR, "progallery: cannot open ", self.store_conf.path or "the dsn", ": ", err, " (", code, ")")
        return nil, err
    end
    self.stores = pair
    -- the cache's version check through the pool (see remote in new)
    local pool, conf = self.thread_pool, self.store_conf
    self.versions = {
        dataVersion = function()
            local ok, v = ngx.run_worker_thread(pool, "progallery.http.thread", "data_version", conf)
            if ok then return v end
            log(ngx.ERR, "progallery: worker thread failed: ", tostring(v))
            return nil
        end,
    }
    -- deliveries run in this worker's timers, never in a request
    if self.webhooks and not self.webhooks_started then
        self.webhooks_started = self.webhooks:start()
    end
    if self.thread_pool and not (ngx and ngx.run_worker_thread) then
        log(ngx.WARN, "progallery: ngx.run_worker_thread is missing; calling the store directly")
    end
    return true
end

local function send(status, body, allow, etag)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json; charset=utf-8"
    ngx.header["Cache-Control"] = "no-store"
    if allow then ngx.header["Allow"] = allow end
    if etag then ngx.header["ETag"] = etag end
    ngx.header["Content-Length"] = #body
    local rid = ngx.var.request_id
    if rid then ngx.header["X-Wix-Request-Id"] = rid end
    ngx.print(body)
    return ngx.exit(ngx.HTTP_OK)
end

local function send_error(code, msg, allow)
    local status, body, line = error_response(code, msg)
    if line then log(ngx.ERR, "progallery: ", line) end
    return send(status, body, allow)
end

-- The request body up to max_body bytes: text, or nil when it is too large.
local function read_body(max_body)
    local cl = ngx.var.http_content_length -- wherever it is among the headers
    if cl and tonumber(cl) and tonumber(cl) > max_body then return nil end
    ngx.req.read_body()
    local data = ngx.req.get_body_data()
    if not data then
        local file = ngx.req.get_body_file()
        if file then
            local f = open(file, "rb")
            if not f then error("cannot read the buffered body", 0) end
            local size = f:seek("end")
            if size > max_body then f:close(); return nil end
            f:seek("set")
            data = f:read("*a")
            f:close()
        end
    end
    data = data or ""
    if #data > max_body then return nil end
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

-- role, op, params -> status, JSON text, log line, ETag: in a pool thread, or directly.
local function call(self, role, op, params)
    local run = ngx.run_worker_thread
    if self.thread_pool and run then
        local ok, status, body, line, etag = run(self.thread_pool, "progallery.http.thread", "execute",
                                                 self.store_conf, role, op, params)
        if not ok then
            log(ngx.ERR, "progallery: worker thread failed: ", tostring(status))
            local s, b = error_response("INTERNAL", "internal error")
            return s, b
        end
        return status, body, line, etag
    end
    if not self.stores then
        local ok = self:init_worker()
        if not ok then
            return error_response("INTERNAL", "internal error")
        end
    end
    return ops.execute(role == "admin" and self.stores.admin or self.stores.visitor, op, params)
end

local function handle(self)
    local rest_path = self.router:strip(ngx.var.uri)
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
    if op == "listEvents" then -- read on the worker's own store: a read never waits on a lock
        ngx.req.discard_body()
        if not self.stores and not self:init_worker() then
            return send_error("INTERNAL", "internal error")
        end
        local status, body, line
        if self.remote and self.thread_pool and ngx.run_worker_thread then
            -- a server engine: the feed's read in the pool, off the event loop
            local ok
            ok, status, body, line = ngx.run_worker_thread(self.thread_pool, "progallery.http.thread",
                                                           "pull", self.store_conf, role, query_args())
            if not ok then
                log(ngx.ERR, "progallery: worker thread failed: ", tostring(status))
                return send_error("INTERNAL", "internal error")
            end
        else
            status, body, line = pull.execute(self.stores.admin, role, query_args())
        end
        if line then log(ngx.ERR, "progallery: ", line) end
        return send(status, body)
    end
    local params = { galleryId = ids.galleryId, itemId = ids.itemId, query = query_args() }
    local if_match = ngx.var.http_if_match
    if if_match then
        -- a precondition of writes only, checked by the store (docs/http.md); nginx's own
        -- check would compare it with the ETag of the answer, the revision after the write
        -- (or none, after a delete), and turn a success into its HTML 412
        ngx.req.clear_header("If-Match")
        if method == "PATCH" or method == "DELETE" then params.ifMatch = if_match end
    end
    if method == "POST" or method == "PATCH" then
        local body = read_body(self.max_body)
        if not body then
            return send_error("PAYLOAD_TOO_LARGE", "request body larger than " .. self.max_body .. " bytes")
        end
        params.body = body
    else
        ngx.req.discard_body()
    end
    local responses, key, version = self.cache, nil, nil
    local versions = self.stores and self.stores.visitor
    if self.remote and self.thread_pool and ngx.run_worker_thread then versions = self.versions end
    if responses and method == "GET" and versions then
        key, version = responses:key(versions, role, ngx.var.request_uri)
        if key then
            local hit, etag = responses:get(key)
            if hit then return send(200, hit, nil, etag) end
        end
    end
    local status, body, line, etag = call(self, role, op, params)
    if line then log(ngx.ERR, "progallery: ", line) end
    if key and status == 200 then responses:set(versions, key, body, version, etag) end
    return send(status, body, nil, etag)
end

local function with_traceback(e)
    return traceback(tostring(e), 2)
end

-- content_by_lua entry point.
function _M:handle()
    local ok, err = xpcall(handle, with_traceback, self)
    if not ok then
        log(ngx.ERR, "progallery: request failed: ", err)
        if not ngx.headers_sent then
            local status, body = error_response("INTERNAL", "internal error")
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
    if status == 413 then msg = "request body larger than " .. self.max_body .. " bytes" end
    return send_error(code, msg)
end

return _M
