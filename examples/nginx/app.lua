-- The tiny app of examples/nginx/nginx.conf: the progallery REST v2 API, configured from
-- the environment (nginx passes these through its `env` directives):
--   PROGALLERY_ADMIN_KEY    the admin key; requests with "Authorization: <key>" may write
--   PROGALLERY_DB           the SQLite file (default: <nginx prefix>/data/progallery.db)
--   PROGALLERY_DSN          a PostgreSQL store instead (API.md section 11)
--   PROGALLERY_PREFIX       URL prefix (default /pro-gallery/v2; /progallery/v2 answers too)
--   PROGALLERY_MAX_BODY     largest request body in bytes (default 1048576)
--   PROGALLERY_THREAD_POOL  nginx thread_pool for the SQLite work (default "progallery";
--                           "off" calls the store directly in the worker)
--   PROGALLERY_BUSY_TIMEOUT ms a write waits for another connection's lock (default 5000)
--   PROGALLERY_SYNCHRONOUS  "full" or "normal" (default "normal": durable on process crash)
--   PROGALLERY_CACHE        "off": no per-worker cache of GET responses (default on)
--   PROGALLERY_WEBHOOKS     space-separated webhook URLs, each receiving all six events
--   PROGALLERY_WEBHOOK_KEY  path of the PEM RSA private key that signs them
--   PROGALLERY_INSTANCE_ID  the instanceId sent in webhooks (default "progallery")
--   PROGALLERY_SITES        many sites (API.md section 14): the path of a Lua file returning
--                           { [siteId] = { db = ... | dsn = ..., schema = ..., adminKey = ...,
--                           webhooks = ..., instanceId = ... } }; then PROGALLERY_DB and
--                           PROGALLERY_ADMIN_KEY are not used (each site has its own), and the
--                           webhook key of PROGALLERY_WEBHOOK_KEY signs every site's webhooks
--   PROGALLERY_DEFAULT_SITE the site of requests without wix-site-id (none: they are 404)
-- Loaded by init_by_lua (code only, before fork); each worker opens its store in
-- init_worker_by_lua.
local http = require "progallery.http"

local _M = {}

local function env(name, default)
    local v = os.getenv(name)
    if v == nil or v == "" then return default end
    return v
end

local pool = env("PROGALLERY_THREAD_POOL", "progallery")
if pool == "off" then pool = nil end

-- webhooks (API.md 10.5): the key is read here, in the master, before fork
local webhooks, webhook_key
for url in env("PROGALLERY_WEBHOOKS", ""):gmatch("%S+") do
    webhooks = webhooks or {}
    webhooks[#webhooks + 1] = { url = url }
end
local key_path = env("PROGALLERY_WEBHOOK_KEY")
if key_path then
    local f = io.open(key_path, "rb")
    if not f then error("progallery: PROGALLERY_WEBHOOK_KEY: cannot read " .. key_path) end
    webhook_key = f:read("*a")
    f:close()
elseif webhooks then
    error("progallery: PROGALLERY_WEBHOOKS needs PROGALLERY_WEBHOOK_KEY, a readable PEM file")
end

-- many sites (API.md section 14): the sites table from a Lua file
local sites
local sites_path = env("PROGALLERY_SITES")
if sites_path then
    local chunk, lerr = loadfile(sites_path) -- the operator's own configuration, as trusted as this file
    if not chunk then error("progallery: PROGALLERY_SITES: " .. tostring(lerr)) end
    local ok, t = pcall(chunk)
    if not ok then error("progallery: PROGALLERY_SITES: " .. tostring(t)) end
    sites = t
end

local handler, err = http.new{
    sites = sites,
    defaultSite = env("PROGALLERY_DEFAULT_SITE"),
    -- with sites, each gives its own store and key (the defaults here are not theirs)
    db = not sites and env("PROGALLERY_DB", ngx.config.prefix() .. "data/progallery.db") or nil,
    dsn = env("PROGALLERY_DSN"),
    adminKey = not sites and env("PROGALLERY_ADMIN_KEY") or nil,
    prefix = env("PROGALLERY_PREFIX", "/pro-gallery/v2"),
    maxBody = tonumber(env("PROGALLERY_MAX_BODY", "1048576")),
    threadPool = pool,
    busyTimeout = tonumber(env("PROGALLERY_BUSY_TIMEOUT", "5000")),
    synchronous = env("PROGALLERY_SYNCHRONOUS", "normal"),
    cache = env("PROGALLERY_CACHE", "on") ~= "off",
    webhooks = webhooks, webhookKey = webhook_key, instanceId = env("PROGALLERY_INSTANCE_ID"),
}
if not handler then error("progallery: bad configuration: " .. tostring(err)) end
if not sites and not env("PROGALLERY_ADMIN_KEY") then
    ngx.log(ngx.WARN, "progallery: PROGALLERY_ADMIN_KEY is not set: every request is a visitor")
end
_M.handler = handler

function _M.init_worker() handler:init_worker() end
function _M.handle() return handler:handle() end
function _M.reject(status) return handler:reject(status) end

return _M
