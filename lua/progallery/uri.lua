-- The one place that reads and writes Wix media URIs:
--   wix:image://v1/<id>/<filename>#originWidth=<w>&originHeight=<h>
--   wix:video://v1/<id>/<filename>#posterUri=<poster>&posterWidth=<w>&posterHeight=<h>
-- and converts them to and from the REST v2 objects (CommonImage / VideoV2) with the
-- algorithm of the Wix SDK runtime (reference section 2.11), so progallery.frontend and
-- progallery.rest agree byte for byte. Pure Lua; runs on Lua 5.1 (LuaJIT) through 5.4.
--
-- parseImage / parseVideo accept exactly the strings the store accepts (src/model.c):
-- one grammar, written out and checked by the vectors of spec/fixtures/media_uris.lua.
-- Besides, they read the legacy "image://" / "video://" forms by adding "wix:", as the
-- SDK does. The grammar is the SDK's reading with the store's checks on top, all on input
-- the SDK would turn into garbage: an image needs originWidth and originHeight, and the
-- sizes are 1 to 9 digits (JS: 0 or NaN, which JSON cannot carry); a filename must
-- decode (JS throws); http and https are lower case as API.md writes them; no spaces or
-- control characters; at most 4096 bytes. Fragment names are matched as written (JS
-- would decode them first). REST objects without width/height, or with an id that would
-- not survive a round trip (contains "/", "#" or "?"), are errors (JS: "undefined"); the
-- builders only ever return strings of the grammar.
-- Every function returns nil, message, code on bad input (the code the store would
-- answer for that string: INVALID_ARGUMENT, or RESOURCE_EXHAUSTED for a string too long)
-- and never raises. A caller's table is read raw (rawget,
-- rawequal): its metatable never runs, so it cannot raise or lie.

local type, tonumber, next, pcall, rawget, rawequal =
    type, tonumber, next, pcall, rawget, rawequal
local byte, char, sub, find, gsub, gmatch, format, match =
    string.byte, string.char, string.sub, string.find, string.gsub, string.gmatch, string.format,
    string.match
local floor = math.floor
local INVALID, EXHAUSTED = "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"
local tointeger = math.tointeger -- nil on LuaJIT / 5.1

local _M = { _VERSION = require "progallery.version" }

local IMAGE_PREFIX = "wix:image://v1/"
local VIDEO_PREFIX = "wix:video://v1/"
local MAX_BYTES = 4096        -- imageInfo / videoInfo (API.md section 4)
local MAX_PART = 1024         -- an id, a filename, a poster id: the REST object's bound (src/media.c)
local MAX_DIGITS = 9          -- of a size in the fragment (src/model.c all_digits)
local MAX_SIZE = 999999999    -- the largest such size

-- Valid UTF-8 (RFC 3629: no overlongs, no surrogates, max U+10FFFF). JS strings cannot
-- hold anything else, so decodeURIComponent throws where this returns false.
local function valid_utf8(s)
    if type(s) ~= "string" then return false end
    local i, n = 1, #s
    while i <= n do
        local c = byte(s, i)
        if c < 0x80 then
            i = i + 1
        elseif c >= 0xC2 and c <= 0xDF then
            local c2 = byte(s, i + 1)
            if not c2 or c2 < 0x80 or c2 > 0xBF then return false end
            i = i + 2
        elseif c >= 0xE0 and c <= 0xEF then
            local c2, c3 = byte(s, i + 1, i + 2)
            if not c3 then return false end
            local lo, hi = 0x80, 0xBF
            if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
            if c2 < lo or c2 > hi or c3 < 0x80 or c3 > 0xBF then return false end
            i = i + 3
        elseif c >= 0xF0 and c <= 0xF4 then
            local c2, c3, c4 = byte(s, i + 1, i + 3)
            if not c4 then return false end
            local lo, hi = 0x80, 0xBF
            if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
            if c2 < lo or c2 > hi or c3 < 0x80 or c3 > 0xBF or c4 < 0x80 or c4 > 0xBF then
                return false
            end
            i = i + 4
        else
            return false
        end
    end
    return true
end
_M.validUTF8 = valid_utf8

local function hex_to_char(h)
    return char(tonumber(h, 16))
end

local function encode_byte(c)
    return format("%%%02X", byte(c))
end

