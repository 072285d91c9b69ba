-- One grammar of media URIs (issue #10, finding 2): every vector of
-- spec/fixtures/media_uris.lua goes through progallery.uri and through the store's
-- validation (an item created with it), and both must say what the vector says.
local uri = require "progallery.uri"
local rest = require "progallery.rest"
local VECTORS = require "spec.fixtures.media_uris"
local cjson = require "cjson"

local IMAGE_FIELDS = { "id", "filename", "width", "height" }
local VIDEO_FIELDS = { "id", "filename", "posterUri", "posterWidth", "posterHeight" }

-- printable form of a vector's input for messages (long ones shortened)
local function show(s)
  local t = #s > 80 and (s:sub(1, 40) .. "...(" .. #s .. " bytes)..." .. s:sub(-30)) or s
  return (t:gsub("[%z\1-\31\127-\255]", function(c) return ("\\%d"):format(c:byte()) end))
end

-- what progallery.uri says: nil, message or the parts in the vectors' terms
local function uri_view(kind, s)
  local p, err = (kind == "image" and uri.parseImage or uri.parseVideo)(s)
  if not p then return nil, err end
  if p.scheme == "http" then return { url = p.url }, nil, p end
  local out = {}
  for _, f in ipairs(kind == "image" and IMAGE_FIELDS or VIDEO_FIELDS) do out[f] = p[f] end
  return out, nil, p
end

local function item_with(kind, s)
  if kind == "image" then return { image = { imageInfo = s } } end
  return { video = { videoInfo = s } }
end

describe("media URI grammar: progallery.uri and the store agree on every vector", function()
  local store, gid
  setup(function()
    store = require("spec.support").admin()
    gid = assert(store:createGallery { gallery = { name = "uris" } })._id
  end)
  teardown(function() store:close() end)

  it("has vectors of both kinds, accepted and refused", function()
    local n = { image = { [true] = 0, [false] = 0 }, video = { [true] = 0, [false] = 0 } }
    for _, v in ipairs(VECTORS) do n[v[1]][v[3]] = n[v[1]][v[3]] + 1 end
    for _, kind in ipairs { "image", "video" } do
      assert.is_true(n[kind][true] >= 10 and n[kind][false] >= 10, kind)
    end
  end)

  -- REST objects: what uri.imageFromRest / videoFromRest build, the store must take
  local BUILDS = {
    { "image", { id = "a.jpg", width = 999999999, height = 0, filename = "x y.jpg" }, true },
    { "image", { id = "a.jpg", width = 1, height = 1, altText = "été" }, true },
    { "image", { url = "https://x/y.png" }, true },
    { "image", { id = "a.jpg", width = 2147483647, height = 1 }, false },
    { "image", { id = "a b", width = 1, height = 1 }, false },
    { "image", { id = "a\tb", width = 1, height = 1 }, false },
    { "image", { id = "a.jpg", width = 1, height = 1, filename = "nul\0" }, false },
    { "image", { url = "HTTPS://x/y.png" }, false },
    { "image", { url = "ftp://x/y.png" }, false },
    { "video", { id = "v", filename = "f.mp4", posters = { { id = "p.jpg", width = 1, height = 2 } } }, true },
    { "video", { id = "v", posters = { { url = "https://s/m/p.jpg?x=1", width = 1, height = 2 } } }, true },
    { "video", { id = "v", posters = { { id = "p.jpg", width = 1234567890, height = 2 } } }, false },
    { "video", { id = "v", posters = { { id = "p q", width = 1, height = 2 } } }, false },
    { "video", { id = "v", filename = "nul\0" }, false },
    { "video", { url = "https://vimeo.com/1" }, true },
    { "video", { url = "rtmp://x" }, false },
  }
  for i, b in ipairs(BUILDS) do
    local kind, obj, ok = b[1], b[2], b[3]
    it(("builder #%d (%s) %s"):format(i, kind, ok and "builds a string both take" or "refuses"), function()
      local s, err = (kind == "image" and uri.imageFromRest or uri.videoFromRest)(obj)
      if not ok then
        assert.is_nil(s, "built " .. tostring(s))
        assert.equal("string", type(err))
        return
      end
      assert.equal("string", type(s), err)
      assert.is_not_nil((uri_view(kind, s)))
      local r, serr = store:createGalleryItem(gid, item_with(kind, s))
      assert.is_not_nil(r, serr)
    end)
  end

  for i, v in ipairs(VECTORS) do
    local kind, s, ok, parsed = v[1], v[2], v[3], v[4]
    local label = ("#%d %s %s %s"):format(i, kind, ok and "accepts" or "refuses", show(s))

    it("progallery.uri " .. label, function()
      local got, err, p = uri_view(kind, s)
      if not ok then
        assert.is_nil(got, "accepted")
        assert.equal("string", type(err))
        return
      end
      assert.is_not_nil(got, err)
      assert.same(parsed, got)
      if not parsed.url then
        -- the wix: form it stands for (a legacy string gets "wix:")
        assert.equal(v.legacy and ("wix:" .. s) or s, p.uri)
      end
    end)

    it("the store " .. label, function()
      local stored = v.legacy and ("wix:" .. s) or s
      local r, err, code = store:createGalleryItem(gid, item_with(kind, stored))
      if not ok then
        assert.is_nil(r, "the store accepted it")
        assert.is_true(code == "INVALID_ARGUMENT" or code == "RESOURCE_EXHAUSTED", code)
        assert.matches("^item%." .. kind .. "%." .. kind .. "Info", err)
        -- the REST codec (src/rest.c, progallery.rest) refuses it with the same code
        local t, terr, tcode = rest.itemToRest(item_with(kind, stored))
        assert.is_nil(t, "progallery.rest accepted it")
        assert.equal(code, tcode, terr)
      else
        assert.is_not_nil(r, err)
        assert.equal(stored, r[kind][kind .. "Info"])
        -- what the store holds, its REST face can serve, and progallery.uri reads back
        local back, rerr = rest.itemToRest(r)
        assert.is_not_nil(back, rerr)
        assert.same(parsed, (uri_view(kind, stored)))
        -- a REST client that sends back the media object it was given is not refused, and
        -- gets the same string (the fixed point reliability/fuzz/fuzz_model.c checks: once
        -- "#posterUri=" with no value was stored as a poster with an empty id)
        local text = assert(store:rest("getGalleryItem", gid, r._id))
        local media = cjson.decode(text).item[kind]
        local again = assert(store:rest("createGalleryItem", gid, nil, nil, cjson.encode { item = { [kind] = media } }))
        local copy = cjson.decode(again).item
        local velo = assert(store:getGalleryItem { galleryId = gid, itemId = copy.id })
        assert.equal(stored, velo[kind][kind .. "Info"])
      end
      if v.legacy then -- a legacy string gets "wix:", as the SDK parses it (API.md section 12)
        local r2, err2, code2 = store:createGalleryItem(gid, item_with(kind, s))
        if ok then
          assert.is_not_nil(r2, err2)
          assert.equal(stored, r2[kind][kind .. "Info"])
        else
          assert.is_nil(r2)
          assert.is_true(code2 == "INVALID_ARGUMENT" or code2 == "RESOURCE_EXHAUSTED", code2)
        end
      end
    end)
  end
end)

-- A caller's string is checked part by part with the checks of the REST fields the parts
-- become (src/media.c, part_refused and check_leaf), so that a string and the REST object
-- it stands for are refused alike, even where a part breaks two rules.
describe("media URI grammar: a string's part and its REST field are refused with one code", function()
  local store, gid
  setup(function()
    store = require("spec.support").admin()
    gid = assert(store:createGallery { gallery = { name = "parts" } })._id
  end)
  teardown(function() store:close() end)

  local LONG, D = ("n"):rep(1025), "#originWidth=1&originHeight=1"
  local CASES = {
    { "image id too long", "image", "wix:image://v1/" .. LONG .. "/n.jpg" .. D,
      { id = LONG, width = 1, height = 1, filename = "n.jpg" }, "RESOURCE_EXHAUSTED" },
    { "image filename too long", "image", "wix:image://v1/id/" .. LONG .. D,
      { id = "id", width = 1, height = 1, filename = LONG }, "RESOURCE_EXHAUSTED" },
    { "watermark too long", "image", "wix:image://v1/id/n.jpg" .. D .. "&watermark=" .. LONG,
      { id = "id", width = 1, height = 1, filename = "n.jpg", watermark = LONG }, "RESOURCE_EXHAUSTED" },
    { "video filename too long", "video", "wix:video://v1/v/" .. LONG,
      { id = "v", filename = LONG }, "RESOURCE_EXHAUSTED" },
    { "poster id too long", "video", "wix:video://v1/v#posterUri=" .. LONG,
      { id = "v", posters = { { id = LONG } } }, "RESOURCE_EXHAUSTED" },
    -- two rules broken: the length is checked first on both sides
    { "poster id too long, with a &", "video", "wix:video://v1/v#posterUri=%26" .. LONG,
      { id = "v", posters = { { id = "&" .. LONG } } }, "RESOURCE_EXHAUSTED" },
    { "poster id with a +", "video", "wix:video://v1/v#posterUri=%2Bp.jpg",
      { id = "v", posters = { { id = "+p.jpg" } } }, "INVALID_ARGUMENT" },
  }
  for _, c in ipairs(CASES) do
    local label, kind, s, obj, code = c[1], c[2], c[3], c[4], c[5]
    it(label, function()
      local field = kind .. "Info"
      local r, err, got = store:createGalleryItem(gid, { [kind] = { [field] = s } })
      assert.is_nil(r, "the string was accepted")
      assert.equal(code, got, err)
      local body = cjson.encode { item = { [kind] = { [field] = obj } } }
      local text, msg, rest_code = store:rest("createGalleryItem", gid, nil, nil, body)
      assert.is_nil(text, "the REST object was accepted")
      assert.equal(code, rest_code, msg)
      -- and progallery.uri refuses the string too
      assert.is_nil((kind == "image" and uri.parseImage or uri.parseVideo)(s))
    end)
  end
end)
