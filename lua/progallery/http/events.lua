-- progallery.http.events: GET {prefix}/events?after=&limit=, the feed for consumers that
-- pull instead of receiving webhooks (API.md 10.5). Admin key only: the feed carries every
-- change and who made it. The events are the webhooks' REST-shaped domain events.

local progallery = require "progallery"
local rest = require "progallery.rest"
local webhooks = require "progallery.http.webhooks"
local errors = require "progallery.http.errors"

local tonumber, type, pairs = tonumber, type, pairs

local _M = {}

-- rest.ARRAY_KEYS and "events": an empty feed page is [] too
local KEYS = { events = true }
for k, v in pairs(rest.ARRAY_KEYS) do KEYS[k] = v end
local OPAQUE = { exif = true, css = true }

local function number_param(query, name)
    local v = query[name]
    if v == nil then return nil end
    if type(v) ~= "string" or not v:match("^%d+$") then return false end
    return tonumber(v)
end

-- store (an admin store), role, query -> status, JSON text[, log line]
function _M.execute(store, role, query)
    if role ~= "admin" then
        return errors.response("PERMISSION_DENIED", "the event feed needs the admin key")
    end
    local opts = {}
    for _, name in pairs { "after", "limit" } do
        local n = number_param(query, name)
        if n == false then
            return errors.response("INVALID_ARGUMENT", name .. ": expected an integer")
        end
        opts[name] = n
    end
    local page, err, code = store:events(opts)
    if not page then return errors.response(code, err) end
    local out = {}
    for i, env in ipairs(page.events) do
        local ev, derr = webhooks.domain_event(env)
        if not ev then return errors.response("INTERNAL", derr) end
        out[i] = ev
    end
    local text, eerr = progallery.encodeJSON({ events = out, lastSeq = page.lastSeq }, KEYS, OPAQUE)
    if not text then return errors.response("INTERNAL", eerr) end
    return 200, text
end

return _M
