-- A progress bar on stderr for the progallery command, drawn only when stderr is a terminal
-- (a log or a pipe gets nothing but the command's own summary lines).
--   local bar = progress.new("importing", total)   -- total may be nil (unknown)
--   bar:step(n)  bar:done()
local cli = require "progallery.cli"

local _M = {}
local Bar = {}
Bar.__index = Bar

local WIDTH = 30

function _M.new(label, total, stream, force)
  local tty = force
  if tty == nil then tty = cli.stderr_is_tty() end
  return setmetatable({ label = label, total = total, n = 0, shown = -1, tty = tty,
                        stream = stream or io.stderr, t0 = os.time() }, Bar)
end

function Bar:draw()
  local n, total = self.n, self.total
  local line
  if total and total > 0 then
    local frac = math.min(1, n / total)
    local fill = math.floor(frac * WIDTH + 0.5)
    line = ("\r%s [%s%s] %d/%d %3d%%"):format(self.label, ("#"):rep(fill), ("."):rep(WIDTH - fill),
      n, total, math.floor(frac * 100))
  else
    line = ("\r%s %d"):format(self.label, n)
  end
  self.stream:write(line)
  self.stream:flush()
end

function Bar:step(k)
  self.n = self.n + (k or 1)
  if not self.tty then return end
  -- redraw at most once per percent (or per item when the total is unknown and small)
  local mark = self.total and self.total > 0 and math.floor(self.n * 100 / self.total) or self.n
  if mark ~= self.shown then
    self.shown = mark
    self:draw()
  end
end

function Bar:done()
  if self.tty then
    self:draw()
    self.stream:write("\n")
  end
end

return _M
