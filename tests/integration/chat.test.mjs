// POST /v1/chat/completions end to end: the gateway against the emulated Qodo backend (issue:
// chat completions end to end). Every test starts its own emulator and gateway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '../lib/harness.mjs';
import { startStack, emulatorStats as stats } from '../lib/stack.mjs';

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const setup = startStack;

function chat(gw, body, headers = {}, signal = undefined) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    signal,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function chatRequests(emu) {
  return (await stats(emu)).requests.filter((r) => r.kind === 'chat');
}

// Splits an SSE body into its data payloads, asserting the framing: only `data: <x>\n\n` events.
function sseEvents(text) {
  assert.match(text, /^(data: [^\n]+\n\n)+$/, `not a sequence of data events:\n${text}`);
  return text.split('\n\n').filter(Boolean).map((e) => e.slice('data: '.length));
}

function assertErrorShape(json, code) {
  assert.equal(typeof json.error, 'object', JSON.stringify(json));
  assert.equal(typeof json.error.message, 'string');
  assert.ok(json.error.message.length > 0);
  assert.equal(typeof json.error.type, 'string');
  assert.ok('param' in json.error);
  assert.ok('code' in json.error);
  if (code !== undefined) assert.equal(json.error.code, code);
}

// Reads a streaming answer: the events' payloads and the text / reasoning they carry.
async function readStream(res) {
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const raw = await res.text();
  const events = sseEvents(raw);
  assert.equal(events.at(-1), '[DONE]', 'the stream ends with data: [DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  let content = '';
  let reasoning = '';
  for (const c of chunks) {
    for (const choice of c.choices ?? []) {
      content += choice.delta.content ?? '';
      reasoning += choice.delta.reasoning_content ?? '';
    }
  }
  return { raw, events, chunks, content, reasoning };
}

function metricValue(text, name, labels) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

const hello = [{ role: 'user', content: 'hello there' }];

test('non-streaming answer: every field of chat.completion', async (t) => {
  const { emu, gw } = await setup(t, { emulatorArgs: ['--events', '4', '--interval-ms', '5'] });
  const before = Math.floor(Date.now() / 1000);
  const res = await chat(gw, { model: 'claude-3-7-sonnet', messages: hello });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const body = await res.json();
  assert.match(body.id, /^chatcmpl-[A-Za-z0-9]+$/);
  assert.equal(body.object, 'chat.completion');
  assert.ok(Number.isInteger(body.created) && body.created >= before - 1 && body.created <= Date.now() / 1000 + 1);
  assert.equal(body.model, 'claude-3-7-sonnet');
  assert.equal(body.choices.length, 1);
  const [choice] = body.choices;
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, 'assistant');
  assert.equal(choice.message.content, 'tok0 tok1 tok2 tok3');
  assert.equal('reasoning_content' in choice.message, false, 'no reasoning: no reasoning_content');
  assert.equal(choice.finish_reason, 'stop');
  const { prompt_tokens: p, completion_tokens: c, total_tokens: total } = body.usage;
  assert.ok(Number.isInteger(p) && p > 0, `prompt_tokens ${p}`);
  assert.ok(Number.isInteger(c) && c > 0, `completion_tokens ${c}`);
  assert.equal(total, p + c);

  const second = await (await chat(gw, { model: 'claude-3-7-sonnet', messages: hello })).json();
  assert.notEqual(second.id, body.id, 'every completion has its own id');
  assert.deepEqual(second.usage, body.usage, 'same prompt and answer: same counts');
  assert.equal((await chatRequests(emu)).length, 2);
});

