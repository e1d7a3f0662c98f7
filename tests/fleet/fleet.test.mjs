// Several instances sharing state through Redis (SPEC §12, issue 13): three gateways A, B and C
// on one real redis-server and one emulator. Account ids, admin changes and cool-downs are
// fleet-wide within 1 s; a rotating refresh token is exchanged once per refresh by the whole
// fleet, under a lease that passes on when its holder is killed; REQUEST_RATE_LIMIT holds for
// the fleet; a Redis outage costs no request and the fleet catches up when Redis returns; usage
// adds up across instances.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../lib/harness.mjs';
import {
  API_KEY, SLOW, tol, REDIS_DOWN_LINE, REDIS_NOT_OUTAGE_LINE, token, masked, waitFor, sleep, startRedis,
  emulator, readyz, waitReady, startFleet, chat, admin, accountList, byKey, waitAccountOn, usage,
  metrics, metricValue, accountCounter, tokenRequests, lease, assertRetryAfter,
} from './lib.mjs';

const ARGS = ['--events', '3', '--interval-ms', '2'];
const CONTENT = 'tok0 tok1 tok2';
// "In force on all within 1 s", plus what polling the admin API adds.
const WITHIN_1S = tol(1000) + 500;

// One redis-server for the file, emptied before each test (the outage test kills and restarts
// it on the same port).
let redis;
before(async () => { redis = await startRedis(); });
after(() => redis?.stop());

async function freshRedis() {
  await redis.ensureRunning();
  await redis.flushall();
}

async function assertChatOk(gw, what = '') {
  const c = await chat(gw);
  assert.equal(c.status, 200, `${gw.name} ${what}: ${c.text}`);
  assert.equal(c.json.choices[0].message.content, CONTENT, `${gw.name} ${what}`);
  return c;
}

async function fleetOf(gw) {
  const r = await readyz(gw);
  return { status: r.status, ...r.body.fleet };
}

test('account ids and the instance are in /readyz, /metrics and Redis; ids are the same on every instance', async (t) => {
  await freshRedis();
  const one = token('idone1');
  const two = token('idtwo2');
  const emu = await emulator(t, {}, ARGS);
  const gws = await startFleet(t, { emu, redis, tokens: [one, two], usable: 2 });

  const instances = [];
  for (const gw of gws) {
    const r = await readyz(gw);
    assert.equal(r.status, 200);
    assert.equal(r.body.fleet.redis, 'up', `${gw.name}: ${JSON.stringify(r.body)}`);
    assert.equal(typeof r.body.fleet.instance, 'string');
    assert.ok(r.body.fleet.instance.length > 0);
    instances.push(r.body.fleet.instance);
    const m = await metrics(gw);
    assert.equal(metricValue(m, 'qodo2api_redis_up'), 1, `${gw.name}: qodo2api_redis_up`);
    assert.equal(metricValue(m, 'qodo2api_redis_outages_total'), 0, `${gw.name}: qodo2api_redis_outages_total`);
  }
  assert.equal(new Set(instances).size, 3, `three distinct instance ids: ${instances}`);

  const lists = await Promise.all(gws.map(accountList));
  for (const [i, list] of lists.entries()) {
    assert.equal(list.length, 2, `${gws[i].name}: ${JSON.stringify(list)}`);
    for (const a of list) assert.match(a.key, /^.{6}…$/u, 'the key is masked');
  }
  const ids = lists.map((list) => [byKey(list, one)?.id, byKey(list, two)?.id]);
  assert.ok(ids[0].every(Number.isInteger), JSON.stringify(lists[0]));
  assert.notEqual(ids[0][0], ids[0][1]);
  assert.deepEqual(ids[1], ids[0], 'B has the ids A has');
  assert.deepEqual(ids[2], ids[0], 'C has the ids A has');

  for (const id of ids[0]) {
    assert.equal(await redis.command('TYPE', `q2a:account:${id}`), 'hash', `q2a:account:${id}`);
    assert.ok(Object.keys(await redis.hgetall(`q2a:account:${id}`)).length > 0);
  }
  assert.deepEqual(await redis.keys('q2a:account:*'), ids[0].map((id) => `q2a:account:${id}`).sort());

  for (const gw of gws) await assertChatOk(gw);

  // An idle fleet polls Redis, it does not spin on it (a loose bound: a busy loop makes
  // thousands of calls a second).
  const sum = (s) => Object.values(s).reduce((a, b) => a + b, 0);
  const before1 = sum(await redis.commandStats());
  await sleep(2000);
  const calls = sum(await redis.commandStats()) - before1;
  t.diagnostic(`idle fleet: ${calls} Redis commands in 2 s`);
  assert.ok(calls < 3 * 2 * 200, `${calls} Redis commands in 2 s from 3 idle instances`);
});

