// The command backend's faults (issue 10, "Bad input and faults"): keys the backend refuses,
// get-things that is slow, failing or garbage, sessions that never get Ready, stall, close
// early or send errors, a client that leaves mid-answer, quota used up, tenant redirects,
// images, tool calls the gateway must answer itself, and the admin API for keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startScriptedEmulator, startGateway, startEmulator, sleep } from '../lib/harness.mjs';
import { httpProxy, socksProxy } from '../lib/proxies.mjs';

const admin = { Authorization: 'Bearer adm' };
const K = (name) => `qk-${name}-7d1e0c95ab3f`;  // long enough to be masked, not hidden whole
const hello = [{ role: 'user', content: 'hello' }];

async function gateway(t, emu, keys, env = {}) {
  const gw = await startGateway({
    QODO_API_BASE: emu.url, FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, QODO_COMMAND_URL: emu.url,
    QODO_API_KEYS: keys.join(','), ADMIN_SECRET: 'adm', REQUEST_RATE_LIMIT: '0', ...env,
  });
  t.after(() => gw.proc.stop());
  return gw;
}

async function accounts(gw) {
  return (await (await fetch(`${gw.url}/admin/accounts`, { headers: admin })).json()).data;
}

async function until(what, check, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function chat(gw, body) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-5', messages: hello, ...body }),
  });
}

// The streamed content, and the error event if one ended the stream.
async function streamed(res) {
  const text = await res.text();
  let content = '';
  let error = null;
  let done = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    if (line === 'data: [DONE]') { done = true; continue; }
    const obj = JSON.parse(line.slice(6));
    if (obj.error) error = obj.error;
    for (const c of obj.choices ?? []) content += c.delta?.content ?? '';
  }
  return { content, error, done, raw: text };
}

test('a refused key (401 at get-things, close 1008 in a session) is invalid, named in the admin list', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    default: { session: { events: 2, interval_ms: 0 } },
    accounts: {
      [K('revoked')]: { get_things: { fail: 'unauthorized' } },
      [K('closing')]: { session: { fail: 'close_1008' } },
    },
  });
  // round_robin: six requests surely reach the closing account.
  const gw = await gateway(t, emu, [K('revoked'), K('closing'), K('good')], { ACCOUNT_STRATEGY: 'round_robin' });
  const byKey = async () => Object.fromEntries((await accounts(gw)).map((a) => [a.key, a]));
  const first = await until('get-things answered', async () => {
    const a = await byKey();
    return a['qk-rev…'].state === 'invalid' ? a : null;
  });
  assert.match(first['qk-rev…'].last_error, /Qodo API key was refused.*401/);
  for (let i = 0; i < 6; i++) {
    const r = await chat(gw);
    assert.equal(r.status, 200);
    assert.equal((await r.json()).choices[0].message.content, 'tok0 tok1');
  }
  const after = await byKey();
  assert.equal(after['qk-clo…'].state, 'invalid', 'close 1008 marks the key invalid');
  assert.equal(after['qk-goo…'].state, 'active');
  const logs = gw.proc.output;
  for (const k of ['revoked', 'closing', 'good']) assert.ok(!logs.includes(K(k)), 'no key in the log');
});

test('get-things slow, 5xx or garbage: the account waits with back-off, the others serve', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    default: { session: { events: 2, interval_ms: 0 } },
    accounts: {
      [K('flaky')]: { get_things: { sequence: [{ fail: 'server_error' }, { fail: 'garbage' }] } },
      [K('slow')]: { get_things: { delay_ms: 30000 } },
    },
  });
  const started = Date.now();
  const gw = await gateway(t, emu, [K('flaky'), K('slow'), K('good')]);
  const listening = Date.now() - started;
  // The slow account (30 s) does not hold start-up: it listens soon after the good one answered.
  assert.ok(listening < 2000, `listening after ${listening} ms`);
  await until('ready', async () => (await fetch(`${gw.url}/readyz`)).status === 200);
  const r = await chat(gw);
  assert.equal(r.status, 200);
  const list = Object.fromEntries((await accounts(gw)).map((a) => [a.key, a]));
  assert.equal(list['qk-goo…'].state, 'active');
  assert.deepEqual(list['qk-slo…'].models, [], 'the slow one has not answered yet');
  // The flaky one: a 500, then garbage, then it answers (back-off 1 s, 2 s).
  const flaky = await until('the flaky account recovers', async () => {
    const a = (await accounts(gw)).find((x) => x.key === 'qk-fla…');
    return a.models.length ? a : null;
  }, 10000);
  assert.equal(flaky.state, 'active');
  assert.ok(Date.now() - started >= 2500, 'retried with back-off, not at once');
  const stats = await emu.stats();
  assert.ok(stats.accounts[K('flaky')].get_things_requests >= 3);
});

