// Every byte of every streamed answer reaches the client, under load, over keep-alive
// connections; an answer that did not reach the client whole is never counted or logged as a
// 200; a connection the gateway closes never resets bytes the client has not read yet.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { rawConnect, parseResponses, sleep } from '../lib/harness.mjs';
import { startStack } from '../lib/stack.mjs';

const sanitized = Boolean(process.env.QODO_SANITIZED);
const streamloadBin = process.env.QODO_STREAMLOAD_BIN ??
  join(dirname(process.env.QODO2API_BIN ?? 'build/qodo2api'), 'streamload');
const kTokens = 50;

function runStreamload(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(streamloadBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    child.on('error', reject);
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`streamload printed no result: ${out}\n${err}`));
      }
    });
  });
}

async function metricsText(gw) {
  return (await fetch(`${gw.url}/metrics`)).text();
}

function counter(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

// The chat requests' access lines; they reach stdout within a second (spdlog's periodic flush).
async function accessLines(gw, count) {
  const chat = () => gw.proc.output.split('\n')
    .filter((l) => l.includes(' access id=') && l.includes(' path=/v1/chat/completions '));
  for (let i = 0; i < 60 && chat().length < count; i++) await sleep(100);
  return chat();
}

test('20,000 streamed answers over 64 keep-alive connections arrive whole, byte for byte',
  { timeout: 280_000 }, async (t) => {
    assert.ok(existsSync(streamloadBin), `streamload is built: ${streamloadBin}`);
    const { gw } = await startStack(t, {
      emulatorArgs: ['--events', String(kTokens), '--interval-ms', '0'],
      accounts: ['rt-a', 'rt-b'],
      env: { REQUEST_RATE_LIMIT: '0' },
    });
    // Sanitized builds are several times slower; the defect showed within 3,000 answers there.
    const k = 64;
    const rounds = sanitized ? 50 : 313;
    const result = await runStreamload([
      '--url', `${gw.url}/v1/chat/completions`, '--k', String(k), '--rounds', String(rounds),
      '--tokens', String(kTokens), '--same-bytes', '--threads', '2', '--timeout-s', '240',
    ]);
    assert.deepEqual(result.failures, {}, 'no answer was cut, garbled or short');
    assert.equal(result.completed, k * rounds);
    assert.equal(result.tokens, k * rounds * kTokens);

    const text = await metricsText(gw);
    assert.equal(counter(text, 'qodo2api_http_requests_total{route="/v1/chat/completions",status="200"}'),
      k * rounds, 'every delivered answer is counted as a 200');
    assert.equal(counter(text, 'qodo2api_http_requests_total{route="/v1/chat/completions",status="499"}'), 0);
  });

test('a client that leaves mid-answer is logged and counted as 499, with the bytes it was sent',
  async (t) => {
    const { gw } = await startStack(t, { emulatorArgs: ['--events', '200', '--interval-ms', '10'] });
    const c = await rawConnect(gw.port);
    const body = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await c.read((s) => (s.match(/"content":"tok/g) ?? []).length >= 3);
    c.socket.destroy();

    const [line] = await accessLines(gw, 1);
    assert.match(line, / status=499 /);
    assert.match(line, / incomplete=1/);
    const sent = Number(line.match(/ bytes_sent=(\d+)/)[1]);
    assert.ok(sent > 0 && sent < 200 * 100, `bytes_sent=${sent} counts what went out, not the whole answer`);
    const text = await metricsText(gw);
    assert.equal(counter(text, 'qodo2api_http_requests_total{route="/v1/chat/completions",status="499"}'), 1);
    assert.equal(counter(text, 'qodo2api_http_requests_total{route="/v1/chat/completions",status="200"}'), 0);
  });

test('a delivered answer is logged as 200 with the bytes the client received', async (t) => {
  const { gw } = await startStack(t, { emulatorArgs: ['--events', '3', '--interval-ms', '0'] });
  const c = await rawConnect(gw.port);
  const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
  c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const received = await c.read((s) => parseResponses(s).length === 1);
  c.socket.destroy();
  const [line] = await accessLines(gw, 1);
  assert.match(line, / status=200 /);
  assert.doesNotMatch(line, /incomplete=1/);
  assert.equal(Number(line.match(/ bytes_sent=(\d+)/)[1]), Buffer.byteLength(received, 'latin1'));
});

test('an answer sent with Connection: close arrives whole although the client sent more behind it',
  async (t) => {
    const events = 2000;  // about 300 KB: more than the client's socket holds while it waits
    const { gw } = await startStack(t, { emulatorArgs: ['--events', String(events), '--interval-ms', '0'] });
    const body = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    // 1 MB behind the request is never read as a request (the gateway stops reading ahead at
    // its header limit). The client reads nothing for a second, so the answer's tail is still in
    // the gateway's socket when the gateway closes it: a close with unread input resets the
    // connection and throws that tail away; a lingering close delivers it.
    const trailing = 'x'.repeat(1 << 20);
    for (let i = 0; i < 3; i++) {
      const c = await rawConnect(gw.port);
      c.socket.on('error', () => {});
      c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}${trailing}`);
      c.socket.pause();
      await sleep(1000);
      c.socket.resume();
      await c.closedPromise;
      assert.ok(c.received.endsWith('data: [DONE]\n\n\r\n0\r\n\r\n'),
        `round ${i}: the answer ends with [DONE] and the last chunk; got ${c.received.length} bytes`);
      const responses = parseResponses(c.received);
      assert.equal(responses.length, 1, `round ${i}: one answer`);
      assert.equal((responses[0].body.match(/"content":"tok/g) ?? []).length, events, `round ${i}: every token`);
    }
  });
