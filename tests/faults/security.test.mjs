// Security: request limits with clear errors (URL, headers, body, JSON depth, message count),
// the admin API off by default and behind the rate limiter, file and directory modes of
// DATA_DIR, a non-root container, no shell-outs in the source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawConnect, parseResponses, startGateway, sourceDir } from '../lib/harness.mjs';
import { ADMIN, token, emulator, gateway, waitReady, chat, assertErrorShape } from './lib.mjs';

async function raw(gw, text) {
  const c = await rawConnect(gw.port);
  c.write(text);
  const got = await c.read((s) => /\r\n\r\n/.test(s) && parseResponses(s).length > 0 && s.trimEnd().endsWith('}'), 5000);
  c.socket.destroy();
  return parseResponses(got)[0];
}

test('limits: URL, headers, body, JSON depth and message count are refused with clear errors', async (t) => {
  const emu = await emulator(t, {}, ['--events', '3', '--interval-ms', '2']);
  const gw = await gateway(t, emu, [token('rt-lim')], { MAX_BODY_BYTES: '400000' });
  await waitReady(gw);

  // A URL within the header limit but past the URL limit, and one past both: 414, not echoed.
  for (const n of [9000, 20000, 40000]) {
    const r = await raw(gw, `GET /v1/${'a'.repeat(n)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(r.status, 414, `${n}-byte URL: ${r.status}`);
    const j = JSON.parse(r.body);
    assertErrorShape(j);
    assert.match(j.error.message, /URL is longer than the limit of 8192 bytes/);
    assert.ok(r.body.length < 300, 'the URL is not echoed back');
  }
  // Headers beyond 32 KiB: 431.
  const h = await raw(gw, `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(40000)}\r\n\r\n`);
  assert.equal(h.status, 431);
  assert.match(JSON.parse(h.body).error.message, /headers are larger than the limit/);
  // Body beyond MAX_BODY_BYTES: 413.
  const big = await chat(gw, { messages: [{ role: 'user', content: 'x'.repeat(420000) }] });
  assert.equal(big.status, 413, big.text);
  assertErrorShape(big.json);
  // JSON nested deeper than 64 levels: 400 saying so; never reaches the backend.
  const deep = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi","x":${'['.repeat(200)}${']'.repeat(200)}}]}`;
  const d = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: deep });
  assert.equal(d.status, 400);
  assert.match((await d.json()).error.message, /nested more than 64 levels/);
  // More than 10000 messages: 400 saying so.
  const many = Array.from({ length: 10001 }, () => ({ role: 'user', content: 'a' }));
  const m = await chat(gw, { messages: many });
  assert.equal(m.status, 400, m.text);
  assert.match(m.json.error.message, /10000/);
  assert.equal((await emu.stats()).counters.chat_requests ?? 0, 0, 'nothing refused reached the backend');
  // The gateway still serves.
  assert.equal((await chat(gw)).status, 200);
});

test('the admin API is off by default (404) and its calls, good or bad, go through the rate limiter', async (t) => {
  const emu = await emulator(t);
  const off = await gateway(t, emu, [token('rt-off')]);
  for (const [method, path] of [['GET', '/admin/accounts'], ['POST', '/admin/accounts'], ['DELETE', '/admin/accounts/1'], ['POST', '/admin/accounts/1/enable']]) {
    const r = await fetch(`${off.url}${path}`, { method, headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 404, `${method} ${path}`);
  }
  const on = await gateway(t, emu, [token('rt-on')], { ADMIN_SECRET: ADMIN, REQUEST_RATE_LIMIT: '5' });
  const statuses = [];
  for (let i = 0; i < 8; i++) {
    const r = await fetch(`${on.url}/admin/accounts`, { headers: { Authorization: `Bearer guess-${i}` } });
    statuses.push(r.status);
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429], 'a key-guessing client is slowed to the limit');
  const r = await fetch(`${on.url}/admin/accounts`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 429, 'the right key does not bypass the limiter');
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
});

