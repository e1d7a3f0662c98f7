// Helpers of the fleet suite (tests/fleet/*.test.mjs, SPEC §12): a real redis-server on a free
// port (killed and restarted on the same port for the outage test), a small RESP client over
// node:net to look inside it, and three gateways (A, B, C) sharing it, wired to one emulator.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, sleep } from '../lib/harness.mjs';
import { token, emulator, readyz, metrics, hello, waitFor as waitForWithin, chat as chatWithin } from '../faults/lib.mjs';

export { sleep, token, emulator, readyz, metrics, hello };
export const API_KEY = 'AIzaTestKey';
export const ADMIN = 'fleet-admin-secret-4e1a';

// Sanitized binaries are several times slower: every deadline and timing bound stretches.
export const SLOW = process.env.QODO_SANITIZED ? 10 : 1;
export const tol = (ms) => ms * SLOW;

// How the gateway logs that Redis became unreachable (one line per outage per instance), and
// lines about Redis that are not that one (it is back, the instance shuts down).
export const REDIS_DOWN_LINE = /redis.*(unreachable|unavailable|down|lost|cannot|can't|failed|refused)/i;
export const REDIS_NOT_OUTAGE_LINE = /reachable again|is back|back up|restored|reconnected|recovered|up again|shutting down|shutdown|stopping/i;

export const redisServerBin = process.env.REDIS_SERVER_BIN ?? 'redis-server';

// The key the admin API shows for refresh token `rt` (its first 6 characters): names given to one
// test's tokens (faults/lib.mjs `token`) must differ in their first 6 characters.
export const masked = (rt) => `${rt.slice(0, 6)}…`;

// Asserts a 429's Retry-After: whole seconds, 1..60, and when the oldest request of the window
// (sent at `firstSentAt`, ms) leaves it, give or take a second.
export function assertRetryAfter(response, firstSentAt, where = '') {
  const text = response.headers.get('retry-after');
  const value = Number(text);
  assert.ok(Number.isInteger(value) && value >= 1 && value <= 60, `${where} Retry-After ${text}`);
  const leavesIn = Math.ceil((firstSentAt + 60000 - Date.now()) / 1000);
  assert.ok(value >= leavesIn - 1, `${where} Retry-After ${value}, but the window's oldest request leaves it in ${leavesIn} s`);
}

// The fault suite's waitFor with a deadline stretched for sanitized builds.
export const waitFor = (what, fn, timeoutMs = tol(8000), everyMs = 50) =>
  waitForWithin(what, fn, timeoutMs, everyMs);

export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// ---- RESP ----------------------------------------------------------------------------------

class RespError extends Error {}

// Parses one RESP2 value from `buf` at `at`; null when the buffer does not hold all of it yet.
function parseValue(buf, at) {
  if (at >= buf.length) return null;
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, nl);
  const next = nl + 2;
  switch (type) {
    case '+': return { value: line, next };
    case '-': return { value: new RespError(line), next };
    case ':': return { value: Number(line), next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.toString('utf8', next, next + n), next: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, next };
      const items = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const item = parseValue(buf, p);
        if (!item) return null;
        items.push(item.value);
        p = item.next;
      }
      return { value: items, next: p };
    }
    default:
      throw new Error(`not RESP: ${JSON.stringify(buf.toString('utf8', at, Math.min(buf.length, at + 40)))}`);
  }
}

function encodeCommand(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) {
    const s = String(a);
    out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  }
  return out;
}

// One connection to Redis; commands are answered in order. A connection that closes fails the
// commands still waiting (and every later one) instead of hanging.
export class RedisClient {
  static connect(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RedisClient(socket));
      });
      socket.once('error', reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.pending = [];
    this.buf = Buffer.alloc(0);
    this.closed = false;
    socket.setNoDelay(true);
    socket.on('data', (d) => this.onData(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const p of this.pending.splice(0)) p.reject(new Error('redis connection closed'));
    });
  }

  onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let at = 0;
    for (;;) {
      const parsed = parseValue(this.buf, at);
      if (!parsed) break;
      at = parsed.next;
      const p = this.pending.shift();
      if (!p) continue;
      if (parsed.value instanceof RespError) p.reject(parsed.value);
      else p.resolve(parsed.value);
    }
    this.buf = this.buf.subarray(at);
  }

  command(...args) {
    if (this.closed) return Promise.reject(new Error('redis connection closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(encodeCommand(args));
    });
  }

  close() {
    this.socket.destroy();
  }
}

