-- Runs examples/member_galleries.lua as a subprocess, the way docs/api.md (Scenario) tells users to,
-- on the VM that runs this suite (lua5.4 or luajit) with this suite's module paths.
local cjson = require "cjson"

local is_luajit = type(jit) == "table"
local LUA = is_luajit and "luajit" or "lua5.4"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- stdout+stderr and the exit status (popen's close() gives no status on LuaJIT)
local function run(args)
  local cmd = ("LUA_PATH=%s LUA_CPATH=%s %s examples/member_galleries.lua %s 2>&1; echo \"exit=$?\"")
    :format(quote(package.path), quote(package.cpath), LUA, args or "")
  local f = assert(io.popen(cmd))
  local out = f:read("*a")
  f:close()
  local status = tonumber(out:match("exit=(%d+)%s*$"))
  return out:gsub("exit=%d+%s*$", ""), status
end

local function json_line(out, member)
  local json = out:match("\njson " .. member .. ": ([^\n]*)")
  assert(json, "no json line for " .. member .. " in:\n" .. out)
  return json, cjson.decode(json)
end

local function tmpdb()
  local p = os.tmpname()
  os.remove(p)
  return p .. ".db"
end

local function rmdb(p)
  for _, s in ipairs { "", "-wal", "-shm", "-journal" } do os.remove(p .. s) end
end

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end

describe("examples/member_galleries.lua", function()
  local out, status

  setup(function()
    out, status = run()
  end)

  it("exits 0 and says OK", function()
    assert.equal(0, status, out)
    assert.matches("member_galleries: OK\n?$", out)
  end)

  it("shows that the visitor store cannot write without elevation", function()
    assert.matches("visitor write without elevation: PERMISSION_DENIED", out, 1, true)
  end)

  it("seeds a template and one cloned gallery per member", function()
    assert.matches("admin: template %x+%-[%x-]+ %(2 items%)", out)
    assert.matches("admin: member alice %-> gallery [%x-]+ %(2 cloned %+ 3 own items%)", out)
    assert.matches("admin: member bob %-> gallery [%x-]+ %(2 cloned %+ 2 own items%)", out)
  end)

  it("prints what was skipped and why", function()
    assert.matches("page: member alice sees 3 items, 2 skipped", out, 1, true)
    assert.matches("\n  skipped [%x-]+: text item\n  skipped [%x-]+: link has text\n", out)
    assert.matches("page: member bob sees 3 items, 1 skipped", out, 1, true)
  end)

  it("returns page-ready $w.Gallery JSON for each member", function()
    local raw, alice = json_line(out, "alice")
    assert.equal(3, #alice)
    assert.same({ "Welcome", "A View", "Bunny" }, { alice[1].title, alice[2].title, alice[3].title })
    assert.same({ "image", "image", "video" }, { alice[1].type, alice[2].type, alice[3].type })
    assert.equal("https://www.wix.com", alice[2].link)
    assert.matches("^wix:image://v1/8b7eef_", alice[3].thumbnail)
    assert.matches("^[%x-]+$", alice[1].slug)
    assert.matches('"src":"wix:image://v1/', raw, 1, true)
    local _, bob = json_line(out, "bob")
    assert.equal(3, #bob)
    assert.equal("https://vimeo.com/322240916", bob[2].src)
    assert.is_nil(bob[2].thumbnail)
  end)

  it("reports a member without a gallery as NOT_FOUND", function()
    assert.matches("page: member carol: no gallery for member carol (NOT_FOUND)", out, 1, true)
  end)

  it("keeps a database given on the command line, and a re-run adds nothing", function()
    local db = tmpdb()
    finally(function() rmdb(db) end)
    local out1, st1 = run(quote(db))
    assert.equal(0, st1, out1)
    assert.is_true(exists(db))
    local out2, st2 = run(quote(db))
    assert.equal(0, st2, out2)
    assert.matches("admin: member alice already has gallery", out2, 1, true)
    local _, first = json_line(out1, "alice")
    local _, again = json_line(out2, "alice")
    assert.same(first, again) -- same gallery, same item ids, nothing added
  end)

  it("exits non-zero when it cannot work", function()
    local o, st = run(quote("/nonexistent-dir-" .. os.time() .. "/x.db"))
    assert.is_not.equal(0, st)
    assert.matches("FAILED", o, 1, true)
  end)
end)
