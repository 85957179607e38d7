// iotstream people page: the enrolled people with their photos; enrol a person or add photos by upload or drag and
// drop (several at once, the server's answer shown per photo); rename; delete a photo or a person after a confirmation.
// Server strings only ever reach the page as textContent or attribute values.
import { api, account, el, jsonBody, watchSystem } from './common.js';

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

/** Enrols each photo under `name` in turn, listing each one's answer in `results`; true when any was added. */
async function uploadPhotos(name, files, results) {
  let added = false;
  for (const file of files) {
    const line = el('li', { dataset: { testid: 'upload-result', state: 'pending' } }, `${file.name}: uploading…`);
    results.append(line);
    try {
      const r = await api(`/api/v1/recognition/add-permitted-face?name=${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: { 'Content-Type': file.type || 'application/octet-stream' },
        body: file,
      });
      line.textContent = `${file.name}: added to ${r.name}`;
      line.dataset.state = 'ok';
      added = true;
    } catch (err) {
      if (err.status === 401) return added;
      line.textContent = `${file.name}: ${uploadAnswer(err)}`;
      line.dataset.state = 'error';
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
  .then(load)
  .catch(report);
watchSystem();