test('sessions that fail before any text go to the next account; after text, an error event', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    default: { session: { events: 3, interval_ms: 0 } },
  });
  // round_robin: every batch of requests reaches the misbehaving account A.
  const gw = await gateway(t, emu, [K('a'), K('b')], {
    UPSTREAM_FIRST_BYTE_TIMEOUT_SECONDS: '1', UPSTREAM_IDLE_TIMEOUT_SECONDS: '1', ACCOUNT_STRATEGY: 'round_robin',
  });
  await until('ready', async () => (await fetch(`${gw.url}/readyz`)).status === 200);
  const script = async (session) => {
    const r = await fetch(`${emu.url}/_emulator/scenario`, {
      method: 'POST', body: JSON.stringify({ api_key: 'x', default: { session: { events: 3, interval_ms: 0 } }, accounts: { [K('a')]: { session } } }),
    });
    assert.equal(r.status, 200);
  };
  const answersViaB = async (what) => {
    for (let i = 0; i < 4; i++) {
      const r = await chat(gw);
      assert.equal(r.status, 200, what);
      assert.equal((await r.json()).choices[0].message.content, 'tok0 tok1 tok2', what);
    }
  };
  await script({ fail: 'no_ready' });
  await answersViaB('no Ready: first-byte timeout, then the other account');
  await script({ events: 3, interval_ms: 0, fail: { mode: 'close', after_events: 0 } });
  await answersViaB('closed before any text');
  await script({ events: 3, interval_ms: 0, fail: { mode: 'error_frame', after_events: 0, message: 'Too many concurrent requests' } });
  await answersViaB('a rate-limit error frame');
  assert.equal((await accounts(gw)).find((a) => a.key === 'qk-a-7…').state, 'cooling', 'the rate limit rests the account');

  // After text, only account B left in rotation needs to misbehave: script the default.
  const after = async (session, pattern) => {
    const r = await fetch(`${emu.url}/_emulator/scenario`, {
      method: 'POST', body: JSON.stringify({ api_key: 'x', default: { session } }),
    });
    assert.equal(r.status, 200);
    const res = await chat(gw, { stream: true });
    assert.equal(res.status, 200);
    const s = await streamed(res);
    assert.equal(s.content, 'tok0 tok1 ', s.raw);
    assert.ok(s.error, s.raw);
    assert.match(s.error.message, pattern);
    assert.ok(!s.raw.includes('session_id'), 'no frame leaks to the client');
  };
  await after({ events: 3, interval_ms: 0, fail: { mode: 'stall', after_events: 2 } }, /timed out/i);
  await after({ events: 3, interval_ms: 0, fail: { mode: 'close', after_events: 2 } }, /closed the session before the answer ended/);
  await after({ events: 3, interval_ms: 0, fail: { mode: 'error_frame', after_events: 2, message: 'internal failure' } }, /internal failure/);
});

test('a client gone mid-answer closes the session at once', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', { default: { session: { events: 400, interval_ms: 5 } } });
  const gw = await gateway(t, emu, [K('a')]);
  await until('ready', async () => (await fetch(`${gw.url}/readyz`)).status === 200);
  const res = await chat(gw, { stream: true });
  const reader = res.body.getReader();
  await reader.read();
  await reader.read();
  await reader.cancel();
  const gone = Date.now();
  const closed = await until('the emulator sees the session closed', async () => {
    const s = await emu.stats();
    return s.counters.session_client_closed ? Date.now() : null;
  }, 3000);
  console.log(`session closed ${closed - gone} ms after the client left`);
  assert.ok(closed - gone <= 100, `closed ${closed - gone} ms after the client left`);
  const s = await emu.stats();
  assert.equal(s.counters.session_completed ?? 0, 0);
});

