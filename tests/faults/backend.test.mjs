// Fault injection, backend side: every SPEC §4 failure before the first byte reached the client
// (failover, or the right status) and after it (one error event, [DONE], the text once), hangs
// at each phase against the first-byte and idle timeouts, cuts mid-line, garbage, an oversize
// line and a gzip bomb (memory bounded), a dead proxy.
import { test } from 'node:test';
import { httpProxy } from '../lib/proxies.mjs';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  ADMIN, token, emulator, gateway, waitReady, chat, parseSse, assertErrorShape, assertMidStreamError,
  metrics, metricValue, waitNoActiveStreams, rssKb, sleep,
} from './lib.mjs';

const ARGS = ['--events', '3', '--interval-ms', '5'];
const TEXT = 'tok0 tok1 tok2';

async function accountList(gw) {
  const r = await fetch(`${gw.url}/admin/accounts`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 200);
  return (await r.json()).data;
}

// Two accounts; the scenario's default sequence fails the next `times` chat calls whichever
// account makes them.
async function failingStack(t, fail, times = 1, env = {}) {
  const a = token('rt-a');
  const b = token('rt-b');
  const emu = await emulator(t, {}, ARGS);
  const gw = await gateway(t, emu, [a, b], {
    ADMIN_SECRET: ADMIN, UPSTREAM_FIRST_BYTE_TIMEOUT_SECONDS: '1', UPSTREAM_IDLE_TIMEOUT_SECONDS: '1', ...env,
  });
  await waitReady(gw, 2);
  await emu.scenario({ default: { chat: { sequence: [{ times, fail }] } } });
  return { emu, gw, a, b };
}

// [name, fail, times, expected account state of the failing one, failures counted]
const failover = [
  ['429 rate limit', 'rate_limit', 1, 'cooling'],
  ['200 "Too many concurrent requests"', 'concurrent_200', 1, 'cooling'],
  ['429 "Usage limit exceeded"', 'usage_limit', 1, 'exhausted'],
  ['200 "Usage limit exceeded"', { mode: 'usage_limit', status: 200 }, 1, 'exhausted'],
  ['401 twice (refresh, then invalid)', 'invalid_token', 2, 'invalid'],
  ['200 {"error":"Invalid token"} twice', { mode: 'status', status: 200, body: '{"error":"Invalid token"}' }, 2, 'invalid'],
  ['403', 'forbidden', 1, 'active'],
  ['500', 'server_error', 1, 'active'],
  ['502 with an HTML body', 'bad_gateway', 1, 'active'],
  ['503', 'unavailable', 1, 'active'],
  ['a connection cut before any text', { mode: 'disconnect', after_events: 0 }, 1, 'active'],
  ['a hang before the headers (first-byte timeout)', 'hang_before_headers', 1, 'active'],
  ['a hang after the headers (first-byte timeout)', 'hang_after_headers', 1, 'active'],
];

for (const [name, fail, times, state] of failover) {
  test(`before the first byte, ${name}: the other account answers, streamed and not`, async (t) => {
    const { emu, gw } = await failingStack(t, fail, times);
    const s = await chat(gw, { stream: true });
    assert.equal(s.status, 200, s.text);
    const sse = parseSse(s.text);
    assert.equal(sse.content, TEXT, 'the failed attempt left no trace');
    assert.equal(sse.errors.length, 0);
    assert.ok(s.ms < 10000, `answered after ${s.ms} ms`);
    let st = await emu.stats();
    assert.equal(st.counters.chat_requests, times + 1, 'failed call(s), then one on the other account');
    assert.equal(st.counters.chat_completed, 1);
    const list = await accountList(gw);
    const failed = list.find((a) => a.last_error);
    assert.ok(failed, JSON.stringify(list));
    assert.equal(failed.state, state, JSON.stringify(failed));

    // The non-streaming form: the failure again when the failed account stays in rotation;
    // otherwise the one account left must answer.
    await emu.scenario(state === 'active' ? { default: { chat: { sequence: [{ times, fail }] } } } : {});
    const p = await chat(gw);
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.choices[0].message.content, TEXT);
    st = await emu.stats();
    assert.equal(st.counters.chat_completed, 2);
    await waitNoActiveStreams(gw);
  });
}

test('before the first byte, "Chinese detected": a 400 naming CHINESE_CHAT_ENABLED, no retry, no cost', async (t) => {
  const { emu, gw } = await failingStack(t, 'chinese', 1);
  const r = await chat(gw, { stream: true });
  assert.equal(r.status, 400, r.text);
  assertErrorShape(r.json);
  assert.match(r.json.error.message, /CHINESE_CHAT_ENABLED/);
  assert.equal((await emu.stats()).counters.chat_requests, 1, 'not retried on another account');
  const list = await accountList(gw);
  assert.ok(list.every((a) => a.state === 'active' && a.failures === 0), JSON.stringify(list));
});

