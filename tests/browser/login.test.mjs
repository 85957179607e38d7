// Browser test of access control: the real binary with --auth on (its default), Debian's headless Chromium through
// playwright-core. The first start's admin password (printed once on stdout) logs in through the login page; the
// dashboard then shows the account links, the admin page creates a token, and logging out leads back to the login.
// Every check waits for the page state it asserts. Run from the repo root:  node --test tests/browser/login.test.mjs
// The environment it reads (IOTSTREAM_BIN, CHROMIUM, ...): see support.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, startServer, stopAll } from './support.mjs';

const WAIT_MS = 15000;

let base;
let password;
let browser;

before(async () => {
  ({ base, password } = await startServer(['--recognition=false', '--recognition-api=false'], { prefix: 'login' }));
  assert.ok(password, 'the first start printed no admin password');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopAll();
});

test('the first-start admin logs in, manages tokens and logs out', async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.waitForURL(/\/login\.html$/, { timeout: WAIT_MS });

  await page.fill('[data-testid="login-user"]', 'admin');
  await page.fill('[data-testid="login-password"]', 'not the password');
  await page.click('[data-testid="login-submit"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="login-msg"]').textContent.includes('wrong'),
    null, { timeout: WAIT_MS });

  await page.fill('[data-testid="login-password"]', password);
  await page.click('[data-testid="login-submit"]');
  await page.waitForSelector('[data-testid="account"]:not([hidden])', { timeout: WAIT_MS });
  await page.waitForSelector('[data-testid="ws-status"][data-state="live"]', { timeout: WAIT_MS });
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'iotstream_session');
  assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Strict');

  await page.click('[data-testid="admin-link"]');
  await page.waitForSelector('[data-testid="user-list"] tr', { timeout: WAIT_MS });
  await page.fill('[data-testid="token-form"] input[name="name"]', 'ha');
  await page.click('[data-testid="token-form"] button');
  await page.waitForFunction(() => document.querySelector('[data-testid="new-token"]').textContent.startsWith('iot_'),
    null, { timeout: WAIT_MS });
  const token = await page.textContent('[data-testid="new-token"]');
  const res = await fetch(`${base}/api/v1/devices`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);

  await page.goto(`${base}/`);
  await page.click('[data-testid="logout"]');
  await page.waitForURL(/\/login\.html$/, { timeout: WAIT_MS });
  const after = await fetch(`${base}/api/v1/devices`, { headers: { Cookie: `iotstream_session=${session.value}` } });
  assert.equal(after.status, 401);
  await page.close();
});
