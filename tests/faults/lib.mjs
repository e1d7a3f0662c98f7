// Shared helpers of the fault-injection suite (tests/faults/*.test.mjs): an emulator started
// with a scenario file, a gateway wired to it, readers for SSE bodies, /metrics and /proc.
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, startEmulator, startScriptedEmulator, sleep } from '../lib/harness.mjs';

export { sleep };
export const API_KEY = 'AIzaTestKey';
export const ADMIN = 'faults-admin-secret-9f2c';

// A refresh token with a unique name, so a log showing it is caught by a plain search.
export const token = (name) => `${name}-${randomBytes(12).toString('hex')}`;

export async function waitFor(what, fn, timeoutMs = 8000, everyMs = 50) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// An emulator running `scenario` from its start (tests/lib/harness.mjs).
export function emulator(t, scenario = {}, args = []) {
  return startScriptedEmulator(t, API_KEY, scenario, args);
}

export async function gateway(t, emu, tokens, env = {}) {
  const gwEnv = {
    QODO_API_BASE: emu.url,
    FIREBASE_TOKEN_URL: `${emu.url}/v1/token`,
    REQUEST_RATE_LIMIT: '0',
    ...env,
  };
  if (tokens.length) gwEnv.QD_COOKIE = tokens.map((rt) => `${API_KEY}=${rt}`).join(',');
  const gw = await startGateway(gwEnv);
  t.after(() => gw.proc.stop('SIGKILL'));
  return gw;
}

export async function readyz(gw) {
  const r = await fetch(`${gw.url}/readyz`);
  return { status: r.status, body: await r.json() };
}

export async function waitReady(gw, usable = 1, timeoutMs = 10000) {
  return waitFor(`${usable} usable account(s)`, async () => {
    const r = await readyz(gw);
    return r.status === 200 && r.body.accounts.usable >= usable ? r : null;
  }, timeoutMs);
}

export const hello = [{ role: 'user', content: 'hello there' }];

export async function chat(gw, { stream = false, messages = hello, model = 'gpt-4o', headers = {}, timeoutMs = 30000 } = {}) {
  const started = Date.now();
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ model, stream, messages }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, ms: Date.now() - started, json: stream && r.status === 200 ? null : safeJson(text) };
}

function safeJson(text) {
  try { return JSON.parse(text); } catch { return null; }
}

// An SSE body as its parts: the text, the error events, whether it ended with [DONE].
export function parseSse(text) {
  assert.match(text, /^(data: [^\n]+\n\n)*$/, `not a sequence of data events:\n${text.slice(0, 500)}`);
  const events = text.split('\n\n').filter(Boolean).map((e) => e.slice('data: '.length));
  let content = '';
  const errors = [];
  let stops = 0;
  for (const e of events.slice(0, -1)) {
    const j = JSON.parse(e);
    if (j.error) { errors.push(j.error); continue; }
    for (const c of j.choices ?? []) {
      content += c.delta?.content ?? '';
      if (c.finish_reason === 'stop') stops++;
    }
  }
  return { events, content, errors, stops, done: events.at(-1) === '[DONE]', doneCount: events.filter((e) => e === '[DONE]').length };
}

export function assertErrorShape(json, where = '') {
  assert.equal(typeof json?.error?.message, 'string', `${where} ${JSON.stringify(json)}`);
  assert.ok(json.error.message.length > 0);
  assert.equal(typeof json.error.type, 'string');
  assert.ok('param' in json.error);
  assert.ok('code' in json.error);
}

// A stream that failed after its first text: that text once, exactly one error event, [DONE].
export function assertMidStreamError(text, expectedContent, messagePattern) {
  const s = parseSse(text);
  assert.ok(s.done, `ends with [DONE]: ${text.slice(-300)}`);
  assert.equal(s.doneCount, 1, 'one [DONE]');
  assert.equal(s.errors.length, 1, `exactly one error event: ${text.slice(-500)}`);
  assert.equal(s.events.at(-2).startsWith('{"error"'), true, 'the error event comes last before [DONE]');
  assert.equal(s.stops, 0, 'no stop chunk after a failure');
  if (expectedContent !== undefined) assert.equal(s.content, expectedContent, 'the text so far, once');
  if (messagePattern) assert.match(s.errors[0].message, messagePattern);
  return s;
}

export async function metrics(gw) {
  return (await fetch(`${gw.url}/metrics`)).text();
}

export function metricValue(text, name, labels = '') {
  const key = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(key));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

export async function activeStreams(gw) {
  return metricValue(await metrics(gw), 'qodo2api_active_streams');
}

export async function waitNoActiveStreams(gw, timeoutMs = 5000) {
  await waitFor('qodo2api_active_streams back to 0', async () => (await activeStreams(gw)) === 0, timeoutMs);
}

export function rssKb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]);
}

export function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

// Everything the gateway wrote: stdout/stderr and DATA_DIR/logs/*.
export function allLogs(gw) {
  let text = gw.proc.output;
  const dir = join(gw.dataDir, 'logs');
  if (existsSync(dir)) for (const f of readdirSync(dir)) text += readFileSync(join(dir, f), 'utf8');
  return text;
}

export function chatRequestText(body, { host = 'x', close = false } = {}) {
  const json = typeof body === 'string' ? body : JSON.stringify(body);
  return `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\n${close ? 'Connection: close\r\n' : ''}` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}

export async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}
