// The admin console (SPEC §13): plain ES module, no framework. Everything shown comes from the
// gateway's own API and is put into the page as text (never as HTML), so an account's last
// error, a key name or a model name cannot run script. The admin key lives in sessionStorage:
// this tab only.
const $ = (id) => document.getElementById(id);
const KEY = 'qodo2api.admin';

function adminKey() { return sessionStorage.getItem(KEY) ?? ''; }

async function admin(path, options = {}) {
  const r = await fetch(path, { ...options, headers: { Authorization: `Bearer ${adminKey()}`, ...(options.headers ?? {}) } });
  if (r.status === 401) { logout('The admin key was refused.'); throw new Error('unauthorized'); }
  return r;
}

// A table row of text cells (and an optional last cell of elements).
function row(cells, actions) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c ?? '';
    tr.append(td);
  }
  if (actions) {
    const td = document.createElement('td');
    td.append(...actions);
    tr.append(td);
  }
  return tr;
}

function button(label, onClick, name) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.setAttribute('aria-label', name);
  b.addEventListener('click', onClick);
  return b;
}

const time = (s) => (s ? new Date(s * 1000).toLocaleString() : '');

// ---- login ---------------------------------------------------------------------------------

function show(section) {
  for (const id of ['login', 'accounts', 'traffic', 'usage', 'playground']) $(id).hidden = id !== section;
  for (const b of document.querySelectorAll('#nav [data-section]'))
    b.toggleAttribute('aria-current', b.dataset.section === section);
  if (section === 'accounts') loadAccounts();
  if (section === 'usage') loadUsage();
  clearInterval(trafficTimer);
  if (section === 'traffic') {
    loadTraffic();
    trafficTimer = setInterval(loadTraffic, 5000);
  }
  if (section === 'playground') loadModels();
}

function logout(message = '') {
  sessionStorage.removeItem(KEY);
  $('nav').hidden = true;
  $('accounts-table').tBodies[0].replaceChildren();
  $('usage-table').tBodies[0].replaceChildren();
  $('login-error').textContent = message;
  show('login');
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $('admin-key').value);
  $('admin-key').value = '';
  const r = await fetch('admin/accounts', { headers: { Authorization: `Bearer ${adminKey()}` } });
  if (r.status !== 200) return logout('The admin key was refused.');
  $('login-error').textContent = '';
  $('nav').hidden = false;
  show('accounts');
});
$('logout').addEventListener('click', () => logout());
for (const b of document.querySelectorAll('#nav [data-section]'))
  b.addEventListener('click', () => show(b.dataset.section));

// ---- accounts ------------------------------------------------------------------------------

async function act(id, what, confirmText) {
  if (confirmText && !confirm(confirmText)) return;
  const r = await admin(`admin/accounts/${id}${what ? `/${what}` : ''}`, { method: what ? 'POST' : 'DELETE' });
  const body = r.status === 204 ? null : await r.json();
  $('accounts-status').textContent = what === 'test'
    ? `Account ${id}: ${body.ok ? `answered "${body.answer}" from ${body.model} in ${body.latency_ms} ms` : `failed: ${body.error}`}`
    : `Account ${id}: ${r.status < 300 ? (what || 'deleted') : body?.error?.message ?? r.status}`;
  loadAccounts();
}

async function loadAccounts() {
  const r = await admin('admin/accounts');
  const { data } = await r.json();
  const rows = data.map((a) => row([
    a.id, a.kind, a.key, a.state,
    a.quota ? `${a.quota.remaining ?? '?'} / ${a.quota.limit ?? '?'}` : '',
    time(a.cooldown_until), a.last_error, a.requests, a.failures,
    a.last_check ? `${a.last_check.ok ? 'ok' : 'failed'}, ${a.last_check.latency_ms} ms, ${time(a.last_check.at)}` : '',
  ], [
    button('Test', () => act(a.id, 'test'), `Test account ${a.id}`),
    a.state === 'disabled'
      ? button('Enable', () => act(a.id, 'enable'), `Enable account ${a.id}`)
      : button('Disable', () => act(a.id, 'disable'), `Disable account ${a.id}`),
    button('Delete', () => act(a.id, '', `Delete account ${a.id} (${a.key})? This cannot be undone.`), `Delete account ${a.id}`),
  ]));
  $('accounts-table').tBodies[0].replaceChildren(...rows);
  $('accounts-status').dataset.count = String(data.length);
}

