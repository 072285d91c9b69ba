-- progallery serve [start|stop|status] [--port N] [--db PATH] [--media DIR]
-- make serve, from the command: runs scripts/serve.sh of the source checkout (the nginx
-- template, the app and the pages live there), found next to this module or through
-- $PROGALLERY_ROOT. An installed command without a checkout says so.
local cli = require "progallery.cli"

local _M = {}

function _M.options()
  return { ["--port"] = "value", ["--db"] = "value", ["--dsn"] = "value", ["--media"] = "value" }
end

function _M.usage()
  return [[
usage: progallery serve [start|stop|status] [--port N] [--db PATH] [--media DIR]

Runs what `make serve` runs (scripts/serve.sh of the source checkout): nginx on 127.0.0.1
with the REST API, the pages (/ and /g/{galleryId}) and the media folder under /media/.
The checkout is the one this command came from, or $PROGALLERY_ROOT.

  --port N      listen port on 127.0.0.1 (default: $PORT, else 8080)
  --db PATH     the SQLite store (default: .serve/data/progallery.db)
  --media DIR   the media folder (default: .serve/media)
  --dsn DSN     a PostgreSQL store (libpq conninfo or postgresql:// URI)
]]
end

local function checkout()
  local root = os.getenv("PROGALLERY_ROOT")
  if not root then
    local src = debug.getinfo(1, "S").source
    root = src:match("^@(.*)/lua/progallery/cli/serve%.lua$")
    if root == "" then root = "." end
  end
  if root then
    local f = io.open(root .. "/scripts/serve.sh", "rb")
    if f then f:close(); return root end
  end
  return nil
end

function _M.run(_, opts, pos)
  local action = pos[1] or "start"
  if action ~= "start" and action ~= "stop" and action ~= "status" then
    cli.usage_error("unknown action " .. action .. " (start, stop or status)")
  end
  if #pos > 1 then cli.usage_error("one action only") end
  if opts.dsn and opts.db then cli.usage_error("--db and --dsn: one store only") end
  if opts.port and not opts.port:match("^%d+$") then cli.usage_error("--port: expected a number") end
  local root = checkout()
  if not root then
    cli.fail("serve runs scripts/serve.sh from a progallery source checkout; set PROGALLERY_ROOT to one")
  end
  local env = {}
  local function abs(p)
    if p:sub(1, 1) == "/" then return p end
    local pwd = os.getenv("PWD") or "."
    return pwd .. "/" .. p
  end
  if opts.port then env[#env + 1] = "PORT=" .. cli.q(opts.port) end
  if opts.db then env[#env + 1] = "PROGALLERY_DB=" .. cli.q(abs(opts.db)) end
  if opts.dsn then env[#env + 1] = "PROGALLERY_DSN=" .. cli.q(opts.dsn) end
  if opts.media then env[#env + 1] = "PROGALLERY_MEDIA=" .. cli.q(abs(opts.media)) end
  local cmd = table.concat(env, " ") .. " sh " .. cli.q(root .. "/scripts/serve.sh") .. " " .. action
  local ok, _, code = os.execute(cmd)
  if ok == true or ok == 0 then return 0 end
  return (type(code) == "number" and code > 0) and 1 or 1
end

return _M
