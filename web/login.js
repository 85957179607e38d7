// The login page: POST /api/v1/auth/login sets the session cookie (HttpOnly, SameSite=Strict), then the dashboard.
const form = document.querySelector('[data-testid="login-form"]');
const msg = document.querySelector('[data-testid="login-msg"]');

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  msg.textContent = '';
  const data = new FormData(form);
  try {
    const res = await fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: data.get('username'), password: data.get('password') }),
    });
    if (res.ok) {
      location.href = '/';
      return;
    }
    const body = await res.json().catch(() => ({}));
    msg.textContent = body.error ?? `login failed (${res.status})`;
  } catch (err) {
    msg.textContent = `cannot reach the server: ${err.message}`;
  }
});
