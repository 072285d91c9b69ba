-- progallery.http.errors: error codes -> HTTP statuses and the JSON error body of API.md
-- section 9:
--   { message, details = { applicationError = { code, description },
--                          validationError = { fieldViolations = {{field, description}} }? } }
-- No Lua error text and no internal message reaches a client: those become a generic
-- message, and the detail is handed back as a log line.

local json = require "progallery.http.json"
local text_of = require("progallery.text").of

local type, tonumber = type, tonumber
local sub, find, gsub, match = string.sub, string.find, string.gsub, string.match

local encode = json.encode

local _M = {}

-- The codes of API.md section 7 and their statuses, and the few that only HTTP has: 401,
-- 405 and 413 (earlier decisions, in docs/http.md) and 501 (Wix's own NOT_IMPLEMENTED). The
-- error pages of examples/nginx/nginx.conf use these codes; a status of nginx's own with no
-- code of its own takes the nearest (414 and oversized headers RESOURCE_EXHAUSTED, 408 and
-- 505 INVALID_ARGUMENT).
local STATUS = {
    INVALID_ARGUMENT = 400, RESOURCE_EXHAUSTED = 400, UNAUTHENTICATED = 401,
    PERMISSION_DENIED = 403, NOT_FOUND = 404, METHOD_NOT_ALLOWED = 405,
    ABORTED = 409, FAILED_PRECONDITION = 412, PAYLOAD_TOO_LARGE = 413, INTERNAL = 500,
    NOT_IMPLEMENTED = 501, UNAVAILABLE = 503,
}
_M.STATUS = STATUS

-- An HTTP status nginx answers itself (error_page) -> code, message of its JSON body.
local NGINX_STATUS = {
    [400] = { "INVALID_ARGUMENT", "bad request" },
    [404] = { "NOT_FOUND", "no such route" },
    [405] = { "METHOD_NOT_ALLOWED", "method not allowed" },
    [408] = { "INVALID_ARGUMENT", "request timed out" },
    [413] = { "PAYLOAD_TOO_LARGE", "request body too large" },
    [414] = { "RESOURCE_EXHAUSTED", "request URI too long" },
    [494] = { "RESOURCE_EXHAUSTED", "request headers too large" }, -- nginx's; sent as 400
    [500] = { "INTERNAL", "internal error" },
    [501] = { "NOT_IMPLEMENTED", "not implemented" },
    [505] = { "INVALID_ARGUMENT", "HTTP version not supported" },
}

-- status -> code, message (a status not listed is a 500).
function _M.for_status(status)
    local r = NGINX_STATUS[status] or NGINX_STATUS[500]
    return r[1], r[2]
end

-- First segment of a message's field path -> it is a field (REST names; the store's
-- Velo roots are the same words).
local FIELD_ROOTS = {
    gallery = true, item = true, items = true, galleryId = true, itemId = true, itemIds = true,
    itemsIds = true, cloneFromGalleryId = true, limit = true, offset = true, itemLimit = true,
    itemOffset = true, body = true, before = true, after = true, toGalleryId = true,
}
local VELO_TO_REST = { _id = "id", _createdDate = "createdDate", _updatedDate = "updatedDate" }

-- "items[2].image._id" (1-based, Velo names) -> "items[1].image.id" (0-based, REST names).
local function rest_field(path)
    path = gsub(path, "%[(%d+)%]", function(n) return "[" .. (tonumber(n) - 1) .. "]" end)
    path = gsub(path, "[^%.%[%]]+", function(seg) return VELO_TO_REST[seg] or seg end)
    return path
end

-- A message that names a field: "<path>: <description>" -> REST path, description.
local function split_field(msg)
    local field, desc = match(msg, "^(.-): (.*)$")
    if not field then return nil end
    local root = match(field, "^[%a_][%w_]*")
    if not root or not FIELD_ROOTS[root] then return nil end
    return rest_field(field), desc
end


local function looks_like_lua_error(msg)
    return find(msg, "%.lua:%d+:") ~= nil or find(msg, "stack traceback", 1, true) ~= nil
end

-- code, message[, field] -> status, JSON body, log line (nil when nothing to log).
-- A message naming a field is rewritten with the REST path (0-based indexes).
-- code and msg may come from a store (or a stub of one): neither is touched through a
-- metamethod; a code that is not a string is INTERNAL.
function _M.response(code, msg, field)
    if type(code) ~= "string" then code = "INTERNAL" end
    local status = STATUS[code] or 500
    local log
    msg = text_of(msg)
    if status == 500 or looks_like_lua_error(msg) then
        log = code .. ": " .. msg
        msg = status == 500 and "internal error" or "invalid request"
    end
    local violation
    if code == "INVALID_ARGUMENT" or code == "RESOURCE_EXHAUSTED" then
        local desc
        if field then -- msg is "<field>: <desc>" (the field may hold ": " itself)
            desc = sub(msg, 1, #field + 2) == field .. ": " and sub(msg, #field + 3)
                or match(msg, "^.-: (.*)$") or msg
        else
            field, desc = split_field(msg)
        end
        if field then
            msg = field .. ": " .. desc
            violation = { fieldViolations = { { field = field, description = desc } } }
        end
    elseif status ~= 500 then
        -- other codes name a field too ("itemIds[3]: no item with id ..."): the same
        -- REST path, 0-based, but no validationError (the request was well formed)
        local f, desc = split_field(msg)
        if f then msg = f .. ": " .. desc end
    end
    local body = { message = msg,
                   details = { applicationError = { code = code, description = msg },
                               validationError = violation } }
    return status, encode(body), log
end

return _M
