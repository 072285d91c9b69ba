-- progallery.http.auth: who the caller is, from the Authorization header (API.md section 9).
--
--   local a = auth.new(adminKey)     -- or nil, message; nil or "" = no admin key
--   a:role(header)                   -- "admin", "visitor", or nil (a wrong key: 401)
--
-- No header, or an empty one (what the SDK sends without an auth strategy), is a visitor;
-- the admin key is the admin. The comparison hashes both sides (ngx.sha1_bin) and compares
-- the digests without early exit, so neither the key's content nor its length leaks
-- through timing.

local type, pcall, require, setmetatable = type, pcall, require, setmetatable
local byte, sub, find = string.byte, string.sub, string.find

local _M = {}
local mt = { __index = _M }

-- admin_key -> auth, or nil, message.
function _M.new(admin_key)
    if admin_key ~= nil and type(admin_key) ~= "string" then
        return nil, "adminKey: expected a string"
    end
    if admin_key == "" then admin_key = nil end
    return setmetatable({ key = admin_key, digest = nil }, mt)
end

-- Constant-time comparison of fixed-size digests (the lengths never leak).
local bxor, bor
do
    local ok, bit = pcall(require, "bit")
    if ok then bxor, bor = bit.bxor, bit.bor end
end
local function digest_equal(a, b)
    if #a ~= #b then return false end
    local diff = 0
    if bxor then
        for i = 1, #a do diff = bor(diff, bxor(byte(a, i), byte(b, i))) end
    else
        for i = 1, #a do
            local x, y = byte(a, i), byte(b, i)
            diff = diff + (x - y) * (x - y)
        end
    end
    return diff == 0
end

-- s without leading and trailing white space (%s), in linear time: the pattern
-- "^%s*(.-)%s*$" is quadratic in the white space inside s.
local function trim(s)
    local i = find(s, "%S")
    if not i then return "" end
    local j = #s
    local c = byte(s, j)
    while c == 32 or (c >= 9 and c <= 13) do
        j = j - 1
        c = byte(s, j)
    end
    return sub(s, i, j)
end
_M.trim = trim

-- The Authorization header's value (nil: none) -> "admin", "visitor", or nil (wrong key).
function _M:role(header)
    if header == nil then return "visitor" end
    header = trim(header)
    if header == "" then return "visitor" end
    local key = self.key
    if not key then return nil end
    local sha1_bin = ngx.sha1_bin
    local digest = self.digest
    if not digest then
        digest = sha1_bin(key)
        self.digest = digest
    end
    if digest_equal(sha1_bin(header), digest) then return "admin" end
    return nil
end

return _M
