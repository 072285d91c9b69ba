-- The `progallery` command (docs/site.md, "The progallery command"): one entry point,
-- main(args) -> exit status, and the pieces every subcommand shares: option parsing, help,
-- opening the store, messages. Each subcommand is a module of progallery.cli.* with
--   usage (text), options (spec for parse) and run(opts, positional, io) -> status.
-- Exit statuses: 0 done, 1 the work failed (a store error, a failed check), 2 bad usage.
local _M = {}

_M.COMMANDS = {
  { "import-folder", "progallery.cli.import_folder", "one gallery from a folder of images" },
  { "export", "progallery.cli.transfer", "write a whole store as JSON Lines" },
  { "import", "progallery.cli.transfer", "read an export into an empty store" },
  { "serve", "progallery.cli.serve", "run make serve's nginx (the API, the pages, /media/)" },
  { "stats", "progallery.cli.stats", "galleries, items, events" },
  { "check", "progallery.cli.stats", "the store's integrity, every totalItems and totalGalleries" },
}

local USAGE = [[
usage: progallery COMMAND [options]    (progallery COMMAND --help for each)

%s
Store options (every command that opens a store):
  --db PATH     the SQLite file (default: $PROGALLERY_DB, else .serve/data/progallery.db,
                the file `make serve` serves)
  --dsn DSN     a PostgreSQL store (libpq conninfo or postgresql:// URI) instead of --db
]]

-- The default store and media folder are make serve's, so that what the command imports
-- is what the page shows.
function _M.default_db() return os.getenv("PROGALLERY_DB") or ".serve/data/progallery.db" end
function _M.default_media() return os.getenv("PROGALLERY_MEDIA") or ".serve/media" end

-- An error of usage: raised as a table, caught by main (status 2).
local Usage = {}
local function usage_error(msg) error(setmetatable({ msg = msg }, Usage), 0) end
_M.usage_error = usage_error

-- A failure of the work: status 1.
local Fail = {}
function _M.fail(msg) error(setmetatable({ msg = msg }, Fail), 0) end

-- parse(args, spec) -> options, positional. spec: { ["--name"] = "value" | "flag", ... }.
-- "--opt=value" and "--opt value" both work; "--" ends the options.
function _M.parse(args, spec)
  local opts, pos, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do pos[#pos + 1] = args[j] end
      break
    elseif a:sub(1, 2) == "--" or (a:sub(1, 1) == "-" and #a > 1 and a ~= "-") then
      local name, value = a:match("^(%-%-[^=]+)=(.*)$")
      name = name or a
      if name == "-h" then name = "--help" end
      local kind = spec[name]
      if not kind then usage_error("unknown option " .. name) end
      if kind == "flag" then
        if value then usage_error(name .. " takes no value") end
        opts[name:sub(3)] = true
      else
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then usage_error(name .. " needs a value") end
          -- "--db --media DIR" is a forgotten value, not a file named --media
          if value:sub(1, 2) == "--" then
            usage_error(("%s needs a value, got the option %s (for a value that starts with --, write %s=VALUE)")
              :format(name, value, name))
          end
        end
        opts[name:sub(3)] = value
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end

-- The store of --db / --dsn, as admin (--dsn: the PostgreSQL engine, docs/engines.md), and
-- its name for messages. Fails when the store does not open; both options is a usage error.
function _M.open_store(opts, readonly)
  local progallery = require "progallery"
  if opts.dsn and opts.db then usage_error("--db and --dsn: one store only") end
  if opts.dsn then
    local store, err, code = progallery.open{ dsn = opts.dsn, caller = "admin", readonly = readonly or nil }
    if not store then _M.fail(("cannot open the PostgreSQL store: %s (%s)"):format(tostring(err), tostring(code))) end
    return store, "(PostgreSQL)"
  end
  local path = opts.db or _M.default_db()
  if not readonly then
    local dir = path:match("^(.*)/[^/]*$")
    if dir and dir ~= "" then os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'") end
  end
  local store, err, code = progallery.open{ path = path, caller = "admin", readonly = readonly or nil }
  if not store then _M.fail(("cannot open the store %s: %s (%s)"):format(path, tostring(err), tostring(code))) end
  return store, path
end

-- Calls store:fn(...) and fails with the store's message on an error.
function _M.call(store, fn, ...)
  local res, err, code = store[fn](store, ...)
  if res == nil then _M.fail(("%s: %s (%s)"):format(fn, tostring(err), tostring(code))) end
  return res
end

-- Shell quoting, for the few commands the CLI runs (find, mkdir, sh).
function _M.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function _M.is_dir(path)
  local ok = os.execute("test -d " .. _M.q(path))
  return ok == true or ok == 0
end

-- True when stderr is a terminal (for the progress bar).
function _M.stderr_is_tty()
  local ok = os.execute("test -t 2")
  return ok == true or ok == 0
end

local function main_usage()
  local lines = {}
  for _, c in ipairs(_M.COMMANDS) do lines[#lines + 1] = ("  %-14s %s"):format(c[1], c[3]) end
  return USAGE:format("Commands:\n" .. table.concat(lines, "\n") .. "\n")
end

-- main(args[, out, err]) -> exit status. out and err are file handles (io.stdout, io.stderr).
function _M.main(args, out, err)
  out, err = out or io.stdout, err or io.stderr
  local name = args[1]
  if name == nil or name == "--help" or name == "-h" or name == "help" then
    (name and out or err):write(main_usage())
    return name and 0 or 2
  end
  if name == "--version" then
    out:write("progallery ", require "progallery.version", "\n")
    return 0
  end
  local modname
  for _, c in ipairs(_M.COMMANDS) do if c[1] == name then modname = c[2] end end
  if not modname then
    err:write("progallery: unknown command '", tostring(name), "' (progallery --help lists them)\n")
    return 2
  end
  local cmd = require(modname)
  local rest = {}
  for i = 2, #args do rest[i - 1] = args[i] end
  local ok, res = pcall(function()
    local spec = cmd.options(name)
    spec["--help"] = "flag"
    local opts, pos = _M.parse(rest, spec)
    if opts.help then
      out:write(cmd.usage(name))
      return 0
    end
    if opts.dsn and opts.db then usage_error("--db and --dsn: one store only") end
    return cmd.run(name, opts, pos, out, err)
  end)
  if ok then
    -- what a command wrote must have arrived: a full disk or a closed pipe is a failure
    -- (io.write buffers, so a write error may show only at the flush)
    local flushed, werr = out:flush()
    if not flushed and (res or 0) == 0 then
      err:write("progallery ", name, ": cannot write the output: ", tostring(werr), "\n")
      return 1
    end
    return res or 0
  end
  local mt = type(res) == "table" and getmetatable(res)
  if mt == Usage then
    err:write("progallery ", name, ": ", res.msg, " (progallery ", name, " --help)\n")
    return 2
  elseif mt == Fail then
    err:write("progallery ", name, ": ", res.msg, "\n")
    return 1
  end
  err:write("progallery ", name, ": internal error: ", tostring(res), "\n")
  return 1
end

return _M
