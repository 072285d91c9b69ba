-- progallery.http.router: request URI and method -> the API operation (API.md section 9).
--
--   local r = router.new("/pro-gallery/v2")     -- or nil, message
--   local path = r:strip(ngx.var.uri)            -- the part after a prefix, or nil
--   local op, ids = router.route(path, method)   -- or nil, code, message[, allow]
--
-- Pure: no ngx. Path ids must be UUIDs; a route never looks past its fifth segment, so
-- a path of thousands of segments costs no more than a short one.

local progallery = require "progallery"

local type, setmetatable = type, setmetatable
local sub, find, gsub = string.sub, string.find, string.gsub

local escape_key = progallery.escapeKey -- a caller's text as messages name it: UTF-8, \xHH

local _M = {}
local mt = { __index = _M }

local DEFAULT_PREFIX = "/pro-gallery/v2"
local SDK_PREFIX = "/progallery/v2" -- what the official SDK calls: always answers

local function normalize_prefix(p)
    p = gsub(p, "/+$", "")
    if sub(p, 1, 1) ~= "/" then p = "/" .. p end
    return p
end

-- prefix (nil: the default) -> router, or nil, message.
function _M.new(prefix)
    if prefix == nil then prefix = DEFAULT_PREFIX end
    if type(prefix) ~= "string" then return nil, "prefix: expected a string" end
    prefix = normalize_prefix(prefix)
    local prefixes = { prefix }
    if prefix ~= SDK_PREFIX then prefixes[2] = SDK_PREFIX end
    local slashed = {} -- each prefix with its "/", made once rather than per request
    for i = 1, #prefixes do slashed[i] = prefixes[i] .. "/" end
    return setmetatable({ prefixes = prefixes, slashed = slashed }, mt)
end

-- uri -> the path after the first prefix it starts with ("" or "/..."), or nil.
function _M:strip(uri)
    local prefixes, slashed = self.prefixes, self.slashed
    for i = 1, #prefixes do
        local p = prefixes[i]
        if uri == p or find(uri, slashed[i], 1, true) == 1 then
            return sub(uri, #p + 1)
        end
    end
    return nil
end

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local function is_uuid(s) return type(s) == "string" and find(s, UUID) ~= nil end

local ALLOW = {
    galleries = "GET, POST", gallery = "GET, PATCH, DELETE",
    items = "GET, POST, DELETE", item = "GET, PATCH, DELETE", delete = "POST", query = "POST", move = "POST",
}

local function not_allowed(method, allow)
    return nil, "METHOD_NOT_ALLOWED", "method " .. escape_key(method) .. " not allowed", allow
end

-- path (after the prefix, "" or "/..."), method -> op, ids or nil, code, message, allow.
function _M.route(path, method)
    local segs, n = {}, 0
    if path ~= "" then
        if sub(path, 1, 1) ~= "/" then return nil, "NOT_FOUND", "no such route" end
        -- at most 5 segments: no route has more
        local i = 2
        while n < 5 do
            local j = find(path, "/", i, true)
            n = n + 1
            segs[n] = sub(path, i, (j or 0) - 1)
            if not j then break end
            i = j + 1
        end
    end
    if n == 1 and segs[1] == "events" then -- the event feed (10.5)
        if method == "GET" then return "listEvents", {} end
        return not_allowed(method, "GET")
    end
    if n == 0 or segs[1] ~= "galleries" then return nil, "NOT_FOUND", "no such route" end
    if n == 1 then
        if method == "GET" then return "listGalleries", {} end
        if method == "POST" then return "createGallery", {} end
        return not_allowed(method, ALLOW.galleries)
    end
    local gid = segs[2]
    if gid == "query" and n == 2 then -- a read with its query in the body (spec section 14)
        if method == "POST" then return "queryGalleries", {} end
        return not_allowed(method, ALLOW.query)
    end
    if not is_uuid(gid) then
        return nil, "INVALID_ARGUMENT", "galleryId: not a valid UUID"
    end
    local ids = { galleryId = gid }
    if n == 2 then
        if method == "GET" then return "getGallery", ids end
        if method == "PATCH" then return "updateGallery", ids end
        if method == "DELETE" then return "deleteGallery", ids end
        return not_allowed(method, ALLOW.gallery)
    end
    if segs[3] ~= "items" then return nil, "NOT_FOUND", "no such route" end
    if n == 3 then
        if method == "GET" then return "listGalleryItems", ids end
        if method == "POST" then return "createGalleryItem", ids end
        if method == "DELETE" then return "deleteGalleryItems", ids end
        return not_allowed(method, ALLOW.items)
    end
    local iid = segs[4]
    if iid == "delete" and n == 4 then
        if method == "POST" then return "bulkDeleteGalleryItems", ids end
        return not_allowed(method, ALLOW.delete)
    end
    if iid == "query" and n == 4 then
        if method == "POST" then return "queryGalleryItems", ids end
        return not_allowed(method, ALLOW.query)
    end
    if iid == "move" and n == 4 then -- moveGalleryItems (API.md section 14)
        if method == "POST" then return "moveGalleryItems", ids end
        return not_allowed(method, ALLOW.move)
    end
    if not is_uuid(iid) then return nil, "INVALID_ARGUMENT", "itemId: not a valid UUID" end
    if n > 4 then return nil, "NOT_FOUND", "no such route" end
    ids.itemId = iid
    if method == "GET" then return "getGalleryItem", ids end
    if method == "PATCH" then return "updateGalleryItem", ids end
    if method == "DELETE" then return "deleteGalleryItem", ids end
    return not_allowed(method, ALLOW.item)
end

return _M
