// The agents figures of `make bench` (issue 11), each measured in one run, every reply checked:
//   1. the tool sieve's CPU per token on plain text (tools declared vs not, a chats account);
//   2. the Anthropic stream's CPU per token against the OpenAI stream's (the same answer);
//   3. how soon a tool call's first delta follows the markup's closing piece, against a plain
//      text piece arriving at the same moment;
//   4. a tool loop's second request: results on the waiting session (IDERetrievalAnswer) vs a
//      new session with the whole conversation.
// Writes bench/results/<date>-agents.md (and .json). `node bench/agents.mjs [--build DIR]`.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { startGateway, startEmulator, sleep } from '../tests/lib/harness.mjs';
import { cpuSeconds, median } from './lib.mjs';

const args = process.argv.slice(2);
const buildDir = args.includes('--build') ? args[args.indexOf('--build') + 1] : 'build';
process.env.QODO2API_BIN ??= path.resolve(buildDir, 'qodo2api');
process.env.QODO_EMULATOR_BIN ??= path.resolve(buildDir, 'qodo-emulator');
const quick = process.env.BENCH_QUICK === '1';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

// One request: status, body, and the arrival time of each body chunk.
function request(url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      const chunks = [];
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; chunks.push({ at: performance.now(), text: c }); });
      res.on('end', () => resolve({ status: res.statusCode, text, chunks }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function stack(emulatorArgs, env) {
  const emu = await startEmulator(emulatorArgs);
  const gw = await startGateway({ QODO_API_BASE: emu.url, FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, QODO_COMMAND_URL: emu.url, WORKERS: '1', REQUEST_RATE_LIMIT: '0', ...env });
  for (let i = 0; (await fetch(`${gw.url}/readyz`)).status !== 200; i++) {
    if (i > 100) throw new Error('gateway never ready');
    await sleep(50);
  }
  return { emu, gw, stop: () => { gw.proc.stop(); emu.proc.stop(); } };
}

async function scenario(emu, body) {
  const r = await fetch(`${emu.url}/_emulator/scenario`, { method: 'POST', body: JSON.stringify(body) });
  if (r.status !== 200) throw new Error(await r.text());
}

// CPU seconds of the gateway per token for `rounds` × `concurrency` requests built by `make`,
// each checked by `check`.
async function cpuPerToken(gw, { rounds, concurrency, tokens, make, check }) {
  const pid = gw.proc.child.pid;
  let bad = 0;
  const cpu0 = cpuSeconds(pid);
  for (let r = 0; r < rounds; r++) {
    const replies = await Promise.all(Array.from({ length: concurrency }, () => make()));
    for (const reply of replies) if (!check(reply)) bad++;
  }
  const cpu = cpuSeconds(pid) - cpu0;
  return { cpuPerToken: cpu / (rounds * concurrency * tokens), cpu, bad, requests: rounds * concurrency };
}

const results = {};
const TOKENS = quick ? 200 : 1000;
const ROUNDS = quick ? 3 : 25;

// ---- 1 and 2: sieve cost, Anthropic vs OpenAI streams -----------------------------------------
{
  const s = await stack(['--events', String(TOKENS), '--interval-ms', '0'], { QD_COOKIE: 'AIzaTestKey=rt-bench' });
  const expected = Array.from({ length: TOKENS }, (_, i) => `tok${i}`).join(' ');
  const ask = [{ role: 'user', content: 'Write a long plain answer.' }];
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const openaiText = (reply) => reply.text.split('\n\n').filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '').join('');
  const anthropicText = (reply) => reply.text.split('\n\n').filter((e) => e.startsWith('event: content_block_delta'))
    .map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)).delta.text).join('');
  const okOpenAi = (r) => r.status === 200 && r.text.endsWith('data: [DONE]\n\n') && openaiText(r) === expected;
  const okAnthropic = (r) => r.status === 200 && r.text.includes('event: message_stop') && anthropicText(r) === expected;
  const url = `${s.gw.url}/v1/chat/completions`;
  const runs = { plain: [], sieved: [], openai: [], anthropic: [] };
  for (let rep = 0; rep < 3; rep++) {  // interleaved, the median of three
    runs.plain.push(await cpuPerToken(s.gw, { rounds: ROUNDS, concurrency: 8, tokens: TOKENS, check: okOpenAi, make: () => request(url, { model: 'gpt-4o', stream: true, messages: ask }) }));
    runs.sieved.push(await cpuPerToken(s.gw, { rounds: ROUNDS, concurrency: 8, tokens: TOKENS, check: okOpenAi, make: () => request(url, { model: 'gpt-4o', stream: true, messages: ask, tools }) }));
    runs.anthropic.push(await cpuPerToken(s.gw, { rounds: ROUNDS, concurrency: 8, tokens: TOKENS, check: okAnthropic, make: () => request(`${s.gw.url}/v1/messages`, { model: 'gpt-4o', max_tokens: 4096, stream: true, messages: ask }) }));
  }
  runs.openai = runs.plain;
  const pick = (xs) => ({ ...xs.find((x) => x.cpuPerToken === median(xs.map((y) => y.cpuPerToken))), bad: xs.reduce((a, x) => a + x.bad, 0) });
  results.sieve = { plain: pick(runs.plain), sieved: pick(runs.sieved) };
  results.sieve.ratio = results.sieve.sieved.cpuPerToken / results.sieve.plain.cpuPerToken;
  results.anthropic = { openai: pick(runs.openai), anthropic: pick(runs.anthropic) };
  results.anthropic.ratio = results.anthropic.anthropic.cpuPerToken / results.anthropic.openai.cpuPerToken;
  s.stop();
}

