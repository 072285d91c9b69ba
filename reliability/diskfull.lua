-- Full disk / I/O errors: the steps run by diskfull.sh.
-- lua5.4 diskfull.lua prepare DB              baseline content (no limit)
-- lua5.4 diskfull.lua limited DB STATEFILE    writes until they fail under a file-size limit
-- lua5.4 diskfull.lua verify DB STATEFILE     no limit again: same content, writes work
-- lua5.4 diskfull.lua tmpfs DIR               a full filesystem, then room made by the same process
-- Each failing write must return INTERNAL with a message naming the storage
-- error, and leave the store exactly as it was (checked through the same
-- connection right after the failure). Prints "diskfull <step>: ..." lines
-- with counts; exits 1 on any failure.
local R = dofile((os.getenv("PG_ROOT") or ".") .. "/reliability/lib.lua")
local pg = R.pg()
local step, path, statefile = arg[1], arg[2], arg[3]
local failures, calls, refused = 0, 0, 0
local function fail(fmt, ...)
  failures = failures + 1
  io.stderr:write(("diskfull %s: FAIL " .. fmt .. "\n"):format(step, ...))
end

-- A canonical text of the whole store (ids, names, counts, every item field
-- that the workload touches).
local function fingerprint(store)
  local st = R.dump(store)
  local out = {}
  for _, gid in ipairs(st.order) do
    local g = st.g[gid]
    out[#out + 1] = ("G %s %s %d"):format(gid, tostring(g.name), g.totalItems)
    for _, it in ipairs(g.items) do
      out[#out + 1] = ("  %s %s %s %d %d %s"):format(it._id, it.type, tostring(it.title),
        it.description and #it.description or -1, it.text and #it.text.html or -1, it._updatedDate)
    end
  end
  return table.concat(out, "\n")
end

local function big_items(n, size, tag)
  local t = {}
  for i = 1, n do t[i] = { title = tag .. "-" .. i, description = ("d"):rep(size),
                           image = { imageInfo = R.IMG } } end
  return t
end

-- The writes of the workload, growing: each returns the call's results.
local function writes(store, gid, round)
  local w = {}
  w[#w + 1] = function() return store:createGalleryItems(gid, big_items(40, 3000, "b" .. round)) end
  w[#w + 1] = function() return store:createGallery { cloneFromGalleryId = gid } end
  w[#w + 1] = function()
    return store:createGallery { gallery = { name = "new" .. round, items = big_items(20, 8000, "n" .. round) } }
  end
  w[#w + 1] = function()
    local page = store:listGalleryItems(gid, { itemLimit = 1 })
    local id = page and page.items[1] and page.items[1]._id
    return store:updateGalleryItem({ galleryId = gid, itemId = id or "00000000-0000-4000-8000-000000000000" },
      { text = { html = ("<p>" .. round .. "</p>"):rep(50000) } })
  end
  w[#w + 1] = function() return store:createGalleryItem(gid, { title = "one" .. round, description = ("s"):rep(15000) }) end
  return w
end

-- Runs one write; a failure must be INTERNAL, clear, and change nothing.
local function attempt(store, fn, what)
  local before = fingerprint(store)
  calls = calls + 1
  local res, err, code = fn()
  if res then return true end
  refused = refused + 1
  if os.getenv("PG_SABOTAGE") == "diskfull" then -- self-test: a change slips in after the failure
    os.execute("sqlite3 " .. R.q(path) .. " 'UPDATE galleries SET name = name || 1' 2>/dev/null")
  end
  if code ~= "INTERNAL" then
    fail("%s: expected INTERNAL, got %s %s", what, tostring(code), tostring(err))
  elseif not (err:match("^storage error: ") and (err:match("disk") or err:match("full"))) then
    fail("%s: message does not say what failed: %s", what, err)
  end
  local ok, after = pcall(fingerprint, store)
  if not ok then fail("%s: reading after the failure: %s", what, after)
  elseif after ~= before then fail("%s: the failed call changed the store", what) end
  return false, err
end

local function first_gallery(store)
  local page = assert(store:listGalleries { limit = 1 })
  return page.galleries[1]._id
end

if step == "prepare" then
  local store = assert(pg.open { path = path, caller = "admin" })
  local g = assert(store:createGallery { gallery = { name = "base", items = big_items(30, 2000, "base") } })
  assert(g)
  store:close()
  print("diskfull prepare: ok")
elseif step == "limited" then
  local store = assert(pg.open { path = path, caller = "admin" })
  local gid = first_gallery(store)
  local messages = {}
  for round = 1, 40 do
    for i, fn in ipairs(writes(store, gid, round)) do
      local ok, err = attempt(store, fn, ("round %d write %d"):format(round, i))
      if not ok and err then messages[err] = true end
    end
    if refused >= 25 then break end
  end
  if refused == 0 then fail("no write hit the size limit") end
  local f = assert(io.open(statefile, "w"))
  f:write(fingerprint(store))
  f:close()
  store:close()
  local m = {}
  for k in pairs(messages) do m[#m + 1] = k end
  print(("diskfull limited: %d writes, %d refused (%s), %d failures"):format(calls, refused, table.concat(m, " | "), failures))
elseif step == "verify" then
  local probs = R.raw_checks(path)
  for _, p in ipairs(probs or {}) do fail("%s", p) end
  local store = assert(pg.open { path = path, caller = "admin" })
  local f = assert(io.open(statefile))
  local want = f:read("a")
  f:close()
  if fingerprint(store) ~= want then fail("content after reopening differs from the content the limited process last saw") end
  local gid = first_gallery(store)
  for i, fn in ipairs(writes(store, gid, 99)) do
    calls = calls + 1
    local res, err, code = fn()
    if not res then fail("write %d with room again: %s %s", i, tostring(code), tostring(err)) end
  end
  store:close()
  for _, p in ipairs(R.raw_checks(path) or {}) do fail("%s", p) end
  print(("diskfull verify: integrity ok, content unchanged, %d writes with room again, %d failures"):format(calls, failures))
elseif step == "tmpfs" then
  -- path is a directory on a small tmpfs of its own
  local db = path .. "/full.db"
  local store = assert(pg.open { path = db, caller = "admin" })
  local gid = assert(store:createGallery { gallery = { name = "base", items = big_items(10, 1000, "t") } })._id
  -- fill the filesystem
  local filler = path .. "/filler"
  os.execute("dd if=/dev/zero of=" .. R.q(filler) .. " bs=64k 2>/dev/null")
  local got_full, msg
  for round = 1, 10 do
    for i, fn in ipairs(writes(store, gid, round)) do
      local ok, err = attempt(store, fn, ("round %d write %d"):format(round, i))
      if not ok then got_full, msg = true, err end
    end
    if got_full and refused >= 10 then break end
  end
  if not got_full then fail("no write hit the full filesystem") end
  local blocked = writes(store, gid, 77)[1]
  local r1 = blocked()
  if r1 then fail("a 40-item batch succeeded on a full filesystem") end
  -- make room; the same connection must work again
  os.remove(filler)
  calls = calls + 1
  local res, err, code = blocked()
  if not res then fail("after making room: %s %s", tostring(code), tostring(err)) end
  for i, fn in ipairs(writes(store, gid, 78)) do
    calls = calls + 1
    local r, e, c = fn()
    if not r then fail("after making room, write %d: %s %s", i, tostring(c), tostring(e)) end
  end
  store:close()
  for _, p in ipairs(R.raw_checks(db) or {}) do fail("%s", p) end
  print(("diskfull tmpfs: %d writes, %d refused on the full filesystem (%s), same store works after room was made, %d failures")
    :format(calls, refused, tostring(msg), failures))
end
os.exit(failures == 0 and 0 or 1, true)
