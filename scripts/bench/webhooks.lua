-- wrk script: sends pre-signed requests read from a file, each once.
--
-- The file (BENCH_REQUESTS) holds one request per line: the Authorization header, a tab,
-- the JSON body. Every wrk thread takes every n-th line (n = threads), so no two requests
-- repeat while the file lasts; past its end the script sends the next file line again and
-- counts it, so the report shows if the run was too long for the file (a repeated webhook
-- is a duplicate, cheaper than the work being measured).
--
-- At the end it prints one JSON line prefixed with "BENCH " that scripts/bench.py reads.

local path = os.getenv("BENCH_PATH") or "/api/v1.0/rooms/webhooks-livekit/"
local file = os.getenv("BENCH_REQUESTS")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  requests, lines = {}, 0
  local n = 0
  if file then
    for line in io.lines(file) do
      if n % tonumber(os.getenv("BENCH_THREADS") or "1") == id then
        local auth, body = line:match("^([^\t]*)\t(.*)$")
        local headers = { ["Content-Type"] = "application/json" }
        if auth ~= "" then headers["Authorization"] = auth end
        table.insert(requests, wrk.format("POST", path, headers, body))
      end
      n = n + 1
    end
  end
  next_request, repeated = 1, 0
end

function request()
  if #requests == 0 then
    return wrk.format("GET", path)
  end
  local r = requests[next_request]
  next_request = next_request + 1
  if next_request > #requests then
    next_request = 1
    repeated = repeated + 1
  end
  return r
end

function done(summary, latency, requests)
  local wrapped = 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + (thread:get("repeated") or 0)
  end
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "errors_status": %d, "errors_connect": %d, ' ..
    '"errors_read": %d, "errors_write": %d, "errors_timeout": %d, "p50_us": %d, ' ..
    '"p90_us": %d, "p99_us": %d, "max_us": %d, "file_wrapped": %d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    wrapped))
end