test('admin changes made on one instance (disable, enable, add, delete) are in force on all within 1 s', async (t) => {
  await freshRedis();
  const x = token('xray01');
  const y = token('yankee');
  const z = token('zulu01');
  const emu = await emulator(t, {}, ARGS);
  const gws = await startFleet(t, { emu, redis, tokens: [x, y], usable: 2, env: { ACCOUNT_STRATEGY: 'round_robin' } });
  const [A, B, C] = gws;
  const list = await accountList(A);
  const xId = byKey(list, x).id;
  const yId = byKey(list, y).id;

  // Disable on A.
  const dis = await admin(A, 'POST', `/${xId}/disable`);
  assert.equal(dis.status, 200, dis.text);
  assert.equal(dis.json.state, 'disabled');
  let ms = await waitAccountOn([B, C], x, 'x disabled', (a) => a?.state === 'disabled', WITHIN_1S);
  t.diagnostic(`disable seen on B and C after ${ms} ms`);
  assert.equal((await readyz(B)).body.accounts.disabled, 1);
  let xRequests = accountCounter(await emu.stats(), x, 'chat_requests');
  for (const gw of [B, C]) for (let i = 0; i < 3; i++) await assertChatOk(gw, 'x disabled');
  assert.equal(accountCounter(await emu.stats(), x, 'chat_requests'), xRequests, 'B and C do not use the disabled account');

  // Enable on B.
  const en = await admin(B, 'POST', `/${xId}/enable`);
  assert.equal(en.status, 200, en.text);
  assert.equal(en.json.state, 'active');
  ms = await waitAccountOn([A, C], x, 'x enabled', (a) => a?.state === 'active', WITHIN_1S);
  t.diagnostic(`enable seen on A and C after ${ms} ms`);

  // Add on C: one id and one token exchange for the whole fleet.
  const add = await admin(C, 'POST', '', { cookie: `${API_KEY}=${z}` });
  assert.equal(add.status, 201, add.text);
  const zId = add.json.id;
  assert.ok(Number.isInteger(zId));
  ms = await waitAccountOn([A, B], z, 'z listed', (a) => a?.id === zId, WITHIN_1S);
  t.diagnostic(`the added account seen on A and B after ${ms} ms`);
  for (const gw of gws) await waitReady(gw, 3, tol(3000));
  const dup = await admin(A, 'POST', '', { cookie: `${API_KEY}=${z}` });
  assert.equal(dup.status, 409, `an account added on C is a duplicate on A: ${dup.text}`);
  // Round robin over three usable accounts: three requests reach each one.
  for (const gw of [A, B]) {
    const zBefore = accountCounter(await emu.stats(), z, 'chat_completed');
    for (let i = 0; i < 3; i++) await assertChatOk(gw, 'z added');
    assert.ok(accountCounter(await emu.stats(), z, 'chat_completed') > zBefore, `${gw.name} serves with the account added on C`);
  }
  let stats = await emu.stats();
  assert.equal(tokenRequests(stats, z).length, 1, 'the added account was exchanged once for the fleet');
  assert.equal(accountCounter(stats, z, 'chat_unauthorized'), 0);

  // Delete on A.
  const del = await admin(A, 'DELETE', `/${yId}`);
  assert.equal(del.status, 204, del.text);
  ms = await waitAccountOn([B, C], y, 'y gone', (a) => a === undefined, WITHIN_1S);
  t.diagnostic(`the deletion seen on B and C after ${ms} ms`);
  assert.equal(await redis.command('EXISTS', `q2a:account:${yId}`), 0, 'the deleted account left Redis');
  assert.equal((await admin(B, 'DELETE', `/${yId}`)).status, 404, 'already deleted, fleet-wide');
  const yRequests = accountCounter(await emu.stats(), y, 'chat_requests');
  xRequests = accountCounter(await emu.stats(), x, 'chat_requests');
  for (const gw of [B, C]) for (let i = 0; i < 3; i++) await assertChatOk(gw, 'y deleted');
  stats = await emu.stats();
  assert.equal(accountCounter(stats, y, 'chat_requests'), yRequests, 'B and C do not use the deleted account');
  assert.ok(accountCounter(stats, x, 'chat_requests') > xRequests, 'the re-enabled account serves again');

  const final = await Promise.all(gws.map(accountList));
  for (const l of final) {
    assert.deepEqual(l.map((a) => [a.id, a.key, a.state]).sort(),
      [[xId, masked(x), 'active'], [zId, masked(z), 'active']].sort());
  }
});

