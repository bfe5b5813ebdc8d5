-- wrk script of bench/dashboard_load.py: each thread takes LIMIT answers, cycling through the paths
-- listed one a line in PATHS_FILE from its own starting point, then stops and leaves the file
-- PATHS_FILE.done.<thread> (wrk itself runs until its -d or a SIGINT: the bench sends that when
-- every thread is done); done() prints the latency (microseconds) and errors as one JSON line.
--   wrk -t2 -c20 -d3600s --timeout 60s -s dashboard_paths.lua http://127.0.0.1:PORT -- PATHS_FILE LIMIT
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local paths, limit, sent, answered, marker = {}, 0, 0, 0, ""
bad = 0  -- a global: done() reads it from each thread (thread:get)

function init(args)
  marker = args[1] .. ".done." .. id
  for line in io.lines(args[1]) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  limit = tonumber(args[2])
end

function request()
  local path = paths[((id * limit + sent) % #paths) + 1]
  sent = sent + 1
  return wrk.format("GET", path)
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then bad = bad + 1 end
  if answered == limit then
    io.open(marker, "w"):close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local not200 = 0
  for _, thread in ipairs(threads) do not200 = not200 + thread:get("bad") end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "p50_us": %d, "p95_us": %d, "max_us": %d, "not_200": %d, "socket_errors": %d}\n',
    summary.requests, latency:percentile(50), latency:percentile(95), latency.max, not200,
    e.connect + e.read + e.write + e.timeout))
end
