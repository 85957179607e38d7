// Browser test of access control: the real binary with --auth on (its default), Debian's headless Chromium through
// playwright-core. The first start's admin password (printed once on stdout) logs in through the login page; the
// dashboard then shows the account links, the admin page creates a token, and logging out leads back to the login.
// Every check waits for the page state it asserts. Run from the repo root:  node --test tests/browser/login.test.mjs
//   IOTSTREAM_BIN  server binary  (default build/src/iotstream)
//   CHROMIUM       browser binary (default /usr/bin/chromium)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.resolve(REPO, process.env.IOTSTREAM_BIN ?? 'build/src/iotstream');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const WAIT_MS = 15000;

let server;
let dataDir;
let base;
let password;
let browser;
const serverLog = [];

function startServer() {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotstream-login-'));
  server = spawn(BIN, ['--port', '0', '--bind', '127.0.0.1', '--data-dir', dataDir, '--recognition=false',
    '--recognition-api=false', '--web-dir', path.join(REPO, 'web')], { stdio: ['ignore', 'pipe', 'pipe'] });
  readline.createInterface({ input: server.stderr }).on('line', (l) => serverLog.push(l));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "ready" within 60 s:\n${serverLog.join('\n')}`)), 60000);
    server.once('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`exited early (${code ?? sig})`)); });
    readline.createInterface({ input: server.stdout }).on('line', (line) => {
      const p = line.match(/user 'admin' with password (\S+) /);
      if (p) password = p[1];
      const m = line.match(/listening on (127\.0\.0\.1:\d+)/);
      if (m) base = `http://${m[1]}`;
      if (line === 'ready') { clearTimeout(timer); resolve(); }
    });
  });
}

before(async () => {
  assert.ok(fs.existsSync(BIN), `no server binary at ${BIN} (set IOTSTREAM_BIN)`);
  await startServer();
  assert.ok(password, 'the first start printed no admin password');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
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