test('streaming answer: framing, one id, role first, stop chunk, usage only when asked, [DONE]', async (t) => {
  const { gw } = await setup(t, { emulatorArgs: ['--events', '6', '--interval-ms', '5'] });
  const full = 'tok0 tok1 tok2 tok3 tok4 tok5';

  for (const includeUsage of [false, true]) {
    const body = { model: 'gpt-4o', messages: hello, stream: true };
    if (includeUsage) body.stream_options = { include_usage: true };
    const s = await readStream(await chat(gw, body));
    assert.ok(s.raw.endsWith('data: [DONE]\n\n'));
    const ids = new Set(s.chunks.map((c) => c.id));
    assert.equal(ids.size, 1, 'one id for the whole stream');
    assert.match(s.chunks[0].id, /^chatcmpl-[A-Za-z0-9]+$/);
    for (const c of s.chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.model, 'gpt-4o');
      assert.ok(Number.isInteger(c.created) && c.created > 1700000000);
      assert.equal(c.created, s.chunks[0].created);
    }
    assert.equal(s.chunks[0].choices[0].delta.role, 'assistant', 'the first delta has the role');
    assert.equal(s.content, full, 'the deltas add up to the whole answer');
    assert.equal(s.reasoning, '');

    const usageChunks = s.chunks.filter((c) => c.choices.length === 0);
    const withChoices = s.chunks.filter((c) => c.choices.length > 0);
    for (const c of withChoices) {
      assert.equal(c.choices.length, 1);
      assert.equal(c.choices[0].index, 0);
      assert.equal('usage' in c && c.usage !== null, false, 'usage only in the usage chunk');
    }
    const stop = withChoices.at(-1);
    assert.deepEqual(stop.choices[0].delta, {}, 'the last chunk has an empty delta');
    assert.equal(stop.choices[0].finish_reason, 'stop');
    for (const c of withChoices.slice(0, -1)) assert.equal(c.choices[0].finish_reason, null);

    if (!includeUsage) {
      assert.equal(usageChunks.length, 0, 'no usage chunk unless include_usage');
      assert.equal(s.chunks.at(-1), stop);
      continue;
    }
    assert.equal(usageChunks.length, 1);
    const usage = s.chunks.at(-1);
    assert.equal(usage, usageChunks[0], 'the usage chunk comes after the stop chunk');
    assert.equal(usage.id, stop.id);
    const { prompt_tokens: p, completion_tokens: c, total_tokens: total } = usage.usage;
    assert.ok(p > 0 && c > 0, JSON.stringify(usage.usage));
    assert.equal(total, p + c);
    // The same answer not streamed counts the same.
    const plain = await (await chat(gw, { model: 'gpt-4o', messages: hello })).json();
    assert.deepEqual(plain.usage, usage.usage);
  }
});

test('invalid requests are 400 in the OpenAI error shape and never reach the backend', async (t) => {
  const { emu, gw } = await setup(t, { emulatorArgs: ['--events', '2', '--interval-ms', '1'] });
  const cases = [
    ['malformed JSON', '{"model":"gpt-4o","messages":[', undefined],
    ['missing messages', { model: 'gpt-4o' }, undefined],
    ['unknown model', { model: 'gpt-9', messages: hello }, 'model_not_found'],
    ['max_tokens too large', { model: 'gpt-4o', messages: hello, max_tokens: 100001 }, undefined],
    ['max_completion_tokens too large', { model: 'gpt-4o', messages: hello, max_completion_tokens: 200000 }, undefined],
    ['image part', {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }],
    }, undefined],
  ];
  for (const [what, body, code] of cases) {
    for (const stream of [false, true]) {
      const sent = typeof body === 'string' ? body : JSON.stringify({ ...body, stream });
      const res = await chat(gw, sent);
      assert.equal(res.status, 400, `${what} (stream ${stream})`);
      assert.match(res.headers.get('content-type'), /^application\/json/);
      const json = await res.json();
      assertErrorShape(json, code);
      assert.equal(json.error.type, 'invalid_request_error', what);
      if (what === 'image part') assert.match(json.error.message, /image/i);
      if (what === 'unknown model') assert.match(json.error.message, /gpt-9/);
      const ok = await chat(gw, { model: 'gpt-4o', messages: hello });
      assert.equal(ok.status, 200, `the request after "${what}" is served`);
      assert.equal((await ok.json()).choices[0].message.content, 'tok0 tok1');
    }
  }
  assert.equal((await chatRequests(emu)).length, cases.length * 2, 'only the valid requests reached the backend');
  assert.equal((await chat(gw, { model: 'gpt-4o', messages: hello, max_tokens: 100000 })).status, 200,
    'max_tokens at the limit is accepted');
});

