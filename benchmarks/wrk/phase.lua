-- Walks a file of prepared requests, one connection per wrk thread, and writes each
-- answer to a file per thread, so Python can chain the next phase on the ids answered.
-- Arguments (after --): <requests file> <output prefix> <bearer key> <thread count>.
-- A line is: METHOD \t PATH \t IDEMPOTENCY-KEY \t JSON BODY ("-" for none).
-- Once a thread's share is answered it idles (delay) until Python interrupts wrk.
-- Each request carries X-Request-Id "bench-<index>", which the server echoes: an answer
-- is written under the index its header names, not under "the next one sent", so an
-- answer lost or added on the wire cannot shift the rest onto the wrong requests
-- (one did: an hourly contract's open was once credited with a Connects purchase's
-- answer). An answer naming no request is written with index -1 (Python fails the run).
-- wrk calls thread 0's request() once before connecting, to verify the script: thread 0's
-- list starts with a dummy request for that call, so no prepared request is lost.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, prefix, bearer, nthreads = args[1], args[2], args[3], tonumber(args[4])
  idle = wrk.format("GET", "/v1/health", {["X-Request-Id"] = "bench-idle"})
  mine, mine_index, offset = {}, {}, 0
  if id == 0 then
    mine[1], mine_index[1], offset = idle, -1, 1
  end
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == id then
      local method, path, key, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      if body == "-" then body = nil end
      table.insert(mine, wrk.format(method, path, {
        ["Authorization"] = "Bearer " .. bearer, ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = key, ["X-Request-Id"] = "bench-" .. n}, body))
      table.insert(mine_index, n)
    end
    n = n + 1
  end
  out = io.open(prefix .. "-" .. id .. ".out", "w")
  sent, answered = 0, 0
end

function delay()
  if sent >= #mine then return 600000 end
  return 0
end

function request()
  sent = sent + 1
  if sent > #mine then return idle end
  return mine[sent]
end

function response(status, headers, body)
  answered = answered + 1
  local tag = headers["X-Request-Id"] or headers["x-request-id"] or ""
  local index = tag:match("^bench%-(%d+)$")
  if tag == "bench-idle" then
    return  -- the filler request (wrk sometimes sends thread 0's dummy first): no op's answer
  elseif index ~= nil then
    out:write(index, "\t", status, "\t", (body:gsub("\n", " ")), "\n")
    out:flush()
  else
    out:write("-1\t", status, "\t", (body:gsub("\n", " ")), "\n")
    out:flush()
  end
end

function done(summary, latency, requests)
  local q = {}
  for p = 1, 100 do q[#q + 1] = string.format("%d", latency:percentile(p - 0.5)) end
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
    .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, '
    .. '"quantiles_us": [%s]}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(q, ", ")))
end
