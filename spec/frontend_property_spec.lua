-- Property test of the frontend converter against the store (issue #10, finding 2).
--
-- Random $w.Gallery items (images and videos; src strings plausible and odd: upper-case
-- schemes, legacy and v2 forms, queries, fragments, bad escapes, unicode, strings at
-- the 4096-byte bound; titles, descriptions and links of every size up to and past the
-- store's bounds, now and then not UTF-8) go through frontend.fromGalleryItems, then
-- createGalleryItems on a fresh store:
--   * fromGalleryItems gives exactly the item of the section 8 mapping, or refuses;
--   * what it gives, the store takes (per item, and as batches);
--   * what it refuses, the store refuses too (the same mapping, sent as it is);
--   * what the store took goes back through toGalleryItems and fromGalleryItems
--     unchanged (nothing skipped, same fields, the store's ids as slugs).
-- Deterministic per seed (its own generator, the same on Lua 5.4 and LuaJIT).
-- PROGALLERY_PROPERTY_SEEDS="1,2,3" and PROGALLERY_PROPERTY_ITEMS=1000 (per seed) override.
local frontend = require "progallery.frontend"
local uri = require "progallery.uri"

local SEEDS = {}
for s in (os.getenv("PROGALLERY_PROPERTY_SEEDS") or "1,2,3"):gmatch("%d+") do SEEDS[#SEEDS + 1] = tonumber(s) end
local ITEMS = tonumber(os.getenv("PROGALLERY_PROPERTY_ITEMS") or "") or 1000
local BATCH = 40

-- ---- a seeded generator (Park-Miller; exact in doubles and in integers) -------------

local function rng(seed)
  local state = seed % 2147483646 + 1
  local r = {}
  function r.float()
    state = state * 48271 % 2147483647
    return (state - 1) / 2147483646
  end
  function r.int(a, b) return a + math.floor(r.float() * (b - a + 1)) end
  function r.chance(p) return r.float() < p end
  function r.pick(list) return list[r.int(1, #list)] end
  return r
end

local ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
local PIECES = { "a", "Z", "0", " ", "-", ".", "é", "€", "日本", "𝄞", "ü", "/", "?", "#", "&", "=", "%", "+", "'", "\"", "<p>" }
local BAD = { "\255", "\192\128", "\237\160\128", "\0", "\t", "\n", "\127", "\226\130" }

-- n random characters of ASCII: a slice of a pool of them (made once per generator, so
-- a long string costs one random number, not one per byte)
local POOL_SIZE = 20000
local function ascii(r, n)
  if not r.pool then
    local t = {}
    for i = 1, POOL_SIZE do
      local k = r.int(1, #ASCII)
      t[i] = ASCII:sub(k, k)
    end
    r.pool = table.concat(t)
  end
  local at = r.int(1, POOL_SIZE - n + 1)
  return r.pool:sub(at, at + n - 1)
end

-- text of about n bytes; cut to exactly n bytes now and then (possibly inside a character)
local function text(r, n)
  local t, len = {}, 0
  while len < n do
    local p = r.chance(0.7) and ascii(r, r.int(1, 12)) or r.pick(PIECES)
    t[#t + 1] = p
    len = len + #p
  end
  local s = table.concat(t)
  if r.chance(0.5) then s = s:sub(1, n) end
  if r.chance(0.02) then
    local at = r.int(0, #s)
    s = s:sub(1, at) .. r.pick(BAD) .. s:sub(at + 1)
  end
  return s
end

-- a string field with its byte bound: absent, empty, short, or near the bound
local function field(r, bound, absent)
  if r.chance(absent) then return nil end
  local c = r.float()
  if c < 0.05 then return "" end
  if c < 0.89 then return text(r, r.int(1, 60)) end
  if c < 0.97 then return text(r, r.int(bound - 4, bound + 4)) end
  return r.pick { 5, true, {}, false } -- not a string
end

local function size(r)
  local c = r.float()
  if c < 0.80 then return tostring(r.int(0, 5000)) end
  return r.pick { "", "0", "000000001", "999999999", "1234567890", "1e3", "+1", "-1", "%31", "1.5", "0x10", " 1" }
end

local IDS = { "38939f9568z222d6avc6285c9ac1e9129.jpg", "9e6ea4_650d8cd45f7545c4b39178feb0ee8c70~mv2.jpg",
              "8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c", "80c05f_e2c524db1f264178a8558c92dbf76fb0" }

local function media_id(r)
  local c = r.float()
  if c < 0.5 then return r.pick(IDS) end
  if c < 0.93 then return ascii(r, r.int(1, 40)) end
  return r.pick { "", "a b", "%zz", "été", "a?b", "a\tb" }
end

local function filename(r)
  local c = r.float()
  if c < 0.15 then return nil end
  if c < 0.75 then return (uri.encodeURIComponent(text(r, r.int(1, 30)))) end -- nil for bad UTF-8
  if c < 0.85 then return ascii(r, r.int(1, 20)) .. ".jpg" end
  return r.pick { "", "été.jpg", "a b.jpg", "%zz", "%FF", "%E2%82", "%00", "a/b", "abc%", "a%2Fb", "x+y" }
end

local function query(r)
  if r.chance(0.85) then return "" end
  return r.pick { "?v=1", "?a=b/c", "?", "?x=%zz", "?q=été" }
end

local function image_fragment(r)
  local c = r.float()
  if c < 0.05 then return "" end
  if c < 0.08 then return "#" end
  local w, h = "originWidth=" .. size(r), "originHeight=" .. size(r)
  if c < 0.15 then return "#" .. w end
  if c < 0.20 then return "#" .. h end
  local parts = r.chance(0.5) and { w, h } or { h, w }
  if r.chance(0.2) then parts[#parts + 1] = "watermark=" .. ascii(r, 8) end
  if r.chance(0.1) then parts[#parts + 1] = "originWidth=" .. size(r) end
  if r.chance(0.05) then table.insert(parts, 1, "origin%57idth=x") end
  return "#" .. table.concat(parts, "&")
end

local function video_fragment(r)
  local c = r.float()
  if c < 0.25 then return "" end
  local parts = {}
  if r.chance(0.8) then
    parts[#parts + 1] = "posterUri=" .. (r.chance(0.8) and (media_id(r) .. ".jpg")
      or r.pick { "", "a+b", "%C3%A9", "%FF", "%zz", "%00" })
  end
  if r.chance(0.8) then parts[#parts + 1] = "posterWidth=" .. size(r) end
  if r.chance(0.8) then parts[#parts + 1] = "posterHeight=" .. size(r) end
  return "#" .. table.concat(parts, "&")
end

local function wix_src(r, kind)
  local c = r.float()
  local prefix
  if c < 0.75 then prefix = "wix:" .. kind .. "://v1/"
  elseif c < 0.90 then prefix = kind .. "://v1/" -- legacy
  else
    prefix = r.pick { "WIX:" .. kind .. "://v1/", "wix:" .. kind:upper() .. "://v1/", "wix:" .. kind .. "://V1/",
                      "wix:" .. kind .. "://v2/", "wix:" .. kind .. ":/v1/" }
  end
  local name = filename(r)
  local s = prefix .. media_id(r) .. (name and ("/" .. name) or "") .. query(r)
  s = s .. (kind == "image" and image_fragment(r) or video_fragment(r))
  if r.chance(0.02) then s = s .. r.pick { " ", "\t", "\255" } end
  if r.chance(0.03) then -- a long filename, to the bound
    local pad = 4096 - #s + r.int(-3, 3)
    if pad > 0 then s = prefix .. "id/" .. ("n"):rep(pad) .. "#originWidth=1&originHeight=1" end
  end
  return s
end

local function http_src(r)
  local scheme = r.float() < 0.9 and r.pick { "https://", "http://" }
    or r.pick { "HTTPS://", "Http://", "ftp://", "https:", "//", "https:/" }
  local s = scheme .. r.pick { "example.com", "vimeo.com", "www.youtube.com", "static.wixstatic.com", "x" }
  if r.chance(0.8) then s = s .. "/" .. text(r, r.int(0, 30)):gsub("[ \t\n]", r.chance(0.9) and "%%20" or " ") end
  if r.chance(0.3) then s = s .. "?v=" .. ascii(r, 6) .. "&t=1" end
  if r.chance(0.2) then s = s .. "#t=" .. r.int(1, 99) end
  if r.chance(0.05) then s = s .. ("a"):rep(math.max(0, 4096 - #s + r.int(-3, 3))) end
  return s
end

local function gallery_item(r)
  local kind = r.chance(0.6) and "image" or "video"
  local src = r.chance(0.65) and wix_src(r, kind) or http_src(r)
  local it = { src = src }
  local c = r.float()
  if c < 0.55 then it.type = kind
  elseif c < 0.75 then it.type = r.pick { kind:upper(), kind:sub(1, 1):upper() .. kind:sub(2), "ViDeO", "iMaGe" }
  elseif c < 0.97 then it.type = nil
  else it.type = r.pick { "text", "audio", 3 } end
  it.title = field(r, 1024, 0.3)
  it.description = field(r, 16384, 0.4)
  if r.chance(0.5) then
    it.link = r.chance(0.8) and http_src(r) or field(r, 4096, 0)
  end
  if r.chance(0.5) then it.slug = r.chance(0.9) and ascii(r, 36) or text(r, 10) end
  if r.chance(0.1) then it.thumbnail = http_src(r) end
  if r.chance(0.01) then it.src = r.pick { 5, {}, "" } end
  return it
end

-- ---- the section 8 mapping, written out --------------------------------------------

-- the backend item for a $w item, or nil when no backend item stands for it (a type
-- that is neither image nor video, a src that is not a string)
local function mapped(fitem)
  local src, t = fitem.src, fitem.type
  if type(src) ~= "string" then return nil end
  local kind
  if t == nil then
    kind = (src:find("^wix:video:") or src:find("^video:")) and "video" or "image"
  elseif type(t) == "string" and (t:lower() == "image" or t:lower() == "video") then
    kind = t:lower()
  else
    return nil
  end
  if src:sub(1, #kind + 1) == kind .. ":" then src = "wix:" .. src end -- legacy form
  local item = { [kind] = { [kind .. "Info"] = src }, _id = fitem.slug, title = fitem.title,
                 description = fitem.description }
  if fitem.link ~= nil then item.link = { url = fitem.link } end
  return item
end

local function show(v)
  if type(v) ~= "string" then return tostring(v) end
  local s = #v > 70 and (v:sub(1, 40) .. "...(" .. #v .. " bytes)") or v
  return (s:gsub("[%z\1-\31\127-\255]", function(ch) return ("\\%d"):format(ch:byte()) end))
end

local function describe_item(fitem)
  local t = {}
  for _, k in ipairs { "type", "src", "title", "description", "link", "slug" } do
    if fitem[k] ~= nil then t[#t + 1] = k .. "=" .. show(fitem[k]) end
  end
  return "{ " .. table.concat(t, ", ") .. " }"
end

describe("frontend items through the store (property, issue #10 finding 2)", function()
  for _, seed in ipairs(SEEDS) do
    it(("seed %d: %d random $w items: fromGalleryItems output is always accepted, and round-trips"):format(seed, ITEMS), function()
      local store = require("spec.support").admin()
      local gid = assert(store:createGallery { gallery = { name = "property" } })._id
      local r = rng(seed)
      local accepted, refused, stored = {}, 0, 0
      local seen = {} -- accepted items by kind and form of src
      local problems = {}
      local function problem(msg)
        if #problems < 10 then problems[#problems + 1] = msg end
      end

      -- the store took `sent` (fitems through fromGalleryItems) as `got`: back again
      local function round_trip(fitems, sent, got)
        local back, skipped = frontend.toGalleryItems(got)
        if not back then return problem("toGalleryItems refused a stored gallery: " .. tostring(skipped)) end
        if #skipped > 0 or #back ~= #fitems then return problem("toGalleryItems skipped stored items") end
        for i, w in ipairs(back) do
          local s, info = sent[i], (sent[i].image or sent[i].video)
          local kind = sent[i].image and "image" or "video"
          local expect = { type = kind, src = info[kind .. "Info"], slug = got[i]._id, title = s.title,
                           description = s.description, link = s.link and s.link.url,
                           thumbnail = kind == "video" and uri.posterImage(info.videoInfo) or nil }
          local ok = true
          for _, k in ipairs { "type", "src", "slug", "title", "description", "link", "thumbnail" } do
            if w[k] ~= expect[k] then ok = false end
          end
          for k in pairs(w) do if expect[k] == nil then ok = false end end
          if not ok then problem("toGalleryItems changed " .. describe_item(fitems[i])) end
        end
        local again, err = frontend.fromGalleryItems(back)
        if not again then return problem("fromGalleryItems refused what toGalleryItems gave: " .. tostring(err)) end
        for i, b in ipairs(again) do
          local want = mapped(back[i])
          assert.same(want, b)
          local s = sent[i]
          if b._id ~= got[i]._id or b.title ~= s.title or b.description ~= s.description
            or (b.link and b.link.url) ~= (s.link and s.link.url)
            or (b.image and b.image.imageInfo) ~= (s.image and s.image.imageInfo)
            or (b.video and b.video.videoInfo) ~= (s.video and s.video.videoInfo) then
            problem("the round trip changed " .. describe_item(fitems[i]))
          end
        end
      end

      local function flush()
        if #accepted == 0 then return end
        local sent, err, code = frontend.fromGalleryItems(accepted)
        if not sent then
          problem("fromGalleryItems refused a batch of items it took one by one: " .. tostring(err) .. " " .. tostring(code))
        else
          local res, serr, scode = store:createGalleryItems(gid, sent)
          if not res then
            problem("createGalleryItems refused a batch: " .. tostring(serr) .. " " .. tostring(scode))
          else
            stored = stored + #res.items
            round_trip(accepted, sent, res.items)
          end
        end
        accepted = {}
      end

      for _ = 1, ITEMS do
        local fitem = gallery_item(r)
        local out, err, code = frontend.fromGalleryItems { fitem }
        local want = mapped(fitem)
        if out then
          local b = out[1]
          local info = b.image and b.image.imageInfo or b.video.videoInfo
          local form = (b.image and "image " or "video ") .. (info:find("^wix:") and
            ((fitem.src:find("^wix:") and "wix" or "legacy")) or "http")
          seen[form] = (seen[form] or 0) + 1
          if not want then
            problem("fromGalleryItems took an item the mapping has no backend item for: " .. describe_item(fitem))
          elseif not pcall(assert.same, { want }, out) then
            problem("fromGalleryItems gave something else than the mapping for " .. describe_item(fitem))
          end
          local one, serr, scode = store:createGalleryItem(gid, out[1])
          if not one then
            problem("the store refused what fromGalleryItems gave (" .. tostring(scode) .. " " .. tostring(serr)
                    .. "): " .. describe_item(fitem))
          else
            stored = stored + 1
          end
          accepted[#accepted + 1] = fitem
          if #accepted == BATCH then flush() end
        else
          refused = refused + 1
          if code ~= "INVALID_ARGUMENT" and code ~= "RESOURCE_EXHAUSTED" then
            problem("fromGalleryItems failed with " .. tostring(code) .. ": " .. tostring(err))
          end
          if want then
            local one, serr = store:createGalleryItem(gid, want)
            if one then
              stored = stored + 1
              problem("fromGalleryItems refused (" .. tostring(err) .. ") what the store takes: " .. describe_item(fitem))
            end
          end
        end
      end
      flush()

      assert.same({}, problems)
      -- both outcomes were exercised, every form of src was taken, and the store holds
      -- what was acknowledged
      assert.is_true(refused > ITEMS / 20 and refused < ITEMS * 0.9, "refused " .. refused)
      for _, form in ipairs { "image wix", "image legacy", "image http", "video wix", "video legacy", "video http" } do
        assert.is_true((seen[form] or 0) >= ITEMS / 250, form .. ": " .. tostring(seen[form]))
      end
      if os.getenv("PROGALLERY_PROPERTY_STATS") then
        local t = {}
        for k, v in pairs(seen) do t[#t + 1] = k .. "=" .. v end
        table.sort(t)
        print(("seed %d: %d refused; accepted %s"):format(seed, refused, table.concat(t, " ")))
      end
      assert.equal(stored, #require("spec.support").all_items(store, gid))
      store:close()
    end)
  end
end)