test('the backend call: headers, chat_input, previous_messages, custom_model, joined parts', async (t) => {
  const { emu, gw } = await setup(t, { emulatorArgs: ['--events', '2', '--interval-ms', '1'] });
  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: [{ type: 'text', text: 'first line' }, { type: 'text', text: 'second line' }] },
    { role: 'assistant', content: 'noted' },
    { role: 'user', content: '' },
    { role: 'assistant', content: null },
    { role: 'user', content: 'the question' },
  ];
  assert.equal((await chat(gw, { model: 'deepseek-r1', messages })).status, 200);
  assert.equal((await chat(gw, { model: 'deepseek-r1-32b', messages: hello, stream: true })).status, 200);
  assert.equal((await chat(gw, { model: 'o3-mini-high', messages: [{ role: 'system', content: 'only a system prompt' }] })).status, 200);

  const [first, second, third] = await chatRequests(emu);
  const h = first.headers;
  assert.match(h.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/, 'the access token from the exchange');
  assert.equal(h.accept, 'text/plain');
  assert.match(h['request-id'], UUID4);
  assert.equal(h['user-agent'], 'axios/1.7.9');
  assert.match(h['content-type'], /^application\/json/);
  assert.notEqual(second.headers['request-id'], h['request-id'], 'a fresh Request-id per call');

  const b = first.body;
  assert.equal(b.chat_input, 'the question');
  assert.equal(b.custom_model, 'deepseek-r1-full');
  assert.deepEqual(b.previous_messages, [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'first line\nsecond line', command: 'chat', mode: 'freeChat' },
    { role: 'assistant', content: 'noted' },
  ]);
  assert.equal(b.max_remote_context, 0);
  assert.deepEqual(b.remote_context_tags, []);
  assert.equal(b.max_repo_context, 5);
  assert.equal(b.task, '');
  assert.deepEqual(b.user_context, []);
  assert.deepEqual(b.repo_context, []);
  assert.equal(b.supports_artifacts, true);
  assert.match(b.user_data.installation_id, UUID4);
  assert.match(b.user_data.installation_fingerprint_uuid, UUID4);
  assert.equal(b.user_data.editor_version, '1.98.2');
  assert.equal(b.user_data.extension_version, '1.0.4');
  assert.equal(b.user_data.os_platform, 'darwin');
  assert.equal(b.user_data.os_version, 'v20.18.2');
  assert.equal(b.user_data.editor_type, 'vscode');

  assert.equal(second.body.custom_model, 'deepseek-r1');
  assert.equal(second.body.chat_input, 'hello there');
  assert.deepEqual(second.body.previous_messages, []);

  assert.equal(third.body.custom_model, 'o3-mini-high');
  assert.equal(third.body.chat_input, 'hi!', 'no user message: "hi!"');
  assert.deepEqual(third.body.previous_messages, [{ role: 'system', content: 'only a system prompt' }]);
});

test('streaming is not buffered: the first text arrives long before the answer ends', async (t) => {
  const { gw } = await setup(t, { emulatorArgs: ['--events', '3', '--interval-ms', '1500'] });
  const started = Date.now();
  const res = await chat(gw, { model: 'gpt-4o', messages: hello, stream: true });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let firstContentAt = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (firstContentAt === null && /"content":"tok0 "/.test(text)) firstContentAt = Date.now() - started;
  }
  const total = Date.now() - started;
  assert.ok(firstContentAt !== null, text);
  assert.ok(total >= 4000, `the answer takes 3 × 1.5 s (took ${total} ms)`);
  assert.ok(firstContentAt < 2700, `first text after ${firstContentAt} ms: it must not wait for the rest`);
  assert.ok(total - firstContentAt >= 2500, `first text at ${firstContentAt} ms, end at ${total} ms`);
  assert.ok(text.endsWith('data: [DONE]\n\n'));
});

