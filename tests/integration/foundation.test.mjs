// The gateway's server, configuration and guards, over real sockets (issue: foundation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { startGateway, rawConnect, parseResponses, gatewayBin, sleep } from '../lib/harness.mjs';

function assertErrorShape(body, code) {
  const json = typeof body === 'string' ? JSON.parse(body) : body;
  assert.equal(typeof json.error.message, 'string');
  assert.ok(json.error.message.length > 0);
  assert.equal(typeof json.error.type, 'string');
  assert.ok('param' in json.error);
  assert.ok('code' in json.error);
  if (code !== undefined) assert.equal(json.error.code, code);
}

test('--help lists every variable and --version prints the version', () => {
  const help = spawnSync(gatewayBin, ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  for (const name of ['HOST', 'PORT', 'QD_COOKIE', 'API_SECRET', 'CHINESE_CHAT_ENABLED', 'DEBUG', 'PROXY_URL',
    'REQUEST_RATE_LIMIT', 'ROUTE_PREFIX', 'RATE_LIMIT_COOKIE_LOCK_DURATION', 'IP_BLACK_LIST',
    'QODO_API_BASE', 'FIREBASE_TOKEN_URL', 'DATA_DIR', 'ADMIN_SECRET', 'REASONING_HIDE',
    'TRUSTED_PROXIES', 'WORKERS', 'MAX_BODY_BYTES', 'SHUTDOWN_GRACE_SECONDS', 'QODO_API_KEYS',
    'QODO_COMMAND_URL', 'RECORD_DIR', 'ACCOUNT_CHECK_INTERVAL_SECONDS']) {
    assert.match(help.stdout, new RegExp(`\\b${name}\\b`), name);
  }
  const version = spawnSync(gatewayBin, ['--version'], { encoding: 'utf8' });
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^qodo2api \d+\.\d+\.\d+/);
});

test('a bad value stops start-up with one line naming the variable', () => {
  for (const [name, value] of [['PORT', 'abc'], ['HOST', 'localhost'], ['REQUEST_RATE_LIMIT', '-1'], ['PROXY_URL', 'ftp://x'],
    ['TRUSTED_PROXIES', '10.0.0.0/99'], ['QD_COOKIE', 'key=tok,broken'], ['WORKERS', '0'],
    ['QODO_API_KEYS', 'tok one'], ['QODO_COMMAND_URL', 'ftp://x']]) {
    const r = spawnSync(gatewayBin, [], { encoding: 'utf8', env: { PATH: process.env.PATH, [name]: value } });
    assert.equal(r.status, 2, `${name}=${value}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(name));
    assert.doesNotMatch(lines[0], /tok/, 'the refresh token must not be printed');
  }
});

test('HOST: the gateway listens on that address only', async (t) => {
  const gw = await startGateway({ HOST: '127.0.0.1' });
  t.after(() => gw.proc.stop());
  assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  assert.match(gw.proc.output, /listening on port \d+ at 127\.0\.0\.1/);
  // Not on another address of this machine: the IPv6 loopback, when there is one.
  const hasV6 = await new Promise((resolve) => {
    const s = net.createServer().once('error', () => resolve(false))
      .listen(0, '::1', () => s.close(() => resolve(true)));
  });
  // The addresses the gateway process listens on, from the kernel's socket tables (the
  // process's socket inodes matched against LISTEN entries): "127.0.0.1", "::1", "0.0.0.0", "::".
  // A connection attempt would not do: another test's process may hold the same port number on
  // the other address.
  const listening = (pid) => {
    const inodes = new Set();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
        if (m) inodes.add(m[1]);
      } catch {
        // closed meanwhile
      }
    }
    const names = { '0100007F': '127.0.0.1', '00000000': '0.0.0.0', '00000000000000000000000001000000': '::1', '00000000000000000000000000000000': '::' };
    const out = [];
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length < 10 || cols[3] !== '0A' || !inodes.has(cols[9])) continue;
        out.push(names[cols[1].split(':')[0]] ?? cols[1]);
      }
    }
    return [...new Set(out)].sort();  // one listener per worker (SO_REUSEPORT)
  };
  assert.deepEqual(listening(gw.proc.child.pid), ['127.0.0.1']);
  if (hasV6) {
    const v6 = await startGateway({ HOST: '::1' });
    t.after(() => v6.proc.stop());
    assert.equal((await fetch(`http://[::1]:${v6.port}/healthz`)).status, 200);
    assert.deepEqual(listening(v6.proc.child.pid), ['::1']);
  }
});

test('models list, health and readiness, request ids, CORS and error shapes', async (t) => {
  const gw = await startGateway();
  t.after(() => gw.proc.stop());

  const models = await fetch(`${gw.url}/v1/models`);
  assert.equal(models.status, 200);
  assert.match(models.headers.get('x-request-id'), /^[0-9a-f]{16}$/);
  assert.equal(models.headers.get('access-control-allow-origin'), '*');
  const list = await models.json();
  assert.equal(list.object, 'list');
  assert.deepEqual(list.data.map((m) => m.id), ['claude-3-7-sonnet', 'claude-3-5-sonnet', 'deepseek-r1',
    'deepseek-r1-32b', 'gpt-4o', 'o1', 'o3-mini', 'o3-mini-high', 'gemini-2.5-pro', 'gemini-2.0-flash']);
  for (const m of list.data) {
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'qodo');
    assert.ok(Number.isInteger(m.created) && m.created > 1700000000);
  }

  assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  const ready = await fetch(`${gw.url}/readyz`);
  assert.equal(ready.status, 503, 'no account configured: not ready');

  const missing = await fetch(`${gw.url}/v1/nothing`);
  assert.equal(missing.status, 404);
  assertErrorShape(await missing.json(), 'not_found');

  const wrongMethod = await fetch(`${gw.url}/v1/chat/completions`);
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'POST');
  assertErrorShape(await wrongMethod.json(), 'method_not_allowed');

  const chat = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(chat.status, 503, 'no account configured');
  assertErrorShape(await chat.json(), 'no_available_account');

  const preflight = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://chat.example', 'Access-Control-Request-Method': 'POST' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  assert.match(preflight.headers.get('access-control-allow-methods'), /POST/);
  assert.match(preflight.headers.get('access-control-allow-methods'), /DELETE/);
  assert.match(preflight.headers.get('access-control-allow-headers'), /Authorization/);
  assert.match(preflight.headers.get('access-control-allow-headers'), /Content-Type/);
});

