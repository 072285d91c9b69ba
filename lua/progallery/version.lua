-- The version of progallery: the one place it is written (the C module gets it from here
-- through the Makefile; the rockspec's name and version are checked against it by a spec).
return "0.1.0"
