// Starts the built gateway (and the emulator) as child processes on free ports for tests, and
// offers raw-socket helpers for what fetch hides (keep-alive, trickled bytes, pipelining).
import { spawn } from 'node:child_process';
import { mkdtempSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));
export const sourceDir = process.env.QODO_SOURCE_DIR ?? resolve(here, '../..');
export const gatewayBin = resolve(process.env.QODO2API_BIN ?? join(sourceDir, 'build/qodo2api'));
export const emulatorBin = resolve(process.env.QODO_EMULATOR_BIN ?? join(sourceDir, 'build/qodo-emulator'));

function waitForLine(child, pattern, what, timeoutMs = 15000) {
  return new Promise((resolvePromise, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      reject(new Error(`${what} did not start within ${timeoutMs} ms; output:\n${seen}`));
    }, timeoutMs);
    const onData = (chunk) => {
      seen += chunk.toString();
      const m = seen.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => { seen += c.toString(); });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready; output:\n${seen}`));
    });
  });
}

// A running process with its collected output and a way to stop it.
class Proc {
  constructor(child) {
    this.child = child;
    this.output = '';
    child.stdout.on('data', (c) => { this.output += c.toString(); });
    child.stderr.on('data', (c) => { this.output += c.toString(); });
    this.exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  }
  async stop(signal = 'SIGTERM') {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill(signal);
    return this.exited;
  }
}

// ASAN_OPTIONS, TSAN_OPTIONS and the like (set by the asan and tsan test presets) reach the
// gateway even though it otherwise sees only the environment a test gives it.
function sanitizerOptions() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(A|T|UB|L)SAN_OPTIONS$/.test(k)));
}

// Starts the gateway with `env` on a free port; resolves to { url, port, proc, dataDir }.
export async function startGateway(env = {}, { cwd } = {}) {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'qodo2api-test-'));
  const child = spawn(gatewayBin, [], {
    cwd: cwd ?? dataDir,
    env: { PATH: process.env.PATH, ...sanitizerOptions(), PORT: '0', WORKERS: '2', DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc(child);
  const m = await waitForLine(child, /listening on port (\d+)/, 'qodo2api');
  const port = Number(m[1]);
  return { url: `http://127.0.0.1:${port}`, port, proc, dataDir };
}

// Starts the emulator; resolves to { url, port, proc }.
export async function startEmulator(args = []) {
  if (!existsSync(emulatorBin)) throw new Error(`emulator not built: ${emulatorBin}`);
  const child = spawn(emulatorBin, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new Proc(child);
  const m = await waitForLine(child, /listening on (\d+)/, 'qodo-emulator');
  const port = Number(m[1]);
  return { url: `http://127.0.0.1:${port}`, port, proc };
}

// Opens a TCP connection; `read()` resolves with everything received until `until(text)`.
export function rawConnect(port) {
  return new Promise((resolvePromise, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let waiter = null;
    let closed = false;
    const check = () => {
      if (waiter && (waiter.until(received) || closed)) {
        const w = waiter;
        waiter = null;
        clearTimeout(w.timer);
        w.resolve(received);
      }
    };
    socket.on('data', (d) => { received += d.toString('latin1'); check(); });
    socket.on('close', () => { closed = true; check(); });
    socket.on('error', () => { closed = true; check(); });
    socket.on('connect', () => resolvePromise({
      socket,
      get received() { return received; },
      get closed() { return closed; },
      write: (text) => socket.write(text),
      read(until, timeoutMs = 10000) {
        return new Promise((res, rej) => {
          waiter = { until, resolve: res, timer: setTimeout(() => rej(new Error(`timed out; got: ${received}`)), timeoutMs) };
          check();
        });
      },
      closedPromise: new Promise((r) => socket.on('close', r)),
    }));
    socket.on('error', reject);
  });
}

// Splits raw HTTP/1.1 responses (Content-Length or chunked) out of a byte string.
export function parseResponses(text) {
  const out = [];
  let rest = text;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end);
    const [statusLine, ...lines] = head.split('\r\n');
    const headers = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    let body = '';
    rest = rest.slice(end + 4);
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const nl = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, nl), 16);
        rest = rest.slice(nl + 2);
        if (size === 0) { rest = rest.slice(2); break; }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    }
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body });
  }
  return out;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// An emulator running `scenario` from its start (so the gateway's start-up token exchanges
// already follow it), stopped when test `t` ends. Adds stats(), scenario(s) and reset().
export async function startScriptedEmulator(t, apiKey, scenario = {}, args = []) {
  const dir = mkdtempSync(join(tmpdir(), 'qodo2api-emu-'));
  const file = join(dir, 'scenario.json');
  writeFileSync(file, JSON.stringify({ api_key: apiKey, ...scenario }));
  const emu = await startEmulator(['--scenario', file, ...args]);
  t.after(() => emu.proc.stop());
  emu.stats = async () => (await fetch(`${emu.url}/_emulator/stats`)).json();
  emu.scenario = async (s) => {
    const r = await fetch(`${emu.url}/_emulator/scenario`, {
      method: 'POST',
      body: JSON.stringify({ api_key: apiKey, ...s }),
    });
    if (r.status !== 200) throw new Error(`scenario refused (${r.status}): ${await r.text()}`);
  };
  emu.reset = async () => { await fetch(`${emu.url}/_emulator/reset`, { method: 'POST' }); };
  return emu;
}
