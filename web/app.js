// iotstream dashboard: live camera grid over /ws, with /api/v1/devices polled as a fallback.
import { account, watchSystem } from './common.js';
import { parseFrame } from './protocol.js';

const POLL_MS = 2000;
const THUMB_REFRESH_MS = 5000;
const THUMB_COUNT = 12;
const MAX_EVENTS = 100;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;

const $ = (sel, root = document) => root.querySelector(sel);
const grid = $('[data-testid="camera-grid"]');
const gridEmpty = $('[data-testid="grid-empty"]');
const deviceList = $('[data-testid="device-list"]');
const feed = $('[data-testid="event-feed"]');
const summary = $('[data-testid="summary"]');
const connStatus = $('[data-testid="ws-status"]');
const tileTemplate = $('#tile-template');
const rowTemplate = $('#device-row-template');
const viewer = {
  dialog: $('[data-testid="camera-view"]'),
  name: $('[data-testid="view-name"]'),
  state: $('[data-testid="view-state"]'),
  source: $('[data-testid="view-source"]'),
  live: $('[data-testid="view-live"]'),
  img: $('[data-testid="view-image"]'),
  thumbs: $('[data-testid="view-thumbnails"]'),
  footage: $('[data-testid="view-footage"]'),
  deviceId: null, // the camera shown, or null when closed
  showingLive: true,
  timer: 0,
};

/** id -> camera state and its DOM nodes. */
const cams = new Map();
/** id -> newest frame not yet drawn (a slow page skips frames, it never queues them). */
const pending = new Map();
let ws = null;
let wsLive = false;

// ---------- cameras ----------

function getCam(id) {
  let c = cams.get(id);
  if (c) return c;
  c = { id, name: id, online: false, fps: null, lastSeen: 0, resolution: null, url: null, eventAt: -1,
    createdAt: performance.now() };
  c.tile = tileTemplate.content.firstElementChild.cloneNode(true);
  c.tile.dataset.deviceId = id;
  c.img = $('[data-testid="camera-image"]', c.tile);
  c.tile.addEventListener('click', () => openViewer(id));
  c.tile.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openViewer(id); }
  });
  grid.append(c.tile);
  c.row = makeDeviceRow(c);
  deviceList.append(c.row);
  cams.set(id, c);
  gridEmpty.hidden = true;
  render(c);
  return c;
}

/** Merges a device object from the API or an event. `sentAt` (performance.now() of a poll) lets
 *  a poll that was in flight when a newer event arrived leave that event's state alone. */
function applyDevice(d, sentAt = Infinity) {
  if (!d || typeof d.id !== 'string') return;
  const c = getCam(d.id);
  const fresh = sentAt > c.eventAt;
  if (fresh && typeof d.name === 'string' && d.name) c.name = d.name;
  if (fresh && typeof d.online === 'boolean') c.online = d.online;
  if (typeof d.fps === 'number') c.fps = d.fps;
  if (typeof d.last_seen === 'number') c.lastSeen = Math.max(c.lastSeen, d.last_seen);
  if (d.resolution?.width) c.resolution = d.resolution;
  if (typeof d.sparse_marked === 'boolean') c.sparseMarked = d.sparse_marked;
  if (typeof d.sparse === 'boolean') c.sparse = d.sparse;
  if ('expected_interval_s' in d) c.intervalS = d.expected_interval_s;
  if (typeof d.interval_learned === 'boolean') c.intervalLearned = d.interval_learned;
  render(c);
  return c;
}

/** Forgets a deleted camera: its tile, its row in the device list, its large view. */
function removeCam(id) {
  const c = cams.get(id);
  if (!c) return;
  c.tile.remove();
  c.row.remove();
  if (c.url?.isBlob) URL.revokeObjectURL(c.url.href);
  cams.delete(id);
  pending.delete(id);
  if (viewer.deviceId === id && viewer.dialog.open) viewer.dialog.close();
  gridEmpty.hidden = cams.size > 0;
  renderSummary();
}

function setOnline(id, online) {
  const c = getCam(id);
  c.online = online;
  c.eventAt = performance.now();
  render(c);
}

function render(c) {
  const state = c.online ? 'online' : 'offline';
  c.tile.dataset.online = String(c.online);
  c.tile.setAttribute('aria-label', `${c.name} (${state}): open large view`);
  $('[data-testid="camera-name"]', c.tile).textContent = c.name;
  $('[data-testid="camera-state"]', c.tile).textContent = state;
  $('[data-testid="camera-fps"]', c.tile).textContent = c.fps == null ? '– fps' : `${c.fps.toFixed(1)} fps`;
  c.img.alt = `Latest frame from ${c.name}`;
  c.row.dataset.online = String(c.online);
  const input = $('[data-testid="rename-input"]', c.row);
  if (!input.dataset.dirty && document.activeElement !== input) input.value = c.name;
  const sparse = $('[data-testid="sparse-toggle"]', c.row);
  if (!sparse.disabled) sparse.checked = Boolean(c.sparseMarked);
  $('[data-testid="sparse-interval"]', c.row).textContent = c.sparse && c.intervalS
    ? `every ${Math.round(c.intervalS)} s${c.intervalLearned ? ' (learned)' : ''}` : '';
  if (viewer.deviceId === c.id) renderViewerHead(c);
  renderLastSeen(c);
  renderSummary();
}