test('quota used up: the account rests until the reset; a tenant base_url is followed', async (t) => {
  const tenant = await startEmulator(['--events', '2', '--interval-ms', '0']);
  t.after(() => tenant.proc.stop());
  const emu = await startScriptedEmulator(t, 'x', {
    default: { session: { events: 2, interval_ms: 0 } },
    accounts: {
      [K('spent')]: { get_things: { quota: { limit: 50, remaining: 0, reset_in: 3600 } } },
      [K('moved')]: { get_things: { base_url: `${tenant.url}/` } },
    },
  });
  const gw = await gateway(t, emu, [K('spent'), K('moved')]);
  await until('ready', async () => (await fetch(`${gw.url}/readyz`)).status === 200);
  const list = Object.fromEntries((await accounts(gw)).map((a) => [a.key, a]));
  const spent = list['qk-spe…'];
  assert.equal(spent.state, 'cooling');
  assert.deepEqual({ ...spent.quota, reset_at: null }, { remaining: 0, limit: 50, reset_at: null });
  assert.ok(Math.abs(spent.cooldown_until - spent.quota.reset_at) <= 1, JSON.stringify(spent));
  for (let i = 0; i < 3; i++) {
    const r = await chat(gw);
    assert.equal(r.status, 200);
  }
  const tenantStats = await (await fetch(`${tenant.url}/_emulator/stats`)).json();
  assert.equal(tenantStats.counters.user_queries, 3, 'the sessions went to the tenant');
  assert.ok(tenantStats.counters.get_things_requests >= 1, 'get-things asked the tenant again');
  assert.equal((await emu.stats()).counters.user_queries ?? 0, 0, 'the spent account was not used');
});

test('images go to command accounts as data URLs; http URLs and chats-only pools are 400s', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', { default: { session: { events: 1, interval_ms: 0 } } });
  const gw = await gateway(t, emu, [K('a')], { QD_COOKIE: 'x=rt-a' });
  await until('ready', async () => (await accounts(gw)).every((a) => a.state === 'active' && (a.kind === 'chats' || a.models.length)));
  const image = 'data:image/png;base64,iVBORw0KGgo=';
  const withImage = (url, model = 'gpt-4o') => chat(gw, {
    model, messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url } }] }],
  });
  for (let i = 0; i < 4; i++) {
    const r = await withImage(image);
    assert.equal(r.status, 200, 'gpt-4o with an image: only the command account can, and does');
  }
  const stats = await emu.stats();
  const frames = stats.requests.filter((r) => r.kind === 'session').map((r) => JSON.parse(r.frame.slice(10)));
  assert.equal(frames.length, 4);
  assert.deepEqual(frames[0].images, [image]);
  assert.equal(stats.counters.chat_requests ?? 0, 0);

  const http = await withImage('https://example.com/cat.png');
  assert.equal(http.status, 400);
  assert.match((await http.json()).error.message, /data URL/);
  const seedOnly = await withImage(image, 'deepseek-r1');
  assert.equal(seedOnly.status, 400);
  assert.match((await seedOnly.json()).error.message, /takes no images/);
  assert.equal((await chat(gw)).status, 200, 'the next request is served');
});

test('a call for a tool the client did not declare is answered with an error result, never shown', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    default: { session: { events: 1, interval_ms: 0, tool_call: { name: 'read_files', arguments: { paths: ['/etc/passwd'] }, answer_after: 'I cannot read files here.' } } },
  });
  const gw = await gateway(t, emu, [K('a')]);
  await until('ready', async () => (await fetch(`${gw.url}/readyz`)).status === 200);
  const r = await chat(gw);
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.equal(body.choices[0].message.content, 'tok0\n\nI cannot read files here.');
  assert.equal(body.choices[0].message.tool_calls, undefined);
  const rec = (await emu.stats()).requests.find((x) => x.kind === 'session');
  const answer = JSON.parse(rec.tool_answer.slice('IDERetrievalAnswer '.length));
  assert.equal(answer.tool, 'read_files');
  assert.equal(answer.tool_id, 'call-1');
  assert.equal(answer.answer.isError, true);
  assert.match(answer.answer.content[0].text, /not available here/);
});

