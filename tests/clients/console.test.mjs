// The console at / and Swagger UI at /docs in a real browser (Debian's chromium, headless,
// driven by playwright-core), against the gateway and the emulator: a wrong key renders
// nothing, log in, see the accounts, bulk-add two, test one, disable and enable one, send
// traffic and see the usage move, stream a playground answer with its reasoning, execute a call
// from Swagger UI. What an account, a key name or a model says is shown as text: injected
// markup never runs. Each page's screenshot goes to build/screenshots/ (SCREENSHOTS_DIR).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { sourceDir } from '../lib/harness.mjs';
import { startStack } from '../lib/stack.mjs';

const browserPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const shots = process.env.SCREENSHOTS_DIR ?? join(sourceDir, 'build', 'screenshots');
mkdirSync(shots, { recursive: true });
const XSS = '<img src=x onerror="window.__xss=1">';

async function launch(t) {
  assert.ok(browserPath, 'chromium is installed (scripts/test-deps installs it)');
  const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('dialog', (d) => d.accept());  // the delete confirmation
  return { page, problems };
}

test('the console: log in, accounts, bulk add, test, disable/enable, usage, playground', async (t) => {
  const { gw, emu } = await startStack(t, {
    accounts: ['rt-a', 'rt-b'],
    apiKeys: ['qk-xss-5f2c9a7e41d0'],
    scenario: {
      default: { chat: { events: 3, interval_ms: 5, think: 'Thinking hard.' } },
      // A command account whose backend error and model name carry markup: shown as text.
      accounts: { 'qk-xss-5f2c9a7e41d0': {
        get_things: { models: ['claude-4.5-sonnet', XSS] },
        session: { fail: { mode: 'error_frame', after_events: 0, message: XSS } },
      } },
    },
    env: { ADMIN_SECRET: 'adm', API_SECRET: `${XSS}:sk-console`, ACCOUNT_STRATEGY: 'round_robin' },
  });
  const { page, problems } = await launch(t);
  await page.goto(`${gw.url}/`);

  // A wrong key: refused, nothing rendered.
  await page.getByLabel('Admin key (ADMIN_SECRET)').fill('wrong');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText('The admin key was refused.').waitFor();
  assert.equal(await page.locator('#accounts-table tbody tr').count(), 0);
  assert.equal(await page.locator('#nav').isHidden(), true);

  await page.getByLabel('Admin key (ADMIN_SECRET)').fill('adm');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#accounts-table tbody tr').nth(2).waitFor();
  assert.equal(await page.locator('#accounts-table tbody tr').count(), 3);

  // Traffic: answers on the chats accounts, a failure on the command account.
  const ask = (model) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { Authorization: 'Bearer sk-console', 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  for (let i = 0; i < 3; i++) assert.equal((await ask('gpt-4o')).status, 200);
  assert.notEqual((await ask('claude-4.5-sonnet')).status, 200);

  // Bulk add two.
  await page.getByLabel('Paste many: one account per line').fill('AIzaTestKey=rt-c\nAIzaTestKey=rt-d');
  await page.getByRole('button', { name: 'Add all' }).click();
  await page.getByText('Added 2 of 2.').waitFor();
  await page.locator('#accounts-table tbody tr').nth(4).waitFor();
  await page.screenshot({ path: join(shots, 'console-accounts.png'), fullPage: true });
  // The last error is shown as the text it is.
  assert.ok((await page.locator('#accounts-table').innerText()).includes('<img src=x'), 'the markup shows as text');

  // Test one, disable and enable one.
  const firstId = (await page.locator('#accounts-table tbody tr td').first().innerText()).trim();
  await page.getByRole('button', { name: `Test account ${firstId}` }).click();
  await page.getByText(new RegExp(`Account ${firstId}: answered`)).waitFor();
  await page.getByRole('button', { name: `Disable account ${firstId}` }).click();
  await page.getByRole('button', { name: `Enable account ${firstId}` }).waitFor();
  assert.match(await page.locator('#accounts-table tbody tr').first().innerText(), /disabled/);
  await page.getByRole('button', { name: `Enable account ${firstId}` }).click();
  await page.getByRole('button', { name: `Disable account ${firstId}` }).waitFor();
  // Delete the last one (confirmed).
  const rows = await page.locator('#accounts-table tbody tr').count();
  const lastId = (await page.locator('#accounts-table tbody tr').nth(rows - 1).locator('td').first().innerText()).trim();
  await page.getByRole('button', { name: `Delete account ${lastId}` }).click();
  await page.getByText(`Account ${lastId}: deleted`).waitFor();

  // The charts moved with the traffic.
  await page.getByRole('button', { name: 'Traffic' }).click();
  await page.locator('#chart-requests svg polyline').waitFor();
  await page.waitForFunction(() => Number(document.getElementById('traffic').dataset.requests) >= 4);
  const errors = await page.locator('#chart-errors svg').getAttribute('aria-label');
  assert.match(errors, /client: \d+, rate_limited: 0, unavailable: \d+, backend: \d+, timeout: 0/);
  assert.ok(await page.locator('#chart-errors polyline').count() === 5);
  await page.screenshot({ path: join(shots, 'console-traffic.png'), fullPage: true });

  // Usage moved; the key's name (markup) is text.
  await page.getByRole('button', { name: 'Usage' }).click();
  await page.locator('#usage-table tbody tr').first().waitFor();
  const usage = await page.locator('#usage-table').innerText();
  assert.match(usage, /gpt-4o/);
  assert.ok(usage.includes('<img src=x'), usage);
  await page.screenshot({ path: join(shots, 'console-usage.png'), fullPage: true });

  // The playground streams an answer with its reasoning.
  await page.getByRole('button', { name: 'Playground' }).click();
  await page.getByLabel('API key (API_SECRET; empty when the gateway has none)').fill('sk-console');
  await page.getByLabel('API key (API_SECRET; empty when the gateway has none)').press('Tab');
  await page.locator('#play-model option[value="deepseek-r1"]').waitFor({ state: 'attached' });
  assert.ok((await page.locator('#play-model').innerText()).includes('<img src=x'), 'a model name is text');
  await page.getByLabel('Model', { exact: true }).selectOption('deepseek-r1');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText('Finished: stop.').waitFor();
  assert.equal(await page.locator('#play-reasoning').innerText(), 'Thinking hard.');
  assert.equal(await page.locator('#play-answer').innerText(), 'tok0 tok1 tok2');
  // A tool call streams into its own box.
  const r = await fetch(`${emu.url}/_emulator/scenario`, { method: 'POST', body: JSON.stringify({ default: { chat: { interval_ms: 5, tool_call: { name: 'get_weather', arguments: { city: 'Paris' }, before: 'Checking.' } } } }) });
  assert.equal(r.status, 200);
  await page.getByLabel('Tools (optional: OpenAI tools as JSON)').fill(JSON.stringify([{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]));
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText('Finished: tool_calls.').waitFor();
  assert.equal(await page.locator('#play-tools').innerText(), 'get_weather({"city":"Paris"})');
  assert.equal(await page.locator('#play-answer').innerText(), 'Checking. ');
  await page.screenshot({ path: join(shots, 'console-playground.png'), fullPage: true });

  // A phone-width window: nothing overflows the page.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('button', { name: 'Accounts' }).click();
  await page.locator('#accounts-table tbody tr').first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than a phone`);
  await page.screenshot({ path: join(shots, 'console-phone.png'), fullPage: true });

  assert.equal(await page.evaluate(() => window.__xss), undefined, 'no injected markup ran');
  assert.deepEqual(problems.filter((p) => !/Failed to load resource/.test(p)), [], 'no script error or CSP refusal');
});

test('Swagger UI at /docs executes a call; / without ADMIN_SECRET is a short page', async (t) => {
  const { gw } = await startStack(t, {});
  const { page, problems } = await launch(t);
  await page.goto(`${gw.url}/docs`);
  await page.getByText('qodo2api', { exact: false }).first().waitFor();
  const op = page.locator('#operations-ops-healthz');
  await op.locator('.opblock-summary').click();
  await op.getByRole('button', { name: 'Try it out' }).click();
  await op.getByRole('button', { name: 'Execute' }).click();
  await op.locator('.responses-wrapper .live-responses-table .response-col_status').first().waitFor();
  assert.match(await op.locator('.live-responses-table').innerText(), /200[\s\S]*"status": "ok"/);
  await page.screenshot({ path: join(shots, 'docs.png'), fullPage: false });
  assert.deepEqual(problems.filter((p) => !/Failed to load resource/.test(p)), [], 'no script error or CSP refusal');

  await page.goto(`${gw.url}/`);
  await page.getByText('The admin console is off').waitFor();
  assert.equal(await page.locator('#admin-key').count(), 0);
});