test('ROUTE_PREFIX mounts the API under the prefix; ops endpoints stay unprefixed', async (t) => {
  const gw = await startGateway({ ROUTE_PREFIX: '/hf/' });
  t.after(() => gw.proc.stop());
  assert.equal((await fetch(`${gw.url}/hf/v1/models`)).status, 200);
  assert.equal((await fetch(`${gw.url}/v1/models`)).status, 404);
  assert.equal((await fetch(`${gw.url}/hfx/v1/models`)).status, 404);
  assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${gw.url}/metrics`)).status, 200);
});

test('API_SECRET: missing or wrong key is 401, Bearer or bare key passes', async (t) => {
  const gw = await startGateway({ API_SECRET: 'sk-one, sk-two' });
  t.after(() => gw.proc.stop());
  const none = await fetch(`${gw.url}/v1/models`);
  assert.equal(none.status, 401);
  assertErrorShape(await none.json(), 'invalid_api_key');
  const wrong = await fetch(`${gw.url}/v1/models`, { headers: { Authorization: 'Bearer sk-one-' } });
  assert.equal(wrong.status, 401);
  assert.equal((await fetch(`${gw.url}/v1/models`, { headers: { Authorization: 'Bearer sk-two' } })).status, 200);
  assert.equal((await fetch(`${gw.url}/v1/models`, { headers: { Authorization: 'sk-one' } })).status, 200);
  assert.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'probes need no key');
});

test('keep-alive reuses one connection and pipelined requests are answered in order', async (t) => {
  const gw = await startGateway();
  t.after(() => gw.proc.stop());
  const c = await rawConnect(gw.port);
  c.write('GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n');
  await c.read((s) => parseResponses(s).length >= 1);
  c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await c.read((s) => parseResponses(s).length >= 2);
  c.write('GET /nothing HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await c.read((s) => parseResponses(s).length >= 5);
  await c.closedPromise;
  const statuses = parseResponses(c.received).map((r) => r.status);
  assert.deepEqual(statuses, [200, 200, 404, 200, 200]);
});

test('REQUEST_RATE_LIMIT answers 429 with Retry-After beyond the limit, per client IP', async (t) => {
  const gw = await startGateway({ REQUEST_RATE_LIMIT: '3', TRUSTED_PROXIES: '127.0.0.1/32' });
  t.after(() => gw.proc.stop());
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${gw.url}/v1/models`)).status, 200);
  const limited = await fetch(`${gw.url}/v1/models`);
  assert.equal(limited.status, 429);
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  assertErrorShape(await limited.json(), 'rate_limit_exceeded');
  assert.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'probes are not rate limited');
  // Another client (behind the trusted proxy) has its own budget.
  const other = await fetch(`${gw.url}/v1/models`, { headers: { 'X-Forwarded-For': '198.51.100.7' } });
  assert.equal(other.status, 200);
});