test('admin: add a key (checked with get-things), a refused key is a 400, bulk import answers per entry', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    default: { session: { events: 1, interval_ms: 0 } },
    accounts: { [K('refused')]: { get_things: { fail: 'unauthorized' } } },
  });
  const gw = await gateway(t, emu, []);
  const post = (body) => fetch(`${gw.url}/admin/accounts`, {
    method: 'POST', headers: { ...admin, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const added = await post({ api_key: K('new') });
  assert.equal(added.status, 201);
  const a = await added.json();
  assert.equal(a.kind, 'command');
  assert.equal(a.key, 'qk-new…');
  const refused = await post({ api_key: K('refused') });
  assert.equal(refused.status, 400);
  const refusedBody = await refused.text();
  assert.match(refusedBody, /refused/);
  assert.ok(!refusedBody.includes(K('refused')), 'the key is not echoed');
  assert.equal((await post({ api_key: K('new') })).status, 409);

  const bulk = await post({ accounts: [K('b1'), 'x=rt-bulk', K('refused'), 42, { api_key: K('b2') }, K('new')] });
  assert.equal(bulk.status, 207);
  const text = await bulk.text();
  for (const k of ['b1', 'refused', 'b2']) assert.ok(!text.includes(K(k)), 'no secret in the answer');
  const results = JSON.parse(text);
  assert.deepEqual(results.data.map((r) => r.status), [201, 201, 400, 400, 201, 409]);
  assert.deepEqual(results.data.map((r) => r.kind ?? null), ['command', 'chats', 'command', null, 'command', 'command']);
  assert.equal(results.added, 3);
  const list = await accounts(gw);
  assert.equal(list.length, 4);
  const r = await chat(gw);
  assert.equal(r.status, 200);
});

test('PROXY_URL carries get-things and the WebSocket sessions (a tunnel libcurl opens), with auth', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', { default: { session: { events: 3, interval_ms: 1 } } });
  const proxy = await httpProxy(t, 'user:p@ss');
  const gw = await gateway(t, emu, [K('a')], { PROXY_URL: proxy.url.replace('//', '//user:p%40ss@') });
  await until('ready', async () => (await fetch(`${gw.url}/readyz`)).status === 200);
  for (const stream of [false, true]) {
    const r = await chat(gw, { stream });
    assert.equal(r.status, 200);
    const content = stream ? (await streamed(r)).content : (await r.json()).choices[0].message.content;
    assert.equal(content, 'tok0 tok1 tok2');
  }
  const target = `127.0.0.1:${emu.port}`;
  assert.deepEqual(proxy.seen, ['GET /v2/info/get-things', `CONNECT ${target}`, `CONNECT ${target}`]);
  // The emulator counts a session once the gateway closed it, just after the client had its answer.
  await until('both sessions completed', async () => (await emu.stats()).counters.session_completed >= 2);
  assert.equal((await emu.stats()).counters.session_completed, 2);
  assert.ok(!gw.proc.output.includes('p@ss') && !gw.proc.output.includes('p%40ss'), 'no proxy password in the log');

  // A session cut by the client is closed through the tunnel too.
  await fetch(`${emu.url}/_emulator/scenario`, { method: 'POST', body: JSON.stringify({ api_key: 'x', default: { session: { events: 400, interval_ms: 5 } } }) });
  const res = await chat(gw, { stream: true });
  const reader = res.body.getReader();
  await reader.read();
  await reader.read();
  await reader.cancel();
  await until('the emulator sees the session closed', async () => (await emu.stats()).counters.session_client_closed, 3000);

  // The proxy dies: a quick 502 that names it.
  proxy.kill();
  const started = Date.now();
  const dead = await chat(gw);
  assert.ok(Date.now() - started < 5000, `answered after ${Date.now() - started} ms`);
  assert.equal(dead.status, 502);
  assert.match((await dead.json()).error.message, /proxy/i);
});

test('PROXY_URL with a wrong password: get-things fails naming the proxy, requests say why', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', { default: { session: { events: 1, interval_ms: 0 } } });
  const proxy = await httpProxy(t, 'user:right');
  const gw = await gateway(t, emu, [K('a')], { PROXY_URL: proxy.url.replace('//', '//user:wrong@') });
  const a = await until('get-things failed', async () => (await accounts(gw))[0].last_error, 5000);
  assert.match(a, /proxy/i);
  const r = await chat(gw);
  assert.equal(r.status, 503);
  assert.match((await r.json()).error.message, /1 command account\(s\) have not listed their models/);
});

test('PROXY_URL socks5h: the proxy resolves the command backend\'s name for get-things and sessions', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', { default: { session: { events: 2, interval_ms: 0 } } });
  const proxy = await socksProxy(t, { 'command.emulator.invalid': '127.0.0.1' });
  const gw = await gateway(t, emu, [K('a')], {
    PROXY_URL: `socks5h://127.0.0.1:${proxy.port}`,
    QODO_COMMAND_URL: `http://command.emulator.invalid:${emu.port}`,
  });
  await until('ready', async () => (await fetch(`${gw.url}/readyz`)).status === 200);
  const r = await chat(gw, { stream: true });
  assert.equal(r.status, 200);
  assert.equal((await streamed(r)).content, 'tok0 tok1');
  assert.ok(proxy.seen.length >= 2, proxy.seen.join(' '));
  assert.ok(proxy.seen.every((d) => d === `command.emulator.invalid:${emu.port}`), proxy.seen.join(' '));
});

