// The dashboard page: draws the snapshots of `GET /events` and sends every action to the same
// control API the CLI verbs use. No framework and no CDN: plain DOM, and the bundled Chart.js for
// the two live charts (charts.js).
import { liveChart } from './charts.js';

const $ = (id) => document.getElementById(id);
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const colors = new Map();
const colorOf = (name) => {
  if (!colors.has(name)) colors.set(name, palette[colors.size % palette.length]);
  return colors.get(name);
};

let history = [];
let last = null;
const charts = [
  liveChart($('chart-rps'), 'rps', colorOf),
  liveChart($('chart-inflight'), 'inFlight', colorOf),
];
const busy = new Set();

const fmt = (n, digits = 0) => (n === null || n === undefined ? '–' : Number(n).toFixed(digits));
const ms = (n) => (n === null || n === undefined ? '–' : n < 10 ? n.toFixed(1) : n.toFixed(0));
const latency = (p) => (p.count ? `${ms(p.p50)} · ${ms(p.p95)} · ${ms(p.p99)} ms` : 'no requests');

function log(text, kind = '') {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  if (kind) item.className = kind;
  if (kind === 'error') item.setAttribute('role', 'alert');
  const list = $('log');
  list.prepend(item);
  while (list.children.length > 200) list.lastChild.remove();
}

