-- progallery.http.json: the JSON text of the REST path.
--
-- lua-cjson (a private instance) decodes request bodies; progallery.encodeJSON (C)
-- writes every response, because the cjson in Debian's nginx (stock 2.1.0) cannot mark
-- empty arrays and rounds numbers to 14 digits. Arrays: non-empty 1..n tables, and empty
-- tables under a key of rest.ARRAY_KEYS (outside exif/css) or carrying cjson's array
-- metatable.

local progallery = require "progallery"
local rest = require "progallery.rest"

local type, pcall, error = type, pcall, error
local find = string.find

local encode_json = progallery.encodeJSON
local ARRAY_KEYS = rest.ARRAY_KEYS
local OPAQUE = { exif = true, css = true } -- free-form user data: no key-based guessing

local cjson
do
    local base = require "cjson"
    cjson = base.new and base.new() or base
    if cjson.decode_invalid_numbers then pcall(cjson.decode_invalid_numbers, false) end
    if cjson.decode_max_depth then pcall(cjson.decode_max_depth, 64) end
end
local decode = cjson.decode

local _M = {}

-- Value -> JSON text; raises (with a short message) only on values no result carries.
function _M.encode(v)
    local text, err = encode_json(v, ARRAY_KEYS, OPAQUE)
    if not text then error(err, 0) end
    return text
end

-- Request body text -> table, or nil, message. Only a JSON object is a body.
function _M.decode_body(raw)
    if raw == nil then return {} end
    if type(raw) ~= "string" then return nil, "body: expected JSON text" end
    if find(raw, "^%s*$") then return {} end
    if not find(raw, "^%s*{") then return nil, "body: expected a JSON object" end
    local ok, v = pcall(decode, raw)
    if not ok or type(v) ~= "table" then return nil, "body: malformed JSON" end
    return v
end

return _M
