// GET /openapi.json is true to the running gateway (SPEC §13): every documented operation is
// called here (and every call here is documented), each answer's status must be one the
// document lists for it, and its body must validate against the document's schema for that
// status (JSON Schema 2020-12, with Ajv; response objects are closed, so a field the code adds
// or drops fails). Swagger UI is served from the binary at /docs, /swagger/index.html sends
// there, and / is the console or a short page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Ajv2020 from 'ajv/dist/2020.js';
import { startStack } from '../lib/stack.mjs';

const API = 'sk-docs';
const ADMIN = 'adm';
const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello!' }] };
const message = { model: 'claude-3-7-sonnet', max_tokens: 100, messages: [{ role: 'user', content: 'Hello!' }] };

// Each documented operation, called one or more ways: [operationId, method, path, options].
function calls(ids) {
  // `valid`: the request is one the document's request schema accepts (checked too).
  const json = (body, key = API) => ({ headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body), valid: key === API });
  const admin = { headers: { Authorization: `Bearer ${ADMIN}` } };
  const adminJson = (body, valid = true) => ({ headers: { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body), valid });
  return [
    ['healthz', 'GET', '/healthz', {}],
    ['readyz', 'GET', '/readyz', {}],
    ['metrics', 'GET', '/metrics', {}],
    ['openapi', 'GET', '/openapi.json', {}],
    ['docs', 'GET', '/docs', {}],
    ['console', 'GET', '/', {}],
    ['listModels', 'GET', '/v1/models', { headers: { Authorization: `Bearer ${API}` } }],
    ['listModels', 'GET', '/v1/models', { headers: { 'x-api-key': API, 'anthropic-version': '2023-06-01' } }],
    ['listModels', 'GET', '/v1/models', { headers: { Authorization: 'Bearer wrong' } }],
    ['createChatCompletion', 'POST', '/v1/chat/completions', json(chat)],
    ['createChatCompletion', 'POST', '/v1/chat/completions', json({ ...chat, stream: true })],
    ['createChatCompletion', 'POST', '/v1/chat/completions', { ...json({ model: 'gpt-4o' }), valid: false }],
    ['createChatCompletion', 'POST', '/v1/chat/completions', json(chat, 'wrong')],
    ['createMessage', 'POST', '/v1/messages', json(message)],
    ['createMessage', 'POST', '/v1/messages', json({ ...message, stream: true })],
    ['createMessage', 'POST', '/v1/messages', { ...json({ ...message, max_tokens: undefined }), valid: false }],
    ['createMessage', 'POST', '/v1/messages', json({ ...message, model: 'nope' })],
    ['countTokens', 'POST', '/v1/messages/count_tokens', json({ model: message.model, messages: message.messages })],
    ['countTokens', 'POST', '/v1/messages/count_tokens', { ...json({ model: message.model }), valid: false }],
    ['listAccounts', 'GET', '/admin/accounts', admin],
    ['listAccounts', 'GET', '/admin/accounts', { headers: { Authorization: 'Bearer wrong' } }],
    ['addAccounts', 'POST', '/admin/accounts', adminJson({ cookie: 'AIzaTestKey=rt-added' })],
    ['addAccounts', 'POST', '/admin/accounts', adminJson({ accounts: ['AIzaTestKey=rt-bulk', 'not a cookie='] })],
    ['addAccounts', 'POST', '/admin/accounts', adminJson({ nothing: true }, false)],
    ['testAccount', 'POST', `/admin/accounts/${ids.first}/test`, admin],
    ['disableAccount', 'POST', `/admin/accounts/${ids.first}/disable`, admin],
    ['enableAccount', 'POST', `/admin/accounts/${ids.first}/enable`, admin],
    ['enableAccount', 'POST', '/admin/accounts/9999/enable', admin],
    ['usage', 'GET', '/admin/usage', admin],
    ['stats', 'GET', '/admin/stats', admin],
    ['usage', 'GET', '/admin/usage?from=2026-01-01&to=2999-12-31', admin],
    ['usage', 'GET', '/admin/usage?from=soon', admin],
    ['deleteAccount', 'DELETE', `/admin/accounts/${ids.last}`, admin],
    ['deleteAccount', 'DELETE', '/admin/accounts/9999', admin],
  ];
}

