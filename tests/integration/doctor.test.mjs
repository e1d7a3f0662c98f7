// `qodo2api doctor`: one line per account (kind, masked key, what worked, the first failure in
// plain words, latency), exit 0 when at least one account answered, never a secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startScriptedEmulator, gatewayBin } from '../lib/harness.mjs';

function doctor(env) {
  return new Promise((resolve) => {
    execFile(gatewayBin, ['doctor'], {
      env: { PATH: process.env.PATH, DATA_DIR: mkdtempSync(join(tmpdir(), 'qodo2api-doctor-')), ...env },
      timeout: 30000,
    }, (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }));
  });
}

const secrets = ['rt-alive-0123456789', 'rt-dead-0123456789', 'qk-good-0123456789', 'qk-bad-0123456789', 'qk-tired-0123456789'];

test('doctor names what works and what does not, per account', async (t) => {
  const emu = await startScriptedEmulator(t, 'AIzaDoc', {
    default: { chat: { events: 2, interval_ms: 0 }, session: { events: 2, interval_ms: 0 } },
    accounts: {
      'rt-dead-0123456789': { token: { fail: 'INVALID_REFRESH_TOKEN' } },
      'qk-bad-0123456789': { get_things: { fail: 'unauthorized' } },
      'qk-tired-0123456789': {
        get_things: { quota: { limit: 50, remaining: 7, reset_in: 600 }, default_model: 'gpt-5' },
        session: { fail: { mode: 'error_frame', after_events: 0, message: 'Usage limit exceeded' } },
      },
    },
  });
  const env = {
    QODO_API_BASE: emu.url, FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, QODO_COMMAND_URL: emu.url,
    QD_COOKIE: 'AIzaDoc=rt-alive-0123456789,AIzaDoc=rt-dead-0123456789',
    QODO_API_KEYS: 'qk-good-0123456789,qk-bad-0123456789,qk-tired-0123456789',
  };
  const r = await doctor(env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 6, r.stdout);
  assert.match(lines[0], /^#1 chats +rt-ali… +token ok · answer ok from gemini-2.0-flash: "tok0 tok1" · \d+ ms$/);
  assert.match(lines[1], /^#2 chats +rt-dea… +FAILED at token exchange: .*INVALID_REFRESH_TOKEN.*log in to Qodo again/);
  assert.match(lines[2], /^#3 command qk-goo… +get-things ok \(3 models\) · answer ok from claude-4.5-sonnet: "tok0 tok1" · \d+ ms$/);
  assert.match(lines[3], /^#4 command qk-bad… +FAILED at get-things: the Qodo API key was refused.*401.*qodo login/);
  assert.match(lines[4], /^#5 command qk-tir… +get-things ok \(3 models, quota 7\/50\) · FAILED at the answer \(gpt-5\): .*Usage limit exceeded/);
  assert.equal(lines[5], '2 of 5 accounts answered.');
  for (const s of secrets) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `${s} printed`);

  const none = await doctor({ ...env, QD_COOKIE: 'AIzaDoc=rt-dead-0123456789', QODO_API_KEYS: 'qk-bad-0123456789' });
  assert.equal(none.code, 1, 'no account answered: exit 1');
  assert.match(none.stdout, /0 of 2 accounts answered/);

  const empty = await doctor({ QODO_COMMAND_URL: emu.url });
  assert.equal(empty.code, 1);
  assert.match(empty.stdout, /No account is configured: set QD_COOKIE .* or QODO_API_KEYS/);
});
