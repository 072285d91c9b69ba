-- progallery.http.json: the JSON text the HTTP layer writes itself (error bodies, the
-- events feed). API responses never pass here: store:rest writes them in C.
--
-- progallery.encodeJSON (C) writes it, because the cjson in Debian's nginx (stock 2.1.0)
-- cannot mark empty arrays and rounds numbers to 14 digits. Arrays: non-empty 1..n
-- tables, and empty tables under a key of rest.ARRAY_KEYS (outside exif/css) or carrying
-- cjson's array metatable.

local progallery = require "progallery"
local rest = require "progallery.rest"

local error = error

local encode_json = progallery.encodeJSON
local ARRAY_KEYS = rest.ARRAY_KEYS
local OPAQUE = { exif = true, css = true, wixLinkData = true } -- free-form: no key-based guessing

local _M = {}

-- Value -> JSON text; raises (with a short message) only on values no result carries.
function _M.encode(v)
    local text, err = encode_json(v, ARRAY_KEYS, OPAQUE)
    if not text then error(err, 0) end
    return text
end

return _M
