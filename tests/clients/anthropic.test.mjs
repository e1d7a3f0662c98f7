// The Anthropic Messages API through the official @anthropic-ai/sdk (SPEC §11): create and
// stream (with the SDK's event helpers) on both kinds of account, thinking, stop sequences, a
// tool round trip on each backend, countTokens against usage, the model list, the aliases of
// Anthropic's model ids, and errors in Anthropic's shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startStack, emulatorStats } from '../lib/stack.mjs';

const fast = ['--events', '4', '--interval-ms', '2'];
const hello = [{ role: 'user', content: 'Say four words.' }];
const weather = {
  name: 'get_weather',
  description: 'Weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
};

function client(gw, apiKey = 'sk-test') {
  return new Anthropic({ baseURL: gw.url, apiKey, maxRetries: 0 });
}

// The raw SSE of one streamed request: [{event, data}].
async function rawEvents(gw, body) {
  const r = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': 'sk-test', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/event-stream/);
  const text = await r.text();
  return text.split('\n\n').filter(Boolean).map((block) => {
    const [eventLine, dataLine] = block.split('\n');
    assert.ok(eventLine.startsWith('event: ') && dataLine.startsWith('data: '), block);
    const data = JSON.parse(dataLine.slice(6));
    assert.equal(data.type, eventLine.slice(7), 'the event name is the data type');
    return data;
  });
}

