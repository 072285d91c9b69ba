-- The endpoints spec/webhooks_spec.lua points progallery.http.client at, inside a private
-- nginx: each answers one way (a length, chunks, until close, an error, never, a drop).
-- /run?to=<path>&timeout=<ms> makes one client request to this same server and answers
-- its outcome as JSON. Not a spec file itself.
local cjson = require "cjson"
local client = require "progallery.http.client"

local _M = {}

function _M.target(kind)
  if kind == "length" then
    ngx.req.read_body()
    ngx.header["Content-Length"] = 5 + #(ngx.req.get_body_data() or "")
    ngx.print("echo:" .. (ngx.req.get_body_data() or ""))
  elseif kind == "chunked" then
    ngx.print("one,"); ngx.flush(true); ngx.print("two"); ngx.flush(true)
  elseif kind == "close" then -- HTTP/1.1 with neither a length nor chunks: ends at the close
    local sock = ngx.req.socket(true)
    sock:send("HTTP/1.1 200 OK\r\nConnection: close\r\nX-A: 1\r\nX-A: 2\r\n\r\nuntil close")
    return
  elseif kind == "continue" then
    local sock = ngx.req.socket(true)
    sock:send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    return
  elseif kind == "status500" then
    ngx.status = 500; ngx.print("no")
  elseif kind == "hang" then
    ngx.sleep(5); ngx.print("late")
  elseif kind == "drop" then
    return ngx.exit(444)
  elseif kind == "longline" then -- a header line that never ends (the client must stop at 64 KiB)
    local sock = ngx.req.socket(true)
    sock:send("HTTP/1.1 200 OK\r\nX-Long: ")
    for _ = 1, 40 do sock:send(("x"):rep(4096)) end
    ngx.sleep(1)
    return
  elseif kind == "trailers" then -- chunks, then trailers: a few, or too many
    local sock = ngx.req.socket(true)
    local many = ngx.var.arg_many
    sock:send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n")
    if many then for _ = 1, 3000 do sock:send(("X-T: %s\r\n"):format(("t"):rep(30))) end end
    sock:send("\r\n")
    return
  elseif kind == "garbage" then
    local sock = ngx.req.socket(true)
    sock:send("HELLO\r\n\r\n")
    return
  end
end

function _M.run()
  local args = ngx.req.get_uri_args()
  local t0 = ngx.now()
  local res, err = client.request {
    url = "http://127.0.0.1:" .. ngx.var.server_port .. args.to, method = args.method or "POST",
    body = args.body or "", timeout = tonumber(args.timeout) or 2000,
    headers = { ["Content-Type"] = "text/plain" },
  }
  ngx.update_time()
  ngx.say(cjson.encode { status = res and res.status, body = res and res.body, err = err,
    headers = res and res.headers, seconds = ngx.now() - t0 })
end

return _M
