// iotstream footage page: a camera's stored frames on a timeline (frames per minute), scrubbing, playing at 1x/4x/16x,
// stepping frame by frame, jumping to events, and exports (MP4 or ZIP) as jobs with their progress.
// Server strings only ever reach the page as textContent or attribute values.
import { account, api, cameraName, watchSystem } from './common.js';

const EXPORT_POLL_MS = 500;
const PLAY_BATCH = 100;     // frames fetched ahead while playing
const STEP_BATCH = 50;      // frames fetched around the shown one when stepping
const MAX_GAP_MS = 1000;    // a longer pause between two frames plays as this long
const MAX_EVENTS = 200;

const $ = (sel) => document.querySelector(sel);
const ui = {
  camera: $('[data-testid="footage-camera"]'),
  msg: $('[data-testid="footage-msg"]'),
  img: $('[data-testid="footage-image"]'),
  time: $('[data-testid="footage-time"]'),
  frameId: $('[data-testid="footage-frame-id"]'),
  density: $('[data-testid="timeline-density"]'),
  markers: $('[data-testid="timeline-markers"]'),
  scrub: $('[data-testid="scrub"]'),
  start: $('[data-testid="timeline-start"]'),
  end: $('[data-testid="timeline-end"]'),
  back: $('[data-testid="step-back"]'),
  play: $('[data-testid="play"]'),
  forward: $('[data-testid="step-forward"]'),
  speed: $('[data-testid="speed"]'),
  events: $('[data-testid="footage-events"]'),
  eventsEmpty: $('[data-testid="footage-events-empty"]'),
  exportSection: $('[data-testid="export-section"]'),
  exportForm: $('[data-testid="export-form"]'),
  exportStart: $('[data-testid="export-start"]'),
  exportSeconds: $('[data-testid="export-seconds"]'),
  exportHere: $('[data-testid="export-here"]'),
  progress: $('[data-testid="export-progress"]'),
  exportStatus: $('[data-testid="export-status"]'),
  download: $('[data-testid="export-download"]'),
};

const state = {
  device: null,
  timeline: null,  // the API's answer
  current: null,   // the frame shown: { frame_id, timestamp, url }
  playing: false,
  playToken: 0,    // bumps to stop a running play loop
  seekToken: 0,    // the newest seek wins
};