test('IP_BLACK_LIST answers 403; X-Forwarded-For counts only from TRUSTED_PROXIES', async (t) => {
  const blocked = await startGateway({ IP_BLACK_LIST: '127.0.0.1' });
  t.after(() => blocked.proc.stop());
  const r = await fetch(`${blocked.url}/v1/models`);
  assert.equal(r.status, 403);
  assertErrorShape(await r.json(), 'ip_blocked');

  const untrusted = await startGateway({ IP_BLACK_LIST: '203.0.113.9' });
  t.after(() => untrusted.proc.stop());
  const spoofed = await fetch(`${untrusted.url}/v1/models`, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
  assert.equal(spoofed.status, 200, 'a forwarded-for header from an untrusted peer is ignored');

  const trusted = await startGateway({ IP_BLACK_LIST: '203.0.113.9', TRUSTED_PROXIES: '127.0.0.0/8,::1' });
  t.after(() => trusted.proc.stop());
  const viaProxy = await fetch(`${trusted.url}/v1/models`, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
  assert.equal(viaProxy.status, 403);
  const chain = await fetch(`${trusted.url}/v1/models`, { headers: { 'X-Forwarded-For': '203.0.113.9, 198.51.100.1' } });
  assert.equal(chain.status, 200, 'the right-most untrusted hop is the client');
});

test('a body over MAX_BODY_BYTES is refused with 413', async (t) => {
  const gw = await startGateway({ MAX_BODY_BYTES: '1000' });
  t.after(() => gw.proc.stop());
  const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', body: 'x'.repeat(5000) });
  assert.equal(r.status, 413);
  assertErrorShape(await r.json(), 'request_too_large');
  assert.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'the next request is served');
});

test('a client trickling its headers is cut off at the header timeout', async (t) => {
  const gw = await startGateway({ HEADER_TIMEOUT_SECONDS: '1' });
  t.after(() => gw.proc.stop());
  const c = await rawConnect(gw.port);
  const request = 'GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(40) + '\r\n\r\n';
  const started = Date.now();
  for (const ch of request) {
    if (c.closed) break;
    c.write(ch);
    await sleep(100);
  }
  await c.closedPromise;
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 3000, `closed after ${elapsed} ms`);
  assert.equal(parseResponses(c.received).length, 0, 'no response to an incomplete request');
  assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
});

test('/metrics is Prometheus text with request counts and durations', async (t) => {
  const gw = await startGateway();
  t.after(() => gw.proc.stop());
  await fetch(`${gw.url}/v1/models`);
  await fetch(`${gw.url}/v1/nothing`);
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? ([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]Inf|NaN)$/;
  const typed = new Set();
  for (const line of text.trim().split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const family = line.split(' ')[2];
      assert.ok(!typed.has(family), `${family} has one TYPE line, not two`);
      typed.add(family);
    }
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    assert.match(line, sample, line);
  }
  assert.match(text, /qodo2api_http_requests_total\{route="\/v1\/models",status="200"\} 1/);
  assert.match(text, /qodo2api_http_requests_total\{route="other",status="404"\} 1/);
  assert.match(text, /qodo2api_http_request_duration_seconds_bucket\{route="\/v1\/models",le="\+Inf"\} 1/);
  assert.match(text, /# TYPE qodo2api_active_streams gauge/);
  assert.match(text, /# TYPE qodo2api_upstream_attempts_total counter/);
});

test('SIGTERM lets a request in flight finish, then exits 0', async (t) => {
  const gw = await startGateway({ SHUTDOWN_GRACE_SECONDS: '10' });
  const c = await rawConnect(gw.port);
  const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
  c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  c.write(body.slice(0, 10));
  await sleep(200);
  gw.proc.child.kill('SIGTERM');
  await sleep(500);
  c.write(body.slice(10));
  await c.read((s) => parseResponses(s).length >= 1);
  const [response] = parseResponses(c.received);
  assert.equal(response.headers.connection, 'close');
  assertErrorShape(response.body);
  const { code } = await gw.proc.exited;
  assert.equal(code, 0);
});
