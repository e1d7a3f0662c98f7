// Turns one bench/run.mjs run into the Markdown of bench/results/<date>.md: a table per
// scenario, the issue's targets with PASS/MISS and by how much, the exact commands.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// `command`: qodo2api with command accounts (a WebSocket session per answer) instead of chats.
// `same`: nginx relaying the backend's own line stream (the same-work baseline, issue 14).
const systems = ['nginx', 'same', 'qodo2api', 'command', 'portkey'];
const label = (name) =>
  name === 'command' ? 'qodo2api, command accounts' : name === 'same' ? 'nginx, same work (Qodo line stream)' : name;

const f = (x, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x.toFixed(digits));
const ratio = (x, base) => (x > 0 && base > 0 ? x / base : NaN);
const rx = (r) => (Number.isNaN(r) ? '–' : `${r.toFixed(2)}×`);

function versionOf(cmd, args) {
  const r = spawnSync(cmd, args);
  return `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n')[0];
}

function cpuPer(r, per) {
  if (!r || r.skipped || !per) return NaN;
  return (r.cpu / per) * 1e6;
}

function good(r) {
  return r.load.completed ?? r.load.ok;
}

// Per-system numbers of one scenario: µs of CPU per request and per token, memory per stream.
function numbers(s, r) {
  if (!r || r.skipped) return null;
  const requests = good(r);
  const tokens = r.load.tokens !== undefined ? r.load.tokens : requests * s.events;
  return {
    requests,
    total: r.load.requests,
    tokens,
    cpu: r.cpu,
    perRequest: cpuPer(r, requests),
    perToken: cpuPer(r, tokens),
    rss0: r.rss0 / 1024,
    hwm: r.hwm / 1024,
    perStreamKb: s.k ? (r.hwm - r.rss0) / s.k : NaN,
    alive: r.alive,
  };
}

function wrkTable(s, res) {
  const base = numbers(s, res.nginx);
  const same = numbers(s, res.same);
  const rows = ['| system | requests ok / sent | CPU s | CPU µs / request | ratio to nginx | ratio to same work | CPU µs / token | peak RSS MB | latency p50 / p99 ms |',
    '|---|---|---|---|---|---|---|---|---|'];
  for (const name of systems) {
    const r = res[name];
    if (!r) continue;
    if (r.skipped) {
      rows.push(`| ${label(name)} | skipped: ${r.skipped} | | | | | | | |`);
      continue;
    }
    const n = numbers(s, r);
    rows.push(`| ${label(name)} | ${n.requests} / ${n.total} | ${f(n.cpu, 2)} | ${f(n.perRequest)} | ${rx(ratio(n.perRequest, base?.perRequest))} | ` +
      `${rx(ratio(n.perRequest, same?.perRequest))} | ${f(n.perToken, 2)} | ${f(n.hwm)} | ${f(r.load.latency_ms.p50, 2)} / ${f(r.load.latency_ms.p99, 2)} |`);
  }
  return rows.join('\n');
}

function streamTable(s, res) {
  const base = numbers(s, res.nginx);
  const rows = ['| system | completed / K | CPU s | CPU µs / token | ratio to nginx | RSS before → peak MB | KB / stream | ratio to nginx | TTFT p50 / p99 ms | longest gap p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|'];
  for (const name of systems) {
    const r = res[name];
    if (!r && name === 'same') continue;
    if (!r || r.skipped) {
      rows.push(`| ${label(name)} | skipped: ${r ? r.skipped : 'not run'} | | | | | | | | |`);
      continue;
    }
    const n = numbers(s, r);
    const l = r.load;
    const why = Object.entries(l.failures || {}).map(([k, v]) => `${v}× ${k}`).join('; ');
    rows.push(`| ${label(name)} | ${l.completed} / ${l.requests}${why ? ` (${why})` : ''} | ${f(n.cpu, 2)} | ${f(n.perToken, 1)} | ` +
      `${rx(ratio(n.perToken, base?.perToken))} | ${f(n.rss0)} → ${f(n.hwm)} | ${f(n.perStreamKb, 1)} | ${rx(ratio(n.perStreamKb, base?.perStreamKb))} | ` +
      `${f(l.ttft_ms.p50, 2)} / ${f(l.ttft_ms.p99, 2)} | ${f(l.max_gap_ms.p99, 1)} |`);
  }
  return rows.join('\n');
}

// Bursts (issue 14): every stream, time to first token against nginx's, the kernel's listen
// overflows during the burst, the backend connections held at the end.
function burstTable(s, res) {
  const rows = ['| system | completed / K | TTFT p50 / p99 ms | p99 vs nginx | listen overflows | backend connections | peak RSS MB | second burst: completed, TTFT p50 / p99 ms (backend connections open) |',
    '|---|---|---|---|---|---|---|---|'];
  const n = res.nginx?.load;
  for (const name of systems) {
    const r = res[name];
    if (!r && name === 'same') continue;
    if (!r || r.skipped) {
      rows.push(`| ${label(name)} | skipped: ${r ? r.skipped : 'not run'} | | | | | | |`);
      continue;
    }
    const l = r.load;
    const why = Object.entries(l.failures || {}).map(([k, v]) => `${v}× ${k}`).join('; ');
    rows.push(`| ${label(name)} | ${l.completed} / ${l.requests}${why ? ` (${why})` : ''} | ${f(l.ttft_ms.p50, 2)} / ${f(l.ttft_ms.p99, 2)} | ` +
      `${n ? `${l.ttft_ms.p99 - n.ttft_ms.p99 >= 0 ? '+' : ''}${f(l.ttft_ms.p99 - n.ttft_ms.p99, 2)} ms` : '–'} | ${l.listen_overflows} | ${l.backend_connections} | ${f(r.hwm / 1024)} | ` +
      (l.again ? `${l.again.completed} / ${l.again.requests}, ${f(l.again.ttft_ms.p50, 2)} / ${f(l.again.ttft_ms.p99, 2)} |` : '– |'));
  }
  return rows.join('\n');
}

function latencyTable(res) {
  const d = res.direct?.load;
  const rows = ['| system | completed | TTFT p50 ms | TTFT p99 ms | added p50 ms | added p99 ms |', '|---|---|---|---|---|---|'];
  if (d) rows.push(`| direct (emulator) | ${d.completed}/${d.requests} | ${f(d.ttft_ms.p50, 3)} | ${f(d.ttft_ms.p99, 3)} | | |`);
  for (const name of systems) {
    const r = res[name];
    if (!r && name === 'same') continue;
    if (!r || r.skipped) {
      rows.push(`| ${label(name)} | skipped | | | | |`);
      continue;
    }
    const l = r.load;
    rows.push(`| ${label(name)} | ${l.completed}/${l.requests} | ${f(l.ttft_ms.p50, 3)} | ${f(l.ttft_ms.p99, 3)} | ` +
      `${d ? f(l.ttft_ms.p50 - d.ttft_ms.p50, 3) : '–'} | ${d ? f(l.ttft_ms.p99 - d.ttft_ms.p99, 3) : '–'} |`);
  }
  return rows.join('\n');
}

function microTables(micro) {
  if (!micro) return 'not run';
  const rows = ['| benchmark | CPU time | rate |', '|---|---|---|'];
  const tok = {};
  for (const b of micro.benchmarks) {
    const rate = b.bytes_per_second ? `${(b.bytes_per_second / 1e6).toFixed(1)} MB/s` : b.items_per_second ? `${(b.items_per_second / 1e6).toFixed(2)} M/s` : '';
    rows.push(`| ${b.name}${b.label ? ` (${b.label})` : ''} | ${b.cpu_time.toFixed(b.cpu_time < 10 ? 1 : 0)} ${b.time_unit} | ${rate} |`);
    const m = b.name.match(/^(countTokens|encode|countTokensRegex|countTokensSpeedup)\/(\d)\/(\d)$/);
    if (m) {
      const enc = ['cl100k_base', 'o200k_base'][Number(m[2])];
      const text = ['english', 'chinese', 'code'][Number(m[3])];
      tok[`${enc}/${text}`] ??= {};
      // The speedup over the previous tokenizer: both timed within each iteration, interleaved.
      if (m[1] === 'countTokensSpeedup') tok[`${enc}/${text}`].speedup = b.speedup;
      else tok[`${enc}/${text}`][m[1]] = b.bytes_per_second / 1e6;
    }
  }
  const t = ['| encoding / text | C++ encode MB/s | C++ countTokens MB/s | previous (PCRE2 pre-tokenizer, whole-piece merging) countTokens MB/s | speedup over the previous (interleaved) | npm tiktoken (WASM) MB/s | npm gpt-tokenizer MB/s | C++ encode ÷ fastest npm |', '|---|---|---|---|---|---|---|---|'];
  for (const [key, v] of Object.entries(tok)) {
    const tiktoken = micro.js?.tiktoken?.[key];
    const gpt = micro.js?.['gpt-tokenizer']?.[key];
    const fastest = Math.max(tiktoken ?? 0, gpt ?? 0);
    t.push(`| ${key} | ${f(v.encode)} | ${f(v.countTokens)} | ${f(v.countTokensRegex)} | ${rx(v.speedup ?? ratio(v.countTokens, v.countTokensRegex))} | ${f(tiktoken)} | ${f(gpt)} | ${rx(ratio(v.encode, fastest))} |`);
  }
  return { relay: rows.join('\n'), tokenizer: t.join('\n'), tok };
}

function targets({ results: R, startup, startupCommand, micro, microT }) {
  const out = [];
  const add = (target, pass, measured, margin) => out.push({ target, pass, measured, margin });
  const per = (id, name, key) => (R[id] ? numbers(R[id].scenario, R[id][name])?.[key] : NaN);
  const missing = (id) => !R[id] || !R[id].nginx || R[id].nginx.skipped || !R[id].qodo2api || R[id].qodo2api.skipped;

  // 1. CPU per non-streaming request ≤ 2× nginx (both concurrencies).
  if (!missing('nonstream32') && !missing('nonstream128')) {
    const r32 = ratio(per('nonstream32', 'qodo2api', 'perRequest'), per('nonstream32', 'nginx', 'perRequest'));
    const r128 = ratio(per('nonstream128', 'qodo2api', 'perRequest'), per('nonstream128', 'nginx', 'perRequest'));
    const worst = Math.max(r32, r128);
    add('gateway CPU per non-streaming request ≤ 2× nginx', worst <= 2, `${rx(r32)} at c=32, ${rx(r128)} at c=128`,
      worst <= 2 ? `${f((2 - worst) * 100 / 2, 0)} % under the bound` : `${f(worst / 2, 2)}× over the bound`);
  }
  // Issue 14: against the same-work baseline (nginx relaying the backend's own line stream).
  const sameMissing = (id) => missing(id) || !R[id].same || R[id].same.skipped;
  const sameRatio = (id) => ratio(per(id, 'qodo2api', 'perRequest'), per(id, 'same', 'perRequest'));
  if (!sameMissing('nonstream32') && !sameMissing('nonstream128')) {
    const r32 = sameRatio('nonstream32');
    const r128 = sameRatio('nonstream128');
    const worst = Math.max(r32, r128);
    add('gateway CPU per non-streaming request ≤ 1.5× the same-work baseline', worst <= 1.5, `${rx(r32)} at c=32, ${rx(r128)} at c=128`,
      worst <= 1.5 ? `${f((1.5 - worst) * 100 / 1.5, 0)} % under the bound` : `${f(worst / 1.5, 2)}× over the bound`);
  }
  if (!sameMissing('prompt100k')) {
    const r = sameRatio('prompt100k');
    add('a cold 100 KB prompt ≤ 5× the same-work baseline', r <= 5, rx(r), r <= 5 ? `${f((5 - r) * 100 / 5, 0)} % under the bound` : `${f(r / 5, 2)}× over the bound`);
  }
  if (!sameMissing('conversation20')) {
    const r = sameRatio('conversation20');
    add('a conversation growing by one 10 KB turn per request (20 turns) ≤ 1.5× the same-work baseline', r <= 1.5, rx(r),
      r <= 1.5 ? `${f((1.5 - r) * 100 / 1.5, 0)} % under the bound` : `${f(r / 1.5, 2)}× over the bound`);
  }
  // 2. CPU per streamed token ≤ 2× nginx.
  if (!missing('stream64')) {
    const r = ratio(per('stream64', 'qodo2api', 'perToken'), per('stream64', 'nginx', 'perToken'));
    add('gateway CPU per streamed token ≤ 2× nginx (c=64, 50 tokens)', r <= 2, rx(r), r <= 2 ? 'within' : `${f(r / 2, 2)}× over the bound`);
    add('gateway CPU per streamed token ≤ 1.5× nginx (issue 14; c=64, 50 tokens)', r <= 1.5, rx(r), r <= 1.5 ? 'within' : `${f(r / 1.5, 2)}× over the bound`);
  }
  // 3. 10,000 held streams.
  if (!missing('held10000')) {
    const s = R.held10000.scenario;
    const g = R.held10000.qodo2api;
    const n = R.held10000.nginx;
    const all = g.load.completed === g.load.requests;
    add(`${s.k} held streams: all complete`, all, `${g.load.completed}/${g.load.requests}`, all ? '' : `${g.load.requests - g.load.completed} failed`);
    const peak = g.hwm / 1024;
    add(`${s.k} held streams: peak RSS ≤ 150 MB`, peak <= 150, `${f(peak)} MB (nginx ${f(n.hwm / 1024)} MB)`,
      `${f(Math.abs(150 - peak))} MB ${peak <= 150 ? 'under' : 'over'}`);
    const kb = numbers(s, g).perStreamKb;
    add(`${s.k} held streams: ≤ 15 KB per stream`, kb <= 15, `${f(kb)} KB (nginx ${f(numbers(s, n).perStreamKb)} KB)`, `${f(Math.abs(15 - kb))} KB ${kb <= 15 ? 'under' : 'over'}`);
    const gap = g.load.max_gap_ms.p99 - n.load.max_gap_ms.p99;
    add(`${s.k} held streams: longest gap p99 within 50 ms of nginx`, gap <= 50, `${f(g.load.max_gap_ms.p99)} ms vs nginx ${f(n.load.max_gap_ms.p99)} ms`, `${f(gap)} ms apart`);
  }
  // 4. 1,000 long-lived streams.
  if (!missing('long1000')) {
    const s = R.long1000.scenario;
    const g = R.long1000.qodo2api;
    const all = g.load.completed === g.load.requests;
    add(`${s.k} long-lived streams: all complete`, all, `${g.load.completed}/${g.load.requests}`, all ? '' : `${g.load.requests - g.load.completed} failed`);
    const r = ratio(per('long1000', 'qodo2api', 'perToken'), per('long1000', 'nginx', 'perToken'));
    add(`${s.k} long-lived streams: CPU per token ≤ 2× nginx`, r <= 2, rx(r), r <= 2 ? 'within' : `${f(r / 2, 2)}× over the bound`);
  }
  // 5. Added latency at 1 stream.
  if (R.latency1?.direct && R.latency1.qodo2api && !R.latency1.qodo2api.skipped) {
    const added = R.latency1.qodo2api.load.ttft_ms.p99 - R.latency1.direct.load.ttft_ms.p99;
    const p99 = `p99 ${f(R.latency1.qodo2api.load.ttft_ms.p99, 3)} ms vs direct ${f(R.latency1.direct.load.ttft_ms.p99, 3)} ms`;
    // Below zero: the direct run's tail was the slower one, so the gateway's share is lost in noise.
    const measured = added < 0 ? `≤ 0 ms (${p99}: within the noise)` : `${f(added, 3)} ms (${p99})`;
    add('added latency to first token, 1 stream, p99 ≤ 1 ms', added <= 1, measured, `${f(Math.abs(1 - Math.max(added, 0)), 3)} ms ${added <= 1 ? 'under' : 'over'}`);
  }
  // 6. Tokenizer against the npm tokenizers (issue 6: tiktoken; issue 14: every one), and
  //    against the previous tokenizer (PCRE2 pre-tokenizer, every piece merged whole) in the
  //    same run (issue 14: ≥ 2.5×).
  if (microT?.tok && micro?.js) {
    for (const pkg of Object.keys(micro.js)) {
      let worst = Infinity;
      let worstKey = '';
      for (const [key, v] of Object.entries(microT.tok)) {
        const r = ratio(v.encode, micro.js[pkg][key]);
        if (r < worst) {
          worst = r;
          worstKey = key;
        }
      }
      add(`tokenizer ahead of npm ${pkg} on every text`, worst >= 1, `slowest ratio ${rx(worst)} (${worstKey})`, worst >= 1 ? '' : `${f((1 - worst) * 100, 0)} % slower`);
    }
  }
  if (microT?.tok) {
    let worst = Infinity;
    let worstKey = '';
    for (const [key, v] of Object.entries(microT.tok)) {
      const r = v.speedup ?? ratio(v.countTokens, v.countTokensRegex);
      if (r < worst) {
        worst = r;
        worstKey = key;
      }
    }
    if (Number.isFinite(worst))
      add('tokenizer ≥ 2.5× the previous one (PCRE2 pre-tokenizer, whole-piece merging) on English, Chinese and code', worst >= 2.5, `slowest ratio ${rx(worst)} (${worstKey})`, worst >= 2.5 ? '' : `${f(worst / 2.5, 2)} of the bound`);
  }
  // 7. Start-up.
  if (startup?.length) {
    const sorted = [...startup].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    add('start-up to /readyz OK with 10 accounts < 200 ms', median < 200, `median ${f(median)} ms (max ${f(sorted.at(-1))} ms, ${sorted.length} starts)`, `${f(Math.abs(200 - median))} ms ${median < 200 ? 'under' : 'over'}`);
  }
  // 8. The command backend (issue 10): against the chats path of the same gateway, same run.
  const has = (id, name) => R[id]?.[name] && !R[id][name].skipped;
  if (has('stream64', 'command') && has('stream64', 'qodo2api')) {
    const r = ratio(per('stream64', 'command', 'perToken'), per('stream64', 'qodo2api', 'perToken'));
    add('command path CPU per streamed token ≤ 1.2× the chats path (c=64, 50 tokens: one WebSocket session per answer included)', r <= 1.2, rx(r), r <= 1.2 ? 'within' : `${f(r / 1.2, 2)}× over the bound`);
    const perAnswer = per('stream64', 'command', 'perRequest') - per('stream64', 'qodo2api', 'perRequest');
    add('(figure) command path extra CPU per answer, c=64, 50 tokens', true, `${f(perAnswer)} µs`, '');
  }
  if (has('stream64long', 'command') && has('stream64long', 'qodo2api')) {
    const r = ratio(per('stream64long', 'command', 'perToken'), per('stream64long', 'qodo2api', 'perToken'));
    add('command path CPU per streamed token ≤ 1.2× the chats path (c=64, 500 tokens)', r <= 1.2, rx(r), r <= 1.2 ? 'within' : `${f(r / 1.2, 2)}× over the bound`);
  }
  for (const id of ['held5000', 'held10000']) {
    if (!has(id, 'command') || !has(id, 'qodo2api')) continue;
    const s = R[id].scenario;
    const c = numbers(s, R[id].command).perStreamKb;
    const q = numbers(s, R[id].qodo2api).perStreamKb;
    add(`${s.k} held streams: a command stream ≤ the memory of a chats stream`, c <= q, `${f(c)} KB vs ${f(q)} KB per stream`, `${f(Math.abs(q - c))} KB ${c <= q ? 'under' : 'over'}`);
  }
  // Bursts (issue 14): all complete, TTFT p99 within 10 ms of nginx's, no listen overflow,
  // no more backend connections than streams.
  for (const id of ['burst1000', 'burst5000']) {
    if (!has(id, 'qodo2api')) continue;
    const s = R[id].scenario;
    const g = R[id].qodo2api.load;
    const all = g.completed === g.requests;
    add(`burst of ${s.k} streams: all complete`, all, `${g.completed}/${g.requests}`, all ? '' : `${g.requests - g.completed} failed`);
    if (has(id, 'nginx')) {
      const gap = g.ttft_ms.p99 - R[id].nginx.load.ttft_ms.p99;
      add(`burst of ${s.k} streams: TTFT p99 within 10 ms of nginx`, gap <= 10, `${f(g.ttft_ms.p99, 2)} ms vs nginx ${f(R[id].nginx.load.ttft_ms.p99, 2)} ms`, `${f(gap, 2)} ms apart`);
    }
    add(`burst of ${s.k} streams: no listen-queue overflow`, g.listen_overflows === 0, `${g.listen_overflows} overflows`, '');
    add(`burst of ${s.k} streams: backend connections ≤ streams`, g.backend_connections <= s.k, `${g.backend_connections} connections`, '');
  }
  if (startupCommand?.length) {
    const sorted = [...startupCommand].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    add('start-up to /readyz OK with 10 command accounts < 200 ms', median < 200, `median ${f(median)} ms (max ${f(sorted.at(-1))} ms, ${sorted.length} starts)`, `${f(Math.abs(200 - median))} ms ${median < 200 ? 'under' : 'over'}`);
  }
  return out;
}

export function report({ results, startup, startupCommand, micro, notes, commands, quick, portkeyProblem, started, date, limit }) {
  const microT = microTables(micro);
  const t = targets({ results, startup, startupCommand, micro, microT });
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const portkeyVersion = (() => {
    try {
      return JSON.parse(fs.readFileSync(path.join(here, 'portkey/node_modules/@portkey-ai/gateway/package.json'), 'utf8')).version;
    } catch {
      return 'not installed';
    }
  })();
  const lines = [];
  lines.push(`# Benchmark results ${date}${quick ? ' (BENCH_QUICK: small K, short runs — not a measurement)' : ''}`, '');
  lines.push(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model || 'cpu'}, ${f(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, ` +
    `load average at the end ${load}, RLIMIT_NOFILE ${limit}. Systems: qodo2api (build/, WORKERS=2), ${versionOf('nginx', ['-v'])} (2 workers, ` +
    `\`proxy_buffering off\`, upstream keep-alive), Portkey gateway ${portkeyVersion} on node ${process.version}. ` +
    `Backend: build/qodo-emulator --threads 2 (a fresh one per scenario; a fresh system process per scenario and system). ` +
    `Run time ${f((Date.now() - started) / 60000)} min. CPU = utime+stime from /proc/PID/stat (all threads; nginx: master + workers) ` +
    `around the load only; peak RSS = VmHWM. Only the ratios measured in this run count: the machine is shared.`, '');
  lines.push('## Targets (issues 6, 10 and 14)', '', '| target | result | measured | margin |', '|---|---|---|---|');
  for (const x of t) lines.push(`| ${x.target} | **${x.pass ? 'PASS' : 'MISS'}** | ${x.measured} | ${x.margin || ''} |`);
  lines.push('');
  for (const [id, res] of Object.entries(results)) {
    const s = res.scenario;
    lines.push(`## ${s.title} (\`${id}\`)`, '');
    if (id === 'latency1') lines.push(latencyTable(res));
    else if (s.burst) lines.push(burstTable(s, res));
    else if (s.k) lines.push(streamTable(s, res));
    else lines.push(wrkTable(s, res));
    lines.push('');
  }
  if (micro) {
    lines.push('## Micro-benchmarks (build/micro_bench)', '', microT.relay, '', '### Tokenizer against the previous one and the npm tokenizers, same texts, same run', '', microT.tokenizer, '');
  }
  if (startup?.length) lines.push('## Start-up', '', `Spawn to \`/readyz\` 200 with 10 accounts: ${startup.map((x) => `${f(x)} ms`).join(', ')}.`, '');
  if (startupCommand?.length) lines.push(`With 10 command accounts (get-things each): ${startupCommand.map((x) => `${f(x)} ms`).join(', ')}.`, '');
  if (portkeyProblem) notes.push(`Portkey skipped: ${portkeyProblem}`);
  if (notes.length) lines.push('## Notes', '', ...notes.map((n) => `- ${n}`), '');
  lines.push('## Commands', '', 'Run by `make bench` (`scripts/bench` → `node bench/run.mjs --build build`), in this order:', '', '```', ...commands, '```', '');
  return lines.join('\n');
}
