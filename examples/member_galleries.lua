-- One gallery per site member, kept in the backend and shown on a page (issue 3; the
-- "complex scenario" of the Wix Pro Gallery backend docs).
--
--   admin side   : an elevated script makes a template gallery, then clones it once per
--                  member and adds the member's own items.
--   visitor side : page code asks for the logged-in member's gallery and gets $w.Gallery
--                  items as JSON; what a $w.Gallery cannot show is reported, not shown.
--
-- Run from the repository root:
--   LUA_PATH="./lua/?.lua;;" LUA_CPATH="./build/?.so;;" lua5.4 examples/member_galleries.lua [dbpath]
-- Without dbpath it uses a temporary database and removes it. Exits non-zero on failure.

local progallery = require "progallery"
local frontend = require "progallery.frontend"

local TEMPLATE_NAME = "Member gallery template"

local function gallery_name(memberId)
    return "member:" .. memberId
end

-- Media of the sample data (the Wix documentation's examples).
local IMG_VIEW = "wix:image://v1/99bc1c6f66444769b531221214c885ac.jpeg/A%20View.jpeg#originWidth=3264&originHeight=2448"
local IMG_FLOWERS = "wix:image://v1/68d3a9_1de7529c444b4c9eb38401f8efe0cad2.jpg/flowers.jpg#originWidth=1970&originHeight=1120"
local IMG_WELCOME = "wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/38939f9568z222d6avc6285c9ac1e9129.jpg#originWidth=200&originHeight=199"
local VID_BUNNY = "wix:video://v1/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c/BigBuckBunny.mp4#posterUri=8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg&posterWidth=1280&posterHeight=720"

-- Every member gallery starts with these (cloned from the template).
local TEMPLATE_ITEMS = {
    { title = "Welcome", description = "Your own gallery", image = { imageInfo = IMG_WELCOME } },
    { title = "About", text = { html = "<p>Add your photos and videos here.</p>" } },
}

-- Each member's own items. Alice's last item links with text, so the page cannot show it.
local MEMBERS = {
    { id = "alice", items = {
        { title = "A View", image = { imageInfo = IMG_VIEW }, link = { url = "https://www.wix.com" } },
        { title = "Bunny", video = { type = "WIX_MEDIA", videoInfo = VID_BUNNY, durationInMillis = 5000 } },
        { title = "Flowers", image = { imageInfo = IMG_FLOWERS },
          link = { text = "Buy a print", url = "https://example.com/shop" } },
    } },
    { id = "bob", items = {
        { title = "Trailer", video = { type = "VIMEO", videoInfo = "https://vimeo.com/322240916" } },
        { title = "External photo", image = { imageInfo = "https://static.wixstatic.com/media/flowers.jpg" } },
    } },
}

-- Store results are (value) or (nil, message, code); turn a failure into a raise with
-- the code in it, so main's error handler reports it and the script exits non-zero.
local function must(what, v, err, code)
    if v == nil then error(what .. ": " .. tostring(err) .. " (" .. tostring(code) .. ")", 0) end
    return v
end

-- A gallery by exact name: one queryGalleries call (a read: any identity may do it; the
-- name index answers it however many galleries the site has). The oldest wins if a name
-- was ever given twice.
local function find_gallery(store, name)
    local page = must("queryGalleries", store:queryGalleries {
        filter = { name = name }, cursorPaging = { limit = 1 } })
    return page.galleries[1]
end

---------------------------------------------------------------------------- admin side

-- Runs elevated: the store itself is a visitor store, so these writes succeed only
-- inside progallery.elevate. Re-running on an existing database adds nothing twice.
local seed = progallery.elevate(function(store, members)
    local template = find_gallery(store, TEMPLATE_NAME)
    if not template then
        template = must("createGallery(template)", store:createGallery {
            gallery = { name = TEMPLATE_NAME, items = TEMPLATE_ITEMS } })
    end
    print(("admin: template %s (%d items)"):format(template._id, template.totalItems))
    for _, member in ipairs(members) do
        local name = gallery_name(member.id)
        local g = find_gallery(store, name)
        if g then
            print(("admin: member %s already has gallery %s"):format(member.id, g._id))
        else
            g = must("clone for " .. member.id, store:createGallery {
                cloneFromGalleryId = template._id, gallery = { name = name } })
            local added = must("items for " .. member.id,
                store:createGalleryItems(g._id, member.items))
            print(("admin: member %s -> gallery %s (%d cloned + %d own items)")
                :format(member.id, g._id, g.totalItems, #added.items))
        end
    end
    return template
end)

--------------------------------------------------------------------------- visitor side

-- What a page's backend function returns for the logged-in member: JSON for
-- $w("#gallery").items, plus what was left out and why. Runs with the member's identity,
-- which may only read.
local function member_gallery_json(store, member)
    local view = must("as member", store:as(member))
    local g = find_gallery(view, gallery_name(member.id))
    if not g then
        view:close()
        return nil, "no gallery for member " .. member.id, "NOT_FOUND"
    end
    local json, skipped, items = frontend.galleryJSON(view, g._id)
    view:close()
    return json, skipped, items -- or nil, message, code
end

---------------------------------------------------------------------------------- main

local function main(dbpath)
    local store = must("open", progallery.open { path = dbpath }) -- caller: visitor

    -- Unelevated, the same store may not write.
    local r, err, code = store:createGallery { gallery = { name = "sneaky" } }
    if r ~= nil or code ~= "PERMISSION_DENIED" then
        error("a visitor could write: " .. tostring(err) .. " " .. tostring(code), 0)
    end
    print("visitor write without elevation: " .. code)

    seed(store, MEMBERS)

    for _, m in ipairs(MEMBERS) do
        local member = { role = "member", id = m.id }
        local json, skipped, items = member_gallery_json(store, member)
        must("page for " .. m.id, json, skipped, items)
        print(("page: member %s sees %d items, %d skipped"):format(m.id, #items, #skipped))
        for _, s in ipairs(skipped) do
            print(("  skipped %s: %s"):format(tostring(s._id), s.reason))
        end
        print(("json %s: %s"):format(m.id, json))
    end

    local none, msg, ncode = member_gallery_json(store, { role = "member", id = "carol" })
    if none ~= nil or ncode ~= "NOT_FOUND" then error("carol should have no gallery", 0) end
    print(("page: member carol: %s (%s)"):format(msg, ncode))

    store:close()
end

local dbpath, temporary = arg and arg[1], false
if not dbpath then
    dbpath = os.tmpname()
    os.remove(dbpath) -- let the store create it
    dbpath = dbpath .. ".db"
    temporary = true
end

local ok, err = xpcall(function() return main(dbpath) end, function(e)
    return debug.traceback(tostring(e), 2)
end)

if temporary then
    for _, suffix in ipairs { "", "-wal", "-shm", "-journal" } do os.remove(dbpath .. suffix) end
end

if not ok then
    io.stderr:write("member_galleries: FAILED: ", tostring(err), "\n")
    os.exit(1)
end
print("member_galleries: OK")