test('create, stream with event helpers, countTokens and the model list on a chats account', async (t) => {
  const { gw } = await startStack(t, { emulatorArgs: fast, env: { API_SECRET: 'sk-test' } });
  const anthropic = client(gw);
  const message = await anthropic.messages.create({ model: 'claude-3-7-sonnet', max_tokens: 256, system: 'Be brief.', messages: hello });
  assert.equal(message.type, 'message');
  assert.equal(message.role, 'assistant');
  assert.match(message.id, /^msg_[A-Za-z0-9]{24}$/);
  assert.equal(message.model, 'claude-3-7-sonnet');
  assert.deepEqual(message.content, [{ type: 'text', text: 'tok0 tok1 tok2 tok3' }]);
  assert.equal(message.stop_reason, 'end_turn');
  assert.equal(message.stop_sequence, null);
  const counted = await anthropic.messages.countTokens({ model: 'claude-3-7-sonnet', system: 'Be brief.', messages: hello });
  assert.equal(message.usage.input_tokens, counted.input_tokens, 'usage.input_tokens is what count_tokens says');
  assert.ok(message.usage.output_tokens >= 4);

  const seen = [];
  let text = '';
  const stream = anthropic.messages.stream({ model: 'claude-3-7-sonnet', max_tokens: 256, messages: hello });
  stream.on('streamEvent', (e) => seen.push(e.type));
  stream.on('text', (delta) => { text += delta; });
  const final = await stream.finalMessage();
  assert.equal(text, 'tok0 tok1 tok2 tok3');
  assert.deepEqual(final.content, [{ type: 'text', text: 'tok0 tok1 tok2 tok3' }]);
  assert.equal(final.stop_reason, 'end_turn');
  assert.equal(final.usage.output_tokens, message.usage.output_tokens);
  assert.deepEqual([seen[0], seen[1], seen.at(-2), seen.at(-1)], ['message_start', 'content_block_start', 'message_delta', 'message_stop']);

  // The exact wire order, ping after message_start.
  const events = await rawEvents(gw, { model: 'claude-3-7-sonnet', max_tokens: 256, messages: hello });
  assert.deepEqual(events.map((e) => e.type), [
    'message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta',
    'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  const bare = await anthropic.messages.countTokens({ model: 'claude-3-7-sonnet', messages: hello });
  assert.equal(events[0].message.usage.input_tokens, bare.input_tokens);

  const page = await anthropic.models.list();
  const ids = page.data.map((m) => m.id);
  assert.ok(ids.includes('claude-3-7-sonnet') && ids.includes('gpt-4o'), ids.join());
  assert.equal(page.data[0].type, 'model');
  assert.ok(!Number.isNaN(Date.parse(page.data[0].created_at)));
  const raw = await (await fetch(`${gw.url}/v1/models`, { headers: { 'x-api-key': 'sk-test', 'anthropic-version': '2023-06-01' } })).json();
  assert.equal(raw.has_more, false);
  assert.equal(raw.first_id, ids[0]);
  assert.equal(raw.last_id, ids.at(-1));
  // Without the header, the OpenAI shape as before.
  const openai = await (await fetch(`${gw.url}/v1/models`, { headers: { Authorization: 'Bearer sk-test' } })).json();
  assert.equal(openai.object, 'list');
});

test('thinking blocks only when asked, and stop sequences cut the text', async (t) => {
  const { gw } = await startStack(t, {
    emulatorArgs: fast, scenario: { default: { chat: { think: 'Let me think.' } } },
  });
  const anthropic = client(gw);
  const plain = await anthropic.messages.create({ model: 'deepseek-r1', max_tokens: 100, messages: hello });
  assert.deepEqual(plain.content.map((b) => b.type), ['text'], 'reasoning is left out without thinking');
  const thinking = await anthropic.messages.create({
    model: 'deepseek-r1', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: hello,
  });
  assert.deepEqual(thinking.content.map((b) => b.type), ['thinking', 'text']);
  assert.equal(thinking.content[0].thinking, 'Let me think.');
  assert.ok(thinking.usage.output_tokens > plain.usage.output_tokens, 'the thinking shown is counted');

  let thought = '';
  const stream = anthropic.messages.stream({
    model: 'deepseek-r1', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: hello,
  });
  stream.on('thinking', (delta) => { thought += delta; });
  const final = await stream.finalMessage();
  assert.equal(thought, 'Let me think.');
  assert.deepEqual(final.content.map((b) => b.type), ['thinking', 'text']);

  for (const streamed of [false, true]) {
    const body = { model: 'gpt-4o', max_tokens: 100, stop_sequences: ['tok2', 'never'], messages: hello };
    const cut = streamed ? await anthropic.messages.stream(body).finalMessage() : await anthropic.messages.create(body);
    assert.deepEqual(cut.content, [{ type: 'text', text: 'tok0 tok1 ' }], `streamed: ${streamed}`);
    assert.equal(cut.stop_reason, 'stop_sequence');
    assert.equal(cut.stop_sequence, 'tok2');
  }
});

test('a tool round trip on each backend: tool_use, then tool_result, then the answer', async (t) => {
  const scenario = {
    default: {
      chat: { tool_call: { name: 'get_weather', arguments: { city: 'Paris', days: 3 }, before: 'Checking.', unless_contains: 'Result of the tool get_weather', answer_after: 'Sunny in Paris.' } },
    },
    accounts: {
      'qk-anthropic-5f2c9a7e41d0': { session: { events: 1, interval_ms: 1, text: 'Checking', tool_call: { name: 'get_weather', arguments: { city: 'Paris', days: 3 }, answer_after: 'Sunny in Paris.', unless_contains: 'result of the tool get_weather' } } },
    },
  };
  const { gw, emu } = await startStack(t, {
    emulatorArgs: fast, scenario, apiKeys: ['qk-anthropic-5f2c9a7e41d0'],
  });
  const anthropic = client(gw);
  // gpt-4o: the chats account (markup) — and claude-4.5-sonnet: only the command account.
  for (const [model, streamed] of [['claude-3-7-sonnet', false], ['claude-3-7-sonnet', true], ['claude-4.5-sonnet', false], ['claude-4.5-sonnet', true]]) {
    const ask = [{ role: 'user', content: 'Weather in Paris?' }];
    const body = { model, max_tokens: 500, tools: [weather], messages: ask };
    const first = streamed ? await anthropic.messages.stream(body).finalMessage() : await anthropic.messages.create(body);
    assert.equal(first.stop_reason, 'tool_use', `${model} ${streamed}: ${JSON.stringify(first)}`);
    const uses = first.content.filter((b) => b.type === 'tool_use');
    assert.equal(uses.length, 1);
    assert.match(uses[0].id, /^toolu_/);
    assert.equal(uses[0].name, 'get_weather');
    assert.deepEqual(uses[0].input, { city: 'Paris', days: 3 });
    for (const b of first.content.filter((c) => c.type === 'text')) assert.doesNotMatch(b.text, /<function_calls|<invoke|<tool_call/);
    const second = await anthropic.messages.create({
      model, max_tokens: 500, tools: [weather],
      messages: [...ask, { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: '21 C, sunny' }] }],
    });
    assert.equal(second.stop_reason, 'end_turn', `${model} ${streamed}`);
    assert.equal(second.content.map((b) => b.text).join(''), 'Sunny in Paris.');
  }
  const stats = await emulatorStats(emu);
  const chat = stats.requests.filter((r) => r.kind === 'chat');
  assert.match(chat[1].body.chat_input, /^Result of the tool get_weather \(call toolu_[A-Za-z0-9_]+\):\n21 C, sunny$/);
  assert.match(chat[1].body.previous_messages[0].content, /# Tools[\s\S]*## get_weather/);
  // On the command account each result went back on the session that asked for it.
  const sessions = stats.requests.filter((r) => r.kind === 'session');
  assert.equal(sessions.length, 2);
  for (const session of sessions) assert.match(session.tool_answer, /"tool":"get_weather".*"text":"21 C, sunny"/);
});

test('Anthropic model ids find the closest Claude model, and MODEL_ALIASES comes first', async (t) => {
  const { gw, emu } = await startStack(t, {
    emulatorArgs: fast, accounts: [], apiKeys: ['qk-alias-5f2c9a7e41d0'], env: { MODEL_ALIASES: 'claude-*haiku*=gpt-4o' },
  });
  const anthropic = client(gw);
  const sonnet = await anthropic.messages.create({ model: 'claude-sonnet-4-5-20250929', max_tokens: 50, messages: hello });
  assert.equal(sonnet.model, 'claude-sonnet-4-5-20250929', 'the answer names the model asked for');
  const opus = await anthropic.messages.create({ model: 'claude-opus-4-1', max_tokens: 50, messages: hello });
  assert.equal(opus.content[0].text, 'tok0 tok1 tok2 tok3');
  await anthropic.messages.create({ model: 'claude-3-5-haiku-latest', max_tokens: 50, messages: hello });
  const stats = await emulatorStats(emu);
  const sessions = stats.requests.filter((r) => r.kind === 'session');
  const models = sessions.map((r) => JSON.parse(r.frame.slice('UserQuery '.length)).custom_model);
  assert.deepEqual(models, ['claude-4.5-sonnet', 'claude-4.5-sonnet', 'gpt-4o']);
  // The OpenAI surface takes the same aliases.
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-haiku-4-5', messages: hello }),
  });
  assert.equal(r.status, 200);
});

