-- Loads every Lua module a rockspec lists, from one installed tree, on the VM that runs
-- it (scripts/test.sh, after `luarocks make` of each rock). Exits non-zero when a module
-- is missing from the tree or fails to load.
--   LUA_PATH=<tree>/share/lua/<v>/?.lua;; lua spec/rock_check.lua <tree>/share/lua/<v> <rockspec>
local dir, rockspec = arg[1], arg[2]
assert(dir and rockspec, "usage: rock_check.lua <lua dir of the tree> <rockspec>")
local f = assert(io.open(rockspec, "rb"))
local text = f:read("*a")
f:close()
local env, chunk = {}, nil
if setfenv then -- Lua 5.1 / LuaJIT
  chunk = assert(loadstring(text, "=" .. rockspec))
  setfenv(chunk, env)
else
  chunk = assert(load(text, "=" .. rockspec, "t", env))
end
chunk()
local names = {}
for name, src in pairs(env.build.modules) do
  if type(src) == "string" and src:match("%.lua$") then names[#names + 1] = name end
end
table.sort(names)
assert(#names > 0, "no Lua modules in " .. rockspec)
for _, name in ipairs(names) do
  local path = package.searchpath(name, package.path)
  assert(path and path:sub(1, #dir + 1) == dir .. "/",
    name .. ": not installed under " .. dir .. " (found: " .. tostring(path) .. ")")
  require(name)
end
print(("rock_check: %d Lua modules load from %s"):format(#names, dir))
