-- wrk script: every request POSTs one image as multipart/form-data field
-- "image" (what `curl -F image=@dog.jpg URL` sends), then prints a one-line
-- JSON summary that bench/bench.py parses.
--   WRK_IMAGE=dog.jpg wrk -t2 -c16 -d20s --latency -s bench/wrk_post.lua http://127.0.0.1:PORT/
-- The body is built once per wrk thread; wrk adds Content-Length itself.

local path = os.getenv("WRK_IMAGE")
if path == nil or path == "" then
  error("wrk_post.lua: set WRK_IMAGE to the image file to POST")
end
local f = assert(io.open(path, "rb"))
local data = f:read("*a")
f:close()

local name = path:match("([^/]+)$")
local ext = (name:match("%.([%w]+)$") or ""):lower()
local types = { jpg = "image/jpeg", jpeg = "image/jpeg", png = "image/png", gif = "image/gif", bmp = "image/bmp" }
local part_type = types[ext] or "application/octet-stream"

local boundary = "----inferd-bench-7f3a9c2e51d04b68"
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
  "Content-Disposition: form-data; name=\"image\"; filename=\"" .. name .. "\"\r\n" ..
  "Content-Type: " .. part_type .. "\r\n\r\n" ..
  data .. "\r\n" ..
  "--" .. boundary .. "--\r\n"

-- Runs once, after all threads finish. Latencies are in microseconds.
-- errors.status counts responses with status >= 400 (wrk's "Non-2xx or 3xx").
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {\"duration_us\":%d,\"requests\":%d,\"bytes\":%d," ..
    "\"connect_errors\":%d,\"read_errors\":%d,\"write_errors\":%d,\"status_errors\":%d,\"timeouts\":%d," ..
    "\"lat_mean_us\":%.1f,\"lat_max_us\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d}\n",
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
