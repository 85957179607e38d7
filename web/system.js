// iotstream system page: live charts of what the server knows, from the polls behind the warning banner (the devices'
// counters and /api/v1/system/performance): each camera's frames per second and share of frames accepted, upload
// latency, queues and drops, recognition jobs, CPU and memory, disk use against the retention budget. Rates are the
// difference of two polls' counters; a server restart or an unanswered poll leaves a gap in the lines.
// Server strings only ever reach the page as textContent or attribute values.
import uPlot from './vendor/uplot/uPlot.esm.js';
import { account, cameraName, el, formatTime, POLL_MS, watchSystem } from './common.js';

const WINDOW_MS = 5 * 60 * 1000;  // how far back the charts reach
const MIN_SPAN_S = 60;            // the shortest time a chart's width spans
const CHART_HEIGHT = 160;
const COLORS = ['#5b9cff', '#3ccf7a', '#f2b84b', '#e0565b', '#b48cff', '#4fd1c5', '#ff8fb1', '#c0c7d4'];

const $ = (sel) => document.querySelector(sel);
const ui = {
  conn: $('[data-testid="conn-status"]'),
  summary: $('[data-testid="system-summary"]'),
  rows: $('[data-testid="camera-rows"]'),
  camerasEmpty: $('[data-testid="cameras-empty"]'),
  queueFigures: $('[data-testid="queue-figures"]'),
  recognitionFigures: $('[data-testid="recognition-figures"]'),
  diskMeter: $('[data-testid="disk-meter"]'),
  diskFigures: $('[data-testid="disk-figures"]'),
};

