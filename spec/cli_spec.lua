-- The progallery command (bin/progallery, docs/site.md): each subcommand run as a process,
-- as a user runs it, on temporary stores and folders. Images are written by Pillow
-- (spec/site/images.py); sizes are checked against what was asked of Pillow, hashes
-- against sha256sum.
local cjson = require "cjson"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1; echo \"__exit=$?\""))
  local out = f:read("*a")
  f:close()
  local status = tonumber(out:match("__exit=(%d+)%s*$"))
  return (out:gsub("__exit=%d+%s*$", "")), status
end

-- stdout and stderr apart: status, stdout, stderr
local function run(args)
  local dir = os.tmpname()
  local _, st = sh("{ bin/progallery " .. args .. " >" .. q(dir .. ".out") .. " 2>" .. q(dir .. ".err") .. "; }")
  local function slurp(p)
    local f = io.open(p, "rb")
    local s = f and f:read("*a") or ""
    if f then f:close() end
    os.remove(p)
    return s
  end
  os.remove(dir)
  return st, slurp(dir .. ".out"), slurp(dir .. ".err")
end

local function tmpdir()
  local out = sh("mktemp -d /tmp/progallery-cli.XXXXXX")
  return (out:gsub("%s+$", ""))
end

local function images(dir, ...)
  local out, st = sh("/usr/bin/python3 spec/site/images.py " .. q(dir) .. " " .. table.concat({ ... }, " "))
  assert(st == 0, "Pillow (python3-pil) could not write the test images: " .. out)
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function sha256(path)
  local out = sh("sha256sum " .. q(path))
  return out:match("^(%x+)")
end

local function last_line(s) return s:match("([^\n]*)\n?$") end

local function open(db)
  local progallery = require "progallery"
  return assert(progallery.open { path = db, caller = "admin" })
end

