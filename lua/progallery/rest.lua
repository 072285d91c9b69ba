-- Velo shape <-> REST v2 shape (API.md section 9; reference sections 1, 2.11, 2.12).
-- A codec only: no I/O, no nginx. progallery.http uses it on both sides of the store.
--
--   Velo / store                      REST v2
--   _id, _createdDate, _updatedDate   id, createdDate, updatedDate   (at every level)
--   image.imageInfo  "wix:image://"   { id, url, height, width, altText, filename }
--   video.videoInfo  "wix:video://"   { id, filename, posters = {{ id, height, width }} }
--   http(s) imageInfo / videoInfo     { url }
--   non-finite number                 "NaN", "Infinity", "-Infinity"
--   Gallery / Item result             { gallery = ... } / { item = ... }
--
-- exif and css are free-form user data, copied without renaming, so what a caller stores
-- there is what any caller reads back. The strings "NaN"/"Infinity"/"-Infinity" turn
-- back into numbers only in the float fields (sortOrder, focalPoint.x/y,
-- unsharpMasking.*), never in a title that happens to read "NaN".
--
-- Functions return nil, message, "INVALID_ARGUMENT" on bad input (message prefixed with
-- the field path) and never raise. Tables are copied; inputs are never modified. A
-- caller's tables are read raw (next, rawget): their metatables never run. The copies
-- carry no caller metatable either, except cjson's array markers, which only tell cjson
-- that an empty table is an array.

local uri = require "progallery.uri"

local type, next, pcall, error, setmetatable, getmetatable, rawget, rawequal, require =
    type, next, pcall, error, setmetatable, getmetatable, rawget, rawequal, require
local huge = math.huge

local _M = { _VERSION = require "progallery.version" }

local INVALID = "INVALID_ARGUMENT"
local is_null = uri.isNull
local MAX_DEPTH = 32 -- deeper than any gallery shape; also stops reference cycles

local TO_REST = { _id = "id", _createdDate = "createdDate", _updatedDate = "updatedDate" }
local FROM_REST = { id = "_id", createdDate = "_createdDate", updatedDate = "_updatedDate" }
local OPAQUE = { exif = true, css = true }

-- Float fields by parent key; "*" means under any parent.
local FLOATS = {
    ["*"] = { sortOrder = true },
    focalPoint = { x = true, y = true },
    unsharpMasking = { amount = true, radius = true, threshold = true },
}
local FLOAT_STRINGS = { NaN = 0 / 0, Infinity = huge, ["-Infinity"] = -huge }

-- Keys whose value is always an array in the REST shape. Debian's stock cjson cannot
-- mark an empty table as an array, so an encoder can use this list to write [] there.
_M.ARRAY_KEYS = { items = true, galleries = true, values = true, itemIds = true,
                  posters = true, resolutions = true }

-- cjson's array markers (OpenResty's cjson has them, Debian's stock 2.1.0 does not); the
-- store puts the same ones on its result arrays.
local ARRAY_MT, EMPTY_ARRAY_MT
do
    local ok, cjson = pcall(require, "cjson")
    if ok and type(cjson) == "table" then
        ARRAY_MT, EMPTY_ARRAY_MT = rawget(cjson, "array_mt"), rawget(cjson, "empty_array_mt")
    end
end

-- The metatable a copy of v gets: v's when it is a cjson array marker, else none.
local function marker_of(v)
    local mt = getmetatable(v)
    if mt ~= nil and (rawequal(mt, ARRAY_MT) or rawequal(mt, EMPTY_ARRAY_MT)) then return mt end
    return nil
end

-- Internal early exit, raised as a tagged table so real Lua errors stay distinguishable.
local Fail = {}
local function fail(path, msg)
    error(setmetatable({ msg = (path and path ~= "" and (path .. ": ") or "") .. msg }, Fail), 0)
end

-- Tables are read raw (next, never __pairs), and an error raised from a caller's value is
-- described by its type, never through its __tostring.
local function guarded(fn, ...)
    local ok, res = pcall(fn, ...)
    if ok then return res end
    if type(res) == "table" and rawequal(getmetatable(res), Fail) then
        return nil, rawget(res, "msg"), INVALID
    end
    -- not ours (out of memory, a bug): a string as it is, anything else by its type
    return nil, "internal error: " .. (type(res) == "string" and res or type(res)), INVALID
end

-- The field path of the value being converted, kept as keys on a stack (KEYS[1..depth],
-- below ROOT) and only turned into text when something fails: building the text for every
-- field costs more than the whole conversion. convert() never yields and never runs
-- inside itself, so one stack serves every call.
local KEYS, ROOT = {}, nil

