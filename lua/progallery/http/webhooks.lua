-- progallery.http.webhooks: the store's event feed POSTed to webhook endpoints, signed the
-- way Wix signs them, so that the official SDK's client.webhooks.process accepts them
-- (API.md section 10.5).
--
--   local hooks = webhooks.new({ webhooks = { { url = "http://...", events = { "onGalleryCreated" } } },
--                                webhookKey = pem, instanceId = "site-1", webhookTimeout = 10000 },
--                              store_conf, threadPool)   -- store_conf: a site's { path | dsn, ... }
--   hooks:start(versions)   -- in init_worker: one timer per endpoint in every worker
--
-- One hooks per site (progallery.http.sites), on that site's store: each endpoint is a
-- consumer of that store's feed, its cursor and lease named "webhook:" .. url in that
-- store, so sites never share a cursor, a lease or an event, even on one PostgreSQL
-- database (each site's schema has its own consumers). The timers of all workers (and,
-- with a shared engine, of all nodes) compete for the lease; the holder delivers, in seq
-- order, one POST per event, and moves the cursor past what got a 2xx (every 50 ms while
-- it works through a page, and at the page's end). Anything else is retried with
-- exponential backoff (1 s doubling to 5 min), without end; later events wait, so order
-- holds. Deliveries run in timers, never in a request, and each endpoint has its own
-- timer, so a slow endpoint delays only itself.
--
-- The deliverer's store calls (dataVersion, the feed, the lease, the cursor) run in the
-- handler's thread pool when it has one (ngx.run_worker_thread, on the thread VMs' stores
-- of progallery.http.thread, as requests do), so that neither a PostgreSQL round trip nor
-- a SQLite lock wait ever runs on the event loop, and the event loop opens no store for
-- them. One exception, on SQLite only: the idle poll of dataVersion() reads the worker's
-- own store (see start). Without a pool the deliverer has its own connection in the
-- worker, with a short busyTimeout, so that a write lock held by a request never stalls
-- the event loop for long.

local progallery = require "progallery"
local cjson = require "cjson"
local json = require "progallery.http.json"
local client = require "progallery.http.client"
local dispatch_names = require("progallery.events").HANDLER_NAMES

local type, pairs, ipairs, tostring, tonumber, setmetatable, pcall = type, pairs, ipairs, tostring, tonumber, setmetatable, pcall
local min, max, floor = math.min, math.max, math.floor

local _M = {}
local mt = { __index = _M }

local ALL = { "onGalleryCreated", "onGalleryUpdated", "onGalleryDeleted",
              "onGalleryItemCreated", "onGalleryItemUpdated", "onGalleryItemDeleted" }
local KNOWN = {}
for _, n in ipairs(ALL) do KNOWN[n] = true end

local BACKOFF_FIRST, BACKOFF_MAX = 1, 300 -- seconds
local POLL = 0.02                         -- seconds between looks at the feed when idle (dataVersion: cheap)
local PAGE = 100
local DELIVERER_BUSY_TIMEOUT = 20         -- ms: see the header
local SAVE_EVERY = 0.05                   -- seconds between cursor writes while a page is delivered

-- A page of the feed as the deliverer signs it: store:rest("webhookEvents") writes, in C
-- and from the stored form, each event's REST-shaped domain event (10.5) and its identity
-- as JSON text, so that nothing of the entity is lost or re-encoded on the way:
-- { events = { { seq, eventType, identity = text, data = text }, ... }, lastSeq }.
local function feed_page(store, opts)
    local text, err, code = store:rest("webhookEvents", nil, nil, opts)
    if not text then return nil, err, code end
    return cjson.decode(text)
end
_M.feed_page = feed_page

-- The webhook body: a JWT whose payload's data is the JSON text of
-- { eventType, instanceId, data = <domain event JSON>, identity = <identity JSON> }.
function _M.body(ev, key, instance_id, now)
    local ok, data = pcall(function()
        return json.encode { data = json.encode {
            eventType = ev.eventType, instanceId = instance_id, data = ev.data, identity = ev.identity,
        }, iat = floor(now) }
    end)
    if not ok then return nil, data end
    return progallery.jwtRS256(key, data)
end

local function log(level, ...)
    if ngx and ngx.log then ngx.log(level, "progallery webhooks: ", ...) end
end

