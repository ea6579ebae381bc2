// beanpole console: talks to the JSON API of `beanpole console`. Everything from the server is
// put on the page with textContent (never innerHTML), so a job body is never interpreted.
'use strict';

const state = {
  csrf: '',
  pool: false,       // several servers: jobs are ADDR/ID, the breakdown is shown
  tube: null,        // the selected tube's name
  job: null,         // the peeked job
  timer: null,
};

const $ = (id) => document.getElementById(id);

function say(message, kind) {
  const s = $('status');
  s.textContent = message;
  s.className = kind || '';
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': state.csrf },
    body: JSON.stringify(body),
  };
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (e) { data = { error: res.statusText }; }
  if (!res.ok) throw new Error(data && data.error ? data.error : res.statusText);
  return data;
}

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

// Rates come from the server (as `top` computes them); null until a second sample exists.
function rate(r) {
  return r === null || r === undefined ? '–' : r.toFixed(r < 10 ? 1 : 0);
}

function renderTotals(totals) {
  const dl = $('totals');
  const keys = ['current-jobs-ready', 'current-jobs-reserved', 'current-jobs-delayed',
    'current-jobs-buried', 'current-jobs-urgent', 'current-tubes', 'current-connections',
    'current-workers', 'current-waiting', 'total-jobs', 'cmd-put', 'cmd-delete',
    'job-timeouts', 'uptime'];
  dl.replaceChildren();
  for (const k of keys) {
    if (!(k in totals)) continue;
    const div = el('div');
    div.append(el('dt', k), el('dd', totals[k], { 'data-total': k }));
    dl.append(div);
  }
}

const TUBE_COLUMNS = ['ready', 'reserved', 'delayed', 'buried', 'urgent', 'waiting', 'watching',
  'paused', 'put-rate', 'delete-rate'];

function tubeCell(t, column) {
  switch (column) {
    case 'paused': return t.pause_time_left > 0 ? t.pause_time_left + ' s left' : 'no';
    case 'put-rate': return rate(t.put_rate);
    case 'delete-rate': return rate(t.delete_rate);
    default: return String(t[column]);
  }
}

function newTubeRow(name) {
  const tr = el('tr', null, { 'data-tube': name });
  const th = el('th', null, { scope: 'row' });
  const link = el('button', name, {
    type: 'button', class: 'tube-link', 'aria-label': 'Open tube ' + name,
  });
  link.addEventListener('click', () => selectTube(name));
  th.append(link);
  tr.append(th);
  for (const column of TUBE_COLUMNS) {
    const td = el('td', null, { 'data-col': column });
    if (column !== 'paused') td.className = 'num';
    tr.append(td);
  }
  return tr;
}

// Rows are kept and updated in place, never rebuilt: a refresh every two seconds must not take
// the keyboard focus (or a screen reader's place) away from the tube button the user is on.
function renderTubes(view) {
  const body = $('tubes').tBodies[0];
  const rows = new Map([...body.rows].map((tr) => [tr.dataset.tube, tr]));
  view.tubes.forEach((t, i) => {
    let tr = rows.get(t.name);
    rows.delete(t.name);
    if (!tr) tr = newTubeRow(t.name);
    if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null);
    if (t.name === state.tube) tr.setAttribute('aria-selected', 'true');
    else tr.removeAttribute('aria-selected');
    for (const td of tr.querySelectorAll('td[data-col]')) {
      const text = tubeCell(t, td.dataset.col);
      if (td.textContent !== text) td.textContent = text;
    }
  });
  for (const gone of rows.values()) gone.remove();
}

const SERVER_COLUMNS = ['state', 'ready', 'reserved', 'delayed', 'buried', 'urgent', 'workers',
  'connections', 'put_rate', 'delete_rate'];

function serverCell(s, column) {
  if (column === 'state') return s.up ? 'up' : 'down (' + (s.error || s.state) + ')';
  if (!s.up) return '–';
  if (column === 'put_rate' || column === 'delete_rate') return rate(s.server[column]);
  return String(s.server[column]);
}

