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
--   -- or many sites on one server (API.md section 14; progallery.http.sites), each with
--   -- its own store, admin key, cache, events and webhooks, chosen by wix-site-id:
--   require("progallery.http").new{
--       sites = {
--           ["site-a"] = { db = "/srv/a.db", adminKey = ka, webhooks = { ... }, instanceId = "a" },
--           ["site-b"] = { dsn = "host=db1 dbname=sites", schema = "site_b", adminKey = kb },
--       },
--       defaultSite = "site-a",   -- for requests without wix-site-id (none: those are 404)
--       prefix = ..., maxBody = ..., threadPool = ..., busyTimeout = ..., synchronous = ...,
--       cache = ..., webhookKey = pem, webhookTimeout = ...,   -- shared by every site
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
-- Worker model: a store is opened per worker and site in init_worker (never before fork).
-- With a thread pool, every API call runs through ngx.run_worker_thread in an nginx
-- thread: the thread's Lua VM hands the body text to its own store (kept in a
-- module-level table of that VM, one per site) through store:rest, whose C code decodes
-- it, calls the API and writes the response text, and hands back only a status and that
-- text (no gallery data becomes a Lua table on the way), so SQLite work (and its busy
-- waits) never stalls the event loop. Without a pool, or where ngx.run_worker_thread is
-- missing, the worker's own store is called directly. A PostgreSQL store with a pool is
-- never opened on the event loop at all: its calls (the cache's dataVersion, GET /events,
-- the webhook deliverer's) all run in the pool.
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
local sites = require "progallery.http.sites"

local type, pairs, ipairs, next, tostring, tonumber, xpcall, setmetatable, error =
    type, pairs, ipairs, next, tostring, tonumber, xpcall, setmetatable, error
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

-- A site (progallery.http.sites spec) -> its parts, or nil, message. Nothing of one site
-- is reachable from another's: its own key, store options, cache, and deliverers.
local function new_site(spec, conf)
    local caller, err = auth.new(spec.adminKey)
    if not caller then return nil, spec.where .. err end
    local responses
    responses, err = new_cache(conf.cache)
    if err then return nil, err end
    local store_conf = { path = spec.path, dsn = spec.dsn,
                         busyTimeout = conf.busyTimeout, synchronous = conf.synchronous }
    local hooks
    hooks, err = webhooks.new(spec, store_conf, conf.threadPool)
    if err then return nil, spec.where .. err end
    return {
        id = spec.id,
        auth = caller,
        store_conf = store_conf,
        -- a server engine: its dataVersion is a network round trip, so (with a pool) it
        -- runs in a thread like every other call of it, and the event loop never opens it
        remote = spec.dsn ~= nil or (type(spec.path) == "string" and spec.path:match("^postgres") ~= nil),
        stores = nil,      -- this worker's own pair (progallery.http.thread.open_stores), opened on use
        versions = nil,    -- dataVersion through the pool, for the cache of a remote store
        cache = responses, -- GET responses (progallery.http.cache), or nil
        webhooks = hooks,  -- progallery.http.webhooks, or nil
    }
end

-- What conf may hold: anything else is a typo ("adminkey", "threadpool") that would
-- otherwise pass unnoticed as a server without its key or its pool, so it is refused.
local CONF_KEYS = {
    db = true, dsn = true, adminKey = true, prefix = true, maxBody = true, threadPool = true,
    busyTimeout = true, synchronous = true, cache = true, sites = true, defaultSite = true,
    webhooks = true, webhookKey = true, instanceId = true, webhookTimeout = true,
}

-- conf -> handler, or nil, message. Opens nothing (call init_worker in each worker).
function _M.new(conf)
    if type(conf) ~= "table" then return nil, "conf: expected a table" end
    for k in next, conf do
        if not CONF_KEYS[k] then
            return nil, (type(k) == "string" and k or "conf: a " .. type(k) .. " key") .. ": unknown key"
        end
    end
    local specs, default = sites.parse(conf)
    if not specs then return nil, default end
    local routes, err = router.new(conf.prefix)
    if not routes then return nil, err end
    local max_body = conf.maxBody or 1048576
    if type(max_body) ~= "number" or max_body < 0 then return nil, "maxBody: expected bytes" end
    if conf.threadPool ~= nil and type(conf.threadPool) ~= "string" then
        return nil, "threadPool: expected a thread_pool name"
    end
    local list, by_id = {}, nil
    for i, spec in ipairs(specs) do
        local site
        site, err = new_site(spec, conf)
        if not site then return nil, err end
        list[i] = site
        if spec.id then
            by_id = by_id or {}
            by_id[spec.id] = site
        end
    end
    local single = not by_id and list[1] or nil
    return setmetatable({
        router = routes,
        max_body = max_body,
        thread_pool = conf.threadPool,
        site_list = list,  -- every site, in id order
        sites = by_id,     -- siteId -> site, or nil: one site, whatever wix-site-id says
        default_site = default and by_id[default] or single,
        -- one site: its parts, where they were before sites
        auth = single and single.auth, cache = single and single.cache,
        store_conf = single and single.store_conf, webhooks = single and single.webhooks,
    }, mt)
end

local function log(level, ...)
    if ngx and ngx.log then ngx.log(level, ...) end
end

local function pooled(self)
    return self.thread_pool ~= nil and ngx ~= nil and ngx.run_worker_thread ~= nil
end

-- This worker's own store pair for a site (opened on first use): pair, or nil, message.
-- Never for a remote store with a pool: its calls all run in the pool's threads.
local function site_stores(self, site)
    if site.stores then return site.stores end
    local pair, err, code = thread.open_stores(site.store_conf)
    if not pair then
        log(ngx.ERR, "progallery: ", site.id and ("site " .. site.id .. ": ") or "", "cannot open ",
            site.store_conf.path or "the dsn", ": ", err, " (", code, ")")
        return nil, err
    end
    site.stores = pair
    return pair
end

-- Per worker (init_worker_by_lua): opens this worker's stores (the ones its event loop
-- uses), starts the deliverers. Returns true or nil, message (the first failure).
function _M:init_worker()
    local pool, first_err = self.thread_pool, nil
    local in_pool = pooled(self)
    for _, site in ipairs(self.site_list) do
        if site.remote and in_pool then
            -- the cache's version check through the pool (see remote in new_site)
            local conf = site.store_conf
            site.versions = site.versions or {
                dataVersion = function()
                    local ok, v = ngx.run_worker_thread(pool, "progallery.http.thread", "data_version", conf)
                    if ok then return v end
                    log(ngx.ERR, "progallery: worker thread failed: ", tostring(v))
                    return nil
                end,
            }
        elseif not site.stores then
            local ok, err = site_stores(self, site)
            if not ok then first_err = first_err or err end
        end
        -- deliveries run in this worker's timers, never in a request
        if site.webhooks and not site.webhooks_started then
            -- SQLite: the deliverers' idle poll reads this worker's own store (cheap, local)
            site.webhooks_started = site.webhooks:start(not site.remote and site.stores and site.stores.visitor or nil)
        end
    end
    if self.thread_pool and not in_pool then
        log(ngx.WARN, "progallery: ngx.run_worker_thread is missing; calling the store directly")
    end
    if first_err then return nil, first_err end
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

