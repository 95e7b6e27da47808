-- One request, the same each time (the bare endpoint), and the summary as one JSON line.
-- Arguments (after --): <method> <JSON body or "-">.
function init(args)
  local body = args[2]
  if body == "-" then body = nil end
  req = wrk.format(args[1], nil, {["Content-Type"] = "application/json"}, body)
end

function request()
  return req
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
    .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
