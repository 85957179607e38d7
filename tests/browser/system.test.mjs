// Browser test of the system page (issue 17): the real iotstream binary, real headless Chromium (Debian's) through
// playwright-core. A simulated camera posts frames; the page's charts move, the camera's fps shows, the warning banner
// appears when the camera goes offline (a short --device-offline-s) or frames are dropped (a tiny storage queue), and
// the page keeps charting through a server restart. Controls are found by their role and accessible name. Every check
// waits for the page state it asserts, never for a time window; the timeouts only bound the wait.
// Run from the repo root:  node --test tests/browser/system.test.mjs
// The environment it reads (IOTSTREAM_BIN, IOTSTREAM_FACES_DIR, IOTSTREAM_MODELS_DIR, ...): see support.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { docsScreenshot } from './docs-screenshot.mjs';
import { ARTIFACTS, FACES, REPO, fitsPhone, launchChromium, startServer, stopAll, stopServer } from './support.mjs';

const WAIT_MS = 20000;       // how long any one page state may take to appear (the page polls every 2 s)
const OFFLINE_S = 2;
const FRAME_MS = 100;        // the simulated camera's pace: 10 fps
const PHOTO = 'ageitgey_face_recognition/examples/obama-480p.jpg';

let browser;
let photo;
const pageErrors = [];

/** The server as both tests run it, with `extraArgs` after; `where` ({ port, dataDir }) starts it again where a
 *  stopped one ran. */
function startSystemServer(extraArgs, where = {}) {
  return startServer(['--recognition-api=false', '--device-offline-s', String(OFFLINE_S), ...extraArgs],
    { prefix: 'system', ...where });
}

/** Posts the photo as camera `id` every FRAME_MS until stopCamera(); a server away meanwhile is noted, not fatal. */
function startCamera(base, id) {
  const cam = { running: true, sent: 0, errors: [] };
  cam.done = (async () => {
    while (cam.running) {
      const t = Date.now();
      try {
        const res = await fetch(`${base}/api/v1/stream/fast`, {
          method: 'POST', headers: { 'Content-Type': 'image/jpeg', 'X-Device-ID': id }, body: photo,
        });
        const body = await res.text();
        if (res.ok) cam.sent++; else cam.errors.push(`${res.status} ${body}`);
      } catch (err) {
        cam.errors.push(err.message);
      }
      await sleep(Math.max(0, FRAME_MS - (Date.now() - t)));  // pacing, not an assertion
    }
  })();
  return cam;
}

async function stopCamera(cam) {
  cam.running = false;
  await cam.done;
}

const row = (id) => `[data-testid="camera-row"][data-device-id="${id}"]`;

/** The camera's frames per second as the page's camera table shows it, once above 0. */
async function fpsAboveZero(page, id) {
  const h = await page.waitForFunction((sel) => {
    const v = parseFloat(document.querySelector(`${sel} [data-testid="camera-fps"]`)?.textContent);
    return v > 0 ? v : null;
  }, row(id), { timeout: WAIT_MS });
  return h.jsonValue();
}

/** How many points the chart plots now. */
const points = (page, chart) => page.getByTestId(`chart-${chart}`).evaluate((f) => Number(f.dataset.points ?? 0));

async function morePoints(page, chart, than) {
  await page.waitForFunction(([name, n]) =>
    Number(document.querySelector(`[data-testid="chart-${name}"]`).dataset.points) > n, [chart, than], { timeout: WAIT_MS });
}

/** How many pixels of the chart's canvas have the colour of its first series (#5b9cff): its line, once drawn. */
function linePixels(name) {
  const c = document.querySelector(`[data-testid="chart-${name}"] canvas`);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - 0x5b) < 24 && Math.abs(d[i + 1] - 0x9c) < 24 && Math.abs(d[i + 2] - 0xff) < 24 && d[i + 3] > 200) n++;
  }
  return n;
}

const legendValue = (page, chart, key) =>
  page.locator(`[data-testid="chart-${chart}"] [data-testid="legend-item"][data-key="${key}"] [data-testid="legend-value"]`);

before(async () => {
  assert.ok(fs.existsSync(path.join(REPO, 'web/vendor/uplot/uPlot.esm.js')),
    'no chart library in web/vendor/uplot: scripts/setup.sh copies it there from node_modules');
  assert.ok(fs.existsSync(path.join(FACES, PHOTO)), `no ${PHOTO} in ${FACES}: set IOTSTREAM_FACES_DIR`);
  photo = fs.readFileSync(path.join(FACES, PHOTO));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopAll();
});

