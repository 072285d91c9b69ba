-- Identities and elevation (spec section 5). The mechanism lives in the C
-- module so that no Lua code can reach the per-coroutine elevation state;
-- this module only re-exports it under the Velo-like name (wix-auth).
local progallery = require "progallery"

local _M = { _VERSION = progallery._VERSION }

-- elevate(fn) -> a function that calls fn with writes allowed, for that call
-- and in the calling coroutine only (also across yields, nesting and errors).
_M.elevate = progallery.elevate

-- The identities a store can run as: open{caller = ...} or store:as(...).
_M.ADMIN, _M.MEMBER, _M.VISITOR = "admin", "member", "visitor"

return _M
