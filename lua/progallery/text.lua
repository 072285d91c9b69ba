-- Text for a value that may be a caller's object, to name it in a message: a string,
-- number, boolean or nil as it is, anything else by its type only (tostring or ..
-- would call the caller's __tostring / __concat, which may raise).
local type, tostring = type, tostring

local _M = {}

function _M.of(v)
    local t = type(v)
    if t == "string" then return v end
    if t == "number" or t == "boolean" or t == "nil" then return tostring(v) end
    return "(a " .. t .. " value)"
end

return _M