test('system: charts move with a camera, its fps, the offline banner, a server restart, a phone',
  { timeout: 150000 }, async (t) => {
    let s = await startSystemServer(['--auth', 'off', '--recognition=false']);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(`system: ${err.message}`));
    await page.goto(`${s.base}/system.html`);
    let cam;

    await t.test('the page opens on the server\'s figures; recognition is off and says so', async () => {
      assert.equal(await page.title(), 'iotstream · system');
      await page.waitForSelector('[data-testid="conn-status"][data-state="live"]', { timeout: WAIT_MS });
      await page.getByText('No camera has sent a frame yet.').waitFor({ timeout: WAIT_MS });
      await page.getByText('Recognition is off on this server').waitFor({ timeout: WAIT_MS });
      assert.equal(await page.getByTestId('chart-recognition').isHidden(), true);
      assert.equal(await page.getByRole('link', { name: 'System', exact: true }).getAttribute('aria-current'), 'page');
      assert.equal(await page.getByRole('meter', { name: 'Footage stored against the retention budget' })
        .evaluate((m) => m.value), 0, 'nothing stored yet');
      assert.match(await page.getByTestId('disk-figures').textContent(), /^0 B of 512 MiB \(0\.0 %\), 0 frames\.$/);
      assert.equal(await page.getByTestId('warning-banner').isHidden(), true);
    });

    await t.test('a camera\'s frames move the charts and its fps rises above 0', async () => {
      const fpsPoints = await points(page, 'fps');
      assert.equal(await page.evaluate(linePixels, 'fps'), 0, 'no camera: no line yet');
      const storedBefore = await legendValue(page, 'disk', 'disk:stored').textContent();
      cam = startCamera(s.base, 'cam-sys');
      const fps = await fpsAboveZero(page, 'cam-sys');
      t.diagnostic(`cam-sys at ${fps} fps on the page`);
      await morePoints(page, 'fps', fpsPoints + 1);
      await page.waitForFunction(() => parseFloat(document.querySelector(
        '[data-testid="chart-fps"] [data-key="fps:cam-sys"] [data-testid="legend-value"]')?.textContent) > 0, null,
      { timeout: WAIT_MS });
      await page.waitForFunction(`(${linePixels})('fps') > 0`, null, { timeout: WAIT_MS });  // the camera's line
      await page.waitForFunction((before) => document.querySelector(
        '[data-testid="chart-disk"] [data-key="disk:stored"] [data-testid="legend-value"]').textContent !== before,
      storedBefore, { timeout: WAIT_MS });
      assert.equal(await page.locator(`${row('cam-sys')} th`).textContent(), 'cam-sys');
      assert.equal(await page.locator(row('cam-sys')).getAttribute('data-online'), 'true');
      await page.waitForFunction(
        (sel) => document.querySelector(`${sel} [data-testid="camera-success"]`).textContent === '100 %',
        row('cam-sys'), { timeout: WAIT_MS });
      assert.equal(await page.getByTestId('warning-banner').isHidden(), true);
      await page.screenshot({ path: path.join(ARTIFACTS, 'system-desktop.png'), fullPage: true });
      await docsScreenshot(page, ARTIFACTS, 'system');
    });

    await t.test('the banner says when the camera went offline, on this page and the live one', async () => {
      await stopCamera(cam);
      const banner = page.getByRole('alert');
      await banner.getByText(/^Camera offline: cam-sys \(last frame \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)\.$/)
        .waitFor({ timeout: WAIT_MS });
      assert.equal(await page.locator(row('cam-sys')).getAttribute('data-online'), 'false');
      await page.waitForFunction((sel) => document.querySelector(`${sel} [data-testid="camera-fps"]`).textContent === '0.0',
        row('cam-sys'), { timeout: WAIT_MS });
      const live = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      live.on('pageerror', (err) => pageErrors.push(`live: ${err.message}`));
      await live.goto(`${s.base}/`);
      await live.getByRole('alert').getByText(/^Camera offline: cam-sys/).waitFor({ timeout: WAIT_MS });
      await live.getByRole('alert').getByRole('link', { name: 'See the system page' }).click();
      await live.waitForURL(/\/system\.html$/, { timeout: WAIT_MS });
      await live.close();
    });

    await t.test('every page links to the system page', async () => {
      const other = await browser.newPage();
      other.on('pageerror', (err) => pageErrors.push(`nav: ${err.message}`));
      for (const p of ['/', '/footage.html', '/events.html', '/people.html']) {
        await other.goto(`${s.base}${p}`);
        assert.equal(await other.getByRole('link', { name: 'System', exact: true }).getAttribute('href'), 'system.html', p);
      }
      await other.close();
    });

    await t.test('after a server restart the page charts again; the banner goes once the camera is back', async () => {
      await stopServer(s);
      await page.waitForSelector('[data-testid="conn-status"][data-state="reconnecting"]', { timeout: WAIT_MS });
      const before = await points(page, 'fps');
      s = await startSystemServer(['--auth', 'off', '--recognition=false'], { port: s.port, dataDir: s.dataDir });
      await page.waitForSelector('[data-testid="conn-status"][data-state="live"]', { timeout: WAIT_MS });
      await morePoints(page, 'fps', before);
      cam = startCamera(s.base, 'cam-sys');
      const fps = await fpsAboveZero(page, 'cam-sys');
      t.diagnostic(`cam-sys at ${fps} fps after the restart`);
      await page.waitForFunction(() => document.querySelector('[data-testid="warning-banner"]').hidden, null,
        { timeout: WAIT_MS });
      await stopCamera(cam);
      assert.deepEqual(cam.errors, [], 'every frame after the restart was accepted');
    });

    await t.test('on a phone the page fits the screen', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForFunction(() => document.querySelector('[data-testid="chart-fps"] .uplot')?.offsetWidth <= 390, null,
        { timeout: WAIT_MS });
      await fitsPhone(page);
      await page.screenshot({ path: path.join(ARTIFACTS, 'system-phone.png'), fullPage: true });
    });

    await t.test('no uncaught errors in the pages', () => assert.deepEqual(pageErrors, []));
    await page.close();
  });

