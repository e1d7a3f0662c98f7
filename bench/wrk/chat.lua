-- wrk script: chat completions (bench/README.md); a streamed answer is read whole per request.
-- Environment: BENCH_STREAM (1: "stream":true), BENCH_MODEL (gpt-4o), BENCH_PROMPT_BYTES
-- (0: "hi"), BENCH_HEADERS ("Name: value|Name: value", e.g. Portkey's routing headers),
-- BENCH_TOKENS (the emulator's events per answer: every reply must carry exactly
-- "tok0 tok1 ... tok<N-1>"; unset: any text), BENCH_TURNS (N: a conversation growing by one
-- BENCH_TURN_BYTES turn per request, requests cycling through turns 1..N on each connection),
-- BENCH_QODO (1: the request is the Qodo chat body the gateway would send, posted to
-- /v2/chats/chat: the same-work baseline, whose answer is the backend's line stream).
-- Every reply is checked: status 200, the expected text (its content pieces, in order), and for a
-- stream the closing `data: [DONE]`. done() prints one line "WRK_JSON {...}" that scripts/bench
-- reads, with "bad" (replies that failed the check) beside wrk's own error counts.
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
local qodo = os.getenv("BENCH_QODO") == "1"
local model = os.getenv("BENCH_MODEL") or "gpt-4o"

-- The request body for a conversation of `turns` earlier turns (each `turnBytes` long, users
-- and assistants alternating) followed by the user's `last` message.
local function body(turns, turnBytes, last)
  local history = {}
  for i = 1, turns do
    local role = (i % 2 == 1) and "user" or "assistant"
    history[#history + 1] = string.format('{"role":"%s","content":"%d %s"}', role, i, prompt(turnBytes))
  end
  if qodo then
    return string.format('{"max_remote_context":0,"remote_context_tags":[],"max_repo_context":5,' ..
                         '"task":"","chat_input":"%s","previous_messages":[%s],"user_context":[],' ..
                         '"repo_context":[],"custom_model":"%s","supports_artifacts":true}',
                         last, table.concat(history, ","), model)
  end
  history[#history + 1] = string.format('{"role":"user","content":"%s"}', last)
  return string.format('{"model":"%s","stream":%s,"messages":[%s]}', model, tostring(stream),
                       table.concat(history, ","))
end

-- BENCH_VARY=1: every request's prompt starts with its own number, so no two are the same text
-- (a cold prompt: nothing of it was counted before).
local vary = os.getenv("BENCH_VARY") == "1"
local turns = tonumber(os.getenv("BENCH_TURNS") or "0")
local turnBytes = tonumber(os.getenv("BENCH_TURN_BYTES") or "10240")
wrk.body = body(0, 0, prompt(tonumber(os.getenv("BENCH_PROMPT_BYTES") or "0")))

-- A growing conversation: request k on a connection carries turns 1..(k mod N), as a chat client
-- resends the whole history every turn.
local bodies = {}
local nextBody = 0
if vary then
  local text = prompt(tonumber(os.getenv("BENCH_PROMPT_BYTES") or "0"))
  local serial = 0
  request = function()
    serial = serial + 1
    return wrk.format(nil, nil, nil, body(0, 0, tostring(serial) .. " " .. tostring(math.random(1000000000)) .. " " .. text))
  end
elseif turns > 0 then
  for t = 1, turns do bodies[t] = body(t - 1, turnBytes, "question " .. t) end
  request = function()
    nextBody = nextBody % turns + 1
    return wrk.format(nil, nil, nil, bodies[nextBody])
  end
end

local expected = nil
local tokens = tonumber(os.getenv("BENCH_TOKENS") or "")
if tokens then
  local words = {}
  for i = 0, tokens - 1 do words[#words + 1] = "tok" .. i end
  expected = table.concat(words, " ")
end

-- Per thread (each wrk thread has its own Lua state): replies that failed, and the first one.
bad = 0
firstBad = ""
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

local function check(status, body)
  if status ~= 200 then return "status " .. status end
  if stream and not string.find(body, "data: %[DONE%]\n\n$") then
    return "stream does not end with data: [DONE]"
  end
  if expected then
    local pieces = {}
    for piece in string.gmatch(body, '"content":"([^"]*)"') do pieces[#pieces + 1] = piece end
    local text = table.concat(pieces)
    if text ~= expected then return "text differs: " .. string.sub(text, 1, 80) end
  end
  return nil
end

function response(status, headers, body)
  local why = check(status, body)
  if why then
    bad = bad + 1
    if firstBad == "" then firstBad = why end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local badTotal, why = 0, ""
  for _, thread in ipairs(threads) do
    badTotal = badTotal + thread:get("bad")
    if why == "" then why = thread:get("firstBad") end
  end
  why = string.gsub(why, '[%c"\\]', "?")
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_s":%.3f,"bytes":%d,"errors":{"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d},"bad":%d,"first_bad":"%s",' ..
    '"latency_ms":{"p50":%.3f,"p99":%.3f,"max":%.3f}}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, badTotal, why, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
