-- progallery.http.cache: a worker's cache of GET responses, on resty.lrucache. That
-- library needs LuaJIT (the FFI), so this file runs in the LuaJIT run only (.busted keeps
-- it out of the Lua 5.4 runs, and here it fails rather than skips on another VM); the
-- cache inside nginx is in spec/http_spec.lua ("cached GETs see every write", "reads its
-- writes").
assert(type(jit) == "table", "spec/http_cache_spec.lua runs on LuaJIT only (busted --run=luajit)")
-- resty.lrucache reads ngx.now when it loads (it calls it only for entries with a TTL,
-- which the cache never sets)
if rawget(_G, "ngx") == nil then _G.ngx = { now = os.time } end
local cache = require "progallery.http.cache"
local http = require "progallery.http"

describe("progallery.http.cache", function()
  -- a stand-in for the worker's store: only dataVersion is used
  local version
  local store = { dataVersion = function() return version end }
  before_each(function() version = 1 end)

  local bodies -- what this test filed, by key: the live entries' cost comes from here
  local function new(opts)
    bodies = {}
    return assert(cache.new(opts))
  end
  local function put(c, uri, body)
    local key, v = c:key(store, "visitor", uri)
    if c:set(store, key, body, v) then bodies[key] = body end
    return key
  end
  local function live(c) -- keys lrucache holds, most recently used first (no reordering)
    return c.lru:get_keys()
  end
  local function check_bounds(c, max_bytes, max_entries)
    local keys, bytes = live(c), 0
    for _, k in ipairs(keys) do bytes = bytes + #k + #bodies[k] end
    assert.is_true(bytes <= max_bytes, "bytes " .. bytes)
    assert.is_true(#keys <= max_entries, "entries " .. #keys)
    -- the count beside lrucache is never below what the live entries cost
    assert.is_true(c.bytes >= bytes and c.bytes <= max_bytes, "counted " .. c.bytes .. ", live " .. bytes)
  end

  it("is what new{} of progallery.http makes by default, with the documented bounds", function()
    local h = assert(http.new { db = ":memory:" })
    assert.equal(cache, getmetatable(h.cache).__index)
    assert.equal(32 * 1024 * 1024, h.cache.max_bytes)
    assert.equal(2000, h.cache.max_entries)
    assert.equal(2000, h.cache.lru:capacity())
    h = assert(http.new { db = ":memory:", cache = { maxBytes = 10, maxEntries = 7 } })
    assert.equal(10, h.cache.max_bytes)
    assert.equal(7, h.cache.lru:capacity())
  end)

  it("never stores an entry larger than the byte bound (default: 32 MiB)", function()
    local c = new()
    local key = put(c, "/big", string.rep("z", 32 * 1024 * 1024 + 1))
    assert.is_nil(c:get(key))
    key = put(c, "/small", "{}")
    assert.equal("{}", c:get(key))
  end)

  it("keeps both bounds for every entry, as configured", function()
    local c = new { maxBytes = 1000, maxEntries = 3 }
    assert.is_nil(c:get(put(c, "/a", string.rep("x", 1000)))) -- with its key: over 1000
    local key = put(c, "/a", string.rep("x", 900))
    assert.equal(900, #c:get(key))
    for i = 1, 200 do
      put(c, "/p" .. (i % 7), string.rep("y", (i * 137) % 990))
      check_bounds(c, 1000, 3)
      if i % 3 == 0 then c:get("visitor /p" .. (i % 5)) end -- reorder now and then
    end
    local none = new { maxEntries = 0 }
    assert.is_nil(none:get(put(none, "/a", "{}")))
  end)

  it("evicts the least recently used entries, by entries and by bytes", function()
    local c = new { maxEntries = 3 }
    local a, b = put(c, "/a", "A"), put(c, "/b", "B")
    local cc = put(c, "/c", "C")
    assert.equal("A", c:get(a)) -- a is now the most recently used: b goes first
    local d = put(c, "/d", "D")
    assert.is_nil(c:get(b))
    assert.same({ "A", "C", "D" }, { c:get(a), c:get(cc), c:get(d) })
    -- three of 300 bytes (key and body) fill 900 of 1000; a fourth evicts the least
    -- recently used, down to 7/8 of the bound (875): q, then r; p was read, so it stays
    c = new { maxBytes = 1000 }
    local p, q = put(c, "/p", string.rep("p", 290)), put(c, "/q", string.rep("q", 290))
    local r = put(c, "/r", string.rep("r", 290))
    assert.same({ r, q, p }, live(c))
    assert.is_string(c:get(p))
    local s = put(c, "/s", string.rep("s", 290))
    assert.same({ s, p }, live(c))
    assert.equal(600, c.bytes)
    check_bounds(c, 1000, 2000)
    -- one as large as the bound leaves room for nothing else
    local big = put(c, "/big", string.rep("b", 1000 - #"visitor /big"))
    assert.equal(1000, #big + #c:get(big))
    assert.same({ big }, live(c))
    check_bounds(c, 1000, 2000)
  end)

  it("keeps its count beside lrucache small however many entries lrucache evicts", function()
    local c = new { maxEntries = 5 }
    for i = 1, 1000 do put(c, "/e" .. i, "x") end
    assert.is_true(c.n <= 2 * 5 + 1, "sizes kept: " .. c.n)
    check_bounds(c, 32 * 1024 * 1024, 5)
  end)

  it("files a body only under the data version it was read at", function()
    local c = new()
    local key, v1 = c:key(store, "visitor", "/g")
    version = 2 -- a commit while the call ran; another request moves the cache on
    local key2 = c:key(store, "visitor", "/other")
    assert.truthy(key2)
    assert.is_false(c:set(store, key, "old body", v1))
    assert.is_nil(c:get(key))
    -- read at v2, but the data moved again before it came back: not filed either
    local _, v2 = c:key(store, "visitor", "/g")
    version = 3
    assert.is_false(c:set(store, key, "v2 body", v2))
    c:key(store, "visitor", "/g")
    assert.is_nil(c:get(key))
    -- and a body read and filed at one version is gone at the next
    local k3, v3 = c:key(store, "visitor", "/g")
    assert.is_true(c:set(store, k3, "v3 body", v3))
    assert.equal("v3 body", c:get(k3))
    version = 4
    c:key(store, "visitor", "/x")
    assert.is_nil(c:get(k3))
    assert.equal(0, c.bytes)
  end)

  it("caches nothing while the store has no data version", function()
    local c = new()
    version = nil
    assert.is_nil(c:key(store, "visitor", "/g"))
  end)
end)