const deviceUrl = (path) => `/api/v1/${path}`.replace('{d}', encodeURIComponent(state.device));
const pad = (n, w = 2) => String(n).padStart(w, '0');
/** "2026-12-05 14:03:07.200", local time. */
function formatTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:` +
    `${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
/** The value of a datetime-local input with seconds, local time. */
function localInputValue(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:` +
    `${pad(d.getSeconds())}`;
}
const after = (a, b) => a.timestamp > b.timestamp || (a.timestamp === b.timestamp && a.frame_id > b.frame_id);

// ---------- cameras ----------

async function loadCameras() {
  const body = await api('/api/v1/devices');
  const devices = (body.devices ?? []).filter((d) => typeof d.id === 'string');
  const wanted = new URLSearchParams(location.search).get('device');
  ui.camera.replaceChildren(...devices.map((d) => {
    const o = document.createElement('option');
    o.value = d.id;
    o.textContent = cameraName(d);
    return o;
  }));
  if (devices.length === 0) { ui.msg.textContent = 'No camera has sent a frame yet.'; return; }
  ui.camera.value = devices.some((d) => d.id === wanted) ? wanted : devices[0].id;
  await selectCamera(ui.camera.value);
  // ?t= (ms, as the events page links here) opens at that moment, once: another camera starts at its newest frame.
  const at = Number(new URLSearchParams(location.search).get('t'));
  if (at > 0 && ui.camera.value === wanted && state.timeline?.first) await seek(at);
  const url = new URL(location.href);
  url.searchParams.delete('t');
  history.replaceState(null, '', url);
}

async function selectCamera(id) {
  if (id === state.device) return;
  stop();
  state.device = id;
  state.current = null;
  const url = new URL(location.href);
  url.searchParams.set('device', id);
  history.replaceState(null, '', url);
  await loadTimeline();
}

// ---------- timeline ----------

async function loadTimeline() {
  const t = await api(deviceUrl('footage/{d}/timeline'));
  state.timeline = t;
  const has = t.first && t.last;
  for (const c of [ui.scrub, ui.back, ui.play, ui.forward]) c.disabled = !has;
  ui.exportSeconds.max = String(t.export?.max_seconds ?? 600);
  if (!has) {
    ui.msg.textContent = 'No stored footage for this camera.';
    ui.img.removeAttribute('src');
    ui.img.alt = 'No stored frame';
    ui.time.textContent = '';
    ui.frameId.textContent = '';
    drawDensity();
    renderEvents([]);
    return;
  }
  ui.msg.textContent = `${t.frames} frames stored, ${formatTime(t.first.timestamp)} to ${formatTime(t.last.timestamp)}`;
  ui.scrub.min = String(t.first.timestamp);
  ui.scrub.max = String(t.last.timestamp);
  ui.start.textContent = formatTime(t.first.timestamp);
  ui.end.textContent = formatTime(t.last.timestamp);
  drawDensity();
  loadEvents().catch((err) => { ui.msg.textContent = `events: ${err.message}`; });
  await show(state.current ?? t.last);
}

/** Bars of frames per minute across the stored span. */
function drawDensity() {
  const canvas = ui.density;
  const width = Math.max(1, Math.round(canvas.clientWidth * devicePixelRatio));
  const height = Math.max(1, Math.round(canvas.clientHeight * devicePixelRatio));
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, width, height);
  const t = state.timeline;
  if (!t?.first) return;
  // The slider's scale: first to last stored frame (a bucket may start before the first and end after the last).
  const from = t.first.timestamp;
  const span = Math.max(1, t.last.timestamp - from);
  const peak = Math.max(1, ...t.buckets.map((b) => b.frames));
  g.fillStyle = getComputedStyle(canvas).color;
  for (const b of t.buckets) {
    const x0 = Math.max(0, ((b.start - from) / span) * width);
    const x1 = Math.min(width, ((b.start + t.bucket_ms - from) / span) * width);
    const h = Math.max(1, (b.frames / peak) * height);
    g.fillRect(x0, height - h, Math.max(1, x1 - x0 - 1), h);
  }
}

function positionOf(ms) {
  const t = state.timeline;
  const span = Math.max(1, t.last.timestamp - t.first.timestamp);
  return Math.min(100, Math.max(0, ((ms - t.first.timestamp) / span) * 100));
}

// ---------- events ----------

async function loadEvents() {
  const t = state.timeline;
  const q = new URLSearchParams({ device_id: state.device, from: t.first.timestamp, to: t.last.timestamp, limit: MAX_EVENTS });
  let body;
  try {
    body = await api(`/api/v1/events?${q}`);
  } catch (err) {
    if (err.status === 403) { renderEvents([]); return; }  // a role without the event log: no markers
    throw err;
  }
  renderEvents((body.events ?? []).filter((e) => typeof e.ts === 'number').sort((a, b) => a.ts - b.ts));
}

function eventLabel(e) {
  const who = typeof e.name === 'string' && e.name ? `: ${e.name}` : '';
  return `${String(e.type).replaceAll('_', ' ')}${who}`;
}

function renderEvents(events) {
  ui.eventsEmpty.hidden = events.length > 0;
  ui.markers.replaceChildren(...events.map((e) => {
    const mark = document.createElement('span');
    mark.className = 'marker';
    mark.style.left = `${positionOf(e.ts)}%`;
    mark.title = `${eventLabel(e)} at ${formatTime(e.ts)}`;
    mark.addEventListener('click', () => jumpTo(e.ts));
    return mark;
  }));
  ui.events.replaceChildren(...events.map((e) => {
    const li = document.createElement('li');
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.dataset.testid = 'event-jump';
    btn.dataset.ts = e.ts;
    btn.setAttribute('aria-label', `Jump to ${eventLabel(e)} at ${formatTime(e.ts)}`);
    const time = document.createElement('time');
    time.dateTime = new Date(e.ts).toISOString();
    time.textContent = formatTime(e.ts).slice(11, 19);
    const text = document.createElement('span');
    text.textContent = eventLabel(e);
    btn.append(time, ' ', text);
    btn.addEventListener('click', () => jumpTo(e.ts));
    li.append(btn);
    return li;
  }));
}

async function jumpTo(ms) {
  stop();
  await seek(ms);
}

// ---------- frames ----------

/** Frames of the camera: `query` as the frames API takes it. */
async function frames(query) {
  const q = new URLSearchParams(query);
  const body = await api(`${deviceUrl('devices/{d}/frames')}?${q}`);
  return body.frames ?? [];
}

/** Shows the newest frame at or before `ms` (or the first one, before the footage starts). */
async function seek(ms) {
  const token = ++state.seekToken;
  let [f] = await frames({ to: Math.max(0, Math.floor(ms)), limit: 1 });
  if (!f) [f] = await frames({ from: Math.max(0, Math.floor(ms)), order: 'asc', limit: 1 });
  if (f && token === state.seekToken) await show(f);
}

/** Draws `f` once its image has decoded, so the caption never runs ahead of the picture. */
async function show(f) {
  const img = new Image();
  img.src = f.url;
  await img.decode().catch(() => {});
  state.current = f;
  ui.img.src = f.url;
  ui.img.alt = `Frame ${f.frame_id} from ${state.device} at ${formatTime(f.timestamp)}`;
  ui.img.dataset.frameId = f.frame_id;
  ui.img.dataset.timestamp = f.timestamp;
  ui.time.dateTime = new Date(f.timestamp).toISOString();
  ui.time.textContent = formatTime(f.timestamp);
  ui.frameId.textContent = `frame ${f.frame_id}`;
  if (document.activeElement !== ui.scrub || state.playing) ui.scrub.value = String(f.timestamp);
  ui.scrub.setAttribute('aria-valuetext', formatTime(f.timestamp));
}

async function nextFrames(limit) {
  const cur = state.current;
  const list = await frames({ from: cur.timestamp, order: 'asc', limit });
  return list.filter((f) => after(f, cur));
}

async function step(direction) {
  stop();
  const cur = state.current;
  if (!cur) return;
  if (direction > 0) {
    const [next] = await nextFrames(STEP_BATCH);
    if (next) await show(next); else ui.msg.textContent = 'This is the newest stored frame.';
    return;
  }
  const list = await frames({ to: cur.timestamp, limit: STEP_BATCH });
  const prev = list.find((f) => after(cur, f));
  if (prev) await show(prev); else ui.msg.textContent = 'This is the oldest stored frame.';
}

// ---------- playing ----------

function setPlaying(on) {
  state.playing = on;
  ui.play.setAttribute('aria-pressed', String(on));
  ui.play.setAttribute('aria-label', on ? 'Pause' : 'Play');
  ui.play.textContent = on ? '▮▮' : '▶';
}

function stop() {
  state.playToken++;
  setPlaying(false);
}

/** Plays forward from the shown frame at the chosen speed, each frame after the pause the camera left before it. */
async function play() {
  const token = ++state.playToken;
  setPlaying(true);
  try {
    while (token === state.playToken) {
      const batch = await nextFrames(PLAY_BATCH);
      if (batch.length === 0) break;
      for (const f of batch) {
        const gap = Math.min(MAX_GAP_MS, Math.max(0, f.timestamp - state.current.timestamp));
        await new Promise((r) => setTimeout(r, gap / Number(ui.speed.value)));
        if (token !== state.playToken) return;
        await show(f);
      }
    }
  } catch (err) {
    ui.msg.textContent = `playing stopped: ${err.message}`;
  }
  if (token === state.playToken) setPlaying(false);
}

// ---------- export ----------

async function startExport(e) {
  e.preventDefault();
  const from = new Date(ui.exportStart.value).getTime();
  const seconds = Number(ui.exportSeconds.value);
  if (!Number.isFinite(from) || !(seconds > 0)) {
    ui.exportStatus.textContent = 'Choose a start and a length.';
    return;
  }
  const submit = ui.exportForm.querySelector('button[type="submit"]');
  submit.disabled = true;
  ui.download.hidden = true;
  ui.download.removeAttribute('href');
  ui.progress.hidden = false;
  ui.progress.value = 0;
  ui.exportStatus.textContent = 'Starting the export…';
  try {
    let job = await api(deviceUrl('footage/{d}/exports'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ from, to: from + Math.round(seconds * 1000), format: ui.exportForm.elements.format.value }),
    });
    while (job.state === 'queued' || job.state === 'running') {
      ui.progress.value = job.progress;
      ui.exportStatus.textContent = job.state === 'queued'
        ? 'Waiting for another export to finish…'
        : `Exporting: ${job.frames_done} of ${job.frames_total} frames`;
      await new Promise((r) => setTimeout(r, EXPORT_POLL_MS));
      job = await api(job.url);
    }
    if (job.state !== 'done') throw new Error(job.error ?? 'the export failed');
    ui.progress.value = 1;
    const skipped = job.frames_skipped ? ` (${job.frames_skipped} no longer stored)` : '';
    const size = job.bytes >= 1e6 ? `${(job.bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(job.bytes / 1e3)} kB`;
    ui.exportStatus.textContent = `Ready: ${job.frames_total - job.frames_skipped} frames, ${size}${skipped}.`;
    ui.download.href = job.file_url;
    ui.download.download = '';
    ui.download.textContent = `Download the ${job.format === 'mp4' ? 'MP4 video' : 'ZIP of JPEGs'}`;
    ui.download.hidden = false;
  } catch (err) {
    ui.progress.hidden = true;
    if (err.status === 403) {
      ui.exportForm.hidden = true;  // this account may not export
      ui.exportStatus.textContent = 'Your account may not export footage.';
    } else {
      ui.exportStatus.textContent = `Not exported: ${err.message}`;
    }
  } finally {
    submit.disabled = false;
  }
}

// ---------- start ----------

const report = (err) => { if (err.status !== 401) ui.msg.textContent = err.message; };
ui.camera.addEventListener('change', () => selectCamera(ui.camera.value).catch(report));
ui.scrub.addEventListener('input', () => { stop(); seek(Number(ui.scrub.value)).catch(report); });
ui.back.addEventListener('click', () => step(-1).catch(report));
ui.forward.addEventListener('click', () => step(1).catch(report));
ui.play.addEventListener('click', () => { if (state.playing) stop(); else play(); });
ui.speed.addEventListener('change', () => { if (state.playing) play(); });
ui.exportHere.addEventListener('click', () => {
  if (state.current) ui.exportStart.value = localInputValue(state.current.timestamp);
});
ui.exportForm.addEventListener('submit', startExport);
document.addEventListener('keydown', (e) => {
  // Frame by frame with , and . (as video players do), wherever the focus is but in a text field.
  if (e.target.closest('input:not([type="range"]), select, textarea')) return;
  if (e.key === ',') step(-1).catch(report);
  if (e.key === '.') step(1).catch(report);
});
addEventListener('resize', drawDensity);

account().catch(() => { /* the account links stay hidden */ });
loadCameras().catch(report);
watchSystem();