test('system with --auth on: the login page first; a viewer sees frames dropped and recognition at work',
  { timeout: 120000 }, async () => {
    // A storage queue smaller than one frame: every /fast frame is dropped (and counted).
    const s = await startSystemServer(['--store-queue-bytes', '1000']);
    assert.ok(s.password, 'the first start printed no admin password');
    const login = await fetch(`${s.base}/api/v1/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Origin: s.base },
      body: JSON.stringify({ username: 'admin', password: s.password }),
    });
    assert.equal(login.status, 200);
    const add = await fetch(`${s.base}/api/v1/auth/users`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: s.base, Cookie: login.headers.get('set-cookie').split(';')[0] },
      body: JSON.stringify({ name: 'watcher', password: 'watcher-password', role: 'viewer' }),
    });
    assert.equal(add.status, 201, await add.text());

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(`auth: ${err.message}`));
    await page.goto(`${s.base}/system.html`);
    await page.waitForURL(/\/login\.html$/, { timeout: WAIT_MS });
    await page.fill('[data-testid="login-user"]', 'watcher');
    await page.fill('[data-testid="login-password"]', 'watcher-password');
    await page.click('[data-testid="login-submit"]');
    await page.waitForURL((u) => !u.pathname.endsWith('/login.html'), { timeout: WAIT_MS });
    await page.getByRole('link', { name: 'System', exact: true }).click();
    await page.waitForURL(/\/system\.html$/, { timeout: WAIT_MS });
    await page.waitForSelector('[data-testid="conn-status"][data-state="live"]', { timeout: WAIT_MS });
    await page.waitForSelector('[data-testid="account"]:not([hidden])', { timeout: WAIT_MS });
    assert.equal(await page.getByRole('link', { name: 'Accounts' }).count(), 0, 'no accounts link for a viewer');
    await page.getByText(/^Since the server started: \d+ jobs run, \d+ dropped/).waitFor({ timeout: WAIT_MS });

    const cam = startCamera(s.base, 'cam-drop');
    await page.getByRole('alert')
      .getByText(/^Frames are being dropped since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: the disk is not keeping up/)
      .waitFor({ timeout: WAIT_MS });
    await fpsAboveZero(page, 'cam-drop');
    await page.waitForFunction(() => parseFloat(document.querySelector(
      '[data-testid="chart-drops"] [data-key="drops:dropped"] [data-testid="legend-value"]').textContent) > 0, null,
    { timeout: WAIT_MS });
    await page.screenshot({ path: path.join(ARTIFACTS, 'system-drops.png'), fullPage: true });
    await stopCamera(cam);
    assert.deepEqual(cam.errors, [], '/fast answers 200 to the frames it drops');
    const perf = await page.request.get(`${s.base}/api/v1/system/performance`);
    const { frames } = await perf.json();
    assert.ok(frames.dropped > 0 && frames.stored === 0, JSON.stringify(frames));
    assert.deepEqual(pageErrors, []);
    await page.close();
  });