// `INFO [section]` as { field: value } (numbers where they are numbers).
export function parseInfo(text) {
  const out = {};
  for (const line of text.split('\r\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    const v = line.slice(i + 1);
    out[line.slice(0, i)] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return out;
}

// `INFO commandstats` as { command: calls }.
export function parseCommandStats(text) {
  const out = {};
  for (const [k, v] of Object.entries(parseInfo(text))) {
    const m = /^cmdstat_(.+)$/.exec(k);
    const calls = /calls=(\d+)/.exec(String(v));
    if (m && calls) out[m[1]] = Number(calls[1]);
  }
  return out;
}

// ---- redis-server --------------------------------------------------------------------------

function spawnRedis(port, dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(redisServerBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = { child, output: '' };
    proc.exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within ${tol(10000)} ms:\n${proc.output}`)), tol(10000));
    const onData = (c) => {
      proc.output += c.toString();
      if (/Ready to accept connections/.test(proc.output)) {
        clearTimeout(timer);
        resolve(proc);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${redisServerBin} (scripts/install-deps installs redis-server): ${e.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code} before it was ready:\n${proc.output}`));
    });
  });
}

// A redis-server on a free port, empty and without persistence. `command(...)` talks to it over
// one connection (reopened after a restart); `kill()` ends it with SIGKILL, `restart()` starts
// an empty one on the same port.
export async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'qodo2api-redis-'));
  const port = await freePort();
  const redis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    proc: await spawnRedis(port, dir),
    client: null,
    get running() { return this.proc.child.exitCode === null && this.proc.child.signalCode === null; },
    async command(...args) {
      if (!this.client || this.client.closed) this.client = await RedisClient.connect(port);
      return this.client.command(...args);
    },
    async keys(pattern) { return (await this.command('KEYS', pattern)).sort(); },
    async hgetall(key) {
      const flat = await this.command('HGETALL', key);
      const out = {};
      for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
      return out;
    },
    async commandStats() { return parseCommandStats(await this.command('INFO', 'commandstats')); },
    async flushall() { await this.command('FLUSHALL'); },
    async stopProc(signal) {
      this.client?.close();
      this.client = null;
      if (this.running) this.proc.child.kill(signal);
      return this.proc.exited;
    },
    kill() { return this.stopProc('SIGKILL'); },
    stop() { return this.stopProc('SIGTERM'); },
    async restart() {
      if (this.running) await this.kill();
      // The port was just released; a moment's retry covers a slow close.
      for (let i = 0; ; i++) {
        try {
          this.proc = await spawnRedis(port, dir);
          return;
        } catch (e) {
          if (i >= 20) throw e;
          await sleep(100);
        }
      }
    },
    // A test that failed while Redis was down leaves it down for the next.
    async ensureRunning() { if (!this.running) await this.restart(); },
  };
  return redis;
}

// ---- the emulator and the gateways ---------------------------------------------------------

export async function waitReady(gw, usable = 1, timeoutMs = tol(10000)) {
  return waitFor(`${usable} usable account(s) on ${gw.name ?? gw.url}`, async () => {
    const r = await readyz(gw);
    return r.status === 200 && r.body.accounts.usable >= usable ? r : null;
  }, timeoutMs);
}

