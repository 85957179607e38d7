// iotstream people page: the enrolled people with their photos; enrol a person or add photos by upload or drag and
// drop (several at once, the server's answer shown per photo; of a photo with several faces the user picks one);
// rename; delete a photo or a person after a confirmation; strangers (unnamed faces grouped by identity) named at once.
// Server strings only ever reach the page as textContent or attribute values.
import { api, account, el, formatTime, jsonBody, placeOver, watchSystem } from './common.js';

const $ = (sel) => document.querySelector(sel);
const ui = {
  enrolSection: $('[data-testid="enrol-section"]'),
  enrolForm: $('[data-testid="enrol-form"]'),
  enrolName: $('[data-testid="enrol-name"]'),
  enrolPhotos: $('[data-testid="enrol-photos"]'),
  enrolResults: $('[data-testid="enrol-results"]'),
  msg: $('[data-testid="people-msg"]'),
  empty: $('[data-testid="people-empty"]'),
  list: $('[data-testid="person-list"]'),
  confirm: $('[data-testid="confirm"]'),
  confirmText: $('[data-testid="confirm-text"]'),
  strangersMsg: $('[data-testid="strangers-msg"]'),
  strangersEmpty: $('[data-testid="strangers-empty"]'),
  strangers: $('[data-testid="stranger-list"]'),
  strangersRefresh: $('[data-testid="strangers-refresh"]'),
  names: $('#people-names'),
};

// Each person's upload answers, kept across re-renders of their card (an upload re-renders it).
const state = { canEdit: false, people: [], results: new Map() };
const facesUrl = '/api/v1/recognition/permitted-faces';

// ---------- uploads ----------

/** What the server said about one photo, in words for people. */
function uploadAnswer(err) {
  if (err.status === 422) return `not added: ${err.message} (a photo must show exactly this one person)`;
  if (err.status === 413) return 'not added: the photo is too large';
  if (err.status === 503) return 'not added: recognition is not available now, try again';
  return `not added: ${err.message}`;
}

/** Enrols one photo under `name` (the face in `box` of several), showing the answer in `line`; true when added. */
async function uploadPhoto(name, file, line, box = null) {
  line.dataset.state = 'pending';
  line.replaceChildren(`${file.name}: uploading…`);
  const q = new URLSearchParams({ name });
  if (box) q.set('box', [box.x, box.y, box.w, box.h].join(','));
  try {
    const r = await api(`/api/v1/recognition/add-permitted-face?${q}`, {
      method: 'POST',
      headers: { 'Content-Type': file.type || 'application/octet-stream' },
      body: file,
    });
    line.replaceChildren(`${file.name}: added to ${r.name}`);
    line.dataset.state = 'ok';
    return true;
  } catch (err) {
    if (err.status === 401) throw err;
    const faces = Array.isArray(err.body?.faces) ? err.body.faces : [];
    if (err.status === 422 && faces.length > 1) {
      line.dataset.state = 'pick';
      line.replaceChildren(`${file.name}: ${faces.length} faces: pick the one to add`,
        facePicker(file, faces, err.body, (picked) => pickFace(name, file, line, picked)));
    } else {
      line.replaceChildren(`${file.name}: ${uploadAnswer(err)}`);
      line.dataset.state = 'error';
    }
    return false;
  }
}

/** The photo with a button over each face the server found (boxes in the photo's pixels). */
function facePicker(file, faces, size, onPick) {
  const url = URL.createObjectURL(file);
  const img = el('img', { src: url, alt: `${file.name} with ${faces.length} faces` });
  img.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
  const width = size.width > 0 ? size.width : 1;
  const height = size.height > 0 ? size.height : 1;
  return el('div', { className: 'face-picker', dataset: { testid: 'face-picker' } }, img,
    ...faces.map((f, i) => {
      const b = f.box ?? {};
      const btn = placeOver(el('button', { type: 'button', className: 'face-box',
        'aria-label': `Face ${i + 1} of ${file.name}`, dataset: { testid: 'face-box' } }), b, width, height);
      btn.addEventListener('click', () => onPick(b));
      return btn;
    }));
}

async function pickFace(name, file, line, box) {
  if (await uploadPhoto(name, file, line, box)) await load();
}

/** Enrols each photo under `name` in turn, listing each one's answer in `results`; true when any was added. */
async function uploadPhotos(name, files, results) {
  let added = false;
  for (const file of files) {
    const line = el('li', { dataset: { testid: 'upload-result' } });
    results.append(line);
    try {
      added = await uploadPhoto(name, file, line) || added;
    } catch {
      return added;  // the session is gone: the page is going to the login page
    }
  }
  return added;
}

const imageFiles = (list) => [...list].filter((f) => f.type === 'image/jpeg' || f.type === 'image/png');

