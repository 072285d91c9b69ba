-- The site of docs/site.md under a real nginx (scripts/serve.sh, examples/nginx/nginx.conf):
-- the pages in Debian's chromium (web/test/browser.mjs through playwright-core), the
-- media folder and its bounded resized copies (nginx image_filter). A folder of generated
-- images goes in with `progallery import-folder`; a text item, a linked item and a video
-- (with a local poster) are added over REST. Tagged #nginx (busted --tags=nginx, make
-- test-nginx). Screenshots go to $PROGALLERY_TEST_OUT (default build/test-output).
local cjson = require "cjson"

local ROOT = (function()
  local f = assert(io.popen("pwd"))
  local d = f:read("*l")
  f:close()
  return d
end)()

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1; echo \"__exit=$?\""))
  local out = f:read("*a")
  f:close()
  local status = tonumber(out:match("__exit=(%d+)%s*$"))
  return (out:gsub("__exit=%d+%s*$", "")), status
end

local function read_file(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function write_file(p, s)
  local f = assert(io.open(p, "wb"))
  f:write(s)
  f:close()
end

-- a loopback port nothing listens on, outside the ephemeral range (spec/support.lua)
local free_port = require("spec.support").free_port

-- curl: status, body, headers (lower-case names)
local function http(srv, method, path, body)
  local tmp = srv.dir .. "/req"
  local args = { "curl -s -S --max-time 30 -X " .. method, "-o " .. q(tmp .. ".out"), "-D " .. q(tmp .. ".hdr"),
                 "-w '%{http_code}'", "-H " .. q("Authorization: " .. srv.key) }
  if body then
    write_file(tmp .. ".in", cjson.encode(body))
    args[#args + 1] = "-H 'Content-Type: application/json' --data-binary @" .. q(tmp .. ".in")
  end
  args[#args + 1] = q(srv.base .. path)
  local out, st = sh(table.concat(args, " "))
  assert(st == 0, "curl: " .. out)
  local headers = {}
  for line in (read_file(tmp .. ".hdr") or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.-)%s*$")
    if k then headers[k:lower()] = v end
  end
  return tonumber(out:match("(%d%d%d)%s*$")), read_file(tmp .. ".out"), headers
end

describe("the site #nginx", function()
  local srv
  local gallery, expect = nil, nil
  local out_dir = os.getenv("PROGALLERY_TEST_OUT") or (ROOT .. "/build/test-output")

  setup(function()
    local built, st = sh("sh scripts/web.sh")
    assert(st == 0, "the pages did not build (sh scripts/web.sh):\n" .. built)
    local dir = (sh("mktemp -d /tmp/progallery-site.XXXXXX")):gsub("%s+$", "")
    sh("chmod 755 " .. q(dir))
    srv = { dir = dir, port = free_port(), key = "site-key-" .. os.time() }
    srv.base = "http://127.0.0.1:" .. srv.port
    srv.media = dir .. "/media"
    srv.db = dir .. "/data/progallery.db"
    srv.env = ("PORT=%d PROGALLERY_SERVE_DIR=%s PROGALLERY_ADMIN_KEY=%s PROGALLERY_NO_DEPS=1 PROGALLERY_WORKERS=2 "
      .. "PROGALLERY_MEDIA_BASE=https://media.invalid/base"):format(srv.port, q(dir), q(srv.key))
    -- a folder of 16 images, every format, landscape and portrait, plus a file that is not one
    local src = dir .. "/photos"
    sh("mkdir -p " .. q(src))
    local specs = {}
    local formats = { { "jpg", "JPEG" }, { "png", "PNG" }, { "gif", "GIF" }, { "webp", "WEBP" } }
    for i = 1, 16 do
      local f = formats[(i - 1) % 4 + 1]
      local w, h = 400 + (i * 97) % 900, 300 + (i * 61) % 700
      specs[#specs + 1] = ("photo-%02d.%s:%s:%dx%d"):format(i, f[1], f[2], w, h)
    end
    local o, s = sh("/usr/bin/python3 spec/site/images.py " .. q(src) .. " " .. table.concat(specs, " "))
    assert(s == 0, "Pillow could not write the images: " .. o)
    write_file(src .. "/readme.txt", "not an image")
    local imported, ist = sh(("bin/progallery import-folder %s --name %s --db %s --media %s")
      :format(q(src), q("Browser test"), q(srv.db), q(srv.media)))
    assert(ist == 0, imported)
    gallery = imported:match("(%x+%-%x+%-%x+%-%x+%-%x+)%s*$")
    assert(gallery, imported)
    local started, sst = sh(srv.env .. " sh scripts/serve.sh start")
    assert(sst == 0, "scripts/serve.sh start:\n" .. started)
    srv.started = true
  end)

  teardown(function()
    if srv and srv.started then sh(srv.env .. " sh scripts/serve.sh stop") end
    if srv and srv.dir:match("^/tmp/progallery%-site%.") then sh("rm -rf " .. q(srv.dir)) end
  end)

  it("shows every item of an imported gallery, in each layout, in chromium", function()
    -- a linked image and a text item over REST (the first photo's media), and a video
    -- whose poster is in the media folder
    local st, body = http(srv, "GET", "/progallery/v2/galleries/" .. gallery .. "?itemLimit=100")
    assert.equal(200, st, body)
    local g = cjson.decode(body).gallery
    assert.equal(16, g.totalItems)
    local first = g.items[1].image.imageInfo
    st, body = http(srv, "POST", "/progallery/v2/galleries/" .. gallery .. "/items", { item = {
      title = "Linked photo", description = "goes to example.com",
      link = { url = "https://example.com/linked", target = "_blank" },
      image = { imageInfo = { id = first.id, filename = first.filename, width = first.width, height = first.height } } } })
    assert.equal(200, st, body)
    local linked = cjson.decode(body).item.id
    st, body = http(srv, "POST", "/progallery/v2/galleries/" .. gallery .. "/items", { item = {
      title = "A note", text = { html = "<p class='note'>Text items show here, which $w.Gallery cannot.</p>" } } })
    assert.equal(200, st, body)
    local text = cjson.decode(body).item.id
    local poster = g.items[2].image.imageInfo
    st, body = http(srv, "POST", "/progallery/v2/galleries/" .. gallery .. "/items", { item = {
      title = "A video", video = { videoInfo = ("wix:video://v1/clip.mp4/clip.mp4#posterUri=%s&posterWidth=%d&posterHeight=%d")
        :format(poster.id, poster.width, poster.height) } } })
    assert.equal(200, st, body)
    local video = cjson.decode(body).item.id
    -- the video file itself (its bytes are not a video: the page only preloads its metadata)
    write_file(srv.media .. "/clip.mp4", ("\0"):rep(1024))
    sh("chmod 644 " .. q(srv.media .. "/clip.mp4"))

    local ids, titles = {}, {}
    for _, it in ipairs(g.items) do ids[#ids + 1] = it.id; titles[#titles + 1] = it.title end
    for _, id in ipairs { linked, text, video } do ids[#ids + 1] = id end
    titles[#titles + 1] = "Linked photo"
    titles[#titles + 1] = "A video"
    expect = { ids = ids, titles = titles, name = "Browser test", images = 18,
               links = { { url = "https://example.com/linked" } },
               texts = { "Text items show here, which $w.Gallery cannot." },
               fetched = { "/media/clip.mp4" } }
    write_file(srv.dir .. "/expect.json", cjson.encode(expect))
    local out, rst = sh(("cd web && BASE=%s GALLERY=%s EXPECT=%s OUT=%s node test/browser.mjs")
      :format(q(srv.base), q(gallery), q(srv.dir .. "/expect.json"), q(out_dir)))
    local report = out:match("(%b{})%s*$")
    local ok, rep = pcall(cjson.decode, report or "")
    assert(ok and type(rep) == "table", "web/test/browser.mjs gave no report:\n" .. out)
    io.stderr:write("[site_spec] ", report, "\n")
    assert.same({}, rep.failures)
    assert.equal(0, rst, out)
    for _, layout in ipairs { "grid", "masonry", "collage" } do
      assert.equal(19, rep.layouts[layout].items)
      assert.truthy(read_file(out_dir .. "/gallery-" .. layout .. ".png"), "screenshot of " .. layout)
    end
  end)

  it("loads a gallery of 230 items page by page as the renderer asks for more (grid)", function()
    -- three pages of REST items (100 a page), every image one of the imported files
    local st, body = http(srv, "GET", "/progallery/v2/galleries/" .. gallery .. "?itemLimit=16")
    assert.equal(200, st, body)
    local src = cjson.decode(body).gallery.items
    st, body = http(srv, "POST", "/progallery/v2/galleries", { gallery = { name = "Long" } })
    assert.equal(200, st, body)
    local long = cjson.decode(body).gallery.id
    local ids = {}
    for batch = 1, 3 do
      local items = {}
      for i = 1, batch < 3 and 100 or 30 do
        local info = src[(#ids + i) % #src + 1].image.imageInfo
        items[#items + 1] = { title = "n" .. (#ids + i), image = { imageInfo = {
          id = info.id, filename = info.filename, width = info.width, height = info.height } } }
      end
      -- createGalleryItems over REST is one item a call; the Lua store takes a batch
      for _, it in ipairs(items) do
        st, body = http(srv, "POST", "/progallery/v2/galleries/" .. long .. "/items", { item = it })
        assert.equal(200, st, body)
        ids[#ids + 1] = cjson.decode(body).item.id
      end
    end
    write_file(srv.dir .. "/long.json", cjson.encode { ids = ids, titles = { "n1", "n230" }, name = "Long",
                                                       links = {}, texts = {}, images = 230 })
    local out, rst = sh(("cd web && LAYOUTS=grid LIST=off SHOT=long BASE=%s GALLERY=%s EXPECT=%s OUT=%s node test/browser.mjs")
      :format(q(srv.base), q(long), q(srv.dir .. "/long.json"), q(out_dir)))
    local ok, rep = pcall(cjson.decode, out:match("(%b{})%s*$") or "")
    assert(ok and type(rep) == "table", "web/test/browser.mjs gave no report:\n" .. out)
    assert.same({}, rep.failures)
    assert.equal(0, rst, out)
    assert.equal(230, rep.layouts.grid.items)
  end)

  it("serves the media folder, and resized copies only in the widths of web/src/media.js, each made once", function()
    local media = assert(read_file(ROOT .. "/web/src/media.js"))
    local sizes = {}
    for n in media:match("export const SIZES = %[([%d, ]+)%]"):gmatch("%d+") do sizes[#sizes + 1] = tonumber(n) end
    local conf = assert(read_file(ROOT .. "/examples/nginx/nginx.conf"))
    local allowed = conf:match("%^/media/%(%?<pg_w>([%d|]+)%)")
    assert.equal(table.concat(sizes, "|"), allowed, "nginx.conf's widths are media.js's SIZES")

    -- a file of its own, which no page has asked for yet
    local file = "fresh-1600.jpg"
    local o, s = sh("/usr/bin/python3 spec/site/images.py " .. q(srv.media) .. " " .. file .. ":JPEG:1600x900")
    assert(s == 0, o)
    sh("chmod 644 " .. q(srv.media .. "/" .. file))
    local function cache_entries()
      return tonumber((sh("find " .. q(srv.dir .. "/cache/media") .. " -type f | wc -l")):match("%d+"))
    end
    local before = cache_entries()
    local image = require "progallery.image"
    local orig = assert(image.info(srv.media .. "/" .. file))
    local st, body, h = http(srv, "GET", "/media/" .. file)
    assert.equal(200, st)
    assert.equal("image/jpeg", h["content-type"])
    assert.equal(read_file(srv.media .. "/" .. file), body)
    for _, w in ipairs(sizes) do
      st, body, h = http(srv, "GET", ("/media/%d/%s"):format(w, file))
      assert.equal(200, st, w)
      assert.equal("MISS", h["x-progallery-cache"], w)
      write_file(srv.dir .. "/resized", body)
      local info = assert(image.info(srv.dir .. "/resized"))
      assert.equal(math.min(w, orig.width), info.width, "width " .. w)
      st, body, h = http(srv, "GET", ("/media/%d/%s"):format(w, file))
      assert.equal(200, st)
      assert.equal("HIT", h["x-progallery-cache"], "second request of " .. w .. " from the cache")
    end
    -- any other width, and anything that is not one file name, is a 404 that resizes nothing
    for _, path in ipairs { "/media/100/" .. file, "/media/0/" .. file, "/media/99999/" .. file, "/media/640x480/" .. file,
                            "/media/-1/" .. file, "/media/320/320/" .. file, "/media/320/.hidden",
                            "/media/%2e%2e/etc/passwd", "/media/" } do
      st = http(srv, "GET", path)
      assert.equal(404, st, path)
    end
    assert.equal(before + #sizes, cache_entries(), "one cache entry per width")
    -- a file that is not in the folder: a redirect to the media base (PROGALLERY_MEDIA_BASE)
    st, _, h = http(srv, "GET", "/media/elsewhere.jpg")
    assert.equal(302, st)
    assert.equal("https://media.invalid/base/elsewhere.jpg", h["location"])
    st, _, h = http(srv, "GET", "/media/640/elsewhere.jpg")
    assert.equal(302, st)
    assert.equal("https://media.invalid/base/elsewhere.jpg/v1/fit/w_640,h_640/elsewhere.jpg", h["location"])
  end)

  it("answers / and /g/{id} with the page, and the API beside them as before", function()
    local st, body, h = http(srv, "GET", "/")
    assert.equal(200, st)
    assert.truthy(h["content-type"]:find("text/html", 1, true))
    assert.truthy(body:find('<script type="module" src="/assets/main.js">', 1, true))
    st, body = http(srv, "GET", "/g/" .. gallery)
    assert.equal(200, st)
    assert.truthy(body:find('id="app"', 1, true))
    st = http(srv, "GET", "/g/" .. gallery .. "/more")
    assert.equal(404, st)
    st, body = http(srv, "GET", "/progallery/v2/galleries/" .. gallery)
    assert.equal(200, st, body)
    st, body = http(srv, "GET", "/assets/nothing.js")
    assert.equal(404, st)
  end)
end)
