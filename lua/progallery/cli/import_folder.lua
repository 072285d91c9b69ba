-- progallery import-folder DIR --name NAME [--db PATH | --dsn DSN] [--media DIR]
-- One gallery with one image item per JPEG, PNG, GIF or WebP file of DIR (not its
-- subfolders; dot files are ignored), in file-name order, each titled from its file name
-- and sized by a real image library (progallery.image); the file is copied into the media
-- folder as <sha256>.<ext>. The gallery is the first one named NAME, created when there is
-- none; a file whose content is already in it is not added again, so a second run adds only
-- new files. A file that is not a readable image is reported on stderr and skipped. The
-- gallery id is the last line of stdout.
local cli = require "progallery.cli"
local progress = require "progallery.cli.progress"

local _M = {}

local EXT = { jpeg = "jpg", png = "png", gif = "gif", webp = "webp" }

function _M.options()
  return { ["--name"] = "value", ["--db"] = "value", ["--dsn"] = "value", ["--media"] = "value" }
end

function _M.usage()
  return ([[
usage: progallery import-folder DIR --name NAME [--db PATH | --dsn DSN] [--media DIR]

Makes (or extends) the gallery NAME with one image item per JPEG, PNG, GIF or WebP file in
DIR, in file-name order, titled from the file name. Pixel sizes are read with stb_image and
libwebp; each file is copied into the media folder as <sha256>.<ext>, which `make serve`
serves under /media/. Run again, it adds only files whose content the gallery lacks.
Unreadable and non-image files are reported and skipped. Prints the gallery id last.

  --name NAME   the gallery (the first one with this name; created when there is none)
  --media DIR   the media folder (default: $PROGALLERY_MEDIA, else .serve/media)
  --db PATH     the SQLite store (default: $PROGALLERY_DB, else .serve/data/progallery.db)
  --dsn DSN     a PostgreSQL store (libpq conninfo or postgresql:// URI)
]])
end

-- The regular files of dir (symlinks to files too), sorted by name; dot files left out.
local function list_files(dir)
  local p = assert(io.popen("find " .. cli.q(dir) .. " -mindepth 1 -maxdepth 1 \\( -type f -o -xtype f \\) -print0 2>/dev/null"))
  local data = p:read("*a")
  p:close()
  local files = {}
  for path in data:gmatch("([^%z]+)%z") do
    local base = path:match("([^/]+)$")
    if base:sub(1, 1) ~= "." then files[#files + 1] = { path = path, name = base } end
  end
  table.sort(files, function(a, b) return a.name < b.name end)
  return files
end

-- Copies src to dst through a temporary file and a rename: a crash never leaves half a file
-- under a content-hash name.
local function copy_file(src, dst)
  local tmp = dst .. ".part"
  local i, err = io.open(src, "rb")
  if not i then return nil, err end
  local o
  o, err = io.open(tmp, "wb")
  if not o then i:close(); return nil, err end
  while true do
    local chunk = i:read(65536)
    if not chunk then break end
    local ok, werr = o:write(chunk)
    if not ok then i:close(); o:close(); os.remove(tmp); return nil, werr end
  end
  i:close()
  local ok, cerr = o:close()
  if not ok then os.remove(tmp); return nil, cerr end
  ok, err = os.rename(tmp, dst)
  if not ok then os.remove(tmp); return nil, err end
  return true
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The first gallery named name (creation order), or nil.
local function find_gallery(store, name)
  local offset = 0
  while true do
    local page = cli.call(store, "listGalleries", { limit = 10, offset = offset, itemLimit = 1 })
    for _, g in ipairs(page.galleries) do
      if g.name == name then return g end
    end
    offset = offset + #page.galleries
    if #page.galleries == 0 or offset >= page.totalGalleries then return nil end
  end
end

-- The media ids of the gallery's image items.
local function known_media(store, gid)
  local uri = require "progallery.uri"
  local seen, offset = {}, 0
  while true do
    local items = cli.call(store, "listGalleryItems", gid, { itemOffset = offset, itemLimit = 100 }).items
    for _, it in ipairs(items) do
      local p = it.image and uri.parseImage(it.image.imageInfo)
      if p and p.id then seen[p.id] = true end
    end
    if #items < 100 then return seen end
    offset = offset + #items
  end
end

function _M.run(_, opts, pos, out, err)
  local dir = pos[1]
  if not dir then cli.usage_error("DIR is required") end
  if #pos > 1 then cli.usage_error("one DIR only (got " .. #pos .. ")") end
  if not opts.name or opts.name == "" then cli.usage_error("--name NAME is required") end
  if not cli.is_dir(dir) then cli.fail(dir .. ": not a directory") end
  local media = opts.media or cli.default_media()
  os.execute("mkdir -p " .. cli.q(media))
  if not cli.is_dir(media) then cli.fail("--media " .. media .. ": cannot create the folder") end
  local image = require "progallery.image"
  local uri = require "progallery.uri"
  local store = cli.open_store(opts)

  local files = list_files(dir)
  local g = find_gallery(store, opts.name)
  local created = false
  if not g then
    g = cli.call(store, "createGallery", { gallery = { name = opts.name } })
    created = true
  end
  local known = created and {} or known_media(store, g._id)

  local bar = progress.new("import-folder", #files)
  local added, already, skipped = 0, 0, 0
  local function skip(f, why)
    skipped = skipped + 1
    if bar.tty then err:write("\r\27[K") end
    err:write("skipped: ", f.path, ": ", why, "\n")
  end
  for _, f in ipairs(files) do
    local info, ierr = image.info(f.path)
    if not info then
      skip(f, (ierr:gsub("^.-: ", "", 1)))
    else
      local hash, herr = image.sha256(f.path)
      local id = hash and (hash .. "." .. EXT[info.format])
      if not hash then
        skip(f, herr)
      elseif known[id] then
        already = already + 1
      else
        local target = media .. "/" .. id
        local ok, cerr = true, nil
        if not exists(target) then ok, cerr = copy_file(f.path, target) end
        local title = f.name:gsub("%.[^.]*$", "")
        if title == "" then title = f.name end
        local info_uri, uerr = uri.buildImage{ id = id, filename = f.name, width = info.width, height = info.height }
        if not ok then
          skip(f, "cannot copy into " .. media .. ": " .. tostring(cerr))
        elseif not info_uri then
          skip(f, "file name: " .. tostring(uerr))
        else
          local item = { title = title, image = { imageInfo = info_uri } }
          -- one call per file: a title the store refuses (not UTF-8, too long) is this
          -- file's problem only, and an interrupted run resumes where it stopped
          local res, verr = store:createGalleryItems(g._id, { item })
          if res then
            added = added + 1
            known[id] = true
          else
            skip(f, tostring(verr))
          end
        end
      end
    end
    bar:step()
  end
  bar:done()
  err:write(("import-folder: %s gallery %q: %d added, %d already there, %d skipped (media in %s)\n")
    :format(created and "new" or "existing", opts.name, added, already, skipped, media))
  store:close()
  out:write(g._id, "\n")
  return 0
end

return _M
