// Both kinds of account through the official OpenAI SDK: chats accounts (Firebase logins,
// POST /v2/chats/chat) and command accounts (Qodo API keys, a WebSocket session per answer)
// serve chat side by side, fail over into each other, show in the admin API and /metrics, and
// survive a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack, emulatorStats } from '../lib/stack.mjs';
import { startGateway, sleep } from '../lib/harness.mjs';

const fast = ['--events', '4', '--interval-ms', '2'];
const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say four words.' }];
const admin = { Authorization: 'Bearer adm' };

function client(gw) {
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
}

async function accountsOf(gw) {
  return (await (await fetch(`${gw.url}/admin/accounts`, { headers: admin })).json()).data;
}

async function streamText(openai, model) {
  const stream = await openai.chat.completions.create({ model, messages, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, finish };
}

test('both kinds serve chat, each only the models its backend offers', async (t) => {
  const { gw, emu } = await startStack(t, {
    emulatorArgs: fast, accounts: ['rt-a'], apiKeys: ['qk-one-5f2c9a7e41d0'], env: { ADMIN_SECRET: 'adm' },
  });
  const openai = client(gw);
  const ids = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  // The seed table first, then what the command account's get-things listed beyond it.
  assert.ok(ids.includes('deepseek-r1') && ids.includes('gpt-4o'), ids.join());
  assert.ok(ids.includes('claude-4.5-sonnet') && ids.includes('gpt-5'), ids.join());
  assert.equal(new Set(ids).size, ids.length, 'no model twice');

  // gpt-5: only the command account has it.
  const live = await openai.chat.completions.create({ model: 'gpt-5', messages });
  assert.equal(live.choices[0].message.content, 'tok0 tok1 tok2 tok3');
  assert.equal(live.model, 'gpt-5');
  assert.deepEqual(await streamText(openai, 'claude-4.5-sonnet'), { text: 'tok0 tok1 tok2 tok3', finish: 'stop' });
  // deepseek-r1: only the chats account.
  const seed = await openai.chat.completions.create({ model: 'deepseek-r1', messages });
  assert.equal(seed.choices[0].message.content, 'tok0 tok1 tok2 tok3');

  let stats = await emulatorStats(emu);
  assert.equal(stats.counters.user_queries, 2, 'two command sessions answered');
  assert.equal(stats.counters.chat_requests, 1);
  const sessions = stats.requests.filter((r) => r.kind === 'session');
  const models = sessions.map((r) => JSON.parse(r.frame.slice('UserQuery '.length)).custom_model);
  assert.deepEqual(models.sort(), ['claude-4.5-sonnet', 'gpt-5']);
  const query = JSON.parse(sessions[0].frame.slice('UserQuery '.length));
  assert.equal(query.system_prompt, 'Be brief.');
  assert.equal(query.user_request, 'Say four words.');
  assert.deepEqual(query.projects_root_path, []);

  // gpt-4o: both; 20 requests reach both kinds.
  for (let i = 0; i < 20; i++) {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages });
    assert.equal(r.choices[0].message.content, 'tok0 tok1 tok2 tok3');
  }
  stats = await emulatorStats(emu);
  assert.ok(stats.counters.user_queries > 2 && stats.counters.chat_requests > 1, JSON.stringify(stats.counters));

  const list = await accountsOf(gw);
  const chats = list.find((a) => a.kind === 'chats');
  const command = list.find((a) => a.kind === 'command');
  assert.ok(chats.models.includes('deepseek-r1') && chats.quota === null);
  assert.deepEqual(command.models, ['claude-4.5-sonnet', 'gpt-5', 'gpt-4o']);
  assert.deepEqual(command.quota, { remaining: null, limit: null, reset_at: null });
  assert.equal(command.key, 'qk-one…', 'the key masked: its first 6 characters');
  assert.ok(command.requests >= 2 && chats.requests >= 1);

  // A model nobody offers is a 400 naming it; an unknown one too.
  await assert.rejects(openai.chat.completions.create({ model: 'gpt-9', messages }),
    (e) => e.status === 400 && /gpt-9/.test(e.message));

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /qodo2api_accounts\{state="active"\} 2/);
  assert.match(metrics, /qodo2api_accounts_by_kind\{kind="chats",usable="true"\} 1/);
  assert.match(metrics, /qodo2api_accounts_by_kind\{kind="command",usable="true"\} 1/);
  assert.ok(!metrics.includes('qk-one'), 'no key in the metrics');
});

