-- progallery.http.cache: a worker's cache of GET responses, on resty.lrucache
-- (lua-resty-lrucache; LuaJIT only, it uses the FFI), bounded by entries and by bytes.
--
--   local c = cache.new{ maxBytes = 33554432, maxEntries = 2000 }   -- or nil, message
--   local key, version = c:key(store, role, uri)   -- nil: not caching this request
--   local body, etag = c:get(key)
--   ... the call ...
--   c:set(store, key, body, version, etag)         -- true when filed (etag: nil or the ETag)
--
-- Entries are valid while the store's dataVersion() stays the same: it moves on every
-- commit, by this worker, a thread of its pool, or any other process. Each request
-- captures the version before its call (key), and its body is filed only under that
-- version, and only if the version has not moved meanwhile (set): a call that yields (a
-- worker thread) may return after a commit and after another request has moved the cache
-- on to the new version, and its older body must not land there. A new version drops
-- every entry.
--
-- Bounds: lrucache holds at most maxEntries entries (it evicts the least recently used).
-- Beside it, each key's cost (#key + #body) is kept, and `bytes` is their sum. An entry
-- lrucache evicted on its own still counts until the next reconcile, so `bytes` is never
-- less than what the live entries cost. When a new entry would take it past maxBytes,
-- set() evicts the least recently used entries, down to 7/8 of maxBytes (finding them is
-- a walk over lrucache's keys, so it is done once per batch), and an entry larger than
-- maxBytes is never stored. So the byte bound holds for every entry, at every moment.

local type, tostring, pcall, require, setmetatable = type, tostring, pcall, require, setmetatable
local floor, huge = math.floor, math.huge
local match = string.match

local _M = {}
local mt = { __index = _M }

local MAX_ENTRIES, MAX_BYTES = 2000, 32 * 1024 * 1024

local lrucache -- resty.lrucache, loaded by the first new()

local function count_of(v)
    return type(v) == "number" and v >= 0 and v < huge
end

-- opts: nil or { maxBytes?, maxEntries? } -> cache, or nil, message.
function _M.new(opts)
    if opts == nil then opts = {} end
    if type(opts) ~= "table" then return nil, "cache: expected a boolean or { maxBytes?, maxEntries? }" end
    local max_bytes, max_entries = opts.maxBytes, opts.maxEntries
    if max_bytes == nil then max_bytes = MAX_BYTES end
    if max_entries == nil then max_entries = MAX_ENTRIES end
    if type(max_bytes) ~= "number" or max_bytes < 0 or max_bytes ~= max_bytes then
        return nil, "cache.maxBytes: expected a number of bytes"
    end
    -- finite: lrucache allocates one queue node per entry up front
    if not count_of(max_entries) then
        return nil, "cache.maxEntries: expected a number of entries"
    end
    max_entries = floor(max_entries)
    if not lrucache then
        local ok, lib = pcall(require, "resty.lrucache")
        if not ok then
            return nil, "cache: resty.lrucache is not available (LuaJIT and lua-resty-lrucache): "
                .. (match(tostring(lib), "^[^\n]*"))
        end
        lrucache = lib
    end
    local ok, lru, err = pcall(lrucache.new, max_entries > 0 and max_entries or 1)
    if not ok or not lru then return nil, "cache: " .. tostring(ok and err or lru) end
    return setmetatable({
        lru = lru,
        max_bytes = max_bytes,
        max_entries = max_entries,
        sizes = {},    -- key -> #key + #body, for live entries and ones lrucache evicted
        n = 0,         -- keys in sizes
        bytes = 0,     -- the sum of sizes
        version = nil, -- the data version every entry was read at
    }, mt)
end

-- Drops every entry.
function _M:flush()
    self.lru:flush_all()
    self.sizes, self.n, self.bytes = {}, 0, 0
end

-- store (anything with dataVersion()), role, request URI -> key, version (this request's),
-- or nil when not caching. Moves the cache on to a new version.
function _M:key(store, role, uri)
    local v = store:dataVersion()
    if not v then return nil end
    if self.version ~= v then
        self:flush()
        self.version = v
    end
    return role .. " " .. uri, v
end

-- key -> body, ETag (nil when the response had none), or nil. An entry with an ETag is
-- kept as { body, etag }, one without as the body itself.
function _M:get(key)
    local v = self.lru:get(key)
    if type(v) == "table" then return v[1], v[2] end
    return v
end

-- Keeps the sizes of live entries only; returns the live keys, most recently used first.
local function reconcile(self)
    local keys = self.lru:get_keys()
    local old, sizes, bytes = self.sizes, {}, 0
    for i = 1, #keys do
        local k = keys[i]
        local s = old[k]
        sizes[k] = s
        bytes = bytes + s
    end
    self.sizes, self.n, self.bytes = sizes, #keys, bytes
    return keys
end

-- Files body (read at `version`, from key()) unless the data moved on since, or it is
-- larger than maxBytes. Returns true when filed.
function _M:set(store, key, body, version, etag)
    if version == nil or self.version ~= version then return false end
    if store:dataVersion() ~= version then return false end
    local size = #key + #body + (etag and #etag or 0)
    if size > self.max_bytes or self.max_entries < 1 then return false end
    local lru = self.lru
    local old = self.sizes[key] -- two misses of one key, both answered
    if old then
        lru:delete(key)
        self.sizes[key] = nil
        self.n, self.bytes = self.n - 1, self.bytes - old
    end
    -- also reconcile after as many evictions as entries, so sizes stays small
    if self.bytes + size > self.max_bytes or self.n >= 2 * self.max_entries then
        local keys = reconcile(self)
        if self.bytes + size > self.max_bytes then
            -- least recently used first, down to 7/8 of the bound: finding them takes a
            -- walk over every key, so one walk frees room for a batch of entries
            local low = self.max_bytes - self.max_bytes / 8
            local sizes, i = self.sizes, #keys
            while i >= 1 and self.bytes + size > low do -- then bytes + size <= max_bytes
                local k = keys[i]
                i = i - 1
                lru:delete(k)
                self.n, self.bytes = self.n - 1, self.bytes - sizes[k]
                sizes[k] = nil
            end
        end
    end
    lru:set(key, etag and { body, etag } or body)
    self.sizes[key] = size
    self.n, self.bytes = self.n + 1, self.bytes + size
    return true
end

return _M