/** POST a control command as JSON; the button shows progress until the answer. */
async function command(button, label, path, body) {
  if (busy.has(path)) return;
  busy.add(path);
  const text = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = `${label}…`;
  log(`${label}…`);
  const started = performance.now();
  try {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    const answer = await res.json();
    if (!res.ok)
      throw new Error(`${answer.error?.message ?? res.statusText} (${answer.error?.code ?? res.status})`);
    log(`${label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    log(`${label} failed: ${error.message}`, 'error');
  } finally {
    busy.delete(path);
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = text;
  }
}

function serverItem(server) {
  const li = document.createElement('li');
  li.dataset.server = server.name;
  const h3 = document.createElement('h3');
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  swatch.style.background = colorOf(server.name);
  const name = document.createElement('span');
  name.textContent = server.name;
  const state = document.createElement('span');
  state.className = 'state';
  h3.append(swatch, name, state);
  const dl = document.createElement('dl');
  for (const [key, label] of [
    ['rps', 'req/s'],
    ['inflight', 'in flight'],
    ['live', 'live'],
    ['requests', 'requests'],
    ['p50', 'p50 ms'],
    ['p95', 'p95 ms'],
    ['p99', 'p99 ms'],
  ]) {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.dataset.field = key;
    div.append(dt, dd);
    dl.append(div);
  }
  const kill = document.createElement('button');
  kill.type = 'button';
  kill.className = 'danger';
  kill.textContent = 'Kill';
  kill.setAttribute('aria-label', `Kill ${server.name} (SIGKILL, a crash)`);
  kill.addEventListener('click', () =>
    command(kill, `kill ${server.name}`, '/kill', { server: server.name }),
  );
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.textContent = 'Remove';
  remove.setAttribute('aria-label', `Remove ${server.name} (drained first)`);
  remove.addEventListener('click', () =>
    command(remove, `remove ${server.name}`, '/remove', { server: server.name }),
  );
  const actions = document.createElement('div');
  actions.className = 'inline';
  actions.append(kill, remove);
  li.append(h3, dl, actions);
  return li;
}

function renderServers(snapshot) {
  const list = $('servers');
  const seen = new Set();
  for (const server of snapshot.servers) {
    seen.add(server.name);
    let li = list.querySelector(`li[data-server="${CSS.escape(server.name)}"]`);
    if (!li) {
      li = serverItem(server);
      list.append(li);
    }
    li.dataset.state = server.state;
    li.dataset.rps = server.rps.toFixed(2);
    li.dataset.requests = String(server.requests);
    li.classList.toggle('down', server.state === 'down');
    const state = li.querySelector('.state');
    state.textContent =
      server.legacySessions === undefined
        ? server.state
        : `${server.state} · ${server.legacySessions} sessions`;
    state.className = `state state-${server.state}`;
    const set = (field, value) => {
      li.querySelector(`[data-field="${field}"]`).textContent = value;
    };
    set('rps', fmt(server.rps, 1));
    set('inflight', String(server.inFlight));
    set('live', String(server.live));
    set('requests', String(server.requests));
    set('p50', ms(server.p50));
    set('p95', ms(server.p95));
    set('p99', ms(server.p99));
    li.querySelector('button.danger').disabled = server.state === 'down';
  }
  for (const li of [...list.children]) if (!seen.has(li.dataset.server)) li.remove();
}

function renderLegend() {
  const names = [...new Set(history.flatMap((s) => s.servers.map((v) => v.name)))];
  const legend = $('legend');
  legend.replaceChildren(
    ...names.map((name) => {
      const span = document.createElement('span');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colorOf(name);
      span.append(swatch, ` ${name}`);
      return span;
    }),
  );
}

function renderTraffic(t) {
  $('traffic-state').textContent = !t
    ? 'not started'
    : t.running
      ? `running: ${t.users} users, skew ${t.skew}`
      : `stopped (${t.reason === 'requests' ? 'request limit reached' : t.reason === 'time' ? 'time limit reached' : 'stopped'})`;
  $('traffic-requests').textContent = String(t?.requests ?? 0);
  $('traffic-failed').textContent = String(t?.failed ?? 0);
  $('sessions-lost').textContent = String(t?.sessionsLost ?? 0);
  $('items-lost').textContent = String(t?.itemsLost ?? 0);
}

/** Sessions left per old server and time to the cap, while `migrate` runs (and its outcome). */
function renderMigration(snapshot) {
  const m = snapshot.migration;
  // Offered on a sticky system only, until a migration starts.
  $('migrate').hidden = !snapshot.sticky || Boolean(m);
  $('migration').hidden = !m;
  if (!m) return;
  const servers = m.servers
    .map((s) =>
      s.state === 'retired'
        ? `${s.name} retired${s.forcedOut ? ` (${s.forcedOut} forced out at the cap)` : ''}`
        : `${s.name}: ${s.sessions} session${s.sessions === 1 ? '' : 's'} left`,
    )
    .join(' · ');
  const cap = m.capInMs === null ? '' : ` · cap in ${Math.ceil(m.capInMs / 1000)} s`;
  $('migration').textContent =
    m.state === 'done'
      ? `Migration done: stateless. ${servers}`
      : `Migrating off sticky sessions: ${servers}${cap}`;
}

function render(snapshot) {
  $('mode').textContent =
    snapshot.migration?.state === 'migrating'
      ? 'migrating off sticky sessions: old servers keep their users, new logins go to the shared store'
      : snapshot.sticky
        ? 'sticky baseline: sessions in app memory, sticky-cookie routing'
        : 'stateless: sessions in the shared store';
  renderMigration(snapshot);
  $('total-rps').textContent = fmt(snapshot.total.rps, 1);
  $('total-inflight').textContent = String(snapshot.total.inFlight);
  $('total-live').textContent = String(snapshot.total.live);
  $('total-latency').textContent = latency(snapshot.total);
  const store = snapshot.store;
  $('store').textContent =
    store.kind === 'memory'
      ? 'none: each app keeps its own sessions'
      : `${store.kind} ${store.up ? 'up' : 'DOWN'}${store.ms === null ? '' : ` · ${ms(store.ms)} ms`}`;
  $('store').dataset.up = String(store.up);
  $('sessions').textContent =
    store.sessions === null
      ? store.kind === 'memory'
        ? 'in app memory (not counted)'
        : '–'
      : `${store.exact ? '' : '≈ '}${store.sessions}`;
  $('strategy').textContent = snapshot.strategy;
  if (document.activeElement !== $('strategy-select')) $('strategy-select').value = snapshot.strategy;
  renderServers(snapshot);
  renderTraffic(snapshot.traffic);
}

/** Log what changed between two snapshots: states, sessions lost, the store, the traffic. */
function narrate(before, after) {
  if (!before) return;
  const old = new Map(before.servers.map((s) => [s.name, s.state]));
  for (const s of after.servers) {
    if (!old.has(s.name)) log(`${s.name} joined (${s.state})`);
    else if (old.get(s.name) !== s.state) {
      // Down after draining or stopping is a planned stop; down from up is a crash.
      const crash = s.state === 'down' && !['draining', 'stopping'].includes(old.get(s.name));
      log(`${s.name} is ${s.state}${crash ? ' (crashed or unreachable)' : ''}`, crash ? 'error' : '');
    }
  }
  for (const name of old.keys())
    if (!after.servers.some((s) => s.name === name)) log(`${name} left the system`);
  if (before.store.up !== after.store.up)
    log(`store is ${after.store.up ? 'up' : 'down'}`, after.store.up ? '' : 'error');
  if (before.strategy !== after.strategy) log(`strategy is now ${after.strategy}`);
  const lost = (after.traffic?.sessionsLost ?? 0) - (before.traffic?.sessionsLost ?? 0);
  if (lost > 0) log(`${lost} session${lost === 1 ? '' : 's'} lost`, 'lost');
  if (before.traffic?.running && after.traffic && !after.traffic.running)
    log(`traffic stopped: ${after.traffic.reason}; ${after.traffic.requests} requests`);
}

function onSnapshot(snapshot) {
  narrate(last, snapshot);
  last = snapshot;
  history.push(snapshot);
  while (history.length && history[0].t < snapshot.t - 180_000) history.shift();
  render(snapshot);
  for (const chart of charts) chart.update(history);
  renderLegend();
}

function connect() {
  const events = new EventSource('/events');
  events.addEventListener('open', () => {
    $('link').textContent = 'live';
  });
  events.addEventListener('error', () => {
    $('link').textContent = 'reconnecting…';
  });
  events.addEventListener('history', (e) => {
    history = JSON.parse(e.data);
    last = history[history.length - 1] ?? null;
    if (last) onSnapshot(history.pop());
  });
  events.addEventListener('snapshot', (e) => onSnapshot(JSON.parse(e.data)));
}

function wire() {
  $('add').addEventListener('click', (e) => command(e.currentTarget, 'add a server', '/add'));
  $('deploy').addEventListener('click', (e) => command(e.currentTarget, 'rolling deploy', '/deploy'));
  $('migrate').addEventListener('click', (e) =>
    command(e.currentTarget, 'migrate off sticky sessions', '/migrate'),
  );
  $('restart-store').addEventListener('click', (e) =>
    command(e.currentTarget, 'restart the store', '/restart-store'),
  );
  $('strategy-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const strategy = $('strategy-select').value;
    command(e.submitter ?? $('strategy-form').querySelector('button'), `switch to ${strategy}`, '/strategy', {
      strategy,
    });
  });
  $('skew').addEventListener('input', () => {
    $('skew-out').value = $('skew').value;
  });
  $('traffic-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const body = {
      users: Number($('users').value),
      skew: Number($('skew').value),
      rate: Number($('rate').value),
      seconds: Number($('seconds').value),
      maxRequests: Number($('max-requests').value),
    };
    command($('traffic-start'), `start traffic of ${body.users} users`, '/traffic', body);
  });
  $('traffic-stop').addEventListener('click', (e) =>
    command(e.currentTarget, 'stop traffic', '/traffic/stop'),
  );
}

wire();
connect();
