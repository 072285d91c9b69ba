-- Loads every Lua module of the checkout (lua/), from one installed tree, on the VM that runs
-- it (scripts/test.sh, after `luarocks make` of each rock). Exits non-zero when a module
-- is missing from the tree or fails to load.
--   LUA_PATH=<tree>/share/lua/<v>/?.lua;; lua spec/rock_check.lua <tree>/share/lua/<v> <rockspec>
local dir, rockspec = arg[1], arg[2]
assert(dir and rockspec, "usage: rock_check.lua <lua dir of the tree> <rockspec>")
-- the modules: every Lua file under lua/ (the rockspec builds through the Makefile, whose
-- `make install` is the one list of what is installed)
local names = {}
local p = assert(io.popen("cd lua && find . -name '*.lua'"))
for file in p:lines() do
  names[#names + 1] = file:gsub("^%./", ""):gsub("%.lua$", ""):gsub("/", ".")
end
p:close()
table.sort(names)
assert(#names > 0, "no Lua modules under lua/ (" .. rockspec .. ")")
for _, name in ipairs(names) do
  local path = package.searchpath(name, package.path)
  assert(path and path:sub(1, #dir + 1) == dir .. "/",
    name .. ": not installed under " .. dir .. " (found: " .. tostring(path) .. ")")
  require(name)
end
print(("rock_check: %d Lua modules load from %s"):format(#names, dir))