local MAX_ARGS = 200

-- nil when the query has more than MAX_ARGS parameters: ngx.req.get_uri_args drops the
-- rest, and one of those may be a limit or a copy of a path id that must be checked
local function query_args()
    local args, err = ngx.req.get_uri_args(MAX_ARGS)
    if err == "truncated" then return nil end
    local out = {}
    for k, v in pairs(args) do
        if type(k) == "string" then out[k] = v end -- booleans (?flag) and arrays pass as they are
    end
    return out
end

-- site, role, op, params -> status, JSON text, log line, ETag: in a pool thread, or directly.
local function call(self, site, role, op, params)
    if pooled(self) then
        local ok, status, body, line, etag = ngx.run_worker_thread(self.thread_pool, "progallery.http.thread",
                                                                   "execute", site.store_conf, role, op, params)
        if not ok then
            log(ngx.ERR, "progallery: worker thread failed: ", tostring(status))
            local s, b = error_response("INTERNAL", "internal error")
            return s, b
        end
        return status, body, line, etag
    end
    local pair = site_stores(self, site)
    if not pair then return error_response("INTERNAL", "internal error") end
    return ops.execute(role == "admin" and pair.admin or pair.visitor, op, params)
end

-- The site a request is for: site, or nil, message (a 404). With sites, wix-site-id picks
-- it (read through ngx.var, as Authorization is); without the header, the default site.
local function site_of(self)
    local by_id = self.sites
    if not by_id then return self.default_site end
    local id = ngx.var.http_wix_site_id
    if id ~= nil then id = auth.trim(id) end
    if id == nil or id == "" then
        if self.default_site then return self.default_site end
        return nil, "no site: the request has no wix-site-id header and there is no default site"
    end
    local site = by_id[id]
    if not site then return nil, "no such site" end
    return site
