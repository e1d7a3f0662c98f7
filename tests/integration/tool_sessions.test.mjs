// Tool results on the command session that asked for them (docs/tools.md, "Continuing a
// session"): the session whose answer ended in client tool calls waits, and the request that
// brings exactly those calls' results continues it with IDERetrievalAnswer frames — whichever
// worker the request reaches (each request here opens its own connection, so with four workers
// most rounds cross workers). A session that is gone (expired, closed) leaves the request to
// the usual way: a new session with the whole conversation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { sleep } from '../lib/harness.mjs';
import { startStack, emulatorStats } from '../lib/stack.mjs';

const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const ask = [{ role: 'user', content: 'Weather in Paris?' }];
const scenario = {
  default: {
    session: {
      events: 1, interval_ms: 1, text: 'Checking',
      tool_call: { name: 'get_weather', arguments: { city: 'Paris' }, answer_after: 'Sunny, said the session.', unless_contains: 'result of the tool get_weather' },
    },
  },
};

// One request on a connection of its own (no keep-alive): its status and body.
function post(gw, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${gw.url}/v1/chat/completions`, {
      method: 'POST', agent: false, headers: { 'content-type': 'application/json', connection: 'close' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function round(gw, { stream }) {
  const first = await post(gw, { model: 'gpt-5', messages: ask, tools: [weather] });
  assert.equal(first.status, 200, first.text);
  const message = JSON.parse(first.text).choices[0].message;
  const id = message.tool_calls[0].id;
  const second = await post(gw, {
    model: 'gpt-5', tools: [weather], stream,
    messages: [...ask, message, { role: 'tool', tool_call_id: id, content: '21 C' }],
  });
  assert.equal(second.status, 200, second.text);
  if (!stream) return JSON.parse(second.text).choices[0].message.content;
  assert.ok(second.text.endsWith('data: [DONE]\n\n'), second.text);
  return second.text.split('\n\n').filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '').join('');
}

test('results continue the waiting session, whichever worker the request reaches', async (t) => {
  const { gw, emu } = await startStack(t, { accounts: [], apiKeys: ['qk-park-5f2c9a7e41d0'], scenario, env: { WORKERS: '4' } });
  for (let i = 0; i < 8; i++) {
    assert.equal(await round(gw, { stream: i % 2 === 1 }), 'Sunny, said the session.', `round ${i}`);
  }
  const stats = await emulatorStats(emu);
  assert.equal(stats.counters.command_sessions, 8, 'one session per round');
  assert.equal(stats.counters.user_queries, 8);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /qodo2api_tool_sessions_total\{event="continued"\} 8/);
});

test('a session that is gone leaves the request to a new session with the whole conversation', async (t) => {
  const { gw, emu } = await startStack(t, {
    accounts: [], apiKeys: ['qk-gone-5f2c9a7e41d0'], scenario, env: { UPSTREAM_IDLE_TIMEOUT_SECONDS: '1' },
  });
  const first = await post(gw, { model: 'gpt-5', messages: ask, tools: [weather] });
  const message = JSON.parse(first.text).choices[0].message;
  await sleep(1600);  // the parked session times out (idle) and is closed
  const second = await post(gw, {
    model: 'gpt-5', tools: [weather],
    messages: [...ask, message, { role: 'tool', tool_call_id: message.tool_calls[0].id, content: '21 C' }],
  });
  assert.equal(second.status, 200, second.text);
  assert.equal(JSON.parse(second.text).choices[0].message.content, 'Sunny, said the session.');
  const stats = await emulatorStats(emu);
  assert.equal(stats.counters.command_sessions, 2, 'a new session');
  const sessions = stats.requests.filter((r) => r.kind === 'session');
  assert.match(sessions[1].frame, /result of the tool get_weather/);
});
