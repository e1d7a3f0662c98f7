// The emulator's command backend (tools/qodo-emulator, QODO-PROTOCOL.md §4–§8): get-things with
// models and quota headers, and the WebSocket session — Ready, UserQuery, UserResponse frames,
// EndNode, a client tool call answered with IDERetrievalAnswer, and each scripted failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startScriptedEmulator } from '../lib/harness.mjs';
import { wsConnect } from '../lib/ws.mjs';

const auth = (key) => ({ Authorization: `Bearer ${key}` });
const frame = (text) => JSON.parse(text);
const userQuery = (request) => `UserQuery ${JSON.stringify({
  agent_type: 'cli', session_id: 'S1', user_request: request, custom_model: 'gpt-5', tools: {},
})}\n`;

// Everything the server says until it goes quiet or closes.
async function drain(ws, quietMs = 300) {
  const frames = [];
  for (;;) {
    let f;
    try {
      f = await ws.next(quietMs);
    } catch {
      return frames;
    }
    if (f === null) return frames;
    frames.push(frame(f));
  }
}

const contentOf = (frames) => frames.filter((f) => f.data?.tool === 'UserResponse')
  .map((f) => f.data.tool_args.content).join('');

test('get-things lists the key\'s models, default model, session id and quota headers', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    accounts: { 'qk-quota': { get_things: { quota: { limit: 100, remaining: 0, reset_in: 60 }, base_url: 'http://tenant.example' } } },
  });
  const plain = await fetch(`${emu.url}/v2/info/get-things`, { headers: auth('qk-a') });
  assert.equal(plain.status, 200);
  const body = await plain.json();
  assert.deepEqual(body.models.map((m) => m.model_name), ['claude-4.5-sonnet', 'gpt-5', 'gpt-4o']);
  assert.equal(body.default_model, 'claude-4.5-sonnet');
  assert.match(body['session-id'], /^\d{8}-[0-9a-f-]{36}$/);
  assert.equal(plain.headers.get('x-ratelimit-limit'), null);

  const quota = await fetch(`${emu.url}/v2/info/get-things`, { headers: auth('qk-quota') });
  assert.equal(quota.headers.get('x-ratelimit-limit'), '100');
  assert.equal(quota.headers.get('x-ratelimit-remaining'), '0');
  const reset = Number(quota.headers.get('x-ratelimit-reset'));
  assert.ok(Math.abs(reset - (Date.now() / 1000 + 60)) < 5, `reset ${reset} is an absolute epoch`);
  assert.equal((await quota.json()).base_url, 'http://tenant.example');

  const section = await (await fetch(`${emu.url}/v2/info/get-things?section=session-id`, { headers: auth('qk-a') })).json();
  assert.deepEqual(Object.keys(section), ['session-id']);
});

test('get-things failures: no key or an unauthorized key is 401, then 500 and garbage as scripted', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    accounts: {
      'qk-bad': { get_things: { fail: 'unauthorized' } },
      'qk-flaky': { get_things: { sequence: [{ fail: 'server_error' }, { fail: 'garbage' }] } },
    },
  });
  assert.equal((await fetch(`${emu.url}/v2/info/get-things`)).status, 401);
  assert.equal((await fetch(`${emu.url}/v2/info/get-things`, { headers: auth('qk-bad') })).status, 401);
  assert.equal((await fetch(`${emu.url}/v2/info/get-things`, { headers: auth('qk-flaky') })).status, 500);
  const garbage = await fetch(`${emu.url}/v2/info/get-things`, { headers: auth('qk-flaky') });
  assert.equal(garbage.status, 200);
  const garbageText = await garbage.text();
  assert.throws(() => JSON.parse(garbageText), SyntaxError);
  assert.equal((await fetch(`${emu.url}/v2/info/get-things`, { headers: auth('qk-flaky') })).status, 200);
  const stats = await emu.stats();
  assert.equal(stats.counters.get_things_requests, 5);
});

