// The load benchmark behind `make bench` (scripts/bench starts it after installing and
// building): the emulator as the backend, and in the same run, alternating, nginx (pure relay),
// qodo2api and the Portkey gateway in front of it. Measures each system's own CPU seconds and
// peak RSS around every scenario and writes bench/results/<date>.md (bench/README.md).
//
// usage: node bench/run.mjs [--build DIR] [--out FILE]     BENCH_QUICK=1: small and short
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
const build = path.resolve(root, arg('--build', 'build'));
const quick = process.env.BENCH_QUICK === '1';
const only = (process.env.BENCH_ONLY || '').split(',').filter(Boolean); // scenario ids
const today = new Date().toISOString().slice(0, 10);
const outFile = path.resolve(root, arg('--out', `bench/results/${today}${quick ? '-quick' : ''}.md`));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qodo-bench-'));
const clkTck = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;
const runStarted = Date.now();
const commands = []; // every load command as run, for the results file
const notes = [];

const bin = {
  gateway: path.join(build, 'qodo2api'),
  emulator: path.join(build, 'qodo-emulator'),
  streamload: path.join(build, 'streamload'),
  micro: path.join(build, 'micro_bench'),
  nginx: fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx',
  portkey: path.join(root, 'bench/portkey/node_modules/@portkey-ai/gateway/build/start-server.js'),
};

// ---- processes ------------------------------------------------------------------------------

const children = new Set();
function launch(name, file, args, options = {}) {
  const logPath = path.join(tmp, `${name}.log`);
  const log = fs.openSync(logPath, 'a');
  const child = spawn(file, args, {
    stdio: ['ignore', options.pipeStdout ? 'pipe' : log, log],
    env: { ...process.env, ...(options.env || {}) },
    cwd: options.cwd || tmp,
  });
  fs.closeSync(log);
  child.logPath = logPath;
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', () => {});
  children.add(child);
  child.exited.then(() => children.delete(child));
  return child;
}

async function stop(child, graceMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([child.exited, sleep(graceMs).then(() => null)]);
  if (!done) {
    child.kill('SIGKILL');
    await Promise.race([child.exited, sleep(2000)]);
  }
}

function killAll() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return true;
    } catch {}
    await sleep(5);
  }
  throw new Error(`${what}: not ready within ${timeoutMs} ms`);
}

async function httpOk(url, init) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
}

// Runs a command to its end (bounded by timeoutMs), returning its stdout.
async function run(file, args, { timeoutMs, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(env || {}) },
    });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs || 600000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, out, err });
    });
  });
}

// ---- /proc ----------------------------------------------------------------------------------

function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (all threads)
    } catch {}
  }
  return ticks / clkTck;
}

function statusKb(pids, key) {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'));
      if (m) kb += Number(m[1]);
    } catch {}
  }
  return kb;
}

function childPids(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(entry));
    } catch {}
  }
  return out;
}

function fdLimit() {
  const r = spawnSync('sh', ['-c', 'ulimit -n']);
  return Number(r.stdout.toString().trim()) || 1024;
}

// ---- the backend ----------------------------------------------------------------------------