// The per-server breakdown, updated in place like the tubes table.
function renderServers(servers) {
  const body = $('servers').tBodies[0];
  const rows = new Map([...body.rows].map((tr) => [tr.dataset.server, tr]));
  for (const s of servers) {
    let tr = rows.get(s.address);
    if (!tr) {
      tr = el('tr', null, { 'data-server': s.address });
      tr.append(el('th', s.address, { scope: 'row' }));
      for (const column of SERVER_COLUMNS) {
        tr.append(el('td', null, { 'data-col': column, class: column === 'state' ? '' : 'num' }));
      }
      body.append(tr);
    }
    tr.className = s.up ? '' : 'down';
    for (const td of tr.querySelectorAll('td[data-col]')) {
      const text = serverCell(s, td.dataset.col);
      if (td.textContent !== text) td.textContent = text;
    }
  }
}

function serverLine(view) {
  const updated = ' · updated ' + new Date(view.time * 1000).toLocaleTimeString();
  if (!state.pool) return 'Server ' + view.address + ', beanstalkd ' + view.server.version + updated;
  const up = view.servers.filter((s) => s.up).length;
  return 'Pool of ' + view.servers.length + ' servers, ' + up + ' up, beanstalkd ' +
    view.server.version + updated;
}

async function refresh() {
  try {
    const view = await api('/api/overview');
    if (state.pool) renderServers(view.servers);
    if (!view.up) {
      $('server-line').textContent = (state.pool ? 'Pool ' : 'Server ') + view.address +
        ': down (' + view.error + ')';
      return;
    }
    $('server-line').textContent = serverLine(view);
    renderTotals(view.totals);
    renderTubes(view);
  } catch (e) {
    say('Refresh failed: ' + e.message, 'error');
  }
}

function selectTube(name) {
  state.tube = name;
  state.job = null;
  $('tube-name').textContent = name;
  $('tube-panel').hidden = false;
  $('job').hidden = true;
  for (const tr of $('tubes').tBodies[0].rows) {
    if (tr.dataset.tube === name) tr.setAttribute('aria-selected', 'true');
    else tr.removeAttribute('aria-selected');
  }
  $('tube-heading').focus();
}

// ----------------------------------------------------------------------------- job bodies

