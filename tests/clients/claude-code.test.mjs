// Claude Code itself (npm @anthropic-ai/claude-code, its native binary, offline) pointed at the
// gateway with ANTHROPIC_BASE_URL: `claude -p` asks, the emulated model calls Claude Code's
// Write tool (native tool-call frames on a command account, <function_calls> markup on a chats
// account), Claude Code really writes the file and sends the result back, and the model's final
// answer is what Claude Code prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, emulatorStats } from '../lib/stack.mjs';

const require = createRequire(import.meta.url);
// The wrapper finds the platform package's binary (npm's install script is not needed).
const wrapper = require.resolve('@anthropic-ai/claude-code/cli-wrapper.cjs');

function claude(args, { cwd, env }) {
  return new Promise((resolve) => {
    execFile(process.execPath, [wrapper, ...args], { cwd, env, timeout: 120000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }));
  });
}

async function runClaudeCode(t, { kind }) {
  const dir = mkdtempSync(join(tmpdir(), 'qodo2api-claude-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hello.txt');
  const call = { name: 'Write', arguments: { file_path: file, content: `hello from the ${kind} backend\n` } };
  // The result Claude Code sends back for Write says "File created successfully at: …": the
  // model answers then, as a stateless loop's second request.
  const answer = `The file hello.txt now says hello (${kind}).`;
  const scenario = kind === 'command'
    ? { default: { session: { events: 1, interval_ms: 1, text: 'Writing', tool_call: { ...call, answer_after: answer, unless_contains: 'created successfully' } } } }
    : { default: { chat: { tool_call: { ...call, before: 'I will write it.', answer_after: answer, unless_contains: 'created successfully' } } } };
  const { gw, emu } = await startStack(t, {
    scenario,
    accounts: kind === 'chats' ? ['rt-claude'] : [],
    apiKeys: kind === 'command' ? ['qk-claude-5f2c9a7e41d0'] : [],
    env: { API_SECRET: 'sk-claude' },
  });
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    ANTHROPIC_BASE_URL: gw.url,
    ANTHROPIC_API_KEY: 'sk-claude',
    // Offline: no telemetry, error reports, update checks or other traffic but the API.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
  };
  const run = await claude(['-p', 'Write hello to the file hello.txt', '--permission-mode', 'acceptEdits'], { cwd: dir, env });
  return { run, file, answer, gw, emu };
}

for (const kind of ['command', 'chats']) {
  test(`claude -p through a ${kind} account: the tool runs and the final answer is printed`, async (t) => {
    const { run, file, answer, emu } = await runClaudeCode(t, { kind });
    assert.equal(run.code, 0, `claude exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    assert.ok(run.stdout.includes(answer), run.stdout);
    assert.ok(existsSync(file), 'Claude Code ran the Write tool');
    assert.equal(readFileSync(file, 'utf8'), `hello from the ${kind} backend\n`);
    const stats = await emulatorStats(emu);
    const asked = stats.requests.filter((r) => r.kind === (kind === 'command' ? 'session' : 'chat'));
    if (kind === 'command') {
      // The result went back on the session that asked for it (IDERetrievalAnswer).
      const session = asked.find((r) => r.tool_answer);
      assert.ok(session, JSON.stringify(asked));
      assert.match(session.tool_answer, /^IDERetrievalAnswer \{"tool":"Write"/);
      assert.match(session.tool_answer, /created successfully/, 'the tool result reached the model');
    } else {
      assert.ok(asked.length >= 2, 'the call, then its result');
      assert.match(JSON.stringify(asked.at(-1)), /created successfully/, 'the tool result reached the model');
    }
  });
}
