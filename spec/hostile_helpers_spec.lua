-- The pure-Lua helpers (progallery.uri, progallery.frontend, progallery.rest) read a
-- caller's tables raw and never format a caller's value (issue #10, finding 1).
--
-- Every public function of the three modules is called twice with the same arguments:
-- once as plain tables, once as copies in which every table, at every level (keys too),
-- carries a metatable whose every metamethod either raises or answers with decoys. Raw
-- reading means the metatable changes nothing: the hostile call must not raise, must not
-- run a single metamethod, and must return what the plain call returns (compared raw).
-- Error objects whose __tostring raises are thrown by mock stores wherever a helper
-- might format one.
local uri = require "progallery.uri"
local frontend = require "progallery.frontend"
local rest = require "progallery.rest"
local cjson = require "cjson"
local null = cjson.null
local unpack = table.unpack or unpack

local function pack(...) return { n = select("#", ...), ... } end

local IMG = "wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/38939f9568z222d6avc6285c9ac1e9129.jpg#originWidth=200&originHeight=199"
local IMG2 = "wix:image://v1/99bc1c6f66444769b531221214c885ac.jpeg/A%20View.jpeg#originWidth=3264&originHeight=2448"
local VID = "wix:video://v1/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c/BigBuckBunny.mp4#posterUri=8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg&posterWidth=1280&posterHeight=720"
local VIMEO = "https://vimeo.com/322240916"
local GID = "10874ccf-5867-4225-9550-3885079bad66"

-- ---- hostile metatables ------------------------------------------------------------

local calls = 0 -- metamethods run since the last reset
local made = setmetatable({}, { __mode = "k" }) -- the hostile tables this spec built

local function boom()
  calls = calls + 1
  error("a metamethod of the caller ran", 2)
end

local METAMETHODS = { "__index", "__newindex", "__len", "__pairs", "__ipairs", "__tostring",
  "__concat", "__eq", "__lt", "__le", "__call", "__unm", "__add", "__sub", "__mul", "__div",
  "__mod", "__pow", "__idiv", "__band", "__bor", "__bxor", "__shl", "__shr", "__bnot", "__close" }

-- every metamethod raises; __name is not a string (and is hostile itself)
local RAISING = {}
for _, name in ipairs(METAMETHODS) do RAISING[name] = boom end
RAISING.__name = setmetatable({}, { __tostring = boom, __index = boom, __concat = boom })
-- __gc of a table this spec did not make means a helper put the caller's metatable on
-- a table of its own (Lua 5.4 runs it when that table is collected).
RAISING.__gc = function(o) if not made[o] then calls = calls + 1 end end

-- every metamethod answers plausibly instead: normal access would see other contents.
-- (A helper that kept calling them would loop for ever: past 1000 calls they raise.)
local function count()
  calls = calls + 1
  if calls > 1000 then error("a caller's metamethod ran 1000 times", 2) end
end
local decoy_fields = { items = { { src = IMG } }, image = { imageInfo = IMG }, imageInfo = IMG,
  id = "decoy", width = 1, height = 1, src = IMG, strict = true, type = "image", title = "decoy" }
local DECOY = {
  __index = function(_, k) count(); return decoy_fields[k] end,
  __newindex = function() count() end,
  __len = function() count(); return 1 end,
  __pairs = function() count(); return next, decoy_fields, nil end,
  __ipairs = function() count(); return ipairs(decoy_fields.items) end,
  __tostring = function() count(); return "decoy" end,
  __concat = function() count(); return "decoy" end,
  __eq = function() count(); return true end,
  __lt = function() count(); return true end,
  __le = function() count(); return true end,
  __call = function() count(); return IMG end,
  __name = "decoy",
  __gc = RAISING.__gc,
}

-- a copy of v in which every table (keys included) carries mt; cycles are kept
local function hostile(v, mt, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local c = {}
  seen[v] = c
  made[c] = true
  for k, x in next, v do rawset(c, hostile(k, mt, seen), hostile(x, mt, seen)) end
  return setmetatable(c, mt)
end

-- raw structural equality; metatables must be the same objects (a helper may mark its
-- own arrays for cjson, never hand back a caller's metatable)
local function same(a, b, seen)
  if type(a) ~= type(b) then return false, "types " .. type(a) .. " / " .. type(b) end
  if type(a) == "number" then
    if a ~= a and b ~= b then return true end
    return a == b, "numbers differ"
  end
  if type(a) ~= "table" then return rawequal(a, b), "values differ" end
  seen = seen or {}
  if seen[a] then return rawequal(seen[a], b), "cycle" end
  seen[a] = b
  if not rawequal(getmetatable(a), getmetatable(b)) then return false, "metatables differ" end
  for k, x in next, a do
    if type(k) == "table" then return false, "table key in a result" end
    local ok, why = same(x, rawget(b, k), seen)
    if not ok then return false, "[" .. (type(k) == "string" and k or type(k)) .. "] " .. why end
  end
  for k in next, b do
    if type(k) == "table" or rawget(a, k) == nil then return false, "extra key in the hostile result" end
  end
  return true
end

-- an error object whose __tostring (and everything else) raises
local function error_object()
  local e = setmetatable({}, RAISING)
  made[e] = true
  return e
end

-- ---- mock stores (tables with raw methods), for galleryJSON ---------------------------

local function gallery_result()
  return { _id = GID, name = "G", totalItems = 3, items = {
    { _id = "a", type = "IMAGE", title = "t1", image = { imageInfo = IMG2 }, link = { url = "https://x" } },
    { _id = "b", type = "TEXT", text = { html = "<p>x</p>" } },
    { _id = "c", type = "VIDEO", video = { videoInfo = VID } },
  } }
end

-- The mock hands out its data through mk, so the hostile run gets hostile results.
local function mock_store(mk, behaviour)
  local store = {}
  store.getGallery = function(self, id, opts)
    if behaviour == "raise" then error(error_object()) end
    if behaviour == "raise string" then error("store broke") end
    if behaviour == "fail" then return nil, "no such gallery", "NOT_FOUND" end
    if behaviour == "bad total" then
      local g = gallery_result()
      g.totalItems = { 5 }
      return mk(g)
    end
    if behaviour == "paged" then
      local g = gallery_result()
      g.totalItems = 4
      return mk(g)
    end
    return mk(gallery_result())
  end
  store.listGalleryItems = function(self, id, opts)
    if behaviour == "paged" then
      return mk({ items = { { _id = "d", image = { imageInfo = IMG } } } })
    end
    return mk({ items = {} })
  end
  return store
end

-- ---- the cases ---------------------------------------------------------------------

local function rest_item()
  return { id = "i", sortOrder = "NaN", title = "T", link = { text = "more", url = "https://x" },
           tags = { values = { "a", "b" } },
           image = { imageInfo = { id = "a.jpg", width = 10, height = 20, filename = "a b.jpg" },
                     focalPoint = { x = "Infinity", y = 0.5 }, exif = { k = { 1, 2, { z = true } } } } }
end

local function velo_gallery()
  return { _id = GID, name = "G", sortOrder = 0 / 0, totalItems = 3, _createdDate = "d", items = {
    { _id = "a", type = "IMAGE", image = { imageInfo = IMG, exif = { Artist = "x", list = { 1, "b" } } } },
    { _id = "b", type = "VIDEO", video = { videoInfo = VID } },
    { _id = "c", type = "TEXT", text = { html = "h", css = { a = { b = { 1 } } } } },
    { _id = "d", type = "VIDEO", video = { videoInfo = VIMEO }, tags = { values = { "t" } } },
  } }
end

local function backend_items()
  return {
    { _id = "a", type = "IMAGE", title = "A", description = "d", image = { imageInfo = IMG2 },
      link = { url = "https://x" } },
    { _id = "b", type = "VIDEO", video = { videoInfo = VID } },
    { _id = "c", type = "TEXT", text = { html = "<p>x</p>" } },
    { _id = "d", title = "no media" },
    { _id = "e", image = { imageInfo = IMG }, link = { text = "has text", url = "https://y" } },
  }
end

local function frontend_items()
  return {
    { type = "Image", src = IMG, slug = "s", title = "t", description = "d", link = "https://x" },
    { type = "VIDEO", src = VID, thumbnail = "ignored" },
    { src = VIMEO },
    { src = "image://v1/a.jpg/a.jpg#originWidth=1&originHeight=1" },
  }
end

-- Each case: module name, function name, and a builder of the argument list. Arguments
-- are built fresh for each run; mk makes the mocks' results plain or hostile alike.
local CASES = {}
local function case(mod, fname, build) CASES[#CASES + 1] = { mod, fname, build } end

local function each(mod, fname, list)
  for _, args in ipairs(list) do
    case(mod, fname, function() return args end)
  end
end

-- progallery.uri
for _, f in ipairs { "validUTF8", "encodeURIComponent", "decodeURIComponent", "isHttp",
                     "parseImage", "parseVideo", "imageToRest", "videoToRest", "posterImage", "isNull" } do
  each("uri", f, { { "abc" }, { IMG }, { VID }, { {} }, { { "a", b = "c" } }, { { IMG } }, { null } })
end
for _, f in ipairs { "imageFromRest", "buildImage" } do
  each("uri", f, {
    { { id = "a.jpg", width = 1, height = 2, filename = "x y.jpg" } },
    { { id = "a.jpg", width = 1, height = 2, altText = "alt" } },
    { { id = "a.jpg", width = 1, height = 2 } },
    { { url = "https://x/y.png" } },
    { { id = null, url = "https://x/y.png" } },
    { { id = "a" } }, { { id = "a", width = 1 } }, { { id = "a", width = {}, height = 1 } },
    { { id = {}, width = 1, height = 1 } }, { { id = "a", width = 1, height = 1, filename = {} } },
    { {} }, { "not a table" },
  })
end
each("uri", "videoFromRest", {
  { { id = "v", filename = "f.mp4", posters = { { id = "p1", width = 1, height = 2 }, { id = "p2", width = 3, height = 4 } } } },
  { { id = "v", posters = { { url = "https://s/m/p.jpg?x=1", width = 1, height = 2 } } } },
  { { id = "v", posters = {} } }, { { id = "v" } }, { { url = VIMEO } },
  { { id = "v", posters = { { id = "p" } } } }, { { id = "v", posters = { "p" } } },
  { { id = "v", posters = { [2] = { id = "p", width = 1, height = 1 } } } },
  { { id = "v", posters = "p" } }, { {} },
})

-- progallery.frontend
local strict_opts = { { strict = true }, { strict = false }, {}, { strict = "yes" }, { strikt = true },
                      { [{}] = true }, { [1] = true } }
case("frontend", "toGalleryItems", function() return { backend_items() } end)
case("frontend", "toGalleryItems", function() return { { items = backend_items() } } end)
case("frontend", "toGalleryItems", function() return { velo_gallery() } end)
case("frontend", "toGalleryItems", function() return { {} } end)
case("frontend", "toGalleryItems", function() return { { items = {} } } end)
case("frontend", "toGalleryItems", function() return { { { image = {} } } } end)
case("frontend", "toGalleryItems", function() return { { { image = { imageInfo = IMG }, video = { videoInfo = VID } } } } end)
case("frontend", "toGalleryItems", function() return { { { image = { imageInfo = "ftp://x" } } } } end)
case("frontend", "toGalleryItems", function() return { { [2] = { image = { imageInfo = IMG } } } } end)
case("frontend", "toGalleryItems", function() return { { items = { a = 1 } } } end)
case("frontend", "toGalleryItems", function() return { { { title = {} , image = { imageInfo = IMG } } } } end)
for _, o in ipairs(strict_opts) do
  case("frontend", "toGalleryItems", function() return { backend_items(), o } end)
  case("frontend", "toJSON", function() return { backend_items(), o } end)
end
case("frontend", "toJSON", function() return { velo_gallery() } end)
case("frontend", "toJSON", function() return { {} } end)
case("frontend", "toJSON", function() return { { { image = {} } } } end)
case("frontend", "fromGalleryItems", function() return { frontend_items() } end)
case("frontend", "fromGalleryItems", function() return { {} } end)
case("frontend", "fromGalleryItems", function() return { { { type = "text", src = IMG } } } end)
case("frontend", "fromGalleryItems", function() return { { { type = "image", src = VID } } } end)
case("frontend", "fromGalleryItems", function() return { { { src = IMG, link = { url = "x" } } } } end)
case("frontend", "fromGalleryItems", function() return { { { src = IMG }, [3] = { src = IMG } } } end)
case("frontend", "fromGalleryItems", function() return { { a = 1 } } end)
case("frontend", "fromGalleryItems", function() return { { { title = "no src" } } } end)
for _, behaviour in ipairs { "ok", "paged", "fail", "raise", "raise string", "bad total" } do
  case("frontend", "galleryJSON", function(mk) return { mock_store(mk, behaviour), GID } end)
  case("frontend", "galleryJSON", function(mk) return { mock_store(mk, behaviour), GID, { strict = true } } end)
end
case("frontend", "galleryJSON", function() return { {}, GID } end)
case("frontend", "galleryJSON", function() return { { getGallery = "not a function" }, GID } end)

-- progallery.rest
for _, f in ipairs { "toRest", "fromRest" } do
  case("rest", f, function() return { velo_gallery() } end)
  case("rest", f, function() return { velo_gallery(), "gallery" } end)
  case("rest", f, function() return { rest_item(), "item" } end)
  case("rest", f, function() return { { galleries = { velo_gallery() }, totalGalleries = 1 } } end)
  case("rest", f, function() return { { items = { { image = { imageInfo = 5 } } } } } end)
  case("rest", f, function() return { { image = { imageInfo = { id = "x" } } } } end)
  case("rest", f, function() return { { [{}] = 1 } } end)
  case("rest", f, function() return { { title = print } } end)
  case("rest", f, function() return { velo_gallery(), {} } end)
  case("rest", f, function()
    local cyc = {}
    cyc.a = cyc
    return { cyc }
  end)
  case("rest", f, function() return { { exif = { a = { b = { c = {} } } } } } end)
end
for _, f in ipairs { "galleryToRest", "itemToRest", "galleryFromRest", "itemFromRest" } do
  case("rest", f, function() return { velo_gallery() } end)
  case("rest", f, function() return { rest_item() } end)
  case("rest", f, function() return { { image = { imageInfo = {} } } } end)
  case("rest", f, function() return { "x" } end)
end
for _, fname in ipairs { "getGallery", "createGalleryItem", "listGalleries", "listGalleryItems", "deleteGallery" } do
  case("rest", "response", function() return { fname, velo_gallery() } end)
  case("rest", "response", function() return { fname, { galleries = { velo_gallery() }, totalGalleries = 1 } } end)
end
case("rest", "response", function() return { {}, velo_gallery() } end)
case("rest", "response", function() return { "getGallery", { items = { { video = { videoInfo = {} } } } } } end)

local MODULES = { uri = uri, frontend = frontend, rest = rest }

-- runs fn on args made by build, plain or hostile with mt; returns the packed results
local function run(fn, build, mt)
  local mk = mt and function(v) return hostile(v, mt) end or function(v) return v end
  local args = build(mk)
  local n = select("#", unpack(args)) -- args lists hold no holes
  local actual = {}
  for i = 1, n do actual[i] = mt and hostile(args[i], mt) or args[i] end
  calls = 0
  local r = pack(pcall(fn, unpack(actual, 1, n)))
  local ran = calls
  calls = 0
  return r, ran
end

describe("the Lua helpers against hostile tables (issue #10, finding 1)", function()
  it("has a case for every public function of uri, frontend and rest", function()
    local covered = {}
    for _, c in ipairs(CASES) do covered[c[1] .. "." .. c[2]] = true end
    for mname, mod in pairs(MODULES) do
      for k, v in pairs(mod) do
        if type(v) == "function" then
          assert.is_true(covered[mname .. "." .. k], "no case for " .. mname .. "." .. k)
        end
      end
    end
  end)

  for _, variant in ipairs { { "raising", RAISING }, { "decoy", DECOY } } do
    local vname, mt = variant[1], variant[2]
    it("every public function gives the plain result for tables with " .. vname .. " metamethods", function()
      local successes, failures = {}, {}
      for i, c in ipairs(CASES) do
        local mname, fname, build = c[1], c[2], c[3]
        local fn = MODULES[mname][fname]
        local label = ("case %d %s.%s"):format(i, mname, fname)
        local plain = run(fn, build, nil)
        local got, ran = run(fn, build, mt)
        if not plain[1] then
          -- only error objects of this spec can make a plain call raise (a helper formatted one)
          failures[#failures + 1] = label .. ": the plain call raised (" .. type(plain[2]) .. ")"
        elseif not got[1] then
          failures[#failures + 1] = label .. ": raised (" .. type(got[2]) .. ")"
        elseif ran > 0 then
          failures[#failures + 1] = label .. ": ran " .. ran .. " metamethod(s)"
        else
          local ok, why = same(plain, got)
          if not ok then failures[#failures + 1] = label .. ": result differs: " .. tostring(why) end
        end
        if plain[2] ~= nil then successes[mname .. "." .. fname] = true end
      end
      collectgarbage()
      collectgarbage()
      assert.equal(0, calls, "a __gc of a caller's metatable ran on a helper's table")
      assert.same({}, failures)
      -- the cases are not all refusals: every function has one that succeeds
      for mname, mod in pairs(MODULES) do
        for k, v in pairs(mod) do
          if type(v) == "function" then
            assert.is_true(successes[mname .. "." .. k], mname .. "." .. k .. " never succeeded")
          end
        end
      end
    end)
  end

  it("error objects whose __tostring raises are never formatted", function()
    local json, msg, code = frontend.galleryJSON(mock_store(function(v) return v end, "raise"), GID)
    assert.is_nil(json)
    assert.equal("string", type(msg))
    assert.equal("INVALID_ARGUMENT", code)
    assert.equal(0, calls)
    -- a store's own (nil, message, code) comes back unchanged, whatever the message is
    local odd = error_object()
    local store = { getGallery = function() return nil, odd, "NOT_FOUND" end }
    local r1, r2, r3 = frontend.galleryJSON(store, GID)
    assert.is_nil(r1)
    assert.is_true(rawequal(odd, r2))
    assert.equal("NOT_FOUND", r3)
    assert.equal(0, calls)
  end)

  it("galleryJSON on a real store reads hostile options raw", function()
    local ok, progallery = pcall(require, "progallery")
    if not ok then pending("the C module is not built") return end
    local store = assert(progallery.open { path = ":memory:", caller = "admin" })
    local g = assert(store:createGallery { gallery = { name = "G", items = backend_items() } })
    for _, o in ipairs(strict_opts) do
      local plain = pack(pcall(frontend.galleryJSON, store, g._id, o))
      calls = 0
      local got = pack(pcall(frontend.galleryJSON, store, g._id, hostile(o, RAISING)))
      assert.equal(0, calls)
      assert.is_true(got[1])
      assert.is_true((same(plain, got)))
    end
    -- a hostile gallery id reaches the store, which reads it raw too
    calls = 0
    local r, msg, code = frontend.galleryJSON(store, hostile({ GID }, RAISING))
    assert.is_nil(r)
    assert.equal("INVALID_ARGUMENT", code, msg)
    assert.equal(0, calls)
    store:close()
  end)
end)

describe("progallery.text.of (naming a caller's value in a message)", function()
  local text = require "progallery.text"
  it("gives strings, numbers, booleans and nil as they are, anything else by its type, running no metamethod", function()
    assert.equal("onFoo", text.of("onFoo"))
    assert.equal("42", text.of(42))
    assert.equal("false", text.of(false))
    assert.equal("nil", text.of(nil))
    local ran = 0
    local hostile = setmetatable({}, {
      __tostring = function() ran = ran + 1; error("tostring ran") end,
      __concat = function() ran = ran + 1; error("concat ran") end,
      __name = "Decoy",
    })
    assert.equal("(a table value)", text.of(hostile))
    assert.equal("(a function value)", text.of(print))
    assert.equal("(a thread value)", text.of(coroutine.create(print)))
    assert.equal(0, ran)
  end)
end)
