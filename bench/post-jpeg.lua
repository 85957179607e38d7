-- wrk script for bench/ingest.sh: POST one JPEG per request as a raw image/jpeg body,
-- round-robin over DEVICES device ids (X-Device-ID: cam-<n>), and print one machine-readable
-- line at the end:
--   RESULT requests=N duration_us=N rps=F p50_us=N p99_us=N non2xx=N connect=N read=N write=N timeout=N
-- (non2xx is wrk's status error count, i.e. responses with status >= 400.)
--   FRAME=/path/frame.jpg DEVICES=16 wrk -t2 -c16 -d10s --latency -s bench/post-jpeg.lua URL
local path = os.getenv("FRAME") or error("set FRAME=/path/to/frame.jpg")
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()
local ndev = tonumber(os.getenv("DEVICES") or "16")

local reqs = {}
local idx = 0
local threads_started = 0

function setup(thread)
  -- give each wrk thread its own starting offset so threads don't all hit cam-1 together
  thread:set("tid", threads_started)
  threads_started = threads_started + 1
end

function init(args)
  for k = 1, ndev do
    reqs[k] = wrk.format("POST", nil, {
      ["Content-Type"] = "image/jpeg",
      ["X-Device-ID"] = string.format("cam-%d", k),
    }, body)
  end
  idx = (tid or 0) % ndev  -- tid: set per thread in setup()
end

function request()
  idx = idx % ndev + 1
  return reqs[idx]
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / secs,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
