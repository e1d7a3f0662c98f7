// The fleet figures of `make bench` (issue 13), measured in one run, every reply checked:
//   1. CPU per non-streaming request of an instance with REDIS_URL against the same instance
//      without it (same emulator, same requests, runs interleaved, medians of three);
//   2. Redis round trips per request: commands the instance sent (its own counter) and
//      commands Redis ran (INFO commandstats), over the requests served.
// Writes bench/results/<date>-fleet.md (and .json). `node bench/fleet.mjs [--build DIR]`.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { startGateway, startEmulator, sleep } from '../tests/lib/harness.mjs';
import { cpuSeconds, median } from './lib.mjs';

const args = process.argv.slice(2);
const buildDir = args.includes('--build') ? args[args.indexOf('--build') + 1] : 'build';
process.env.QODO2API_BIN ??= path.resolve(buildDir, 'qodo2api');
process.env.QODO_EMULATOR_BIN ??= path.resolve(buildDir, 'qodo-emulator');
const quick = process.env.BENCH_QUICK === '1';
const ROUNDS = quick ? 20 : 150;
const CONCURRENCY = 32;
const EVENTS = 20;

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// One RESP command over a fresh connection (enough for INFO and PING here).
function redisCommand(port, ...words) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => {
      data += d.toString();
      const m = data.match(/^\$(\d+)\r\n/);
      if ((m && data.length >= m[0].length + Number(m[1]) + 2) || /^[+\-:]/.test(data) && data.endsWith('\r\n')) {
        socket.end();
        resolve(m ? data.slice(m[0].length, m[0].length + Number(m[1])) : data.trim());
      }
    });
    socket.on('error', reject);
    socket.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`);
  });
}

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (let i = 0; ; i++) {
    try {
      if ((await redisCommand(port, 'PING')) === '+PONG') break;
    } catch {
      // not listening yet
    }
    if (i > 200) throw new Error('redis-server did not start');
    await sleep(20);
  }
  return { port, child, stop: () => child.kill('SIGTERM') };
}

async function redisCalls(port) {
  const info = await redisCommand(port, 'INFO', 'commandstats');
  let calls = 0;
  for (const m of info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) calls += Number(m[2]);
  return calls;
}

async function metric(gw, name) {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)`, 'm'));
  return m ? Number(m[1]) : 0;
}

function chat(gw) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${gw.url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say something.' }] }));
  });
}

// The emulator answers "tok0 tok1 … tok19" (EVENTS events): the whole of it, or the reply is bad.
const expected = Array.from({ length: EVENTS }, (_, i) => `tok${i}`).join(' ');
function good(reply) {
  if (reply.status !== 200) return false;
  try {
    const body = JSON.parse(reply.text);
    return body.choices?.[0]?.message?.content === expected && body.choices[0].finish_reason === 'stop' &&
      body.usage?.completion_tokens > 0;
  } catch {
    return false;
  }
}

async function measure(gw) {
  const pid = gw.proc.child.pid;
  let bad = 0;
  const cpu0 = cpuSeconds(pid);
  for (let r = 0; r < ROUNDS; r++) {
    const replies = await Promise.all(Array.from({ length: CONCURRENCY }, () => chat(gw)));
    for (const reply of replies) if (!good(reply)) bad++;
  }
  const requests = ROUNDS * CONCURRENCY;
  return { cpuPerRequest: (cpuSeconds(pid) - cpu0) / requests, bad, requests };
}

const emu = await startEmulator(['--events', String(EVENTS), '--interval-ms', '0']);
const redis = await startRedis();
const common = {
  QODO_API_BASE: emu.url, FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, QODO_COMMAND_URL: emu.url,
  QD_COOKIE: 'AIzaBench=rt-bench-1,AIzaBench=rt-bench-2', WORKERS: '2',
  // The limiter runs (one check per request) but never refuses.
  REQUEST_RATE_LIMIT: '100000000',
};
const alone = await startGateway(common);
const fleet = await startGateway({ ...common, REDIS_URL: `redis://127.0.0.1:${redis.port}` });
for (const gw of [alone, fleet]) {
  for (let i = 0; (await fetch(`${gw.url}/readyz`)).status !== 200; i++) {
    if (i > 200) throw new Error(`gateway never ready:\n${gw.proc.output}`);
    await sleep(50);
  }
}
// Warm both (connections, caches, the scripts in Redis).
await measure(alone);
await measure(fleet);

