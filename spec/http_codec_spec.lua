-- progallery.http's pure parts, without nginx: the status of every error code,
-- and a store's refusals through execute().
local progallery = require "progallery"
local S = require "spec.support"
local http = require "progallery.http"
local errors = require "progallery.http.errors"
local router = require "progallery.http.router"
local auth = require "progallery.http.auth"
local cjson = require "cjson"

describe("progallery.http codec", function()
  it("maps every error code of spec section 7 to its HTTP status, with the code in the body", function()
    local want = {
      INVALID_ARGUMENT = 400, RESOURCE_EXHAUSTED = 400, PERMISSION_DENIED = 403, NOT_FOUND = 404,
      FAILED_PRECONDITION = 412, ABORTED = 409, UNAVAILABLE = 503, INTERNAL = 500,
    }
    for code, status in pairs(want) do
      local got, body = errors.response(code, "x: something")
      assert.equal(status, got, code)
      local json = cjson.decode(body)
      assert.equal(code, json.details.applicationError.code)
      assert.is_string(json.message)
    end
  end)

  it("hides internal messages: INTERNAL answers 'internal error' and logs the detail", function()
    local status, body, log = errors.response("INTERNAL", "storage error: disk I/O error at /srv/x.db")
    assert.equal(500, status)
    assert.equal("internal error", cjson.decode(body).message)
    assert.matches("disk I/O error", log)
  end)

  it("a read-only store is 412 and a closed one too", function()
    local path = os.tmpname()
    os.remove(path)
    assert(progallery.open(path)):close()
    local ro = assert(progallery.open{ path = path, readonly = true, caller = "admin" })
    local status, body = http.execute(ro, "createGallery", { body = '{"gallery":{"name":"x"}}' })
    assert.equal(412, status)
    assert.equal("FAILED_PRECONDITION", cjson.decode(body).details.applicationError.code)
    ro:close()
    status = http.execute(ro, "listGalleries", {})
    assert.equal(412, status)
    os.remove(path) os.remove(path .. "-wal") os.remove(path .. "-shm")
  end)

  it("a validation error carries fieldViolations = [{field, description}] in REST names", function()
    local s = S.admin()
    local status, body = http.execute(s, "createGallery",
      { body = '{"gallery":{"items":[{"title":"ok"},{"image":{"imageInfo":{"url":"https://a.example/"},"quality":"high"}}]}}' })
    assert.equal(400, status, body)
    local v = cjson.decode(body).details.validationError.fieldViolations
    assert.equal(1, #v, body)
    assert.equal("gallery.items[1].image.quality", v[1].field)
    assert.is_string(v[1].description)
    assert.is_truthy(#v[1].description > 0 and not v[1].description:find("gallery.items", 1, true), v[1].description)
    s:close()
  end)

  it("error bodies are valid JSON text even for a key that is not UTF-8", function()
    local s = S.admin()
    local status, body = http.execute(s, "createGallery",
      { body = '{"gallery":{"items":[{"image":{"exif":{"\\u00ff\255":1},"imageInfo":{"url":"https://a.example/"}}}]}}' })
    assert.equal(400, status)
    assert.is_nil(body:find("[\128-\255]") and body:find("\255", 1, true))
    assert.is_table(cjson.decode(body))
    s:close()
  end)

  it("routes by the first five path segments, whatever follows", function()
    local G, I = "0190f5c2-1111-7abc-8def-0123456789ab", "00000000-0000-4000-8000-000000000000"
    local cases = {
      { "", "GET", nil, "NOT_FOUND" }, { "x", "GET", nil, "NOT_FOUND" },
      { "/galleries", "GET", "listGalleries" }, { "/galleries", "PUT", nil, "METHOD_NOT_ALLOWED" },
      { "/galleries/", "GET", nil, "INVALID_ARGUMENT" }, { "/galleries/a/b", "GET", nil, "INVALID_ARGUMENT" },
      { "/galleries/" .. G, "PATCH", "updateGallery" }, { "/galleries/" .. G .. "/", "GET", nil, "NOT_FOUND" },
      { "/galleries/" .. G .. "/x", "GET", nil, "NOT_FOUND" },
      { "/galleries/" .. G .. "/items", "DELETE", "deleteGalleryItems" },
      { "/galleries/" .. G .. "/items/delete", "POST", "bulkDeleteGalleryItems" },
      { "/galleries/" .. G .. "/items/delete/x", "POST", nil, "INVALID_ARGUMENT" },
      { "/galleries/" .. G .. "/items/" .. I, "GET", "getGalleryItem" },
      { "/galleries/" .. G .. "/items/" .. I .. "/", "GET", nil, "NOT_FOUND" },
      { "/galleries/" .. G .. "/items/" .. I .. "/x/y/z", "GET", nil, "NOT_FOUND" },
      { "/galleries/" .. G .. "/items/x/" .. string.rep("a/", 5000), "GET", nil, "INVALID_ARGUMENT" },
      { "/galleries/" .. G .. "/items/" .. I .. string.rep("/a", 5000), "GET", nil, "NOT_FOUND" },
    }
    for _, c in ipairs(cases) do
      local op, ids = router.route(c[1], c[2])
      assert.equal(c[3], op, c[1]:sub(1, 80))
      if not op then assert.equal(c[4], ids, c[1]:sub(1, 80)) end
    end
  end)

  it("trims Authorization values in linear time", function()
    assert.equal("", auth.trim(""))
    assert.equal("", auth.trim(" \t\r\n\v\f "))
    assert.equal("a  b", auth.trim("  a  b \t"))
    assert.equal("x", auth.trim("x"))
    local s = "a" .. string.rep(" ", 200000) .. "b"
    assert.equal(s, auth.trim("  " .. s .. "  "))
  end)

  it("refuses a conf key it does not know, naming it (a typo would drop the key or the pool)", function()
    for _, k in ipairs { "adminkey", "threadpool", "maxbody", "path", "site", "Cache" } do
      local h, err = http.new { db = ":memory:", cache = false, [k] = "x" }
      assert.is_nil(h, k)
      assert.equal(k .. ": unknown key", err)
    end
    local h, err = http.new { db = ":memory:", cache = false, [{}] = 1 }
    assert.is_nil(h)
    assert.equal("conf: a table key: unknown key", err)
    -- every documented key is known (values valid, so the handler is made)
    assert.is_not_nil((http.new { db = ":memory:", adminKey = "k", prefix = "/pro-gallery/v2", maxBody = 10,
      busyTimeout = 100, synchronous = "full", cache = false, webhooks = nil, webhookTimeout = nil,
      instanceId = "i", webhookKey = nil }))
  end)

  it("checks the cache's configuration, and names resty.lrucache where it cannot load", function()
    -- the cache itself (LuaJIT only) is spec/http_cache_spec.lua
    assert.is_nil(http.new { db = ":memory:", cache = { maxBytes = -1 } })
    assert.is_nil(http.new { db = ":memory:", cache = { maxEntries = math.huge } })
    assert.is_nil(http.new { db = ":memory:", cache = "yes" })
    assert.is_nil(assert(http.new { db = ":memory:", cache = false }).cache)
    -- as on Lua 5.4 (no FFI) or without lua-resty-lrucache installed
    local saved = { package.loaded["resty.lrucache"], package.preload["resty.lrucache"],
                    package.loaded["progallery.http.cache"], package.loaded["progallery.http"] }
    package.loaded["resty.lrucache"], package.loaded["progallery.http.cache"] = nil, nil
    package.loaded["progallery.http"] = nil
    package.preload["resty.lrucache"] = function() error("module 'resty.lrucache' not found", 0) end
    local ok, h, err = pcall(function() return require("progallery.http").new { db = ":memory:" } end)
    package.loaded["resty.lrucache"], package.preload["resty.lrucache"] = saved[1], saved[2]
    package.loaded["progallery.http.cache"], package.loaded["progallery.http"] = saved[3], saved[4]
    assert.is_true(ok, tostring(h))
    assert.is_nil(h)
    assert.matches("cache: resty.lrucache is not available", err, 1, true)
  end)

  describe("execute with a caller's hostile values", function()
    -- every metamethod records its call and raises an error object whose __tostring
    -- raises too: execute must neither call one nor let anything escape
    local calls
    local function raiser(name)
      return function()
        calls[#calls + 1] = name
        error(setmetatable({}, { __tostring = function()
          calls[#calls + 1] = "__tostring of a raised object"
          error("tostring raised", 0)
        end }), 0)
      end
    end
    local EVENTS = { "__index", "__newindex", "__pairs", "__ipairs", "__len", "__tostring", "__concat",
                     "__eq", "__lt", "__le", "__call", "__name" }
    local function hostile_mt()
      local mt = {}
      for _, e in ipairs(EVENTS) do mt[e] = raiser(e) end
      mt.__name = nil -- a string there, not a function
      return mt
    end
    local function hostile(t) return setmetatable(t or {}, hostile_mt()) end
    local function bad_error() -- an error object only tostring could describe
      return setmetatable({}, { __tostring = raiser("__tostring of an error object"),
                                __concat = raiser("__concat of an error object") })
    end

    local real
    before_each(function() calls = {}; real = S.admin() end)
    after_each(function() real:close() end)

    local function run(store, op, params)
      local ok, status, body, log = pcall(http.execute, store, op, params)
      assert.is_true(ok, "execute raised: " .. (type(status) == "string" and status or type(status)))
      assert.are.same({}, calls)
      assert.is_number(status)
      assert.is_string(body)
      local json = cjson.decode(body)
      assert.is_table(json)
      assert.is_true(log == nil or type(log) == "string")
      return status, json, log
    end

    it("reads params, query and body raw", function()
      assert.equal(200, (run(real, "listGalleries", hostile())))
      assert.equal(200, (run(real, "listGalleries", { query = hostile() })))
      local status, json = run(real, "listGalleries", { query = hostile { limit = "11" } })
      assert.equal(400, status) -- the raw value was read: limit is 1..10
      assert.equal("limit", json.details.validationError.fieldViolations[1].field)
      status = run(real, "createGallery", { body = hostile() })
      assert.equal(400, status)
      status = run(real, "getGallery", { galleryId = hostile() })
      assert.equal(400, status)
      status = run(real, "deleteGalleryItems",
        { galleryId = S.MISSING_ID, query = { itemsIds = hostile { S.MISSING_ID2 } } })
      assert.is_true(status == 400 or status == 404, tostring(status))
      status = run(real, hostile(), {})
      assert.equal(404, status)
    end)

    it("formats a store's error values without their metamethods", function()
      local err = bad_error()
      local stub = {}
      function stub.rest() return nil, err, "INVALID_ARGUMENT" end
      local status, json = run(stub, "listGalleries", {})
      assert.equal(400, status)
      assert.equal("INVALID_ARGUMENT", json.details.applicationError.code)
      function stub.rest() return nil, err, hostile() end
      status, json = run(stub, "listGalleries", {})
      assert.equal(500, status)
      assert.equal("internal error", json.message)
      function stub.rest() error(err, 0) end
      local log
      status, json, log = run(stub, "listGalleries", {})
      assert.equal(500, status)
      assert.is_string(log)
      function stub.rest() error(setmetatable({}, { __metatable = hostile() }), 0) end
      assert.equal(500, (run(stub, "listGalleries", {})))
      function stub.rest() return hostile { galleries = {}, totalGalleries = 0 } end
      status, json = run(stub, "listGalleries", {})
      assert.equal(500, status) -- not text: the codec's answer is JSON text
      function stub.rest() return '{"galleries":[],"totalGalleries":0}' end
      status, json = run(stub, "listGalleries", {})
      assert.equal(200, status)
      assert.equal(0, json.totalGalleries)
    end)
  end)

  it("names a caller's key whole and escaped, in a body that is valid UTF-8", function()
    local uri = require "progallery.uri"
    local s = S.admin()
    local function fails(op, body, want)
      local status, text = http.execute(s, op, { body = body, galleryId = S.MISSING_ID })
      assert.equal(400, status, text)
      assert.is_true(uri.validUTF8(text), text)
      local json = cjson.decode(text)
      assert.is_truthy(json.message:find(want, 1, true), json.message)
      assert.is_truthy(json.details.applicationError.description:find(want, 1, true))
      return json
    end
    local json = fails("createGallery", '{"\255\254":1}', "\\xff\\xfe: unknown field")
    assert.equal("\\xff\\xfe", json.details.validationError.fieldViolations[1].field)
    fails("createGallery", '{"a\\u0000b":1}', "a\\x00b: unknown field")
    fails("createGallery", '{"a\\\\b: c":1}', "a\\\\b: c: unknown field") -- a backslash doubled
    json = fails("createGallery", '{"a: b":1}', "a: b: unknown field")
    assert.equal("unknown field", json.details.validationError.fieldViolations[1].description)
    -- a key in a path the codec names (rest.lua)
    fails("createGallery", '{"gallery":{"items":[{"image":{"\255":{"imageInfo":5}}}]}}',
      "gallery.items[0].image.\\xff: unknown field")
    fails("createGallery", '{"gallery":{"items":[{"image":{"a\\u0000b":{"imageInfo":5}}}]}}',
      "gallery.items[0].image.a\\x00b: unknown field")
    s:close()
  end)

  it("the error pages of examples/nginx/nginx.conf are the JSON error body, with codes of STATUS", function()
    local f = assert(io.open("examples/nginx/nginx.conf", "rb"))
    local conf = f:read("*a")
    f:close()
    local seen = {}
    for page in conf:gmatch("error_page ([%d ]+) /%.progallery%-error/") do
      for status in page:gmatch("%d+") do seen[#seen + 1] = tonumber(status) end
    end
    assert.is_true(#seen >= 9, "error_page lines: " .. #seen)
    for _, status in ipairs(seen) do
      local sent, text = conf:match("location = /%.progallery%-error/" .. status .. " {%s*internal;%s*return (%d+) '([^']*)';")
      assert.is_string(text, "no location for " .. status)
      local json = cjson.decode(text)
      local code = json.details.applicationError.code
      assert.equal(json.message, json.details.applicationError.description)
      assert.is_number(errors.STATUS[code], status .. " " .. code) -- a code of the handler's
      assert.equal(status == 494 and 400 or status, tonumber(sent))
      local _, body = errors.response(code, json.message)
      local rejected = cjson.decode(body)
      assert.same(rejected.details.applicationError, json.details.applicationError) -- as reject() writes it
    end
  end)
end)
