-- Load script for wrk (bench/run). The scenario comes from the environment:
--   BENCH_MODE   token-info | me | introspection | code-exchange | refresh | oauth1-call | login
--   BENCH_FILE   one token (or code, refresh token, or pre-signed OAuth1 Authorization header)
--                per line
--   BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_REDIRECT   (token-info, introspection,
--                code-exchange, refresh)
--   BENCH_COOKIE, BENCH_CSRF, BENCH_USERNAME, BENCH_PASSWORD (login)
-- Requests are built in init() where they can be reused, so wrk spends its time sending them.
-- done() prints one JSON line that bench/driver.py reads.

local mode = os.getenv("BENCH_MODE")
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if #line > 0 then out[#out + 1] = line end
  end
  return out
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local reqs, items, next_item, step, seq
local client_id = os.getenv("BENCH_CLIENT_ID") or "0"
local secret = urlencode(os.getenv("BENCH_CLIENT_SECRET") or "")
local redirect = urlencode(os.getenv("BENCH_REDIRECT") or "")

-- The request that spends one line of BENCH_FILE (a code, a refresh token, a signed header).
function spend(item)
  if mode == "code-exchange" then
    local body = "grant_type=authorization_code&client_id=" .. client_id .. "&client_secret=" .. secret ..
      "&redirect_uri=" .. redirect .. "&code=" .. item
    return wrk.format("POST", "/oauth2/token", { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
  elseif mode == "refresh" then
    local body = "grant_type=refresh_token&client_id=" .. client_id .. "&client_secret=" .. secret ..
      "&refresh_token=" .. item
    return wrk.format("POST", "/oauth2-1/token", { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
  end
  if item == "exhausted" then item = "OAuth exhausted" end
  return wrk.format("GET", "/wp-json/wp/v2/users/me", { ["Authorization"] = item })
end

function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
  step = tonumber(os.getenv("BENCH_THREADS") or "2")
  if os.getenv("BENCH_SEQ") == "1" then seq = id end
  if mode == "token-info" then
    reqs = {}
    for _, t in ipairs(lines(os.getenv("BENCH_FILE"))) do
      reqs[#reqs + 1] = wrk.format("GET", "/oauth2/token-info?client_id=" .. client_id .. "&token=" .. t)
    end
  elseif mode == "me" then
    reqs = {}
    for _, t in ipairs(lines(os.getenv("BENCH_FILE"))) do
      reqs[#reqs + 1] = wrk.format("GET", "/rest/v1.1/me", { ["Authorization"] = "Bearer " .. t })
    end
  elseif mode == "introspection" then
    reqs = {}
    local auth = "client_id=" .. client_id .. "&client_secret=" .. urlencode(os.getenv("BENCH_CLIENT_SECRET") or "")
    for _, t in ipairs(lines(os.getenv("BENCH_FILE"))) do
      reqs[#reqs + 1] = wrk.format("POST", "/oauth2-1/token-info",
        { ["Content-Type"] = "application/x-www-form-urlencoded" }, auth .. "&token=" .. t)
    end
  elseif mode == "code-exchange" or mode == "refresh" or mode == "oauth1-call" then
    -- Each code, refresh token or signed request once (it is spent): thread k keeps lines
    -- k, k+T, k+2T, ..., each request formatted here, as the other modes' are.
    items = {}
    local n = 0
    for line in io.lines(os.getenv("BENCH_FILE")) do
      n = n + 1
      if #line > 0 and (n - id) % step == 0 then items[#items + 1] = spend(line) end
    end
    next_item = 1
  elseif mode == "login" then
    local body = "csrf=" .. urlencode(os.getenv("BENCH_CSRF")) .. "&username=" ..
      urlencode(os.getenv("BENCH_USERNAME")) .. "&password=" .. urlencode(os.getenv("BENCH_PASSWORD")) ..
      "&redirect_to=%2F"
    reqs = { wrk.format("POST", "/login", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Cookie"] = os.getenv("BENCH_COOKIE"),
    }, body) }
  end
end

function request()
  if items then
    local r = items[next_item] or spend("exhausted")
    next_item = next_item + 1
    return r
  end
  if seq then
    -- Warm-up: every token once, thread k taking k, k+T, ...
    seq = seq + step
    return reqs[(seq % #reqs) + 1]
  end
  return reqs[math.random(#reqs)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