test('DATA_DIR is created 0700; the database, its WAL and the log files are 0600', async (t) => {
  const emu = await emulator(t);
  const parent = mkdtempSync(join(tmpdir(), 'qodo2api-faults-modes-'));
  const dataDir = join(parent, 'nested', 'data');
  const gw = await startGateway({
    DATA_DIR: dataDir, QD_COOKIE: `AIzaTestKey=${token('rt-modes')}`, QODO_API_BASE: emu.url,
    FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, ADMIN_SECRET: ADMIN,
  }, { cwd: parent });
  t.after(() => gw.proc.stop());
  await waitReady(gw);
  assert.equal((await chat(gw)).status, 200);
  const mode = (p) => statSync(p).mode & 0o777;
  for (const dir of [dataDir, join(dataDir, 'logs')]) assert.equal(mode(dir).toString(8), '700', dir);
  const files = readdirSync(dataDir).filter((f) => f.startsWith('qodo2api.db'));
  assert.ok(files.includes('qodo2api.db') && files.includes('qodo2api.db-wal'), files.join(','));
  for (const f of files) assert.equal(mode(join(dataDir, f)).toString(8), '600', f);
  const logs = readdirSync(join(dataDir, 'logs'));
  assert.ok(logs.length >= 1);
  for (const f of logs) assert.equal(mode(join(dataDir, 'logs', f)).toString(8), '600', f);
});

test('the container runs as a non-root user; the source has no shell-outs', () => {
  const docker = readFileSync(join(sourceDir, 'Dockerfile'), 'utf8');
  const users = [...docker.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(users.length >= 1, 'the Dockerfile sets USER');
  assert.ok(!['root', '0', '0:0'].includes(users.at(-1)), `runs as ${users.at(-1)}`);
  const offenders = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(cpp|h|hpp|cc)$/.test(e.name)) {
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(/\b(system|popen|execl|execlp|execle|execv|execvp|execvpe|posix_spawnp?|fork|vfork)\s*\(/g)) offenders.push(`${p}: ${m[0]}`);
      }
    }
  };
  walk(join(sourceDir, 'src'));
  assert.deepEqual(offenders, []);
});

test('bulk import: 10,000 lines are refused at once, garbage lines get one result each, no secret is echoed', async (t) => {
  const emu = await emulator(t, {}, ['--events', '2', '--interval-ms', '1']);
  const gw = await gateway(t, emu, [token('rt-bulk')], { ADMIN_SECRET: ADMIN });
  await waitReady(gw);
  const post = (body) => fetch(`${gw.url}/admin/accounts`, {
    method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const many = Array.from({ length: 10000 }, (_, i) => `AIzaSecretKey${i}=rt-secret-token-${i}`);
  const started = Date.now();
  const r = await post({ accounts: many });
  assert.equal(r.status, 400);
  const text = await r.text();
  assert.ok(Date.now() - started < (process.env.QODO_SANITIZED ? 20000 : 2000), `${Date.now() - started} ms`);
  assert.match(text, /between 1 and 1000/);
  assert.doesNotMatch(text, /rt-secret-token|AIzaSecretKey/);
  // Garbage among good lines: one result per line, in order, secrets masked or absent.
  const lines = ['AIzaTestKey=rt-good-secret-1', '', '=', 'x=', 42, { nothing: 1 }, 'qk-good-secret-key-2'];
  const bulk = await post({ accounts: lines });
  assert.equal(bulk.status, 207);
  const body = await bulk.text();
  const results = JSON.parse(body).data;
  assert.deepEqual(results.map((x) => x.index), lines.map((_, i) => i));
  assert.doesNotMatch(body, /rt-good-secret-1|qk-good-secret-key-2/);
  for (const x of results) assert.ok(x.status === 201 || typeof x.error === 'string', JSON.stringify(x));
  assert.equal(results[0].status, 201);
  // The pool is intact: the account list answers and holds no secret.
  const list = await (await fetch(`${gw.url}/admin/accounts`, { headers: { Authorization: `Bearer ${ADMIN}` } })).text();
  assert.doesNotMatch(list, /rt-good-secret-1|rt-bulk/);
});
