-- What gets installed: the rockspec's module list and `make install` cover every Lua
-- file under lua/ (scripts/test.sh then builds both rocks and loads each listed module
-- from them, spec/rock_check.lua).
local function sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1; echo \"__exit=$?\""))
  local out = f:read("*a")
  f:close()
  return out:gsub("__exit=%d+%s*$", ""), tonumber(out:match("__exit=(%d+)%s*$"))
end

local function lua_files()
  local out = sh("cd lua && find . -name '*.lua' | sort")
  local files = {}
  for p in out:gmatch("%./([^\n]+)") do files[#files + 1] = p end
  return files
end

local function module_of(file) -- "progallery/http/json.lua" -> "progallery.http.json"
  return (file:gsub("%.lua$", ""):gsub("/", "."))
end

local function rockspec()
  local out = sh("ls progallery-*.rockspec")
  local name = out:match("([^\n]+)")
  local f = assert(io.open(name, "rb"))
  local text = f:read("*a")
  f:close()
  local env, chunk = {}, nil
  if setfenv then
    chunk = assert(loadstring(text, "=" .. name))
    setfenv(chunk, env)
  else
    chunk = assert(load(text, "=" .. name, "t", env))
  end
  chunk()
  return env
end

describe("packaging", function()
  it("finds the Lua files (the listing itself works)", function()
    local files = lua_files()
    assert.is_true(#files >= 12, #files .. " files")
    local set = {}
    for _, f in ipairs(files) do set[f] = true end
    assert.is_true(set["progallery/http.lua"] and set["progallery/http/cache.lua"])
  end)

  it("the rockspec builds and installs through the Makefile (its one list of files)", function()
    local b = rockspec().build
    assert.equal("make", b.type)
    assert.equal("rock", b.build_target)
    assert.equal("$(LIBDIR)", b.install_variables.LIBDIR)
    assert.equal("$(LUADIR)", b.install_variables.LUADIR)
    assert.is_nil(b.modules)
  end)

  it("make install puts every Lua file and the module under LUADIR and LIBDIR", function()
    local dest = os.tmpname()
    os.remove(dest)
    local out, st = sh(("make -s install DESTDIR=%s LUADIR=/share LIBDIR=/lib"):format(dest))
    assert.equal(0, st, out)
    local ok, missing = true, {}
    for _, f in ipairs(lua_files()) do
      local h = io.open(dest .. "/share/" .. f, "rb")
      if h then h:close() else ok = false; missing[#missing + 1] = f end
    end
    local so = io.open(dest .. "/lib/progallery.so", "rb")
    if so then so:close() end
    sh("rm -rf '" .. dest .. "'")
    assert.is_true(ok, "not installed: " .. table.concat(missing, ", "))
    assert.is_truthy(so, "progallery.so not installed")
  end)
end)
