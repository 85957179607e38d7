// iotstream events page: the faces seen (recognised and unknown) with their thumbnail beside the frame it came from
// (box drawn), camera, time, name and distance; filters by camera, person, kind and time; "not this person" feedback
// and "this is ..." enrolment; a link to the footage at that moment. New events arrive over /ws without a reload.
// Server strings only ever reach the page as textContent or attribute values.
import { api, account, cameraName, el, formatTime, jsonBody, placeOver, watchSystem } from './common.js';

const LIMIT = 200;              // events shown
const FACE_TYPES = ['person_recognised', 'unknown_face'];
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;

const $ = (sel) => document.querySelector(sel);
const ui = {
  filters: $('[data-testid="filters"]'),
  camera: $('[data-testid="filter-camera"]'),
  person: $('[data-testid="filter-person"]'),
  kind: $('[data-testid="filter-kind"]'),
  from: $('[data-testid="filter-from"]'),
  to: $('[data-testid="filter-to"]'),
  msg: $('[data-testid="events-msg"]'),
  actionMsg: $('[data-testid="action-msg"]'),
  list: $('[data-testid="event-list"]'),
  conn: $('[data-testid="ws-status"]'),
};

const state = {
  canEdit: false,
  loaded: [],          // the API's answer for the current filters
  live: [],            // events received over /ws since the page opened, newest last
  loadToken: 0,        // the newest load wins
  drafts: new Map(),   // "this is ..." names being typed, by event id: a re-render keeps them
};

// ---------- filters ----------

function filters() {
  const ms = (input) => (input.value ? new Date(input.value).getTime() : null);
  return {
    camera: ui.camera.value,
    person: ui.person.value ? Number(ui.person.value) : null,
    types: ui.kind.value === 'faces' ? FACE_TYPES : [ui.kind.value],
    from: ms(ui.from),
    to: ms(ui.to),
  };
}

/** Whether event `e` passes the filters (for events from /ws; the API applies the same ones). */
function matches(e, f) {
  return f.types.includes(e.type) && (!f.camera || e.device_id === f.camera) &&
    (f.person === null || (e.type === 'person_recognised' && e.person_id === f.person)) &&
    (f.from === null || e.ts >= f.from) && (f.to === null || e.ts <= f.to);
}

const option = (value, text) => el('option', { value }, text);

async function loadChoices() {
  const [devices, people] = await Promise.all([api('/api/v1/devices'), api('/api/v1/recognition/permitted-faces')]);
  ui.camera.append(...(devices.devices ?? []).filter((d) => typeof d.id === 'string')
    .map((d) => option(d.id, cameraName(d))));
  fillPeople(people.people ?? []);
}

function fillPeople(people) {
  const names = document.getElementById('people-names');
  names.replaceChildren(...people.filter((p) => typeof p.name === 'string').map((p) => option(p.name, '')));
  const chosen = ui.person.value;
  ui.person.replaceChildren(option('', 'Anyone'),
    ...people.filter((p) => Number.isInteger(p.person_id)).map((p) => option(String(p.person_id), String(p.name))));
  ui.person.value = [...ui.person.options].some((o) => o.value === chosen) ? chosen : '';
}

// ---------- the list ----------

async function load() {
  const token = ++state.loadToken;
  const f = filters();
  ui.msg.textContent = 'Loading…';
  const q = new URLSearchParams({ type: f.types.join(','), limit: LIMIT });
  if (f.camera) q.set('device_id', f.camera);
  if (f.person !== null) q.set('person_id', f.person);
  if (f.from !== null) q.set('from', f.from);
  if (f.to !== null) q.set('to', f.to);
  const answer = await api(`/api/v1/events?${q}`);
  if (token !== state.loadToken) return;
  state.loaded = answer.events ?? [];
  render();
}

