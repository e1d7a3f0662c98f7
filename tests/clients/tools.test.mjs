// OpenAI tool calls on a chats account, where they are emulated (SPEC §10): the tools are
// described in the system turn, the model's markup becomes tool_calls, earlier calls and
// results are rendered into the history — through the official openai SDK, streamed and not —
// and every way a model gets markup wrong ends as plain text or one call, never a broken call
// or leaked markup. Bad tool input is a 400 naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack, emulatorStats } from '../lib/stack.mjs';

const fast = ['--events', '4', '--interval-ms', '2'];
const ask = [{ role: 'user', content: 'Weather in Paris for three days?' }];
const weather = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
  },
};
const readFile = { type: 'function', function: { name: 'read_file', parameters: { type: 'object', properties: { path: { type: 'string' } } } } };

function client(gw) {
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
}

async function setChat(emu, chat) {
  const r = await fetch(`${emu.url}/_emulator/scenario`, { method: 'POST', body: JSON.stringify({ default: { chat } }) });
  assert.equal(r.status, 200, await r.text());
}

// A streamed answer read chunk by chunk: its content, the tool-call deltas as sent, the finish.
async function streamed(openai, body) {
  const stream = await openai.chat.completions.create({ ...body, stream: true });
  const out = { content: '', deltas: [], finish: null };
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      out.content += c.delta.content ?? '';
      if (c.delta.tool_calls) out.deltas.push(...c.delta.tool_calls);
      if (c.finish_reason) out.finish = c.finish_reason;
    }
  }
  return out;
}

