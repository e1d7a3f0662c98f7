// The Vercel AI SDK (`ai` + `@ai-sdk/openai`, pinned in package.json) against the gateway and the
// emulated Qodo backend, through `createOpenAI(...).chat(model)` so it calls /chat/completions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText, APICallError } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { startStack, emulatorStats } from '../lib/stack.mjs';

const fast = ['--events', '5', '--interval-ms', '2'];
const full = 'tok0 tok1 tok2 tok3 tok4';
const messages = [{ role: 'user', content: 'Say five words.' }];
const system = 'Be brief.';

function provider(gw, apiKey = 'sk-test') {
  return createOpenAI({ baseURL: `${gw.url}/v1`, apiKey });
}

// Runs streamText to the end; returns its text, usage, finish reason, raw chunks and errors.
async function streamAll(options) {
  // onError: the errors are collected from fullStream, not logged.
  const result = streamText({ system, maxRetries: 0, includeRawChunks: true, onError: () => {}, ...options });
  let text = '';
  const raw = [];
  const errors = [];
  for await (const part of result.fullStream) {
    if (part.type === 'text-delta') text += part.text;
    if (part.type === 'raw') raw.push(part.rawValue);
    if (part.type === 'error') errors.push(part.error);
  }
  if (errors.length) return { errors };
  return { text, raw, errors, usage: await result.usage, finishReason: await result.finishReason };
}

test('generateText and streamText: text, usage and finish reason', async (t) => {
  const { gw } = await startStack(t, { emulatorArgs: fast });
  const openai = provider(gw);

  const generated = await generateText({ model: openai.chat('gpt-4o'), system, messages, maxRetries: 0 });
  assert.equal(generated.text, full);
  assert.equal(generated.finishReason, 'stop');
  const u = generated.usage;
  assert.ok(u.inputTokens > 0 && u.outputTokens > 0, JSON.stringify(u));
  assert.equal(u.totalTokens, u.inputTokens + u.outputTokens);
  assert.equal(generated.response.modelId, 'gpt-4o');
  assert.match(generated.response.id, /^chatcmpl-/);

  const streamed = await streamAll({ model: openai.chat('gpt-4o'), messages });
  assert.deepEqual(streamed.errors, []);
  assert.equal(streamed.text, full);
  assert.equal(streamed.finishReason, 'stop');
  assert.equal(streamed.usage.inputTokens, u.inputTokens, 'include_usage: the stream reports usage');
  assert.equal(streamed.usage.outputTokens, u.outputTokens);
  assert.equal(streamed.usage.totalTokens, u.totalTokens);
  assert.ok(streamed.raw.some((c) => Array.isArray(c.choices) && c.choices.length === 0 && c.usage),
    'the SDK asked for include_usage and got the usage chunk');
});

test('deepseek-r1 reasoning_content is in the raw chunks and the raw response', async (t) => {
  const think = 'Count to five, slowly.';
  const { gw } = await startStack(t, {
    emulatorArgs: fast,
    scenario: { default: { chat: { think } } },
  });
  const openai = provider(gw);
  const streamed = await streamAll({ model: openai.chat('deepseek-r1'), messages });
  assert.deepEqual(streamed.errors, []);
  const reasoning = streamed.raw.map((c) => c.choices?.[0]?.delta?.reasoning_content ?? '').join('');
  assert.equal(reasoning, think);
  assert.equal(streamed.text.trim(), full, 'the text holds no reasoning');

  const generated = await generateText({ model: openai.chat('deepseek-r1'), system, messages, maxRetries: 0 });
  assert.equal(generated.text.trim(), full);
  const body = typeof generated.response.body === 'string' ? JSON.parse(generated.response.body) : generated.response.body;
  assert.equal(body.choices[0].message.reasoning_content, think);
});