async function startEmulator(events, intervalMs) {
  const args = ['--port', '0', '--threads', '2', '--events', String(events), '--interval-ms', String(intervalMs)];
  const child = launch('emulator', bin.emulator, args, { pipeStdout: true });
  const port = await new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('emulator did not start')), 10000);
    child.stdout.on('data', (d) => {
      text += d;
      const m = text.match(/listening on (\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.exited.then(() => reject(new Error('emulator exited')));
  });
  child.stdout.resume();
  return { child, port, base: `http://127.0.0.1:${port}`, cmd: `qodo-emulator ${args.join(' ')}` };
}

// ---- the systems ----------------------------------------------------------------------------

const kPath = '/v1/chat/completions';

async function startNginx(emu) {
  const port = await freePort();
  const prefix = fs.mkdtempSync(path.join(tmp, 'nginx-'));
  const conf = `daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile ${fdLimit()};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
${process.getuid && process.getuid() === 0 ? 'user root;' : ''}
events { worker_connections 40000; multi_accept on; }
http {
  access_log ${prefix}/access.log combined buffer=64k flush=1s;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  client_max_body_size 20m;
  client_body_buffer_size 1m;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  upstream emulator { server 127.0.0.1:${emu.port}; keepalive 1024; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://emulator;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`;
  fs.writeFileSync(path.join(prefix, 'nginx.conf'), conf);
  const child = launch('nginx', bin.nginx, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf')]);
  await waitFor(() => httpOk(`http://127.0.0.1:${port}/v1/models`), 10000, 'nginx');
  let workers = [];
  await waitFor(() => (workers = childPids(child.pid)).length >= 2, 5000, 'nginx workers');
  return {
    name: 'nginx',
    child,
    port,
    url: `http://127.0.0.1:${port}${kPath}`,
    headers: [],
    pids: () => [child.pid, ...workers],
  };
}

// The same-work baseline (issue 14): nginx relaying the backend's own answer — the request is
// the Qodo chat body the gateway would send, posted to /v2/chats/chat with an access token from
// the emulator, and the answer is the Qodo line stream (same bytes, same writes the gateway
// reads). Only for non-streaming scenarios, where nginx relaying an OpenAI body is not the same
// work as reading twenty backend writes and aggregating them.
async function startNginxSameWork(emu) {
  const sys = await startNginx(emu);
  const res = await fetch(`${emu.base}/v1/token?key=AIzaBenchKey`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=refresh_token&refresh_token=rt-bench-same',
  });
  const { access_token: token } = await res.json();
  return {
    ...sys,
    name: 'same',
    url: `http://127.0.0.1:${sys.port}/v2/chats/chat`,
    headers: [`Authorization: Bearer ${token}`],
    qodo: true,
  };
}

// `kind`: 'chats' (QD_COOKIE logins) or 'command' (QODO_API_KEYS, a WebSocket session each answer).
function gatewayEnv(emu, port, accounts, kind = 'chats') {
  const cookie = Array.from({ length: accounts }, (_, i) => `AIzaBenchKey=rt-bench-${i}`).join(',');
  const keys = Array.from({ length: accounts }, (_, i) => `qk-bench-${i}-0123456789`).join(',');
  return {
    PORT: String(port),
    ...(kind === 'command' ? { QODO_API_KEYS: keys } : { QD_COOKIE: cookie }),
    QODO_COMMAND_URL: emu.base,
    QODO_API_BASE: emu.base,
    FIREBASE_TOKEN_URL: `${emu.base}/v1/token`,
    REQUEST_RATE_LIMIT: '0',
    WORKERS: '2',
    DATA_DIR: fs.mkdtempSync(path.join(tmp, 'gateway-data-')),
    HEADER_TIMEOUT_SECONDS: '60',
  };
}

async function startGateway(emu, accounts = 4, kind = 'chats') {
  const port = await freePort();
  const env = gatewayEnv(emu, port, accounts, kind);
  const child = launch('gateway', bin.gateway, [], { env });
  await waitFor(() => httpOk(`http://127.0.0.1:${port}/readyz`), 15000, 'qodo2api');
  return {
    name: kind === 'command' ? 'command' : 'qodo2api',
    child,
    port,
    url: `http://127.0.0.1:${port}${kPath}`,
    headers: [],
    pids: () => [child.pid],
  };
}

let portkeyProblem = null;
async function startPortkey(emu) {
  if (portkeyProblem) return null;
  if (!fs.existsSync(bin.portkey)) {
    portkeyProblem = 'not installed (npm ci in bench/portkey failed)';
    return null;
  }
  const port = await freePort();
  const child = launch('portkey', process.execPath, [bin.portkey, `--port=${port}`, '--headless'], {
    env: { NODE_ENV: 'production' },
  });
  try {
    await waitFor(() => httpOk(`http://127.0.0.1:${port}/`), 20000, 'portkey');
  } catch (e) {
    await stop(child);
    portkeyProblem = `could not start: ${e.message} (log: ${child.logPath})`;
    return null;
  }
  return {
    name: 'portkey',
    child,
    port,
    url: `http://127.0.0.1:${port}${kPath}`,
    headers: ['x-portkey-provider: openai', `x-portkey-custom-host: ${emu.base}/v1`, 'Authorization: Bearer sk-bench'],
    pids: () => [child.pid],
  };
}

// `command`: the same gateway with command accounts (Qodo API keys) instead of chats logins: the
// emulator answers its WebSocket sessions with the same tokens at the same pace.
const starters = {
  nginx: startNginx,
  same: startNginxSameWork,
  qodo2api: (emu) => startGateway(emu, 4, 'chats'),
  command: (emu) => startGateway(emu, 4, 'command'),
  portkey: startPortkey,
};
// BENCH_SYSTEMS=nginx,qodo2api: some systems only (ratios need nginx in the same run).
const systems = (process.env.BENCH_SYSTEMS || 'nginx,same,qodo2api,command,portkey').split(',').filter(Boolean);

// ---- load tools -----------------------------------------------------------------------------

async function wrk(sys, script, conns, seconds, extraEnv = {}) {
  const args = ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '30s', '-s', path.join(root, 'bench/wrk', script), sys.url];
  const env = { BENCH_HEADERS: sys.headers.join('|'), ...(sys.qodo ? { BENCH_QODO: '1' } : {}), ...extraEnv };
  const envText = Object.entries(env)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}='${v}'`)
    .join(' ');
  const r = await run('wrk', args, { timeoutMs: (seconds + 60) * 1000, env });
  const line = r.out.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk gave no summary: ${r.out} ${r.err}`);
  const j = JSON.parse(line.slice(9));
  // chat.lua checked every reply (status, text, [DONE]); a cut connection is a read error.
  j.ok = j.requests - j.bad;
  j.failed = j.bad + j.errors.read + j.errors.timeout + j.errors.connect + j.errors.write;
  j.cmd = `${envText} wrk ${args.join(' ').replace(root + '/', '')}`;
  return j;
}