// ---------- numbers for people ----------

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
/** The unit that shows `n` bytes in at most four digits: [bytes per unit, its name]. */
function byteUnit(n) {
  let i = 0;
  while (n >= 1024 ** (i + 1) && i < BYTE_UNITS.length - 1) i++;
  return [1024 ** i, BYTE_UNITS[i]];
}
/** 0, 0.05, 4.8, 512: two significant digits below 10, none after the point from 100. */
function decimal(v) {
  if (Number.isInteger(v) || Math.abs(v) >= 100) return v.toFixed(0);
  return Math.abs(v) >= 10 ? v.toFixed(1) : String(Number(v.toPrecision(2)));
}
function bytes(n) {
  const [size, unit] = byteUnit(n);
  return `${decimal(n / size)} ${unit}`;
}
const percent = (v) => `${v.toFixed(0)} %`;
function duration(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

// ---------- the polls, as values per series ----------

// Each answered poll's values by series key (null where unknown: the first poll's rates); a poll without an answer
// adds an empty entry, which breaks the lines.
const samples = [];   // { at, values: Map }
let devices = [];     // the newest poll's cameras

/** The values one poll gives, by series key ("chart:series"; the camera charts' series are "fps:<id>" and so on). */
function valuesOf({ at, devices: list, performance: p, previous }) {
  const values = new Map();
  const dt = previous ? (at - previous.at) / 1000 : 0;
  /** Per second between the previous poll and this one; null without one, or when the counter went down. */
  const rate = (now, before) =>
    (dt > 0 && typeof now === 'number' && typeof before === 'number' && now >= before ? (now - before) / dt : null);

  const before = new Map((previous?.devices ?? []).map((d) => [d.id, d]));
  for (const d of list) {
    const got = rate(d.frames_received, before.get(d.id)?.frames_received);
    const bad = rate(d.frames_rejected, before.get(d.id)?.frames_rejected);
    values.set(`fps:${d.id}`, got);
    values.set(`success:${d.id}`, got !== null && bad !== null && got + bad > 0 ? (100 * got) / (got + bad) : null);
  }
  const lat = p.latency_ms ?? {};
  for (const path of ['fast', 'stream']) {
    for (const q of ['p50', 'p99']) values.set(`latency:${path}_${q}`, lat[`${path}_count`] > 0 ? lat[`${path}_${q}`] : null);
  }
  values.set('queues:store_frames', p.queues?.store_frames ?? null);
  values.set('queues:disk_pool', p.queues?.disk_pool ?? null);
  const was = previous?.performance;
  values.set('drops:dropped', rate(p.frames?.dropped, was?.frames?.dropped));
  values.set('drops:store_errors', rate(p.frames?.store_errors, was?.frames?.store_errors));
  values.set('recognition:jobs_completed', rate(p.recognition?.jobs_completed, was?.recognition?.jobs_completed));
  values.set('recognition:jobs_dropped', rate(p.recognition?.jobs_dropped, was?.recognition?.jobs_dropped));
  const cpu = (x) => (x ? x.cpu_user_s + x.cpu_system_s : undefined);
  const cores = rate(cpu(p.process), cpu(was?.process));
  values.set('cpu:cpu', cores === null ? null : cores * 100);
  values.set('memory:rss', p.process?.rss_bytes ?? null);
  values.set('disk:stored', p.storage?.bytes ?? null);
  values.set('disk:budget', p.storage?.budget_bytes > 0 ? p.storage.budget_bytes : null);
  return values;
}

// ---------- charts ----------

/** uPlot's point filter: where points are too dense to draw, still a dot for each value with none on either side. */
function isolated(u, si, show) {
  if (show) return null;
  const ys = u.data[si];
  const idxs = [];
  for (let i = 0; i < ys.length; i++) if (ys[i] !== null && ys[i - 1] == null && ys[i + 1] == null) idxs.push(i);
  return idxs.length > 0 ? idxs : null;
}

/**
 * One chart: a uPlot canvas over the samples, and a legend that says each series' newest value in words. `def`: its
 * title, `format` (a number for people), `unit`, or `bytes` (the unit is chosen from the largest value), and `range`
 * for a fixed y range.
 */
class Chart {
  constructor(name, def) {
    this.def = def;
    this.figure = $(`[data-chart="${name}"]`);
    this.figure.dataset.testid = `chart-${name}`;
    this.box = el('div', { className: 'chart-plot', role: 'img', 'aria-label': `${def.title} over the last 5 minutes` });
    this.legend = el('ul', { className: 'legend', 'aria-label': `${def.title}, newest values` });
    this.figure.append(el('figcaption', {}, def.title), this.box, this.legend);
    this.plot = null;
    this.layout = '';   // the series the plot was made for
    this.data = null;
    new ResizeObserver(() => this.draw()).observe(this.box);
  }

  /** Plots `series` ([{ key, label }]) over the samples. */
  update(series) {
    const columns = series.map((s) => samples.map((x) => x.values.get(s.key) ?? null));
    const [scale, unit] = this.def.bytes ? byteUnit(Math.max(0, ...columns.flat())) : [1, this.def.unit];
    const layout = JSON.stringify([series, unit]);
    if (layout !== this.layout) {
      this.plot?.destroy();
      this.plot = null;
      this.layout = layout;
      this.series = series;
      this.unit = unit;
    }
    this.data = [samples.map((s) => s.at / 1000), ...columns.map((c) => c.map((v) => (v === null ? null : v / scale)))];
    this.figure.dataset.points = String(samples.length);
    this.legend.replaceChildren(...series.map((s, i) => {
      const newest = columns[i].findLast((v) => v !== null);
      const text = newest === undefined ? '–' : this.def.bytes ? bytes(newest) : this.withUnit(newest);
      return el('li', { dataset: { testid: 'legend-item', key: s.key } },
        el('span', { className: 'swatch', style: `background: ${COLORS[i % COLORS.length]}`, 'aria-hidden': 'true' }),
        `${s.label}: `, el('span', { dataset: { testid: 'legend-value' } }, text));
    }));
    this.draw();
  }

  withUnit(v) {
    return this.unit ? `${this.def.format(v)} ${this.unit}` : this.def.format(v);
  }

  draw() {
    const width = this.box.clientWidth;
    if (!this.data || width === 0) return;  // hidden: drawn once shown
    if (!this.plot) this.plot = new uPlot(this.options(width), this.data, this.box);
    else if (this.plot.width !== width) this.plot.setSize({ width, height: CHART_HEIGHT });
    this.plot.setData(this.data);
  }

  options(width) {
    const css = getComputedStyle(document.documentElement);
    const muted = css.getPropertyValue('--muted').trim();
    const line = css.getPropertyValue('--line').trim();
    const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 },
      font: '12px system-ui, sans-serif' };
    return {
      width,
      height: CHART_HEIGHT,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        // At least the last minute, filled from the right; then all the samples kept (WINDOW_MS).
        x: { time: true, range: (u, min, max) => [Math.min(min, max - MIN_SPAN_S), max] },
        y: { range: this.def.range ?? ((u, min, max) => [0, max > 0 ? max * 1.15 : 1]) },
      },
      axes: [
        { ...axis, space: 72, values: (u, ticks) => ticks.map((t) => formatTime(t * 1000).slice(11)) },  // 14:03:20
        { ...axis, size: 72, values: (u, ticks) => ticks.map((v) => this.withUnit(v)) },
      ],
      series: [{}, ...this.series.map((s, i) => {
        const color = COLORS[i % COLORS.length];
        return { label: s.label, stroke: color, width: 2, points: { filter: isolated, fill: color } };
      })],
    };
  }
}

const charts = {
  fps: new Chart('fps', { title: 'Frames per second, per camera', format: decimal, unit: 'fps' }),
  success: new Chart('success', { title: 'Frames accepted, per camera', format: decimal, unit: '%', range: [0, 100] }),
  latency: new Chart('latency', { title: 'Upload latency p50 and p99', format: decimal, unit: 'ms' }),
  queues: new Chart('queues', { title: 'Waiting in the queues', format: decimal }),
  drops: new Chart('drops', { title: 'Frames not stored per second', format: decimal, unit: '/s' }),
  recognition: new Chart('recognition', { title: 'Recognition jobs per second', format: decimal, unit: '/s' }),
  cpu: new Chart('cpu', { title: 'CPU, in % of one core', format: decimal, unit: '%' }),
  memory: new Chart('memory', { title: 'Memory (resident)', format: decimal, bytes: true }),
  disk: new Chart('disk', { title: 'Footage stored on disk', format: decimal, bytes: true }),
};

