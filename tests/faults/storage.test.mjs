// Fault injection, persistence: DATA_DIR read-only, the database locked by another process, the
// database file corrupt (start-up stops with one clear line, the file is left byte for byte as
// it was), kill -9 in the middle of admin additions (after a restart no account is lost or
// doubled, the WAL is replayed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, chmodSync, statSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayBin, startGateway } from '../lib/harness.mjs';
import { API_KEY, ADMIN, token, emulator, gateway, waitReady, waitFor, sleep } from './lib.mjs';

const isRoot = process.getuid() === 0;
const NOBODY = 65534;

// Another user may not reach the build tree (a checkout under /root is 0700): it runs a copy
// of the binary from a directory everyone can enter.
let sharedBin = null;
function binaryFor(uid) {
  if (uid === undefined) return gatewayBin;
  if (!sharedBin) {
    const dir = mkdtempSync(join(tmpdir(), 'qodo2api-bin-'));
    chmodSync(dir, 0o755);
    sharedBin = join(dir, 'qodo2api');
    copyFileSync(gatewayBin, sharedBin);
    chmodSync(sharedBin, 0o755);
  }
  return sharedBin;
}

// Runs the gateway until it exits (or 15 s); resolves to { code, output }.
function runToExit(env, { uid } = {}) {
  return new Promise((resolve) => {
    const child = spawn(binaryFor(uid), [], {
      env: { PATH: process.env.PATH, PORT: '0', WORKERS: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: tmpdir(),
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, output }); });
  });
}

function baseEnv(emu, dataDir, tokens = [token('rt-s')]) {
  return {
    DATA_DIR: dataDir,
    QD_COOKIE: tokens.map((rt) => `${API_KEY}=${rt}`).join(','),
    QODO_API_BASE: emu.url,
    FIREBASE_TOKEN_URL: `${emu.url}/v1/token`,
  };
}

// Start-up refused: a non-zero exit, one line saying why (naming `pattern`), nothing else loud.
function assertRefused(r, pattern) {
  assert.notEqual(r.code, 0, `exit ${r.code} ${r.signal}; output:\n${r.output}`);
  assert.equal(r.signal, null, `died of ${r.signal}:\n${r.output}`);
  assert.doesNotMatch(r.output, /listening on port/, 'it must not serve');
  const lines = r.output.split('\n').filter((l) => /error|fail|cannot|can't|unable|refus|locked|corrupt|damaged|not a database|read-only|writable/i.test(l));
  assert.equal(lines.length, 1, `one line saying why, got:\n${r.output}`);
  assert.match(lines[0], pattern);
}

async function freshDatabase(t, emu) {
  const dataDir = mkdtempSync(join(tmpdir(), 'qodo2api-faults-db-'));
  const gw = await startGateway(baseEnv(emu, dataDir));
  await waitReady(gw);
  assert.equal((await gw.proc.stop()).code, 0);
  const db = join(dataDir, 'qodo2api.db');
  assert.ok(existsSync(db));
  return { dataDir, db };
}

test('DATA_DIR read-only: start-up stops with one line naming the directory', async (t) => {
  const emu = await emulator(t);
  const parent = mkdtempSync(join(tmpdir(), 'qodo2api-faults-ro-'));
  chmodSync(parent, 0o755);
  const dir = join(parent, 'data');
  mkdirSync(dir, { mode: 0o755 });
  // As root, permissions do not bind: run the gateway as nobody, with the directory root's.
  if (!isRoot) chmodSync(dir, 0o555);
  const r = await runToExit(baseEnv(emu, dir), isRoot ? { uid: NOBODY } : {});
  assertRefused(r, new RegExp(`${dir.replace(/[/.]/g, '\\$&')}|DATA_DIR`));
  assert.ok(!existsSync(join(dir, 'qodo2api.db')));

  // A database file that exists but cannot be written.
  const { dataDir, db } = await freshDatabase(t, emu);
  const before = readFileSync(db);
  if (isRoot) {
    chmodSync(dataDir, 0o755);
    chmodSync(db, 0o644);
  } else {
    chmodSync(db, 0o400);
  }
  const r2 = await runToExit(baseEnv(emu, dataDir), isRoot ? { uid: NOBODY } : {});
  assertRefused(r2, /qodo2api\.db|DATA_DIR|database/i);
  assert.ok(readFileSync(db).equals(before), 'the database is unchanged');
});

test('the database locked by another process: start-up stops with one line, the file unchanged', async (t) => {
  const emu = await emulator(t);
  const { dataDir, db } = await freshDatabase(t, emu);
  const before = readFileSync(db);
  const holder = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => holder.kill('SIGKILL'));
  let out = '';
  holder.stdout.on('data', (d) => { out += d; });
  holder.stderr.on('data', (d) => { out += d; });
  holder.stdin.write("PRAGMA locking_mode=EXCLUSIVE;\nBEGIN EXCLUSIVE;\nSELECT 'holding';\n");
  await waitFor('sqlite3 to hold the lock', () => out.includes('holding') || out.includes('Error'), 5000, 20);
  assert.doesNotMatch(out, /Error/);
  const started = Date.now();
  const r = await runToExit(baseEnv(emu, dataDir));
  assertRefused(r, /lock|busy/i);
  assert.ok(Date.now() - started < 14000, 'it does not wait for ever');
  holder.stdin.end('ROLLBACK;\n');
  await new Promise((res) => holder.on('exit', res));
  assert.ok(readFileSync(db).equals(before), 'the database is unchanged');
});