for (const [fail, label] of [['rate_limit', 'rate_limited'], ['server_error', 'server_error']]) {
  test(`failover before the first byte: first account answers ${fail}, the second serves`, async (t) => {
    const { emu, gw } = await setup(t, {
      emulatorArgs: ['--events', '3', '--interval-ms', '2'],
      scenario: { accounts: { 'rt-bad': { chat: { fail } } } },
      accounts: ['rt-bad', 'rt-good'],
      env: { ACCOUNT_STRATEGY: 'round_robin' },
    });
    const plain = await chat(gw, { model: 'gpt-4o', messages: hello });
    assert.equal(plain.status, 200, await plain.clone().text());
    assert.equal((await plain.json()).choices[0].message.content, 'tok0 tok1 tok2');
    const s = await readStream(await chat(gw, { model: 'gpt-4o', messages: hello, stream: true }));
    assert.equal(s.content, 'tok0 tok1 tok2', 'a failed attempt leaves no trace in the stream');

    const st = await stats(emu);
    assert.ok(st.accounts['rt-bad'].chat_requests >= 1, 'the failing account was tried first');
    assert.equal(st.accounts['rt-good'].chat_completed, 2);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.equal(metricValue(metrics, 'qodo2api_upstream_attempts_total', 'outcome="success"'), 2);
    assert.equal(metricValue(metrics, 'qodo2api_upstream_attempts_total', `outcome="${label}"`),
      st.accounts['rt-bad'].chat_requests, metrics);
  });
}

test('a 401 refreshes the account token once and repeats the call; a second 401 gives up', async (t) => {
  const { emu, gw } = await setup(t, {
    emulatorArgs: ['--events', '3', '--interval-ms', '2'],
    scenario: { accounts: { 'rt-stale': { chat: { fail: 'invalid_token_first' } } } },
    accounts: ['rt-stale'],
  });
  const s = await readStream(await chat(gw, { model: 'gpt-4o', messages: hello, stream: true }, {}, AbortSignal.timeout(5000)));
  assert.equal(s.content, 'tok0 tok1 tok2');
  let st = await stats(emu);
  assert.equal(st.accounts['rt-stale'].chat_requests, 2, 'the 401, then the repeated call');
  assert.equal(st.accounts['rt-stale'].chat_completed, 1, 'the call was repeated with the new token');
  assert.equal(st.accounts['rt-stale'].token_issued, 2, 'one refresh');
  const plain = await chat(gw, { model: 'gpt-4o', messages: hello }, {}, AbortSignal.timeout(5000));
  assert.equal((await plain.json()).choices[0].message.content, 'tok0 tok1 tok2');

  const revoked = await setup(t, {
    emulatorArgs: ['--events', '3', '--interval-ms', '2'],
    scenario: { default: { chat: { fail: 'invalid_token' } } },
    accounts: ['rt-revoked'],
  });
  const res = await chat(revoked.gw, { model: 'gpt-4o', messages: hello }, {}, AbortSignal.timeout(5000));
  assert.equal(res.status, 503);
  assert.match((await res.json()).error.message, /invalid token/i);
  st = await stats(revoked.emu);
  assert.equal(st.counters.chat_requests, 2, 'the call, then once more after the refresh');
  assert.equal(st.counters.token_issued, 2);
});

test('error after the first byte: the text so far once, one error event, [DONE]; no retry', async (t) => {
  const { emu, gw } = await setup(t, {
    emulatorArgs: ['--events', '8', '--interval-ms', '5'],
    scenario: { default: { chat: { fail: { mode: 'disconnect', after_events: 3 } } } },
    accounts: ['rt-a', 'rt-b'],
  });
  const res = await chat(gw, { model: 'gpt-4o', messages: hello, stream: true, stream_options: { include_usage: true } });
  assert.equal(res.status, 200);
  const events = sseEvents(await res.text());
  assert.equal(events.at(-1), '[DONE]');
  const payloads = events.slice(0, -1).map((e) => JSON.parse(e));
  const errorEvent = payloads.at(-1);
  assertErrorShape(errorEvent);
  assert.equal(payloads.filter((p) => 'error' in p).length, 1, 'exactly one error event');
  const chunks = payloads.slice(0, -1);
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), 'tok0 tok1 tok2 ',
    'the text of the 3 events, once');
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.ok(chunks.every((c) => c.choices[0].finish_reason === null), 'no stop chunk after a failure');
  const st = await stats(emu);
  assert.equal(st.counters.chat_requests, 1, 'no retry once text reached the client');
  assert.equal(st.counters.chat_disconnected, 1);

  // The non-streaming form: nothing was sent yet, so the failure is retried on the other
  // account (which is cut too), then reported as a plain HTTP error.
  const plain = await chat(gw, { model: 'gpt-4o', messages: hello });
  assert.ok(plain.status >= 500, `status ${plain.status}`);
  assertErrorShape(await plain.json());
  assert.equal((await stats(emu)).counters.chat_requests, 3);
});