function entryOf(line) {
  const eq = line.indexOf('=');
  return eq > 0 && eq < line.length - 1 ? { cookie: line } : { api_key: line };
}

$('add-one').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await admin('admin/accounts', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(entryOf($('add-secret').value.trim())) });
  const body = await r.json();
  $('add-secret').value = '';
  $('add-result').textContent = r.status === 201 ? `Added account ${body.id} (${body.kind}, ${body.key}).` : `Not added: ${body.error.message}`;
  loadAccounts();
});

$('add-many').addEventListener('submit', async (e) => {
  e.preventDefault();
  const lines = $('add-lines').value.split('\n').map((l) => l.trim()).filter(Boolean);
  const r = await admin('admin/accounts', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ accounts: lines }) });
  const body = await r.json();
  $('add-lines').value = '';
  $('add-result').textContent = r.status === 207
    ? `Added ${body.added} of ${body.data.length}. ` + body.data.filter((d) => d.status !== 201).map((d) => `Line ${d.index + 1}: ${d.error}`).join(' ')
    : `Not added: ${body.error.message}`;
  loadAccounts();
});

// ---- traffic -------------------------------------------------------------------------------

let trafficTimer = null;
const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#2f6fdf', '#d9480f', '#2b8a3e', '#862e9c', '#e67700'];

// A line chart of `series` ({name, values}) over the minutes, as SVG built from elements (no
// markup strings), with a legend and an accessible summary of the latest values.
function lineChart(container, series) {
  const width = 360;
  const height = 120;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height + 16}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', series.map((s) => `${s.name}: ${s.values.at(-1)}`).join(', '));
  series.forEach((s, i) => {
    const line = document.createElementNS(SVG, 'polyline');
    const step = width / Math.max(1, s.values.length - 1);
    line.setAttribute('points', s.values.map((v, x) => `${(x * step).toFixed(1)},${(height - (v / max) * (height - 4)).toFixed(1)}`).join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', COLORS[i % COLORS.length]);
    line.setAttribute('stroke-width', '2');
    line.dataset.series = s.name;
    svg.append(line);
  });
  const label = document.createElementNS(SVG, 'text');
  label.setAttribute('x', '2');
  label.setAttribute('y', String(height + 14));
  label.setAttribute('font-size', '11');
  label.textContent = `max ${Math.round(max * 100) / 100} · ` + series.map((s) => `${s.name} ${Math.round(s.values.at(-1) * 100) / 100}`).join(' · ');
  svg.append(label);
  container.replaceChildren(svg);
}

async function loadTraffic() {
  if ($('traffic').hidden) return;
  const r = await admin('admin/stats');
  const { minutes } = await r.json();
  const perSecond = (f) => minutes.map((m) => f(m) / 60);
  lineChart($('chart-requests'), [{ name: 'requests/s', values: perSecond((m) => m.requests) }]);
  lineChart($('chart-tokens'), [{ name: 'in', values: perSecond((m) => m.tokens_in) }, { name: 'out', values: perSecond((m) => m.tokens_out) }]);
  lineChart($('chart-latency'), [{ name: 'p50', values: minutes.map((m) => m.p50_ms) }, { name: 'p99', values: minutes.map((m) => m.p99_ms) }]);
  lineChart($('chart-errors'), ['client', 'rate_limited', 'unavailable', 'backend', 'timeout'].map((k) => ({ name: k, values: minutes.map((m) => m.errors[k]) })));
  $('traffic').dataset.requests = String(minutes.reduce((a, m) => a + m.requests, 0));
}