test('every documented route and schema holds against the running gateway', async (t) => {
  const { gw } = await startStack(t, {
    emulatorArgs: ['--events', '3', '--interval-ms', '1'], accounts: ['rt-a', 'rt-b'],
    env: { API_SECRET: API, ADMIN_SECRET: ADMIN, ACCOUNT_STRATEGY: 'round_robin' },
  });
  const r = await fetch(`${gw.url}/openapi.json`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /application\/json/);
  const doc = await r.json();
  assert.equal(doc.openapi, '3.1.0');

  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema(doc, 'doc');
  // Schemas under the document: refs resolve inside it.
  const check = (schema, value) => {
    const wrapped = { $schema: 'https://json-schema.org/draft/2020-12/schema', $defs: {}, ...JSON.parse(JSON.stringify(schema).replaceAll('"#/components', '"doc#/components')) };
    const v = ajv.compile(wrapped);
    return v(value) ? null : `${ajv.errorsText(v.errors)} in ${JSON.stringify(value).slice(0, 400)}`;
  };

  const accounts = (await (await fetch(`${gw.url}/admin/accounts`, { headers: { Authorization: `Bearer ${ADMIN}` } })).json()).data;
  const ids = { first: accounts[0].id, last: accounts.at(-1).id };
  const documented = new Set();
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) documented.add(`${op.operationId} ${method.toUpperCase()} ${path}`);
  const called = new Set();

  for (const [operationId, method, path, options] of calls(ids)) {
    const templated = path.replace(/\/\d+(?=\/|$)/, '/{id}').replace(/\?.*$/, '');
    const op = doc.paths[templated]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${templated} is documented`);
    assert.equal(op.operationId, operationId);
    called.add(`${operationId} ${method} ${templated}`);
    // A documented request body: the requests meant to be valid must fit it.
    if (options.valid && op.requestBody) {
      const problem = check(op.requestBody.content['application/json'].schema, JSON.parse(options.body));
      assert.equal(problem, null, `${operationId} request: ${problem}`);
    }
    const { valid, ...init } = options;
    void valid;
    const res = await fetch(`${gw.url}${path}`, { method, ...init });
    const status = String(res.status);
    const response = op.responses[status];
    assert.ok(response, `${method} ${path} answered ${status}, which is not documented (${Object.keys(op.responses)})`);
    const type = (res.headers.get('content-type') ?? '').split(';')[0];
    const text = await res.text();
    if (!response.content) {
      assert.equal(text, '', `${method} ${path} ${status} has no documented body`);
      continue;
    }
    assert.ok(response.content[type], `${method} ${path} ${status}: content type ${type} is not documented`);
    if (type === 'application/json') {
      const problem = check(response.content[type].schema, JSON.parse(text));
      assert.equal(problem, null, `${method} ${path} ${status}: ${problem}`);
    }
  }
  assert.deepEqual([...documented].filter((d) => !called.has(d)), [], 'every documented operation is called');
  assert.deepEqual([...called].filter((c) => !documented.has(c)), [], 'every call is documented');

  // A route nobody documented does not exist.
  assert.equal((await fetch(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { Authorization: `Bearer ${API}` } })).status, 404);
});

test('Swagger UI from the binary, the old /swagger path, and / without ADMIN_SECRET', async (t) => {
  const { gw } = await startStack(t, { env: { ROUTE_PREFIX: 'hf' } });
  const page = await fetch(`${gw.url}/hf/docs`);
  assert.equal(page.status, 200);
  const csp = page.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-eval|https?:/);
  const html = await page.text();
  assert.match(html, /<base href="\/hf\/">/);
  assert.doesNotMatch(html, /<script>(?!<\/script>)|https?:\/\//, 'no inline script, nothing remote');
  for (const asset of ['docs/swagger-ui-bundle.js', 'docs/swagger-ui.css', 'docs/init.js']) {
    const a = await fetch(`${gw.url}/hf/${asset}`);
    assert.equal(a.status, 200, asset);
    assert.ok((await a.arrayBuffer()).byteLength > 100, asset);
  }
  const bundle = await (await fetch(`${gw.url}/hf/docs/swagger-ui-bundle.js`)).text();
  assert.match(bundle, /SwaggerUIBundle/);
  const redirect = await fetch(`${gw.url}/hf/swagger/index.html`, { redirect: 'manual' });
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get('location'), '/hf/docs');
  const doc = await (await fetch(`${gw.url}/hf/openapi.json`)).json();
  assert.equal(doc.servers[0].url, '/hf/');
  const about = await (await fetch(`${gw.url}/hf`)).text();
  assert.match(about, /admin console is off/);
  assert.doesNotMatch(about, /admin-key/);
  // The admin API never answers another origin.
  const preflight = await fetch(`${gw.url}/hf/admin/accounts`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' } });
  assert.equal(preflight.headers.get('access-control-allow-origin'), null);
});
