// The Qodo emulator (tools/qodo-emulator) is what every other integration test stands on:
// this pins its token exchange, its streamed chat answer, a few scripted failures and the
// stats endpoint, over real sockets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.QODO_EMULATOR_BIN ?? path.resolve(here, '../../build/qodo-emulator');

let emu;
let base;

async function startEmulator(args) {
  const child = spawn(bin, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`emulator exited early with ${code}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^listening on (\d+)\n/);
      if (m) resolve(Number(m[1]));
    });
  });
  child.removeAllListeners('exit');
  return { child, port };
}

async function token(refreshToken, { key = 'AIzaTestKey' } = {}) {
  const url = key === null ? `${base}/v1/token` : `${base}/v1/token?key=${key}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'X-Client-Version': 'Node/JsCore/10.5.2/FirebaseCore-web',
    },
    body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken)}`,
  });
  return { status: res.status, body: await res.json() };
}

function chatBody(input) {
  return JSON.stringify({ chat_input: input, custom_model: 'gpt-4o', previous_messages: [] });
}

async function chat(accessToken, { input = 'hello', headers = {} } = {}) {
  return fetch(`${base}/v2/chats/chat`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${accessToken}`,
      'Content-Type': 'application/json',
      Accept: 'text/plain',
      'Request-id': '0f8fad5b-d9cb-469f-a165-70867728950e',
      'User-Agent': 'axios/1.7.9',
      ...headers,
    },
    body: chatBody(input),
  });
}

// The text a client reassembles from a Qodo answer body, following SPEC §4's line rules.
function textOf(body) {
  let text = '';
  for (let line of body.split('\n')) {
    if (line.startsWith('data: ')) line = line.slice(6);
    if (line === '' || line === '[DONE]') continue;
    try {
      const ev = JSON.parse(line);
      if (ev.type === 'text') text += ev.data.content;
    } catch {
      // garbage lines are part of what the emulator can be asked to send
    }
  }
  return text;
}

async function scenario(json) {
  const res = await fetch(`${base}/_emulator/scenario`, { method: 'POST', body: JSON.stringify(json) });
  assert.equal(res.status, 200, await res.text());
}

async function stats() {
  return (await fetch(`${base}/_emulator/stats`)).json();
}

before(async () => {
  emu = await startEmulator(['--events', '4', '--interval-ms', '40', '--text', 'tok']);
  base = `http://127.0.0.1:${emu.port}`;
});

after(async () => {
  if (emu.child.exitCode === null) {
    emu.child.kill('SIGTERM');
    await once(emu.child, 'exit');
  }
});

test('a refresh token is exchanged for an access token in Firebase form', async () => {
  const { status, body } = await token('rt-alice');
  assert.equal(status, 200);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, '3600');
  assert.equal(body.refresh_token, 'rt-alice');
  assert.equal(body.id_token, body.access_token);
  for (const field of ['access_token', 'user_id', 'project_id']) assert.ok(body[field], field);
});

test('a missing API key is refused like Firebase does', async () => {
  const { status, body } = await token('rt-alice', { key: null });
  assert.equal(status, 400);
  assert.match(body.error.message, /API key not valid/);
});

test('a chat answer streams one text event per line, spaced by the interval', async () => {
  const { body: t } = await token('rt-alice');
  const started = Date.now();
  const arrivals = [];
  const body = await new Promise((resolve, reject) => {
    const req = http.request(`${base}/v2/chats/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.access_token}`, 'Content-Type': 'application/json' },
    }, (res) => {
      assert.equal(res.statusCode, 200);
      let all = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { arrivals.push(Date.now() - started); all += d; });
      res.on('end', () => resolve(all));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(chatBody('hello'));
  });
  const lines = body.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 4);
  for (const ev of lines) {
    assert.equal(ev.type, 'text');
    assert.equal(ev.sub_type, 'code_implementation');
    assert.equal(ev.used_model, 'gpt-4o');
  }
  assert.equal(textOf(body), 'tok0 tok1 tok2 tok3');
  // Flushed one at a time: the first event is not held back until the answer is complete.
  assert.ok(arrivals.length >= 2, `events arrived in ${arrivals.length} reads`);
  assert.ok(arrivals[arrivals.length - 1] - arrivals[0] >= 80, `spread ${arrivals}`);
});

test('an unknown access token gets 401 Invalid token', async () => {
  const res = await chat('not-a-token');
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { error: 'Invalid token' });
});

test('a sequence fails the first request with 429, then answers normally', async () => {
  await scenario({
    accounts: { 'rt-busy': { chat: { interval_ms: 0, sequence: [{ times: 1, fail: 'rate_limit' }] } } },
  });
  const { body: t } = await token('rt-busy');
  const first = await chat(t.access_token);
  assert.equal(first.status, 429);
  assert.deepEqual(await first.json(), { error: 'Too many concurrent requests' });
  const second = await chat(t.access_token);
  assert.equal(second.status, 200);
  assert.equal(textOf(await second.text()), 'tok0 tok1 tok2 tok3');
});

