// The official OpenAI Node SDK (pinned in package.json) against the gateway and the emulated
// Qodo backend: what a user of the SDK sees, including its typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack, emulatorStats } from '../lib/stack.mjs';

const fast = ['--events', '4', '--interval-ms', '2'];
const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say four words.' }];

function client(gw, opts = {}) {
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-test', maxRetries: 0, ...opts });
}

test('models.list, a completion and a stream with include_usage', async (t) => {
  const { gw } = await startStack(t, { emulatorArgs: fast });
  const openai = client(gw);

  const ids = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  assert.ok(ids.includes('gpt-4o') && ids.includes('deepseek-r1') && ids.includes('claude-3-7-sonnet'), ids.join());

  const completion = await openai.chat.completions.create({ model: 'gpt-4o', messages });
  assert.match(completion.id, /^chatcmpl-/);
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.model, 'gpt-4o');
  assert.equal(completion.choices[0].message.role, 'assistant');
  assert.equal(completion.choices[0].message.content, 'tok0 tok1 tok2 tok3');
  assert.equal(completion.choices[0].finish_reason, 'stop');
  const u = completion.usage;
  assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);

  const stream = await openai.chat.completions.create({
    model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  const ids2 = new Set();
  for await (const chunk of stream) {
    ids2.add(chunk.id);
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.equal(text, 'tok0 tok1 tok2 tok3');
  assert.equal(finish, 'stop');
  assert.equal(ids2.size, 1);
  assert.deepEqual(usage, u, 'the stream counts like the plain completion');

  // The SDK's stream helper assembles the same message.
  const runner = openai.chat.completions.stream({ model: 'claude-3-5-sonnet', messages });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, 'tok0 tok1 tok2 tok3');
  assert.equal(final.choices[0].finish_reason, 'stop');
});

test('deepseek-r1: reasoning_content beside the answer, streamed and not', async (t) => {
  const think = 'First, count the words.';
  const { gw } = await startStack(t, {
    emulatorArgs: fast,
    scenario: { default: { chat: { think, data_prefix: true, done: true } } },
  });
  const openai = client(gw);
  const completion = await openai.chat.completions.create({ model: 'deepseek-r1', messages });
  assert.equal(completion.choices[0].message.reasoning_content, think);
  assert.equal(completion.choices[0].message.content.trim(), 'tok0 tok1 tok2 tok3');

  const stream = await openai.chat.completions.create({ model: 'deepseek-r1', messages, stream: true });
  let reasoning = '';
  let content = '';
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta ?? {};
    reasoning += delta.reasoning_content ?? '';
    content += delta.content ?? '';
  }
  assert.equal(reasoning, think);
  assert.equal(content.trim(), 'tok0 tok1 tok2 tok3');
});

test('failover: the first account is rate limited, the answer comes from the second', async (t) => {
  const { emu, gw } = await startStack(t, {
    emulatorArgs: fast,
    scenario: { accounts: { 'rt-busy': { chat: { fail: 'rate_limit' } } } },
    accounts: ['rt-busy', 'rt-free'],
    env: { ACCOUNT_STRATEGY: 'round_robin' },
  });
  const openai = client(gw);
  const completion = await openai.chat.completions.create({ model: 'o3-mini', messages });
  assert.equal(completion.choices[0].message.content, 'tok0 tok1 tok2 tok3');
  let text = '';
  for await (const chunk of await openai.chat.completions.create({ model: 'o3-mini', messages, stream: true })) {
    text += chunk.choices[0]?.delta.content ?? '';
  }
  assert.equal(text, 'tok0 tok1 tok2 tok3');
  const st = await emulatorStats(emu);
  assert.equal(st.accounts['rt-busy'].chat_requests, 1, 'tried once, then resting');
  assert.equal(st.accounts['rt-free'].chat_completed, 2);
});

test('errors surface as the SDK typed errors: 401, 400, 429', async (t) => {
  const { gw } = await startStack(t, {
    emulatorArgs: fast,
    env: { API_SECRET: 'sk-right', REQUEST_RATE_LIMIT: '4' },
  });

  await assert.rejects(client(gw, { apiKey: 'sk-wrong' }).chat.completions.create({ model: 'gpt-4o', messages }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');

  const openai = client(gw, { apiKey: 'sk-right' });
  await assert.rejects(openai.chat.completions.create({ model: 'gpt-5-turbo', messages }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.code === 'model_not_found'
      && /gpt-5-turbo/.test(e.message));
  await assert.rejects(openai.chat.completions.create({ model: 'gpt-4o', messages, stream: true, max_tokens: 100001 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400, 'a streaming request fails before the stream');
  // Every request counts against the client's limit: the fourth passes, the fifth is limited.
  const ok = await openai.chat.completions.create({ model: 'gpt-4o', messages });
  assert.equal(ok.choices[0].message.content, 'tok0 tok1 tok2 tok3');
  await assert.rejects(openai.chat.completions.create({ model: 'gpt-4o', messages }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && Number(e.headers.get('retry-after')) >= 1);
});

test('REQUEST_RATE_LIMIT=1: the second call is a RateLimitError', async (t) => {
  const { gw } = await startStack(t, { emulatorArgs: fast, env: { REQUEST_RATE_LIMIT: '1' } });
  const openai = client(gw);
  await openai.chat.completions.create({ model: 'gpt-4o', messages });
  await assert.rejects(openai.chat.completions.create({ model: 'gpt-4o', messages, stream: true }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429);
});

test('no usable account: 503 as InternalServerError, streamed or not', async (t) => {
  const { gw } = await startStack(t, { accounts: [] });
  const openai = client(gw);
  for (const stream of [false, true]) {
    await assert.rejects(openai.chat.completions.create({ model: 'gpt-4o', messages, stream }),
      (e) => e instanceof OpenAI.InternalServerError && e.status === 503 && e.message.length > 0);
  }
});