test('a session: Ready, then the answer to the UserQuery, EndNode and Ready', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', { default: { session: { events: 3, interval_ms: 1, think: 'hm' } } });
  const ws = await wsConnect(emu.port, '/v2/agentic/ws/connect?session_id=S1&request_id=R1', auth('qk-a'));
  assert.equal(ws.status, 101);
  const ready = frame(await ws.next());
  assert.equal(ready.data.tool, 'Ready');
  ws.send(userQuery('hello'));
  const frames = await drain(ws);
  assert.equal(contentOf(frames), '<think>hm</think>\n\ntok0 tok1 tok2');
  assert.deepEqual(frames.slice(-2).map((f) => f.data.tool), ['EndNode', 'Ready']);
  assert.ok(frames.every((f) => f.session_id === 'S1'));
  ws.close();
  const stats = await emu.stats();
  const rec = stats.requests.find((r) => r.kind === 'session');
  assert.ok(rec.frame.startsWith('UserQuery {'), JSON.stringify(rec));
  assert.equal(JSON.parse(rec.frame.slice(10)).user_request, 'hello');
});

test('a client tool call waits for its IDERetrievalAnswer, then the answer goes on', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    default: { session: { events: 1, interval_ms: 0, tool_call: { name: 'get_weather', arguments: { city: 'Paris' }, answer_after: 'It is sunny.' } } },
  });
  const ws = await wsConnect(emu.port, '/v2/agentic/ws/connect?session_id=S2', auth('qk-a'));
  await ws.next();
  ws.send(userQuery('weather?'));
  const burst = await drain(ws);
  const call = burst.find((f) => f.data.server_name === 'client');
  assert.deepEqual(call.data, { tool: 'get_weather', server_name: 'client', identifier: 'call-1', tool_args: { city: 'Paris' } });
  assert.equal(burst.at(-1).data.tool, 'Ready');
  ws.send(`IDERetrievalAnswer ${JSON.stringify({ tool: 'get_weather', tool_id: 'call-1', answer: { isError: false, content: [{ type: 'text', text: 'sunny' }] } })}\n`);
  const rest = await drain(ws);
  assert.equal(contentOf(rest), 'It is sunny.');
  assert.deepEqual(rest.slice(-2).map((f) => f.data.tool), ['EndNode', 'Ready']);
  ws.close();
  const rec = (await emu.stats()).requests.find((r) => r.kind === 'session');
  assert.match(rec.tool_answer, /^IDERetrievalAnswer /);
});

test('session failures: 401 upgrade, close 1008, no Ready, error frame, stall, cut', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    accounts: {
      'qk-401': { session: { fail: 'unauthorized' } },
      'qk-1008': { session: { fail: 'close_1008' } },
      'qk-silent': { session: { fail: 'no_ready' } },
      'qk-error': { session: { events: 3, interval_ms: 0, fail: { mode: 'error_frame', after_events: 1, message: 'Usage limit exceeded' } } },
      'qk-stall': { session: { events: 3, interval_ms: 0, fail: { mode: 'stall', after_events: 2 } } },
      'qk-cut': { session: { events: 3, interval_ms: 0, fail: { mode: 'close', after_events: 2 } } },
    },
  });
  const path = '/v2/agentic/ws/connect?session_id=S';
  assert.equal((await wsConnect(emu.port, path, auth('qk-401'))).status, 401);
  assert.equal((await wsConnect(emu.port, path)).status, 401, 'no key');

  const closed = await wsConnect(emu.port, path, auth('qk-1008'));
  assert.equal(await closed.next(), null);
  assert.equal(closed.closeCode, 1008);

  const silent = await wsConnect(emu.port, path, auth('qk-silent'));
  await assert.rejects(silent.next(300), /no frame/);
  silent.destroy();

  const error = await wsConnect(emu.port, path, auth('qk-error'));
  await error.next();
  error.send(userQuery('x'));
  const errorFrames = await drain(error);
  assert.equal(contentOf(errorFrames), 'tok0 ');
  assert.deepEqual(errorFrames.find((f) => f.type === 'error'), { type: 'error', message: 'Usage limit exceeded' });
  error.close();

  const stall = await wsConnect(emu.port, path, auth('qk-stall'));
  await stall.next();
  stall.send(userQuery('x'));
  const stalled = await drain(stall);
  assert.equal(contentOf(stalled), 'tok0 tok1 ');
  assert.ok(!stalled.some((f) => f.data?.tool === 'EndNode'));
  stall.destroy();

  const cut = await wsConnect(emu.port, path, auth('qk-cut'));
  await cut.next();
  cut.send(userQuery('x'));
  const cutFrames = await drain(cut, 2000);
  assert.equal(contentOf(cutFrames), 'tok0 tok1 ');
  assert.ok(cut.closed && !cutFrames.some((f) => f.data?.tool === 'EndNode'));
});
