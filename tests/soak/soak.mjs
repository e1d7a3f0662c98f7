// Soak: SOAK_MINUTES (default 30) of mixed streaming and non-streaming load from SOAK_CLIENTS
// (default 16) concurrent clients against the gateway and the emulator, with backend faults
// injected at random through /_emulator/scenario and clients that hang up at random. Samples the
// gateway's RSS and open file descriptors every SOAK_SAMPLE_SECONDS (default 5); reports errors
// by kind, requests lost (neither a complete answer nor a proper error), RSS and fds start/end.
// Fails when the gateway dies, a request is lost, the account pool's state is lost across a
// restart, or RSS / fds grow after warm-up beyond SOAK_RSS_GROWTH_MB (20) / SOAK_FD_GROWTH (16).
// Every answer is checked whole: the exact text, or one error (status, or a last error event).
// Then, with the faults off, SOAK_INTEGRITY_ROUNDS (default 300) rounds of 64 keep-alive
// connections of streamload (the C++ client), every answer byte for byte; one bad answer fails.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { startGateway, startEmulator, sleep, gatewayBin } from '../lib/harness.mjs';

const minutes = Number(process.env.SOAK_MINUTES ?? 30);
const clients = Number(process.env.SOAK_CLIENTS ?? 16);
const sampleMs = Number(process.env.SOAK_SAMPLE_SECONDS ?? 5) * 1000;
const rssBoundMb = Number(process.env.SOAK_RSS_GROWTH_MB ?? 20);
const fdBound = Number(process.env.SOAK_FD_GROWTH ?? 16);
const integrityRounds = Number(process.env.SOAK_INTEGRITY_ROUNDS ?? 300);
const streamloadBin = process.env.QODO_STREAMLOAD_BIN ?? join(dirname(gatewayBin), 'streamload');
const kEvents = 6;
const kText = Array.from({ length: kEvents }, (_, i) => `tok${i}`).join(' ');
const durationMs = minutes * 60000;
const warmupMs = Math.min(Math.max(60000, durationMs * 0.1), durationMs / 2);
const ADMIN = 'soak-admin';
const API_KEY = 'AIzaSoakKey';

const faults = [
  ['none', null],
  ['rate_limit', 'rate_limit'],
  ['concurrent_200', 'concurrent_200'],
  ['server_error', 'server_error'],
  ['unavailable', 'unavailable'],
  ['forbidden', 'forbidden'],
  ['bad_gateway', 'bad_gateway'],
  ['disconnect_mid', { mode: 'disconnect', after_events: 2 }],
  ['disconnect_early', { mode: 'disconnect', after_events: 0 }],
  ['hang_before_headers', 'hang_before_headers'],
  ['hang_after_headers', 'hang_after_headers'],
  ['hang_mid', { mode: 'hang_after_events', after_events: 2 }],
  ['garbage', 'garbage'],
];

const rand = (n) => Math.floor(Math.random() * n);
const procStatus = (pid) => {
  const { readFileSync, readdirSync } = awaitFs;
  const rss = Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)[1]);
  return { rssKb: rss, fds: readdirSync(`/proc/${pid}/fd`).length };
};
const awaitFs = await import('node:fs');