test('an account rate-limited on B is cooling on A and C within 1 s and they do not use it', async (t) => {
  await freshRedis();
  const hot = token('hotacc');
  const cool = token('calmac');
  const emu = await emulator(t, { accounts: { [hot]: { chat: { fail: 'rate_limit' } } } }, ARGS);
  const gws = await startFleet(t, { emu, redis, tokens: [hot, cool], usable: 2, env: { ACCOUNT_STRATEGY: 'round_robin' } });
  const [A, B, C] = gws;

  // Round robin on B reaches the rate-limited account within two requests; the client never
  // sees the 429 (the request moves on to the other account).
  for (let i = 0; i < 4 && accountCounter(await emu.stats(), hot, 'chat_requests') === 0; i++) await assertChatOk(B, 'on B');
  const limitedAt = Date.now();
  assert.equal(accountCounter(await emu.stats(), hot, 'chat_requests'), 1);
  const onB = byKey(await accountList(B), hot);
  assert.equal(onB.state, 'cooling', JSON.stringify(onB));

  await waitAccountOn([A, C], hot, 'the account cooling', (a) => a?.state === 'cooling', WITHIN_1S);
  t.diagnostic(`cooling on A and C ${Date.now() - limitedAt} ms after B's request returned`);
  for (const gw of [A, C]) {
    const a = byKey(await accountList(gw), hot);
    assert.ok(Math.abs(a.cooldown_until - onB.cooldown_until) <= 1, `${gw.name}: cooldown_until ${a.cooldown_until} vs B's ${onB.cooldown_until}`);
    assert.equal((await readyz(gw)).body.accounts.cooling, 1, gw.name);
  }
  const calmBefore = accountCounter(await emu.stats(), cool, 'chat_completed');
  for (const gw of [A, C]) for (let i = 0; i < 3; i++) await assertChatOk(gw, 'while cooling');
  const stats = await emu.stats();
  assert.equal(accountCounter(stats, hot, 'chat_requests'), 1, 'A and C do not use the cooling account');
  assert.equal(accountCounter(stats, cool, 'chat_completed') - calmBefore, 6);
});

