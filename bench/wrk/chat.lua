-- wrk script: chat completions (bench/README.md); a streamed answer is read whole per request.
-- Environment: BENCH_STREAM (1: "stream":true), BENCH_MODEL (gpt-4o), BENCH_PROMPT_BYTES
-- (0: "hi"), BENCH_HEADERS ("Name: value|Name: value", e.g. Portkey's routing headers).
-- done() prints one line "WRK_JSON {...}" that scripts/bench reads.
local stream = os.getenv("BENCH_STREAM") == "1"

local function prompt(bytes)
  if bytes <= 0 then return "hi" end
  local sentence = "The quick brown fox jumps over the lazy dog while the committee reviews " ..
                   "the quarterly numbers and asks why the deployment took three hours. "
  local parts, size = {}, 0
  while size < bytes do
    parts[#parts + 1] = sentence
    size = size + #sentence
  end
  return string.sub(table.concat(parts), 1, bytes)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
for pair in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^|]+") do
  local name, value = string.match(pair, "^%s*([^:]+):%s*(.-)%s*$")
  if name then wrk.headers[name] = value end
end
wrk.body = string.format('{"model":"%s","stream":%s,"messages":[{"role":"user","content":"%s"}]}',
                         os.getenv("BENCH_MODEL") or "gpt-4o", tostring(stream),
                         prompt(tonumber(os.getenv("BENCH_PROMPT_BYTES") or "0")))

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_s":%.3f,"bytes":%d,"errors":{"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d},"latency_ms":{"p50":%.3f,"p99":%.3f,"max":%.3f}}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