test('a client that disconnects mid-stream aborts the backend transfer; the gateway keeps serving', async (t) => {
  const { emu, gw } = await setup(t, { emulatorArgs: ['--events', '40', '--interval-ms', '100'] });
  const res = await chat(gw, { model: 'gpt-4o', messages: hello, stream: true });
  const reader = res.body.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /^data: /);
  await reader.cancel();
  const cancelledAt = Date.now();
  let st;
  for (;;) {
    st = await stats(emu);
    if (st.counters.chat_client_closed === 1) break;
    assert.ok(Date.now() - cancelledAt < 1500, `the backend stream was not closed: ${JSON.stringify(st.counters)}`);
    await sleep(25);
  }
  assert.equal(st.open_streams, 0);
  assert.equal(st.counters.chat_completed ?? 0, 0);

  const after = await chat(gw, { model: 'gpt-4o', messages: hello, stream: true });
  const s = await readStream(after);
  assert.equal(s.content.split(' ').length, 40);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /qodo2api_active_streams 0\n/);
});

test('200 concurrent streams each get their own full answer', async (t) => {
  const { emu, gw } = await setup(t, {
    emulatorArgs: ['--threads', '2', '--interval-ms', '20'],
    scenario: { default: { chat: { echo: true, interval_ms: 20 } } },
    accounts: ['rt-a', 'rt-b', 'rt-c'],
    env: { REQUEST_RATE_LIMIT: '0' },
  });
  const n = 200;
  const results = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const words = Array.from({ length: 8 }, (_, k) => `r${i}w${k}`).join(' ');
    const s = await readStream(await chat(gw, { model: 'gpt-4o', messages: [{ role: 'user', content: words }], stream: true }));
    return [words, s];
  }));
  for (const [words, s] of results) {
    assert.equal(s.content, words);
    assert.equal(new Set(s.chunks.map((c) => c.id)).size, 1);
  }
  assert.equal(new Set(results.map(([, s]) => s.chunks[0].id)).size, n, 'distinct ids');
  const st = await stats(emu);
  assert.equal(st.counters.chat_completed, n);
  assert.ok(st.peak_open_streams > 20, `streams ran concurrently (peak ${st.peak_open_streams})`);
});

const decodeForm = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
const CJK = /[\u3000-\u9fff]/;

test('Chinese conversations: URL-encoded with the instruction and acknowledgement when enabled', async (t) => {
  const { emu, gw } = await setup(t, { emulatorArgs: ['--events', '2', '--interval-ms', '1'] });
  const messages = [
    { role: 'system', content: 'Be kind & brief.' },
    { role: 'user', content: '你好' },
    { role: 'assistant', content: 'Hello!' },
    { role: 'user', content: '请用中文 回答' },
  ];
  assert.equal((await chat(gw, { model: 'gpt-4o', messages })).status, 200);
  assert.equal((await chat(gw, { model: 'gpt-4o', messages: [{ role: 'user', content: '只有中文' }] })).status, 200);
  const english = [{ role: 'system', content: 'Be kind & brief.' }, { role: 'user', content: 'plain english, 100%' }];
  assert.equal((await chat(gw, { model: 'gpt-4o', messages: english })).status, 200);

  const [withSystem, withoutSystem, plain] = await chatRequests(emu);
  const b = withSystem.body;
  assert.doesNotMatch(JSON.stringify(b), CJK, 'no raw CJK reaches the backend');
  assert.equal(decodeForm(b.chat_input), '请用中文 回答');
  assert.match(b.chat_input, /\+/, 'form encoding: space is +');
  const prev = b.previous_messages;
  assert.equal(prev.length, 5);
  assert.equal(prev[0].role, 'system');
  const [instruction, encodedSystem] = prev[0].content.split('\n\n');
  assert.match(instruction, /Simplified Chinese/);
  assert.match(instruction, /URL-encoded/);
  assert.equal(encodedSystem, 'Be+kind+%26+brief.');
  assert.equal(prev[1].role, 'user');
  assert.equal(prev[1].command, 'chat');
  assert.equal(prev[1].mode, 'freeChat');
  assert.equal(decodeForm(prev[1].content), '你好');
  assert.deepEqual([prev[2].role, prev[2].content], ['assistant', 'Hello%21']);
  assert.equal(prev[3].role, 'user');
  assert.equal(prev[3].content, 'Confirm you understand the output format.');
  assert.equal(prev[4].role, 'assistant');
  assert.ok(prev[4].content.length > 0 && !/%[0-9A-F]{2}/.test(prev[4].content), 'the acknowledgement is plain text');

  const w = withoutSystem.body;
  assert.equal(decodeForm(w.chat_input), '只有中文');
  assert.equal(w.previous_messages.length, 3);
  assert.equal(w.previous_messages[0].role, 'system', 'a system message is inserted');
  assert.match(w.previous_messages[0].content, /Simplified Chinese/);
  assert.equal(w.previous_messages[1].content, 'Confirm you understand the output format.');

  assert.equal(plain.body.chat_input, 'plain english, 100%', 'English passes untouched');
  assert.deepEqual(plain.body.previous_messages, [{ role: 'system', content: 'Be kind & brief.' }]);
});

