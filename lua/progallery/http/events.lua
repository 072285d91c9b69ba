-- progallery.http.events: GET {prefix}/events?after=&limit=, the feed for consumers that
-- pull instead of receiving webhooks (API.md 10.5). Admin key only: the feed carries every
-- change and who made it. The events are the webhooks' REST-shaped domain events.

local errors = require "progallery.http.errors"

local tonumber, type, pairs = tonumber, type, pairs

local _M = {}

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
    -- written in C from the stored form: the domain events of the webhooks, lossless
    local text, err, code = store:rest("events", nil, nil, opts)
    if not text then return errors.response(code, err) end
    return 200, text
end

return _M