function renderLastSeen(c) {
  $('[data-testid="camera-last-seen"]', c.tile).textContent = c.lastSeen ? `seen ${relTime(c.lastSeen)}` : 'never seen';
}

function renderSummary() {
  let online = 0;
  for (const c of cams.values()) online += c.online ? 1 : 0;
  summary.textContent = cams.size ? `${cams.size} camera${cams.size === 1 ? '' : 's'} · ${online} online` : 'No cameras yet';
}

function relTime(ms) {
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}

/** Shows `url` in the camera's tile (and the large view when it follows this camera live). */
function showImage(c, url, isBlob) {
  c.img.src = url;
  c.tile.classList.add('has-frame');
  if (viewer.deviceId === c.id && viewer.showingLive) viewer.img.src = url;
  if (c.url?.isBlob) URL.revokeObjectURL(c.url.href);
  c.url = { href: url, isBlob };
}

// ---------- frames over the WebSocket ----------

let drawScheduled = false;
function queueFrame(frame) {
  pending.set(frame.deviceId, frame);
  if (!drawScheduled) {
    drawScheduled = true;
    requestAnimationFrame(drawPending);
  }
}

function drawPending() {
  drawScheduled = false;
  for (const [id, frame] of pending) {
    const known = cams.has(id);
    const c = getCam(id);
    showImage(c, URL.createObjectURL(frame.jpeg()), true);
    c.lastFrameId = frame.frameId;
    c.tile.dataset.frameId = frame.frameId;
    c.lastSeen = Math.max(c.lastSeen, Date.now());
    if (!c.online) c.online = true;
    render(c);
    if (!known) pollSoon(); // fetch its name, fps and so on
  }
  pending.clear();
}

// ---------- events ----------

function onEvent(msg) {
  switch (msg.type) {
    case 'hello':
      if (Array.isArray(msg.devices)) for (const d of msg.devices) applyDevice(d);
      return;
    case 'person_recognised':
      addEvent(msg.type, `${msg.name} at ${nameOf(msg.device_id)} (distance ${Number(msg.distance).toFixed(2)})`, msg.ts);
      return;
    case 'unknown_face':
      addEvent(msg.type, `unknown face at ${nameOf(msg.device_id)}`, msg.ts);
      return;
    case 'device_online':
    case 'device_offline':
      if (typeof msg.device_id !== 'string') break;
      setOnline(msg.device_id, msg.type === 'device_online');
      addEvent(msg.type, `${nameOf(msg.device_id)} is ${msg.type === 'device_online' ? 'online' : 'offline'}`, msg.ts);
      return;
    case 'device_updated': {
      const c = applyDevice(msg.device);
      if (c) {
        c.eventAt = performance.now();
        addEvent(msg.type, `${c.id} is now named “${c.name}”`, msg.ts);
      }
      return;
    }
    case 'device_added':
      if (typeof msg.device_id !== 'string') break;
      addEvent(msg.type, `new camera ${nameOf(msg.device_id)}`, msg.ts);
      return;
    case 'appearance_ended': {
      if (typeof msg.device_id !== 'string') break;
      const who = typeof msg.name === 'string' ? msg.name : 'A stranger';
      const seconds = Math.max(0, Math.round((Number(msg.duration_ms) || 0) / 1000));
      addEvent(msg.type, `${who} left the view of ${nameOf(msg.device_id)} after ${seconds} s`, msg.ts);
      return;
    }
    case 'person_left':
      addEvent(msg.type, `${msg.name} left (last seen at ${nameOf(msg.device_id)})`, msg.ts);
      return;
    case 'storage_pressure':
      addEvent(msg.type, msg.reason === 'queue_full'
        ? `storage is behind: ${msg.frames_dropped} frame(s) not stored`
        : `footage fills its disk budget: the oldest frames are being removed`, msg.ts);
      return;
    case 'person_added':
      addEvent(msg.type, `${msg.name} was enrolled`, msg.ts);
      return;
    case 'person_updated':
      addEvent(msg.type, `${msg.previous_name} is now called ${msg.name}`, msg.ts);
      return;
    case 'person_removed':
      addEvent(msg.type, `${msg.name} was removed from the permitted people`, msg.ts);
      return;
    case 'device_removed':
      if (typeof msg.device_id !== 'string') break;
      addEvent(msg.type, `${nameOf(msg.device_id)} was removed`, msg.ts);
      removeCam(msg.device_id);
      return;
    case 'subscribed':
      return;
    case 'error':
      addEvent('error', msg.error ?? msg.message ?? JSON.stringify(msg), msg.ts);
      return;
  }
  // Anything newer: show generically.
  const { type = 'event', device_id: dev, ts, ...rest } = msg;
  const detail = Object.entries(rest)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(', ');
  addEvent(String(type), [dev && nameOf(dev), detail].filter(Boolean).join(' · ').slice(0, 300), ts);
}

