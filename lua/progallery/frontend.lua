-- Backend gallery items <-> $w.Gallery items (API.md section 8), and JSON for page code.
--
-- The $w.Gallery item is { type="image"|"video", src, slug?, title?, description?,
-- link? (a URL string), thumbnail? (video) }. Two documented limitations decide what
-- cannot be shown: text items, and items whose link carries text (the frontend link is a
-- bare URL). Items without media have nothing to show either. Those are reported in
-- `skipped`, or refused with strict = true.
--
-- Every function returns nil, message, "INVALID_ARGUMENT" on malformed input
-- ("RESOURCE_EXHAUSTED" for a string past the store's bound) and never raises;
-- progallery.null (== cjson.null) anywhere counts as absent. A caller's tables are read
-- raw (rawget, next): their metatables never run, so they can neither raise nor change
-- the result; messages name a caller's value by its type, never by tostring.

local uri = require "progallery.uri"

local type, next, pcall, error, setmetatable, getmetatable, require, rawget, rawequal =
    type, next, pcall, error, setmetatable, getmetatable, require, rawget, rawequal
local lower, find, gsub = string.lower, string.find, string.gsub
local floor = math.floor

local _M = { _VERSION = require "progallery.version" }

local INVALID, EXHAUSTED = "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"
local is_null, valid_utf8 = uri.isNull, uri.validUTF8

-- The store's byte bounds of the fields a $w item fills (API.md section 4).
local MAX_TITLE, MAX_DESCRIPTION, MAX_URL = 1024, 16384, 4096

_M.REASON_TEXT = "text item"
_M.REASON_NO_MEDIA = "no media"
_M.REASON_LINK_TEXT = "link has text"

-- Internal early exit: raised as a table so a genuine Lua error is never mistaken for it.
local Fail = {}
local function fail(path, msg, code)
    error(setmetatable({ msg = path .. ": " .. msg, code = code or INVALID }, Fail), 0)
end

-- Text for an error value that is not one of ours (out of memory, a bug): a string as
-- it is, anything else by its type name only.
local function describe(e)
    return type(e) == "string" and e or ("an error value of type " .. type(e))
end

-- Runs fn under pcall and turns any failure into nil, message, code.
local function guarded(fn, ...)
    local ok, a, b = pcall(fn, ...)
    if ok then return a, b end
    if type(a) == "table" and rawequal(getmetatable(a), Fail) then
        return nil, rawget(a, "msg"), rawget(a, "code")
    end
    return nil, "internal error: " .. describe(a), INVALID
end

local cjson_mod -- loaded on first need, so the conversion works without lua-cjson
local function cjson()
    if cjson_mod == nil then
        local ok, mod = pcall(require, "cjson")
        cjson_mod = ok and mod or false
    end
    return cjson_mod or nil
end

-- Result arrays carry cjson's array marker where the cjson in use has one (2.1.0.x from
-- OpenResty does, Debian's 2.1.0 does not); harmless otherwise.
local function new_array()
    local c = cjson()
    local mt = c and (c.empty_array_mt or c.array_mt)
    if mt then return setmetatable({}, mt) end
    return {}
end

-- A proper sequence 1..n with no other keys (read raw); returns n or nil. The keys are
-- 1..n exactly when there are n of them, all integers in 1..n.
local function array_length(t)
    local count, max = 0, 0
    for k in next, t do
        if type(k) ~= "number" or k < 1 or k ~= floor(k) then return nil end
        count = count + 1
        if k > max then max = k end
    end
    if max ~= count then return nil end
    return count
end

-- Optional string field: nil when absent or null, else it must be a string.
local function opt_string(t, key, path)
    local v = rawget(t, key)
    if is_null(v) then return nil end
    if type(v) ~= "string" then
        fail(path .. "." .. key, "expected a string, got " .. type(v))
    end
    return v
end

-- An optional string the store will hold: the store's rules for it, in its order
-- (src/model.c check_string): UTF-8 without NUL, then at most max bytes.
local function opt_text(t, key, path, max)
    local v = opt_string(t, key, path)
    if v == nil then return nil end
    if not valid_utf8(v) then fail(path .. "." .. key, "must be valid UTF-8") end
    if find(v, "\0", 1, true) then fail(path .. "." .. key, "must not contain a NUL byte") end
    if #v > max then fail(path .. "." .. key, "longer than " .. max .. " bytes", EXHAUSTED) end
    return v
end

local function opt_table(t, key, path)
    local v = rawget(t, key)
    if is_null(v) then return nil end
    if type(v) ~= "table" then
        fail(path .. "." .. key, "expected a table, got " .. type(v))
    end
    return v
end

local function check_options(opts)
    if is_null(opts) then return false end
    if type(opts) ~= "table" then fail("options", "expected a table, got " .. type(opts)) end
    for k in next, opts do
        if k ~= "strict" then
            fail("options", type(k) == "string" and ("unknown key " .. k)
                 or ("unknown key of type " .. type(k)))
        end
    end
    local strict = rawget(opts, "strict")
    if is_null(strict) then return false end
    if type(strict) ~= "boolean" then
        fail("options.strict", "expected a boolean, got " .. type(strict))
    end
    return strict
end

-- The items of a gallery (anything with an `items` array, e.g. getGallery's or
-- listGalleryItems' result) or a bare array of items; plus the root of error paths.
local function items_of(galleryOrItems)
    if type(galleryOrItems) ~= "table" then
        fail("gallery", "expected a gallery or an array of items, got " .. type(galleryOrItems))
    end
    local items = rawget(galleryOrItems, "items")
    if not is_null(items) then
        if type(items) ~= "table" or not array_length(items) then
            fail("gallery.items", "expected an array")
        end
        return items, "gallery.items", array_length(items)
    end
    local n = array_length(galleryOrItems)
    if not n then fail("gallery", "expected a gallery or an array of items") end
    return galleryOrItems, "items", n
end

-- The one media member of an item, as "image", "video", "text" or nil.
local MEDIA_KEYS = { "image", "video", "text" }
local function media_of(item, path)
    local found
    for i = 1, 3 do
        local key = MEDIA_KEYS[i]
        if opt_table(item, key, path) then
            if found then fail(path, "has both " .. found .. " and " .. key) end
            found = key
        end
    end
    return found
end

-- Why an item cannot be shown, or nil. Text wins over the other reasons because it is
-- the one the Wix tutorial warns breaks a page.
local function skip_reason(item, media, path)
    local itype = opt_string(item, "type", path)
    if media == "text" or (itype and lower(itype) == "text") then return _M.REASON_TEXT end
    if media == nil then return _M.REASON_NO_MEDIA end
    local link = opt_table(item, "link", path)
    local text = link and opt_string(link, "text", path .. ".link")
    if text and text ~= "" then return _M.REASON_LINK_TEXT end
    return nil
end

local function convert_item(item, media, path)
    local out = { type = media }
    local info
    if media == "image" then
        local image = rawget(item, "image")
        info = opt_string(image, "imageInfo", path .. ".image")
        if not info then fail(path .. ".image.imageInfo", "required") end
        local ok, err = uri.parseImage(info)
        if not ok then fail(path .. ".image.imageInfo", err) end
    else
        local video = rawget(item, "video")
        info = opt_string(video, "videoInfo", path .. ".video")
        if not info then fail(path .. ".video.videoInfo", "required") end
        local ok, err = uri.parseVideo(info)
        if not ok then fail(path .. ".video.videoInfo", err) end
        out.thumbnail = uri.posterImage(info)
    end
    out.src = info
    out.slug = opt_string(item, "_id", path)
    out.title = opt_string(item, "title", path)
    out.description = opt_string(item, "description", path)
    local link = opt_table(item, "link", path)
    out.link = link and opt_string(link, "url", path .. ".link")
    return out
end

local function to_gallery_items(galleryOrItems, opts)
    local strict = check_options(opts)
    local list, root, n = items_of(galleryOrItems)
    local items, skipped = new_array(), new_array()
    for i = 1, n do
        local item = rawget(list, i)
        local path = root .. "[" .. i .. "]"
        if type(item) ~= "table" then fail(path, "expected an item table, got " .. type(item)) end
        local media = media_of(item, path)
        local reason = skip_reason(item, media, path)
        local id = opt_string(item, "_id", path)
        if reason and strict then
            fail(path, reason .. (id and (" (" .. id .. ")") or "")
                 .. ": cannot be shown in a $w.Gallery")
        elseif reason then
            skipped[#skipped + 1] = { _id = id, reason = reason }
        else
            items[#items + 1] = convert_item(item, media, path)
        end
    end
    return items, skipped
end

-- Backend items (a gallery or an array) -> $w.Gallery items, skipped.
function _M.toGalleryItems(galleryOrItems, opts)
    return guarded(to_gallery_items, galleryOrItems, opts)
end

-- The type of a frontend item: its `type` (any case), else what its src is.
local function frontend_kind(fitem, src, path)
    local t = opt_string(fitem, "type", path)
    if t then
        t = lower(t)
        if t ~= "image" and t ~= "video" then
            fail(path .. ".type", "expected \"image\" or \"video\"")
        end
        return t
    end
    if find(src, "^wix:video:") or find(src, "^video:") then return "video" end
    return "image"
end

local function from_item(fitem, path)
    if type(fitem) ~= "table" then fail(path, "expected an item table, got " .. type(fitem)) end
    local src = opt_string(fitem, "src", path)
    if not src then fail(path .. ".src", "required") end
    local kind = frontend_kind(fitem, src, path)
    -- progallery.uri's grammar is the store's (spec/fixtures/media_uris.lua), and it
    -- answers with the store's code.
    local parts, err, code
    if kind == "image" then
        parts, err, code = uri.parseImage(src)
    else
        parts, err, code = uri.parseVideo(src)
    end
    if not parts then fail(path .. ".src", err, code) end
    -- http(s) sources are kept verbatim; a legacy wix URI without "wix:" is normalized,
    -- since the store accepts only the full form.
    local info = parts.scheme == "http" and src or parts.uri
    local out = {}
    if kind == "image" then
        out.image = { imageInfo = info }
    else
        out.video = { videoInfo = info }
    end
    -- slug came from _id; the store ignores _id on create, so this is safe to send.
    -- The other strings get the store's checks here, so that what this returns the
    -- store takes (and what it refuses, the store would refuse, with the same code).
    out._id = opt_string(fitem, "slug", path)
    out.title = opt_text(fitem, "title", path, MAX_TITLE)
    out.description = opt_text(fitem, "description", path, MAX_DESCRIPTION)
    local link = opt_text(fitem, "link", path, MAX_URL)
    if link then out.link = { url = link } end
    return out
end

local function from_gallery_items(frontendItems)
    if type(frontendItems) ~= "table" then
        fail("items", "expected an array of $w.Gallery items, got " .. type(frontendItems))
    end
    local n = array_length(frontendItems)
    if not n then fail("items", "expected an array of $w.Gallery items") end
    local out = new_array()
    for i = 1, n do
        out[i] = from_item(rawget(frontendItems, i), "items[" .. i .. "]")
    end
    return out
end

-- $w.Gallery items -> backend items for createGalleryItems: each one the store takes
-- as it is, or nil, message, code with the code the store would give (INVALID_ARGUMENT,
-- RESOURCE_EXHAUSTED for a string past its bound). The batch size is the caller's
-- (createGalleryItems takes 1..1000 items).
function _M.fromGalleryItems(frontendItems)
    return guarded(from_gallery_items, frontendItems)
end

local escapes_slash
local encoder -- a private cjson instance, so its settings never touch the caller's
local function encode(value)
    if not encoder then
        local c = cjson()
        if not c then return nil, "lua-cjson is not installed", "INTERNAL" end
        encoder = c.new and c.new() or c
        -- OpenResty's cjson can be told not to escape "/"; unescaping is then wrong.
        escapes_slash = encoder.encode("/") == '"\\/"'
    end
    local ok, json = pcall(encoder.encode, value)
    if not ok then return nil, "cannot encode: " .. describe(json), INVALID end
    -- cjson 2.1.0 always writes "/" as "\/" (valid, but noisy in every URI). When every
    -- "/" it emits is escaped and a literal backslash comes out as "\\", each "\/"
    -- pair is exactly one escaped slash and can be unescaped safely.
    if not escapes_slash then return json end
    return (gsub(json, "\\/", "/"))
end

-- $w.Gallery items as a JSON array string. Stock cjson 2.1.0 encodes an empty table as
-- "{}" and has no empty_array_mt, hence the special case.
function _M.toJSON(galleryOrItems, opts)
    local items, err, code = _M.toGalleryItems(galleryOrItems, opts)
    if not items then return nil, err, code end
    if #items == 0 then return "[]" end
    return encode(items)
end

-- What getmetatable answers for a progallery store (its metatable's __metatable field,
-- src/lprogallery.c): a store's methods are then the C module's own, safe to look up.
local STORE_LOCK = "progallery.store is locked"

-- store:name as a function, looked up without running a caller's metamethod: a real
-- store's (C) method, or a raw field of a table that stands in for a store.
local function method(store, name)
    local fn
    if type(store) == "table" then
        fn = rawget(store, name)
    elseif rawequal(getmetatable(store), STORE_LOCK) then
        fn = store[name]
    end
    if type(fn) ~= "function" then
        fail("store", "expected a progallery store (no " .. name .. " method)")
    end
    return fn
end

-- A store result's array, checked and read raw.
local function result_items(result, what)
    if type(result) ~= "table" then fail("store", what .. " returned a " .. type(result)) end
    local list = rawget(result, "items")
    local n = type(list) == "table" and array_length(list)
    if not n then fail("store", what .. " returned no items array") end
    return list, n
end

-- Calls a store method; a raise is reported as a failure (by type unless it is a string).
local function store_call(fn, store, what, ...)
    local ok, r, err, code = pcall(fn, store, ...)
    if not ok then fail("store", what .. " raised " .. describe(r)) end
    return r, err, code
end

-- The page-side half of the per-member scenario (issue 3): a store's gallery by id with
-- all its items (paged through), returned as json, skipped, items. Reads only, so any
-- identity may call it. Store errors come back unchanged (nil, message, code).
local function gallery_json(store, galleryId, opts)
    local get_gallery = method(store, "getGallery")
    local gallery, err, code = store_call(get_gallery, store, "getGallery", galleryId,
                                          { itemLimit = 100 })
    if gallery == nil then return nil, err, code end
    local list, n = result_items(gallery, "getGallery")
    local total = rawget(gallery, "totalItems")
    if total == nil then total = 0 end
    if type(total) ~= "number" then
        fail("store", "getGallery returned a totalItems of type " .. type(total))
    end
    local all, count = {}, 0
    for i = 1, n do count = count + 1; all[count] = rawget(list, i) end
    if count < total then
        local list_items = method(store, "listGalleryItems")
        while count < total do
            local page
            page, err, code = store_call(list_items, store, "listGalleryItems", galleryId,
                                         { itemOffset = count, itemLimit = 100 })
            if page == nil then return nil, err, code end
            list, n = result_items(page, "listGalleryItems")
            if n == 0 then break end -- items deleted meanwhile
            for i = 1, n do count = count + 1; all[count] = rawget(list, i) end
        end
    end
    local items, skipped = to_gallery_items(all, opts)
    local json
    if #items == 0 then json = "[]" else json, err, code = encode(items) end
    if not json then return nil, err, code end
    return json, skipped, items
end

function _M.galleryJSON(store, galleryId, opts)
    local t = type(store)
    if t ~= "table" and t ~= "userdata" then
        return nil, "store: expected a progallery store, got " .. t, INVALID
    end
    local ok, a, b, c = pcall(gallery_json, store, galleryId, opts)
    if ok then return a, b, c end -- a store's own failure comes back unchanged
    if type(a) == "table" and rawequal(getmetatable(a), Fail) then
        return nil, rawget(a, "msg"), rawget(a, "code")
    end
    return nil, "store: " .. describe(a), INVALID
end

return _M