test('errors in Anthropic shape: missing max_tokens, wrong key, unknown model, no account', async (t) => {
  const { gw } = await startStack(t, { emulatorArgs: fast, env: { API_SECRET: 'sk-test' } });
  const anthropic = client(gw);
  await assert.rejects(
    anthropic.messages.create({ model: 'gpt-4o', messages: hello }),
    (e) => e instanceof Anthropic.BadRequestError && e.error.type === 'error' && e.error.error.type === 'invalid_request_error' && /max_tokens/.test(e.error.error.message),
  );
  await assert.rejects(
    client(gw, 'sk-wrong').messages.create({ model: 'gpt-4o', max_tokens: 10, messages: hello }),
    (e) => e instanceof Anthropic.AuthenticationError && e.error.error.type === 'authentication_error',
  );
  await assert.rejects(
    anthropic.messages.create({ model: 'no-such-model', max_tokens: 10, messages: hello }),
    (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error',
  );
  await assert.rejects(
    anthropic.messages.create({
      model: 'gpt-4o', max_tokens: 10,
      messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_nobody', content: 'x' }] }],
    }),
    (e) => e instanceof Anthropic.BadRequestError && /toolu_nobody/.test(e.error.error.message),
  );
  // Authorization: Bearer works as well as x-api-key.
  const bearer = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST', headers: { Authorization: 'Bearer sk-test', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', max_tokens: 10, messages: hello }),
  });
  assert.equal(bearer.status, 200);
  const notJson = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'sk-test' }, body: '{"model":' });
  assert.equal(notJson.status, 400);
  assert.equal((await notJson.json()).error.type, 'invalid_request_error');
  // The next request is served normally.
  const ok = await anthropic.messages.create({ model: 'gpt-4o', max_tokens: 10, messages: hello });
  assert.equal(ok.content[0].text, 'tok0 tok1 tok2 tok3');
});

test('no usable account: 529 overloaded_error', async (t) => {
  const { gw } = await startStack(t, {
    emulatorArgs: fast, scenario: { default: { chat: { fail: 'server_error' } } },
  });
  const r = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', max_tokens: 10, messages: hello }),
  });
  const body = await r.json();
  assert.equal(r.status, 529, JSON.stringify(body));
  assert.equal(body.type, 'error');
  assert.equal(body.error.type, 'overloaded_error');
  assert.match(body.error.message, /No Qodo account could answer/);
});

test('an image block reaches a command account as a data URL; a wrong method is a 405 in Anthropic shape', async (t) => {
  const { gw, emu } = await startStack(t, { emulatorArgs: fast, accounts: [], apiKeys: ['qk-image-5f2c9a7e41d0'] });
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  const message = await client(gw).messages.create({
    model: 'claude-4.5-sonnet', max_tokens: 100,
    messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }, { type: 'text', text: 'What is this?' }] }],
  });
  assert.equal(message.content[0].text, 'tok0 tok1 tok2 tok3');
  const session = (await emulatorStats(emu)).requests.find((r) => r.kind === 'session');
  const query = JSON.parse(session.frame.slice('UserQuery '.length));
  assert.deepEqual(query.images, [`data:image/png;base64,${png}`]);
  const r = await fetch(`${gw.url}/v1/messages`);
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'POST');
  assert.equal((await r.json()).error.type, 'invalid_request_error');
});