function nameOf(id) {
  const c = cams.get(id);
  return c && c.name !== id ? `${c.name} (${id})` : id;
}

function addEvent(type, text, ts) {
  const li = document.createElement('li');
  li.dataset.testid = 'event';
  li.dataset.type = type;
  const time = document.createElement('time');
  const when = typeof ts === 'number' && ts > 0 ? new Date(ts) : new Date();
  time.dateTime = when.toISOString();
  time.textContent = when.toLocaleTimeString();
  const kind = document.createElement('span');
  kind.className = 'kind';
  kind.textContent = type.replaceAll('_', ' ');
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  li.append(time, kind, body);
  feed.prepend(li);
  while (feed.childElementCount > MAX_EVENTS) feed.lastElementChild.remove();
}

// ---------- WebSocket with backoff ----------

let backoff = BACKOFF_MIN_MS;
function connect() {
  setConn('connecting', 'connecting…');
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const sock = new WebSocket(url);
  ws = sock;
  sock.binaryType = 'arraybuffer';
  sock.onopen = () => { wsLive = true; setConn('live', 'live'); };
  sock.onmessage = (e) => {
    backoff = BACKOFF_MIN_MS; // reset only once the server has really spoken
    if (typeof e.data === 'string') {
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (msg && typeof msg === 'object') onEvent(msg);
    } else {
      const frame = parseFrame(e.data);
      if (frame) queueFrame(frame);
    }
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    wsLive = false;
    const delay = Math.round(backoff * (0.75 + Math.random() * 0.5));
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    setConn('reconnecting', `reconnecting in ${Math.ceil(delay / 1000)} s`);
    setTimeout(connect, delay);
  };
}

function setConn(state, text) {
  connStatus.dataset.state = state;
  connStatus.textContent = text;
}

// ---------- polling fallback ----------

let pollTimer = 0;
async function poll() {
  clearTimeout(pollTimer);
  const sentAt = performance.now();
  try {
    const res = await fetch('/api/v1/devices', { cache: 'no-store' });
    if (res.ok) {
      const body = await res.json();
      const listed = new Set((body.devices ?? []).map((d) => d.id));
      // Deleted while this page was not told (no WebSocket): gone from the list the server just gave.
      for (const c of [...cams.values()]) {
        if (!listed.has(c.id) && c.createdAt < sentAt && c.eventAt < sentAt) removeCam(c.id);
      }
      for (const d of body.devices ?? []) {
        const before = cams.get(d.id);
        const wasOnline = before?.online;
        const lastSeen = before?.lastSeen ?? 0;
        const c = applyDevice(d, sentAt);
        // Another cluster node's camera (it has node_up): its frames never reach this node's /ws, so its tile shows
        // snapshots, which this node (or HAProxy) fetches from the camera's node.
        const elsewhere = d.node_up !== undefined;
        if (!c || (wsLive && !elsewhere)) continue;
        // Without the WebSocket: report transitions here and show snapshots instead of live frames.
        if (!wsLive && before && wasOnline !== c.online) {
          addEvent(c.online ? 'device_online' : 'device_offline', `${nameOf(c.id)} is ${c.online ? 'online' : 'offline'}`);
        }
        if (c.online && d.last_seen > lastSeen) loadSnapshot(c, d.last_seen, elsewhere);
      }
    }
  } catch { /* server unreachable: try again later */ }
  pollTimer = setTimeout(poll, POLL_MS);
}

let pollSoonTimer = 0;
function pollSoon() {
  if (!pollSoonTimer) pollSoonTimer = setTimeout(() => { pollSoonTimer = 0; poll(); }, 200);
}

function loadSnapshot(c, version, always = false) {
  const probe = new Image();
  probe.onload = () => { if (always || !wsLive) showImage(c, probe.src, false); };
  probe.src = `/api/v1/devices/${encodeURIComponent(c.id)}/snapshot.jpg?v=${version}`;
}

// ---------- device list and rename ----------