/** Makes `zone` take dropped photos and hand them to `onFiles`. */
function dropZone(zone, onFiles) {
  zone.addEventListener('dragover', (e) => {
    if (!state.canEdit || !e.dataTransfer.types.includes('Files')) return;
    e.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    zone.classList.remove('dragging');
    if (!state.canEdit) return;
    e.preventDefault();
    onFiles(e.dataTransfer.files);
  });
}

// ---------- confirmation ----------

/** Asks before a deletion; resolves to true when the user chose Delete. */
function confirmDelete(text) {
  ui.confirmText.textContent = text;
  ui.confirm.returnValue = '';
  ui.confirm.showModal();
  return new Promise((resolve) => {
    ui.confirm.addEventListener('close', () => resolve(ui.confirm.returnValue === 'ok'), { once: true });
  });
}

// ---------- the list ----------

async function load() {
  const body = await api(facesUrl);
  state.people = (body.people ?? []).filter((p) => Number.isInteger(p.person_id) && typeof p.name === 'string');
  ui.names.replaceChildren(...state.people.map((p) => el('option', { value: p.name })));
  render();
}

function render() {
  // A re-render replaces the controls: the one that had the focus gets it back by its key.
  const focusKey = document.activeElement?.dataset?.focusKey;
  ui.empty.hidden = state.people.length > 0;
  for (const id of state.results.keys()) if (!state.people.some((p) => p.person_id === id)) state.results.delete(id);
  ui.list.replaceChildren(...state.people.map(personCard));
  if (focusKey) ui.list.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
}

function personCard(p) {
  const key = (what) => `${what}-${p.person_id}`;
  const results = state.results.get(p.person_id) ?? el('ul', { className: 'upload-results', 'aria-live': 'polite' });
  results.setAttribute('aria-label', `Uploaded photos of ${p.name}`);
  state.results.set(p.person_id, results);
  const photos = el('ul', { className: 'photos', 'aria-label': `Photos of ${p.name}` },
    ...(p.face_ids ?? []).map((faceId, i) => {
      const img = el('img', { src: `/api/v1/recognition/faces/${encodeURIComponent(faceId)}/thumbnail.jpg`,
        alt: `Photo ${i + 1} of ${p.name}`, width: 96, height: 96, loading: 'lazy' });
      const li = el('li', { dataset: { testid: 'person-photo', faceId } }, img);
      if (state.canEdit) {
        const del = el('button', { type: 'button', className: 'danger', 'aria-label': `Delete photo ${i + 1} of ${p.name}`,
          dataset: { focusKey: key(`delete-photo-${faceId}`) } }, 'Delete');
        del.addEventListener('click', () => deletePhoto(p, faceId, i).catch(report));
        li.append(del);
      }
      return li;
    }));

  const card = el('li', { className: 'person panel', dataset: { testid: 'person', personId: p.person_id } },
    el('h3', { dataset: { testid: 'person-name' } }, p.name), photos);

  if (state.canEdit) {
    const nameInput = el('input', { name: 'name', value: p.name, maxLength: 128, required: true, autocomplete: 'off',
      'aria-label': `New name for ${p.name}`, dataset: { focusKey: key('rename-input') } });
    const rename = el('form', { className: 'rename' }, nameInput,
      el('button', { type: 'submit', 'aria-label': `Rename ${p.name}` }, 'Rename'));
    const renameMsg = el('p', { className: 'person-msg', role: 'status', dataset: { testid: 'rename-msg' } });
    rename.addEventListener('submit', (e) => {
      e.preventDefault();
      renamePerson(p, nameInput.value.trim(), renameMsg).catch(report);
    });

    const add = el('input', { type: 'file', accept: 'image/jpeg,image/png', multiple: true,
      'aria-label': `Add photos of ${p.name}` });
    add.addEventListener('change', () => addPhotos(p, add.files, results).catch(report));
    const del = el('button', { type: 'button', className: 'danger', 'aria-label': `Delete ${p.name}`,
      dataset: { focusKey: key('delete') } }, 'Delete person');
    del.addEventListener('click', () => deletePerson(p).catch(report));

    card.append(rename, renameMsg,
      el('label', { className: 'field add-photos' }, 'Add photos (or drop them on this card)', add),
      results, del);
    dropZone(card, (files) => addPhotos(p, files, results).catch(report));
  }
  return card;
}

// ---------- actions ----------

async function addPhotos(p, files, results) {
  results.replaceChildren();
  if (await uploadPhotos(p.name, imageFiles(files), results)) await load();
}

async function renamePerson(p, name, msg) {
  if (!name || name === p.name) return;
  try {
    await api(`${facesUrl}/${p.person_id}`, jsonBody('PATCH', { name }));
  } catch (err) {
    msg.textContent = err.status === 409 ? `${name} is already the name of someone else.` : `Not renamed: ${err.message}`;
    return;
  }
  await load();
  ui.msg.textContent = `${p.name} is now ${name}.`;
}