// ---- usage ---------------------------------------------------------------------------------

async function loadUsage() {
  const query = new URLSearchParams();
  if ($('usage-from').value) query.set('from', $('usage-from').value);
  if ($('usage-to').value) query.set('to', $('usage-to').value);
  const r = await admin(`admin/usage?${query}`);
  const { data } = await r.json();
  $('usage-table').tBodies[0].replaceChildren(...data.map((u) => row([u.day, u.key, u.model, u.requests, u.prompt_tokens, u.completion_tokens])));
}
$('usage-form').addEventListener('submit', (e) => { e.preventDefault(); loadUsage(); });

// ---- playground ----------------------------------------------------------------------------

function clientHeaders() {
  const key = $('play-key').value;
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function loadModels() {
  const r = await fetch('v1/models', { headers: clientHeaders() });
  if (r.status !== 200) { $('play-status').textContent = 'The API key was refused (GET /v1/models).'; return; }
  const { data } = await r.json();
  const selected = $('play-model').value;
  $('play-model').replaceChildren(...data.map((m) => { const o = document.createElement('option'); o.textContent = m.id; o.value = m.id; return o; }));
  if (selected) $('play-model').value = selected;
}
$('play-key').addEventListener('change', loadModels);

let controller = null;
$('play-stop').addEventListener('click', () => controller?.abort());

$('play-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  for (const id of ['play-reasoning', 'play-answer', 'play-tools', 'play-status']) $(id).textContent = '';
  controller = new AbortController();
  $('play-send').disabled = true;
  $('play-stop').disabled = false;
  const calls = [];
  let tools = null;
  try {
    if ($('play-tools-json').value.trim()) tools = JSON.parse($('play-tools-json').value);
  } catch {
    $('play-status').textContent = 'The tools are not valid JSON.';
    $('play-send').disabled = false;
    $('play-stop').disabled = true;
    return;
  }
  try {
    const r = await fetch('v1/chat/completions', {
      method: 'POST', signal: controller.signal,
      headers: { 'Content-Type': 'application/json', ...clientHeaders() },
      body: JSON.stringify({
        model: $('play-model').value, stream: true, messages: [{ role: 'user', content: $('play-prompt').value }],
        ...(tools ? { tools } : {}),
      }),
    });
    if (r.status !== 200) { $('play-status').textContent = (await r.json()).error.message; return; }
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
        const chunk = JSON.parse(event.slice(6));
        if (chunk.error) { $('play-status').textContent = chunk.error.message; continue; }
        const delta = chunk.choices?.[0]?.delta ?? {};
        if (delta.reasoning_content) $('play-reasoning').textContent += delta.reasoning_content;
        if (delta.content) $('play-answer').textContent += delta.content;
        for (const c of delta.tool_calls ?? []) {
          calls[c.index] ??= { name: '', arguments: '' };
          if (c.function?.name) calls[c.index].name = c.function.name;
          calls[c.index].arguments += c.function?.arguments ?? '';
          $('play-tools').textContent = calls.map((x) => `${x.name}(${x.arguments})`).join('\n');
        }
        if (chunk.choices?.[0]?.finish_reason) $('play-status').textContent = `Finished: ${chunk.choices[0].finish_reason}.`;
      }
    }
  } catch (error) {
    $('play-status').textContent = error.name === 'AbortError' ? 'Stopped.' : String(error);
  } finally {
    $('play-send').disabled = false;
    $('play-stop').disabled = true;
  }
});

// A key kept from earlier in this tab logs in at once.
if (adminKey()) {
  admin('admin/accounts').then((r) => { if (r.status === 200) { $('nav').hidden = false; show('accounts'); } }).catch(() => {});
} else {
  show('login');
}