const runs = { alone: [], fleet: [] };
let trips = null;
for (let i = 0; i < 3; i++) {
  runs.alone.push(await measure(alone));
  const sent0 = await metric(fleet, 'qodo2api_redis_commands_total');
  const checks0 = await metric(fleet, 'qodo2api_fleet_rate_checks_total');
  const calls0 = await redisCalls(redis.port);
  runs.fleet.push(await measure(fleet));
  const sent = (await metric(fleet, 'qodo2api_redis_commands_total')) - sent0;
  const checks = (await metric(fleet, 'qodo2api_fleet_rate_checks_total')) - checks0;
  // INFO itself and this script's own commands are excluded: 2 per reading.
  const calls = (await redisCalls(redis.port)) - calls0 - 1;
  const requests = runs.fleet.at(-1).requests;
  if (!trips || sent / requests > trips.sentPerRequest)
    trips = { sentPerRequest: sent / requests, onPathPerRequest: checks / requests, callsPerRequest: calls / requests, requests };
}

const pick = (xs) => ({
  cpuPerRequest: median(xs.map((x) => x.cpuPerRequest)),
  bad: xs.reduce((a, x) => a + x.bad, 0),
  requests: xs.reduce((a, x) => a + x.requests, 0),
});
const results = { alone: pick(runs.alone), fleet: pick(runs.fleet), trips };
results.ratio = results.fleet.cpuPerRequest / results.alone.cpuPerRequest;

const us = (s) => (s * 1e6).toFixed(1);
const verdict = (ok) => (ok ? 'PASS' : 'MISS');
const r = results;
const md = `# Fleet benchmark (${new Date().toISOString().slice(0, 10)})

\`node bench/fleet.mjs\` (part of \`make bench\`): the same gateway build twice against one
emulator (${EVENTS}-event answers, no pauses) — once alone, once with \`REDIS_URL\` (a local
\`redis-server\`) — both with the rate limiter on; ${CONCURRENCY} concurrent non-streaming requests
in rounds, ${ROUNDS * CONCURRENCY} per run, every reply checked (status, the whole answer, finish
reason, usage); CPU of the gateway process (every thread), medians of three interleaved runs.

| figure | measured | target | |
|---|---|---|---|
| CPU per non-streaming request, with Redis vs alone | ${us(r.fleet.cpuPerRequest)} µs vs ${us(r.alone.cpuPerRequest)} µs = **${r.ratio.toFixed(3)}×** | ≤ 1.3× | ${verdict(r.ratio <= 1.3)} |
| Redis round trips per request on the request path (rate-limit checks) | **${r.trips.onPathPerRequest.toFixed(3)}** | ≤ 1 | ${verdict(r.trips.onPathPerRequest <= 1)} |
| every command the instance sent, per request (with the background: pings, usage saves and reads) | ${r.trips.sentPerRequest.toFixed(3)} | measured | |
| commands Redis ran per request (INFO commandstats; a script counts its inner calls) | ${r.trips.callsPerRequest.toFixed(2)} | measured | |

Bad replies: alone ${r.alone.bad} of ${r.alone.requests}, with Redis ${r.fleet.bad} of ${r.fleet.requests}.
The one round trip is the rate-limit script (\`EVALSHA\`, docs/fleet.md); choosing and releasing
accounts is local, state changes, usage (once a second) and token exchanges are off the request
path. Redis's own CPU is not in these figures.
`;
const day = new Date().toISOString().slice(0, 10);
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync(`bench/results/${day}-fleet.md`, md);
fs.writeFileSync(`bench/results/${day}-fleet.json`, JSON.stringify(results, null, 2));
console.log(md);
agent.destroy();
alone.proc.stop();
fleet.proc.stop();
emu.proc.stop();
redis.stop();
