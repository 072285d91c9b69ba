-- Spec section 14: queryGalleryItems and queryGalleries (Wix's v2 query shape, keyset
-- cursors). Runs on both engines (PROGALLERY_TEST_ENGINE, spec/support.lua) and both VMs.
-- The model-based part makes random galleries and items, then random filters, sorts and
-- page sizes, and pages through every result with its cursors, checking each page against
-- a plain Lua model of the same semantics: every matching row once, in the model's order.
local S = require "spec.support"
local progallery = S.progallery

local SEED = tonumber(os.getenv("QUERIES_SEED") or "") or 20261202

-- ---- the model ----------------------------------------------------------------------

local function date_ms(s) return S.date_ms(s) end

-- the value of a field of a row (a Velo item or gallery)
local FIELD = {
  type = function(r) return r.type end,
  title = function(r) return r.title end,
  name = function(r) return r.name end,
  _createdDate = function(r) return date_ms(r._createdDate) end,
  _updatedDate = function(r) return date_ms(r._updatedDate) end,
  sortOrder = function(r) return r.sortOrder end,
}

local function tags_of(r) return r.tags and r.tags.values or {} end

local function is_date(f) return f == "_createdDate" or f == "_updatedDate" end

local function matches(r, f)
  for k, cond in pairs(f) do
    if k == "$and" then
      for _, sub in ipairs(cond) do if not matches(r, sub) then return false end end
    elseif k == "$or" then
      local any = false
      for _, sub in ipairs(cond) do if matches(r, sub) then any = true break end end
      if not any then return false end
    else
      if type(cond) ~= "table" then cond = { ["$eq"] = cond } end
      for op, v in pairs(cond) do
        local ok
        if k == "tags.values" then
          local have = {}
          for _, t in ipairs(tags_of(r)) do have[t] = true end
          if op == "$hasSome" then
            ok = false
            for _, t in ipairs(v) do if have[t] then ok = true end end
          else
            ok = true
            for _, t in ipairs(v) do if not have[t] then ok = false end end
          end
        else
          local x = FIELD[k](r)
          if is_date(k) then
            if op == "$in" then
              local l = {}
              for i, d in ipairs(v) do l[i] = date_ms(d) end
              v = l
            else
              v = date_ms(v)
            end
          end
          if op == "$eq" then ok = x == v
          elseif op == "$ne" then ok = x ~= v
          elseif op == "$in" then
            ok = false
            for _, y in ipairs(v) do if x == y then ok = true end end
          elseif op == "$startsWith" then ok = x ~= nil and x:sub(1, #v) == v
          elseif op == "$gt" then ok = x > v
          elseif op == "$gte" then ok = x >= v
          elseif op == "$lt" then ok = x < v
          elseif op == "$lte" then ok = x <= v
          else error("model: operator " .. op) end
        end
        if not ok then return false end
      end
    end
  end
  return true
end

-- rows in the order of sort (default: default_field ASC), then creation order (rank)
local function model_order(rows, sort, default_field, rank)
  sort = sort and #sort > 0 and sort or { { fieldName = default_field } }
  local desc0 = sort[1].order == "DESC"
  table.sort(rows, function(a, b)
    for _, s in ipairs(sort) do
      local x, y = FIELD[s.fieldName](a), FIELD[s.fieldName](b)
      if s.fieldName == "name" then x, y = x or "", y or "" end
      if x ~= y then
        if s.order == "DESC" then return x > y end
        return x < y
      end
    end
    if desc0 then return rank[a._id] > rank[b._id] end
    return rank[a._id] < rank[b._id]
  end)
  return rows
end

-- ---- random data and queries ----------------------------------------------------------

local TITLES = { "a", "ab", "abc", "b", "ba", "", "Ä", "a%_" }
local TAGS = { "x", "y", "z", "w" }

local function pick(t) return t[math.random(#t)] end

local function random_item()
  local it
  if math.random(3) == 1 then
    it = { text = { html = "<p>t</p>" } }
  else
    it = { image = { imageInfo = S.IMG } }
  end
  if math.random(5) > 1 then it.title = pick(TITLES) end
  if math.random(4) > 1 then
    local tags, used = {}, {}
    for _ = 1, math.random(0, 3) do
      local t = pick(TAGS)
      if not used[t] then used[t] = true tags[#tags + 1] = t end
    end
    it.tags = { values = tags }
  end
  -- few distinct sort orders: ties, broken by the row key
  it.sortOrder = pick { 1, 2, 2.5, 3, 3, 10, -1 }
  return it
end

local function random_value(field, rows)
  if field == "type" then return pick { "IMAGE", "TEXT", "VIDEO" } end
  if field == "title" then return pick(TITLES) end
  if field == "name" then return pick { "g1", "g2", "member:1", "member:2", "", "g" } end
  if field == "sortOrder" then return pick { 1, 2, 2.5, 3, 10, -1, 0 } end
  local r = pick(rows)
  if r and math.random(4) > 1 then return r[field] end
  return "2026-01-01T00:00:00.000Z"
end

local OPS = {
  type = { "$eq", "$ne", "$in" },
  title = { "$eq", "$ne", "$in", "$startsWith" },
  name = { "$eq", "$ne", "$in", "$startsWith" },
  ["tags.values"] = { "$hasSome", "$hasAll" },
  _createdDate = { "$eq", "$ne", "$in", "$gt", "$gte", "$lt", "$lte" },
  _updatedDate = { "$eq", "$ne", "$in", "$gt", "$gte", "$lt", "$lte" },
  sortOrder = { "$eq", "$ne", "$in", "$gt", "$gte", "$lt", "$lte" },
}

local function random_condition(fields, rows)
  local f = pick(fields)
  local op = pick(OPS[f])
  local v
  if f == "tags.values" then
    v = {}
    for i = 1, math.random(0, 3) do v[i] = pick(TAGS) end
  elseif op == "$in" then
    v = {}
    for i = 1, math.random(0, 3) do v[i] = random_value(f, rows) end
  elseif op == "$startsWith" then
    v = pick { "a", "ab", "", "b", "Ä", "%" }
  else
    v = random_value(f, rows)
  end
  if op == "$eq" and math.random(2) == 1 then return { [f] = v } end -- the shorthand
  return { [f] = { [op] = v } }
end

local function random_filter(fields, rows, depth)
  local r = math.random(6)
  if depth < 2 and r == 1 then
    local l = {}
    for i = 1, math.random(0, 3) do l[i] = random_filter(fields, rows, depth + 1) end
    return { [pick { "$and", "$or" }] = l }
  end
  if r == 2 then -- two fields in one object: both
    local f = random_condition(fields, rows)
    local g = random_condition(fields, rows)
    for k, v in pairs(g) do if f[k] == nil then f[k] = v end end
    return f
  end
  return random_condition(fields, rows)
end

local function random_sort(fields)
  if math.random(4) == 1 then return nil end
  local s, used = {}, {}
  for _ = 1, math.random(1, 3) do
    local f = pick(fields)
    if not used[f] then
      used[f] = true
      local e = { fieldName = f }
      if math.random(3) > 1 then e.order = pick { "ASC", "DESC" } end
      s[#s + 1] = e
    end
  end
  return s
end

local function ids(rows)
  local t = {}
  for i, r in ipairs(rows) do t[i] = r._id end
  return t
end

local function describe_query(q)
  return progallery.encodeJSON(q)
end

-- every page of a query through its cursors: the rows, in order
local function all_pages(call, query, limit)
  local got, pages, cursor = {}, 0, nil
  repeat
    local q = cursor and { cursorPaging = { cursor = cursor, limit = limit } }
        or { filter = query.filter, sort = query.sort, cursorPaging = { limit = limit } }
    local r, err, code = call(q)
    assert(r, "query failed: " .. tostring(err) .. " (" .. tostring(code) .. ") for " .. describe_query(q))
    local list = r.items or r.galleries
    local meta = r.pagingMetadata
    assert.equal(#list, meta.count)
    assert.is_true(#list <= limit)
    for _, x in ipairs(list) do got[#got + 1] = x end
    cursor = meta.cursors.next
    assert.equal(cursor ~= nil, meta.hasNext)
    if cursor then assert.equal(limit, #list) end -- a next page only after a full one
    pages = pages + 1
    assert(pages < 1000, "no end of pages")
  until not cursor
  return got
end

describe("queries", function()
  describe("model-based: queryGalleryItems", function()
    local store, g, other, rows, rank
    setup(function()
      math.randomseed(SEED)
      store = S.admin()
      g = S.ok(store:createGallery { gallery = { name = "Q" } })
      other = S.ok(store:createGallery { gallery = { name = "other" } })
      rank = {}
      local n = 0
      for _ = 1, 4 do -- batches: ties on _createdDate
        local batch = {}
        for i = 1, math.random(5, 20) do batch[i] = random_item() end
        local made = S.ok(store:createGalleryItems(g._id, batch))
        for _, x in ipairs(made.items) do n = n + 1; rank[x._id] = n end
        S.ok(store:createGalleryItems(other._id, { random_item(), random_item() }))
      end
      -- some updates: _updatedDate differs from _createdDate
      local page = S.ok(store:listGalleryItems(g._id, { itemLimit = 100 }))
      for i = 1, #page.items, 3 do
        S.ok(store:updateGalleryItem({ galleryId = g._id, itemId = page.items[i]._id },
          { title = pick(TITLES) }))
      end
      rows = S.ok(store:listGalleryItems(g._id, { itemLimit = 100 })).items
      assert.equal(n, #rows)
    end)
    teardown(function() store:close() end)

    it("pages through random filters, sorts and page sizes exactly as the model", function()
      local fields = { "type", "title", "tags.values", "_createdDate", "_updatedDate", "sortOrder" }
      local sorts = { "sortOrder", "_createdDate", "_updatedDate" }
      local nonempty = 0
      for round = 1, 150 do
        local query = { filter = math.random(5) > 1 and random_filter(fields, rows, 0) or nil,
                        sort = random_sort(sorts) }
        local limit = pick { 1, 2, 3, 7, 50, 100 }
        local want = {}
        for _, r in ipairs(rows) do
          if not query.filter or matches(r, query.filter) then want[#want + 1] = r end
        end
        model_order(want, query.sort, "sortOrder", rank)
        local got = all_pages(function(q) return store:queryGalleryItems(g._id, q) end, query, limit)
        assert.same(ids(want), ids(got), "round " .. round .. " seed " .. SEED .. ": "
          .. describe_query(query) .. " limit " .. limit)
        if #want > 0 then nonempty = nonempty + 1 end
      end
      assert.is_true(nonempty > 50, "the random queries should mostly match something")
    end)

    it("returns items as getGalleryItem does", function()
      local r = S.ok(store:queryGalleryItems(g._id, { cursorPaging = { limit = 3 } }))
      for _, x in ipairs(r.items) do
        assert.same(S.ok(store:getGalleryItem { galleryId = g._id, itemId = x._id }), x)
      end
    end)
  end)

  describe("model-based: queryGalleries", function()
    local store, rows, rank
    setup(function()
      math.randomseed(SEED + 1)
      store = S.admin()
      rank, rows = {}, {}
      for i = 1, 40 do
        local gal = {}
        if math.random(5) > 1 then gal.name = pick { "g1", "g2", "member:1", "member:2", "", "g", "b" } end
        local made = S.ok(store:createGallery { gallery = gal })
        rank[made._id] = i
      end
      local off = 0
      while true do
        local page = S.ok(store:listGalleries { limit = 10, offset = off })
        for _, x in ipairs(page.galleries) do rows[#rows + 1] = x end
        off = off + 10
        if off >= page.totalGalleries then break end
      end
      assert.equal(40, #rows)
    end)
    teardown(function() store:close() end)

    it("pages through random filters, sorts and page sizes exactly as the model", function()
      for round = 1, 100 do
        local query = { filter = math.random(5) > 1 and random_filter({ "name", "_createdDate" }, rows, 0) or nil,
                        sort = random_sort { "name", "_createdDate" } }
        local limit = pick { 1, 2, 3, 7, 50 }
        local want = {}
        for _, r in ipairs(rows) do
          if not query.filter or matches(r, query.filter) then want[#want + 1] = r end
        end
        model_order(want, query.sort, "_createdDate", rank)
        local got = all_pages(function(q) return store:queryGalleries(q) end, query, limit)
        assert.same(ids(want), ids(got), "round " .. round .. " seed " .. SEED .. ": "
          .. describe_query(query) .. " limit " .. limit)
      end
    end)

    it("gives galleries as getGallery does, without their items", function()
      local r = S.ok(store:queryGalleries { cursorPaging = { limit = 5 } })
      assert.equal(5, #r.galleries)
      for _, x in ipairs(r.galleries) do
        local full = S.ok(store:getGallery(x._id))
        assert.is_nil(x.items)
        full.items = nil
        assert.same(full, x)
      end
    end)

    it("finds a member's gallery by name with one call", function()
      local r = S.ok(store:queryGalleries { filter = { name = "member:1" } })
      local want = 0
      for _, x in ipairs(rows) do if x.name == "member:1" then want = want + 1 end end
      assert.equal(want, #r.galleries)
      for _, x in ipairs(r.galleries) do assert.equal("member:1", x.name) end
    end)
  end)

  describe("defaults and bounds", function()
    local store, g
    before_each(function()
      store = S.admin()
      g = S.ok(store:createGallery { gallery = { name = "B" } })
      local items = {}
      for i = 1, 120 do items[i] = { title = "t" .. i, text = { html = "<p>x</p>" } } end
      S.ok(store:createGalleryItems(g._id, items))
    end)
    after_each(function() store:close() end)

    it("pages 50 items by default, at most 100", function()
      local r = S.ok(store:queryGalleryItems(g._id))
      assert.equal(50, #r.items)
      assert.equal(50, r.pagingMetadata.count)
      assert.is_string(r.pagingMetadata.cursors.next)
      r = S.ok(store:queryGalleryItems(g._id, { cursorPaging = { limit = 100 } }))
      assert.equal(100, #r.items)
      r = S.ok(store:queryGalleryItems(g._id, { cursorPaging = { limit = 100, cursor = r.pagingMetadata.cursors.next } }))
      assert.equal(20, #r.items)
      assert.is_nil(r.pagingMetadata.cursors.next)
      assert.is_false(r.pagingMetadata.hasNext)
    end)

    it("takes limit from the request that has the cursor", function()
      local r = S.ok(store:queryGalleryItems(g._id, { cursorPaging = { limit = 2 } }))
      r = S.ok(store:queryGalleryItems(g._id, { cursorPaging = { cursor = r.pagingMetadata.cursors.next } }))
      assert.equal(50, #r.items)
      assert.equal("t3", r.items[1].title)
    end)

    it("an empty result has no cursor", function()
      local r = S.ok(store:queryGalleryItems(g._id, { filter = { title = "none" } }))
      assert.same({}, r.items)
      assert.equal(0, r.pagingMetadata.count)
      assert.is_nil(r.pagingMetadata.cursors.next)
    end)

    it("keyset: a page after the cursor's row even when rows before it change", function()
      local r = S.ok(store:queryGalleryItems(g._id, { cursorPaging = { limit = 10 } }))
      local first = S.ok(store:listGalleryItems(g._id, { itemLimit = 5 })).items
      for _, x in ipairs(first) do
        S.ok(store:deleteGalleryItem { galleryId = g._id, itemId = x._id })
      end
      r = S.ok(store:queryGalleryItems(g._id, { cursorPaging = { cursor = r.pagingMetadata.cursors.next, limit = 3 } }))
      assert.same({ "t11", "t12", "t13" }, { r.items[1].title, r.items[2].title, r.items[3].title })
    end)

    it("cursors work on another connection of the same store", function()
      local path = S.tmppath()
      local a = S.ok(progallery.open { path = path, caller = "admin" })
      local ga = S.ok(a:createGallery { gallery = { items = { { title = "1", text = { html = "<p>1</p>" } },
        { title = "2", text = { html = "<p>2</p>" } } } } })
      local r = S.ok(a:queryGalleryItems(ga._id, { cursorPaging = { limit = 1 } }))
      local b = S.ok(progallery.open { path = path, caller = "visitor" })
      local r2 = S.ok(b:queryGalleryItems(ga._id, { cursorPaging = { cursor = r.pagingMetadata.cursors.next } }))
      assert.equal("2", r2.items[1].title)
      -- a visitor may query: it is a read
      assert.equal(1, #S.ok(b:queryGalleries { filter = { _createdDate = { ["$gte"] = ga._createdDate } } }).galleries)
      a:close()
      b:close()
      S.cleanup()
    end)
  end)

  describe("errors", function()
    local store, g, g2, cursor, gcursor
    setup(function()
      store = S.admin()
      g = S.ok(store:createGallery { gallery = { items = { { title = "a", text = { html = "<p>a</p>" } },
        { title = "b", text = { html = "<p>b</p>" } } } } })
      g2 = S.ok(store:createGallery { gallery = { items = { { title = "c", text = { html = "<p>c</p>" } },
        { title = "d", text = { html = "<p>d</p>" } } } } })
      cursor = S.ok(store:queryGalleryItems(g._id, { cursorPaging = { limit = 1 } })).pagingMetadata.cursors.next
      gcursor = S.ok(store:queryGalleries { cursorPaging = { limit = 1 } }).pagingMetadata.cursors.next
    end)
    teardown(function() store:close() end)

    local function items_err(path, query, code)
      return S.expect_err(code or "INVALID_ARGUMENT", path, store.queryGalleryItems, store, g._id, query)
    end
    local function galleries_err(path, query)
      return S.expect_err("INVALID_ARGUMENT", path, store.queryGalleries, store, query)
    end

    it("names an unknown field or operator", function()
      items_err("query.filter.foo", { filter = { foo = 1 } })
      items_err("query.filter.name", { filter = { name = "x" } }) -- a gallery field
      galleries_err("query.filter.title", { filter = { title = "x" } })
      items_err("query.filter.title.$regex", { filter = { title = { ["$regex"] = "a" } } })
      items_err("query.filter.$not", { filter = { ["$not"] = { title = "a" } } })
      items_err("query.filter.$and[2].bar", { filter = { ["$and"] = { { title = "a" }, { bar = 1 } } } })
      items_err("query.filter.type.$startsWith", { filter = { type = { ["$startsWith"] = "I" } } })
      items_err("query.filter.tags.values", { filter = { ["tags.values"] = "x" } })
      items_err("query.filter.title.$gt", { filter = { title = { ["$gt"] = "a" } } })
      items_err("query.foo", { foo = 1 })
      items_err("query.paging", { paging = { offset = 1 } })
      items_err("query.cursorPaging.offset", { cursorPaging = { offset = 1 } })
      items_err("query.sort[1].direction", { sort = { { fieldName = "sortOrder", direction = "ASC" } } })
      -- a type no item has is refused, not an empty page
      local msg = items_err("query.filter.type", { filter = { type = "FOO" } })
      assert.truthy(msg:find("expected IMAGE, VIDEO, TEXT or UNDEFINED", 1, true), msg)
      items_err("query.filter.type.$in[2]", { filter = { type = { ["$in"] = { "IMAGE", "image" } } } })
      items_err("query.filter.type.$ne", { filter = { type = { ["$ne"] = "" } } })
      assert.is_table(S.ok(store:queryGalleryItems(g._id, { filter = { type = { ["$in"] = { "IMAGE", "UNDEFINED" } } } })).items)
    end)

    it("refuses values of the wrong type", function()
      items_err("query.filter.title", { filter = { title = 5 } })
      items_err("query.filter.title", { filter = { title = { "a" } } })
      items_err("query.filter.sortOrder.$gt", { filter = { sortOrder = { ["$gt"] = "1" } } })
      items_err("query.filter.sortOrder.$gt", { filter = { sortOrder = { ["$gt"] = 1 / 0 } } })
      items_err("query.filter._createdDate.$lt", { filter = { _createdDate = { ["$lt"] = "yesterday" } } })
      items_err("query.filter._createdDate", { filter = { _createdDate = "2026-02-31T00:00:00.000Z" } })
      items_err("query.filter.title.$in", { filter = { title = { ["$in"] = "a" } } })
      items_err("query.filter.title.$in[2]", { filter = { title = { ["$in"] = { "a", 2 } } } })
      items_err("query.filter.title", { filter = { title = "\255" } })
      items_err("query.filter.$or", { filter = { ["$or"] = { title = "a" } } })
      items_err("query.filter", { filter = "title" })
      items_err("query", "all")
      items_err("query.sort", { sort = "sortOrder" })
      items_err("query.sort[1].fieldName", { sort = { { fieldName = "title" } } })
      items_err("query.sort[1].fieldName", { sort = { { order = "ASC" } } })
      items_err("query.sort[1].order", { sort = { { fieldName = "sortOrder", order = "asc" } } })
      items_err("query.sort[2].fieldName", { sort = { { fieldName = "sortOrder" }, { fieldName = "sortOrder" } } })
      galleries_err("query.sort[1].fieldName", { sort = { { fieldName = "sortOrder" } } })
      items_err("query.cursorPaging.cursor", { cursorPaging = { cursor = 5 } })
    end)

    it("bounds limit, nesting, terms and text", function()
      for _, l in ipairs { 0, 101, 1.5, -1, "10" } do
        items_err("query.cursorPaging.limit", { cursorPaging = { limit = l } })
      end
      local f = { title = "a" }
      for _ = 1, 9 do f = { ["$and"] = { f } } end
      local msg = items_err("query.filter" .. string.rep(".$and[1]", 8) .. ".$and", { filter = f })
      assert.matches("deeper than 8", msg)
      local many = {}
      for i = 1, 300 do many[i] = "v" .. i end
      items_err("query.filter.title.$in", { filter = { title = { ["$in"] = many } } })
      local ors = {}
      for i = 1, 300 do ors[i] = { title = "a" .. i } end
      items_err("query.filter.$or", { filter = { ["$or"] = ors } })
      items_err("query.filter.title", { filter = { title = string.rep("x", 9000) } })
      items_err("query.sort", { sort = { { fieldName = "sortOrder" }, { fieldName = "_createdDate" },
        { fieldName = "_updatedDate" }, { fieldName = "sortOrder" } } })
      -- at the bounds: accepted
      local ok_f = { title = "a" }
      for _ = 1, 8 do ok_f = { ["$and"] = { ok_f } } end
      S.ok(store:queryGalleryItems(g._id, { filter = ok_f, cursorPaging = { limit = 100 } }))
      local ok_in = {}
      for i = 1, 200 do ok_in[i] = "v" .. i end
      S.ok(store:queryGalleryItems(g._id, { filter = { title = { ["$in"] = ok_in } } }))
    end)

    it("takes no filter or sort beside a cursor (the cursor carries them)", function()
      items_err("query.filter", { filter = { title = "a" }, cursorPaging = { cursor = cursor } })
      items_err("query.sort", { sort = { { fieldName = "sortOrder" } }, cursorPaging = { cursor = cursor } })
    end)

    it("refuses forged, altered and foreign cursors", function()
      items_err("query.cursorPaging.cursor", { cursorPaging = { cursor = "" } })
      items_err("query.cursorPaging.cursor", { cursorPaging = { cursor = "abc" } })
      items_err("query.cursorPaging.cursor", { cursorPaging = { cursor = string.rep("A", 100) } })
      items_err("query.cursorPaging.cursor", { cursorPaging = { cursor = string.rep("A", 40000) } })
      items_err("query.cursorPaging.cursor", { cursorPaging = { cursor = cursor .. "=" } })
      items_err("query.cursorPaging.cursor", { cursorPaging = { cursor = cursor:sub(1, -2) } })
      -- every character changed, one at a time (a sample of positions)
      local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
      local step = math.max(1, math.floor(#cursor / 60))
      for i = 1, #cursor, step do
        local c = cursor:sub(i, i)
        local k = alphabet:find(c, 1, true)
        local other = alphabet:sub(k % 64 + 1, k % 64 + 1)
        items_err("query.cursorPaging.cursor",
          { cursorPaging = { cursor = cursor:sub(1, i - 1) .. other .. cursor:sub(i + 1) } })
      end
      -- another gallery's, another call's, another store's
      local msg = S.expect_err("INVALID_ARGUMENT", "query.cursorPaging.cursor", store.queryGalleryItems,
        store, g2._id, { cursorPaging = { cursor = cursor } })
      assert.matches("another gallery", msg)
      msg = items_err("query.cursorPaging.cursor", { cursorPaging = { cursor = gcursor } })
      assert.matches("queryGalleries", msg)
      galleries_err("query.cursorPaging.cursor", { cursorPaging = { cursor = cursor } })
      local elsewhere = S.admin()
      local ge = S.ok(elsewhere:createGallery { gallery = { items = { { title = "a", text = { html = "<p>a</p>" } },
        { title = "b", text = { html = "<p>b</p>" } } } } })
      local foreign = S.ok(elsewhere:queryGalleryItems(ge._id, { cursorPaging = { limit = 1 } })).pagingMetadata.cursors.next
      S.expect_err("INVALID_ARGUMENT", "query.cursorPaging.cursor", elsewhere.queryGalleryItems,
        elsewhere, ge._id, { cursorPaging = { cursor = cursor } })
      items_err("query.cursorPaging.cursor", { cursorPaging = { cursor = foreign } })
      elsewhere:close()
      -- the real one still works
      local r = S.ok(store:queryGalleryItems(g._id, { cursorPaging = { cursor = cursor } }))
      assert.equal("b", r.items[1].title)
    end)

    it("checks the gallery id", function()
      S.expect_err("INVALID_ARGUMENT", "galleryId", store.queryGalleryItems, store, "nope", {})
      S.expect_err("INVALID_ARGUMENT", "galleryId", store.queryGalleryItems, store, nil, {})
      S.expect_err("NOT_FOUND", "galleryId", store.queryGalleryItems, store, S.MISSING_ID, {})
    end)
  end)
end)

describe("queries on a store of schema 4 #sqlite", function()
  it("upgrades it on open: the indexes and the cursor secret", function()
    local path = S.tmppath()
    local s = S.ok(progallery.open { path = path, caller = "admin" })
    local g = S.ok(s:createGallery { gallery = { name = "old", items = {
      { title = "1", text = { html = "<p>1</p>" } }, { title = "2", text = { html = "<p>2</p>" } } } } })
    s:close()
    local out, ok = S.sqlite(path, "DROP INDEX items_by_created; DROP INDEX items_by_updated;"
      .. " DROP INDEX galleries_by_name; DROP INDEX galleries_by_name_sort; DROP TABLE secrets;"
      .. " PRAGMA user_version = 4;")
    assert(ok, out)
    s = S.ok(progallery.open { path = path, caller = "admin" })
    assert.equal(S.SQLITE_SCHEMA, tonumber((S.sqlite(path, "PRAGMA user_version"))))
    assert.equal("32", (S.sqlite(path, "SELECT length(value) FROM secrets WHERE name = 'cursor'")))
    local r = S.ok(s:queryGalleryItems(g._id, { cursorPaging = { limit = 1 } }))
    r = S.ok(s:queryGalleryItems(g._id, { cursorPaging = { cursor = r.pagingMetadata.cursors.next } }))
    assert.equal("2", r.items[1].title)
    assert.equal(g._id, S.ok(s:queryGalleries { filter = { name = "old" } }).galleries[1]._id)
    s:close()
    S.cleanup()
  end)
end)

-- PostgreSQL only: registered on the runs against a server (a SQLite run has its own above)
if S.postgres then
describe("queries on a PostgreSQL store of schema 4", function()
  it("upgrades it on open: the indexes and the cursor secret", function()
    local path = S.tmppath()
    local s = S.ok(progallery.open { path = path, caller = "admin" })
    local g = S.ok(s:createGallery { gallery = { name = "old", items = {
      { title = "1", text = { html = "<p>1</p>" } }, { title = "2", text = { html = "<p>2</p>" } } } } })
    local before = S.ok(s:queryGalleryItems(g._id, { cursorPaging = { limit = 1 } })).pagingMetadata.cursors.next
    s:close()
    local out, ok = S.sqlite(path, "DROP INDEX items_by_created; DROP INDEX items_by_updated;"
      .. " DROP INDEX galleries_by_name; DROP INDEX galleries_by_name_sort; DROP TABLE progallery_secrets;"
      .. " UPDATE progallery_meta SET value = 4 WHERE name = 'schema_version';")
    assert(ok, out)
    s = S.ok(progallery.open { path = path, caller = "admin" })
    assert.equal(tostring(S.POSTGRES_SCHEMA), (S.sqlite(path, "SELECT value FROM progallery_meta WHERE name = 'schema_version'")))
    assert.equal("32", (S.sqlite(path, "SELECT length(value) FROM progallery_secrets WHERE name = 'cursor'")))
    -- a new secret: the old store's cursors are not this one's
    S.expect_err("INVALID_ARGUMENT", "query.cursorPaging.cursor", s.queryGalleryItems, s, g._id,
      { cursorPaging = { cursor = before } })
    local r = S.ok(s:queryGalleryItems(g._id, { cursorPaging = { limit = 1 } }))
    r = S.ok(s:queryGalleryItems(g._id, { cursorPaging = { cursor = r.pagingMetadata.cursors.next } }))
    assert.equal("2", r.items[1].title)
    s:close()
  end)
end)
end