async function streamload(sys, opts) {
  const args = ['--url', sys.url, '--model', 'gpt-4o'];
  for (const h of sys.headers) args.push('--header', h);
  for (const [k, v] of Object.entries(opts)) args.push(`--${k}`, String(v));
  const r = await run(bin.streamload, args, { timeoutMs: (Number(opts['timeout-s'] || 120) + 60) * 1000 });
  let j;
  try {
    j = JSON.parse(r.out.trim().split('\n').pop());
  } catch {
    throw new Error(`streamload gave no summary: ${r.out} ${r.err}`);
  }
  j.cmd = `streamload ${args.map((a) => (/[\s:]/.test(a) ? `'${a}'` : a)).join(' ')}`;
  return j;
}

// ---- bursts: the kernel's listen-queue overflows and the connections to the backend ------------

// TcpExt ListenOverflows of /proc/net/netstat: connections the kernel dropped because a listen
// queue was full.
function listenOverflows() {
  const lines = fs.readFileSync('/proc/net/netstat', 'utf8').split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith('TcpExt:') || !lines[i + 1].startsWith('TcpExt:')) continue;
    const keys = lines[i].trim().split(/\s+/);
    const values = lines[i + 1].trim().split(/\s+/);
    return Number(values[keys.indexOf('ListenOverflows')]);
  }
  return 0;
}

// Established TCP connections whose remote port is `port` (to the emulator: the backend
// connections a system keeps).
function connectionsTo(port) {
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 3 && cols[3] === '01' && parseInt(cols[2].split(':')[1], 16) === port) n++;
    }
  }
  return n;
}

// K streams opened at once (no ramp) against a freshly started system: every stream checked,
// the listen-queue overflows during the burst, and the backend connections the system holds
// at its end (each stream needs one; more would be connections opened for nothing). Then a
// second burst on the same system, reported beside the first.
async function burst(sys, s) {
  const overflows0 = listenOverflows();
  const load = await streamload(sys, { k: s.k, tokens: s.tokens, 'ramp-ms': 0, 'timeout-s': 120 });
  load.listen_overflows = listenOverflows() - overflows0;
  load.backend_connections = connectionsTo(s.emuPort);
  // The same burst again, the system's backend connections now open: shows how much of the
  // first burst's time to first token went into opening them.
  load.again = await streamload(sys, { k: s.k, tokens: s.tokens, 'ramp-ms': 0, 'timeout-s': 120 });
  return load;
}

// ---- scenarios ------------------------------------------------------------------------------

const Q = quick;
// The chat script, told how many tokens every answer of scenario `s` must carry.
const chat = (sys, s, conns, seconds, env = {}) =>
  wrk(sys, 'chat.lua', conns, seconds, { BENCH_TOKENS: String(s.events), ...env });