-- A caller's key as messages name it: whole, valid UTF-8, other bytes as \xHH and a
-- backslash doubled (progallery.escapeKey, the core's own rule). The C module comes with
-- this one; without it a key is named as it is.
local escape_key
do
    local ok, pg = pcall(require, "progallery")
    escape_key = ok and type(pg) == "table" and pg.escapeKey or function(s) return s end
end

local function join(path, key)
    if type(key) == "number" then return (path or "") .. "[" .. key .. "]" end
    key = escape_key(key)
    if not path or path == "" then return key end
    return path .. "." .. key
end

local function path_at(depth)
    local path = ROOT
    for i = 1, depth do path = join(path, KEYS[i]) end
    return path
end

local function is_float_field(parent, key)
    return FLOATS["*"][key] or (FLOATS[parent] ~= nil and FLOATS[parent][key]) or false
end

local function number_to_rest(n)
    if n ~= n then return "NaN" end
    if n == huge then return "Infinity" end
    if n == -huge then return "-Infinity" end
    return n
end

-- JSON cannot carry NaN or the infinities, so toward REST they become strings wherever
-- they are; the other way a Lua number is left to the store to judge.
local function copy_scalar(v, depth, toRest)
    local t = type(v)
    if t == "number" then return toRest and number_to_rest(v) or v end
    if t == "string" or t == "boolean" or is_null(v) then return v end
    fail(path_at(depth), "unsupported value of type " .. t)
end

-- Verbatim copy of free-form data (exif, css).
local function copy_opaque(v, toRest, depth)
    if type(v) ~= "table" then return copy_scalar(v, depth, toRest) end
    if depth > MAX_DEPTH then fail(path_at(depth), "nested too deeply") end
    local out = {}
    for k, x in next, v do
        local tk = type(k)
        if tk ~= "string" and tk ~= "number" then fail(path_at(depth), "key of type " .. tk) end
        KEYS[depth + 1] = k
        out[k] = copy_opaque(x, toRest, depth + 1)
    end
    local mt = marker_of(v)
    if mt then setmetatable(out, mt) end
    return out
end

local convert -- forward

local function media_to_rest(key, v, depth)
    if type(v) ~= "string" then fail(path_at(depth), "expected a string, got " .. type(v)) end
    local obj, err
    if key == "imageInfo" then obj, err = uri.imageToRest(v) else obj, err = uri.videoToRest(v) end
    if not obj then fail(path_at(depth), err) end
    return obj
end

local function media_from_rest(key, v, depth)
    -- A string is already the Velo form (a lenient client); keep it for the store to check.
    if type(v) == "string" then return v end
    if type(v) ~= "table" then fail(path_at(depth), "expected an object, got " .. type(v)) end
    local s, err
    if key == "imageInfo" then s, err = uri.imageFromRest(v) else s, err = uri.videoFromRest(v) end
    if not s then fail(path_at(depth), err) end
    return s
end

local function convert_table(v, toRest, parent, depth)
    if depth > MAX_DEPTH then fail(path_at(depth), "nested too deeply") end
    local rename = toRest and TO_REST or FROM_REST
    local out = {}
    for k, x in next, v do
        local tk = type(k)
        if tk ~= "string" and tk ~= "number" then fail(path_at(depth), "key of type " .. tk) end
        local nk = rename[k]
        -- A key that is renamed wins over one already spelled the target way
        -- (a REST body carrying both id and _id), whatever order pairs() gives.
        if nk or out[k] == nil then
            KEYS[depth + 1] = k
            out[nk or k] = convert(x, toRest, k, parent, depth + 1)
        end
    end
    local mt = marker_of(v)
    if mt then setmetatable(out, mt) end
    return out
end

-- parent is the key of the table holding v; key is v's own key there.
function convert(v, toRest, key, parent, depth)
    if is_null(v) then return v end
    if key == "imageInfo" or key == "videoInfo" then
        if toRest then return media_to_rest(key, v, depth) end
        return media_from_rest(key, v, depth)
    end
    if OPAQUE[key] then return copy_opaque(v, toRest, depth) end
    local t = type(v)
    if t == "table" then
        -- array elements share their array's parent key for the float rule
        local p = type(key) == "number" and parent or key
        return convert_table(v, toRest, p, depth)
    end
    if not toRest and t == "string" and type(key) == "string"
        and is_float_field(parent, key) and FLOAT_STRINGS[v] then
        return FLOAT_STRINGS[v]
    end
    return copy_scalar(v, depth, toRest)
end

local function to_rest(value, root)
    ROOT = root
    return convert(value, true, nil, nil, 0)
end

local function from_rest(value, root)
    ROOT = root
    return convert(value, false, nil, nil, 0)
end

local function check_root(root)
    if root ~= nil and type(root) ~= "string" then return nil end
    return root
end

-- Any Velo-shaped value (gallery, item, list result, ...) -> REST shape.
-- root (optional) prefixes error paths, e.g. "gallery".
function _M.toRest(value, root)
    return guarded(to_rest, value, check_root(root))
end

-- Any REST-shaped value (request body, gallery, item, ...) -> Velo shape.
function _M.fromRest(value, root)
    return guarded(from_rest, value, check_root(root))
end

local function wrap(key, value)
    if type(value) ~= "table" then
        return nil, key .. ": expected a table, got " .. type(value), INVALID
    end
    local out, err, code = _M.toRest(value, key)
    if not out then return nil, err, code end
    return { [key] = out }
end

function _M.galleryToRest(gallery) return wrap("gallery", gallery) end
function _M.itemToRest(item) return wrap("item", item) end

-- REST gallery / item object (the value under "gallery" / "item" in a body) -> Velo.
local function unwrap(key, value)
    if type(value) ~= "table" then
        return nil, key .. ": expected an object, got " .. type(value), INVALID
    end
    return _M.fromRest(value, key)
end

function _M.galleryFromRest(gallery) return unwrap("gallery", gallery) end
function _M.itemFromRest(item) return unwrap("item", item) end

-- Store function name -> REST response envelope of its result.
local ENVELOPE = {
    createGallery = "gallery", getGallery = "gallery", updateGallery = "gallery",
    createGalleryItem = "item", getGalleryItem = "item", updateGalleryItem = "item",
}

-- The REST response body for a store call's result: single entities wrapped
-- ({gallery}, {item}); list and delete results ({galleries, totalGalleries}, {items},
-- {galleryId}, {itemId}, {itemIds}) are envelopes already and are only converted.
function _M.response(fname, result)
    if type(fname) ~= "string" then
        return nil, "fname: expected a function name", INVALID
    end
    local key = ENVELOPE[fname]
    if key then return wrap(key, result) end
    if type(result) ~= "table" then
        return nil, "result: expected a table, got " .. type(result), INVALID
    end
    return _M.toRest(result)
end

return _M