test('failover crosses kinds, and the all-failed message names each kind', async (t) => {
  // round_robin: each kind is tried first in turn, so a few requests reach both.
  const { gw, emu } = await startStack(t, {
    emulatorArgs: fast, accounts: ['rt-a'], apiKeys: ['qk-one-5f2c9a7e41d0'],
    env: { ADMIN_SECRET: 'adm', ACCOUNT_STRATEGY: 'round_robin' },
    scenario: { default: { chat: { fail: 'server_error' } } },
  });
  const openai = client(gw);
  // Every chats answer is a 500: gpt-4o is answered by the command account, every time.
  for (let i = 0; i < 6; i++) {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages });
    assert.equal(r.choices[0].message.content, 'tok0 tok1 tok2 tok3');
    assert.deepEqual(await streamText(openai, 'gpt-4o'), { text: 'tok0 tok1 tok2 tok3', finish: 'stop' });
  }
  // Now the command side fails too, in its own way.
  const post = await fetch(`${emu.url}/_emulator/scenario`, {
    method: 'POST',
    body: JSON.stringify({ default: { chat: { fail: 'server_error' }, session: { fail: { mode: 'error_frame', after_events: 0, message: 'model overloaded' } } } }),
  });
  assert.equal(post.status, 200);
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages }),
  });
  assert.equal(res.status, 503, 'two accounts failing two ways: 503');
  const error = (await res.json()).error;
  assert.match(error.message, /chats account: backend server error/);
  assert.match(error.message, /command account: model overloaded/);

  // The other way round: the command account's key is refused, chats answer.
  await fetch(`${emu.url}/_emulator/scenario`, {
    method: 'POST', body: JSON.stringify({ default: { session: { fail: 'close_1008' } } }),
  });
  for (let i = 0; i < 4; i++) {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages });
    assert.equal(r.choices[0].message.content, 'tok0 tok1 tok2 tok3');
  }
  const command = (await accountsOf(gw)).find((a) => a.kind === 'command');
  assert.equal(command.state, 'invalid', 'close 1008 marks the key invalid');
  assert.match(command.last_error, /1008/);
});

test('command accounts survive a restart: kind, models, disabled state', async (t) => {
  const { gw, emu } = await startStack(t, {
    emulatorArgs: fast, accounts: [], apiKeys: ['qk-one-5f2c9a7e41d0', 'qk-two-8b3e6d1f90a4'], env: { ADMIN_SECRET: 'adm' },
  });
  const list = await accountsOf(gw);
  assert.equal(list.length, 2);
  const disabled = await fetch(`${gw.url}/admin/accounts/${list[1].id}/disable`, { method: 'POST', headers: admin });
  assert.equal(disabled.status, 200);
  assert.equal((await disabled.json()).state, 'disabled');
  // Only the enabled one serves now.
  for (let i = 0; i < 4; i++) {
    const r = await client(gw).chat.completions.create({ model: 'gpt-5', messages });
    assert.equal(r.choices[0].message.content, 'tok0 tok1 tok2 tok3');
  }
  const stats = await emulatorStats(emu);
  assert.equal(stats.accounts['qk-two-8b3e6d1f90a4']?.command_sessions ?? 0, 0, 'a disabled account is not used');
  await gw.proc.stop();

  const again = await startGateway({
    QODO_API_BASE: emu.url, FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, QODO_COMMAND_URL: emu.url,
    QODO_API_KEYS: 'qk-one-5f2c9a7e41d0,qk-two-8b3e6d1f90a4', ADMIN_SECRET: 'adm', DATA_DIR: gw.dataDir,
  });
  t.after(() => again.proc.stop());
  for (let i = 0; (await fetch(`${again.url}/readyz`)).status !== 200; i++) {
    assert.ok(i < 100, again.proc.output);
    await sleep(50);
  }
  const after = await accountsOf(again);
  assert.deepEqual(after.map((a) => [a.id, a.kind, a.state]), [[list[0].id, 'command', 'active'], [list[1].id, 'command', 'disabled']]);
  assert.deepEqual(after[1].models, ['claude-4.5-sonnet', 'gpt-5', 'gpt-4o']);
  const enabled = await fetch(`${again.url}/admin/accounts/${list[1].id}/enable`, { method: 'POST', headers: admin });
  assert.equal((await enabled.json()).state, 'active');
  const r = await client(again).chat.completions.create({ model: 'gpt-5', messages });
  assert.equal(r.choices[0].message.content, 'tok0 tok1 tok2 tok3');
});