local function all_items(store, gid)
  local items, offset = {}, 0
  while true do
    local page = assert(store:listGalleryItems(gid, { itemOffset = offset, itemLimit = 100 })).items
    for _, it in ipairs(page) do items[#items + 1] = it end
    if #page < 100 then return items end
    offset = offset + #page
  end
end

describe("progallery (the command)", function()
  local dirs = {}
  local function dir()
    local d = tmpdir()
    dirs[#dirs + 1] = d
    return d
  end
  teardown(function()
    for _, d in ipairs(dirs) do
      if d:match("^/tmp/progallery%-cli%.") then sh("rm -rf " .. q(d)) end
    end
  end)

  it("--help lists every command; each subcommand has --help; unknown ones are usage errors (2)", function()
    local st, out = run("--help")
    assert.equal(0, st)
    for _, name in ipairs { "import-folder", "export", "import", "serve", "stats", "check" } do
      assert.truthy(out:find("  " .. name, 1, true), name)
      local hst, hout = run(name .. " --help")
      assert.equal(0, hst, name)
      assert.truthy(hout:find("usage: progallery " .. name, 1, true), name .. ": " .. hout)
    end
    local est, _, err = run("frobnicate")
    assert.equal(2, est)
    assert.truthy(err:find("unknown command 'frobnicate'", 1, true))
    est, _, err = run("")
    assert.equal(2, est)
    est, _, err = run("stats --bogus")
    assert.equal(2, est)
    assert.truthy(err:find("unknown option --bogus", 1, true), err)
    est, _, err = run("stats --db")
    assert.equal(2, est)
    assert.truthy(err:find("--db needs a value", 1, true), err)
    -- a value forgotten before the next option: not a file named after that option
    est, _, err = run("stats --db --json")
    assert.equal(2, est)
    assert.truthy(err:find("--db needs a value, got the option --json", 1, true), err)
    assert.is_nil(io.open("--json")) -- no store made under that name
  end)

  it("--db and --dsn together are a usage error", function()
    for _, args in ipairs { "stats --db a.db --dsn x", "export --db a.db --dsn x", "import f --db a.db --dsn x" } do
      local st, _, err = run(args)
      assert.equal(2, st, args)
      assert.truthy(err:find("one store only", 1, true), args .. ": " .. err)
    end
  end)

  it("--dsn: a PostgreSQL store that does not answer is a clear failure (1)", function()
    local st, _, err = run("stats --dsn 'host=127.0.0.1 port=1 connect_timeout=2'")
    assert.equal(1, st, err)
    assert.truthy(err:find("cannot open the PostgreSQL store", 1, true), err)
  end)

  describe("import-folder", function()
    it("makes one gallery of the folder's images: sizes from the image library, content-hash names, titles", function()
      local d = dir()
      local src, media, db = d .. "/in", d .. "/media", d .. "/s.db"
      sh("mkdir -p " .. q(src))
      images(src, "b-photo.jpg:JPEG:640x480", "a_pic.png:PNG:120x90", "c.gif:GIF:33x44", "d.webp:WEBP:300x500",
             "e.jpeg:JPEG:20x10")
      write(src .. "/notes.txt", "not an image")
      write(src .. "/empty.png", "")
      write(src .. "/fake.jpg", "\255\216\255 but nothing else")
      write(src .. "/.hidden.jpg", "ignored")
      sh("mkdir -p " .. q(src .. "/sub"))
      images(src .. "/sub", "nested.jpg:JPEG:10x10")
      local st, out, err = run(("import-folder %s --name Holiday --db %s --media %s"):format(q(src), q(db), q(media)))
      assert.equal(0, st, err)
      local gid = last_line(out)
      assert.truthy(gid:match("^%x+%-%x+%-%x+%-%x+%-%x+$"), out)
      for _, bad in ipairs { "notes.txt", "empty.png", "fake.jpg" } do
        assert.truthy(err:find("skipped: " .. src .. "/" .. bad, 1, true), bad .. ": " .. err)
      end
      assert.falsy(err:find(".hidden", 1, true))
      assert.truthy(err:find("5 added, 0 already there, 3 skipped", 1, true), err)

      local store = open(db)
      local g = assert(store:getGallery(gid))
      assert.equal("Holiday", g.name)
      assert.equal(5, g.totalItems)
      local uri = require "progallery.uri"
      local want = {
        { "a_pic", "a_pic.png", "png", 120, 90 }, { "b-photo", "b-photo.jpg", "jpg", 640, 480 },
        { "c", "c.gif", "gif", 33, 44 }, { "d", "d.webp", "webp", 300, 500 }, { "e", "e.jpeg", "jpg", 20, 10 },
      }
      for i, w in ipairs(want) do
        local it = g.items[i]
        assert.equal(w[1], it.title)
        local p = assert(uri.parseImage(it.image.imageInfo))
        assert.equal(w[4], p.width, w[2])
        assert.equal(w[5], p.height, w[2])
        assert.equal(w[2], p.filename)
        assert.equal(sha256(src .. "/" .. w[2]) .. "." .. w[3], p.id)
        assert.equal(sha256(src .. "/" .. w[2]), sha256(media .. "/" .. p.id), "copied intact")
      end
      store:close()
      local ls = sh("ls " .. q(media))
      assert.falsy(ls:find(".part", 1, true))
    end)

    it("is idempotent: run again it adds only new content, and prints the same gallery id", function()
      local d = dir()
      local src, media, db = d .. "/in", d .. "/media", d .. "/s.db"
      sh("mkdir -p " .. q(src))
      images(src, "one.jpg:JPEG:64x48", "two.png:PNG:30x30")
      local args = ("import-folder %s --name Again --db %s --media %s"):format(q(src), q(db), q(media))
      local st, out1 = run(args)
      assert.equal(0, st)
      local st2, out2, err2 = run(args)
      assert.equal(0, st2)
      assert.equal(last_line(out1), last_line(out2))
      assert.truthy(err2:find("0 added, 2 already there", 1, true), err2)
      images(src, "three.gif:GIF:20x20")
      sh("cp " .. q(src .. "/one.jpg") .. " " .. q(src .. "/one-copy.jpg")) -- same content: not again
      local st3, out3, err3 = run(args)
      assert.equal(0, st3)
      assert.equal(last_line(out1), last_line(out3))
      assert.truthy(err3:find("1 added, 3 already there", 1, true), err3)
      local store = open(db)
      assert.equal(3, store:getGallery(last_line(out1)).totalItems)
      assert.equal(1, store:listGalleries().totalGalleries)
      store:close()
    end)

    it("reports bad usage with status 2 and a missing folder with status 1", function()
      local d = dir()
      local st, _, err = run("import-folder --name X --db " .. q(d .. "/s.db"))
      assert.equal(2, st)
      assert.truthy(err:find("DIR is required", 1, true))
      st, _, err = run("import-folder " .. q(d) .. " --db " .. q(d .. "/s.db"))
      assert.equal(2, st)
      assert.truthy(err:find("--name NAME is required", 1, true))
      st, _, err = run("import-folder " .. q(d .. "/nope") .. " --name X --db " .. q(d .. "/s.db"))
      assert.equal(1, st)
      assert.truthy(err:find("not a directory", 1, true))
      st, _, err = run("import-folder a b --name X")
      assert.equal(2, st)
    end)
  end)

  describe("export and import", function()
    -- a store with every field of docs/api.md (Shapes), a fractional sort order, an empty
    -- gallery and one gallery past a page (100) and an import batch (1000)
    local function fill(db)
      local store = open(db)
      local g1 = assert(store:createGallery { gallery = { name = "Rich", sortOrder = 0.1 + 0.2, items = {
        { title = "img", description = "d", sortOrder = 1 / 3, link = { text = "t", url = "https://example.com/", target = "_self" },
          tags = { values = { "a", "b" } },
          image = { imageInfo = "wix:image://v1/abc.jpg/abc.jpg#originWidth=10&originHeight=20",
                    focalPoint = { x = 0.25, y = 0.75 }, quality = 90, exif = { Make = "X", nested = { n = 1.5, list = { 1, 2 } } },
                    unsharpMasking = { amount = 1.2, radius = 0.5, threshold = 0.01 } } },
        { title = "vid", video = { type = "WIX_MEDIA", videoInfo = "wix:video://v1/v1/v.mp4#posterUri=p.jpg&posterWidth=640&posterHeight=360",
                                   durationInMillis = 1234 } },
        { title = "txt", text = { html = "<p>é ü \u{1F600}</p>", css = { color = "red" }, editorHtml = "<p>x</p>" } },
        { title = "empty tags", tags = { values = {} } },
        -- what only the REST form holds: a video's resolutions, a poster's altText, link data
        { title = "rest only", link = { url = "https://example.com/r", type = "EXTERNAL", wixLinkData = { a = 1, b = "x" } },
          video = { videoInfo = { id = "vid1", filename = "v.mp4",
            resolutions = { { url = "https://r.example/720.mp4", height = 720, width = 1280, format = "mp4", quality = "720p" } },
            posters = { { id = "p.jpg", width = 10, height = 20, altText = "a poster" } } } } },
      } } })
      -- empty arrays inside free-form data: only the REST path can say them
      assert(store:rest("createGalleryItem", g1._id, nil, nil, '{"item":{"title":"arrays","image":{"imageInfo":'
        .. '{"id":"e.jpg","width":1,"height":1},"exif":{"empty":[],"n":[[]]}},"link":{"wixLinkData":{"rel":[]}}}}'))
      assert.truthy(store:createGallery { gallery = { name = "Empty" } })
      local big = assert(store:createGallery { gallery = { name = "Big" } })
      local batch = {}
      for i = 1, 1100 do
        batch[#batch + 1] = { title = "n" .. i, sortOrder = (i % 7) + i / 10000 }
        if #batch == 550 then assert(store:createGalleryItems(big._id, batch)); batch = {} end
      end
      assert(store:updateGalleryItem({ galleryId = g1._id, itemId = g1.items[1]._id }, { title = "img2" }))
      -- a consumer part way through the feed, and a gallery whose events are all gone
      assert(store:setEventCursor("hook", 7))
      assert(store:setEventCursor("audit", 0))
      local gone = assert(store:createGallery { gallery = { name = "Gone", items = { { title = "x" } } } })
      assert(store:deleteGallery(gone._id))
      store:close()
      return g1._id, big._id
    end

    local function records(path)
      local out = {}
      for line in io.lines(path) do out[#out + 1] = assert(cjson.decode(line)) end
      return out
    end

    it("round-trips a store losslessly: every field, id, date and sort order, compared field by field", function()
      local d = dir()
      local a, b = d .. "/a.db", d .. "/b.db"
      local gid, big = fill(a)
      local st, _, err = run(("export --db %s --output %s"):format(q(a), q(d .. "/a.jsonl")))
      assert.equal(0, st, err)
      assert.truthy(err:find("export: 3 galleries, 1106 items", 1, true), err)
      st, _, err = run(("import %s --db %s"):format(q(d .. "/a.jsonl"), q(b)))
      assert.equal(0, st, err)
      assert.truthy(err:find("import: 3 galleries, 1106 items", 1, true), err)
      local text
      st, text, err = run("export --db " .. q(b)) -- to stdout this time
      assert.equal(0, st, err)
      write(d .. "/b.jsonl", text)
      local ra, rb = records(d .. "/a.jsonl"), records(d .. "/b.jsonl")
      assert.equal(#ra, #rb)
      -- header, galleries, pages of 100 items, the feed line, events (1000 a line), the
      -- consumers, the galleries' event seqs, end
      local feed = ra[1 + 3 + 12 + 1].feed
      local nevents = feed.lastSeq - feed.prunedThrough
      assert.truthy(nevents > 1100, nevents)
      assert.equal(1 + 3 + 12 + 1 + math.ceil(nevents / 1000) + 1 + 1 + 1, #ra)
      assert.equal(nevents, ra[#ra]["end"].events)
      for i = 1, #ra do assert.same(ra[i], rb[i], "line " .. i) end
      -- and through the API: the same galleries and items, exactly
      local sa, sb = open(a), open(b)
      for _, id in ipairs { gid, big } do
        local ga, gb = sa:getGallery(id, { itemLimit = 1 }), sb:getGallery(id, { itemLimit = 1 })
        assert.same(ga, gb)
        assert.same(all_items(sa, id), all_items(sb, id))
        -- and the REST form, field by field (the fields only it holds included)
        for offset = 0, 1100, 100 do
          local opts = { itemOffset = offset, itemLimit = 100 }
          assert.same(cjson.decode((assert(sa:rest("listGalleryItems", id, nil, opts)))),
                      cjson.decode((assert(sb:rest("listGalleryItems", id, nil, opts)))))
        end
      end
      -- byte for byte, empty arrays included (cjson above cannot see those)
      local text_a = assert(sa:rest("listGalleryItems", gid, nil, { itemLimit = 100 }))
      assert.equal(text_a, (assert(sb:rest("listGalleryItems", gid, nil, { itemLimit = 100 }))))
      assert.truthy(text_a:find('"exif":{"empty":[],"n":[[]]}', 1, true), text_a)
      assert.truthy(text_a:find('"wixLinkData":{"rel":[]}', 1, true), text_a)
      local rest_only = cjson.decode((assert(sb:rest("listGalleryItems", gid, nil, { itemOffset = 4, itemLimit = 1 })))).items[1]
      assert.equal("a poster", rest_only.video.videoInfo.posters[1].altText)
      assert.equal("720p", rest_only.video.videoInfo.resolutions[1].quality)
      assert.same(sa:listGalleries { limit = 10 }, sb:listGalleries { limit = 10 })
      local it = sb:getGallery(gid).items[1]
      assert.equal(1 / 3, it.sortOrder)
      assert.are_not.equal(it._createdDate, it._updatedDate) -- the update's date survived
      -- the feed moved with it: a consumer reads on from its cursor the same envelopes, and
      -- the next write gets the same seq and entityEventSequence in either store
      assert.equal(7, sb:eventCursor("hook"))
      assert.equal(0, sb:eventCursor("audit"))
      local after = 0
      repeat
        local ea, eb = assert(sa:events { after = after, limit = 1000 }), assert(sb:events { after = after, limit = 1000 })
        assert.same(ea, eb)
        after = ea.lastSeq
      until #ea.events == 0
      for _, s in ipairs { sa, sb } do assert(s:updateGallery(gid, { name = "next" })) end
      local na, nb = sa:events { after = after }.events, sb:events { after = after }.events
      assert.equal(1, #na)
      assert.equal(na[1].metadata.entityEventSequence, nb[1].metadata.entityEventSequence)
      assert.equal(after + 1, sb:events { after = after }.lastSeq)
      sa:close(); sb:close()
      -- the imported store checks out
      st = run("check --db " .. q(b))
      assert.equal(0, st)
    end)

    -- where PROGALLERY_TEST_DSN names a server (scripts/test.sh's PostgreSQL run); else pending
    local pg_it = os.getenv("PROGALLERY_TEST_DSN") and it or pending
    pg_it("moves a store from SQLite to PostgreSQL and back, byte for byte (--dsn) #postgres", function()
      local base = os.getenv("PROGALLERY_TEST_DSN")
      local d = dir()
      local a, c = d .. "/a.db", d .. "/c.db"
      fill(a)
      -- a schema of its own (created by the engine on first open)
      local dsn = base .. " options='-csearch_path=cli" .. os.time() .. math.random(1000, 9999) .. "'"
      local st, _, err = run(("export --db %s --output %s"):format(q(a), q(d .. "/a.jsonl")))
      assert.equal(0, st, err)
      st, _, err = run(("import %s --dsn %s"):format(q(d .. "/a.jsonl"), q(dsn)))
      assert.equal(0, st, err)
      assert.truthy(err:find("import: 3 galleries, 1106 items", 1, true), err)
      st, _, err = run(("export --dsn %s --output %s"):format(q(dsn), q(d .. "/p.jsonl")))
      assert.equal(0, st, err)
      st, _, err = run(("import %s --db %s"):format(q(d .. "/p.jsonl"), q(c)))
      assert.equal(0, st, err)
      st, _, err = run(("export --db %s --output %s"):format(q(c), q(d .. "/c.jsonl")))
      assert.equal(0, st, err)
      -- the three exports say the same, line for line: items lines (the store's REST text)
      -- byte for byte, the others (encoded from Lua tables, in pairs order) as values
      local function lines(path) local t = {}; for l in io.lines(path) do t[#t + 1] = l end return t end
      local la, lp, lc = lines(d .. "/a.jsonl"), lines(d .. "/p.jsonl"), lines(d .. "/c.jsonl")
      assert.equal(#la, #lp)
      assert.equal(#la, #lc)
      local items_lines = 0
      for i = 2, #la do -- line 1 is the header (it names the time of the export)
        if la[i]:find('^{"items":') then
          items_lines = items_lines + 1
          assert.equal(la[i], lp[i], "PostgreSQL line " .. i)
          assert.equal(la[i], lc[i], "back in SQLite, line " .. i)
        else
          assert.same(cjson.decode(la[i]), cjson.decode(lp[i]), "PostgreSQL line " .. i)
          assert.same(cjson.decode(la[i]), cjson.decode(lc[i]), "back in SQLite, line " .. i)
        end
      end
      assert.equal(12, items_lines)
      st = run("check --dsn " .. q(dsn))
      assert.equal(0, st)
    end)

    it("import refuses a store with galleries, a cut-short file and a file that is not an export", function()
      local d = dir()
      local a = d .. "/a.db"
      fill(a)
      assert.equal(0, (run(("export --db %s --output %s"):format(q(a), q(d .. "/a.jsonl")))))
      local st, _, err = run(("import %s --db %s"):format(q(d .. "/a.jsonl"), q(a)))
      assert.equal(1, st)
      assert.truthy(err:find("already has 3 galleries", 1, true), err)
      sh(("head -n 10 %s > %s"):format(q(d .. "/a.jsonl"), q(d .. "/cut.jsonl")))
      st, _, err = run(("import %s --db %s"):format(q(d .. "/cut.jsonl"), q(d .. "/c.db")))
      assert.equal(1, st)
      assert.truthy(err:find("cut short after line 10", 1, true), err)
      -- what it imported stays, and it says how to start over
      local ngal = tonumber(err:match("(%d+) galler[yi]e?s? and %d+ items imported before it stay in the store"))
      assert.truthy(ngal and ngal >= 1, err)
      assert.truthy(err:find("import into a new, empty store", 1, true), err)
      local _, stats = run(("stats --db %s"):format(q(d .. "/c.db")))
      assert.truthy(stats:find("galleries: " .. ngal, 1, true), stats)
      write(d .. "/junk.jsonl", '{"format":"progallery-export","version":1}\n{"gallery":{"name":"x"}}\n')
      st, _, err = run(("import %s --db %s"):format(q(d .. "/junk.jsonl"), q(d .. "/j.db")))
      assert.equal(1, st)
      assert.truthy(err:find("junk.jsonl:2: gallery._id", 1, true), err)
      write(d .. "/nojson", "hello\n")
      st, _, err = run(("import %s --db %s"):format(q(d .. "/nojson"), q(d .. "/k.db")))
      assert.equal(1, st)
      assert.truthy(err:find("nojson:1: not a JSON object", 1, true), err)
      assert.falsy(err:find("stay in the store", 1, true), err) -- nothing was imported
      -- a feed that does not continue (an event line dropped), or was tampered with
      local lines = {}
      for l in io.lines(d .. "/a.jsonl") do lines[#lines + 1] = l end
      local first_events
      for i, l in ipairs(lines) do if l:find('^{"events":') then first_events = first_events or i end end
      assert.truthy(first_events)
      local gap = {}
      for i, l in ipairs(lines) do if i ~= first_events then gap[#gap + 1] = l end end
      write(d .. "/gap.jsonl", table.concat(gap, "\n") .. "\n")
      st, _, err = run(("import %s --db %s"):format(q(d .. "/gap.jsonl"), q(d .. "/g.db")))
      assert.equal(1, st)
      assert.truthy(err:find(("gap.jsonl:%d: part.events[1]: seq: 1001 does not continue the feed (its next seq is 1)"):format(first_events), 1, true), err)
      local bad = {}
      for i, l in ipairs(lines) do bad[i] = i == first_events and l:gsub('"type":"wix[^"]*"', '"type":"nope"', 1) or l end
      write(d .. "/bad.jsonl", table.concat(bad, "\n") .. "\n")
      st, _, err = run(("import %s --db %s"):format(q(d .. "/bad.jsonl"), q(d .. "/h.db")))
      assert.equal(1, st)
      assert.truthy(err:find(("bad.jsonl:%d: part.events[1]: type: not an event type"):format(first_events), 1, true), err)
      -- records that would be dropped unread, and a malformed end line: FILE:LINE, status 1
      local g1 = '{"gallery":{"_id":"01a242c5-9ec0-73c6-b59b-000000000001","name":"x","sortOrder":1,'
        .. '"_createdDate":"2026-12-04T00:00:00.000Z","_updatedDate":"2026-12-04T00:00:00.000Z"}}'
      local item = '{"id":"01a242c5-9ec0-73c6-b59b-000000000002","title":"t","sortOrder":1,'
        .. '"createdDate":"2026-12-04T00:00:00.000Z","updatedDate":"2026-12-04T00:00:00.000Z"}'
      local head = '{"format":"progallery-export","version":2}\n'
      for i, c in ipairs {
        { head .. '{"gallery":{"name":"x"},"items":[]}\n', ":2: two records in one line" },
        { head .. '{"galery":{"name":"x"}}\n', ':2: unknown key "galery"' },
        { head .. g1 .. '\n{"items":{"a":1}}\n', ":3: items: expected an array" },
        { head .. g1 .. '\n{"items":[' .. item .. '],"items":[]}\n', ':3: body: key "items" given twice' },
        { head .. '{"end":true}\n', ":2: end: expected an object" },
        { head .. '{"end":5}\n', ":2: end: expected an object" },
      } do
        local f = d .. "/rec" .. i .. ".jsonl"
        write(f, c[1])
        st, _, err = run(("import %s --db %s"):format(q(f), q(d .. "/rec" .. i .. ".db")))
        assert.equal(1, st, c[2])
        assert.truthy(err:find("rec" .. i .. ".jsonl" .. c[2], 1, true), c[2] .. ": " .. err)
        assert.falsy(err:find("internal error", 1, true), err)
      end
      st, _, err = run("import --db " .. q(d .. "/k.db"))
      assert.equal(2, st)
      st, _, err = run("import " .. q(d .. "/missing") .. " --db " .. q(d .. "/k.db"))
      assert.equal(1, st)
    end)

    it("keeps memory flat: export and import of 20,000 items peak at about the RSS of 2,000", function()
      local function peak(n)
        local d = dir()
        local store = open(d .. "/s.db")
        local g = assert(store:createGallery { gallery = { name = "flat" } })
        local batch = {}
        for i = 1, n do
          batch[#batch + 1] = { title = ("item %d %s"):format(i, ("x"):rep(200)) }
          if #batch == 1000 then assert(store:createGalleryItems(g._id, batch)); batch = {} end
        end
        store:close()
        local function rss(args)
          -- without a preloaded sanitizer runtime (scripts/test.sh's ASan run): its quarantine keeps freed memory
          local out, st = sh("env -u LD_PRELOAD /usr/bin/time -o " .. q(d .. "/rss") .. " -f 'RSS=%M' bin/progallery " .. args .. " >/dev/null")
          assert(st == 0, out)
          local f = assert(io.open(d .. "/rss"))
          local text = f:read("*a")
          f:close()
          return assert(tonumber(text:match("RSS=(%d+)")), text)
        end
        local e = rss(("export --db %s --output %s"):format(q(d .. "/s.db"), q(d .. "/e.jsonl")))
        local i = rss(("import %s --db %s"):format(q(d .. "/e.jsonl"), q(d .. "/t.db")))
        return e, i
      end
      local has_time = select(2, sh("test -x /usr/bin/time")) == 0
      if not has_time then
        pending("/usr/bin/time is not installed (Debian package time)")
        return
      end
      local e1, i1 = peak(2000)
      local e2, i2 = peak(20000)
      -- ten times the items, well under twice the memory
      assert.is_true(e2 < e1 * 1.5, ("export RSS %d KB (2,000) vs %d KB (20,000)"):format(e1, e2))
      assert.is_true(i2 < i1 * 1.5, ("import RSS %d KB (2,000) vs %d KB (20,000)"):format(i1, i2))
    end)
  end)

  it("serve runs scripts/serve.sh of the checkout (status of a server that is not running: 1)", function()
    local d = dir()
    local out, st = sh("PROGALLERY_SERVE_DIR=" .. q(d .. "/srv") .. " bin/progallery serve status")
    assert.equal(1, st, out)
    assert.truthy(out:find("serve: not running", 1, true), out)
    local est, _, err = run("serve reboot")
    assert.equal(2, est)
    assert.truthy(err:find("unknown action reboot", 1, true), err)
    est, _, err = run("serve --port x")
    assert.equal(2, est)
    out, est = sh("PROGALLERY_ROOT=" .. q(d) .. " bin/progallery serve status")
    assert.equal(1, est)
    assert.truthy(out:find("source checkout", 1, true), out)
  end)

  it("make serve names a bad setting (2) before it installs or starts anything", function()
    local d = dir()
    for _, c in ipairs {
      { "PORT=abc", "PORT: expected a whole number from 1 to 65535" },
      { "PORT=0", "PORT: expected a whole number from 1 to 65535" },
      { "PROGALLERY_WORKERS=two", "PROGALLERY_WORKERS: expected a whole number" },
      { "PROGALLERY_THREADS=0", "PROGALLERY_THREADS: expected a whole number" },
      { "PROGALLERY_MAX_BODY=1e6", "PROGALLERY_MAX_BODY: expected a whole number" },
      { "PROGALLERY_LOG_LEVEL=loud", "PROGALLERY_LOG_LEVEL: expected debug" },
      { "PROGALLERY_MEDIA=" .. q(d .. "/m;b"), "PROGALLERY_MEDIA: '" .. d .. "/m;b' holds a blank" },
      { "PROGALLERY_SERVE_DIR=" .. q(d .. "/a b"), "PROGALLERY_SERVE_DIR: '" .. d .. "/a b' holds a blank" },
      { "PROGALLERY_MEDIA_BASE=" .. q("https://cdn/x&y"), "PROGALLERY_MEDIA_BASE: 'https://cdn/x&y' holds" },
    } do
      local out, st = sh("PROGALLERY_SERVE_DIR=" .. q(d .. "/srv") .. " " .. c[1] .. " sh scripts/serve.sh start")
      assert.equal(2, st, c[1] .. ": " .. out)
      assert.truthy(out:find("serve: " .. c[2], 1, true), c[1] .. ": " .. out)
    end
    -- nothing was made or started
    assert.equal(1, select(2, sh("test -e " .. q(d .. "/srv"))))
  end)

  it("draws a progress bar only on a terminal", function()
    local progress = require "progallery.cli.progress"
    local buf = {}
    local stream = { write = function(_, ...) for _, s in ipairs { ... } do buf[#buf + 1] = s end end, flush = function() end }
    local bar = progress.new("import", 4, stream, true)
    for _ = 1, 4 do bar:step() end
    bar:done()
    local text = table.concat(buf)
    assert.truthy(text:find("\rimport [###############...............] 2/4  50%", 1, true), text)
    assert.equal("4/4 100%\n", text:sub(-9))
    buf = {}
    bar = progress.new("import", 4, stream, false)
    bar:step(); bar:done()
    assert.equal("", table.concat(buf))
  end)

  describe("stats and check", function()
    it("stats counts galleries and items; check finds a totalItems that does not match its items", function()
      local d = dir()
      local db = d .. "/s.db"
      local store = open(db)
      local g = assert(store:createGallery { gallery = { name = "A", items = { { title = "1" }, { title = "2" } } } })
      assert(store:createGallery { gallery = { name = "B" } })
      -- the feed: 2 galleries and 2 items created = 4 events; consumers at 1 and 4
      local last = assert(store:events { after = 0 }).lastSeq
      assert(store:setEventCursor("search", 1))
      assert(store:setEventCursor("cdn", last))
      store:close()
      local st, out = run("stats --db " .. q(db))
      assert.equal(0, st)
      assert.truthy(out:find("galleries: 2\n", 1, true), out)
      assert.truthy(out:find("items: 2\n", 1, true), out)
      assert.truthy(out:find(("events: %d kept (seq 1 to %d)\n"):format(last, last), 1, true), out)
      assert.truthy(out:find(("consumer search: at seq 1, %d behind\n"):format(last - 1), 1, true), out)
      assert.truthy(out:find(("consumer cdn: at seq %d, 0 behind\n"):format(last), 1, true), out)
      st, out = run("stats --json --db " .. q(db))
      assert.equal(0, st)
      local j = cjson.decode(out)
      assert.equal(2, j.galleries)
      assert.equal(2, j.items)
      assert.equal(last, j.feed.events)
      assert.same({ { name = "cdn", seq = last, lag = 0 }, { name = "search", seq = 1, lag = last - 1 } }, j.feed.consumers)
      assert.equal(g._id, j.largestGallery.id)
      local err
      -- output that cannot be written (a full disk) is a failure, not status 0
      local o2, st2 = sh("{ bin/progallery stats --db " .. q(db) .. " >/dev/full; }") -- stderr into o2
      assert.equal(1, st2, o2)
      assert.truthy(o2:find("cannot write the output", 1, true), o2)
      -- no consumer: an empty array, not {}
      local empty = d .. "/empty.db"
      open(empty):close()
      st, out = run("stats --json --db " .. q(empty))
      assert.equal(0, st)
      assert.truthy(out:find('"consumers":[]', 1, true), out)
      st, out = run("check --db " .. q(db))
      assert.equal(0, st)
      assert.truthy(out:find("check: ok (2 galleries, 2 items)", 1, true), out)
      -- damage the count behind the store's back (the sqlite3 shell, as an outside writer would)
      local o, s2 = sh(("sqlite3 %s \"UPDATE galleries SET item_count = 5 WHERE id = '%s'\""):format(q(db), g._id))
      assert.equal(0, s2, o)
      st, out, err = run("check --db " .. q(db))
      assert.equal(1, st)
      assert.truthy(err:find("gallery " .. g._id .. ": totalItems is 5, but it lists 2 items", 1, true), err)
      -- and the kept count of galleries (schema 7)
      o, s2 = sh(("sqlite3 %s \"UPDATE site_counts SET galleries = 7\""):format(q(db)))
      assert.equal(0, s2, o)
      st, out, err = run("check --db " .. q(db))
      assert.equal(1, st)
      assert.truthy(err:find("check: totalGalleries is 7, but the store lists 2 galleries", 1, true), err)
      st, out = run("stats --db " .. q(db))
      assert.equal(0, st)
      assert.truthy(out:find("galleries: 2\n", 1, true), out) -- counted as listed, not as kept
      st, _, err = run("stats --db " .. q(d .. "/nowhere/x.db"))
      assert.equal(1, st)
      assert.truthy(err:find("cannot open the store", 1, true), err)
    end)
  end)
end)