// Starts `names.length` gateways at once (so their start-up exchanges race, as a fleet's do),
// each with its own DATA_DIR and everything else alike: Redis, QD_COOKIE, ADMIN_SECRET, the
// emulator. Waits until each is listening, sees Redis up and has `usable` usable accounts.
// Each gateway gets `name` and `instance` (its /readyz fleet id); all are killed after `t`.
export async function startFleet(t, { emu, redis, tokens, env = {}, names = ['A', 'B', 'C'], usable = 1, redisUrl } = {}) {
  const shared = {
    QODO_API_BASE: emu.url,
    FIREBASE_TOKEN_URL: `${emu.url}/v1/token`,
    ADMIN_SECRET: ADMIN,
    REQUEST_RATE_LIMIT: '0',
    REDIS_URL: redisUrl ?? redis.url,
    ...env,
  };
  if (tokens.length) shared.QD_COOKIE = tokens.map((rt) => `${API_KEY}=${rt}`).join(',');
  const gws = await Promise.all(names.map(async (name) => {
    const gw = await startGateway(shared);
    gw.name = name;
    // An instance that died without being asked to shows its last words in the report.
    const stop = gw.proc.stop.bind(gw.proc);
    gw.proc.stop = (signal) => {
      gw.stopped = true;
      return stop(signal);
    };
    t.after(() => {
      const { exitCode, signalCode } = gw.proc.child;
      if (!gw.stopped && (exitCode !== null || signalCode !== null)) {
        t.diagnostic(`${name} died on its own (${exitCode ?? signalCode}); its output ends:\n${gw.proc.output.slice(-3000)}`);
      }
      return gw.proc.stop('SIGKILL');
    });
    return gw;
  }));
  for (const gw of gws) {
    const r = await waitFor(`${gw.name} to see Redis`, async () => {
      const rr = await readyz(gw);
      assert.ok(rr.body.fleet, `${gw.name}: /readyz has no "fleet" object with REDIS_URL set: ${JSON.stringify(rr.body)}`);
      return rr.body.fleet.redis === 'up' ? rr : null;
    });
    gw.instance = r.body.fleet.instance;
    if (usable > 0) await waitReady(gw, usable);
  }
  return gws;
}

// The fault suite's chat with a deadline stretched for sanitized builds.
export const chat = (gw, options = {}) => chatWithin(gw, { timeoutMs: tol(20000), ...options });

export async function admin(gw, method, path = '', body) {
  const headers = { Authorization: `Bearer ${ADMIN}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${gw.url}/admin/accounts${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, text, json: text ? JSON.parse(text) : null };
}

export async function accountList(gw) {
  const r = await admin(gw, 'GET');
  assert.equal(r.status, 200, `${gw.name}: ${r.text}`);
  return r.json.data;
}

export const byKey = (list, rt) => list.find((a) => a.key === masked(rt));

// Waits until `predicate(account or undefined)` holds for the account of `rt` on every gateway
// in `gws`; resolves to the milliseconds it took.
export async function waitAccountOn(gws, rt, what, predicate, timeoutMs) {
  const started = Date.now();
  await waitFor(`${what} on ${gws.map((g) => g.name).join(', ')}`, async () => {
    for (const gw of gws) if (!predicate(byKey(await accountList(gw), rt))) return false;
    return true;
  }, timeoutMs, 25);
  return Date.now() - started;
}

export async function usage(gw, query = '') {
  const r = await fetch(`${gw.url}/admin/usage${query}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 200, `${gw.name}: ${await r.clone().text()}`);
  return (await r.json()).data;
}

// The value of an unlabelled metric; undefined when it is not there.
export function metricValue(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

// Emulator counters of the account configured with `rt` (rotations included).
export const accountCounter = (stats, rt, name) => stats.accounts?.[rt]?.[name] ?? 0;

// Token exchanges of the account configured with `rt`, its rotated tokens included, in order.
export const tokenRequests = (stats, rt) =>
  stats.requests.filter((r) => r.kind === 'token' && (r.account === rt || r.refresh_token === rt ||
    r.refresh_token?.startsWith(`${rt}.rot`)));

// The lease of account `id`: { holder, fence, value } or null when nobody holds it.
export async function lease(redis, id) {
  const value = await redis.command('GET', `q2a:lease:${id}`);
  if (value === null) return null;
  const i = value.lastIndexOf(':');
  assert.ok(i > 0, `q2a:lease:${id} is "<instance>:<fence>", got ${JSON.stringify(value)}`);
  return { holder: value.slice(0, i), fence: value.slice(i + 1), value };
}