test('tool calls on a command account through the openai SDK: a call, its result on the waiting session or a new one, the answer', async (t) => {
  const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
  const turn = { events: 1, interval_ms: 1, tool_call: { name: 'get_weather', arguments: { city: 'Paris', tool_reasoning: 'the user asked' }, answer_after: 'sunny after the call' } };
  const answer = { events: 2, interval_ms: 1, text: 'sunny' };
  const { gw, emu } = await startStack(t, {
    emulatorArgs: fast, accounts: [], apiKeys: ['qk-tools-5f2c9a7e41d0'],
    scenario: { default: { session: { sequence: [turn, turn, answer] } } },
  });
  const openai = client(gw);
  const ask = [{ role: 'user', content: 'What is the weather in Paris?' }];
  for (const stream of [false, true]) {
    let first;
    if (stream) {
      const runner = openai.chat.completions.stream({ model: 'gpt-5', messages: ask, tools: [weather] });
      first = await runner.finalChatCompletion();
    } else {
      first = await openai.chat.completions.create({ model: 'gpt-5', messages: ask, tools: [weather] });
    }
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(first));
    assert.equal(choice.message.content, 'tok0');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.match(call.id, /^call_[A-Za-z0-9]+_0$/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' }, 'tool_reasoning is not an argument');

    // First round: the result goes back on the session that waits for it. Second round: the
    // client renamed the call (as some clients do), no session waits for that id, and the
    // request is answered from its own messages on a new session.
    const id = stream ? 'call_renamed_by_the_client' : call.id;
    const message = { ...choice.message, tool_calls: [{ ...call, id }] };
    const next = await openai.chat.completions.create({
      model: 'gpt-5', tools: [weather],
      messages: [...ask, message, { role: 'tool', tool_call_id: id, content: '21 C, sunny' }],
    });
    assert.equal(next.choices[0].message.content, stream ? 'sunny0 sunny1' : 'sunny after the call');
    assert.equal(next.choices[0].finish_reason, 'stop');
  }
  const stats = await emulatorStats(emu);
  const sessions = stats.requests.filter((r) => r.kind === 'session');
  assert.equal(sessions.length, 3, 'the continued round opened no session');
  const queries = sessions.map((r) => JSON.parse(r.frame.slice('UserQuery '.length)));
  assert.deepEqual(queries[0].tools, { client: [{ name: 'get_weather', description: 'Weather in a city',
    inputSchema: weather.function.parameters, autoApproved: false }] });
  // The waiting session got the result as the CLI sends it.
  const answerFrame = sessions[0].tool_answer;
  assert.ok(answerFrame.startsWith('IDERetrievalAnswer {'), answerFrame);
  const sent = JSON.parse(answerFrame.slice('IDERetrievalAnswer '.length));
  assert.equal(sent.tool, 'get_weather');
  assert.equal(sent.tool_id, 'call-1');
  assert.deepEqual(sent.answer, { isError: false, content: [{ type: 'text', text: '21 C, sunny' }] });
  // The new session's request is answerable from its own messages: the call and its result.
  assert.match(queries[2].user_request, /\[assistant called the tool get_weather \(call call_renamed_by_the_client\)\]\n\{"city":"Paris"\}/);
  assert.match(queries[2].user_request, /\[result of the tool get_weather \(call call_renamed_by_the_client\)\]\n21 C, sunny/);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /qodo2api_tool_sessions_total\{event="parked"\} 2/);
  assert.match(metrics, /qodo2api_tool_sessions_total\{event="continued"\} 1/);
});
