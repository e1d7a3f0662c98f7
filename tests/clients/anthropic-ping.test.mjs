// Anthropic streams carry a `ping` event while the backend is silent (SPEC §11: at least every
// 15 s), so a client's idle timer never fires on a slow model: a backend that pauses 16 s
// between its two pieces of text gets a ping in the gap. (Its own file: the test takes ~32 s
// and runs beside the others.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../lib/stack.mjs';

test('a ping while the backend is silent for more than 15 s', async (t) => {
  const { gw } = await startStack(t, { scenario: { default: { chat: { events: 2, interval_ms: 16000 } } } });
  const r = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'gpt-4o', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(r.status, 200);
  const seen = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of r.body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end; (end = buffer.indexOf('\n\n')) >= 0; buffer = buffer.slice(end + 2)) {
      seen.push({ type: buffer.slice(7, buffer.indexOf('\n')), at: Date.now() });
    }
  }
  const types = seen.map((e) => e.type);
  const first = types.indexOf('content_block_delta');
  const second = types.lastIndexOf('content_block_delta');
  assert.ok(first >= 0 && second > first, types.join());
  assert.ok(types.slice(first, second).includes('ping'), `a ping between the two pieces: ${types.join()}`);
  const ping = seen.slice(first, second).find((e) => e.type === 'ping');
  assert.ok(ping.at - seen[first].at >= 14000 && ping.at - seen[first].at <= 16000, `${ping.at - seen[first].at} ms after the text`);
  assert.equal(types.at(-1), 'message_stop');
});