function makeDeviceRow(c) {
  const row = rowTemplate.content.firstElementChild.cloneNode(true);
  row.dataset.deviceId = c.id;
  const form = $('form', row);
  const input = $('input', row);
  const button = $('button', row);
  const msg = $('[data-testid="rename-msg"]', row);
  input.id = `name-${c.id}`;
  $('label .visually-hidden', row).textContent = `Name for ${c.id}`;
  $('.device-id', row).textContent = c.id;
  input.addEventListener('input', () => { input.dataset.dirty = '1'; msg.textContent = ''; });
  const sparse = $('[data-testid="sparse-toggle"]', row);
  sparse.addEventListener('change', () => patchDevice(c, { sparse: sparse.checked }, sparse, msg));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    if (await patchDevice(c, { name }, button, msg)) delete input.dataset.dirty;
  });
  return row;
}

/** PATCHes the device with `changes`, disabling `control` meanwhile; says how it went in `msg`. */
async function patchDevice(c, changes, control, msg) {
  control.disabled = true;
  msg.textContent = 'saving…';
  try {
    const res = await fetch(`/api/v1/devices/${encodeURIComponent(c.id)}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(changes),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    control.disabled = false;
    const cam = applyDevice(body);
    if (cam) cam.eventAt = performance.now();
    msg.textContent = 'saved';
    return true;
  } catch (err) {
    msg.textContent = `not saved: ${err.message}`;
    control.disabled = false;
    if (control.type === 'checkbox') control.checked = Boolean(c.sparseMarked);
    return false;
  }
}

// ---------- large view ----------

function openViewer(id) {
  const c = cams.get(id);
  if (!c) return;
  viewer.deviceId = id;
  showLive();
  renderViewerHead(c);
  viewer.thumbs.replaceChildren();
  if (!viewer.dialog.open) viewer.dialog.showModal();
  loadThumbs();
}

function renderViewerHead(c) {
  viewer.dialog.dataset.deviceId = c.id;
  viewer.footage.href = `footage.html?device=${encodeURIComponent(c.id)}`;
  viewer.dialog.dataset.online = String(c.online);
  viewer.name.textContent = c.name;
  viewer.state.textContent = c.online ? 'online' : 'offline';
  viewer.img.alt = viewer.showingLive ? `Live view of ${c.name}` : viewer.img.alt;
}

function showLive() {
  const c = cams.get(viewer.deviceId);
  viewer.showingLive = true;
  viewer.source.textContent = 'live';
  viewer.live.hidden = true;
  if (c?.url) viewer.img.src = c.url.href; else viewer.img.removeAttribute('src');
  if (c) viewer.img.alt = `Live view of ${c.name}`;
}

async function loadThumbs() {
  clearTimeout(viewer.timer);
  const id = viewer.deviceId;
  if (!id) return;
  try {
    const res = await fetch(`/api/v1/devices/${encodeURIComponent(id)}/frames?limit=${THUMB_COUNT}`, { cache: 'no-store' });
    const body = res.ok ? await res.json() : { frames: [] };
    if (viewer.deviceId !== id) return;
    const items = (body.frames ?? []).map((f) => {
      const when = new Date(f.timestamp).toLocaleTimeString();
      const li = document.createElement('li');
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.dataset.testid = 'thumbnail';
      btn.dataset.frameId = f.frame_id;
      btn.title = `Frame ${f.frame_id} at ${when}`;
      const img = document.createElement('img');
      img.src = f.url;
      img.alt = `Stored frame ${f.frame_id} at ${when}`;
      img.loading = 'lazy';
      img.width = 96;
      img.height = f.width && f.height ? Math.round((96 * f.height) / f.width) : 72;
      btn.append(img);
      btn.addEventListener('click', () => {
        viewer.showingLive = false;
        viewer.img.src = f.url;
        viewer.img.alt = img.alt;
        viewer.source.textContent = `stored · ${when}`;
        viewer.live.hidden = false;
      });
      li.append(btn);
      return li;
    });
    viewer.thumbs.replaceChildren(...items);
  } catch { /* keep the old thumbnails */ }
  if (viewer.deviceId === id) viewer.timer = setTimeout(loadThumbs, THUMB_REFRESH_MS);
}

viewer.live.addEventListener('click', showLive);
$('[data-testid="view-close"]').addEventListener('click', () => viewer.dialog.close());
viewer.dialog.addEventListener('click', (e) => { if (e.target === viewer.dialog) viewer.dialog.close(); });
viewer.dialog.addEventListener('close', () => {
  viewer.deviceId = null;
  clearTimeout(viewer.timer);
  viewer.img.removeAttribute('src');
});

// ---------- start ----------

account().catch(() => { /* the grid still works; the account links stay hidden */ });
setInterval(() => { for (const c of cams.values()) renderLastSeen(c); }, 1000);
connect();
poll();
watchSystem();
