-- progallery.http.ops: the API operations over a store, from routed request to response.
--
--   local status, body, log, etag = ops.execute(store, op, params)
--
-- store: a progallery store (or view) with the caller's identity. op: a name from
-- router.route(); params: { galleryId?, itemId?, query = {...}, body = "json"?,
-- ifMatch = "If-Match header"? }. Returns status, JSON text, a log line (nil when there is
-- nothing to log) and the ETag header's value (nil when the response is about no one
-- gallery or item). Pure (no
-- ngx: it runs on Lua 5.4 too) and never raises; never calls a metamethod of the
-- caller's values: params are read raw, and what a store returns or raises is described
-- by its type when it is not a string.

local progallery = require "progallery"
local errors = require "progallery.http.errors"

local type, next, ipairs, tonumber, pcall, error, setmetatable, getmetatable, rawget, rawequal =
    type, next, ipairs, tonumber, pcall, error, setmetatable, getmetatable, rawget, rawequal
local find, gsub, lower = string.find, string.gsub, string.lower

local NULL = progallery.null
local escape_key = progallery.escapeKey -- a caller's key as messages name it: UTF-8, \xHH
local error_response = errors.response
local text_of = require("progallery.text").of

local _M = {}

-- A refusal raised inside an op, answered by execute().
local Fail = {}
local function fail(code, msg, field)
    error(setmetatable({ code = code, msg = msg, field = field }, Fail), 0)
end

-- A caller's query table, read raw (next, rawget: never a metamethod) into plain data:
-- string keys; values that are strings, numbers, booleans, or arrays of them (?a=1&a=2).
local function plain_query(q)
    local out = {}
    if type(q) ~= "table" then return out end
    local k, v = next(q)
    while k ~= nil do
        if type(k) == "string" then
            local t = type(v)
            if t == "table" then
                local arr, i, x = {}, 1, rawget(v, 1)
                while x ~= nil do
                    local tx = type(x)
                    if tx ~= "string" and tx ~= "number" and tx ~= "boolean" then
                        fail("INVALID_ARGUMENT", escape_key(k) .. ": expected text values")
                    end
                    arr[i] = x
                    i = i + 1
                    x = rawget(v, i)
                end
                v = arr
            elseif t ~= "string" and t ~= "number" and t ~= "boolean" then
                fail("INVALID_ARGUMENT", escape_key(k) .. ": expected text")
            end
            out[k] = v
        end
        k, v = next(q, k)
    end
    return out
end

-- execute()'s params, read raw into a fresh table: the caller's is never indexed with
-- metamethods, nor written to.
local function plain_params(params)
    if type(params) ~= "table" then return { query = {} } end
    local gid, iid, body = rawget(params, "galleryId"), rawget(params, "itemId"), rawget(params, "body")
    local if_match = rawget(params, "ifMatch")
    if gid ~= nil and type(gid) ~= "string" then fail("INVALID_ARGUMENT", "galleryId: expected a string") end
    if iid ~= nil and type(iid) ~= "string" then fail("INVALID_ARGUMENT", "itemId: expected a string") end
    if body ~= nil and type(body) ~= "string" then fail("INVALID_ARGUMENT", "body: expected JSON text") end
    if if_match ~= nil and type(if_match) ~= "string" then fail("INVALID_ARGUMENT", "If-Match: expected text") end
    return { galleryId = gid, itemId = iid, body = body, ifMatch = if_match,
             query = plain_query(rawget(params, "query")) }
end

local function absent(v) return v == nil or v == NULL end

-- Query value -> what the store judges: integer-looking text becomes a number. Two
-- patterns, each linear: "^%-?%d+%.?%d*$" backtracks quadratically on a long run of
-- digits that ends in anything else.
local function query_number(v)
    if type(v) == "string" and (find(v, "^%-?%d+$") or find(v, "^%-?%d+%.%d*$")) then
        return tonumber(v)
    end
    return v
end

local function paging(query, names)
    local opts
    for _, name in ipairs(names) do
        local v = query[name]
        if v ~= nil then
            opts = opts or {}
            opts[name] = query_number(v)
        end
    end
    return opts
end

-- A repeated id (query string) must agree with the path.
local function same_id(name, copy, truth)
    if absent(copy) or truth == nil then return end
    if type(copy) ~= "string" or lower(copy) ~= lower(truth) then
        fail("INVALID_ARGUMENT", name .. ": does not match the path")
    end
end

-- The query's paging options of each op (the rest is the C codec's: store:rest).
local PAGING = {
    listGalleries = { "limit", "offset", "itemLimit" },
    getGallery = { "itemOffset", "itemLimit" },
    listGalleryItems = { "itemOffset", "itemLimit" },
}

-- One call through the REST codec of the core: body text in, response text out, and the
-- revision of the gallery or item answered (the store checks If-Match: rest.h).
local function rest_call(store, op, p)
    local names = PAGING[op]
    local text, err, code, field = store:rest(op, p.galleryId, p.itemId,
                                              names and paging(p.query, names), p.body, p.ifMatch)
    if text == nil then fail(code or "INTERNAL", err or "unknown failure", field) end
    if type(text) ~= "string" then fail("INTERNAL", "store:rest gave " .. text_of(text)) end
    if type(err) ~= "string" then err = nil end -- on success: the revision, or nil
    return text, err
end

local OPS = {}

-- Deprecated DELETE /galleries/{id}/items?itemsIds=..&itemsIds=..: the SDK's
-- deleteGalleryItems. Deletes, then answers {gallery} (two transactions).
function OPS.deleteGalleryItems(store, p)
    local ids = p.query.itemsIds
    if ids == nil then fail("INVALID_ARGUMENT", "itemsIds: required") end
    if type(ids) ~= "table" then ids = { ids } end
    local _, err, code = store:bulkDeleteGalleryItems(p.galleryId, ids)
    if err then
        if type(err) == "string" then err = gsub(err, "^itemIds", "itemsIds") end
        fail(code, err)
    end
    return rest_call(store, "getGallery", { galleryId = p.galleryId, query = {} })
end

local REST_OPS = {
    listGalleries = true, getGallery = true, listGalleryItems = true, getGalleryItem = true,
    deleteGallery = true, deleteGalleryItem = true, createGallery = true, updateGallery = true,
    createGalleryItem = true, updateGalleryItem = true, bulkDeleteGalleryItems = true,
    queryGalleries = true, queryGalleryItems = true,
    moveGalleryItems = true,
}

local function run_op(store, op, params)
    local special = type(op) == "string" and OPS[op]
    if not special and not (type(op) == "string" and REST_OPS[op]) then
        fail("NOT_FOUND", "no such route")
    end
    local p = plain_params(params)
    same_id("galleryId", p.query.galleryId, p.galleryId)
    same_id("itemId", p.query.itemId, p.itemId)
    if special then return special(store, p) end
    return rest_call(store, op, p)
end

-- store, op, params -> status, JSON text, log line, ETag (see the top of this file).
function _M.execute(store, op, params)
    local ok, res, revision = pcall(run_op, store, op, params)
    if ok then return 200, res, nil, revision and '"' .. revision .. '"' end
    if type(res) == "table" and rawequal(getmetatable(res), Fail) then
        return error_response(rawget(res, "code"), rawget(res, "msg"), rawget(res, "field"))
    end
    local status, body = error_response("INTERNAL", "internal error")
    return status, body, "execute " .. text_of(op) .. ": " .. text_of(res)
end

return _M