test('a rotating refresh token is exchanged once at start and once per refresh by the whole fleet', async (t) => {
  await freshRedis();
  const E = 5;
  const rt = token('rotate');
  const emu = await emulator(t, { accounts: { [rt]: { token: { rotate: true, old_valid: false, expires_in: E } } } }, ARGS);
  const gws = await startFleet(t, { emu, redis, tokens: [rt] });
  for (const gw of gws) await assertChatOk(gw, 'after start');

  // The start-up exchange and two refreshes.
  const ex = await waitFor('three exchanges', async () => {
    const e = tokenRequests(await emu.stats(), rt);
    return e.length >= 3 ? e : null;
  }, tol(3 * E * 1000));
  const stats = await emu.stats();
  const all = tokenRequests(stats, rt);
  t.diagnostic(`exchanges at +${all.map((e) => (e.time - all[0].time).toFixed(2)).join(' s, +')} s`);
  assert.equal(all[0].refresh_token, rt);
  assert.equal(all.filter((e) => e.time - all[0].time < 0.6 * E).length, 1,
    'three instances starting together exchange once');
  assert.deepEqual(all.map((e) => e.outcome), all.map(() => 'token_issued'));
  assert.equal(new Set(all.map((e) => e.refresh_token)).size, all.length, 'no refresh token is sent twice');
  for (const e of all.slice(1)) assert.ok(e.refresh_token.startsWith(`${rt}.rot`), 'each refresh sends the newest rotated token');
  for (let i = 1; i < ex.length; i++) {
    const gap = ex[i].time - ex[i - 1].time;
    assert.ok(gap >= 0.6 * E, `exchange ${i} came ${gap.toFixed(2)} s after the one before: one refresh per period for the fleet`);
    assert.ok(gap < E + (SLOW > 1 ? 5 : 0), `exchange ${i} came ${gap.toFixed(2)} s after the one before: after the ${E} s token expired`);
  }
  assert.equal(accountCounter(stats, rt, 'token_issued'), all.length);
  assert.equal(accountCounter(stats, rt, 'token_refused'), 0, 'no instance sent a refresh token another had already rotated');
  assert.equal(stats.counters.token_refused ?? 0, 0);

  // Every instance serves with the fleet's newest token.
  for (const gw of gws) await assertChatOk(gw, 'after the refreshes');
  const after2 = await emu.stats();
  assert.equal(after2.counters.chat_unauthorized ?? 0, 0, 'no chat went out with an expired or unknown token');
  const lists = await Promise.all(gws.map(accountList));
  for (const [i, l] of lists.entries()) {
    assert.equal(l.length, 1);
    assert.equal(l[0].state, 'active', `${gws[i].name}: ${JSON.stringify(l[0])}`);
    assert.equal(l[0].id, lists[0][0].id);
  }
  const pttl = await redis.command('PTTL', `q2a:lease:${lists[0][0].id}`);
  assert.ok(pttl === -2 || (pttl > 0 && pttl <= 10000), `a lease lives at most 10 s (PTTL ${pttl})`);
});

