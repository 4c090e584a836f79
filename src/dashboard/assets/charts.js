// The dashboard's live charts, drawn with Chart.js: the one chart library of the product (the lab
// report uses it too; docs/observability.md, "Charts", has the measurements behind the choice).
// `Chart` is the global of the bundled UMD build, served beside this file.

/** The page's colours, read from its CSS, so the charts follow the light or dark scheme. */
function themeColors() {
  const style = getComputedStyle(document.documentElement);
  return { text: style.getPropertyValue('--muted').trim(), grid: style.getPropertyValue('--line').trim() };
}

/**
 * A live line chart of one per-server field of the snapshots (`rps`, `inFlight`) over the last
 * `windowMs`. `update(history)` redraws it from the snapshots: series keep their dataset objects
 * from tick to tick, so Chart.js only swaps the points and draws, without animation.
 */
export function liveChart(canvas, key, colorOf, windowMs = 180_000) {
  const { text, grid } = themeColors();
  const seconds = windowMs / 1000;
  const chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      // Points are {x, y} built here: no parsing, already sorted by x.
      parsing: false,
      normalized: true,
      spanGaps: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      plugins: { legend: { display: false } },
      elements: { point: { radius: 0, hitRadius: 4 }, line: { borderWidth: 2 } },
      scales: {
        x: {
          type: 'linear',
          min: -seconds,
          max: 0,
          grid: { color: grid },
          ticks: { color: text, stepSize: 30, callback: (v) => (v === 0 ? 'now' : `${-v}s`) },
        },
        y: {
          beginAtZero: true,
          grid: { color: grid },
          ticks: { color: text, maxTicksLimit: 5, precision: 0 },
        },
      },
    },
  });
  const datasets = new Map();
  return {
    update(history) {
      const now = history.length ? history[history.length - 1].t : Date.now();
      const points = new Map();
      for (const s of history) {
        for (const v of s.servers) {
          let series = points.get(v.name);
          if (!series) {
            series = [];
            points.set(v.name, series);
          }
          series.push({ x: (s.t - now) / 1000, y: v[key] });
        }
      }
      for (const [name, data] of points) {
        let dataset = datasets.get(name);
        if (!dataset) {
          const color = colorOf(name);
          dataset = { label: name, data, borderColor: color, backgroundColor: color };
          datasets.set(name, dataset);
        }
        dataset.data = data;
      }
      for (const name of datasets.keys()) if (!points.has(name)) datasets.delete(name);
      chart.data.datasets = [...datasets.values()];
      chart.update('none');
    },
  };
}
