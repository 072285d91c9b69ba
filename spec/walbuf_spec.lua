-- The SQLite engine's WAL write buffer (src/walbuf.c): a transaction's frames reach the
-- WAL in one write, and nothing is seen early or lost. Writes are counted in a child
-- process with an LD_PRELOAD shim around pwrite (spec/wal_writes.c).
local S = require "spec.support"
local progallery = S.progallery

local function child(dir, shim, body)
  local lpath, cpath = S.abs_paths()
  local out = dir .. "/writes." .. tostring(math.random(1e9))
  local prog = ([[package.path=%q; package.cpath=%q
    local progallery = require "progallery"
    local function ok(r, msg, code) return r or error(tostring(msg) .. " " .. tostring(code)) end
    local function copy(from, to)
      local f = io.open(from, "rb")
      if not f then return end
      local data = f:read("*a")
      f:close()
      f = assert(io.open(to, "wb"))
      f:write(data)
      f:close()
    end
    %s]]):format(lpath, cpath, body)
  local preload = ((os.getenv("LD_PRELOAD") or "") .. " " .. shim):gsub("^ ", "")
  local cmd = ("LD_PRELOAD=%s WAL_WRITES_OUT=%s %s -e %s"):format(S.shell_quote(preload),
    S.shell_quote(out), S.lua_bin, S.shell_quote(prog))
  local text, done = S.sh(cmd)
  assert.truthy(done, text)
  local writes, headers = assert(S.read_file(out)):match("^(%d+) (%d+)")
  return tonumber(writes), tonumber(headers), text
end

