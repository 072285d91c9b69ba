-- Schema 1 -> 2 (API.md section 12): a store that progallery 0.1 wrote (media as Velo
-- strings; spec/fixtures/schema1.sql, made by spec/fixtures/make_schema1.lua with that
-- code) opens, upgrades once, and answers what 0.1 answered: the same Velo strings, and
-- a REST face that keeps every field 0.1 gave.
local progallery = require "progallery"
local S = require "spec.support"
local EXPECTED = require "spec.fixtures.schema1_expected"

local function load_fixture()
  local dir = S.tmpdir and S.tmpdir() or os.tmpname() .. ".d"
  os.execute("mkdir -p " .. S.shell_quote(dir))
  local db = dir .. "/v1.db"
  local ok = os.execute(("sqlite3 %s < spec/fixtures/schema1.sql"):format(S.shell_quote(db)))
  assert(ok == true or ok == 0, "sqlite3 could not load the fixture")
  return db
end

local function user_version(db)
  local p = io.popen("sqlite3 " .. S.shell_quote(db) .. " 'PRAGMA user_version'")
  local v = p:read("*l")
  p:close()
  return tonumber(v)
end

-- every key of want is in got with the same value (got may say more)
local function covers(got, want, path)
  if type(want) ~= "table" then
    assert.are.equal(want, got, path)
    return
  end
  assert.equal("table", type(got), path)
  for k, v in pairs(want) do covers(got[k], v, path .. "." .. tostring(k)) end
end

-- What 0.1 gave, as this version answers it: the same, plus revision "1" on every
-- gallery and item (schema 4: a migrated row starts at 1).
local function with_revisions(velo)
  local out = S.deepcopy(velo)
  for _, g in ipairs(out) do
    g.revision = "1"
    for _, it in ipairs(g.items) do it.revision = "1" end
  end
  return out
end

local function galleries(store)
  local out = {}
  for i, g in ipairs(assert(store:listGalleries()).galleries) do out[i] = assert(store:getGallery(g._id)) end
  return out
end

describe("migration from schema 1 #sqlite", function()
  it("the fixture is a schema 1 store", function()
    assert.equal(1, user_version(load_fixture()))
  end)

  it("a read-only open of a schema 1 file is refused, and changes nothing", function()
    local db = load_fixture()
    local s, err, code = progallery.open { path = db, readonly = true }
    assert.is_nil(s)
    assert.equal("FAILED_PRECONDITION", code)
    assert.matches("read%-write once", err)
    assert.equal(1, user_version(db))
  end)

  it("upgrades on open; the Velo answers are what 0.1 gave, string for string", function()
    local db = load_fixture()
    local s = assert(progallery.open { path = db, caller = "admin" })
    assert.equal(S.SQLITE_SCHEMA, user_version(db))
    assert.same(with_revisions(EXPECTED.velo), galleries(s))
    s:close()
    -- and again after reopening (the upgrade ran once)
    s = assert(progallery.open { path = db, caller = "admin" })
    assert.same(with_revisions(EXPECTED.velo), galleries(s))
    s:close()
  end)

  it("the stored documents hold media as REST objects now", function()
    local db = load_fixture()
    assert(progallery.open { path = db }):close()
    local p = io.popen("sqlite3 " .. S.shell_quote(db) .. " 'SELECT doc FROM items'")
    local n, strings = 0, 0
    for line in p:lines() do
      n = n + 1
      if line:find('"imageInfo":"', 1, true) or line:find('"videoInfo":"', 1, true) then strings = strings + 1 end
    end
    p:close()
    assert.equal(11, n)
    assert.equal(0, strings)
  end)

  it("the REST face keeps every field 0.1 gave (and adds the stored url)", function()
    local db = load_fixture()
    local s = assert(progallery.open { path = db, caller = "admin" })
    local cjson = require "cjson"
    for i, g in ipairs(EXPECTED.rest) do
      local text = assert(s:rest("getGallery", g.id))
      covers(cjson.decode(text).gallery, g, "gallery[" .. i .. "]")
    end
    -- and the watermark, which 0.1 lost over REST, is in the object
    local text = assert(s:rest("getGallery", EXPECTED.rest[1].id))
    local items = cjson.decode(text).gallery.items
    local marked
    for _, it in ipairs(items) do if it.title == "watermark" then marked = it end end
    assert.equal("tok123", marked.image.imageInfo.watermark)
    s:close()
  end)

  it("strings stored before today's stricter rules upgrade as they were, nothing lost", function()
    -- a poster id with a space, one with "%", a 2,000-byte filename: a caller is refused
    -- them now (spec/fixtures/media_uris.lua), but a store that holds them opens and
    -- answers them string for string
    local db = load_fixture()
    local old = {
      "wix:video://v1/v/clip.mp4#posterUri=a+b&posterWidth=3&posterHeight=4",
      "wix:video://v1/v#posterUri=%zz",
      "wix:image://v1/id/" .. ("n"):rep(2000) .. "#originWidth=1&originHeight=2",
    }
    local sql = {}
    for i, v in ipairs(old) do
      local kind = v:find("^wix:image") and "image" or "video"
      sql[#sql + 1] = ("UPDATE items SET doc = '{\"title\":\"old %d\",\"%s\":{\"%sInfo\":\"%s\"}}', type = '%s'"
        .. " WHERE iid = %d;"):format(i, kind, kind, v, kind:upper(), i)
    end
    local f = assert(io.popen("sqlite3 " .. S.shell_quote(db), "w"))
    f:write(table.concat(sql, "\n"))
    f:close()
    local s = assert(progallery.open { path = db, caller = "admin" })
    local seen = {}
    for _, g in ipairs(galleries(s)) do
      for _, it in ipairs(g.items) do
        local n = it.title and tonumber(it.title:match("^old (%d)$"))
        if n then seen[n] = (it.image and it.image.imageInfo) or (it.video and it.video.videoInfo) end
      end
    end
    for i, v in ipairs(old) do assert.equal(v, seen[i], "old " .. i) end
    s:close()
  end)
end)
