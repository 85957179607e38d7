// Shared by the people and events pages: API calls, times, the account links, elements built from server strings.
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