const scenarios = [
  {
    id: 'nonstream32',
    title: 'Non-streaming, concurrency 32, 20 tokens',
    events: 20, interval: 0, reps: Q ? 1 : 2, sameWork: true,
    load: (sys, s) => chat(sys, s, 32, Q ? 3 : 10),
    warm: (sys, s) => chat(sys, s, 32, Q ? 1 : 2),
  },
  {
    id: 'nonstream128',
    title: 'Non-streaming, concurrency 128, 20 tokens',
    events: 20, interval: 0, reps: Q ? 1 : 2, sameWork: true,
    load: (sys, s) => chat(sys, s, 128, Q ? 3 : 10),
    warm: (sys, s) => chat(sys, s, 128, Q ? 1 : 2),
  },
  {
    id: 'stream64',
    title: 'Streaming, concurrency 64, 50 tokens',
    events: 50, interval: 0, reps: Q ? 1 : 2,
    load: (sys, s) => chat(sys, s, 64, Q ? 3 : 10, { BENCH_STREAM: '1' }),
    warm: (sys, s) => chat(sys, s, 64, Q ? 1 : 2, { BENCH_STREAM: '1' }),
  },
  {
    // Long answers: the cost per token without much of the per-answer set-up (a command
    // account opens a WebSocket session per answer; chats reuse kept-alive connections).
    id: 'stream64long',
    title: 'Streaming, concurrency 64, 500 tokens',
    events: 500, interval: 0, reps: Q ? 1 : 2,
    load: (sys, s) => chat(sys, s, 64, Q ? 3 : 10, { BENCH_STREAM: '1' }),
    warm: (sys, s) => chat(sys, s, 64, Q ? 1 : 2, { BENCH_STREAM: '1' }),
  },
  {
    id: 'prompt100k',
    title: 'A new 100 KB prompt every request (cold), non-streaming, concurrency 8, 20 tokens',
    events: 20, interval: 0, reps: 1, sameWork: true,
    // Cold: every request's prompt is a text not seen before (the token cache cannot help).
    load: (sys, s) => chat(sys, s, 8, Q ? 3 : 10, { BENCH_PROMPT_BYTES: '102400', BENCH_VARY: '1' }),
    warm: (sys, s) => chat(sys, s, 8, 1, { BENCH_PROMPT_BYTES: '102400', BENCH_VARY: '1' }),
  },
  {
    // A chat client resends the whole history every turn: request k on a connection carries
    // turns 1..k of a conversation growing by 10 KB per turn (20 turns, then again). The same
    // messages come back again and again: the token cache counts each once.
    id: 'conversation20',
    title: 'A conversation growing by one 10 KB turn per request (20 turns), non-streaming, concurrency 8, 20 tokens',
    events: 20, interval: 0, reps: 1, sameWork: true,
    load: (sys, s) => chat(sys, s, 8, Q ? 3 : 10, { BENCH_TURNS: '20', BENCH_TURN_BYTES: '10240' }),
    warm: (sys, s) => chat(sys, s, 8, 1, { BENCH_TURNS: '20', BENCH_TURN_BYTES: '10240' }),
  },
  {
    id: 'long1000',
    title: `${Q ? 100 : 1000} long-lived streams, 100 tokens 50 ms apart`,
    events: 100, interval: 50, reps: 1, k: Q ? 100 : 1000, tokens: 100,
    load: (sys, s) => streamload(sys, { k: s.k, tokens: 100, 'ramp-ms': 1000, 'timeout-s': 60 }),
  },
  {
    id: 'held5000',
    title: `${Q ? 500 : 5000} held streams, 20 tokens 500 ms apart`,
    events: 20, interval: 500, reps: 1, k: Q ? 500 : 5000, tokens: 20,
    load: (sys, s) => streamload(sys, { k: s.k, tokens: 20, 'ramp-ms': 3000, 'timeout-s': 90 }),
  },
  {
    id: 'held10000',
    title: `${Q ? 1000 : 10000} held streams, 20 tokens 500 ms apart`,
    events: 20, interval: 500, reps: 1, k: Q ? 1000 : 10000, tokens: 20,
    load: (sys, s) => streamload(sys, { k: s.k, tokens: 20, 'ramp-ms': 5000, 'timeout-s': 120 }),
  },
  {
    id: 'burst1000',
    title: `${Q ? 200 : 1000} streams opened at once, 20 tokens 100 ms apart`,
    events: 20, interval: 100, reps: 1, k: Q ? 200 : 1000, tokens: 20, burst: true,
    load: (sys, s) => burst(sys, s),
  },
  {
    id: 'burst5000',
    title: `${Q ? 500 : 5000} streams opened at once, 20 tokens 100 ms apart`,
    events: 20, interval: 100, reps: 1, k: Q ? 500 : 5000, tokens: 20, burst: true,
    load: (sys, s) => burst(sys, s),
  },
  {
    id: 'latency1',
    title: '1 stream, latency to first token (5 tokens, no pause)',
    events: 5, interval: 0, reps: 1, direct: true,
    load: (sys) => streamload(sys, { k: 1, rounds: Q ? 100 : 1000, tokens: 5, 'timeout-s': 60 }),
  },
];