test('a tool call the server ran itself is not shown; the answer goes on', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    default: { session: { events: 1, interval_ms: 0, tool_call: { name: 'web_search', arguments: { q: 'x' }, answer_after: 'Found it.', server_run: true } } },
  });
  const gw = await gateway(t, emu, [K('a')]);
  await until('ready', async () => (await fetch(`${gw.url}/readyz`)).status === 200);
  for (const stream of [false, true]) {
    const r = await chat(gw, { stream });
    const content = stream ? (await streamed(r)).content : (await r.json()).choices[0].message.content;
    assert.equal(content, 'tok0\n\nFound it.');
  }
  const recs = (await emu.stats()).requests.filter((x) => x.kind === 'session');
  assert.ok(recs.every((x) => x.tool_answer === undefined), 'nothing was sent back for it');
});

test('POST /admin/accounts/{id}/test: a tiny real request; a failing test counts like a real failure', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', {
    default: { session: { events: 1, interval_ms: 0, text: 'OK' }, chat: { events: 1, interval_ms: 0, text: 'OK' } },
    accounts: {
      [K('mini')]: { get_things: { models: ['gpt-5', 'gpt-5-mini'], default_model: 'gpt-5' } },
      [K('revoked')]: { session: { fail: 'close_1008' } },
    },
  });
  const gw = await gateway(t, emu, [K('mini'), K('revoked')], { QD_COOKIE: 'x=rt-check' });
  await until('ready', async () => (await accounts(gw)).every((a) => a.kind === 'chats' || a.models.length));
  const byKey = async () => Object.fromEntries((await accounts(gw)).map((a) => [a.key, a]));
  const list = await byKey();
  const test = (id) => fetch(`${gw.url}/admin/accounts/${id}/test`, { method: 'POST', headers: admin });

  const mini = await (await test(list['qk-min…'].id)).json();
  assert.deepEqual({ ...mini, latency_ms: 0 }, { ok: true, latency_ms: 0, model: 'gpt-5-mini', answer: 'OK0' });
  assert.ok(mini.latency_ms >= 0);
  const chats = await (await test(list['rt-che…'].id)).json();
  assert.equal(chats.ok, true);
  assert.equal(chats.model, 'gemini-2.0-flash');

  const revoked = await (await test(list['qk-rev…'].id)).json();
  assert.equal(revoked.ok, false);
  assert.match(revoked.error, /1008/);
  const after = await byKey();
  assert.equal(after['qk-rev…'].state, 'invalid', 'the failed test did what a failed request does');
  assert.equal(after['qk-min…'].last_check.ok, true);
  assert.equal(after['qk-min…'].last_check.model, 'gpt-5-mini');
  assert.equal(after['qk-rev…'].last_check.ok, false);
  assert.equal((await test(999)).status, 404);
  const stats = await emu.stats();
  const queried = stats.requests.filter((r) => r.kind === 'session' && r.frame).map((r) => JSON.parse(r.frame.slice(10)));
  assert.ok(queried.some((q) => q.user_request === 'Reply with OK.' && q.custom_model === 'gpt-5-mini'));
});

test('ACCOUNT_CHECK_INTERVAL_SECONDS: every account is checked in the background, one at a time', async (t) => {
  const emu = await startScriptedEmulator(t, 'x', { default: { session: { events: 1, interval_ms: 0 }, chat: { events: 1, interval_ms: 0 } } });
  const gw = await gateway(t, emu, [K('a'), K('b')], { QD_COOKIE: 'x=rt-bg', ACCOUNT_CHECK_INTERVAL_SECONDS: '1' });
  const checked = await until('every account checked', async () => {
    const list = await accounts(gw);
    return list.every((a) => a.last_check?.ok) ? list : null;
  }, 6000);
  assert.equal(checked.length, 3);
  const stats = await emu.stats();
  assert.ok(stats.counters.user_queries >= 2 && stats.counters.chat_requests >= 1, JSON.stringify(stats.counters));
  assert.ok(stats.peak_open_streams <= 1, 'one check at a time');
});