async function deletePhoto(p, faceId, i) {
  const last = (p.face_ids ?? []).length === 1 ? ' It is their only photo.' : '';
  if (!await confirmDelete(`Delete photo ${i + 1} of ${p.name}?${last}`)) return;
  await api(`${facesUrl}/${p.person_id}/faces/${encodeURIComponent(faceId)}`, { method: 'DELETE' });
  await load();
  ui.msg.textContent = `Photo ${i + 1} of ${p.name} deleted.`;
}

async function deletePerson(p) {
  if (!await confirmDelete(`Delete ${p.name} and all their photos?`)) return;
  await api(`${facesUrl}/${p.person_id}`, { method: 'DELETE' });
  await load();
  ui.msg.textContent = `${p.name} deleted.`;
}

async function enrol(e) {
  e.preventDefault();
  const name = ui.enrolName.value.trim();
  const files = imageFiles(ui.enrolPhotos.files);
  ui.enrolResults.replaceChildren();
  if (!name || files.length === 0) {
    ui.enrolResults.append(el('li', {}, 'Give a name and at least one JPEG or PNG photo.'));
    return;
  }
  const submit = ui.enrolForm.querySelector('button[type="submit"]');
  submit.disabled = true;
  try {
    if (await uploadPhotos(name, files, ui.enrolResults)) {
      ui.enrolForm.reset();
      await load();
    }
  } finally {
    submit.disabled = false;
  }
}

// ---------- strangers ----------

async function loadStrangers() {
  const body = await api('/api/v1/recognition/strangers');
  const list = (body.strangers ?? []).filter((s) => Number.isInteger(s.id));
  ui.strangersEmpty.hidden = list.length > 0;
  const focusKey = document.activeElement?.dataset?.focusKey;
  ui.strangers.replaceChildren(...list.map(strangerCard));
  if (focusKey) ui.strangers.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
}

function strangerCard(s) {
  const times = s.sightings === 1 ? 'once' : `${s.sightings} times`;
  const where = (s.cameras ?? []).map((c) => `${c.device_id} (${c.sightings})`).join(', ');
  const photos = el('ul', { className: 'photos', 'aria-label': `Faces of stranger ${s.id}` },
    ...(s.thumbnail_urls ?? []).filter((u) => typeof u === 'string' && u.startsWith('/api/v1/events/'))
      .map((src, i) => el('li', {}, el('img', { src, alt: `Face ${i + 1} of stranger ${s.id}`, width: 96, height: 96,
        loading: 'lazy' }))));
  const card = el('li', { className: 'person panel', dataset: { testid: 'stranger', strangerId: s.id } },
    el('h3', {}, `Seen ${times}`), photos,
    el('p', { className: 'person-msg' }, `at ${where}; first ${formatTime(s.first_seen)}, last ${formatTime(s.last_seen)}`));
  if (state.canEdit) {
    const name = el('input', { name: 'name', maxLength: 128, required: true, autocomplete: 'off',
      placeholder: 'Who is this?', 'aria-label': `Name of stranger ${s.id}`, dataset: { focusKey: `stranger-name-${s.id}` } });
    name.setAttribute('list', 'people-names');
    const form = el('form', { className: 'rename' }, name,
      el('button', { type: 'submit', 'aria-label': `Name stranger ${s.id}` }, 'Name this person'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      nameStranger(s, name.value.trim(), form).catch(report);
    });
    card.append(form);
  }
  return card;
}

async function nameStranger(s, name, form) {
  if (!name) return;
  form.querySelector('button').disabled = true;
  try {
    const r = await api(`/api/v1/recognition/strangers/${s.id}/enrol`, jsonBody('POST', { name }));
    ui.strangersMsg.textContent = `${r.name} added with ${r.face_ids.length} of these faces.`;
  } catch (err) {
    ui.strangersMsg.textContent = `Not named: ${err.message}`;
  }
  await Promise.all([load(), loadStrangers()]);
}

// ---------- start ----------

const report = (err) => { if (err.status !== 401) ui.msg.textContent = err.message; };

ui.enrolForm.addEventListener('submit', (e) => enrol(e).catch(report));
// Photos dropped on the form join its file field, to be sent with the name.
dropZone(ui.enrolForm, (files) => {
  const dt = new DataTransfer();
  for (const f of imageFiles(files)) dt.items.add(f);
  ui.enrolPhotos.files = dt.files;
});

account()
  .then((me) => { state.canEdit = me.canEdit; ui.enrolSection.hidden = !me.canEdit; })
  .catch(() => { /* read-only: the controls that change the gallery stay hidden */ })
  .then(() => Promise.all([load(), loadStrangers()]))
  .catch(report);
ui.strangersRefresh.addEventListener('click', () => loadStrangers().catch(report));
watchSystem();