test('the lease holder killed mid-exchange: another instance takes the lease once it lapses and the account stays usable', async (t) => {
  await freshRedis();
  const E = 6;
  const rt = token('killme');
  // The start-up exchange is answered; the first refresh hangs until its caller goes away.
  const emu = await emulator(t, { accounts: { [rt]: { token: {
    rotate: true, old_valid: false, expires_in: E, sequence: [{ times: 1 }, { fail: 'hang' }],
  } } } }, ARGS);
  const gws = await startFleet(t, { emu, redis, tokens: [rt] });
  const id = (await accountList(gws[0]))[0].id;

  await waitFor('the refresh to hang', async () => accountCounter(await emu.stats(), rt, 'token_failed') >= 1, tol(3 * E * 1000));
  const hungAt = Date.now();
  let ex = tokenRequests(await emu.stats(), rt);
  assert.equal(ex.length, 2, JSON.stringify(ex.map((e) => [e.refresh_token, e.outcome])));
  assert.equal(ex[0].outcome, 'token_issued');
  assert.ok(ex[1].refresh_token.startsWith(`${rt}.rot`));
  const held = await lease(redis, id);
  assert.ok(held, `q2a:lease:${id} is held during the exchange`);
  const holder = gws.find((gw) => gw.instance === held.holder);
  assert.ok(holder, `the lease names an instance of the fleet: ${held.value} vs ${gws.map((g) => g.instance)}`);
  const survivors = gws.filter((gw) => gw !== holder);
  t.diagnostic(`${holder.name} holds the lease (${held.value})`);

  // The holder renews its lease while the exchange is in flight: the lease outlives the 10 s
  // it was first given, and nobody else exchanges meanwhile.
  let expiresAt = 0;
  let renewed = false;
  while (Date.now() - hungAt < tol(5000)) {
    const l = await lease(redis, id);
    const pttl = await redis.command('PTTL', `q2a:lease:${id}`);
    if (!l || pttl <= 0) {
      const seen = tokenRequests(await emu.stats(), rt).map((e) => `${e.refresh_token.slice(-8)} ${e.outcome}`);
      assert.fail(`the lease lapsed while its holder was alive (PTTL ${pttl}, ${Date.now() - hungAt} ms after the exchange started); exchanges: ${seen.join(', ')}`);
    }
    assert.equal(l.holder, held.holder, 'the lease stays with its holder');
    expiresAt = Date.now() + pttl;
    if (expiresAt - hungAt > 11000) renewed = true;
    if (renewed && Date.now() - hungAt > 4000) break;
    await sleep(100);
  }
  assert.ok(renewed, `the lease was renewed (it expires ${expiresAt - hungAt} ms after the exchange was seen to start)`);
  assert.equal(tokenRequests(await emu.stats(), rt).length, 2, 'no other instance exchanges while the lease is held');

  await holder.proc.stop('SIGKILL');
  const killedAt = Date.now();
  // Nobody renews it now: it lapses exactly when its TTL runs out.
  const pttl = await redis.command('PTTL', `q2a:lease:${id}`);
  assert.ok(pttl > 0, `the dead holder's lease is still there right after the kill (PTTL ${pttl})`);
  expiresAt = Date.now() + pttl;

  const third = await waitFor('another instance to exchange', async () => {
    const e = tokenRequests(await emu.stats(), rt);
    return e.length >= 3 ? e[2] : null;
  }, tol(25000), 100);
  const takenMs = third.time * 1000 - killedAt;
  t.diagnostic(`exchanged again ${(takenMs / 1000).toFixed(2)} s after the kill; the lease expired ${((expiresAt - killedAt) / 1000).toFixed(2)} s after it`);
  assert.ok(third.time * 1000 >= expiresAt - 300, 'not before the dead holder\'s lease lapsed');
  assert.ok(third.time * 1000 <= expiresAt + tol(6000), `taken over ${((third.time * 1000 - expiresAt) / 1000).toFixed(2)} s after the lease lapsed`);
  assert.equal(third.outcome, 'token_issued');
  assert.equal(third.refresh_token, ex[1].refresh_token, 'the survivor sends the token the dead instance was exchanging');

  for (const gw of survivors) {
    await waitReady(gw, 1, tol(10000));
    await assertChatOk(gw, 'after the takeover');
    const a = (await accountList(gw))[0];
    assert.equal(a.state, 'active', `${gw.name}: ${JSON.stringify(a)}`);
  }
  const stats = await emu.stats();
  ex = tokenRequests(stats, rt);
  assert.equal(accountCounter(stats, rt, 'token_refused'), 0, JSON.stringify(ex.map((e) => [e.refresh_token, e.outcome])));
  const now = await lease(redis, id);
  assert.ok(now === null || now.holder !== held.holder, `the dead instance holds no lease: ${now?.value}`);
});

test('REQUEST_RATE_LIMIT holds for the fleet: 6 requests across A, B and C pass, the 7th is 429 anywhere', async (t) => {
  await freshRedis();
  const emu = await emulator(t, {}, ARGS);
  const gws = await startFleet(t, { emu, redis, tokens: [token('rlimit')],
    env: { REQUEST_RATE_LIMIT: '6', TRUSTED_PROXIES: '127.0.0.1/32' } });
  const models = (gw, headers = {}) => fetch(`${gw.url}/v1/models`, { headers });

  const statuses = [];
  const firstSentAt = Date.now();
  for (let i = 0; i < 6; i++) statuses.push(`${gws[i % 3].name}:${(await models(gws[i % 3])).status}`);
  assert.deepEqual(statuses, ['A:200', 'B:200', 'C:200', 'A:200', 'B:200', 'C:200']);
  for (const gw of gws) {
    const r = await models(gw);
    assert.equal(r.status, 429, `${gw.name}: the fleet's 7th request or later`);
    assertRetryAfter(r, firstSentAt, gw.name);
    assert.equal((await r.json()).error?.code, 'rate_limit_exceeded');
  }
  assert.equal((await models(gws[1], { 'X-Forwarded-For': '198.51.100.7' })).status, 200, 'another client has its own budget');

  const keys = await redis.keys('q2a:rl:*');
  assert.ok(keys.some((k) => k === 'q2a:rl:198.51.100.7'), `the forwarded client's window: ${keys}`);
  const local = keys.filter((k) => k !== 'q2a:rl:198.51.100.7');
  assert.equal(local.length, 1, `one window for the local client: ${keys}`);
  assert.equal(await redis.command('TYPE', local[0]), 'zset');
  assert.ok(await redis.command('ZCARD', local[0]) >= 6);
});