-- conf (a site's webhooks, webhookKey, instanceId, webhookTimeout), store_conf (the site's
-- store options), pool (the handler's threadPool, or nil) -> the webhooks of a site, nil
-- (none configured), or nil, message.
function _M.new(conf, store_conf, pool)
    local list = conf.webhooks
    if list == nil then return nil end
    if type(list) ~= "table" then return nil, "webhooks: expected a list of { url = ..., events = ... }" end
    if #list == 0 then return nil end
    if type(conf.webhookKey) ~= "string" or conf.webhookKey == "" then
        return nil, "webhookKey: an RSA private key in PEM is required with webhooks"
    end
    local probe, err = progallery.jwtRS256(conf.webhookKey, "{}")
    if not probe then return nil, "webhookKey: " .. tostring(err):gsub("^key: ", "") end
    local instance_id = conf.instanceId
    if instance_id == nil then instance_id = "progallery" end
    if type(instance_id) ~= "string" then return nil, "instanceId: expected a string" end
    local timeout = conf.webhookTimeout or 10000
    if type(timeout) ~= "number" or timeout < 1 or timeout ~= floor(timeout) then
        return nil, "webhookTimeout: expected an integer number of ms >= 1"
    end
    local endpoints, seen = {}, {}
    for i, w in ipairs(list) do
        local where = "webhooks[" .. i .. "]"
        if type(w) == "string" then w = { url = w } end
        if type(w) ~= "table" then return nil, where .. ": expected { url = ..., events = ... }" end
        for k in pairs(w) do
            if k ~= "url" and k ~= "events" then return nil, where .. "." .. tostring(k) .. ": unknown key" end
        end
        local ok, uerr = client.parse_url(w.url)
        if not ok then return nil, where .. "." .. uerr end
        if #w.url > 120 then return nil, where .. ".url: at most 120 bytes (it names the endpoint's cursor)" end
        if seen[w.url] then return nil, where .. ".url: given twice" end
        seen[w.url] = true
        local wanted = {}
        for j, name in ipairs(w.events or ALL) do
            if not KNOWN[name] then
                return nil, where .. ".events[" .. j .. "]: not an event name (" .. table.concat(ALL, ", ") .. ")"
            end
            wanted[name] = true
        end
        endpoints[#endpoints + 1] = { url = w.url, events = wanted, consumer = "webhook:" .. w.url }
    end
    return setmetatable({
        endpoints = endpoints, key = conf.webhookKey, instance_id = instance_id, timeout = timeout,
        -- the lease outlives any one POST, and is renewed well before it runs out
        lease_ms = max(15000, 3 * timeout),
        pool = pool,
        -- in the pool: the threads' own stores, shared with requests; without: its own
        store_conf = store_conf,
        direct_conf = { path = store_conf.path, dsn = store_conf.dsn, caller = "admin",
                        busyTimeout = DELIVERER_BUSY_TIMEOUT, synchronous = store_conf.synchronous },
    }, mt)
end

-- ---- the deliverer (runs in ngx.timer) --------------------------------------------------

local function exiting() return ngx.worker.exiting() end

-- A store call that may meet a held write lock: retried (event loop free meanwhile).
local function call(fn, ...)
    while true do
        local r, err, code = fn(...)
        if r ~= nil or code ~= "UNAVAILABLE" or exiting() then return r, err, code end
        ngx.sleep(0.05)
    end
end

local Deliverer = {}
Deliverer.__index = Deliverer

function Deliverer:renew(force)
    local now = ngx.now()
    if not force and now < self.renew_at then return true end
    local held, err, code = call(self.store.leaseEventConsumer, self.store, self.ep.consumer, self.holder,
                                 self.hooks.lease_ms)
    if held == nil then log(ngx.ERR, self.ep.url, ": lease: ", err, " (", code, ")") end
    if held then self.renew_at = now + self.hooks.lease_ms / 3000 end
    return held == true
end

-- One POST; true on a 2xx.
function Deliverer:post(ev)
    local body, err = _M.body(ev, self.hooks.key, self.hooks.instance_id, ngx.time())
    if not body then
        log(ngx.ERR, self.ep.url, ": event ", ev.seq, " cannot be signed: ", err)
        return false
    end
    local res
    res, err = client.request { url = self.ep.url, method = "POST", body = body, timeout = self.hooks.timeout,
                                headers = { ["Content-Type"] = "text/plain" } }
    if res and res.status >= 200 and res.status < 300 then return true end
    log(ngx.WARN, self.ep.url, ": event ", ev.seq, " not delivered: ",
        res and ("HTTP " .. res.status) or err)
    return false
end

-- Delivers one event, retrying with backoff; false when the lease is lost or nginx exits.
function Deliverer:deliver(ev)
    local wait = BACKOFF_FIRST
    while true do
        if not self:renew() or exiting() then return false end
        if self:post(ev) then return true end
        ngx.update_time()
        local until_t = ngx.now() + wait
        while true do
            if exiting() or not self:renew() then return false end
            ngx.update_time()
            local left = until_t - ngx.now()
            -- never ngx.sleep(0): it may resume before the cached clock moves (a busy loop)
            if left < 0.005 then break end
            ngx.sleep(min(1, left))
        end
        wait = min(wait * 2, BACKOFF_MAX)
    end
end

-- Delivers while it holds the lease; returns when it loses it or nginx exits.
function Deliverer:run()
    local store, ep = self.store, self.ep
    local cursor, err, code = call(store.eventCursor, store, ep.consumer)
    if not cursor then log(ngx.ERR, ep.url, ": cursor: ", err, " (", code, ")"); return end
    if cursor == 0 then call(store.setEventCursor, store, ep.consumer, 0) end -- registered: pruning waits
    local seen_version
    while not exiting() do
        if not self:renew() then return end
        local version = store:dataVersion()
        if version ~= seen_version then
            local page
            page, err, code = call(feed_page, store, { after = cursor, limit = PAGE })
            if not page and code == "FAILED_PRECONDITION" then
                -- a new endpoint on a feed already pruned: it starts where the feed begins
                local begins = tonumber(tostring(err):match("begins after seq (%d+)"))
                log(ngx.ERR, ep.url, ": ", err, "; continuing from seq ", tostring(begins))
                if begins then call(store.setEventCursor, store, ep.consumer, begins); cursor = begins end
            elseif not page then
                log(ngx.ERR, ep.url, ": reading the feed: ", err, " (", code, ")")
                ngx.sleep(1)
            else
                -- the cursor moves after deliveries: at most every SAVE_EVERY seconds within
                -- a page, and at its end (a crash re-delivers at most those: at-least-once)
                local passed, saved_at = cursor, ngx.now()
                local function save(seq)
                    local ok
                    ok, err, code = call(store.setEventCursor, store, ep.consumer, seq)
                    if not ok then
                        log(ngx.ERR, ep.url, ": cursor at ", seq, ": ", err, " (", code, ")")
                        return false -- another deliverer moved it (a lease lost meanwhile)
                    end
                    cursor = seq
                    return true
                end
                for _, ev in ipairs(page.events) do
                    local seq = ev.seq
                    if ep.events[dispatch_names[ev.eventType]] then
                        if not self:deliver(ev) then
                            if passed > cursor then save(passed) end
                            return
                        end
                        ngx.update_time()
                        if ngx.now() - saved_at >= SAVE_EVERY then
                            if not save(seq) then return end
                            saved_at = ngx.now()
                        end
                    end
                    passed = seq
                end
                if passed > cursor and not save(passed) then return end
                if #page.events < PAGE then seen_version = version end
            end
        else
            ngx.sleep(POLL)
        end
    end
end

-- The deliverer's store in the pool: the methods it calls, each a call of
-- progallery.http.thread.store_call in a pool thread (plain values in and out).
local POOLED = { "dataVersion", "eventCursor", "setEventCursor", "leaseEventConsumer", "rest" }
local function pooled_store(pool, conf, versions)
    local store = { close = function() end }
    for _, method in ipairs(POOLED) do
        store[method] = function(_, ...)
            local ok, r, err, code = ngx.run_worker_thread(pool, "progallery.http.thread", "store_call",
                                                           conf, method, ...)
            if not ok then return nil, "worker thread failed: " .. tostring(r), "INTERNAL" end
            return r, err, code
        end
    end
    if versions then
        -- the idle poll (every POLL seconds) on the event loop's own SQLite store: a local
        -- counter read that never waits on a lock, where a pool round trip each time cost
        -- 6x the worker's idle CPU (docs/events.md)
        store.dataVersion = function() return versions:dataVersion() end
    end
    return store
end

local function endpoint_loop(premature, hooks, ep)
    if premature then return end
    local store, err, code
    if hooks.pool and ngx.run_worker_thread then
        store = pooled_store(hooks.pool, hooks.store_conf, hooks.versions)
    else
        store, err, code = progallery.open(hooks.direct_conf)
        if not store then
            log(ngx.ERR, ep.url, ": cannot open the store: ", err, " (", code, ")")
            return
        end
    end
    local d = setmetatable({ hooks = hooks, ep = ep, store = store, renew_at = 0,
        holder = hooks.node .. ":" .. ngx.worker.pid() }, Deliverer)
    while not exiting() do
        local ok, perr = pcall(function()
            if d:renew(true) then d:run() end
        end)
        if not ok then log(ngx.ERR, ep.url, ": deliverer failed: ", perr) end
        if not exiting() then ngx.sleep(1) end
    end
    -- give the lease back, so that another worker takes over at once
    pcall(store.leaseEventConsumer, store, ep.consumer, d.holder, 0)
    store:close()
end

-- init_worker: one timer per endpoint; all workers compete, one holds each lease.
local function hostname()
    local f = io.open("/proc/sys/kernel/hostname")
    local name = f and f:read("*l")
    if f then f:close() end
    return name and name ~= "" and name:sub(1, 64) or "node"
end

-- versions: nil, or the worker's own SQLite store (the handler's, already open for its
-- cache), whose dataVersion() the idle poll reads instead of a pool round trip. Never a
-- PostgreSQL store: there the poll is a network round trip and runs in the pool.
function _M:start(versions)
    self.node = self.node or hostname()
    self.versions = versions
    for _, ep in ipairs(self.endpoints) do
        local ok, err = ngx.timer.at(0, endpoint_loop, self, ep)
        if not ok then log(ngx.ERR, ep.url, ": cannot start a timer: ", err) end
    end
    return true
end

return _M
