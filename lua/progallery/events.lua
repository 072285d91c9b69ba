-- progallery.events: the store's event feed handed to Lua handlers (API.md 10.4).
--
--   local events = require "progallery.events"
--   local handled, err = events.dispatch(store, {
--       wixProGallery_onGalleryItemCreated = function(event) ... end,   -- Velo's names
--       onGalleryDeleted = function(event) ... end,                      -- or the SDK's
--   }, { consumer = "search-index", limit = 100 })
--
-- At-least-once and in order: the consumer's cursor moves past an event only once its
-- handler has returned, and is stored after each one, so a crash or a raising handler
-- hands the same event again on the next dispatch.

local type, pairs, pcall, tostring, next = type, pairs, pcall, tostring, next

local text_of = require("progallery.text").of

local _M = { _VERSION = require "progallery.version" }

local INVALID = "INVALID_ARGUMENT"

-- eventType -> the SDK's handler name (Velo's is "wixProGallery_" .. it)
local NAMES = {
    ["wix.pro_gallery.gallery_v2_created"] = "onGalleryCreated",
    ["wix.pro_gallery.gallery_v2_updated"] = "onGalleryUpdated",
    ["wix.pro_gallery.gallery_v2_deleted"] = "onGalleryDeleted",
    ["wix.pro_gallery.gallery_v2_gallery_item_created"] = "onGalleryItemCreated",
    ["wix.pro_gallery.gallery_v2_gallery_item_updated"] = "onGalleryItemUpdated",
    ["wix.pro_gallery.gallery_v2_gallery_item_deleted"] = "onGalleryItemDeleted",
}
_M.HANDLER_NAMES = {}
local KNOWN = {}
for eventType, name in pairs(NAMES) do
    _M.HANDLER_NAMES[eventType] = name
    KNOWN[name] = name
    KNOWN["wixProGallery_" .. name] = name
end

local function callable(f)
    if type(f) == "function" then return true end
    local mt = (type(f) == "table" or type(f) == "userdata") and getmetatable(f)
    return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

-- handlers -> { [SDK name] = fn }, or nil, message. An unknown name is refused: a typo
-- would otherwise pass its events over, and move the cursor past them, unseen.
local function read_handlers(handlers)
    if type(handlers) ~= "table" then
        return nil, "handlers: expected a table of functions, got " .. type(handlers)
    end
    local out = {}
    for k, fn in next, handlers do
        local name = type(k) == "string" and KNOWN[k]
        if not name then
            return nil, "handlers." .. text_of(k) .. ": not an event handler name (onGalleryCreated, "
                .. "wixProGallery_onGalleryCreated, ...)"
        end
        if not callable(fn) then
            return nil, "handlers." .. k .. ": expected a function, got " .. type(fn)
        end
        if out[name] and out[name] ~= fn then
            return nil, "handlers." .. k .. ": " .. name .. " is given under both of its names"
        end
        out[name] = fn
    end
    return out
end

local function read_options(opts)
    if opts == nil then return "default", 100 end
    if type(opts) ~= "table" then return nil, "options: expected a table, got " .. type(opts) end
    for k in next, opts do
        if k ~= "consumer" and k ~= "limit" then
            return nil, text_of(k) .. ": unknown option"
        end
    end
    local consumer, limit = rawget(opts, "consumer"), rawget(opts, "limit")
    if consumer == nil then consumer = "default" end
    if type(consumer) ~= "string" then
        return nil, "consumer: expected a string, got " .. type(consumer)
    end
    if limit == nil then limit = 100 end
    return consumer, limit -- both checked by the store (names, 1..1000)
end

-- dispatch(store, handlers[, {consumer=, limit=}]) -> handled[, message of a raising
-- handler], or nil, message, code for the store's own failures.
local STORE_METHODS = { "eventCursor", "setEventCursor", "events" }

function _M.dispatch(store, handlers, opts)
    local t = type(store)
    if t ~= "table" and t ~= "userdata" then
        return nil, "store: expected a progallery store, got " .. t, INVALID
    end
    -- a store, or a caller's object that acts as one: the three methods the feed needs
    for _, m in ipairs(STORE_METHODS) do
        local ok, f = pcall(function() return store[m] end)
        if not ok or not callable(f) then
            return nil, "store: expected a progallery store (no " .. m .. " method)", INVALID
        end
    end
    local by_name, err = read_handlers(handlers)
    if not by_name then return nil, err, INVALID end
    local consumer, limit = read_options(opts)
    if not consumer then return nil, limit, INVALID end
    local cursor, code
    cursor, err, code = store:eventCursor(consumer)
    if not cursor then return nil, err, code end
    if cursor == 0 then -- a consumer exists from its first dispatch: pruning now waits for it
        local stored
        stored, err, code = store:setEventCursor(consumer, 0)
        if not stored then return nil, err, code end
    end
    local page
    page, err, code = store:events { after = cursor, limit = limit }
    if not page then return nil, err, code end
    local handled, passed = 0, cursor
    for _, event in ipairs(page.events) do
        local seq = event.metadata.seq
        local fn = by_name[NAMES[event.metadata.eventType]]
        if fn then
            local ok, herr = pcall(fn, event)
            if not ok then
                -- the events before it were handled: keep that, then report
                if passed > cursor then
                    local stored, serr, scode = store:setEventCursor(consumer, passed)
                    if not stored then return nil, serr, scode end
                end
                local okt, text = pcall(tostring, herr)
                return handled, okt and type(text) == "string" and text or text_of(herr)
            end
            local stored, serr, scode = store:setEventCursor(consumer, seq)
            if not stored then return nil, serr, scode end
            cursor = seq
        end
        passed = seq
        handled = handled + 1
    end
    if passed > cursor then -- passed-over events at the end of the page
        local stored, serr, scode = store:setEventCursor(consumer, passed)
        if not stored then return nil, serr, scode end
    end
    return handled
end

return _M