// One system under one scenario, in a fresh process so its peak RSS belongs to this scenario.
async function measure(name, scenario, emu) {
  const sys = await starters[name](emu);
  if (!sys) return { skipped: portkeyProblem };
  try {
    if (scenario.warm) await scenario.warm(sys, scenario);
    await sleep(200);
    const pids = sys.pids();
    const cpu0 = cpuSeconds(pids);
    const rss0 = statusKb(pids, 'VmRSS');
    const load = await scenario.load(sys, scenario);
    const cpu = cpuSeconds(pids) - cpu0;
    const hwm = statusKb(pids, 'VmHWM');
    const alive = sys.child.exitCode === null && sys.child.signalCode === null;
    return { cpu, rss0, hwm, load, alive };
  } finally {
    await stop(sys.child);
  }
}

function addUp(runs) {
  const ok = runs.filter((r) => r && !r.skipped);
  if (ok.length === 0) return runs[0];
  const sum = { cpu: 0, rss0: ok[0].rss0, hwm: 0, alive: true, load: { ...ok[0].load }, runs: ok.length };
  let requests = 0;
  let good = 0;
  let failed = 0;
  const firstBad = [];
  for (const r of ok) {
    sum.cpu += r.cpu;
    sum.hwm = Math.max(sum.hwm, r.hwm);
    sum.alive &&= r.alive;
    requests += r.load.requests;
    good += r.load.ok ?? r.load.completed;
    failed += r.load.failed ?? 0;
    if (r.load.first_bad) firstBad.push(r.load.first_bad);
    for (const [why, n] of Object.entries(r.load.failures ?? {})) firstBad.push(`${n} × ${why}`);
  }
  sum.load.requests = requests;
  sum.load.ok = good;
  sum.load.failed = failed;
  sum.load.firstBad = firstBad.slice(0, 5);
  sum.load.cmds = ok.map((r) => r.load.cmd);
  return sum;
}

// ---- micro-benchmarks and start-up ------------------------------------------------------------

async function microBench() {
  if (!fs.existsSync(bin.micro)) {
    notes.push('micro_bench was not built (libbenchmark-dev missing): micro-benchmarks skipped.');
    return null;
  }
  const args = ['--benchmark_format=json', `--benchmark_min_time=${Q ? 0.1 : 0.5}`];
  commands.push(`build/micro_bench ${args.join(' ')}`);
  const r = await run(bin.micro, args, { timeoutMs: 600000, env: { QODO_SOURCE_DIR: root } });
  const j = JSON.parse(r.out);
  let js = null;
  const mjs = path.join(root, 'scripts/tokenizer/bench.mjs');
  if (fs.existsSync(path.join(root, 'scripts/tokenizer/node_modules/tiktoken'))) {
    commands.push('node scripts/tokenizer/bench.mjs');
    const t = await run(process.execPath, [mjs], { timeoutMs: 300000 });
    // js[package][encoding/text] = MB/s (tiktoken, gpt-tokenizer).
    js = {};
    for (const line of t.out.split('\n')) {
      const m = line.match(/^(\S+) (\w+) (\w+) \d+ bytes \d+ tokens ([\d.]+) MB\/s/);
      if (m) (js[m[1]] ??= {})[`${m[2]}/${m[3]}`] = Number(m[4]);
    }
  } else {
    notes.push('npm tiktoken not installed: the tokenizer comparison with JS is skipped.');
  }
  return { benchmarks: j.benchmarks, js };
}

// Spawn to /readyz 200 with 10 accounts of `kind` (token exchanges or get-things at start-up).
async function startupTime(kind = 'chats') {
  const emu = await startEmulator(5, 0);
  const times = [];
  try {
    for (let i = 0; i < (Q ? 2 : 5); ++i) {
      const port = await freePort();
      const t0 = process.hrtime.bigint();
      const child = launch('gateway-startup', bin.gateway, [], { env: gatewayEnv(emu, port, 10, kind) });
      await waitFor(() => httpOk(`http://127.0.0.1:${port}/readyz`), 10000, 'qodo2api start-up');
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await stop(child);
    }
  } finally {
    await stop(emu.child);
  }
  commands.push(`time from spawning build/qodo2api (10 accounts in ${kind === 'command' ? 'QODO_API_KEYS' : 'QD_COOKIE'}, backend = emulator) to GET /readyz 200, polled every 5 ms`);
  return times;
}

