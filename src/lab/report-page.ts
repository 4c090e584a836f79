/**
 * The report page: static HTML plus a script that draws its charts from
 * `window.LAB` (data.js) with the bundled Chart.js. Per scenario: requests per
 * server over time on each architecture (the fault marked), then across
 * scenarios: latency percentiles and losses, sticky beside stateless. The migrate
 * scenario adds the sessions left on each old server over time; the realtime one charts
 * messages delivered and lost over time on each architecture, then lost, duplicated and
 * reordered messages and resume times side by side.
 */

const style = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.chart { position: relative; height: 260px; }
table { border-collapse: collapse; font-size: 12px; } td, th { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; }
td:first-child, th:first-child, td:nth-child(2), th:nth-child(2) { text-align: left; }
.claim { color: #555; }`;

// Runs in the browser. Kept as plain ES2017 without imports.
const script = `
(function () {
  var lab = window.LAB;
  Chart.defaults.animation = false;
  var colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
  var arches = ['sticky', 'stateless'];
  var main = document.getElementById('scenarios');
  function el(tag, attrs, parent) {
    var e = document.createElement(tag);
    for (var k in attrs) e[k] = attrs[k];
    if (parent) parent.appendChild(e);
    return e;
  }
  function canvas(parent) {
    var box = el('div', { className: 'chart' }, parent);
    return el('canvas', {}, box);
  }
  function perServerChart(parent, run, title) {
    var names = {};
    run.timeline.forEach(function (b) { for (var n in b.perServer) names[n] = true; });
    var servers = Object.keys(names).sort(function (a, b) { return a.localeCompare(b, 'en', { numeric: true }); });
    var labels = run.timeline.map(function (b) { return (b.t / 1000).toFixed(1); });
    var datasets = servers.map(function (name, i) {
      return { label: name, data: run.timeline.map(function (b) { return b.perServer[name] || 0; }),
        borderColor: colours[i % colours.length], backgroundColor: colours[i % colours.length], pointRadius: 0, borderWidth: 2 };
    });
    datasets.push({ label: 'failed', data: run.timeline.map(function (b) { return b.failed; }), borderColor: '#000',
      borderDash: [4, 3], pointRadius: 0, borderWidth: 1 });
    var fault = run.fault ? ' · ' + run.fault.label + ' at ' + (run.fault.atMs / 1000).toFixed(1) + ' s' : '';
    new Chart(canvas(parent), { type: 'line', data: { labels: labels, datasets: datasets },
      options: { maintainAspectRatio: false, plugins: { title: { display: true, text: title + fault } },
        scales: { x: { title: { display: true, text: 's' } }, y: { title: { display: true, text: 'requests per bucket' }, beginAtZero: true } } } });
  }
  function sessionsLeftChart(parent, run) {
    var samples = run.migration.sessionsLeft;
    var names = run.migration.oldServers;
    var datasets = names.map(function (name, i) {
      return { label: name, data: samples.map(function (p) { return p.servers[name] || 0; }), stepped: true,
        borderColor: colours[i % colours.length], backgroundColor: colours[i % colours.length], pointRadius: 0, borderWidth: 2 };
    });
    var cap = run.migration.capAtMs === null ? ' · every old server retired before the cap' :
      ' · cap at ' + (run.migration.capAtMs / 1000).toFixed(1) + ' s';
    new Chart(canvas(parent), { type: 'line',
      data: { labels: samples.map(function (p) { return (p.t / 1000).toFixed(1); }), datasets: datasets },
      options: { maintainAspectRatio: false, plugins: { title: { display: true, text: 'sessions left per old server' + cap } },
        scales: { x: { title: { display: true, text: 's' } }, y: { title: { display: true, text: 'sessions' }, beginAtZero: true } } } });
  }
  function isRealtime(run) { return run.applicable && run.kind === 'realtime'; }
  function realtimeChart(parent, run) {
    var labels = run.timeline.map(function (b) { return (b.t / 1000).toFixed(1); });
    var fault = run.fault ? ' · ' + run.fault.label + ' at ' + (run.fault.atMs / 1000).toFixed(1) + ' s' : '';
    new Chart(canvas(parent), { type: 'line', data: { labels: labels, datasets: [
        { label: 'delivered', data: run.timeline.map(function (b) { return b.delivered; }), borderColor: colours[0],
          backgroundColor: colours[0], pointRadius: 0, borderWidth: 2 },
        { label: 'lost (by when published)', data: run.timeline.map(function (b) { return b.lost; }), borderColor: colours[3],
          backgroundColor: colours[3], pointRadius: 0, borderWidth: 2 }] },
      options: { maintainAspectRatio: false, plugins: { title: { display: true, text: run.label + ' (' + run.strategy + ')' + fault } },
        scales: { x: { title: { display: true, text: 's' } }, y: { title: { display: true, text: 'messages per bucket' }, beginAtZero: true } } } });
  }
  function realtimeBars(parent, s, title, metrics, unit) {
    var runs = arches.map(function (arch) { return s[arch]; });
    new Chart(canvas(parent), { type: 'bar', data: {
        labels: runs.map(function (r) { return r.label; }),
        datasets: metrics.map(function (m, i) {
          return { label: m.label, backgroundColor: colours[(i + 3) % colours.length], data: runs.map(function (r) { return r[m.key]; }) };
        }) },
      options: { maintainAspectRatio: false, plugins: { title: { display: true, text: title } },
        scales: { y: { beginAtZero: true, title: { display: true, text: unit } } } } });
  }
  function realtimeSection(s) {
    var pair = el('div', { className: 'pair' }, main);
    arches.forEach(function (arch) {
      var run = s[arch];
      var cell = el('div', {}, pair);
      realtimeChart(cell, run);
      el('p', { className: 'realtime', textContent: arch + ': ' + run.label + ' over ' + run.transport + ' · ' + run.subscribers +
        ' subscribers · ' + run.expected + ' messages owed · ' + run.lost + ' lost · ' + run.duplicated + ' duplicated · ' +
        run.reordered + ' reordered · ' + run.cut + ' cut, ' + run.resumed + ' resumed · resume p50 ' + run.resumeP50Ms +
        ' ms, p99 ' + run.resumeP99Ms + ' ms' }, cell);
    });
    var bars = el('div', { className: 'pair' }, main);
    realtimeBars(el('div', {}, bars), s, 'messages lost, duplicated, reordered', [
      { key: 'lost', label: 'lost' }, { key: 'duplicated', label: 'duplicated' }, { key: 'reordered', label: 'reordered' }], 'messages');
    realtimeBars(el('div', {}, bars), s, 'resume time of the cut subscribers', [
      { key: 'resumeP50Ms', label: 'p50' }, { key: 'resumeP99Ms', label: 'p99' }], 'ms');
  }
  // The summary charts compare the scenarios of virtual shoppers; the realtime one has its own.
  var loadIds = Object.keys(lab.scenarios).filter(function (id) { return !isRealtime(lab.scenarios[id].stateless); });
  function groupedBars(target, title, metrics, unit) {
    var ids = loadIds;
    var datasets = [];
    arches.forEach(function (arch, a) {
      metrics.forEach(function (m, i) {
        datasets.push({ label: arch + ' ' + m.label, backgroundColor: colours[(a * metrics.length + i) % colours.length],
          data: ids.map(function (id) { var r = lab.scenarios[id][arch]; return r.applicable ? r[m.key] : null; }) });
      });
    });
    new Chart(canvas(target), { type: 'bar', data: { labels: ids, datasets: datasets },
      options: { maintainAspectRatio: false, plugins: { title: { display: true, text: title } },
        scales: { y: { beginAtZero: true, title: { display: true, text: unit } } } } });
  }
  Object.keys(lab.scenarios).forEach(function (id) {
    var s = lab.scenarios[id];
    el('h2', { textContent: id + ': ' + s.title }, main);
    el('p', { className: 'claim', textContent: s.claim }, main);
    if (isRealtime(s.stateless)) { realtimeSection(s); return; }
    var pair = el('div', { className: 'pair' }, main);
    arches.forEach(function (arch) {
      var run = s[arch];
      var cell = el('div', {}, pair);
      if (!run.applicable) { el('p', { textContent: arch + ': not applicable: ' + run.reason }, cell); return; }
      perServerChart(cell, run, (run.label || arch) + ' (' + run.strategy + ')');
      if (run.migration && run.migration.sessionsLeft.length > 0) sessionsLeftChart(cell, run);
      el('p', { textContent: run.requests + ' requests · ' + run.failedRequests + ' failed · ' + run.sessionsLost +
        ' sessions lost · ' + run.itemsLost + ' items lost · p50 ' + run.p50Ms + ' ms · p99 ' + run.p99Ms + ' ms' }, cell);
      var w = run.sessionWork;
      if (id === 'overhead' && w) el('p', { className: 'session-work', textContent: 'session lookup adds ' + w.sessionP50Us +
        ' µs at p50, ' + w.sessionP99Us + ' µs at p99, ' + w.sharePercent + ' % of request time (load + commit inside the app; its time per request ' +
        w.appP50Us + ' µs at p50)' + (run.storeRtt ? ' · Redis PING from the host ' + run.storeRtt.p50Us + ' µs p50, ' + run.storeRtt.p99Us + ' µs p99' : '') }, cell);
    });
  });
  if (loadIds.length > 0) {
    groupedBars(document.getElementById('latency'), 'latency percentiles', [
      { key: 'p50Ms', label: 'p50' }, { key: 'p99Ms', label: 'p99' }], 'ms');
    groupedBars(document.getElementById('losses'), 'losses', [
      { key: 'sessionsLost', label: 'sessions lost' }, { key: 'itemsLost', label: 'items lost' },
      { key: 'failedRequests', label: 'failed requests' }], 'count');
  }
  var claims = document.getElementById('claims');
  (lab.claims || []).forEach(function (c) {
    el('li', { textContent: (c.held ? 'held: ' : 'FAILED: ') + c.scenario + ': ' + c.claim + ' (' + c.evidence + ')' }, claims);
  });
  (lab.skipped || []).forEach(function (s) {
    el('li', { textContent: 'skipped: ' + s.scenario + ': ' + s.reason }, claims);
  });
  var o = lab.options;
  document.getElementById('meta').textContent = 'Run ' + lab.startedAt + ' · ' + o.users + ' virtual users · ' +
    (o.durationMs / 1000) + ' s of load per run · stateless strategy ' + o.strategy + ' · seed ' + o.seed;
  document.body.setAttribute('data-rendered', 'yes');
})();`;

export function reportPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>unpinned lab: sticky versus stateless</title>
<style>${style}</style>
<script src="chart.umd.min.js"></script>
<script src="data.js"></script>
</head>
<body>
<h1>unpinned lab: sticky versus stateless</h1>
<p id="meta"></p>
<h2>Summary</h2>
<ul id="claims"></ul>
<div class="pair"><div id="latency"></div><div id="losses"></div></div>
<div id="scenarios"></div>
<h2>Check your own app</h2>
<p>The shop keeps its sessions in the shared store, so nothing is lost above. Your app may keep
other state in one process too: rate-limit counters, CSRF secrets, OAuth state, caches, uploads on
local disk. <code>unpinned check --app "node server.js" --har journey.har</code> runs it as replicas,
replays a journey you recorded in your browser, and names what it keeps to itself
(<code>docs/check.md</code> in the unpinned package).</p>
<script>${script}</script>
</body>
</html>
`;
}