test('without Redis one instance limits alone: REQUEST_RATE_LIMIT=3, the 4th request is 429 with Retry-After 1..60', async (t) => {
  const gw = await startGateway({ REQUEST_RATE_LIMIT: '3' });
  t.after(() => gw.proc.stop('SIGKILL'));
  const firstSentAt = Date.now();
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${gw.url}/v1/models`)).status, 200);
  for (let i = 0; i < 2; i++) {
    const r = await fetch(`${gw.url}/v1/models`);
    assert.equal(r.status, 429);
    assertRetryAfter(r, firstSentAt);
  }
  const r = await readyz(gw);
  assert.equal(r.body.fleet, undefined, `no fleet without REDIS_URL: ${JSON.stringify(r.body)}`);
});

test('a Redis outage under load: no request fails, /readyz and /metrics show it, one log line, the fleet catches up', async (t) => {
  await freshRedis();
  const one = token('outag1');
  const two = token('outag2');
  const emu = await emulator(t, {}, ARGS);
  // A limit high enough never to bite, so the limiter's Redis path is in use throughout.
  const gws = await startFleet(t, { emu, redis, tokens: [one, two], usable: 2,
    env: { ACCOUNT_STRATEGY: 'round_robin', REQUEST_RATE_LIMIT: '100000' } });
  const [A, B, C] = gws;

  const results = [];
  let stop = false;
  let next = 0;
  const loop = async () => {
    while (!stop) {
      const gw = gws[next++ % 3];
      const at = Date.now();
      try {
        const r = await chat(gw, { timeoutMs: tol(10000) });
        results.push({ gw: gw.name, at, status: r.status, content: r.json?.choices?.[0]?.message?.content, text: r.text.slice(0, 300) });
      } catch (e) {
        results.push({ gw: gw.name, at, status: 0, text: e.message });
      }
      await sleep(10);
    }
  };
  const loops = Array.from({ length: 4 }, loop);

  await sleep(1000);
  await redis.kill();
  const killedAt = Date.now();
  await waitFor('every instance to see Redis down', async () => {
    for (const gw of gws) if ((await fleetOf(gw)).redis !== 'down') return false;
    return true;
  }, tol(5000), 100);
  t.diagnostic(`all three saw Redis down ${Date.now() - killedAt} ms after the kill`);
  for (const gw of gws) {
    const f = await fleetOf(gw);
    assert.equal(f.status, 200, `${gw.name} stays ready during the outage`);
    assert.equal(metricValue(await metrics(gw), 'qodo2api_redis_up'), 0, `${gw.name}: qodo2api_redis_up`);
  }
  // An account needs a fleet-wide id: adding one waits for Redis, with the reason.
  const refused = await admin(A, 'POST', '', { cookie: `${API_KEY}=${token('during')}` });
  assert.equal(refused.status, 503, refused.text);
  assert.match(refused.json.error.message, /Redis/, refused.text);
  assert.equal((await accountList(A)).length, 2, 'nothing added during the outage');
  await sleep(Math.max(0, killedAt + 3000 - Date.now()));

  await redis.restart();
  const restartedAt = Date.now();
  await waitFor('every instance to see Redis up again', async () => {
    for (const gw of gws) if ((await fleetOf(gw)).redis !== 'up') return false;
    return true;
  }, tol(5000), 100);
  t.diagnostic(`all three saw Redis up ${Date.now() - restartedAt} ms after the restart`);
  for (const gw of gws) {
    const m = await metrics(gw);
    assert.equal(metricValue(m, 'qodo2api_redis_up'), 1, `${gw.name}: qodo2api_redis_up`);
    assert.equal(metricValue(m, 'qodo2api_redis_outages_total'), 1, `${gw.name}: qodo2api_redis_outages_total`);
  }
  await sleep(Math.max(0, restartedAt + 3000 - Date.now()));
  stop = true;
  await Promise.all(loops);

  const failed = results.filter((r) => r.status !== 200 || r.content !== CONTENT);
  t.diagnostic(`${results.length} requests, ${results.filter((r) => r.at >= killedAt && r.at < restartedAt).length} during the outage`);
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${results.length} requests failed`);
  for (const gw of gws) {
    assert.ok(results.some((r) => r.gw === gw.name && r.at >= killedAt && r.at < restartedAt), `${gw.name} served during the outage`);
  }

  // The restarted Redis is empty: the fleet puts its accounts back, and changes flow again.
  await waitFor('the accounts back in Redis', async () => (await redis.keys('q2a:account:*')).length === 2, tol(5000), 100);
  const oneId = byKey(await accountList(A), one).id;
  const dis = await admin(A, 'POST', `/${oneId}/disable`);
  assert.equal(dis.status, 200, dis.text);
  const ms = await waitAccountOn([B, C], one, 'the account disabled after the outage', (a) => a?.state === 'disabled', WITHIN_1S);
  t.diagnostic(`disable after the outage seen on B and C after ${ms} ms`);
  for (const gw of gws) assert.equal(byKey(await accountList(gw), two).state, 'active', `${gw.name}: no account lost`);

  // One line per instance for the outage, however many requests it served meanwhile.
  for (const gw of gws) await gw.proc.stop('SIGTERM');
  for (const gw of gws) {
    const lines = gw.proc.output.split('\n').filter((l) => REDIS_DOWN_LINE.test(l) && !REDIS_NOT_OUTAGE_LINE.test(l));
    assert.equal(lines.length, 1, `${gw.name} logs the outage once:\n${lines.slice(0, 5).join('\n')}`);
    assert.doesNotMatch(gw.proc.output, /AddressSanitizer|runtime error|terminate called/, gw.name);
  }
});