-- the gallery's items, in order, as "id title" lines
local function listing(store, gid)
  local lines = {}
  for _, it in ipairs(S.all_items(store, gid)) do lines[#lines + 1] = it._id .. " " .. (it.title or "") end
  return table.concat(lines, "\n")
end

describe("the WAL write buffer #sqlite", function()
  local dir, shim
  setup(function()
    dir = S.tmpdir()
    shim = dir .. "/wal_writes.so"
    local text, built = S.sh(("cc -shared -fPIC -o %s spec/wal_writes.c -ldl"):format(S.shell_quote(shim)))
    assert.truthy(built, "cc could not build spec/wal_writes.c: " .. text)
  end)

  it("writes a small transaction's frames to the WAL in one write", function()
    local calls = 100
    local writes = child(dir, shim, ([[
      local s = ok(progallery.open { path = %q, caller = "admin", synchronous = "normal" })
      local g = ok(s:createGallery { gallery = { name = "w" } })
      for i = 1, %d do ok(s:createGalleryItem(g._id, { title = "t" .. i, description = ("d"):rep(300) })) end
      s:close()]]):format(dir .. "/small.db", calls))
    -- SQLite's own: a frame's header and its page apart, 6 or more frames a call
    assert.truthy(writes >= calls and writes <= calls + 10,
      ("%d writes to the WAL for %d commits"):format(writes, calls))
  end)

  it("leaves on disk, after each commit, the committed state: the files a crash would leave", function()
    -- the child copies the database and its WAL (not the shared memory) after each call, as
    -- a kill -9 right after the commit would leave them, and lists what it committed
    local snaps = S.tmpdir()
    child(dir, shim, ([[
      local snaps = %q
      local s = ok(progallery.open { path = %q, caller = "admin", synchronous = "normal" })
      local n = 0
      local function listing(gid)
        local lines, off = {}, 0
        repeat
          local page = ok(s:listGalleryItems(gid, { itemOffset = off, itemLimit = 100 })).items
          for _, it in ipairs(page) do lines[#lines + 1] = it._id .. " " .. (it.title or "") end
          off = off + #page
        until #page < 100
        return table.concat(lines, "\n")
      end
      local function snap(gid)
        n = n + 1
        copy(%q, snaps .. "/" .. n .. ".db")
        copy(%q, snaps .. "/" .. n .. ".db-wal")
        local f = assert(io.open(snaps .. "/" .. n .. ".expect", "wb"))
        f:write(gid, "\n", listing(gid))
        f:close()
      end
      local g = ok(s:createGallery { gallery = { name = "w" } })._id
      for i = 1, 5 do ok(s:createGalleryItem(g, { title = "one " .. i })); snap(g) end
      -- bigger than the buffer (120 KiB): flushed as it goes
      local batch = {}
      for i = 1, 600 do batch[i] = { title = ("batch %%d "):format(i) .. ("b"):rep(400) } end
      ok(s:createGalleryItems(g, batch)); snap(g)
      local c = ok(s:createGallery { cloneFromGalleryId = g })._id
      snap(c)
      ok(s:createGalleryItem(c, { title = "after the clone" })); snap(c)
      os.exit(0) -- no close: the WAL stays as a crash would leave it]]):format(snaps, dir .. "/crash.db",
      dir .. "/crash.db", dir .. "/crash.db-wal"))
    local n = 0
    while S.read_file(snaps .. "/" .. (n + 1) .. ".expect") do
      n = n + 1
      local expect = S.read_file(snaps .. "/" .. n .. ".expect")
      local gid, want = expect:match("^([^\n]*)\n(.*)$")
      local st = S.ok(progallery.open { path = snaps .. "/" .. n .. ".db", caller = "admin" })
      local got = listing(st, gid)
      assert.equal(select(2, want:gsub("\n", "")), select(2, got:gsub("\n", "")), "snapshot " .. n .. ": items")
      assert.is_true(got == want, "snapshot " .. n .. ": the recovered items differ")
      st:close()
    end
    assert.equal(8, n)
  end)

  it("leaves the committed state on disk when SQLite rewrites checksums, and drops what a rollback left", function()
    -- spec/walbuf_check.c: SQLite through the buffer with a 16-page cache, every transaction
    -- spilling pages and writing some again at its commit; the copy after each commit must
    -- hold it, and the checksum rewrite (its lone 24-byte headers) must have been taken. Then
    -- transactions that spill and roll back, each followed by another connection's commit
    -- over the same part of the WAL: the first connection's next read must not write its
    -- rolled-back frames over it (it did, "database disk image is malformed", before the
    -- buffer was dropped when the WAL's write lock is let go). Last, commits at FULL on a file
    -- that is not powersafe-overwrite, padded with frames SQLite writes after the commit frame
    -- and publishes with it: a reader on SQLite's own VFS checks the file after each (before
    -- everything after a commit frame went straight to the file, every round failed)
    local bin = dir .. "/walbuf_check"
    local text, built = S.sh(("cc -O1 -Isrc -o %s spec/walbuf_check.c src/walbuf.c -lsqlite3 -lpthread")
      :format(S.shell_quote(bin)))
    assert.truthy(built, "cc could not build spec/walbuf_check.c: " .. text)
    local out = dir .. "/check.count"
    local preload = ((os.getenv("LD_PRELOAD") or "") .. " " .. shim):gsub("^ ", "")
    local work = S.tmpdir()
    local res, ok = S.sh(("LD_PRELOAD=%s WAL_WRITES_OUT=%s %s %s 20"):format(S.shell_quote(preload),
      S.shell_quote(out), S.shell_quote(bin), S.shell_quote(work)))
    assert.truthy(ok, res)
    assert.truthy(res:find("rounds 20, mismatches 0, rollbacks and padded commits 20, damaged 0", 1, true), res)
    local headers = tonumber(assert(S.read_file(out)):match("^%d+ (%d+)"))
    assert.truthy(headers >= 20, ("%d lone frame headers: the checksum rewrite was not taken"):format(headers))
  end)

  it("shows each commit to another store on the same file at once, both ways", function()
    local p = S.tmppath()
    local a = S.ok(progallery.open { path = p, caller = "admin", synchronous = "normal" })
    local b = S.ok(progallery.open { path = p, caller = "admin", synchronous = "normal" })
    local g = S.ok(a:createGallery { gallery = { name = "both" } })._id
    for i = 1, 40 do
      local writer, reader = a, b
      if i % 2 == 0 then writer, reader = b, a end
      if i % 10 == 0 then
        local batch = {}
        for k = 1, 300 do batch[k] = { title = ("%d.%d "):format(i, k) .. ("y"):rep(500) } end
        S.ok(writer:createGalleryItems(g, batch))
      else
        S.ok(writer:createGalleryItem(g, { title = "item " .. i }))
      end
      assert.equal(listing(writer, g), listing(reader, g), "after write " .. i)
    end
    assert.equal(36 + 4 * 300, S.ok(b:getGallery(g)).totalItems)
    a:close()
    b:close()
  end)
end)
