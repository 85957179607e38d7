// Accounts and tokens (admins): /api/v1/auth/users and /api/v1/auth/tokens.
const msg = document.querySelector('[data-testid="admin-msg"]');

async function call(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status === 401) location.href = '/login.html';
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error ?? `${method} ${url}: ${res.status}`);
  return json;
}

function row(cells, onRemove) {
  const tr = document.createElement('tr');
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  const td = document.createElement('td');
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Remove';
  button.addEventListener('click', () => onRemove().then(load, show));
  td.append(button);
  tr.append(td);
  return tr;
}

function show(err) { msg.textContent = err.message; }

async function load() {
  const users = await call('GET', '/api/v1/auth/users');
  document.querySelector('[data-testid="user-list"]').replaceChildren(
    ...users.users.map((u) => row([u.name, u.role],
      () => call('DELETE', `/api/v1/auth/users/${encodeURIComponent(u.name)}`))));
  const tokens = await call('GET', '/api/v1/auth/tokens');
  document.querySelector('[data-testid="token-list"]').replaceChildren(
    ...tokens.tokens.map((t) => row([t.name, t.role, t.device ?? '', `${t.prefix}…`],
      () => call('DELETE', `/api/v1/auth/tokens/${t.id}`))));
}

document.querySelector('[data-testid="user-form"]').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  call('POST', '/api/v1/auth/users', { name: f.get('name'), password: f.get('password'), role: f.get('role') })
    .then(() => { e.target.reset(); return load(); }, show);
});

document.querySelector('[data-testid="token-form"]').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const body = { name: f.get('name'), role: f.get('role') };
  if (f.get('device')) body.device = f.get('device');
  call('POST', '/api/v1/auth/tokens', body).then((t) => {
    document.querySelector('[data-testid="new-token"]').textContent = t.token;
    e.target.reset();
    return load();
  }, show);
});

load().catch(show);