test('usage counted on three instances adds up: /admin/usage shows the fleet total on each', async (t) => {
  await freshRedis();
  const emu = await emulator(t, {}, ARGS);
  const gws = await startFleet(t, { emu, redis, tokens: [token('usage1')], env: { API_SECRET: 'alice:sk-alice' } });
  const today = new Date().toISOString().slice(0, 10);
  const expected = { requests: 0, prompt_tokens: 0, completion_tokens: 0 };
  let n = 0;
  for (const [gw, count] of [[gws[0], 2], [gws[1], 3], [gws[2], 4]]) {
    for (let i = 0; i < count; i++, n++) {
      // Prompts of different lengths, so the sums are not a multiple of one answer's.
      const c = await chat(gw, { headers: { Authorization: 'Bearer sk-alice' },
        messages: [{ role: 'user', content: `Count for me${' and more'.repeat(n)}.` }] });
      assert.equal(c.status, 200, `${gw.name}: ${c.text}`);
      expected.requests += 1;
      expected.prompt_tokens += c.json.usage.prompt_tokens;
      expected.completion_tokens += c.json.usage.completion_tokens;
    }
  }
  const row = async (gw) => {
    const rows = (await usage(gw)).filter((r) => r.key === 'alice');
    assert.equal(rows.length, 1, `${gw.name}: ${JSON.stringify(rows)}`);
    assert.equal(rows[0].day, today);
    assert.equal(rows[0].model, 'gpt-4o');
    return { requests: rows[0].requests, prompt_tokens: rows[0].prompt_tokens, completion_tokens: rows[0].completion_tokens };
  };
  const started = Date.now();
  await waitFor('the fleet total on every instance', async () => {
    for (const gw of gws) if ((await usage(gw)).find((r) => r.key === 'alice')?.requests !== 9) return false;
    return true;
  }, tol(6000), 100);
  t.diagnostic(`fleet totals everywhere after ${Date.now() - started} ms`);
  for (const gw of gws) assert.deepEqual(await row(gw), expected, gw.name);
  assert.equal(await redis.command('TYPE', `q2a:usage:${today}`), 'hash');

  // Later saves add nothing twice.
  await sleep(2500);
  for (const gw of gws) assert.deepEqual(await row(gw), expected, `${gw.name}, 2.5 s later`);
});