test('a tool loop on a chats account: markup becomes tool_calls, the result goes back, the answer follows', async (t) => {
  const { gw, emu } = await startStack(t, { emulatorArgs: fast });
  await setChat(emu, {
    tool_call: {
      name: 'get_weather', arguments: { city: 'Paris', days: 3 }, before: 'Let me check.',
      unless_contains: 'Result of the tool get_weather', answer_after: 'Sunny for three days.',
    },
  });
  const openai = client(gw);
  const first = await openai.chat.completions.create({ model: 'gpt-4o', messages: ask, tools: [weather] });
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, 'Let me check. ');
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.match(call.id, /^call_[A-Za-z0-9]+_0$/);
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', days: 3 }, 'days typed by the schema');

  const second = await openai.chat.completions.create({
    model: 'gpt-4o', tools: [weather],
    messages: [...ask, choice.message, { role: 'tool', tool_call_id: call.id, content: '21 C, sunny' }],
  });
  assert.equal(second.choices[0].finish_reason, 'stop');
  assert.equal(second.choices[0].message.content, 'Sunny for three days.');

  const bodies = (await emulatorStats(emu)).requests.filter((r) => r.kind === 'chat').map((r) => r.body);
  const system = bodies[0].previous_messages[0];
  assert.equal(system.role, 'system');
  assert.match(system.content, /# Tools/);
  assert.match(system.content, /## get_weather\nWeather in a city\nParameters \(JSON schema\): \{"type":"object"/);
  // The second request: the call in the markup the model was asked for, the result labelled.
  const assistant = bodies[1].previous_messages.find((m) => m.role === 'assistant');
  assert.match(assistant.content, /^Let me check. \n\n<function_calls>\n<invoke name="get_weather">\n<parameter name="city">Paris<\/parameter>\n<parameter name="days">3<\/parameter>\n<\/invoke>\n<\/function_calls>$/);
  assert.equal(bodies[1].chat_input, `Result of the tool get_weather (call ${call.id}):\n21 C, sunny`);

  // Streamed: the exact OpenAI delta shape.
  const s = await streamed(openai, { model: 'gpt-4o', messages: ask, tools: [weather] });
  assert.equal(s.content, 'Let me check. ');
  assert.equal(s.finish, 'tool_calls');
  assert.deepEqual(Object.keys(s.deltas[0]).sort(), ['function', 'id', 'index', 'type']);
  assert.equal(s.deltas[0].index, 0);
  assert.equal(s.deltas[0].function.name, 'get_weather');
  assert.equal(s.deltas[0].function.arguments, '');
  const args = s.deltas.slice(1).map((d) => d.function.arguments).join('');
  assert.deepEqual(JSON.parse(args), { city: 'Paris', days: 3 });
  assert.ok(s.deltas.slice(1).every((d) => d.index === 0 && d.id === undefined));

  // The SDK's own tool loop (runTools) runs the function and gets the answer.
  let ran = 0;
  const runner = openai.chat.completions.runTools({
    model: 'gpt-4o', messages: ask,
    tools: [{ type: 'function', function: { ...weather.function, parse: JSON.parse, function: (a) => { ran++; return `${a.city}: 21 C`; } } }],
  });
  assert.equal(await runner.finalContent(), 'Sunny for three days.');
  assert.equal(ran, 1);
});

test('parallel calls in the tool_call form, parallel_tool_calls false, tool_choice none and named', async (t) => {
  const { gw, emu } = await startStack(t, { emulatorArgs: fast });
  const openai = client(gw);
  const two = [
    '<tool_call>\n{"name": "read_file", "arguments": {"path": "a.txt"}}\n</tool_call>\n',
    '<tool_call>\n{"name": "read_file", "arguments": {"path": "b.txt"}}\n</tool_call>',
  ];
  await setChat(emu, { pieces: two });
  const both = await openai.chat.completions.create({ model: 'gpt-4o', messages: ask, tools: [readFile] });
  assert.deepEqual(both.choices[0].message.tool_calls.map((c) => JSON.parse(c.function.arguments).path), ['a.txt', 'b.txt']);
  assert.equal(new Set(both.choices[0].message.tool_calls.map((c) => c.id)).size, 2, 'ids unique');
  assert.equal(both.choices[0].message.content, null);
  const one = await openai.chat.completions.create({ model: 'gpt-4o', messages: ask, tools: [readFile], parallel_tool_calls: false });
  assert.equal(one.choices[0].message.tool_calls.length, 1);

  // tool_choice none: no tools described, and markup is only text.
  const none = await openai.chat.completions.create({ model: 'gpt-4o', messages: ask, tools: [readFile], tool_choice: 'none' });
  assert.equal(none.choices[0].finish_reason, 'stop');
  assert.equal(none.choices[0].message.content, two.join(''));
  // Named: only that tool is described, and asked for.
  await openai.chat.completions.create({ model: 'gpt-4o', messages: ask, tools: [weather, readFile], tool_choice: { type: 'function', function: { name: 'read_file' } } });
  const bodies = (await emulatorStats(emu)).requests.filter((r) => r.kind === 'chat').map((r) => r.body);
  assert.ok(!bodies[2].previous_messages.some((m) => m.role === 'system'), 'tool_choice none describes nothing');
  const named = bodies[3].previous_messages[0].content;
  assert.match(named, /Call the tool `read_file` now/);
  assert.doesNotMatch(named, /## get_weather/);
});

test('a model that gets the markup wrong: plain text or one call, never a broken call or leaked markup', async (t) => {
  const { gw, emu } = await startStack(t, { emulatorArgs: fast });
  const openai = client(gw);
  const cases = [
    // half a markup, cut off: text
    { pieces: ['Checking <function_calls>\n<invoke name="get_weather">\n<parameter name="ci'], content: 'Checking <function_calls>\n<invoke name="get_weather">\n<parameter name="ci', calls: 0 },
    // a call to an undeclared tool: text
    { pieces: ['<tool_call>{"name":"rm_rf","arguments":{}}</tool_call>'], content: '<tool_call>{"name":"rm_rf","arguments":{}}</tool_call>', calls: 0 },
    // arguments that are not JSON: text
    { pieces: ['<tool_call>{"name":"get_weather","arguments":{city: Paris}}</tool_call>'], content: '<tool_call>{"name":"get_weather","arguments":{city: Paris}}</tool_call>', calls: 0 },
    // markup inside a code fence: text
    { pieces: ['Like this:\n```\n<tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>\n```'], content: 'Like this:\n```\n<tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>\n```', calls: 0 },
    // the same call twice: one call
    { pieces: ['<tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>', '\n<tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>'], content: null, calls: 1 },
    // text after the call: dropped
    { pieces: ['<tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>', ' I called it!'], content: null, calls: 1 },
  ];
  for (const c of cases) {
    await setChat(emu, { pieces: c.pieces });
    for (const stream of [false, true]) {
      const body = { model: 'gpt-4o', messages: ask, tools: [weather] };
      let content;
      let calls;
      if (stream) {
        const s = await streamed(openai, body);
        content = s.content || null;
        calls = s.deltas.filter((d) => d.id).length;
        for (const d of s.deltas.filter((x) => x.id)) assert.deepEqual(JSON.parse(s.deltas.filter((x) => x.index === d.index).map((x) => x.function.arguments).join('')), { city: 'Oslo' });
      } else {
        const r = await openai.chat.completions.create(body);
        content = r.choices[0].message.content;
        calls = r.choices[0].message.tool_calls?.length ?? 0;
        for (const tc of r.choices[0].message.tool_calls ?? []) assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'Oslo' });
      }
      assert.equal(content, c.content, `${JSON.stringify(c.pieces)} stream=${stream}`);
      assert.equal(calls, c.calls, `${JSON.stringify(c.pieces)} stream=${stream}`);
    }
  }
  // Markup written while reasoning is a call, and not shown as reasoning.
  await setChat(emu, { think: 'I need the weather. <tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>', pieces: ['Fetching it.'] });
  const r = await openai.chat.completions.create({ model: 'deepseek-r1', messages: ask, tools: [weather] });
  assert.equal(r.choices[0].message.tool_calls.length, 1);
  assert.doesNotMatch(r.choices[0].message.reasoning_content, /tool_call/);
});

