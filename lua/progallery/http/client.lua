-- progallery.http.client: a small HTTP/1.1 client on nginx cosockets, for webhooks
-- (lua-resty-http is not packaged in Debian). One request per call; keep-alive through
-- the cosocket pool; every step bounded by the timeout, the response head by 64 KiB (and
-- each chunk-size line and the trailers too) and the body by maxBody.
--
--   local client = require "progallery.http.client"
--   local res, err = client.request {
--       url = "http://127.0.0.1:9000/hook", method = "POST", body = "...",
--       headers = { ["Content-Type"] = "text/plain" }, timeout = 10000,   -- ms
--   }
--   -- res = { status = 200, headers = { ["content-type"] = ... }, body = "..." }
--
-- Returns nil, message on a refused connection, a timeout, a connection closed before a
-- whole response, or a malformed response. https URLs verify the server's certificate
-- (nginx needs lua_ssl_trusted_certificate); host names need nginx's resolver.

local tonumber, tostring, type, pairs = tonumber, tostring, type, pairs
local concat = table.concat
local find, lower, sub, match, format = string.find, string.lower, string.sub, string.match, string.format

local _M = {}

local MAX_HEAD = 65536
local MAX_BODY = 1048576
local USER_AGENT = "progallery/" .. require "progallery.version"

-- url -> { scheme, host, port, path }, or nil, message.
function _M.parse_url(url)
    if type(url) ~= "string" then return nil, "url: expected a string" end
    local scheme, rest = match(url, "^(https?)://(.*)$")
    if not scheme then return nil, "url: expected an http:// or https:// URL" end
    local authority, path = match(rest, "^([^/?#]*)(.*)$")
    path = path:gsub("#.*$", "")
    if path == "" or sub(path, 1, 1) == "?" then path = "/" .. path end
    if find(authority, "@", 1, true) then return nil, "url: user info is not supported" end
    local host, port = match(authority, "^%[([^%]]+)%]:?(%d*)$")
    if not host then host, port = match(authority, "^([^:]+):?(%d*)$") end
    if not host or host == "" then return nil, "url: no host" end
    port = port ~= "" and tonumber(port) or (scheme == "https" and 443 or 80)
    if port < 1 or port > 65535 then return nil, "url: port out of range" end
    if find(path, "[%s%c]") then return nil, "url: spaces or control characters in the path" end
    return { scheme = scheme, host = host, port = port, path = path }
end

local function host_header(u)
    local h = find(u.host, ":", 1, true) and "[" .. u.host .. "]" or u.host
    if (u.scheme == "http" and u.port ~= 80) or (u.scheme == "https" and u.port ~= 443) then
        h = h .. ":" .. u.port
    end
    return h
end