test('CHINESE_CHAT_ENABLED=false sends Chinese untouched; a refusal is a 400 naming the setting', async (t) => {
  const { emu, gw } = await setup(t, {
    emulatorArgs: ['--events', '2', '--interval-ms', '1'],
    scenario: { default: { chat: { sequence: [{ times: 1 }, { times: 2, fail: 'chinese' }] } } },
    accounts: ['rt-a', 'rt-b'],
    env: { CHINESE_CHAT_ENABLED: 'false' },
  });
  const messages = [{ role: 'system', content: '简短' }, { role: 'user', content: '你好 世界' }];
  assert.equal((await chat(gw, { model: 'gpt-4o', messages })).status, 200);
  const [first] = await chatRequests(emu);
  assert.equal(first.body.chat_input, '你好 世界');
  assert.deepEqual(first.body.previous_messages, [{ role: 'system', content: '简短' }]);

  for (const stream of [false, true]) {
    const res = await chat(gw, { model: 'gpt-4o', messages, stream });
    assert.equal(res.status, 400, `stream ${stream}`);
    const json = await res.json();
    assertErrorShape(json);
    assert.match(json.error.message, /CHINESE_CHAT_ENABLED/);
  }
  assert.equal((await stats(emu)).counters.chat_requests, 3, 'a Chinese refusal is not retried on other accounts');
  assert.equal((await chat(gw, { model: 'gpt-4o', messages })).status, 200, 'the accounts are still usable');
});

test('reasoning: <think> becomes reasoning_content, streamed apart from content', async (t) => {
  const think = 'Let me think about it.';
  const { gw } = await setup(t, {
    emulatorArgs: ['--events', '3', '--interval-ms', '2'],
    scenario: { default: { chat: { think, data_prefix: true, done: true } } },
  });
  const s = await readStream(await chat(gw, { model: 'deepseek-r1', messages: hello, stream: true }));
  assert.equal(s.reasoning, think);
  assert.equal(s.content.trim(), 'tok0 tok1 tok2');
  assert.doesNotMatch(s.content, /think|<\/?th/, 'no reasoning or tags in content');
  assert.ok(s.chunks.some((c) => c.choices[0]?.delta.reasoning_content), 'delta.reasoning_content chunks');

  const body = await (await chat(gw, { model: 'deepseek-r1', messages: hello })).json();
  assert.equal(body.choices[0].message.reasoning_content, think);
  assert.equal(body.choices[0].message.content.trim(), 'tok0 tok1 tok2');
  assert.doesNotMatch(body.choices[0].message.content, /<\/?think>/);
});

