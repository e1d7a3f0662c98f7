// An emulated Qodo backend and a gateway wired to it, for the chat and SDK tests.
import assert from 'node:assert/strict';
import { startGateway, startEmulator, sleep } from './harness.mjs';

// Starts the emulator (posting `scenario` before the gateway starts) and a gateway whose pool
// holds `accounts` (refresh tokens of chats accounts) and `apiKeys` (Qodo API keys of command
// accounts; both empty: an empty pool), and waits until the gateway is ready. Both are stopped
// when the test `t` ends.
export async function startStack(t, { emulatorArgs = [], scenario, accounts = ['rt-a'], apiKeys = [], env = {} } = {}) {
  const emu = await startEmulator(emulatorArgs);
  t.after(() => emu.proc.stop());
  if (scenario) {
    const r = await fetch(`${emu.url}/_emulator/scenario`, { method: 'POST', body: JSON.stringify(scenario) });
    assert.equal(r.status, 200, await r.text());
  }
  const gwEnv = {
    QODO_API_BASE: emu.url, FIREBASE_TOKEN_URL: `${emu.url}/v1/token`, QODO_COMMAND_URL: emu.url, ...env,
  };
  if (accounts.length) gwEnv.QD_COOKIE = accounts.map((a) => `AIzaTestKey=${a}`).join(',');
  if (apiKeys.length) gwEnv.QODO_API_KEYS = apiKeys.join(',');
  const gw = await startGateway(gwEnv);
  t.after(() => gw.proc.stop());
  for (let i = 0; accounts.length + apiKeys.length; i++) {
    if ((await fetch(`${gw.url}/readyz`)).status === 200) break;
    if (i > 100) throw new Error(`gateway never became ready:\n${gw.proc.output}`);
    await sleep(50);
  }
  return { emu, gw };
}

export async function emulatorStats(emu) {
  return (await fetch(`${emu.url}/_emulator/stats`)).json();
}
