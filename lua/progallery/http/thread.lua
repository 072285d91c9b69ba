-- progallery.http.thread: the entry point an nginx worker thread runs, and the store pair
-- (visitor connection + admin view) that a worker and a thread VM each open alike.
--
--   ngx.run_worker_thread(pool, "progallery.http.thread", "execute", conf, role, op, params)
--   (and "data_version", "pull", "store_call": the cache's check, GET /events, the webhook
--   deliverer's calls)
--
-- conf = { path or dsn, busyTimeout?, synchronous? }; everything in and out is plain data (the
-- body travels as JSON text), and what comes back is status, JSON text, log line. The
-- thread's Lua VM keeps its stores in this module's table, one pair per conf (so one per
-- site: each site's conf names its own store), opened on first use.

local progallery = require "progallery"
local ops = require "progallery.http.ops"
local errors = require "progallery.http.errors"

local tostring, pcall = tostring, pcall
local concat = table.concat

local execute, error_response = ops.execute, errors.response

local _M = {}

-- conf -> { visitor = store, admin = view }, or nil, message, code.
function _M.open_stores(conf)
    local store, err, code = progallery.open{
        path = conf.path, dsn = conf.dsn, caller = "visitor",
        busyTimeout = conf.busyTimeout, synchronous = conf.synchronous,
    }
    if not store then return nil, err, code end
    local admin
    admin, err, code = store:as("admin")
    if not admin then store:close(); return nil, err, code end
    return { visitor = store, admin = admin }
end
local open_stores = _M.open_stores

local stores = {} -- this VM's store pairs, by open options

local function conf_key(conf)
    return concat({ tostring(conf.path), tostring(conf.dsn), tostring(conf.busyTimeout),
                    tostring(conf.synchronous) }, "\0")
end

-- this VM's pair for conf: pair, or nil, err, code
local function pair_for(conf)
    local key = conf_key(conf)
    local pair = stores[key]
    if pair then return pair end
    local err, code
    pair, err, code = open_stores(conf)
    if pair then stores[key] = pair end
    return pair, err, code
end

-- conf -> the store's dataVersion(), or nil: the response cache's check, run here for a
-- server engine (a network round trip must not run on the event loop).
function _M.data_version(conf)
    local ok, pair = pcall(pair_for, conf)
    if not ok or not pair then return nil end
    return (pair.visitor:dataVersion())
end

-- conf, role, query -> status, JSON text, log line: GET {prefix}/events read here for a
-- server engine (progallery.http.events on this VM's admin store).
function _M.pull(conf, role, query)
    local ok, status, body, line = pcall(function()
        local pair, err, code = pair_for(conf)
        if not pair then
            local s, b = error_response(code == "UNAVAILABLE" and code or "INTERNAL",
                code == "UNAVAILABLE" and "database is busy, try again" or "internal error")
            return s, b, "thread store open failed: " .. tostring(err)
        end
        return require("progallery.http.events").execute(pair.admin, role, query)
    end)
    if ok then return status, body, line end
    local s, b = error_response("INTERNAL", "internal error")
    return s, b, "thread pull: " .. tostring(status)
end

-- What the webhook deliverer (progallery.http.webhooks) calls on its site's admin store.
local DELIVERER = { dataVersion = true, eventCursor = true, setEventCursor = true,
                    leaseEventConsumer = true, rest = true }

-- conf, method, ... -> what this VM's admin store's method returns (r, err, code): the
-- deliverer's store calls, run here so that none runs on the event loop. Never raises.
function _M.store_call(conf, method, ...)
    if not DELIVERER[method] then return nil, "store_call: not a deliverer call", "INTERNAL" end
    local ok, r, err, code = pcall(function(...)
        local pair, oerr, ocode = pair_for(conf)
        if not pair then
            return nil, "thread store open failed: " .. tostring(oerr), ocode == "UNAVAILABLE" and ocode or "INTERNAL"
        end
        local store = pair.admin
        return store[method](store, ...)
    end, ...)
    if ok then return r, err, code end
    return nil, "store_call: " .. tostring(r), "INTERNAL"
end

local function run(conf, role, op, params)
    local pair, err, code = pair_for(conf)
    do
        if not pair then
            local s, b
            if code == "UNAVAILABLE" then
                s, b = error_response(code, "database is busy, try again")
            else
                s, b = error_response("INTERNAL", "internal error")
            end
            return s, b, "thread store open failed: " .. tostring(err) .. " (" .. tostring(code) .. ")"
        end
    end
    return execute(role == "admin" and pair.admin or pair.visitor, op, params)
end

-- conf, role, op, params -> status, JSON text, log line, ETag. Never raises.
function _M.execute(conf, role, op, params)
    local ok, status, body, log, etag = pcall(run, conf, role, op, params)
    if ok then return status, body, log, etag end
    local s, b = error_response("INTERNAL", "internal error")
    return s, b, "thread_execute: " .. tostring(status)
end

return _M
