// Shared by the dashboard's pages: API calls, times, the account links, elements built from server strings, and the
// warning banner with the server's figures behind it (the system page charts the same polls).
// Server strings only ever reach the page as textContent or attribute values.

export class HttpError extends Error {
  constructor(status, message, body = {}) { super(message); this.status = status; this.body = body; }
}

/** JSON from the API; a lost session goes to the login page. */
export async function api(url, options = {}) {
  const res = await fetch(url, { cache: 'no-store', ...options });
  if (res.status === 401) { location.href = '/login.html'; throw new HttpError(401, 'not logged in'); }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new HttpError(res.status, typeof body.error === 'string' ? body.error : `HTTP ${res.status}`, body);
  return body;
}

export const jsonBody = (method, value) =>
  ({ method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) });

const pad = (n, w = 2) => String(n).padStart(w, '0');
/** "2026-12-05 14:03:07", local time. */
export function formatTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:` +
    `${pad(d.getSeconds())}`;
}

/**
 * Places `node` (absolutely positioned) over `box` {x, y, w, h} of an image `width` x `height` pixels, in percentages,
 * so that it stays on that part of the image at whatever size the image is shown.
 */
export function placeOver(node, box, width, height) {
  const pct = (v, of) => `${(100 * v / of).toFixed(2)}%`;
  Object.assign(node.style, { left: pct(box.x, width), top: pct(box.y, height), width: pct(box.w, width),
    height: pct(box.h, height) });
  return node;
}

/** An element with properties (dataset and attributes by name) and children (strings become text nodes). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('aria-') || k === 'role' || k === 'for') node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children);
  return node;
}

// ---------- the top bar's links ----------

const PAGES = [['/', 'live', 'Live'], ['footage.html', 'footage', 'Footage'], ['events.html', 'events', 'Events'],
  ['people.html', 'people', 'People'], ['system.html', 'system', 'System']];

/**
 * Fills the top bar's `<nav class="links" data-page="...">` with a link to every page (the page itself marked current)
 * and the account links that account() shows: one list of the pages for all of them. Runs when a page's script
 * imports this module.
 */
function pageLinks() {
  const nav = document.querySelector('nav.links[data-page]');
  if (!nav) return;
  nav.append(...PAGES.map(([href, key, text]) => {
    const link = el('a', { href, dataset: { testid: `${key}-link` } }, text);
    if (key === nav.dataset.page) link.setAttribute('aria-current', 'page');
    return link;
  }), el('span', { hidden: true, dataset: { testid: 'account' } },
    el('a', { href: 'admin.html', hidden: true, dataset: { testid: 'admin-link' } }, 'Accounts'),
    el('button', { type: 'button', dataset: { testid: 'logout' } }, 'Log out')));
}
pageLinks();

/**
 * Who is logged in: shows the account links (Accounts for admins, Log out) when access control is on.
 * Answers whether this account may change the gallery (enrol, rename, delete, give feedback): admins only.
 */
export async function account() {
  const me = await api('/api/v1/auth/me');
  if (!me.auth_enabled) return { canEdit: true };
  document.querySelector('[data-testid="account"]').hidden = false;
  document.querySelector('[data-testid="admin-link"]').hidden = me.role !== 'admin';
  document.querySelector('[data-testid="logout"]').addEventListener('click', async () => {
    await fetch('/api/v1/auth/logout', { method: 'POST' });
    location.href = '/login.html';
  });
  return { canEdit: me.role === 'admin' };
}

/** A camera's name for people: its name, with its id when they differ. */
export const cameraName = (d) => (d.name && d.name !== d.id ? `${d.name} (${d.id})` : String(d.id));

// ---------- the server's figures and the warning banner ----------

export const POLL_MS = 2000;
const POLL_TIMEOUT_MS = 10000;  // a poll not answered by then counts as unanswered
const DROP_HOLD_MS = 30000;     // "frames are being dropped" stays up this long after the last drop seen
const MAX_OFFLINE_NAMED = 5;

/** Whether `now` comes from the same server run as `before` (a restart starts every counter again). */
const sameRun = (before, now) =>
  now.uptime_s >= before.uptime_s && (now.frames?.accepted ?? 0) >= (before.frames?.accepted ?? 0);

/**
 * Polls the devices and /api/v1/system/performance every POLL_MS and shows a banner under the top bar while frames
 * are being dropped (the dropped or store_errors counter rose since the previous poll, up to DROP_HOLD_MS ago) or a
 * camera is offline. `onSample` gets each poll: { at, devices, performance, previous }, where `previous` is the poll
 * before from the same server run (null after a restart or an unanswered poll), or { at, error } when the server did
 * not answer. A lost session goes to the login page.
 */
export function watchSystem(onSample = () => {}) {
  const banner = el('div', { className: 'banner', role: 'alert', hidden: true, dataset: { testid: 'warning-banner' } });
  document.querySelector('.topbar').after(banner);
  const drops = { since: 0, last: -Infinity, queueFull: false, writeFailed: false };
  let previous = null;
  let shown = '';

  const noteDrops = (sample) => {
    const before = sample.previous?.performance.frames;
    const now = sample.performance.frames;
    if (!before || !now) return;
    const queueFull = now.dropped > before.dropped;
    const writeFailed = now.store_errors > before.store_errors;
    if (!queueFull && !writeFailed) return;
    if (sample.at - drops.last > DROP_HOLD_MS) Object.assign(drops, { since: sample.previous.at, queueFull, writeFailed });
    drops.last = sample.at;
    drops.queueFull ||= queueFull;
    drops.writeFailed ||= writeFailed;
  };

  const warnings = (sample) => {
    const lines = [];
    if (sample.at - drops.last <= DROP_HOLD_MS) {
      const why = drops.queueFull && drops.writeFailed ? 'the storage queue is full and writing to the disk fails'
        : drops.queueFull ? 'the disk is not keeping up (the storage queue is full)' : 'writing to the disk fails';
      lines.push(`Frames are being dropped since ${formatTime(drops.since)}: ${why}.`);
    }
    const offline = sample.devices.filter((d) => d.online === false);
    if (offline.length > 0) {
      const named = offline.slice(0, MAX_OFFLINE_NAMED).map((d) =>
        (typeof d.last_seen === 'number' ? `${cameraName(d)} (last frame ${formatTime(d.last_seen)})` : cameraName(d)));
      const more = offline.length > MAX_OFFLINE_NAMED ? ` and ${offline.length - MAX_OFFLINE_NAMED} more` : '';
      lines.push(`${offline.length === 1 ? 'Camera' : 'Cameras'} offline: ${named.join(', ')}${more}.`);
    }
    return lines;
  };

  const show = (lines) => {
    if (lines.join('\n') === shown) return;  // unchanged: not announced again
    shown = lines.join('\n');
    banner.hidden = lines.length === 0;
    banner.replaceChildren(...lines.map((line) => el('p', {}, line)));
    if (lines.length > 0 && !location.pathname.endsWith('/system.html')) {
      banner.append(el('a', { href: 'system.html', className: 'page-link' }, 'See the system page'));
    }
  };

  const poll = async () => {
    const at = Date.now();
    const options = { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) };
    let sample;
    try {
      const [list, performance] = await Promise.all([api('/api/v1/devices', options),
        api('/api/v1/system/performance', options)]);
      const devices = (list.devices ?? []).filter((d) => typeof d.id === 'string');
      sample = { at, devices, performance,
        previous: previous && sameRun(previous.performance, performance) ? previous : null };
    } catch (err) {
      if (err.status === 401) return;  // on its way to the login page
      sample = { at, error: err };
    }
    setTimeout(poll, POLL_MS);
    previous = sample.error ? null : { at, devices: sample.devices, performance: sample.performance };
    if (!sample.error) {
      noteDrops(sample);
      show(warnings(sample));
    }
    onSample(sample);
  };
  poll();
}