-- JS encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is %XX (upper case).
function _M.encodeURIComponent(s)
    if type(s) ~= "string" then return nil, "expected a string", INVALID end
    if not valid_utf8(s) then return nil, "not valid UTF-8", INVALID end
    return (gsub(s, "[^A-Za-z0-9%-_%.!~%*'%(%)]", encode_byte))
end

-- JS decodeURIComponent: every %XX decoded (also %2F and %23); a malformed escape or a
-- result that is not UTF-8 is an error, as JS throws URIError there.
local function decode_component(s)
    if type(s) ~= "string" then return nil, "expected a string", INVALID end
    local i = 1
    while true do
        local p = find(s, "%", i, true)
        if not p then break end
        if not find(sub(s, p + 1, p + 2), "^%x%x$") then
            return nil, "malformed percent-encoding", INVALID
        end
        i = p + 3
    end
    local out = gsub(s, "%%(%x%x)", hex_to_char)
    if not valid_utf8(out) then return nil, "not valid UTF-8 once decoded", INVALID end
    return out
end
_M.decodeURIComponent = decode_component

-- URLSearchParams decoding of one name or value: "+" is a space, bad escapes stay as
-- they are (it never throws).
local function form_decode(s)
    s = gsub(s, "%+", " ")
    return (gsub(s, "%%(%x%x)", hex_to_char))
end

-- The fragment as URLSearchParams sees it; the first occurrence of a name wins (get()).
-- Informative only (watermark and the like): the grammar reads raw_param.
local function fragment_params(frag)
    local params = {}
    if not frag or frag == "" then return params end
    for pair in gmatch(frag, "[^&]+") do
        local eq = find(pair, "=", 1, true)
        local name, value
        if eq then
            name, value = sub(pair, 1, eq - 1), sub(pair, eq + 1)
        else
            name, value = pair, ""
        end
        name = form_decode(name)
        if params[name] == nil then params[name] = form_decode(value) end
    end
    return params
end

-- The value of the first "&"-separated part of frag that starts with name .. "=", as
-- written (not decoded), or nil: how the store reads the fragment.
local function raw_param(frag, name)
    local key = name .. "="
    local klen, n, pos = #key, #frag, 1
    while pos <= n do
        local amp = find(frag, "&", pos, true)
        local stop = amp and amp - 1 or n
        if stop - pos + 1 >= klen and sub(frag, pos, pos + klen - 1) == key then
            return sub(frag, pos + klen, stop)
        end
        if not amp then break end
        pos = amp + 1
    end
    return nil
end

local function as_integer(n)
    if tointeger then
        local i = tointeger(n)
        if i then return i end
    end
    return n
end

-- A size of the fragment: 1 to 9 digits; absent is an error when required, else 0
-- (JS Number(null)).
local function fragment_size(frag, name, required)
    local v = frag and raw_param(frag, name)
    if v == nil then
        if required then return nil, "missing " .. name end
        return 0
    end
    if #v > MAX_DIGITS or not find(v, "^%d+$") then
        return nil, name .. ": expected 1 to " .. MAX_DIGITS .. " digits"
    end
    return as_integer(tonumber(v))
end

