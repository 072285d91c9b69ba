-- What a REST client sends comes back unchanged (API.md section 12): every field of Wix's
-- REST objects, through the same C path progallery.http answers with (store:rest: body
-- text in, response text out), compared whole; and the bounds and error paths of the
-- fields Wix's own clients send.
local cjson = require "cjson"
local S = require "spec.support"

-- response text -> table (failing with the message when the call failed)
local function decode(text, err, code)
  assert(text, tostring(err) .. " " .. tostring(code))
  return cjson.decode(text)
end

-- JSON body of {item}; an empty table in exif / css is sent as [] (what a JSON client sends)
local function item_body(item)
  return (cjson.encode { item = item }:gsub('"empty":{}', '"empty":[]'):gsub('"googleFonts":{}', '"googleFonts":[]'))
end

local F = require "spec.fixtures.rest_items"
local FULL_IMAGE, FULL_VIDEO, FULL_TEXT, own_fields = F.image, F.video, F.text, F.own_fields

describe("REST round trips (store:rest)", function()
  local store, gid
  setup(function()
    store = S.admin()
    gid = decode(store:rest("createGallery", nil, nil, nil, '{"gallery":{"name":"rt"}}')).gallery.id
  end)
  teardown(function() store:close() end)

  local function create(item)
    local text, err, code = store:rest("createGalleryItem", gid, nil, nil, item_body(item))
    assert.is_string(text, tostring(err) .. " " .. tostring(code))
    return text, cjson.decode(text).item
  end

  for name, item in pairs { image = FULL_IMAGE, video = FULL_VIDEO, text = FULL_TEXT } do
    it("every " .. name .. " field comes back as sent: on create, get, list and after a PATCH", function()
      local text, got = create(item)
      assert.same(item, own_fields(got))
      local id = got.id
      local read_text = assert(store:rest("getGalleryItem", gid, id))
      local read = cjson.decode(read_text).item
      assert.same(item, own_fields(read))
      local listed
      for _, it in ipairs(decode(store:rest("listGalleryItems", gid, nil, { itemLimit = 100 })).items) do
        if it.id == id then listed = it end
      end
      assert.same(item, own_fields(listed))
      -- send the fetched item back whole (read-only keys and all): nothing changes
      local patched_text = assert(store:rest("updateGalleryItem", gid, id, nil,
                                             '{"item":' .. read_text:match('^{"item":(.*)}$') .. '}'))
      local patched = cjson.decode(patched_text).item
      assert.same(item, own_fields(patched))
      if name ~= "video" then
        -- empty arrays inside exif / css stay arrays
        local want = name == "image" and '"empty":[]' or '"googleFonts":[]'
        for _, t in ipairs { text, read_text, patched_text } do assert.truthy(t:find(want, 1, true), t) end
      end
    end)
  end

  -- A list writes each item's columns as text beside its stored text (api.c item_value); a
  -- single GET builds, shapes and encodes the tree: the two must agree to the byte.
  it("a listed item is, byte for byte, the item its own GET answers", function()
    local g = decode(store:rest("createGallery", nil, nil, nil, '{"gallery":{"name":"bytes"}}')).gallery.id
    local sent = {
      FULL_IMAGE, FULL_VIDEO, FULL_TEXT,
      { title = 'quote " backslash \\ tab \t nl \n \1 é 🙂', sortOrder = 0.1 + 0.2 },
      { description = "negative", sortOrder = -12.5e-7 },
      { title = "big", sortOrder = 2 ^ 52 + 1 },
      { title = "tiny", sortOrder = 5e-324 },
      {},
    }
    local ids = {}
    for i, item in ipairs(sent) do
      local text = assert(store:rest("createGalleryItem", g, nil, nil, item_body(item)))
      ids[i] = cjson.decode(text).item.id
    end
    -- a later date and revision than the created ones, and one moved
    assert(store:rest("updateGalleryItem", g, ids[4], nil, '{"item":{"title":"updated ü"}}'))
    assert(store:rest("updateGalleryItem", g, ids[4], nil, '{"item":{"description":"twice"}}'))
    assert(store:rest("moveGalleryItems", g, nil, nil, cjson.encode { itemIds = { ids[5] }, before = ids[1] }))
    local lists = {
      getGallery = assert(store:rest("getGallery", g)),
      listGalleryItems = assert(store:rest("listGalleryItems", g, nil, { itemLimit = 100 })),
      queryGalleryItems = assert(store:rest("queryGalleryItems", g, nil, nil, '{"query":{}}')),
      listGalleries = assert(store:rest("listGalleries", nil, nil, { limit = 10, itemLimit = 100 })),
    }
    for i, id in ipairs(ids) do
      local one = assert(store:rest("getGalleryItem", g, id)):match('^{"item":(.*)}$')
      assert.truthy(one, id)
      for name, text in pairs(lists) do
        assert.truthy(text:find(one, 1, true), name .. ", item " .. i .. ": " .. one .. " not in " .. text)
      end
    end
    assert.equal("2", cjson.decode((assert(store:rest("getGalleryItem", g, ids[5])))).item.revision)
  end)

  it("the feed's REST domain events (pull and webhooks) carry every field as sent", function()
    local before = decode(store:rest("events", nil, nil, { after = 0, limit = 1000 })).lastSeq
    local _, got = create(FULL_VIDEO)
    local page = decode(store:rest("events", nil, nil, { after = before }))
    assert.equal(1, #page.events)
    local ev = page.events[1]
    assert.equal("gallery_item_created", ev.slug)
    assert.equal(got.id, ev.actionEvent.body.item.id)
    assert.same(FULL_VIDEO, own_fields(ev.actionEvent.body.item))
    local hooks = decode(store:rest("webhookEvents", nil, nil, { after = before }))
    assert.equal(page.lastSeq, hooks.lastSeq)
    assert.equal("wix.pro_gallery.gallery_v2_gallery_item_created", hooks.events[1].eventType)
    assert.same(ev, cjson.decode(hooks.events[1].data))
    assert.same({ identityType = "WIX_USER" }, cjson.decode(hooks.events[1].identity))
  end)

  it("the Velo face of REST-made media is derived as Wix's SDK derives it (plus the watermark)", function()
    local _, img = create(FULL_IMAGE)
    local velo = assert(store:getGalleryItem { galleryId = gid, itemId = img.id })
    assert.equal("wix:image://v1/8a0a22_e71e~mv2.jpg/cat%20photo.jpg#originWidth=800&originHeight=600&watermark=wm-77",
                 velo.image.imageInfo)
    assert.equal("wix:image://v1/second.png#originWidth=20&originHeight=10", velo.secondaryMedia.image.imageInfo)
    assert.equal("EXTERNAL", velo.link.type)
    assert.same(FULL_IMAGE.link.wixLinkData, velo.link.wixLinkData)
    local _, vid = create(FULL_VIDEO)
    velo = assert(store:getGalleryItem { galleryId = gid, itemId = vid.id })
    -- posters[1] (the second) is the one the SDK puts in the string
    assert.equal("wix:video://v1/8b7eef_9c5e/Big%20Buck%20Bunny.mp4#posterUri=poster1.jpg&posterWidth=640&posterHeight=360",
                 velo.video.videoInfo)
  end)

  it("a media object with a url and fields the url also gives: the url's win, each member once", function()
    -- the object's members were looked up by their key as a C string; a JSON key is not one,
    -- so "filename" went in twice (found by the fuzzer, as an ASan over-read)
    local text = assert(store:rest("createGalleryItem", gid, nil, nil, '{"item":{"video":{"videoInfo":'
      .. '{"url":"wix:video://v1/a/b.mp4#posterUri=p.jpg&posterWidth=1&posterHeight=2","filename":"other.mp4"}}}}'))
    local _, filenames = text:gsub('"filename":', "")
    assert.equal(1, filenames, text)
    local info = cjson.decode(text).item.video.videoInfo
    assert.equal("b.mp4", info.filename)
    assert.equal("a", info.id)
  end)

  it("a Velo string with a watermark comes back to a Velo caller as it was stored", function()
    local s = "wix:image://v1/w.jpg/w.jpg#originWidth=10&originHeight=20&watermark=tok"
    local r = assert(store:createGalleryItem(gid, { image = { imageInfo = s } }))
    assert.equal(s, r.image.imageInfo)
    local rest_item = decode(store:rest("getGalleryItem", gid, r._id)).item
    assert.equal("tok", rest_item.image.imageInfo.watermark)
    assert.equal(s, assert(store:getGalleryItem { galleryId = gid, itemId = r._id }).image.imageInfo)
  end)

  local function refused(item, code, field)
    local text, msg, got_code, got_field = store:rest("createGalleryItem", gid, nil, nil, item_body(item))
    assert.is_nil(text, "accepted: " .. tostring(text))
    assert.equal(code, got_code, msg)
    if field:sub(1, 1) == "^" then assert.matches(field, got_field) else assert.equal(field, got_field, msg) end
    return msg
  end

  it("bounds and error paths of the fields Wix's clients send", function()
    local many = {}
    for i = 1, 101 do many[i] = { url = "https://x/" .. i, height = 1, width = 1, format = "mp4" } end
    refused({ video = { videoInfo = { id = "v", resolutions = many } } }, "RESOURCE_EXHAUSTED", "item.video.videoInfo.resolutions")
    refused({ video = { videoInfo = { id = "v", resolutions = { { url = "https://x", height = 1, width = 1 } } } } },
      "INVALID_ARGUMENT", "item.video.videoInfo.resolutions[0].format")
    refused({ video = { videoInfo = { id = "v", posters = { { height = 1 } } } } },
      "INVALID_ARGUMENT", "item.video.videoInfo.posters[0]")
    refused({ video = { videoInfo = { filename = "x" } } }, "INVALID_ARGUMENT", "item.video.videoInfo")
    refused({ link = { type = "SOMETIMES" } }, "INVALID_ARGUMENT", "item.link.type")
    refused({ link = { wixLinkData = { big = ("x"):rep(70000) } } }, "RESOURCE_EXHAUSTED", "item.link.wixLinkData.big")
    local wide = {}
    for i = 1, 3000 do wide["k" .. i] = ("v"):rep(20) end
    refused({ link = { wixLinkData = wide } }, "RESOURCE_EXHAUSTED", "item.link.wixLinkData")
    refused({ link = { wixLinkData = "x" } }, "INVALID_ARGUMENT", "item.link.wixLinkData")
    refused({ secondaryMedia = { image = { focalPoint = { x = 0.5 } } } }, "INVALID_ARGUMENT", "item.secondaryMedia.image.imageInfo")
    refused({ secondaryMedia = { image = { imageInfo = "https://x/y.png" }, text = { html = "x" } } },
      "INVALID_ARGUMENT", "^item%.secondaryMedia%.[it][me][ax][gt]e?$")
    refused({ secondaryMedia = { video = {} } }, "INVALID_ARGUMENT", "item.secondaryMedia.video")
    refused({ image = { imageInfo = { id = "a.jpg", width = 1, height = 1, watermark = "a&b" } } },
      "INVALID_ARGUMENT", "item.image.imageInfo.watermark")
    refused({ image = { imageInfo = { id = "a.jpg", width = -1, height = 1 } } }, "INVALID_ARGUMENT", "item.image.imageInfo.width")
    -- 0-based indexes in a gallery's items
    local text, msg, code, field = store:rest("createGallery", nil, nil, nil,
      cjson.encode { gallery = { items = { { title = "ok" }, { video = { videoInfo = { id = "v", posters = "x" } } } } } })
    assert.is_nil(text)
    assert.equal("INVALID_ARGUMENT", code)
    assert.equal("gallery.items[1].video.videoInfo.posters", field, msg)
  end)

  it("a body that names a key twice in one object is refused, whatever the depth and the key", function()
    local before = #S.ok(store:listGalleryItems(gid, { itemLimit = 100 })).items
    local img = '"imageInfo":{"id":"a.jpg","width":4,"height":3}'
    local cases = {
      { '{"item":{"title":"x","title":"y"}}', "title" },
      { '{"item":{"title":"x"},"item":{"title":"y"}}', "item" },
      { '{"item":{"title":"x","tit\\u006ce":"y"}}', "title" }, -- the same key once decoded
      { '{"item":{"image":{' .. img .. ',"focalPoint":{"x":0.5,"y":0.5,"x":0.1}}}}', "x" },
      { '{"item":{"tags":{"values":["a"],"values":["b"]}}}', "values" },
    }
    -- a large object (hashed, not compared pair by pair): 40 exif keys, the last repeating one
    local keys = {}
    for i = 1, 40 do keys[i] = ('"k%d":%d'):format(i, i) end
    local wide = table.concat(keys, ",")
    cases[#cases + 1] = { '{"item":{"image":{' .. img .. ',"exif":{' .. wide .. ',"k17":0}}}}', "k17" }
    for _, c in ipairs(cases) do
      local res, msg, code, field = store:rest("createGalleryItem", gid, nil, nil, c[1])
      assert.is_nil(res, c[1])
      assert.equal("INVALID_ARGUMENT", code, c[1])
      assert.equal("body", field, c[1])
      assert.equal(('body: key "%s" given twice in one object'):format(c[2]), msg)
    end
    -- the same shapes without the repeat go through (the 40 distinct keys too)
    assert.is_string((store:rest("createGalleryItem", gid, nil, nil,
      '{"item":{"image":{' .. img .. ',"exif":{' .. wide .. ',"K17":0}}}}')))
    -- keys differing in case are two keys (Title is no field: refused as unknown, not as a repeat)
    local _, msg = store:rest("createGalleryItem", gid, nil, nil, '{"item":{"title":"x","Title":"y"}}')
    assert.equal("item.Title: unknown field", msg)
    -- an update's body too; nothing was written by any of the refused calls
    local it = S.ok(store:listGalleryItems(gid, { itemLimit = 1 })).items[1]
    local _, umsg = store:rest("updateGalleryItem", gid, it._id, nil, '{"item":{"title":"a","title":"b"}}')
    assert.equal('body: key "title" given twice in one object', umsg)
    assert.equal(before + 1, #S.ok(store:listGalleryItems(gid, { itemLimit = 100 })).items)
  end)

  it("a body and its ids are checked before anything runs", function()
    local _, msg, code, field = store:rest("createGalleryItem", gid, nil, nil, '{"item":{},"extra":1}')
    assert.equal("INVALID_ARGUMENT", code)
    assert.equal("extra", field, msg)
    _, msg, code, field = store:rest("createGalleryItem", gid, nil, nil, '{"item":{"title":"x"},"galleryId":"' .. S.MISSING_ID .. '"}')
    assert.equal("galleryId", field, msg)
    _, msg, code = store:rest("createGalleryItem", gid, nil, nil, '[1]')
    assert.equal("INVALID_ARGUMENT", code)
    assert.matches("^body: ", msg)
    _, msg, code = store:rest("createGalleryItem", gid, nil, nil, '{"item":')
    assert.matches("^body: malformed JSON", msg)
    -- numbers: RFC 8259's grammar exactly, at any length
    for _, bad in ipairs { "01", "-01", "00", "1.", "-1.", "1.e5", ".5", "-", "1e", "1e+", "+1", "0x10", "-00.5" } do
      _, msg, code = store:rest("createGalleryItem", gid, nil, nil, '{"item":{"sortOrder":' .. bad .. '}}')
      assert.equal("INVALID_ARGUMENT", code, bad)
      assert.equal("body: malformed JSON", msg:match("^body: malformed JSON"), bad .. ": " .. tostring(msg))
    end
    local long = "1." .. ("0"):rep(80) .. "1"
    for text, want in pairs { ["0"] = 0, ["-0.5"] = -0.5, ["1e2"] = 100, ["1.5E-1"] = 0.15, ["10"] = 10,
                              [long] = 1, [("9"):rep(20) .. "e-15"] = 99999.999999999999999,
                              [("1"):rep(70)] = tonumber(("1"):rep(70) .. ".0") } do
      local r = store:rest("createGalleryItem", gid, nil, nil, '{"item":{"sortOrder":' .. text .. '}}')
      assert.is_string(r, text)
      assert.equal(want, cjson.decode(r).item.sortOrder, text)
    end
    _, msg, code = store:rest("noSuchOp", gid)
    assert.equal("NOT_FOUND", code)
    local visitor = assert(store:as("visitor"))
    _, msg, code = visitor:rest("createGalleryItem", gid, nil, nil, '{"item":{"title":"x"}}')
    assert.equal("PERMISSION_DENIED", code)
    assert.is_string((visitor:rest("getGallery", gid)))
  end)
end)