test('failover: the first account is rate limited, both calls succeed on the second', async (t) => {
  const { emu, gw } = await startStack(t, {
    emulatorArgs: fast,
    scenario: { accounts: { 'rt-busy': { chat: { fail: 'rate_limit' } } } },
    accounts: ['rt-busy', 'rt-free'],
    env: { ACCOUNT_STRATEGY: 'round_robin' },
  });
  const openai = provider(gw);
  const generated = await generateText({ model: openai.chat('gemini-2.5-pro'), system, messages, maxRetries: 0 });
  assert.equal(generated.text, full);
  const streamed = await streamAll({ model: openai.chat('gemini-2.5-pro'), messages });
  assert.deepEqual(streamed.errors, []);
  assert.equal(streamed.text, full);
  const st = await emulatorStats(emu);
  assert.equal(st.accounts['rt-busy'].chat_requests, 1);
  assert.equal(st.accounts['rt-free'].chat_completed, 2);
});

test('errors surface as APICallError with the status: 401, 400, 429, 503', async (t) => {
  const { gw } = await startStack(t, {
    emulatorArgs: fast,
    env: { API_SECRET: 'sk-right', REQUEST_RATE_LIMIT: '3' },
  });
  const isCallError = (status) => (e) => APICallError.isInstance(e) && e.statusCode === status;

  await assert.rejects(generateText({ model: provider(gw, 'sk-wrong').chat('gpt-4o'), system, messages, maxRetries: 0 }),
    isCallError(401));
  const openai = provider(gw, 'sk-right');
  await assert.rejects(generateText({ model: openai.chat('no-such-model'), system, messages, maxRetries: 0 }),
    (e) => isCallError(400)(e) && /no-such-model/.test(e.message));
  const bad = await streamAll({ model: openai.chat('no-such-model'), messages });
  assert.equal(bad.errors.length, 1);
  assert.ok(isCallError(400)(bad.errors[0]), String(bad.errors[0]));
  // The fourth request of the window.
  const limited = await streamAll({ model: openai.chat('gpt-4o'), messages });
  assert.equal(limited.errors.length, 1);
  assert.ok(isCallError(429)(limited.errors[0]), String(limited.errors[0]));

  const empty = await startStack(t, { accounts: [] });
  await assert.rejects(generateText({ model: provider(empty.gw).chat('gpt-4o'), system, messages, maxRetries: 0 }),
    isCallError(503));
});

test('generateText and streamText with a tool over several steps, on a command account', async (t) => {
  const { jsonSchema, tool, stepCountIs } = await import('ai');
  // The result goes back on the waiting session, which answers `answer_after`.
  const turn = { events: 1, interval_ms: 1, text: 'checking', tool_call: { name: 'get_weather', arguments: { city: 'Paris' }, answer_after: 'sunny0 sunny1' } };
  const { gw, emu } = await startStack(t, {
    emulatorArgs: fast, accounts: [], apiKeys: ['qk-aisdk-5f2c9a7e41d0'],
    scenario: { default: { session: turn } },
  });
  const openai = provider(gw);
  const calls = [];
  const tools = {
    get_weather: tool({
      description: 'Weather in a city',
      inputSchema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
      execute: async ({ city }) => { calls.push(city); return `21 C in ${city}`; },
    }),
  };
  const ask = [{ role: 'user', content: 'Weather in Paris?' }];
  const generated = await generateText({ model: openai.chat('gpt-5'), messages: ask, tools, stopWhen: stepCountIs(3), maxRetries: 0 });
  assert.equal(generated.steps.length, 2);
  assert.equal(generated.steps[0].finishReason, 'tool-calls');
  assert.equal(generated.text, 'sunny0 sunny1');
  const streamed = streamText({ model: openai.chat('gpt-5'), messages: ask, tools, stopWhen: stepCountIs(3), maxRetries: 0 });
  let text = '';
  for await (const part of streamed.fullStream) if (part.type === 'text-delta') text += part.text;
  assert.equal(text, 'checking0sunny0 sunny1');
  assert.equal((await streamed.steps).length, 2);
  assert.deepEqual(calls, ['Paris', 'Paris']);
  // Two loops, two sessions: each second step went to the session that asked.
  const sessions = (await emulatorStats(emu)).requests.filter((r) => r.kind === 'session');
  assert.equal(sessions.length, 2);
  for (const session of sessions) {
    const answer = JSON.parse(session.tool_answer.slice('IDERetrievalAnswer '.length));
    assert.match(answer.answer.content[0].text, /21 C in Paris/);
  }
});