test('a corrupt database: start-up stops with one line, the file is left byte for byte', async (t) => {
  const emu = await emulator(t);
  // Not a database at all.
  const junkDir = mkdtempSync(join(tmpdir(), 'qodo2api-faults-junk-'));
  const junk = join(junkDir, 'qodo2api.db');
  writeFileSync(junk, Buffer.from('this is not an SQLite database, just text.\n'.repeat(200)), { mode: 0o600 });
  const junkBytes = readFileSync(junk);
  assertRefused(await runToExit(baseEnv(emu, junkDir)), /qodo2api\.db|database/i);
  assert.ok(readFileSync(junk).equals(junkBytes), 'the file is unchanged');

  // A real database with damaged pages (the header intact, the page after it overwritten).
  const { db } = await freshDatabase(t, emu);
  const bytes = readFileSync(db);
  assert.ok(bytes.length >= 8192, `a database of several pages (${bytes.length} bytes)`);
  const pageSize = bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16);
  for (let i = 100; i < Math.min(bytes.length, pageSize * 3); i++) if (i % 7 !== 0) bytes[i] = (i * 31) & 0xff;
  writeFileSync(db, bytes);
  for (const suffix of ['-wal', '-shm']) assert.ok(!existsSync(db + suffix) || statSync(db + suffix).size >= 0);
  const r = await runToExit(baseEnv(emu, join(db, '..')));
  assertRefused(r, /qodo2api\.db|database|damaged|corrupt|malformed/i);
  assert.ok(readFileSync(db).equals(bytes), 'the damaged file is unchanged');
});

test('kill -9 during admin additions, then a restart: no account lost or doubled', async (t) => {
  const emu = await emulator(t);
  const first = token('rt-env');
  const gw = await gateway(t, emu, [first], { ADMIN_SECRET: ADMIN, WORKERS: '2' });
  await waitReady(gw);
  const acknowledged = new Set([first]);
  const tried = [];
  let stop = false;
  async function adder(n) {
    for (let i = 0; i < 500 && !stop; i++) {
      const rt = token(`rt-add${n}-${i}`);
      tried.push(rt);
      try {
        const r = await fetch(`${gw.url}/admin/accounts`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ cookie: `${API_KEY}=${rt}` }),
        });
        if (r.status === 201) acknowledged.add(rt);
        else assert.equal(r.status, 201, await r.text());
      } catch (e) {
        if (!stop) throw e;
      }
    }
  }
  const adders = [adder(1), adder(2), adder(3), adder(4)];
  await waitFor('some additions', () => acknowledged.size > 40, 20000, 10);
  gw.proc.child.kill('SIGKILL');
  stop = true;
  await gw.proc.exited;
  await Promise.all(adders);
  const db = join(gw.dataDir, 'qodo2api.db');
  const walAtKill = existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0;
  assert.ok(walAtKill > 0, 'the additions were still in the WAL when the process died');

  const again = await startGateway({
    DATA_DIR: gw.dataDir, QD_COOKIE: `${API_KEY}=${first}`, QODO_API_BASE: emu.url,
    FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, ADMIN_SECRET: ADMIN, REQUEST_RATE_LIMIT: '0',
  });
  t.after(() => again.proc.stop());
  const r = await fetch(`${again.url}/admin/accounts`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  const list = (await r.json()).data;
  const ids = list.map((a) => a.id);
  assert.equal(new Set(ids).size, ids.length, 'no id twice');
  const masked = (rt) => `${rt.slice(0, 6)}…`;
  // Admin keys are masked to 6 characters: compare the full refresh tokens in the database.
  const stored = spawnSync('sqlite3', [db, 'SELECT refresh_token FROM accounts;'], { encoding: 'utf8' });
  assert.equal(stored.status, 0, stored.stderr);
  const tokens = stored.stdout.split('\n').filter(Boolean);
  assert.equal(new Set(tokens).size, tokens.length, 'no refresh token twice in the database');
  for (const rt of acknowledged) assert.ok(tokens.includes(rt), `acknowledged account ${masked(rt)} lost (WAL at kill: ${walAtKill} bytes)`);
  for (const rt of tokens) assert.ok(tried.includes(rt) || rt === first, 'nothing unknown appeared');
  assert.equal(list.length, tokens.length);
  await waitReady(again, Math.min(list.length, 5), 15000);
  const integrity = spawnSync('sqlite3', [db, 'PRAGMA integrity_check;'], { encoding: 'utf8' });
  assert.equal(integrity.stdout.trim(), 'ok');
  await sleep(10);
});
