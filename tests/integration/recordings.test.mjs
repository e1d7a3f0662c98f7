// RECORD_DIR and `qodo-emulator --replay`: an exchange written by the gateway (credentials as
// ***), served back byte for byte, gives the same answer; every file in tests/data/recordings/
// is replayed and answered as its .expect.json says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, startEmulator, startScriptedEmulator, sourceDir, sleep } from '../lib/harness.mjs';

const recordings = join(sourceDir, 'tests/data/recordings');

async function ready(gw) {
  for (let i = 0; (await fetch(`${gw.url}/readyz`)).status !== 200; i++) {
    if (i > 100) throw new Error(gw.proc.output);
    await sleep(50);
  }
}

// What a client sees: status, content, reasoning and the error event of a stream.
async function ask(gw, model, stream) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const out = { status: res.status, content: '', reasoning: '', error: null };
  if (!stream) {
    const body = await res.json();
    if (body.error) out.error = body.error.message;
    else {
      out.content = body.choices[0].message.content;
      out.reasoning = body.choices[0].message.reasoning_content ?? '';
    }
    return out;
  }
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const chunk = JSON.parse(line.slice(6));
    if (chunk.error) out.error = chunk.error.message;
    for (const c of chunk.choices ?? []) {
      out.content += c.delta.content ?? '';
      out.reasoning += c.delta.reasoning_content ?? '';
    }
  }
  return out;
}

// A gateway whose only account is of `backend`'s kind, on an emulator replaying `file`.
async function replaying(t, file, backend) {
  const emu = await startEmulator(['--replay', file]);
  t.after(() => emu.proc.stop());
  const env = { QODO_API_BASE: emu.url, FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, QODO_COMMAND_URL: emu.url };
  if (backend === 'chats') env.QD_COOKIE = 'AIzaAny=rt-replay-0123456789';
  else env.QODO_API_KEYS = 'qk-replay-0123456789';
  const gw = await startGateway(env);
  t.after(() => gw.proc.stop());
  await ready(gw);
  return { emu, gw };
}

test('RECORD_DIR writes each exchange with its credentials as ***; a replay answers the same', async (t) => {
  const emu = await startScriptedEmulator(t, 'AIzaRec', {
    default: { chat: { events: 4, interval_ms: 2, think: 'Hm.' }, session: { events: 4, interval_ms: 2, think: 'Hm.' } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'qodo2api-rec-'));
  const secrets = ['rt-recorded-0123456789', 'qk-recorded-0123456789'];
  const gw = await startGateway({
    QODO_API_BASE: emu.url, FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, QODO_COMMAND_URL: emu.url,
    QD_COOKIE: `AIzaRec=${secrets[0]}`, QODO_API_KEYS: secrets[1], RECORD_DIR: dir,
  });
  t.after(() => gw.proc.stop());
  await ready(gw);
  const chats = await ask(gw, 'deepseek-r1', true);
  const command = await ask(gw, 'gpt-5', false);
  assert.equal(chats.content, 'tok0 tok1 tok2 tok3');
  assert.equal(command.reasoning, 'Hm.');
  const files = readdirSync(dir).sort();
  assert.equal(files.length, 2, files.join());
  const stats = await emu.stats();
  const accessTokens = stats.requests.filter((r) => r.kind === 'chat').map((r) => r.headers.authorization.slice(7));
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const s of [...secrets, ...accessTokens]) assert.ok(!text.includes(s), `${f} holds a secret`);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].type, 'request');
    assert.equal(lines[0].headers.Authorization, 'Bearer ***');
    assert.equal(lines.at(-1).type, 'end');
    assert.equal(lines.at(-1).outcome, 'answered');
    assert.ok(lines.slice(1).every((l) => typeof l.t_ms === 'number'));
    const backend = lines[0].backend;
    assert.ok(f.endsWith(`-${backend}.jsonl`));
    if (backend === 'chats') assert.ok(lines.some((l) => l.type === 'data' && l.data.includes('tok3')));
    else assert.ok(lines.some((l) => l.type === 'sent' && l.data.startsWith('UserQuery {')));

    // The same file, replayed, answers the same.
    const { gw: again, emu: replay } = await replaying(t, join(dir, f), backend);
    const model = backend === 'chats' ? 'deepseek-r1' : 'gpt-5';
    const original = backend === 'chats' ? chats : command;
    assert.deepEqual(await ask(again, model, backend === 'chats'), original);
    const replayed = await (await fetch(`${replay.url}/_emulator/stats`)).json();
    assert.equal(replayed.counters.replay_requests, 1);
  }
});

test('every recording in tests/data/recordings is replayed as expected', async (t) => {
  const files = readdirSync(recordings).filter((f) => f.endsWith('.jsonl')).sort();
  assert.ok(files.length >= 3, files.join());
  for (const f of files) {
    const file = join(recordings, f);
    const expectFile = file.replace(/\.jsonl$/, '.expect.json');
    assert.ok(existsSync(expectFile), `${f} has no .expect.json`);
    const expected = JSON.parse(readFileSync(expectFile, 'utf8'));
    const backend = JSON.parse(readFileSync(file, 'utf8').split('\n')[0]).backend;
    const { gw } = await replaying(t, file, backend);
    const got = await ask(gw, expected.model, expected.stream);
    assert.equal(got.status, expected.status, f);
    assert.equal(got.content, expected.content, f);
    if ('reasoning' in expected) assert.equal(got.reasoning, expected.reasoning, f);
    if (expected.error) assert.match(got.error ?? '', new RegExp(expected.error), f);
    else assert.equal(got.error, null, f);
    await gw.proc.stop();
  }
});

test('a RECORD_DIR that cannot be written is said once in the log, and requests are served', async (t) => {
  const emu = await startScriptedEmulator(t, 'AIzaRec', { default: { chat: { events: 2, interval_ms: 0 } } });
  const blocked = join(mkdtempSync(join(tmpdir(), 'qodo2api-rec-')), 'a-file');
  writeFileSync(blocked, 'not a directory');
  const gw = await startGateway({
    QODO_API_BASE: emu.url, FIREBASE_TOKEN_URL: `${emu.url}/v1/token`,
    QD_COOKIE: 'AIzaRec=rt-recorded-0123456789', RECORD_DIR: blocked,
  });
  t.after(() => gw.proc.stop());
  await ready(gw);
  for (let i = 0; i < 3; i++) assert.equal((await ask(gw, 'gpt-4o', false)).content, 'tok0 tok1');
  const said = gw.proc.output.split('\n').filter((l) => l.includes('RECORD_DIR'));
  assert.equal(said.length, 1, said.join('\n'));
  assert.match(said[0], /cannot write a recording there/);
});