// ---- main -----------------------------------------------------------------------------------

async function main() {
  for (const [what, file] of Object.entries(bin)) {
    if (['micro', 'portkey'].includes(what)) continue;
    if (what !== 'nginx' && !fs.existsSync(file)) throw new Error(`${file} is missing: build it first`);
  }
  const limit = fdLimit();
  console.log(`bench: ${quick ? 'QUICK ' : ''}run, results to ${path.relative(root, outFile)}, descriptors ${limit}, temp ${tmp}`);
  const results = {};
  for (const s of scenarios) {
    if (only.length && !only.includes(s.id)) continue;
    if (s.k) {
      // Every relayed stream holds two descriptors in one process (client and backend side).
      const fit = Math.floor((limit - 256) / 2);
      if (s.k > fit) {
        notes.push(`${s.id}: K lowered from ${s.k} to ${fit}: RLIMIT_NOFILE here is ${limit} ` +
                   '(hard limit; a relay needs two descriptors per stream).');
        s.k = fit;
      }
    }
    console.log(`bench: ${s.title}`);
    const emu = await startEmulator(s.events, s.interval);
    s.emuPort = emu.port;
    commands.push(`# ${s.id}: backend ${emu.cmd}`);
    const runs = Object.fromEntries(systems.filter((n) => n !== 'same' || s.sameWork).map((n) => [n, []]));
    try {
      if (s.direct) {
        const direct = { name: 'direct', url: `${emu.base}${kPath}`, headers: [] };
        runs.direct = [{ cpu: 0, rss0: 0, hwm: 0, alive: true, load: await s.load(direct, s) }];
        commands.push(runs.direct[0].load.cmd);
      }
      for (let rep = 0; rep < s.reps; ++rep) {
        for (const name of systems) {
          if (name === 'same' && !s.sameWork) continue;
          const r = await measure(name, s, emu);
          runs[name].push(r);
          if (r.load) {
            commands.push(r.load.cmd);
            const l = r.load;
            const done = l.completed ?? l.ok;
            console.log(`bench:   ${name.padEnd(8)} cpu ${r.cpu.toFixed(2)} s, ${done}/${l.requests} ok, ` +
                        `peak RSS ${(r.hwm / 1024).toFixed(1)} MB`);
          } else {
            console.log(`bench:   ${name.padEnd(8)} skipped: ${r.skipped}`);
          }
        }
      }
    } finally {
      await stop(emu.child);
    }
    results[s.id] = Object.fromEntries(Object.entries(runs).map(([n, rs]) => [n, addUp(rs)]));
    results[s.id].scenario = s;
  }
  console.log('bench: start-up to /readyz');
  const startup = only.length && !only.includes('startup') ? null : await startupTime('chats');
  const startupCommand = only.length && !only.includes('startup') ? null : await startupTime('command');
  console.log('bench: micro-benchmarks');
  const micro = only.length && !only.includes('micro') ? null : await microBench();
  const { report } = await import('./report.mjs');
  const text = report({ results, startup, startupCommand, micro, notes, commands, quick, portkeyProblem, started: runStarted, date: today, limit });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, text);
  fs.writeFileSync(outFile.replace(/\.md$/, '.json'), JSON.stringify({ results, startup, startupCommand, micro, notes }, (k, v) => (typeof v === 'function' ? undefined : v), 1));
  console.log(`bench: wrote ${path.relative(root, outFile)}`);
  // A fast wrong answer is not a result: a reply that failed its check, or a connection cut in
  // the middle of one, fails the run (any system under wrk, and the gateway everywhere; the other
  // systems' held-stream shortfalls are capacity figures, shown in their tables).
  const bad = [];
  for (const [id, byName] of Object.entries(results)) {
    for (const [name, r] of Object.entries(byName)) {
      if (name === 'scenario' || !r?.load || !r.load.failed) continue;
      if (r.load.cmds?.some((c) => c.includes(' wrk ')) || name === 'qodo2api') {
        bad.push(`${id}/${name}: ${r.load.failed} bad replies (${r.load.firstBad.join('; ')})`);
      }
    }
  }
  if (bad.length) {
    console.error(`bench: FAILED, replies that were wrong or cut:\n  ${bad.join('\n  ')}`);
    process.exitCode = 1;
  }
}

main()
  .catch((e) => {
    console.error(`bench: ${e.stack || e}`);
    process.exitCode = 1;
  })
  .finally(() => {
    killAll();
    if (!process.env.BENCH_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  });