test('REASONING_HIDE=1 drops the reasoning', async (t) => {
  const { gw } = await setup(t, {
    emulatorArgs: ['--events', '3', '--interval-ms', '2'],
    scenario: { default: { chat: { think: 'secret thoughts' } } },
    env: { REASONING_HIDE: '1' },
  });
  const s = await readStream(await chat(gw, { model: 'deepseek-r1', messages: hello, stream: true }));
  assert.equal(s.reasoning, '');
  assert.equal(s.content.trim(), 'tok0 tok1 tok2');
  assert.doesNotMatch(s.raw, /secret|reasoning_content|<\/?th/);
  const body = await (await chat(gw, { model: 'deepseek-r1', messages: hello })).json();
  assert.equal('reasoning_content' in body.choices[0].message, false);
  assert.equal(body.choices[0].message.content.trim(), 'tok0 tok1 tok2');
});

test('a backend body without text is 502; garbage between text events is skipped', async (t) => {
  const { emu, gw } = await setup(t, {
    emulatorArgs: ['--events', '3', '--interval-ms', '1'],
    scenario: {
      default: { chat: { only_non_text: true, garbage_lines: 3 } },
    },
    accounts: ['rt-empty'],
  });
  for (const stream of [false, true]) {
    const res = await chat(gw, { model: 'gpt-4o', messages: hello, stream });
    assert.equal(res.status, 502, `stream ${stream}`);
    assertErrorShape(await res.json());
  }
  assert.equal((await stats(emu)).counters.chat_completed, 2, 'the backend answered, without text');

  // An answer that mixes text with status events, garbage and blank lines.
  const mixed = await setup(t, {
    emulatorArgs: ['--events', '3', '--interval-ms', '1'],
    scenario: { default: { chat: { status_events: 3, garbage_lines: 4, blank_lines: true } } },
  });
  const ok = await chat(mixed.gw, { model: 'gpt-4o', messages: hello });
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).choices[0].message.content, 'tok0 tok1 tok2');
});

test('a silent backend is a 504 on every account; an unreachable one a 502; each says why once', async (t) => {
  const { emu, gw } = await setup(t, {
    emulatorArgs: ['--events', '3', '--interval-ms', '1'],
    scenario: { default: { chat: { fail: 'hang_before_headers' } } },
    accounts: ['rt-1', 'rt-2'],
    env: { UPSTREAM_FIRST_BYTE_TIMEOUT_SECONDS: '1' },
  });
  const started = Date.now();
  const res = await chat(gw, { model: 'gpt-4o', messages: hello, stream: true });
  assert.equal(res.status, 504);
  const { error } = await res.json();
  assert.match(error.message, /timed out/);
  const phrases = error.message.split(/[:()]/).map((p) => p.trim()).filter(Boolean);
  assert.equal(new Set(phrases).size, phrases.length, `the message repeats itself: ${error.message}`);
  assert.ok(Date.now() - started < 4000);
  assert.equal((await stats(emu)).counters.chat_requests, 2, 'both accounts tried');

  // The backend's port closed: connection refused on every attempt.
  const gone = await setup(t, { emulatorArgs: ['--events', '3', '--interval-ms', '1'] });
  await gone.emu.proc.stop();
  const refused = await chat(gone.gw, { model: 'gpt-4o', messages: hello });
  assert.equal(refused.status, 502);
  assert.match((await refused.json()).error.message, /connect/);
});

test('every account failing is a 503 naming the last backend failure', async (t) => {
  const { emu, gw } = await setup(t, {
    emulatorArgs: ['--events', '3', '--interval-ms', '1'],
    scenario: { accounts: { 'rt-1': { chat: { fail: 'rate_limit' } }, 'rt-2': { chat: { fail: 'rate_limit' } }, 'rt-3': { chat: { fail: 'server_error' } } } },
    accounts: ['rt-1', 'rt-2', 'rt-3'],
    env: { ACCOUNT_STRATEGY: 'round_robin' },
  });
  const res = await chat(gw, { model: 'gpt-4o', messages: hello, stream: true });
  assert.equal(res.status, 503);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const json = await res.json();
  assertErrorShape(json);
  assert.match(json.error.message, /server error/i, json.error.message);
  assert.equal((await stats(emu)).counters.chat_requests, 3, 'each account tried once');

  // The rate-limited ones now rest; the failing one is tried again and named.
  const again = await chat(gw, { model: 'gpt-4o', messages: hello });
  assert.equal(again.status, 503);
  assert.match((await again.json()).error.message, /server error/i);
});
