-- progallery.http.sites: which sites one handler serves (API.md section 14), read from its
-- conf and checked once, in new().
--
--   local list, default = sites.parse(conf)   -- or nil, message naming the field
--
-- Each entry of list: { id (nil for a single-site conf), where (the field prefix of its
-- messages: "" or "sites.<id>."), path | dsn (the store), adminKey, webhooks, webhookKey,
-- instanceId, webhookTimeout }. Without conf.sites the handler serves one site from the
-- top-level options, as before sites existed, and ignores wix-site-id.
--
-- A site is its store: two sites on one SQLite file, or on one dsn and schema, would share
-- their galleries, so that is refused. On PostgreSQL, `schema` names the site's schema in
-- a database that many sites share: it becomes the first entry of the connection's
-- search_path (the engine creates that schema when missing).

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local sort, concat = table.sort, table.concat
local find, format = string.find, string.format

local _M = {}

-- what a site entry may hold; everything else is a typo, refused
local SITE_KEYS = { db = true, dsn = true, schema = true, adminKey = true, webhooks = true,
                    webhookKey = true, instanceId = true, webhookTimeout = true }
-- top-level options that belong to one site: with sites, each site gives its own
local PER_SITE = { "db", "dsn", "adminKey", "webhooks", "instanceId" }

local MAX_ID = 100
-- site ids as Wix writes them (UUIDs) and readable names; the header is matched exactly
local function valid_id(id)
    return type(id) == "string" and #id >= 1 and #id <= MAX_ID and find(id, "^[%w][%w._-]*$") ~= nil
end

-- an unquoted PostgreSQL identifier that CREATE SCHEMA accepts as it is
local function valid_schema(s)
    return type(s) == "string" and #s <= 63 and find(s, "^[a-z_][a-z0-9_]*$") ~= nil
        and not find(s, "^pg_") and s ~= "information_schema"
end

local function is_uri(s) return find(s, "^postgres") ~= nil end

-- dsn with the schema first in its search_path: a conninfo keyword, or a URI parameter
local function with_schema(dsn, schema)
    if is_uri(dsn) then
        return dsn .. (find(dsn, "?", 1, true) and "&" or "?") .. "options=-csearch_path%3D" .. schema
    end
    return dsn .. " options='-csearch_path=" .. schema .. "'"
end
_M.with_schema = with_schema

local function quoted(id) return format("%q", id) end

-- One site entry -> spec, or nil, message.
local function site_spec(id, e, conf)
    local where = "sites." .. id .. "."
    if type(e) ~= "table" then return nil, "sites." .. id .. ": expected { db = ... | dsn = ..., adminKey = ... }" end
    for k in pairs(e) do
        if not SITE_KEYS[k] then return nil, where .. tostring(k) .. ": unknown key" end
    end
    local db, dsn = e.db, e.dsn
    if db ~= nil and dsn ~= nil then return nil, where .. "dsn: give db or dsn, not both" end
    if dsn ~= nil and (type(dsn) ~= "string" or dsn == "") then
        return nil, where .. "dsn: expected a libpq connection string or a postgresql:// URI"
    end
    if dsn == nil then
        if type(db) ~= "string" or db == "" then return nil, where .. "db: expected a path (or give dsn)" end
        if is_uri(db) then dsn, db = db, nil end -- a URI as the path, as progallery.open takes it
    end
    if e.schema ~= nil then
        if not dsn then return nil, where .. "schema: only with dsn (a PostgreSQL store)" end
        if not valid_schema(e.schema) then
            return nil, where .. "schema: expected a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 bytes, not pg_*)"
        end
        if find(dsn, "options", 1, true) then
            return nil, where .. "schema: the dsn sets options already; give search_path there, or drop them"
        end
        dsn = with_schema(dsn, e.schema)
    end
    if type(e.adminKey) ~= "string" or e.adminKey == "" then
        return nil, where .. "adminKey: expected a string (each site has its own admin key)"
    end
    local webhook_key, timeout = e.webhookKey, e.webhookTimeout
    if webhook_key == nil then webhook_key = conf.webhookKey end
    if timeout == nil then timeout = conf.webhookTimeout end
    local instance_id = e.instanceId
    if instance_id == nil then instance_id = id end
    return {
        id = id, where = where, path = db, dsn = dsn, adminKey = e.adminKey,
        webhooks = e.webhooks, webhookKey = webhook_key, instanceId = instance_id, webhookTimeout = timeout,
    }
end

-- conf -> list of site specs, default site id (or nil); or nil, message.
function _M.parse(conf)
    local list = conf.sites
    if list == nil then
        if conf.defaultSite ~= nil then return nil, "defaultSite: only with sites" end
        if conf.dsn ~= nil and (type(conf.dsn) ~= "string" or conf.dsn == "") then
            return nil, "dsn: expected a libpq connection string or a postgresql:// URI"
        end
        if conf.dsn == nil and (type(conf.db) ~= "string" or conf.db == "") then return nil, "db: expected a path" end
        return { {
            id = nil, where = "", path = conf.dsn == nil and conf.db or nil, dsn = conf.dsn,
            adminKey = conf.adminKey, webhooks = conf.webhooks, webhookKey = conf.webhookKey,
            instanceId = conf.instanceId, webhookTimeout = conf.webhookTimeout,
        } }
    end
    if type(list) ~= "table" then return nil, "sites: expected { [siteId] = { db = ... | dsn = ..., adminKey = ... } }" end
    for _, k in ipairs(PER_SITE) do
        if conf[k] ~= nil then return nil, k .. ": not beside sites (each site gives its own, in sites[siteId])" end
    end
    local ids = {}
    for id in pairs(list) do
        if not valid_id(id) then
            return nil, "sites: " .. (type(id) == "string" and quoted(id) or "a " .. type(id) .. " key")
                .. " is not a site id (1.." .. MAX_ID .. " letters, digits, '.', '_', '-'; starting with a letter or digit)"
        end
        ids[#ids + 1] = id
    end
    if #ids == 0 then return nil, "sites: expected at least one site" end
    sort(ids) -- deterministic messages
    local specs, stores = {}, {}
    for i, id in ipairs(ids) do
        local spec, err = site_spec(id, list[id], conf)
        if not spec then return nil, err end
        local store = spec.dsn and "dsn\0" .. spec.dsn or "db\0" .. spec.path
        if stores[store] then
            return nil, spec.where .. (spec.dsn and "dsn" or "db") .. ": the store of site " .. stores[store]
                .. " too (each site has its own: another file, or another schema)"
        end
        stores[store] = id
        specs[i] = spec
    end
    local default = conf.defaultSite
    if default ~= nil then
        if type(default) ~= "string" or list[default] == nil then
            return nil, "defaultSite: not one of the sites" .. (#ids <= 10 and " (" .. concat(ids, ", ") .. ")" or "")
        end
    end
    return specs, default
end

return _M
