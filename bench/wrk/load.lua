-- wrk script shared by bench/run and bench/auth-flood. Configured by environment:
--   BENCH_KEYS   file with one API key per line (required)
--   BENCH_PICK   rotate (default: each request takes the next key, threads interleaved),
--                random (a random key per request), first (always the first key: a hot
--                account)
--   BENCH_ORDER  set: POST /v1/order with a distinct Idempotency-Key per request
--   BENCH_PLAN   plan ordered (default fr-1gb-3d)
--   BENCH_RUN    prefix making Idempotency-Keys unique across runs
--   BENCH_DELAY_MS  pause before each request on a connection (rate-limited load)
--   BENCH_OUT    where done() writes its JSON summary (latencies in microseconds)
--   BENCH_ACCEPT_ENCODING  the Accept-Encoding header (default gzip, as partners' HTTP
--                clients send it; empty: none)
-- The baseline is loaded through this same script, so both sides pay the same client cost.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  keys = {}
  for line in io.lines(os.getenv("BENCH_KEYS")) do
    if #line > 0 then keys[#keys + 1] = line end
  end
  assert(#keys > 0, "BENCH_KEYS holds no key")
  pick = os.getenv("BENCH_PICK") or "rotate"
  order = os.getenv("BENCH_ORDER") ~= nil and os.getenv("BENCH_ORDER") ~= ""
  run = os.getenv("BENCH_RUN") or tostring(os.time())
  plan = os.getenv("BENCH_PLAN") or "fr-1gb-3d"
  delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
  counter = 0
  math.randomseed(os.time() * 1000 + id)
  body = '{"planId":"' .. plan .. '","quantity":1,"reference":"bench"}'
  headers = {}
  headers["Content-Type"] = "application/json"
  local encoding = os.getenv("BENCH_ACCEPT_ENCODING") or "gzip"
  if encoding ~= "" then headers["Accept-Encoding"] = encoding end
end

local function key()
  if pick == "first" then
    return keys[1]
  elseif pick == "random" then
    return keys[math.random(#keys)]
  end
  -- Threads interleave, so no two requests share a key before the list wraps around.
  return keys[((counter * nthreads + id) % #keys) + 1]
end

function request()
  counter = counter + 1
  headers["Authorization"] = "Bearer " .. key()
  if order then
    headers["Idempotency-Key"] = run .. "-" .. id .. "-" .. counter
    return wrk.format("POST", "/v1/order", headers, body)
  end
  return wrk.format("GET", nil, headers, nil)
end

if os.getenv("BENCH_DELAY_MS") then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout)
  local path = os.getenv("BENCH_OUT")
  if path then
    local f = assert(io.open(path, "w"))
    f:write(out, "\n")
    f:close()
  else
    io.write(out, "\n")
  end
end