test('invalid_token_first refuses only the first access token, so a refresh fixes it', async () => {
  await scenario({ accounts: { 'rt-stale': { chat: { fail: 'invalid_token_first', interval_ms: 0 } } } });
  const { body: first } = await token('rt-stale');
  assert.equal((await chat(first.access_token)).status, 401);
  const { body: second } = await token('rt-stale');
  const res = await chat(second.access_token);
  assert.equal(res.status, 200);
  assert.equal(textOf(await res.text()), 'tok0 tok1 tok2 tok3');
});

test('a scripted token failure answers with the Firebase error', async () => {
  await scenario({ accounts: { 'rt-gone': { token: { fail: 'USER_DISABLED' } } } });
  const { status, body } = await token('rt-gone');
  assert.equal(status, 400);
  assert.deepEqual(body, { error: { code: 400, message: 'USER_DISABLED', status: 'INVALID_ARGUMENT' } });
});

test('reasoning, data: prefixes, blank lines, status events and garbage survive a gzip body', async () => {
  await scenario({
    accounts: {
      'rt-fancy': {
        chat: {
          interval_ms: 0, events: 2, think: 'let me see', data_prefix: true, blank_lines: true,
          status_events: 1, garbage_lines: 1, done: true, gzip: true,
        },
      },
    },
  });
  const { body: t } = await token('rt-fancy');
  const raw = await new Promise((resolve, reject) => {
    const req = http.request(`${base}/v2/chats/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.access_token}`, 'Accept-Encoding': 'gzip' },
    }, (res) => {
      assert.equal(res.headers['content-encoding'], 'gzip');
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(chatBody('hi'));
  });
  const body = zlib.gunzipSync(raw).toString('utf8');
  assert.equal(textOf(body), '<think>let me see</think>\n\ntok0 tok1');
  assert.match(body, /^data: \{"type":"status"/);
  assert.match(body, /garbage/);
  assert.match(body, /\n\ndata: \[DONE\]\n\n$/);
  // The tags are cut across events, as a real model's stream may cut them.
  assert.ok(!body.includes('"<think>'), 'opening tag arrives split');
});

test('disconnect after K events closes the socket without ending the body', async () => {
  await scenario({ default: { chat: { interval_ms: 0, fail: { mode: 'disconnect', after_events: 2 } } } });
  const { body: t } = await token('rt-cut');
  const res = await chat(t.access_token);
  assert.equal(res.status, 200);
  await assert.rejects(res.text());
});

test('stats record what the client sent and count streams it closed early', async () => {
  await fetch(`${base}/_emulator/reset`, { method: 'POST' });
  await scenario({ default: { chat: { events: 50, interval_ms: 50 } } });
  const { body: t } = await token('rt-stats');
  const aborter = new AbortController();
  const res = await fetch(`${base}/v2/chats/chat`, {
    method: 'POST',
    signal: aborter.signal,
    headers: { Authorization: `Bearer ${t.access_token}`, 'Request-id': 'req-42', 'User-Agent': 'axios/1.7.9' },
    body: chatBody('count me'),
  });
  const reader = res.body.getReader();
  await reader.read();
  aborter.abort();
  let s;
  for (let i = 0; i < 50; i++) {
    s = await stats();
    if (s.counters.chat_client_closed === 1 && s.open_streams === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(s.counters.chat_client_closed, 1);
  assert.equal(s.counters.chat_completed ?? 0, 0);
  assert.equal(s.open_streams, 0);

  const exchange = s.requests.find((r) => r.kind === 'token');
  assert.equal(exchange.key, 'AIzaTestKey');
  assert.equal(exchange.grant_type, 'refresh_token');
  assert.equal(exchange.refresh_token, 'rt-stats');
  assert.equal(exchange.content_type, 'application/x-www-form-urlencoded');
  assert.equal(exchange.headers['x-client-version'], 'Node/JsCore/10.5.2/FirebaseCore-web');

  const call = s.requests.find((r) => r.kind === 'chat');
  assert.equal(call.account, 'rt-stats');
  assert.equal(call.headers['request-id'], 'req-42');
  assert.equal(call.headers['user-agent'], 'axios/1.7.9');
  assert.equal(call.body.chat_input, 'count me');
  assert.equal(call.outcome, 'chat_client_closed');
  assert.equal(s.accounts['rt-stats'].chat_client_closed, 1);
});

test('SIGTERM ends the emulator with status 0', async () => {
  const other = await startEmulator([]);
  other.child.kill('SIGTERM');
  const [code] = await once(other.child, 'exit');
  assert.equal(code, 0);
});
