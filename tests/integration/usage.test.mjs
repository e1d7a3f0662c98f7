// Usage per client key and model per day (SPEC §13): API_SECRET names its keys (`name:key`),
// every answer's prompt and completion tokens are counted under its key and model on either
// surface, GET /admin/usage shows them (filtered by day) and /metrics carries them, and they
// survive a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, sleep } from '../lib/harness.mjs';
import { startStack } from '../lib/stack.mjs';

const admin = { Authorization: 'Bearer adm' };
const today = new Date().toISOString().slice(0, 10);

async function usage(gw, query = '') {
  const r = await fetch(`${gw.url}/admin/usage${query}`, { headers: admin });
  assert.equal(r.status, 200);
  return (await r.json()).data;
}

test('tokens per key and model per day, on both surfaces, kept across a restart', async (t) => {
  const env = { API_SECRET: 'alice:sk-alice-123, sk-bobbykey', ADMIN_SECRET: 'adm' };
  const { gw, emu } = await startStack(t, { emulatorArgs: ['--events', '4', '--interval-ms', '1'], env });
  const ask = (key, model, stream = false) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, stream_options: stream ? { include_usage: true } : undefined, messages: [{ role: 'user', content: 'Count for me.' }] }),
  });
  const expected = new Map();
  const add = (key, model, u) => {
    const k = `${key}/${model}`;
    const e = expected.get(k) ?? { requests: 0, prompt_tokens: 0, completion_tokens: 0 };
    expected.set(k, { requests: e.requests + 1, prompt_tokens: e.prompt_tokens + u.prompt_tokens, completion_tokens: e.completion_tokens + u.completion_tokens });
  };
  for (let i = 0; i < 2; i++) add('alice', 'gpt-4o', (await (await ask('sk-alice-123', 'gpt-4o')).json()).usage);
  // A stream: its usage chunk says what was counted.
  const streamed = await (await ask('sk-alice-123', 'gpt-4o', true)).text();
  const usageChunk = streamed.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6))).find((c) => c.usage);
  add('alice', 'gpt-4o', usageChunk.usage);
  add('sk-bob', 'o1', (await (await ask('sk-bobbykey', 'o1')).json()).usage);
  // The Anthropic surface, key in x-api-key.
  const message = await (await fetch(`${gw.url}/v1/messages`, {
    method: 'POST', headers: { 'x-api-key': 'sk-bobbykey', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-3-7-sonnet', max_tokens: 100, messages: [{ role: 'user', content: 'Count for me.' }] }),
  })).json();
  const anthropicTokens = await (await fetch(`${gw.url}/v1/messages/count_tokens`, {
    method: 'POST', headers: { 'x-api-key': 'sk-bobbykey', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-3-7-sonnet', messages: [{ role: 'user', content: 'Count for me.' }] }),
  })).json();
  assert.equal(message.usage.input_tokens, anthropicTokens.input_tokens);
  // A refused request and a failed one count nothing.
  assert.equal((await ask('sk-wrong', 'gpt-4o')).status, 401);
  assert.equal((await ask('sk-alice-123', 'no-such-model')).status, 400);

  await sleep(50);  // the last answer's accounting runs when its exchange completes
  const rows = await usage(gw);
  const byKey = Object.fromEntries(rows.map((r) => [`${r.key}/${r.model}`, r]));
  for (const [k, e] of expected) {
    assert.ok(byKey[k], `${k} in ${JSON.stringify(rows)}`);
    assert.equal(byKey[k].day, today);
    assert.deepEqual({ requests: byKey[k].requests, prompt_tokens: byKey[k].prompt_tokens, completion_tokens: byKey[k].completion_tokens }, e, k);
  }
  assert.equal(byKey['sk-bob/claude-3-7-sonnet'].requests, 1);
  assert.equal(byKey['sk-bob/claude-3-7-sonnet'].prompt_tokens, message.usage.input_tokens);
  assert.equal(rows.length, 3);
  // No secret in the output: names only.
  assert.doesNotMatch(JSON.stringify(rows), /sk-alice-123|sk-bobbykey/);

  assert.equal((await usage(gw, `?from=${today}&to=${today}`)).length, 3);
  assert.equal((await usage(gw, '?from=2999-01-01')).length, 0);
  const bad = await fetch(`${gw.url}/admin/usage?from=yesterday`, { headers: admin });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.param, 'from');
  assert.equal((await fetch(`${gw.url}/admin/usage`, { headers: { Authorization: 'Bearer nope' } })).status, 401);

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /qodo2api_usage_requests_total\{key="alice",model="gpt-4o"\} 3/);
  assert.match(metrics, new RegExp(`qodo2api_usage_tokens_total\\{key="sk-bob",model="o1",direction="completion"\\} ${expected.get('sk-bob/o1').completion_tokens}`));

  // A restart (SIGTERM saves what changed) keeps the totals.
  await gw.proc.stop();
  const again = await startGateway({ ...env, DATA_DIR: gw.dataDir, QODO_API_BASE: emu.url, FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, QD_COOKIE: 'AIzaTestKey=rt-a' });
  t.after(() => again.proc.stop());
  assert.deepEqual(await usage(again), rows);
});

test('without API_SECRET the usage is counted as anonymous', async (t) => {
  const { gw } = await startStack(t, { emulatorArgs: ['--events', '2', '--interval-ms', '1'], env: { ADMIN_SECRET: 'adm' } });
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(r.status, 200);
  await sleep(10);
  const rows = await usage(gw);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].key, 'anonymous');
});