test('every account failing before the first byte: one HTTP error per request, not an event stream', async (t) => {
  const cases = [
    ['unavailable', 503, /server error|unavailable|503/i],
    ['hang_before_headers', 504, /timed out/i],
    [{ mode: 'disconnect', after_events: 0 }, 502, /./],
  ];
  for (const [fail, status, pattern] of cases) {
    const { emu, gw } = await failingStack(t, fail, 100);
    for (const stream of [true, false]) {
      const r = await chat(gw, { stream });
      assert.equal(r.status, status, `${JSON.stringify(fail)} stream=${stream}: ${r.text}`);
      assert.match(r.headers.get('content-type'), /^application\/json/);
      assertErrorShape(r.json);
      assert.match(r.json.error.message, pattern);
    }
    assert.equal((await emu.stats()).counters.chat_requests, 4, 'each account once per request');
    await waitNoActiveStreams(gw);
  }
});

test('accounts failing in different ways: 503 naming the last failure, whatever the order', async (t) => {
  // A 500, a 403 and a connection cut: alone, the cut would be a 502 and the others a 503; the
  // answer must not depend on which account the random choice tried last.
  const tokens = [token('rt-500'), token('rt-403'), token('rt-cut')];
  const fails = ['server_error', 'forbidden', { mode: 'disconnect', after_events: 0 }];
  const accounts = Object.fromEntries(tokens.map((rt, i) => [rt, { chat: { fail: fails[i] } }]));
  const emu = await emulator(t, { accounts }, ARGS);
  const gw = await gateway(t, emu, tokens, { ADMIN_SECRET: ADMIN });
  await waitReady(gw, 3);
  for (let i = 0; i < 12; i++) {
    const r = await chat(gw, { stream: i % 2 === 0 });
    assert.equal(r.status, 503, `request ${i}: ${r.text}`);
    assertErrorShape(r.json);
    assert.match(r.json.error.message, /last backend error/);
  }
  assert.equal((await emu.stats()).counters.chat_requests, 36, 'each account once per request');
});

// A text event line as the backend sends it.
const textLine = (s) => JSON.stringify({ type: 'text', sub_type: 'code_implementation', used_model: 'gpt-4o', data: { content: s } });

// [name, fail, text the client gets before the error, pattern of the error message]
const afterFirstByte = [
  ['a cut between lines', { mode: 'disconnect', after_events: 2 }, 'tok0 tok1 ', /./],
  ['a hang mid-answer (idle timeout)', { mode: 'hang_after_events', after_events: 2 }, 'tok0 tok1 ', /timed out|timeout/i],
  ['a rate-limit line', { mode: 'status', status: 200, body: `${textLine('one ')}\n{"error":"Too many concurrent requests"}\n${textLine('never')}\n` }, 'one ', /rate|concurrent/i],
  ['a usage-limit line', { mode: 'status', status: 200, body: `${textLine('one ')}\n{"error":"Usage limit exceeded","detail":"x"}\n` }, 'one ', /usage/i],
  ['an invalid-token line', { mode: 'status', status: 200, body: `${textLine('one ')}\n{"error":"Invalid token"}\n` }, 'one ', /token/i],
  ['a Chinese refusal line', { mode: 'status', status: 200, body: `${textLine('one ')}\n{"error":"Detected that you are using Chinese. Please use English."}\n` }, 'one ', /CHINESE_CHAT_ENABLED/],
  ['an oversize line', { mode: 'status', status: 200, body: `${textLine('one ')}\n${'x'.repeat(2 * 1024 * 1024)}\n${textLine('never')}\n` }, 'one ', /line longer/i],
];

for (const [name, fail, before, pattern] of afterFirstByte) {
  test(`after the first byte, ${name}: the text once, one error event, [DONE], no retry`, async (t) => {
    const { emu, gw } = await failingStack(t, fail, 100);
    const r = await chat(gw, { stream: true });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.ok(r.ms < 10000, `ended after ${r.ms} ms`);
    const s = assertMidStreamError(r.text, before, pattern);
    assertErrorShape({ error: s.errors[0] });
    assert.equal((await emu.stats()).counters.chat_requests, 1, 'no retry once text reached the client');
    await waitNoActiveStreams(gw);
    const m = await metrics(gw);
    assert.equal(metricValue(m, 'qodo2api_active_streams'), 0);
    // The gateway serves on once the backend behaves.
    await emu.scenario({});
    const ok = await chat(gw, { stream: true });
    const okAccounts = await accountList(gw);
    if (ok.status === 200) assert.equal(parseSse(ok.text).content, TEXT);
    else assert.ok(okAccounts.some((a) => a.state !== 'active'), `${ok.status} ${ok.text}`);
  });
}

