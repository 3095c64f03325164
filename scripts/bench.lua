-- wrk script for scripts/bench.py (`make bench`).
--
--   BENCH_COOKIE="sessionid=…" wrk -t1 -c1 -d10s -s scripts/bench.lua http://127.0.0.1:8000/issues/
--
-- Sends the session cookie from $BENCH_COOKIE on every request, counts
-- responses that are neither 2xx nor 3xx as errors, and prints one JSON line
-- (prefixed "BENCH_JSON ") with the latency percentiles in milliseconds,
-- requests per second, the number of requests, the errors and the average
-- response size (headers included), which shows a page that quietly changed.

local cookie = os.getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

-- Every thread has its own Lua state: keep them to add up their counters in done().
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad_status = 0 -- not 2xx/3xx
  redirects = 0 -- 3xx: a lost session would show up here as redirects to the login page
end

function response(status, headers, body)
  if status < 200 or status >= 400 then
    bad_status = bad_status + 1
  elseif status >= 300 then
    redirects = redirects + 1
  end
end

function done(summary, latency, requests)
  local bad, redirected = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("bad_status")
    redirected = redirected + thread:get("redirects")
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'BENCH_JSON {"p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, '
      .. '"rps": %.2f, "requests": %d, "errors": %d, "socket_errors": %d, '
      .. '"timeouts": %d, "bad_status": %d, "redirects": %d, "seconds": %.2f, '
      .. '"bytes_per_response": %d}\n',
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests / seconds, summary.requests, socket_errors + bad,
    socket_errors, e.timeout, bad, redirected, seconds,
    summary.requests > 0 and math.floor(summary.bytes / summary.requests) or 0
  ))
end
