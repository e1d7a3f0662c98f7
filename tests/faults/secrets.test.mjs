// Security: with DEBUG=true and representative traffic (start-up exchanges, a rotation, a 401
// refresh, chats streamed and not, failovers, client 401s, admin calls good and bad, a rejected
// addition), no refresh token, access token, client API key or ADMIN_SECRET appears in the
// gateway's stdout/stderr, DATA_DIR/logs/*, /metrics, admin output or any response body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { API_KEY, token, emulator, gateway, waitReady, waitFor, sleep } from './lib.mjs';

const secret = (name) => `${name}-${randomBytes(16).toString('hex')}`;

test('DEBUG=true: no secret in any log line, metric, admin answer or error body', async (t) => {
  const plain = token('rt-plain');
  const rotating = token('rt-rotate');
  const stale = token('rt-stale');
  const dead = token('rt-dead');
  const added = token('rt-added');
  const rejected = token('rt-reject');
  const apiKeys = [secret('sk-client-a'), secret('sk-client-b')];
  const adminSecret = secret('adm');
  const emu = await emulator(t, {
    accounts: {
      [rotating]: { token: { rotate: true, expires_in: 6 } },
      [stale]: { chat: { fail: 'invalid_token_first' } },
      [dead]: { token: { fail: 'INVALID_REFRESH_TOKEN' } },
      [rejected]: { token: { fail: 'USER_DISABLED' } },
    },
  }, ['--events', '3', '--interval-ms', '2']);
  const gw = await gateway(t, emu, [plain, rotating, stale, dead], {
    DEBUG: 'true', API_SECRET: apiKeys.join(','), ADMIN_SECRET: adminSecret, ACCOUNT_STRATEGY: 'round_robin',
  });
  await waitReady(gw, 3);

  const seen = [];
  async function call(path, { method = 'GET', headers = {}, body } = {}) {
    const r = await fetch(`${gw.url}${path}`, {
      method, headers: { 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
      signal: AbortSignal.timeout(20000),
    });
    const text = await r.text();
    seen.push(`${r.status} ${[...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${text}`);
    return { status: r.status, text };
  }
  const chatBody = (stream, content = 'hello') => ({ model: 'gpt-4o', stream, messages: [{ role: 'user', content }] });

  // Chats with each key form, streamed and not; the stale account's 401 and refresh among them.
  for (let i = 0; i < 8; i++) {
    const auth = i % 2 ? `Bearer ${apiKeys[i % 2]}` : apiKeys[0];
    const r = await call('/v1/chat/completions', { method: 'POST', headers: { Authorization: auth }, body: chatBody(i % 3 === 0) });
    assert.equal(r.status, 200, r.text);
  }
  // Client errors: wrong keys (one a near miss of a real key), no key, bad bodies.
  assert.equal((await call('/v1/models', { headers: { Authorization: `Bearer ${apiKeys[0].slice(0, -1)}x` } })).status, 401);
  assert.equal((await call('/v1/models', { headers: { Authorization: `Bearer ${adminSecret}` } })).status, 401);
  assert.equal((await call('/v1/models')).status, 401);
  const auth = { Authorization: `Bearer ${apiKeys[1]}` };
  assert.equal((await call('/v1/chat/completions', { method: 'POST', headers: auth, body: '{"model":' })).status, 400);
  assert.equal((await call('/v1/chat/completions', { method: 'POST', headers: auth, body: { model: 'nope', messages: [] } })).status, 400);
  // Backend failures: rate limit, 500, a mid-stream cut, every account failing.
  for (const fail of ['rate_limit', 'server_error', { mode: 'disconnect', after_events: 1 }]) {
    await emu.scenario({ default: { chat: { sequence: [{ times: 1, fail }] } }, accounts: { [rotating]: { token: { rotate: true, expires_in: 6 } } } });
    await call('/v1/chat/completions', { method: 'POST', headers: auth, body: chatBody(true) });
  }
  await emu.scenario({ default: { chat: { fail: 'unavailable' } }, accounts: { [rotating]: { token: { rotate: true, expires_in: 6 } } } });
  assert.ok((await call('/v1/chat/completions', { method: 'POST', headers: auth, body: chatBody(false) })).status >= 500);
  await emu.scenario({ accounts: { [rotating]: { token: { rotate: true, expires_in: 6 } }, [rejected]: { token: { fail: 'USER_DISABLED' } } } });

  // Admin: wrong key, list, add, a rejected add, enable, delete.
  const adm = { Authorization: `Bearer ${adminSecret}` };
  assert.equal((await call('/admin/accounts', { headers: { Authorization: `Bearer ${apiKeys[0]}` } })).status, 401);
  assert.equal((await call('/admin/accounts', { headers: adm })).status, 200);
  const add = await call('/admin/accounts', { method: 'POST', headers: adm, body: { cookie: `${API_KEY}=${added}` } });
  assert.equal(add.status, 201, add.text);
  assert.equal((await call('/admin/accounts', { method: 'POST', headers: adm, body: { cookie: `${API_KEY}=${rejected}` } })).status, 400);
  assert.equal((await call('/admin/accounts', { method: 'POST', headers: adm, body: `{"cookie":"${API_KEY}=${added}"}` })).status, 409);
  const id = JSON.parse(add.text).id;
  assert.equal((await call(`/admin/accounts/${id}/enable`, { method: 'POST', headers: adm })).status, 200);
  assert.equal((await call('/admin/accounts', { headers: adm })).status, 200);
  assert.equal((await call(`/admin/accounts/${id}`, { method: 'DELETE', headers: adm })).status, 204);

  // The rotating account refreshes in the background (6 s tokens): its new refresh tokens are
  // secrets too.
  await waitFor('a background rotation', async () => {
    const s = await emu.stats();
    return Object.keys(s.refresh_tokens).some((k) => k.startsWith(`${rotating}.rot`) && !k.endsWith('rot1'));
  }, 15000, 200);
  assert.equal((await call('/v1/chat/completions', { method: 'POST', headers: auth, body: chatBody(true) })).status, 200);
  seen.push(await (await fetch(`${gw.url}/metrics`)).text());
  seen.push(await (await fetch(`${gw.url}/readyz`)).text());
  await sleep(300);

  // Every secret the run used, from the emulator's own record.
  const stats = await emu.stats();
  const refreshTokens = new Set([plain, rotating, stale, dead, added, rejected, ...Object.keys(stats.refresh_tokens)]);
  const accessTokens = new Set();
  for (const r of stats.requests) {
    const a = r.headers?.authorization;
    if (r.kind === 'chat' && a && a.startsWith('Bearer ')) accessTokens.add(a.slice(7));
  }
  assert.ok(accessTokens.size >= 4, `access tokens recorded: ${accessTokens.size}`);
  for (const at of accessTokens) assert.ok(at.length > 40 && !at.includes('…'), `a full access token: ${at}`);
  assert.ok([...refreshTokens].some((rt) => rt.includes('.rot')), 'a rotated refresh token was issued');

  // Let the logs reach the files, then gather everything the gateway wrote or answered.
  await gw.proc.stop('SIGTERM');
  let everything = gw.proc.output + seen.join('\n');
  const logs = join(gw.dataDir, 'logs');
  assert.ok(existsSync(logs));
  for (const f of readdirSync(logs)) everything += readFileSync(join(logs, f), 'utf8');
  assert.match(everything, /debug/i, 'DEBUG logging was on');
  assert.ok(everything.length > 10000, `${everything.length} bytes of output`);

  const leaks = [];
  const check = (kind, s, probe = s) => { if (everything.includes(probe)) leaks.push(`${kind} ${s.slice(0, 6)}…`); };
  for (const rt of refreshTokens) {
    check('refresh token', rt);
    // More than the 6-character mask is a leak too.
    check('refresh token (7+ characters)', rt, rt.slice(0, 12));
  }
  for (const at of accessTokens) {
    check('access token', at);
    check('access token signature', at, at.split('.').at(-1));
    check('access token payload', at, at.split('.')[1]);
  }
  for (const k of apiKeys) { check('API key', k); check('API key (7+ characters)', k, k.slice(0, 16)); }
  check('ADMIN_SECRET', adminSecret);
  check('ADMIN_SECRET (7+ characters)', adminSecret, adminSecret.slice(0, 10));
  assert.deepEqual(leaks, [], 'secrets found in the output');
});