test('bad tool input: a 400 naming the field; a thousand tools and a megabyte of schemas are fine', async (t) => {
  const { gw } = await startStack(t, { emulatorArgs: fast });
  const post = (body) => fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: ask, ...body }) });
  const bad = [
    [{ tools: [{ type: 'function', function: { name: 'has space' } }] }, 'tools[0].function.name'],
    [{ tools: [{ type: 'function', function: { name: 'x'.repeat(65) } }] }, 'tools[0].function.name'],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'array' } } }] }, 'tools[0].function.parameters.type'],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }, 'tools[0].function.parameters'],
    [{ tools: [{ type: 'retrieval' }] }, 'tools[0].type'],
    [{ messages: [...ask, { role: 'tool', tool_call_id: 'call_nobody', content: 'x' }] }, 'messages'],
  ];
  for (const [body, param] of bad) {
    const r = await post(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    const error = (await r.json()).error;
    assert.equal(error.param, param, JSON.stringify(error));
  }
  const many = Array.from({ length: 1000 }, (_, i) => ({
    type: 'function',
    function: { name: `tool_${i}`, description: 'd'.repeat(500), parameters: { type: 'object', properties: { p: { type: 'string', description: 'x'.repeat(500) } } } },
  }));
  const started = Date.now();
  const r = await post({ tools: many });
  assert.equal(r.status, 200);
  // Bounded, not a benchmark: a blow-up (quadratic work on the tools) would take far longer.
  // Sanitizer builds run about ten times slower.
  const bound = process.env.QODO_SANITIZED ? 30000 : 3000;
  assert.ok(Date.now() - started < bound, `${Date.now() - started} ms`);
  const tooMany = await post({ tools: [...many, ...many.slice(0, 30).map((x, i) => ({ ...x, function: { ...x.function, name: `more_${i}` } }))] });
  assert.equal(tooMany.status, 400);
  assert.equal((await tooMany.json()).error.code, 'too_many_tools');
  // The next request is served normally.
  assert.equal((await post({})).status, 200);
});
