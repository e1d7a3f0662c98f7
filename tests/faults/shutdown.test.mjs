// Fault injection, shutdown: SIGTERM with 100 streams open — every stream finishes complete
// within SHUTDOWN_GRACE_SECONDS, new connections are no longer served, the exit status is 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { token, emulator, gateway, waitReady, waitFor, parseSse, activeStreams } from './lib.mjs';

test('SIGTERM with 100 open streams: all finish complete within the grace time, exit 0', async (t) => {
  const events = 20;
  const emu = await emulator(t, {}, ['--events', String(events), '--interval-ms', '100']);
  const gw = await gateway(t, emu, [token('rt-t1'), token('rt-t2')], { SHUTDOWN_GRACE_SECONDS: '20', WORKERS: '2' });
  await waitReady(gw, 2);
  const expected = Array.from({ length: events }, (_, i) => `tok${i}`).join(' ');
  const body = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  const streams = Array.from({ length: 100 }, () => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: AbortSignal.timeout(40000),
  }).then(async (r) => ({ status: r.status, text: await r.text() })));
  await waitFor('100 streams open', async () => (await activeStreams(gw)) === 100, 20000, 50);

  const termAt = Date.now();
  gw.proc.child.kill('SIGTERM');
  // The listener is closed at once: a new client is refused or closed without an answer.
  await new Promise((r) => setTimeout(r, 300));
  const late = await new Promise((resolve) => {
    const s = net.connect(gw.port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('error', () => resolve('refused'));
    s.on('close', () => resolve(got === '' ? 'closed' : got));
    s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    setTimeout(() => { s.destroy(); resolve(got === '' ? 'no answer' : got); }, 3000);
  });
  assert.ok(['refused', 'closed', 'no answer'].includes(late) || /^HTTP\/1\.1 503/.test(late), `a new request after SIGTERM got: ${late}`);

  const results = await Promise.all(streams);
  for (const r of results) {
    assert.equal(r.status, 200);
    const s = parseSse(r.text);
    assert.equal(s.errors.length, 0, r.text.slice(-300));
    assert.ok(s.done);
    assert.equal(s.content, expected, 'each stream complete');
  }
  const { code, signal } = await gw.proc.exited;
  const tookMs = Date.now() - termAt;
  assert.equal(signal, null);
  assert.equal(code, 0, gw.proc.output.slice(-2000));
  assert.ok(tookMs < 20000, `exited ${tookMs} ms after SIGTERM (grace 20 s)`);
  assert.equal((await emu.stats()).counters.chat_completed, 100);
});