function render() {
  const f = filters();
  const byId = new Map();
  for (const e of [...state.loaded, ...state.live]) {
    if (Number.isInteger(e.id) && typeof e.ts === 'number' && matches(e, f)) byId.set(e.id, { ...byId.get(e.id), ...e });
  }
  const shown = [...byId.values()].sort((a, b) => b.id - a.id).slice(0, LIMIT);
  ui.msg.textContent = shown.length === 0 ? 'No faces seen that match these filters.' : `${shown.length} shown`;
  const focusKey = document.activeElement?.dataset?.focusKey;
  ui.list.replaceChildren(...shown.map(eventItem));
  if (focusKey) ui.list.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
}

function eventItem(e) {
  const known = e.type === 'person_recognised' && typeof e.name === 'string';
  const who = known ? e.name : 'Unknown face';
  const camera = typeof e.camera_name === 'string' && e.camera_name ? e.camera_name : String(e.device_id);
  const at = typeof e.frame_ts === 'number' ? e.frame_ts : e.ts;
  const when = formatTime(at);
  const time = el('time', { dateTime: new Date(at).toISOString(), dataset: { testid: 'event-time' } }, when);
  const distance = typeof e.distance === 'number'
    ? el('span', { className: 'distance', dataset: { testid: 'event-distance' } }, `distance ${e.distance.toFixed(2)}`)
    : '';
  const footage = new URLSearchParams({ device: String(e.device_id), t: String(at) });
  const li = el('li', { className: 'event', dataset: { testid: 'event', eventId: e.id, type: e.type } },
    el('img', { src: `/api/v1/events/${e.id}/thumbnail.jpg`, alt: `Face of ${who}`, width: 72, height: 72,
      loading: 'lazy', dataset: { testid: 'event-thumbnail' } }),
    frameWithBox(e, who),
    el('div', { className: 'event-text' },
      el('strong', { dataset: { testid: 'event-name' } }, who), ' ', distance,
      el('div', { className: 'event-where' },
        el('span', { dataset: { testid: 'event-camera' } }, camera), ' · ', time)),
    el('div', { className: 'event-actions' },
      el('a', { href: `footage.html?${footage}`, className: 'page-link', 'aria-label': `Footage of ${camera} at ${when}` },
        'Footage')));
  const actions = li.lastChild;
  if (e.feedback === 'wrong') {
    actions.append(el('span', { className: 'feedback', tabIndex: -1, dataset: { testid: 'event-feedback' } },
      `Marked: not ${who}`));
  } else if (known && state.canEdit) {
    const btn = el('button', { type: 'button', 'aria-label': `Not ${who}: ${camera} at ${when}`,
      dataset: { focusKey: `feedback-${e.id}` } }, 'Not this person');
    btn.addEventListener('click', () => notThisPerson(e, btn).catch(report));
    actions.append(btn);
  }
  if (state.canEdit) actions.append(thisIs(e, `${camera} at ${when}`));
  return li;
}

/** The frame the face was found in, the face's box drawn over it once the frame's size is known. */
function frameWithBox(e, who) {
  if (!Number.isInteger(e.frame_id) || e.frame_id <= 0) return el('figure', { className: 'event-frame' });
  const src = e.device_id ? `/api/v1/devices/${encodeURIComponent(e.device_id)}/frames/${e.frame_id}`
    : `/api/v1/frames/${e.frame_id}`;
  const img = el('img', { src, alt: `Frame with the face of ${who}`, loading: 'lazy',
    dataset: { testid: 'event-frame' } });
  const figure = el('figure', { className: 'event-frame' }, img);
  const b = e.box;
  img.addEventListener('load', () => {
    if (!b || !img.naturalWidth || !img.naturalHeight) return;
    figure.append(placeOver(el('div', { className: 'box', dataset: { testid: 'event-box' } }), b, img.naturalWidth,
      img.naturalHeight));
  }, { once: true });
  img.addEventListener('error', () => img.remove(), { once: true });  // evicted by retention
  return figure;
}