const fixedSeries = {
  latency: [['fast_p50', '/fast p50'], ['fast_p99', '/fast p99'], ['stream_p50', '/stream p50'],
    ['stream_p99', '/stream p99']],
  queues: [['store_frames', 'frames waiting for the disk'], ['disk_pool', 'disk tasks waiting']],
  drops: [['dropped', 'dropped (storage queue full)'], ['store_errors', 'not written (disk errors)']],
  recognition: [['jobs_completed', 'run'], ['jobs_dropped', 'dropped']],
  cpu: [['cpu', 'CPU']],
  memory: [['rss', 'resident memory']],
  disk: [['stored', 'stored'], ['budget', 'retention budget']],
};

function drawCharts() {
  for (const [name, series] of Object.entries(fixedSeries)) {
    charts[name].update(series.map(([key, label]) => ({ key: `${name}:${key}`, label })));
  }
  for (const name of ['fps', 'success']) {
    charts[name].update(devices.map((d) => ({ key: `${name}:${d.id}`, label: cameraName(d) })));
  }
}

// ---------- figures in words ----------

function renderFigures({ at, performance: p }) {
  const online = devices.filter((d) => d.online).length;
  ui.summary.textContent = `Server up ${duration(p.uptime_s ?? 0)} · version ${p.version} · ${online} of ` +
    `${devices.length} camera${devices.length === 1 ? '' : 's'} online · ` +
    `updated ${formatTime(at)}, every ${POLL_MS / 1000} s`;

  const newest = samples.at(-1).values;
  ui.camerasEmpty.hidden = devices.length > 0;
  ui.rows.replaceChildren(...devices.map((d) => {
    const fps = newest.get(`fps:${d.id}`);
    const success = newest.get(`success:${d.id}`);
    return el('tr', { dataset: { testid: 'camera-row', deviceId: d.id, online: String(Boolean(d.online)) } },
      el('th', { scope: 'row' }, cameraName(d)),
      el('td', {}, el('span', { className: 'state' }, d.online ? 'online' : 'offline')),
      el('td', { dataset: { testid: 'camera-fps' } }, fps == null ? '–' : fps.toFixed(1)),
      el('td', { dataset: { testid: 'camera-success' } }, success == null ? '–' : percent(success)));
  }));

  const q = p.queues ?? {};
  const f = p.frames ?? {};
  ui.queueFigures.textContent = `${q.store_frames} frames (${bytes(q.store_bytes ?? 0)}) waiting for the disk, ` +
    `${q.disk_pool} disk tasks waiting. Since the server started: ${f.dropped} frames dropped, ` +
    `${f.store_errors} not written.`;

  const r = p.recognition;
  charts.recognition.figure.hidden = !r;
  ui.recognitionFigures.textContent = r
    ? `Since the server started: ${r.jobs_completed} jobs run, ${r.jobs_dropped} dropped (replaced by a newer frame, ` +
      'queue full, timed out or stale).'
    : 'Recognition is off on this server (turned off, or its model weights are missing).';

  const s = p.storage ?? {};
  const budget = s.budget_bytes > 0 ? s.budget_bytes : 0;
  ui.diskMeter.value = budget ? Math.min(1, s.bytes / budget) : 0;
  ui.diskMeter.parentElement.hidden = !budget;
  ui.diskFigures.textContent = budget
    ? `${bytes(s.bytes)} of ${bytes(budget)} (${((100 * s.bytes) / budget).toFixed(1)} %), ${s.frames} frames.`
    : `${bytes(s.bytes)}, ${s.frames} frames; no retention budget by size.`;
}

function setConn(state, text) {
  ui.conn.dataset.state = state;
  ui.conn.textContent = text;
}

function onSample(sample) {
  if (sample.error) {
    setConn('reconnecting', `no answer: retrying every ${POLL_MS / 1000} s`);
    if (samples.length > 0 && samples.at(-1).values.size > 0) samples.push({ at: sample.at, values: new Map() });
  } else {
    setConn('live', 'live');
    devices = sample.devices;
    samples.push({ at: sample.at, values: valuesOf(sample) });
  }
  while (samples.length > 0 && samples[0].at < sample.at - WINDOW_MS) samples.shift();
  if (!sample.error) renderFigures(sample);
  drawCharts();
}

// ---------- start ----------

account()
  .catch(() => { /* the account links stay hidden */ })
  .then(() => watchSystem(onSample));