async function main() {
  const emu = await startEmulator(['--threads', '1', '--events', String(kEvents), '--interval-ms', '15']);
  const post = (path, body) => fetch(`${emu.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
  await post('/_emulator/scenario', { api_key: API_KEY });
  const accounts = Array.from({ length: 4 }, (_, i) => `rt-soak-${i}`);
  const env = {
    QD_COOKIE: accounts.map((a) => `${API_KEY}=${a}`).join(','),
    QODO_API_BASE: emu.url,
    FIREBASE_TOKEN_URL: `${emu.url}/v1/token`,
    ADMIN_SECRET: ADMIN,
    REQUEST_RATE_LIMIT: '0',
    RATE_LIMIT_COOKIE_LOCK_DURATION: '3',
    UPSTREAM_FIRST_BYTE_TIMEOUT_SECONDS: '2',
    UPSTREAM_IDLE_TIMEOUT_SECONDS: '2',
    WORKERS: '2',
  };
  let gw = await startGateway(env);
  const pid = gw.proc.child.pid;
  for (let i = 0; (await fetch(`${gw.url}/readyz`)).status !== 200; i++) {
    if (i > 200) throw new Error('gateway never ready');
    await sleep(50);
  }

  const counts = { requests: 0, ok: 0, lost: 0, client_aborted: 0 };
  const errors = {};
  const injected = {};
  const lostSamples = [];
  const samples = [];
  const started = Date.now();
  let running = true;

  const classify = (status, message) => {
    const key = `${status} ${String(message).replace(/[0-9]+/g, 'N').slice(0, 60)}`;
    errors[key] = (errors[key] ?? 0) + 1;
  };

  async function one() {
    const stream = Math.random() < 0.6;
    const abort = Math.random() < 0.08;
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(new Error('timeout')), 60000);
    let aborted = false;
    if (abort) setTimeout(() => { aborted = true; ctrl.abort(new Error('client hang-up')); }, rand(300));
    counts.requests++;
    try {
      const r = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: ctrl.signal,
        body: JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: `soak ${counts.requests}` }] }),
      });
      const text = await r.text();
      if (r.status !== 200) {
        const j = JSON.parse(text);
        assert.equal(typeof j.error.message, 'string');
        classify(r.status, j.error.message);
        return;
      }
      if (!stream) {
        const j = JSON.parse(text);
        assert.equal(j.choices[0].message.content, kText, text);
        counts.ok++;
        return;
      }
      const events = text.split('\n\n').filter(Boolean);
      assert.equal(events.at(-1), 'data: [DONE]', 'ends with [DONE]');
      const payloads = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
      const errs = payloads.filter((p) => p.error);
      let content = '';
      for (const p of payloads) for (const c of p.choices ?? []) content += c.delta?.content ?? '';
      if (errs.length) {
        assert.equal(errs.length, 1, 'one error event');
        assert.ok(payloads.at(-1).error, 'the error event is last');
        classify('200+event', errs[0].error.message);
        return;
      }
      assert.equal(content, kText, 'the whole text');
      counts.ok++;
    } catch (e) {
      if (aborted) { counts.client_aborted++; return; }
      counts.lost++;
      if (lostSamples.length < 20) lostSamples.push(String(e?.cause?.message ?? e?.message ?? e).slice(0, 200));
    } finally {
      clearTimeout(timer);
    }
  }

  async function client() {
    while (running) await one();
  }

  async function injector() {
    while (running) {
      const [name, fail] = faults[rand(faults.length)];
      injected[name] = (injected[name] ?? 0) + 1;
      const chat = name === 'garbage' ? { garbage_lines: 3, status_events: 2 }
        : fail === null ? {} : { sequence: [{ times: 1 + rand(40), fail }] };
      const r = await post('/_emulator/scenario', { api_key: API_KEY, default: { chat } });
      if (r.status !== 200) throw new Error(`scenario refused: ${await r.text()}`);
      await sleep(2000 + rand(4000));
    }
  }

  async function sampler() {
    while (running) {
      const s = procStatus(pid);
      samples.push({ t: Math.round((Date.now() - started) / 1000), ...s, requests: counts.requests });
      await sleep(sampleMs);
    }
  }

  const exitWatch = gw.proc.exited.then((x) => { if (running) throw new Error(`gateway died: ${JSON.stringify(x)}\n${gw.proc.output.slice(-3000)}`); });
  const tasks = [sampler(), injector(), ...Array.from({ length: clients }, client)];
  const progress = setInterval(() => {
    const s = samples.at(-1);
    process.stdout.write(`soak: ${Math.round((Date.now() - started) / 1000)} s, ${counts.requests} requests, ok ${counts.ok}, lost ${counts.lost}, RSS ${s ? (s.rssKb / 1024).toFixed(1) : '?'} MB, fds ${s?.fds}\n`);
  }, 60000);
  await Promise.race([sleep(durationMs), exitWatch]);
  running = false;
  await Promise.race([Promise.all(tasks), sleep(70000)]);
  clearInterval(progress);

  // Quiesce, the final sample, then stream integrity under keep-alive load.
  await post('/_emulator/scenario', { api_key: API_KEY });
  await sleep(3000);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  const activeStreams = Number(metrics.match(/^qodo2api_active_streams (\d+)/m)?.[1]);
  const endIdle = procStatus(pid);

  // After the idle sample: 64 more connections leave up to 64 pooled backend connections open.
  let integrity = null;
  if (integrityRounds > 0) {
    // Asynchronously: the gateway's log goes to a pipe this process must keep reading.
    const child = spawn(streamloadBin, ['--url', `${gw.url}/v1/chat/completions`, '--k', '64',
      '--rounds', String(integrityRounds), '--tokens', String(kEvents), '--same-bytes',
      '--threads', '2', '--timeout-s', '600'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    await new Promise((resolve) => child.on('close', resolve));
    try {
      integrity = JSON.parse(out.trim().split('\n').pop());
    } catch {
      integrity = { failed: -1, failures: { [`streamload gave no result: ${err}`]: 1 } };
    }
    console.log(`soak: integrity ${integrity.completed}/${integrity.requests} streamed answers whole`);
  }

  // State: the pool's accounts survive a restart unchanged.
  const list = async () => (await (await fetch(`${gw.url}/admin/accounts`, { headers: { Authorization: `Bearer ${ADMIN}` } })).json()).data;
  const before = await list();
  const stop = await gw.proc.stop('SIGTERM');
  gw = await startGateway({ ...env, DATA_DIR: gw.dataDir });
  const after = await list();
  await gw.proc.stop('SIGTERM');
  await emu.proc.stop();
  const brief = (l) => l.map((a) => `${a.id}:${a.key}:${a.requests}:${a.failures}`).sort().join(',');
  const stateLost = brief(before) === brief(after) ? 0 : 1;

  const afterWarm = samples.filter((s) => s.t * 1000 >= warmupMs);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const window = Math.max(1, Math.min(6, Math.floor(afterWarm.length / 3)));
  const head = afterWarm.slice(0, window);
  const tail = afterWarm.slice(-window);
  const report = {
    command: `SOAK_MINUTES=${minutes} make soak`,
    minutes, clients,
    requests: counts.requests, ok: counts.ok, errors_total: Object.values(errors).reduce((a, b) => a + b, 0),
    client_aborted: counts.client_aborted, lost: counts.lost, lost_samples: lostSamples,
    requests_per_second: Number((counts.requests / (durationMs / 1000)).toFixed(1)),
    faults_injected: injected, errors_by_kind: errors,
    crashes: 0, gateway_exit: stop, active_streams_at_end: activeStreams, state_lost: stateLost,
    rss_mb: { start: samples[0].rssKb / 1024, after_warmup: median(head.map((s) => s.rssKb)) / 1024, end: median(tail.map((s) => s.rssKb)) / 1024, idle_end: endIdle.rssKb / 1024, peak: Math.max(...samples.map((s) => s.rssKb)) / 1024 },
    fds: { start: samples[0].fds, after_warmup: median(head.map((s) => s.fds)), end: median(tail.map((s) => s.fds)), idle_end: endIdle.fds },
    samples: samples.length,
    integrity: integrity && { requests: integrity.requests, completed: integrity.completed, failed: integrity.failed, failures: integrity.failures },
  };
  for (const k of Object.keys(report.rss_mb)) report.rss_mb[k] = Number(report.rss_mb[k].toFixed(1));
  console.log(JSON.stringify(report, null, 2));
  if (process.env.SOAK_REPORT) writeFileSync(process.env.SOAK_REPORT, JSON.stringify({ ...report, series: samples }, null, 2));

  const problems = [];
  if (counts.lost > 0) problems.push(`${counts.lost} requests lost`);
  if (integrity && integrity.failed !== 0) problems.push(`integrity: ${JSON.stringify(integrity.failures)}`);
  if (stop.code !== 0) problems.push(`gateway exit ${JSON.stringify(stop)}`);
  if (activeStreams !== 0) problems.push(`qodo2api_active_streams ${activeStreams} at the end`);
  if (stateLost) problems.push('account state changed across a restart');
  if (report.rss_mb.end - report.rss_mb.after_warmup > rssBoundMb) problems.push(`RSS grew ${(report.rss_mb.end - report.rss_mb.after_warmup).toFixed(1)} MB after warm-up`);
  if (report.fds.end - report.fds.after_warmup > fdBound) problems.push(`fds grew by ${report.fds.end - report.fds.after_warmup} after warm-up`);
  // Idle at the end, the clients' keep-alive connections may still be open: one each at most.
  if (endIdle.fds - report.fds.start > clients + fdBound) problems.push(`idle fds ${report.fds.start} → ${endIdle.fds}`);
  if (counts.ok < counts.requests * 0.3) problems.push(`only ${counts.ok} of ${counts.requests} answered`);
  if (problems.length) {
    console.error(`soak: FAILED: ${problems.join('; ')}`);
    process.exit(1);
  }
  console.log('soak: passed');
}

main().catch((e) => { console.error(`soak: ${e.stack ?? e}`); process.exit(1); });