/** "This is ...": a name (an enrolled one offered) for the face of event `e`, added to that person. */
function thisIs(e, where) {
  const name = el('input', { name: 'name', maxLength: 128, required: true, autocomplete: 'off',
    placeholder: 'This is…', 'aria-label': `Who this is: ${where}`, dataset: { focusKey: `this-is-${e.id}` } });
  name.setAttribute('list', 'people-names');
  name.value = state.drafts.get(e.id) ?? '';
  name.addEventListener('input', () => state.drafts.set(e.id, name.value));
  const form = el('form', { className: 'this-is' }, name,
    el('button', { type: 'submit', 'aria-label': `Add this face: ${where}` }, 'Add face'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    enrolFrom(e, name.value.trim(), form).catch(report);
  });
  return form;
}

async function enrolFrom(e, name, form) {
  if (!name) return;
  form.querySelector('button').disabled = true;
  try {
    const r = await api(`/api/v1/events/${e.id}/enrol`, jsonBody('POST', { name }));
    state.drafts.delete(e.id);
    ui.actionMsg.textContent = `This face is now one of ${r.name}'s.`;
    if (e.type === 'person_recognised' && e.name !== r.name) {
      for (const list of [state.loaded, state.live]) for (const x of list) if (x.id === e.id) x.feedback = 'wrong';
    }
  } catch (err) {
    if (err.status === 401) return;
    ui.actionMsg.textContent = `Not added: ${err.message}`;
  }
  render();
}

async function notThisPerson(e, btn) {
  btn.disabled = true;
  try {
    await api(`/api/v1/events/${e.id}/feedback`, jsonBody('POST', { correct: false }));
  } finally {
    btn.disabled = false;
  }
  for (const list of [state.loaded, state.live]) for (const x of list) if (x.id === e.id) x.feedback = 'wrong';
  render();
  // The button is gone: the focus goes to what replaced it.
  ui.list.querySelector(`[data-event-id="${e.id}"] [data-testid="event-feedback"]`)?.focus();
}

// ---------- live events over /ws ----------

let backoff = BACKOFF_MIN_MS;
function connect() {
  setConn('connecting', 'connecting…');
  const sock = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  // No camera's frames: this page wants the events only, which every socket gets.
  sock.onopen = () => sock.send(JSON.stringify({ subscribe: [] }));
  sock.onmessage = (m) => {
    if (typeof m.data !== 'string') return;
    let e;
    try { e = JSON.parse(m.data); } catch { return; }
    if (!e || typeof e !== 'object') return;
    if (e.type === 'subscribed') {
      backoff = BACKOFF_MIN_MS;
      setConn('live', 'live');
      // Whatever happened before the socket was subscribed (or while it was away) is in the log.
      load().catch(report);
    } else if (FACE_TYPES.includes(e.type)) {
      state.live.push(e);
      if (state.live.length > LIMIT) state.live.shift();
      render();
    } else if (e.type === 'person_added' || e.type === 'person_updated' || e.type === 'person_removed') {
      api('/api/v1/recognition/permitted-faces').then((b) => fillPeople(b.people ?? [])).catch(report);
    }
  };
  sock.onclose = () => {
    const delay = Math.round(backoff * (0.75 + Math.random() * 0.5));
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    setConn('reconnecting', `reconnecting in ${Math.ceil(delay / 1000)} s`);
    setTimeout(connect, delay);
  };
}

function setConn(s, text) {
  ui.conn.dataset.state = s;
  ui.conn.textContent = text;
}

// ---------- start ----------

const report = (err) => { if (err.status !== 401) ui.msg.textContent = err.message; };

ui.filters.addEventListener('change', () => load().catch(report));
ui.filters.addEventListener('reset', () => setTimeout(() => load().catch(report)));  // after the form has reset
ui.filters.addEventListener('submit', (e) => e.preventDefault());

account()
  .then((me) => { state.canEdit = me.canEdit; })
  .catch(() => { /* read-only: no feedback buttons */ })
  .then(() => Promise.all([loadChoices(), load()]))
  .catch(report)
  .then(connect);
watchSystem();