// ---- 3: the first tool delta after the markup closes -----------------------------------------
{
  const s = await stack(['--interval-ms', '40'], { QD_COOKIE: 'AIzaTestKey=rt-bench' });
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const ask = [{ role: 'user', content: 'Weather?' }];
  // The same three pieces 40 ms apart; the third closes the markup (or is plain text).
  const call = ['Checking. ', '<tool_call>{"name":"get_weather","arguments":{"city":"Paris"}}', '</tool_call>'];
  const plain = ['Checking. ', 'the weather ', 'now.'];
  const gaps = { call: [], plain: [] };
  let bad = 0;
  for (let i = 0; i < (quick ? 10 : 40); i++) {
    for (const kind of ['call', 'plain']) {
      await scenario(s.emu, { default: { chat: { pieces: kind === 'call' ? call : plain, interval_ms: 40 } } });
      const reply = await request(`${s.gw.url}/v1/chat/completions`, { model: 'gpt-4o', stream: true, messages: ask, tools });
      // From the chunk with the first piece to the chunk with the last one's delta.
      const first = reply.chunks.find((c) => c.text.includes('Checking. '));
      const last = reply.chunks.find((c) => (kind === 'call' ? c.text.includes('"tool_calls"') : c.text.includes('now.')));
      const ok = reply.status === 200 && first && last && reply.text.endsWith('data: [DONE]\n\n') &&
        (kind === 'plain' || reply.text.includes('"finish_reason":"tool_calls"'));
      if (!ok) { bad++; continue; }
      gaps[kind].push(last.at - first.at);
    }
  }
  results.firstDelta = { call: median(gaps.call), plain: median(gaps.plain), bad };
  results.firstDelta.extra = results.firstDelta.call - results.firstDelta.plain;
  s.stop();
}

