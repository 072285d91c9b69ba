-- busted helper: say which VM runs and which progallery C module it picks up.
local vm = (type(jit) == "table" and jit.version) or _VERSION
local so = package.searchpath and package.searchpath("progallery", package.cpath) or "?"
io.stderr:write(("[progallery tests] VM: %s; module: %s\n"):format(vm, tostring(so or "not found")))