test('garbage lines between text events are skipped; the answer is complete', async (t) => {
  const { emu, gw } = await failingStack(t, 'none', 1);
  await emu.scenario({ default: { chat: { garbage_lines: 20, blank_lines: true, status_events: 3, data_prefix: true } } });
  for (const stream of [true, false]) {
    const r = await chat(gw, { stream });
    assert.equal(r.status, 200, r.text);
    assert.equal(stream ? parseSse(r.text).content : r.json.choices[0].message.content, TEXT);
  }
});

test('an oversize first line is a 502 on every account; RSS stays far below the line', async (t) => {
  const { emu, gw } = await failingStack(t, 'none', 1, { WORKERS: '1' });
  await chat(gw);
  const pid = gw.proc.child.pid;
  const before = rssKb(pid);
  // 40 MB of one line: the gateway must give up at its 1 MiB line bound.
  await emu.scenario({ default: { chat: { fail: { mode: 'status', status: 200, body: 'y'.repeat(40 * 1024 * 1024) } } } });
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, rssKb(pid)); }, 20);
  const r = await chat(gw, { stream: true });
  clearInterval(sampler);
  assert.equal(r.status, 502, r.text);
  assert.match(r.json.error.message, /line longer/i);
  assert.ok((peak - before) / 1024 < 20, `RSS grew ${((peak - before) / 1024).toFixed(1)} MB`);
});

test('a gzip bomb from the backend: bounded memory, an error for the client, the gateway serves on', async (t) => {
  const { emu, gw } = await failingStack(t, 'none', 1, { WORKERS: '1' });
  await chat(gw);
  const pid = gw.proc.child.pid;
  const before = rssKb(pid);
  // About 1 GB once inflated, no newline in it.
  await emu.scenario({ default: { chat: { gzip_bomb: 1024 * 1024 * 1024 } } });
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, rssKb(pid)); }, 20);
  const started = Date.now();
  for (const stream of [true, false]) {
    const r = await chat(gw, { stream });
    assert.ok(r.status >= 500 && r.status < 600, `${r.status} ${r.text.slice(0, 200)}`);
    assertErrorShape(r.json);
  }
  clearInterval(sampler);
  assert.ok(Date.now() - started < 20000);
  assert.ok((peak - before) / 1024 < 40, `RSS grew ${((peak - before) / 1024).toFixed(1)} MB`);
  await emu.scenario({});
  const ok = await chat(gw, { stream: true });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(parseSse(ok.text).content, TEXT);
  await waitNoActiveStreams(gw);
});

test('PROXY_URL at a proxy that died: a quick 502 that names the proxy, on every account', async (t) => {
  const emu = await emulator(t, {}, ARGS);
  const proxy = await httpProxy(t);
  const gw = await gateway(t, emu, [token('rt-p1'), token('rt-p2')], { PROXY_URL: proxy.url });
  await waitReady(gw, 2);
  assert.equal((await chat(gw)).status, 200);
  proxy.kill();
  await sleep(50);
  for (const stream of [true, false]) {
    const r = await chat(gw, { stream });
    assert.equal(r.status, 502, r.text);
    assertErrorShape(r.json);
    assert.match(r.json.error.message, /proxy/i, r.json.error.message);
    assert.ok(r.ms < 5000, `${r.ms} ms`);
  }
});

test('after the first byte, the backend closes in the middle of a line: one error event, the text once', async (t) => {
  // A backend that sends two lines and half of a third, then drops the connection.
  const backend = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write(`${textLine('one ')}\n${textLine('two ')}\n`);
    setTimeout(() => {
      res.write('{"type":"text","data":{"con');
      setTimeout(() => res.socket.destroy(), 30);
    }, 30);
  });
  await new Promise((r) => backend.listen(0, '127.0.0.1', r));
  t.after(() => backend.close());
  const emu = await emulator(t, {}, ARGS);
  const gw = await gateway(t, emu, [token('rt-m1'), token('rt-m2')], {
    QODO_API_BASE: `http://127.0.0.1:${backend.address().port}`,
  });
  await waitReady(gw, 2);
  const r = await chat(gw, { stream: true });
  assert.equal(r.status, 200, r.text);
  assertMidStreamError(r.text, 'one two ');
  const p = await chat(gw);
  assert.equal(p.status, 502, p.text);
  assertErrorShape(p.json);
  await waitNoActiveStreams(gw);
});
