// Fault injection, token endpoint: down or hanging at start-up (the service starts, /readyz is
// 503, the account becomes usable through the back-off once the endpoint recovers) and down later
// (the gateway keeps serving with the access token it has, and refreshes once it can).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { token, emulator, gateway, waitReady, readyz, chat, parseSse, waitFor, assertErrorShape } from './lib.mjs';

const ARGS = ['--events', '3', '--interval-ms', '2'];

for (const [name, fail] of [['answers 500', 'server_error'], ['answers 503', { mode: 'status', status: 503 }], ['hangs', 'hang']]) {
  test(`the token endpoint ${name} at start-up: the service starts, /readyz 503, then recovers by back-off`, async (t) => {
    const rt = token('rt-boot');
    const emu = await emulator(t, { default: { token: { fail } } }, ARGS);
    const started = Date.now();
    const gw = await gateway(t, emu, [rt], { UPSTREAM_FIRST_BYTE_TIMEOUT_SECONDS: '1', UPSTREAM_CONNECT_TIMEOUT_SECONDS: '1' });
    assert.ok(Date.now() - started < 12000, `listening after ${Date.now() - started} ms`);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    const r = await readyz(gw);
    assert.equal(r.status, 503, JSON.stringify(r.body));
    const c = await chat(gw, { stream: true });
    assert.equal(c.status, 503, c.text);
    assertErrorShape(c.json);

    // Retried, not given up: the endpoint sees more than one exchange while it fails.
    await waitFor('a retried exchange', async () => (await emu.stats()).counters.token_requests >= 2, 10000);
    let st = await emu.stats();
    assert.equal(st.counters.token_issued ?? 0, 0);

    await emu.scenario({});
    await waitReady(gw, 1, 15000);
    const ok = await chat(gw, { stream: true });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(parseSse(ok.text).content, 'tok0 tok1 tok2');
    st = await emu.stats();
    assert.equal(st.counters.token_issued, 1);
    assert.ok(!gw.proc.output.includes(rt), 'the refresh token is not logged');
  });
}

test('the token endpoint goes down later: chats keep working with the token held; refresh resumes', async (t) => {
  const rt = token('rt-later');
  // Short-lived access tokens: the background refresh comes due within a few seconds.
  const emu = await emulator(t, { default: { token: { expires_in: 8 } } }, ARGS);
  const gw = await gateway(t, emu, [rt], { UPSTREAM_FIRST_BYTE_TIMEOUT_SECONDS: '1' });
  await waitReady(gw);
  assert.equal((await chat(gw)).status, 200);
  await emu.scenario({ default: { token: { expires_in: 8, fail: 'server_error' } } });

  await waitFor('a failed background refresh', async () => (await emu.stats()).counters.token_failed >= 1, 12000, 100);
  // The old access token is still valid: the gateway serves with it, without waiting on a refresh.
  for (const stream of [true, false]) {
    const c = await chat(gw, { stream, timeoutMs: 5000 });
    assert.equal(c.status, 200, c.text);
    assert.ok(c.ms < 3000, `answered after ${c.ms} ms`);
  }
  assert.equal((await readyz(gw)).status, 200);

  await emu.scenario({ default: { token: { expires_in: 8 } } });
  await waitFor('a successful refresh after the outage', async () => (await emu.stats()).counters.token_issued >= 2, 15000, 100);
  const after = await chat(gw, { stream: true });
  assert.equal(after.status, 200, after.text);
  assert.equal(parseSse(after.text).content, 'tok0 tok1 tok2');
});
