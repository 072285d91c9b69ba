-- Velo shape <-> REST v2 shape (API.md sections 9 and 12; reference sections 1, 2.11, 2.12):
-- the Lua face of the core's REST codec (src/rest.c), the same code progallery.http
-- answers with, so there is one implementation.
--
--   Velo / store                      REST v2
--   _id, _createdDate, _updatedDate   id, createdDate, updatedDate   (at every level)
--   image.imageInfo  "wix:image://"   { id, url, height, width, altText?, filename?, watermark? }
--   video.videoInfo  "wix:video://"   { id, url, filename?, posters = {{ id, height, width }} }
--   http(s) imageInfo / videoInfo     { url }
--   non-finite number                 "NaN", "Infinity", "-Infinity"
--   Gallery / Item result             { gallery = ... } / { item = ... }
--
-- exif, css and link.wixLinkData are free-form user data, copied without renaming. The
-- strings "NaN"/"Infinity"/"-Infinity" turn back into numbers only in the float fields
-- (sortOrder, focalPoint.x/y, unsharpMasking.*), never in a title that reads "NaN".
-- toRest takes media as Velo strings or as objects already; fromRest gives the Velo
-- string of an object (as Wix's SDK derives it) and keeps a string as it is.
--
-- Functions return nil, message, "INVALID_ARGUMENT" on bad input (message prefixed with
-- the field path) and never raise. Tables are copied; inputs are never modified, and read
-- raw (their metatables never run); copies carry no metatable but cjson's array marker.

local progallery = require "progallery"

local type, pcall = type, pcall
local shape = progallery.restShape

local _M = { _VERSION = require "progallery.version" }

local INVALID = "INVALID_ARGUMENT"

-- Keys whose value is always an array in the REST shape. Debian's stock cjson cannot
-- mark an empty table as an array, so an encoder can use this list to write [] there.
_M.ARRAY_KEYS = { items = true, galleries = true, values = true, itemIds = true,
                  posters = true, resolutions = true }

local function convert(value, direction, root)
    if root ~= nil and type(root) ~= "string" then root = nil end
    local ok, out, err, code = pcall(shape, value, direction, root)
    if not ok then return nil, "internal error: " .. (type(out) == "string" and out or type(out)), INVALID end
    if out == nil then return nil, err, code end
    return out
end

-- Any Velo-shaped value (gallery, item, list result, ...) -> REST shape.
-- root (optional) prefixes error paths, e.g. "gallery".
function _M.toRest(value, root) return convert(value, "toRest", root) end

-- Any REST-shaped value (request body, gallery, item, ...) -> Velo shape.
function _M.fromRest(value, root) return convert(value, "fromRest", root) end

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