function bytesOf(job) {
  if ('body' in job) return new TextEncoder().encode(job.body);
  const bin = atob(job.body_base64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function hexDump(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const chunk = Array.from(bytes.slice(i, i + 16));
    const hex = chunk.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = chunk.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(i.toString(16).padStart(8, '0') + '  ' + hex.padEnd(47) + '  ' + text);
  }
  return lines.join('\n');
}

function base64Of(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function showBody() {
  const job = state.job;
  if (!job) return;
  const view = document.querySelector('input[name="body-view"]:checked').value;
  const text = 'body' in job;
  const radioText = document.querySelector('input[name="body-view"][value="text"]');
  radioText.disabled = !text;
  let shown;
  if (view === 'hex' || (view === 'text' && !text)) shown = hexDump(bytesOf(job));
  else if (view === 'base64') shown = base64Of(bytesOf(job));
  else shown = job.body;
  $('job-body').textContent = shown;  // text, never markup
}

async function peek(which) {
  try {
    const data = await api('/api/peek?tube=' + encodeURIComponent(state.tube) + '&state=' + which);
    if (!data.job) {
      state.job = null;
      $('job').hidden = true;
      say('No ' + which + ' job in ' + state.tube + '.');
      return;
    }
    state.job = data.job;
    $('job-id').textContent = jobName(data.job) + ' (' + which + ')';
    const dl = $('job-stats');
    dl.replaceChildren();
    for (const k of ['server', 'state', 'pri', 'ttr', 'age', 'delay', 'time_left', 'reserves', 'buries',
      'kicks', 'size']) {
      if (!(k in data.job)) continue;
      const div = el('div');
      div.append(el('dt', k.replace('_', '-')), el('dd', data.job[k]));
      dl.append(div);
    }
    if (!('body' in data.job)) {
      document.querySelector('input[name="body-view"][value="hex"]').checked = true;
    }
    showBody();
    $('job').hidden = false;
    $('job-kick').hidden = which === 'ready';
    say('Peeked job ' + jobName(data.job) + '.' + (data.unanswered ?
      ' Not answered: ' + data.unanswered.join(', ') + '.' : ''));
  } catch (e) {
    say('Peek failed: ' + e.message, 'error');
  }
}

// --------------------------------------------------------------------------------- actions

// A job as the user knows it: ADDR/ID on a pool, else its id.
function jobName(job) { return job.job || String(job.id); }

// The body naming a job for /api/delete and /api/kick-job.
function jobRef(job) { return state.pool ? { job: job.job } : { id: job.id }; }

const everywhere = () => (state.pool ? ' on every server' : '');

async function act(label, path, body, done) {
  try {
    const data = await api(path, body);
    if (data.error) say(label + ': ' + done(data) + ', then: ' + data.error, 'error');
    else say(label + ': ' + done(data) + '.', 'ok');
  } catch (e) {
    say(label + ' failed: ' + e.message, 'error');
  }
  await refresh();
}

function value(form, name) { return form.elements[name].value.trim(); }

function wire() {
  document.querySelectorAll('[data-peek]').forEach((b) =>
    b.addEventListener('click', () => peek(b.dataset.peek)));
  document.querySelectorAll('input[name="body-view"]').forEach((r) =>
    r.addEventListener('change', showBody));

  $('job-delete').addEventListener('click', async () => {
    if (!state.job || !confirm('Delete job ' + jobName(state.job) + '?')) return;
    const name = jobName(state.job);
    await act('Delete', '/api/delete', jobRef(state.job), () => 'job ' + name + ' deleted');
    state.job = null;
    $('job').hidden = true;
  });
  $('job-kick').addEventListener('click', async () => {
    if (!state.job) return;
    const name = jobName(state.job);
    await act('Kick', '/api/kick-job', jobRef(state.job), () => 'job ' + name + ' is ready');
  });

  $('kick-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    act('Kick', '/api/kick', { tube: state.tube, bound: value(ev.target, 'bound') },
      (d) => d.kicked + ' jobs kicked');
  });
  $('pause-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    act('Pause', '/api/pause', { tube: state.tube, seconds: value(ev.target, 'seconds') },
      (d) => 'paused for ' + d.paused + ' s');
  });
  $('move-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const to = value(f, 'to');
    const st = value(f, 'state');
    const limit = value(f, 'limit');
    const what = (limit ? 'up to ' + limit : 'all') + ' ' + st + ' jobs of ' + state.tube;
    if (!confirm('Move ' + what + ' to ' + to + everywhere() + '?')) return;
    act('Move', '/api/move', { from: state.tube, to, state: st, limit: limit || null },
      (d) => d.moved + ' jobs moved to ' + to +
        (d.source !== undefined ? ' (stopped at job ' + d.source + ', copy ' +
          (d.copy === null ? 'unknown' : d.copy) + ')' : ''));
  });
  $('flush-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const st = value(ev.target, 'state');
    const what = st === 'all' ? 'ready, delayed and buried' : st;
    if (!confirm('Delete the ' + what + ' jobs of tube ' + state.tube + everywhere() +
      '? This cannot be undone.')) {
      return;
    }
    act('Flush', '/api/flush', { tube: state.tube, state: st }, (d) => d.deleted + ' jobs deleted');
  });
  $('put-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const job = {
      tube: value(f, 'tube'), body: f.elements.body.value, pri: value(f, 'pri'),
      delay: value(f, 'delay'), ttr: value(f, 'ttr'),
    };
    if (state.pool) job.server = value(f, 'server');
    act('Put', '/api/put', job,
      (d) => 'job ' + d.id + ' put' + (d.server ? ' on ' + d.server + ' (' + d.job + ')' : ''));
  });
  $('auto-refresh').addEventListener('change', (ev) => {
    clearInterval(state.timer);
    state.timer = ev.target.checked ? setInterval(refresh, 2000) : null;
  });
}

// Several servers: the breakdown table, the totals titled as such, the put form's server choice.
function startPool(servers) {
  $('servers-panel').hidden = false;
  $('totals-heading').textContent = 'Totals over ' + servers.length + ' servers';
  const select = $('put-server');
  for (const s of servers) select.append(el('option', s, { value: s }));
  $('put-server-row').hidden = false;
}

async function start() {
  wire();
  try {
    const session = await api('/api/session');
    state.csrf = session.csrf;
    state.pool = !!session.pool;
    if (state.pool) startPool(session.servers);
  } catch (e) {
    say('Cannot start: ' + e.message, 'error');
    return;
  }
  await refresh();
  state.timer = setInterval(refresh, 2000);
}

start();