end

local function handle(self)
    local rest_path = self.router:strip(ngx.var.uri)
    if not rest_path then return send_error("NOT_FOUND", "no such route") end
    local site, why = site_of(self)
    if not site then
        ngx.req.discard_body()
        return send_error("NOT_FOUND", why)
    end
    local method = ngx.req.get_method()
    local op, ids, msg, allow = router.route(rest_path, method)
    if not op and ids ~= "INVALID_ARGUMENT" then
        ngx.req.discard_body()
        return send_error(ids, msg, allow)
    end
    -- read through ngx.var, which finds the header however many come before it
    -- (ngx.req.get_headers stops at a count); nginx itself refuses two of them (400)
    local role = site.auth:role(ngx.var.http_authorization)
    if not role then
        ngx.req.discard_body()
        return send_error("UNAUTHENTICATED", "invalid credentials in the Authorization header")
    end
    if not op then -- a path id that is not a UUID
        ngx.req.discard_body()
        return send_error(ids, msg)
    end
    local args = query_args()
    if not args then
        ngx.req.discard_body()
        return send_error("INVALID_ARGUMENT", "query: more than " .. MAX_ARGS .. " parameters")
    end
    local in_pool = pooled(self)
    if op == "listEvents" then
        ngx.req.discard_body()
        local status, body, line
        if site.remote and in_pool then
            -- a server engine: the feed's read in the pool, off the event loop
            local ok
            ok, status, body, line = ngx.run_worker_thread(self.thread_pool, "progallery.http.thread",
                                                           "pull", site.store_conf, role, args)
            if not ok then
                log(ngx.ERR, "progallery: worker thread failed: ", tostring(status))
                return send_error("INTERNAL", "internal error")
            end
        else
            -- SQLite: read on the worker's own store (a read never waits on a lock)
            local pair = site_stores(self, site)
            if not pair then return send_error("INTERNAL", "internal error") end
            status, body, line = pull.execute(pair.admin, role, args)
        end
        if line then log(ngx.ERR, "progallery: ", line) end
        return send(status, body)
    end
    local params = { galleryId = ids.galleryId, itemId = ids.itemId, query = args }
    local if_match = ngx.var.http_if_match
    if if_match then
        -- a precondition of writes only, checked by the store (docs/http.md); nginx's own
        -- check would compare it with the ETag of the answer, the revision after the write
        -- (or none, after a delete), and turn a success into its HTML 412
        ngx.req.clear_header("If-Match")
        if method == "PATCH" or method == "DELETE" then params.ifMatch = if_match end
    end
    -- The other preconditions nginx checks on the answer, after the call has run: on a
    -- write (and POST .../query) a 304 or 412 would hide a change that was made, and
    -- If-Unmodified-Since is a 412 on any answer without Last-Modified (progallery sends
    -- none). A GET keeps If-None-Match: a 304 there is a revalidation, nothing hidden.
    if ngx.var.http_if_unmodified_since then ngx.req.clear_header("If-Unmodified-Since") end
    if method ~= "GET" then
        if ngx.var.http_if_none_match then ngx.req.clear_header("If-None-Match") end
        if ngx.var.http_if_modified_since then ngx.req.clear_header("If-Modified-Since") end
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
    local responses, key, version = site.cache, nil, nil
    local versions
    if responses and method == "GET" then
        if site.remote and in_pool then versions = site.versions else versions = site_stores(self, site) end
        versions = versions and (versions.visitor or versions)
    end
    if versions then
        key, version = responses:key(versions, role, ngx.var.request_uri)
        if key then
            local hit, etag = responses:get(key)
            if hit then return send(200, hit, nil, etag) end
        end
    end
    local status, body, line, etag = call(self, site, role, op, params)
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