-- One line (up to LF, a CR before it dropped) of at most `left` bytes: line, its size, or
-- nil, message. Not receive("*l"): that one buffers a line however long it is, so a
-- receiver sending one without end would grow the worker's memory for as long as it sends.
local function read_line(sock, left)
    local reader = sock:receiveuntil("\n")
    local parts, n = {}, 0
    while true do
        local data, err = reader(4096)
        if not data then
            if err then return nil, err end
            local line = concat(parts)
            if sub(line, -1) == "\r" then line = sub(line, 1, -2) end
            return line, n
        end
        n = n + #data
        if n > left then return nil, "line longer than " .. left .. " bytes" end
        parts[#parts + 1] = data
    end
end

-- the head: status line and headers, skipping 1xx answers; all of it within MAX_HEAD
local function read_head(sock)
    local total = 0
    while true do
        local line, got = read_line(sock, MAX_HEAD - total)
        if not line then return nil, "reading the status line: " .. tostring(got) end
        total = total + got
        local version, status = match(line, "^HTTP/(%d%.%d) (%d%d%d)")
        if not status then return nil, "malformed status line" end
        status = tonumber(status)
        local headers = {}
        while true do
            local h, n = read_line(sock, MAX_HEAD - total)
            if not h then return nil, "reading the headers: " .. tostring(n) end
            total = total + n
            if h == "" then break end
            local k, v = match(h, "^([^:%s]+):%s*(.-)%s*$")
            if not k then return nil, "malformed header line" end
            k = lower(k)
            headers[k] = headers[k] and headers[k] .. ", " .. v or v
        end
        if status >= 200 or status < 100 then return version, status, headers end
    end
end

local function read_chunked(sock, max_body)
    local parts, size = {}, 0
    while true do
        local line, err = read_line(sock, MAX_HEAD)
        if not line then return nil, "reading a chunk: " .. tostring(err) end
        local n = tonumber(match(line, "^%s*(%x+)"), 16)
        if not n then return nil, "malformed chunk size" end
        if n == 0 then
            local left, got = MAX_HEAD, nil
            repeat -- trailers, up to the empty line, within MAX_HEAD in all
                line, got = read_line(sock, left)
                if not line then return nil, "reading the trailers: " .. tostring(got) end
                left = left - got
            until line == ""
            return concat(parts)
        end
        size = size + n
        if size > max_body then return nil, "response body larger than " .. max_body .. " bytes" end
        local data
        data, err = sock:receive(n)
        if not data then return nil, "reading a chunk: " .. tostring(err) end
        parts[#parts + 1] = data
        data, err = sock:receive(2)
        if data ~= "\r\n" then return nil, "malformed chunk end" end
    end
end

local function read_to_close(sock, max_body)
    local parts, size = {}, 0
    while true do
        local data, err, partial = sock:receive(8192)
        data = data or partial
        if data and data ~= "" then
            size = size + #data
            if size > max_body then return nil, "response body larger than " .. max_body .. " bytes" end
            parts[#parts + 1] = data
        end
        if err == "closed" then return concat(parts) end
        if err then return nil, "reading the body: " .. tostring(err) end
    end
end

-- opts: url, method (POST), headers, body, timeout (ms, 10000), maxBody (bytes), keepalive
-- (true). -> res or nil, message.
function _M.request(opts)
    local u, err = _M.parse_url(opts.url)
    if not u then return nil, err end
    local method = opts.method or "POST"
    local body = opts.body or ""
    local timeout = opts.timeout or 10000
    local max_body = opts.maxBody or MAX_BODY
    local sock = ngx.socket.tcp()
    sock:settimeouts(timeout, timeout, timeout)
    local ok
    ok, err = sock:connect(u.host, u.port, { pool = u.scheme .. "://" .. u.host .. ":" .. u.port })
    if not ok then return nil, "connect: " .. tostring(err) end
    if u.scheme == "https" and sock:getreusedtimes() == 0 then
        ok, err = sock:sslhandshake(nil, u.host, true)
        if not ok then sock:close(); return nil, "TLS: " .. tostring(err) end
    end
    local head = { format("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", method, u.path, host_header(u), USER_AGENT) }
    local has_length = false
    for k, v in pairs(opts.headers or {}) do
        if find(k, "[%c:]") or find(tostring(v), "[\r\n]") then
            sock:close()
            return nil, "headers: control characters in " .. k
        end
        if lower(k) == "content-length" then has_length = true end
        head[#head + 1] = k .. ": " .. tostring(v) .. "\r\n"
    end
    if not has_length and (#body > 0 or method == "POST" or method == "PUT" or method == "PATCH") then
        head[#head + 1] = "Content-Length: " .. #body .. "\r\n"
    end
    local keepalive = opts.keepalive ~= false
    if not keepalive then head[#head + 1] = "Connection: close\r\n" end
    head[#head + 1] = "\r\n"
    head[#head + 1] = body
    local sent
    sent, err = sock:send(concat(head))
    if not sent then sock:close(); return nil, "send: " .. tostring(err) end
    local version, status, headers = read_head(sock)
    if not version then sock:close(); return nil, status end
    local res_body
    if method == "HEAD" or status == 204 or status == 304 then
        res_body = ""
    elseif headers["transfer-encoding"] and find(lower(headers["transfer-encoding"]), "chunked", 1, true) then
        res_body, err = read_chunked(sock, max_body)
    elseif headers["content-length"] then
        local n = tonumber(headers["content-length"])
        if not n or n < 0 or n ~= math.floor(n) then sock:close(); return nil, "malformed Content-Length" end
        if n > max_body then sock:close(); return nil, "response body larger than " .. max_body .. " bytes" end
        res_body, err = n > 0 and sock:receive(n) or "", nil
        if not res_body then err = "reading the body: " .. tostring(err) end
    else
        res_body, err = read_to_close(sock, max_body)
        keepalive = false
    end
    if not res_body then sock:close(); return nil, err end
    local conn = lower(headers["connection"] or "")
    if keepalive and version == "1.1" and not find(conn, "close", 1, true) then
        sock:setkeepalive(60000, 16)
    else
        sock:close()
    end
    return { status = status, headers = headers, body = res_body }
end

return _M