local function is_http(s)
    return (sub(s, 1, 8) == "https://" and #s > 8) or (sub(s, 1, 7) == "http://" and #s > 7)
end

-- The http(s) form of the grammar: "http://" or "https://" (lower case) and more.
function _M.isHttp(s)
    return type(s) == "string" and is_http(s)
end

-- The grammar (spec/fixtures/media_uris.lua has it in full, with its vectors). kind is
-- "image" or "video"; check_length is false for the builders, whose strings the store
-- bounds itself. Failures are nil, message, code, with the store's code for the string
-- and in the store's order: UTF-8 and NUL first, then the length, then the syntax.
local function parse(s, kind, prefix, check_length)
    if type(s) ~= "string" then
        return nil, "expected a string, got " .. type(s), INVALID
    end
    if not valid_utf8(s) then return nil, "not valid UTF-8", INVALID end
    if find(s, "\0", 1, true) then return nil, "must not contain a NUL byte", INVALID end
    -- Legacy form without the scheme ("image://v1/..."): the SDK prefixes "wix:".
    local legacy = sub(s, 1, #kind + 1) == kind .. ":"
    if legacy then s = "wix:" .. s end
    if check_length and #s > MAX_BYTES then
        return nil, "longer than " .. MAX_BYTES .. " bytes" .. (legacy and " with \"wix:\"" or ""),
               EXHAUSTED
    end
    local plen, http = #prefix, is_http(s)
    if not http and sub(s, 1, plen) ~= prefix then
        return nil, "expected a " .. prefix .. "<id>/<filename>#... URI or an http(s):// URL",
               INVALID
    end
    if find(s, "[\1- \127]") then
        return nil, "must not contain spaces or control characters", INVALID
    end
    if http then
        return { kind = kind, scheme = "http", url = s }
    end
    -- The path ends at "#" or "?", as for the SDK's URL parser; the query is ignored.
    local hash = find(s, "#", plen + 1, true)
    local path_end = hash and hash - 1 or #s
    local q = find(s, "?", plen + 1, true)
    if q and q <= path_end then path_end = q - 1 end
    local path = sub(s, plen + 1, path_end)
    local slash = find(path, "/", 1, true)
    local id = slash and sub(path, 1, slash - 1) or path
    if id == "" then return nil, "missing media id", INVALID end
    -- the REST object's bound on an id, a filename and a poster id (src/media.c, MAX_SHORT)
    if #id > MAX_PART then return nil, "media id: longer than " .. MAX_PART .. " bytes", EXHAUSTED end
    local frag = hash and sub(s, hash + 1) or nil
    local parts = { kind = kind, scheme = "wix", uri = s, id = id, params = fragment_params(frag) }
    if slash then
        local raw = sub(path, slash + 1)
        if raw == "" then return nil, "empty filename", INVALID end
        if find(raw, "/", 1, true) then
            return nil, "more than <id>/<filename> in the path", INVALID
        end
        local name, err = decode_component(raw)
        if not name then return nil, "filename: " .. err, INVALID end
        if find(name, "\0", 1, true) then
            return nil, "filename: a NUL byte once decoded", INVALID
        end
        if #name > MAX_PART then
            return nil, "filename: longer than " .. MAX_PART .. " bytes once decoded", EXHAUSTED
        end
        parts.filename = name
    end
    local err
    if kind == "image" then
        if not frag then
            return nil, "missing the #originWidth=<w>&originHeight=<h> fragment", INVALID
        end
        parts.width, err = fragment_size(frag, "originWidth", true)
        if not parts.width then return nil, err, INVALID end
        parts.height, err = fragment_size(frag, "originHeight", true)
        if not parts.height then return nil, err, INVALID end
        local mark = raw_param(frag, "watermark")
        if mark and #mark > MAX_PART then
            return nil, "watermark: longer than " .. MAX_PART .. " bytes", EXHAUSTED
        end
    else
        local poster = frag and raw_param(frag, "posterUri")
        if poster and poster ~= "" then
            poster = form_decode(poster)
            if not valid_utf8(poster) or find(poster, "\0", 1, true) then
                return nil, "posterUri: not valid UTF-8 without NUL once decoded", INVALID
            end
            -- the REST object's checks of a poster id, in their order (src/media.c, check_id)
            if #poster > MAX_PART then
                return nil, "posterUri: longer than " .. MAX_PART .. " bytes once decoded", EXHAUSTED
            end
            -- a poster's id goes back into the fragment as it is
            if find(poster, "[%c &#%%+\127]") then
                return nil, "posterUri: must not contain spaces, control characters or any of &#%+ once decoded", INVALID
            end
            parts.posterUri = poster
        end
        parts.posterWidth, err = fragment_size(frag, "posterWidth", false)
        if not parts.posterWidth then return nil, err, INVALID end
        parts.posterHeight, err = fragment_size(frag, "posterHeight", false)
        if not parts.posterHeight then return nil, err, INVALID end
    end
    return parts
end

-- Returns { kind="image", scheme="wix", uri, id, filename?, width, height, params }
-- or { kind="image", scheme="http", url }, or nil, message, code (the store's code for
-- that string: RESOURCE_EXHAUSTED past 4096 bytes, else INVALID_ARGUMENT). uri is the
-- wix: form (a legacy string gets "wix:"); params is the fragment as URLSearchParams
-- reads it.
function _M.parseImage(s)
    return parse(s, "image", IMAGE_PREFIX, true)
end

-- Returns { kind="video", scheme="wix", uri, id, filename?, posterUri?, posterWidth,
-- posterHeight, params } or { kind="video", scheme="http", url }, or nil, message, code.
function _M.parseVideo(s)
    return parse(s, "video", VIDEO_PREFIX, true)
end

-- imageInfo string -> REST CommonImage. The url of a wix: image is the URI itself (with
-- "wix:" added to a legacy one), as in the SDK.
function _M.imageToRest(s)
    local p, err, code = _M.parseImage(s)
    if not p then return nil, err, code end
    if p.scheme == "http" then return { url = p.url } end
    local obj = { id = p.id, height = p.height, width = p.width }
    if p.filename then
        obj.altText = p.filename
        obj.filename = p.filename
        obj.url = p.uri
    end
    return obj
end

-- videoInfo string -> REST VideoV2.
function _M.videoToRest(s)
    local p, err, code = _M.parseVideo(s)
    if not p then return nil, err, code end
    if p.scheme == "http" then return { url = p.url } end
    local obj = { id = p.id }
    if p.filename then obj.filename = p.filename end
    if p.posterUri then
        obj.posters = { { id = p.posterUri, height = p.posterHeight, width = p.posterWidth } }
    end
    return obj
end

-- progallery.null, cjson.null and ngx.null are all the light userdata NULL; cjson is the
-- cheap way to get hold of it, the C module the fallback. Treated as absent.
local NULL
do
    local ok, mod = pcall(require, "cjson")
    if ok and type(mod) == "table" then NULL = mod.null end
    if NULL == nil then
        ok, mod = pcall(require, "progallery")
        if ok and type(mod) == "table" then NULL = mod.null end
    end
end
_M.null = NULL

local function is_null(v)
    return v == nil or (NULL ~= nil and rawequal(v, NULL))
end
_M.isNull = is_null

-- Strings that are "set" in the JS sense (truthy): non-empty.
local function opt_string(obj, key)
    local v = rawget(obj, key)
    if is_null(v) then return nil end
    if type(v) ~= "string" then return nil, key .. ": expected a string" end
    if v == "" then return nil end
    return v
end

local function dimension(obj, key)
    local v = rawget(obj, key)
    if is_null(v) then return nil, key .. ": required" end
    if type(v) ~= "number" or v ~= v or v < 0 or v > MAX_SIZE or v ~= floor(v) then
        return nil, key .. ": expected an integer from 0 to " .. MAX_SIZE
    end
    return format("%d", v)
end

-- What a builder returns: its string when the grammar takes it (the store bounds the
-- length itself), else nil, message.
local function built(s, kind)
    local p, err, code = parse(s, kind, kind == "image" and IMAGE_PREFIX or VIDEO_PREFIX, false)
    if not p then return nil, err, code end
    return s
end

-- A builder's failures as every helper's: nil, message, code (INVALID_ARGUMENT unless
-- the grammar said otherwise).
local function with_code(build)
    return function(obj)
        local s, err, code = build(obj)
        if s == nil then return nil, err, code or INVALID end
        return s
    end
end

-- An id goes into the URI path unescaped (as in the SDK), so it must not carry the
-- characters that would end it.
local function media_id(obj)
    local id, err = opt_string(obj, "id")
    if err then return nil, err end
    if id and find(id, "[/#?]") then
        return nil, "id: must not contain '/', '#' or '?'"
    end
    return id
end

local function url_only(obj, what)
    local url, err = opt_string(obj, "url")
    if err then return nil, err end
    if not url then return nil, what .. ": id or url required" end
    return url
end

-- Builds a wix:image URI from its parts; the form every other module uses.
local function build_image(id, name, width, height)
    local out = IMAGE_PREFIX .. id
    if name then
        local enc, err = _M.encodeURIComponent(name)
        if not enc then return nil, "filename: " .. err end
        out = out .. "/" .. enc
    end
    return out .. "#originWidth=" .. width .. "&originHeight=" .. height
end

-- REST CommonImage -> imageInfo string.
_M.imageFromRest = with_code(function(obj)
    if type(obj) ~= "table" then return nil, "expected an object, got " .. type(obj) end
    local id, err = media_id(obj)
    if err then return nil, err end
    if not id then
        local url, uerr = url_only(obj, "image")
        if not url then return nil, uerr end
        return built(url, "image")
    end
    local filename, alt, width, height
    filename, err = opt_string(obj, "filename")
    if err then return nil, err end
    alt, err = opt_string(obj, "altText")
    if err then return nil, err end
    width, err = dimension(obj, "width")
    if not width then return nil, err end
    height, err = dimension(obj, "height")
    if not height then return nil, err end
    local out
    out, err = build_image(id, filename or alt, width, height)
    if not out then return nil, err end
    return built(out, "image")
end)

-- Last path segment of a URL, without query or fragment. Found with plain searches:
-- the unanchored pattern "([^/]*)$" is quadratic in a long segment that ends in "/".
local function last_segment(url)
    url = match(url, "^[^?#]*")
    local last, i = 0, find(url, "/", 1, true)
    while i do
        last = i
        i = find(url, "/", i + 1, true)
    end
    return sub(url, last + 1)
end

local function poster_fragment(posters)
    if is_null(posters) then return "" end
    if type(posters) ~= "table" then return nil, "posters: expected an array" end
    -- The SDK prefers the second poster when there is one.
    local index = rawget(posters, 2) ~= nil and 2 or 1
    local poster = rawget(posters, index)
    if is_null(poster) then return "" end
    local path = "posters[" .. index .. "]"
    if type(poster) ~= "table" then return nil, path .. ": expected an object" end
    local pid, err = opt_string(poster, "id")
    if err then return nil, path .. "." .. err end
    if not pid then
        local url
        url, err = opt_string(poster, "url")
        if err then return nil, path .. "." .. err end
        pid = url and last_segment(url)
        if not pid or pid == "" then return nil, path .. ": id or url required" end
    end
    local width, height
    width, err = dimension(poster, "width")
    if not width then return nil, path .. "." .. err end
    height, err = dimension(poster, "height")
    if not height then return nil, path .. "." .. err end
    return "#posterUri=" .. pid .. "&posterWidth=" .. width .. "&posterHeight=" .. height
end

-- REST VideoV2 -> videoInfo string.
_M.videoFromRest = with_code(function(obj)
    if type(obj) ~= "table" then return nil, "expected an object, got " .. type(obj) end
    local id, err = media_id(obj)
    if err then return nil, err end
    if not id then
        local url, uerr = url_only(obj, "video")
        if not url then return nil, uerr end
        return built(url, "video")
    end
    local filename
    filename, err = opt_string(obj, "filename")
    if err then return nil, err end
    local out = VIDEO_PREFIX .. id
    if filename then
        local enc
        enc, err = _M.encodeURIComponent(filename)
        if not enc then return nil, "filename: " .. err end
        out = out .. "/" .. enc
    end
    local frag
    frag, err = poster_fragment(rawget(obj, "posters"))
    if not frag then return nil, err end
    return built(out .. frag, "video")
end)

-- { id=, filename=?, width=, height= } -> wix:image URI (same rules as imageFromRest).
function _M.buildImage(parts)
    return _M.imageFromRest(parts)
end

-- The poster of a wix:video URI as a wix:image URI, or nil when it has none:
--   wix:image://v1/<posterUri>/<posterUri>#originWidth=<posterWidth>&originHeight=<posterHeight>
-- i.e. the poster treated as a Wix Media image whose filename is its media id; that is
-- the same string imageFromRest makes for the REST poster object, so a $w.Gallery
-- thumbnail, a REST poster and an image item all name the poster the same way.
function _M.posterImage(videoInfo)
    local p = _M.parseVideo(videoInfo)
    if not p or p.scheme ~= "wix" or not p.posterUri then return nil end
    return (_M.imageFromRest{ id = p.posterUri, filename = p.posterUri,
                              width = p.posterWidth, height = p.posterHeight })
end

-- Last line of defence (out of memory, a bug): every exported function runs under pcall
-- and answers nil, message. The message is only ever a string of Lua's or ours.
local wrapped = {}
for name, fn in next, _M do
    if type(fn) == "function" and name ~= "isNull" and name ~= "isHttp" then
        wrapped[name] = function(...)
            local ok, a, b, c = pcall(fn, ...)
            if ok then return a, b, c end
            return nil, "internal error: " .. (type(a) == "string" and a or type(a))
        end
    end
end
for name, fn in next, wrapped do _M[name] = fn end

return _M