// ---- 4: a tool loop's second request, continued or on a new session -------------------------
{
  const s = await stack(['--interval-ms', '0'], { QODO_API_KEYS: 'qk-bench-5f2c9a7e41d0' });
  await scenario(s.emu, { default: { session: { events: 1, interval_ms: 0, tool_call: { name: 'get_weather', arguments: { city: 'Paris' }, answer_after: 'Sunny.', unless_contains: 'result of the tool get_weather' } } } });
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const ask = [{ role: 'user', content: 'Weather in Paris?' }];
  const url = `${s.gw.url}/v1/chat/completions`;
  const times = { continued: [], fresh: [] };
  let bad = 0;
  for (let i = 0; i < (quick ? 20 : 200); i++) {
    for (const kind of ['continued', 'fresh']) {
      const first = await request(url, { model: 'gpt-5', messages: ask, tools });
      const message = JSON.parse(first.text).choices[0].message;
      // A renamed call id matches no waiting session: the new-session way.
      const id = kind === 'continued' ? message.tool_calls[0].id : `call_renamed_${i}`;
      const m = { ...message, tool_calls: [{ ...message.tool_calls[0], id }] };
      const t0 = performance.now();
      const second = await request(url, { model: 'gpt-5', tools, messages: [...ask, m, { role: 'tool', tool_call_id: id, content: '21 C' }] });
      const elapsed = performance.now() - t0;
      if (second.status !== 200 || JSON.parse(second.text).choices[0].message.content !== 'Sunny.') { bad++; continue; }
      times[kind].push(elapsed);
    }
  }
  const metrics = await (await fetch(`${s.gw.url}/metrics`)).text();
  const continued = Number(metrics.match(/qodo2api_tool_sessions_total\{event="continued"\} (\d+)/)?.[1] ?? 0);
  results.continuation = { continued: median(times.continued), fresh: median(times.fresh), bad, continuedCount: continued, rounds: times.continued.length };
  results.continuation.speedup = results.continuation.fresh / results.continuation.continued;
  s.stop();
}

// ---- report ------------------------------------------------------------------------------------
const us = (s) => (s * 1e6).toFixed(2);
const r = results;
const verdict = (ok) => (ok ? 'PASS' : 'MISS');
const md = `# Agents benchmark (${new Date().toISOString().slice(0, 10)})

\`node bench/agents.mjs\` (part of \`make bench\`), one gateway worker against the emulator, every
reply checked (status, whole text, end of stream); medians of three interleaved runs.

| figure | measured | target | |
|---|---|---|---|
| tool sieve, CPU per token on plain text (${TOKENS}-token streams, tools declared vs not) | ${us(r.sieve.sieved.cpuPerToken)} µs vs ${us(r.sieve.plain.cpuPerToken)} µs = **${r.sieve.ratio.toFixed(3)}×** | ≤ 1.05× | ${verdict(r.sieve.ratio <= 1.05)} |
| Anthropic stream vs OpenAI stream, CPU per token (same answer) | ${us(r.anthropic.anthropic.cpuPerToken)} µs vs ${us(r.anthropic.openai.cpuPerToken)} µs = **${r.anthropic.ratio.toFixed(3)}×** | ≤ 1.1× | ${verdict(r.anthropic.ratio <= 1.1)} |
| first tool delta after the markup's closing piece, beyond a plain piece's delivery | ${r.firstDelta.call.toFixed(2)} ms vs ${r.firstDelta.plain.toFixed(2)} ms = **${r.firstDelta.extra.toFixed(2)} ms** | ≤ 1 ms | ${verdict(r.firstDelta.extra <= 1)} |
| tool loop's second request: results on the waiting session vs a new session | ${r.continuation.continued.toFixed(2)} ms vs ${r.continuation.fresh.toFixed(2)} ms = **${r.continuation.speedup.toFixed(2)}× faster** (${r.continuation.continuedCount} continued) | measured | |

Bad replies: sieve ${r.sieve.plain.bad + r.sieve.sieved.bad}, streams ${r.anthropic.anthropic.bad}, first delta ${r.firstDelta.bad}, tool loop ${r.continuation.bad}.
The continuation figure is against the emulator on loopback (no TLS, no network round trips):
against Qodo's servers a new session also costs a TLS handshake and the wait for \`Ready\`,
so the real saving is larger.
`;
const day = new Date().toISOString().slice(0, 10);
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync(`bench/results/${day}-agents.md`, md);
fs.writeFileSync(`bench/results/${day}-agents.json`, JSON.stringify(results, null, 2));
console.log(md);
agent.destroy();
