// Browser test of the live dashboard: real iotstream binary, real headless Chromium (Debian's), driven
// by playwright-core. Run from the repo root:  node --test tests/browser/
// Every check waits for the page state it asserts (a new camera frame can replace an image at any moment), never
// for a time window; the timeouts only bound how long to wait on a loaded machine.
// The environment it reads (IOTSTREAM_BIN, IOTSTREAM_FACES_DIR, IOTSTREAM_ARTIFACTS_DIR, ...): see support.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { docsScreenshot } from './docs-screenshot.mjs';
import { ARTIFACTS, FACES, REPO, jpegSize, launchChromium, startServer, stopAll } from './support.mjs';

const OFFLINE_S = 2;
const FRAME_MS = 200;
const WAIT_MS = 15000; // how long any one page state may take to appear

const photoFiles = {
  'cam-a': 'ageitgey_face_recognition/examples/obama-480p.jpg',
  'cam-b': 'ageitgey_face_recognition/examples/biden.jpg',
};
const photos = {}; // id -> JPEG bytes, read in before()

let base;          // http://127.0.0.1:PORT
let browser;
let page;
const pageErrors = [];
const cameras = {}; // id -> { running, lastOk, sent, errors }

/** Posts the camera's photo every FRAME_MS until stopCamera(id); `lastOk` is when the newest accepted frame was
 *  sent (the server received it after that). */
function startCamera(id, delayMs = 0) {
  const cam = { running: true, lastOk: 0, sent: 0, errors: [] };
  cameras[id] = cam;
  cam.done = (async () => {
    await sleep(delayMs); // staggers the cameras' pace; nothing waits on it
    while (cam.running) {
      const t = Date.now();
      try {
        const res = await fetch(`${base}/api/v1/stream/fast`, {
          method: 'POST',
          headers: { 'Content-Type': 'image/jpeg', 'X-Device-ID': id },
          body: photos[id],
        });
        const body = await res.text();
        if (res.ok) { cam.lastOk = t; cam.sent++; } else cam.errors.push(`${res.status} ${body}`);
      } catch (err) {
        cam.errors.push(err.message);
      }
      await sleep(Math.max(0, FRAME_MS - (Date.now() - t))); // pacing, not an assertion
    }
  })();
}

async function stopCamera(id) {
  cameras[id].running = false;
  await cameras[id].done;
  return cameras[id].lastOk;
}

const tile = (id) => `[data-testid="camera-tile"][data-device-id="${id}"]`;

/** Waits until the tile's <img> shows a decoded frame other than `oldSrc`, and returns its src and decoded
 *  size as read in that same check: the dashboard swaps in each new frame's blob URL as it arrives, and the
 *  image reads 0x0 until that one decodes, so a second read after the wait could catch the next frame. */
async function decodedTileImage(id, oldSrc = null) {
  const ready = await page.waitForFunction(([sel, old]) => {
    const img = document.querySelector(`${sel} [data-testid="camera-image"]`);
    const src = img?.getAttribute('src');
    if (!src || src === old || !img.complete || img.naturalWidth === 0) return null;
    return { src, width: img.naturalWidth, height: img.naturalHeight };
  }, [tile(id), oldSrc], { timeout: WAIT_MS });
  return ready.jsonValue();
}

before(async () => {
  assert.ok(fs.existsSync(path.join(FACES, 'MANIFEST.tsv')),
    `no face photos at ${FACES} (no MANIFEST.tsv): set IOTSTREAM_FACES_DIR to the shared face set ` +
    `(test.sh: FACES_DIR), or put it at ${path.resolve(REPO, '../shared/faces')}`);
  for (const [id, file] of Object.entries(photoFiles)) photos[id] = fs.readFileSync(path.join(FACES, file));
  // --auth off: this suite tests the dashboard's views; the login is tested in login.test.mjs.
  ({ base } = await startServer(['--auth', 'off', '--device-offline-s', String(OFFLINE_S)], { prefix: 'dashboard' }));
  startCamera('cam-a');
  startCamera('cam-b', FRAME_MS / 2);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(base + '/');
});

after(async () => {
  for (const id of Object.keys(cameras)) cameras[id].running = false;
  await Promise.all(Object.values(cameras).map((c) => c.done));
  if (page) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png') }).catch(() => {});
  }
  await browser?.close();
  await stopAll();
});

test('dashboard: live tiles, offline flip, rename', { timeout: 90000 }, async (t) => {
  await t.test('the page is served from /', async () => {
    assert.equal(await page.title(), 'iotstream · live');
    const css = await fetch(`${base}/style.css`);
    assert.equal(css.status, 200);
    // Access control is off: the account links (Log out) stay hidden.
    assert.equal(await page.getByRole('button', { name: 'Log out' }).isVisible(), false);
  });

  await t.test('the WebSocket greets with {"type":"hello","devices":[...]}', async () => {
    const hello = await page.evaluate((timeout) => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      ws.onmessage = (e) => {
        if (typeof e.data !== 'string') return;
        ws.close();
        resolve(JSON.parse(e.data));
      };
      ws.onerror = () => reject(new Error('WebSocket /ws failed'));
      setTimeout(() => reject(new Error(`no text message on /ws within ${timeout} ms`)), timeout);
    }), WAIT_MS);
    assert.equal(hello.type, 'hello');
    assert.ok(Array.isArray(hello.devices), `hello.devices should be an array, got ${JSON.stringify(hello.devices).slice(0, 200)}`);
    for (const d of hello.devices) assert.equal(typeof d.id, 'string');
  });

  await t.test('both cameras get a tile showing decoded frames', async () => {
    for (const id of ['cam-a', 'cam-b']) {
      const img = await decodedTileImage(id);
      assert.match(img.src, /^blob:/, `${id} frames should arrive over the WebSocket`);
      assert.deepEqual({ width: img.width, height: img.height }, jpegSize(photos[id]), `${id} decodes to the posted photo`);
      assert.equal(await page.getAttribute(tile(id), 'data-online'), 'true');
      assert.equal(await page.textContent(`${tile(id)} [data-testid="camera-state"]`), 'online');
    }
  });

  await t.test('the images keep changing (new frames replace old ones)', async () => {
    for (const id of ['cam-a', 'cam-b']) {
      let { src } = await decodedTileImage(id);
      const seen = new Set([src]);
      for (let i = 0; i < 3; i++) {
        ({ src } = await decodedTileImage(id, src));
        seen.add(src);
      }
      assert.ok(seen.size >= 4, `${id}: expected 4 distinct frame URLs, saw ${seen.size}`);
    }
  });

  await t.test('fps and last seen come from the device API', async () => {
    await page.waitForFunction((sel) => /[1-9]/.test(document.querySelector(`${sel} [data-testid="camera-fps"]`).textContent),
      tile('cam-a'), { timeout: WAIT_MS });
    assert.match(await page.textContent(`${tile('cam-a')} [data-testid="camera-last-seen"]`), /just now|\d+ s ago/);
    await docsScreenshot(page, ARTIFACTS, 'live');
  });

  await t.test('a tile opens a large live view with stored thumbnails', async () => {
    await page.click(tile('cam-a'));
    const view = '[data-testid="camera-view"]';
    await page.waitForSelector(`${view}[open]`, { timeout: WAIT_MS });
    assert.equal(await page.getAttribute(view, 'data-device-id'), 'cam-a');
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="view-image"]');
      return img.complete && img.naturalWidth > 0;
    }, null, { timeout: WAIT_MS });
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="thumbnail"] img')]
      .some((img) => img.complete && img.naturalWidth > 0), null, { timeout: WAIT_MS });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-view.png') });
    await page.click('[data-testid="view-close"]');
    await page.waitForSelector(`${view}:not([open])`, { timeout: WAIT_MS, state: 'attached' });
  });

  await t.test('renaming cam-a in the device list renames its tile and the device', async () => {
    const row = `[data-testid="device-row"][data-device-id="cam-a"]`;
    await page.fill(`${row} [data-testid="rename-input"]`, 'Front door');
    await page.click(`${row} [data-testid="rename-save"]`);
    await page.waitForFunction((sel) => document.querySelector(`${sel} [data-testid="camera-name"]`).textContent === 'Front door',
      tile('cam-a'), { timeout: WAIT_MS });
    const res = await fetch(`${base}/api/v1/devices/cam-a`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).name, 'Front door');
    assert.equal(await page.textContent(`${row} [data-testid="rename-msg"]`), 'saved');
  });

  await t.test('cam-b flips to offline soon after it stops posting', async () => {
    const lastFrame = await stopCamera('cam-b');
    // Server: offline 2 s after the last frame; dashboard: its event, or the 2 s poll.
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.online === 'false',
      tile('cam-b'), { timeout: WAIT_MS });
    const flippedAfter = Date.now() - lastFrame;
    t.diagnostic(`cam-b shown offline ${flippedAfter} ms after its last frame`);
    assert.ok(flippedAfter >= OFFLINE_S * 1000 - 250, `offline too early (${flippedAfter} ms)`);
    assert.equal(await page.textContent(`${tile('cam-b')} [data-testid="camera-state"]`), 'offline');
    assert.equal(await page.getAttribute(tile('cam-a'), 'data-online'), 'true', 'cam-a still online');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="event"][data-type="device_offline"]')]
      .some((li) => li.textContent.includes('cam-b')), null, { timeout: WAIT_MS });
  });

  await t.test('marking cam-a as sleeping between bursts is saved', async () => {
    const row = `[data-testid="device-row"][data-device-id="cam-a"]`;
    await page.check(`${row} [data-testid="sparse-toggle"]`);
    await page.waitForFunction((sel) => document.querySelector(`${sel} [data-testid="rename-msg"]`).textContent === 'saved',
      row, { timeout: WAIT_MS });
    const device = await (await fetch(`${base}/api/v1/devices/cam-a`)).json();
    assert.equal(device.sparse_marked, true);
    assert.equal(device.sparse, true);
    assert.equal(await page.isChecked(`${row} [data-testid="sparse-toggle"]`), true);
  });

  await t.test('deleting cam-b removes its tile and its row', async () => {
    const res = await fetch(`${base}/api/v1/devices/cam-b`, { method: 'DELETE' });
    assert.equal(res.status, 200);
    await page.waitForFunction((sel) => document.querySelector(sel) === null, tile('cam-b'), { timeout: WAIT_MS });
    await page.waitForFunction(() => document.querySelector('[data-testid="device-row"][data-device-id="cam-b"]') === null,
      null, { timeout: WAIT_MS });
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="event"][data-type="device_removed"]')]
      .some((li) => li.textContent.includes('cam-b')), null, { timeout: WAIT_MS });
    assert.notEqual(await page.$(tile('cam-a')), null, 'cam-a keeps its tile');
  });

  await t.test('no uncaught errors in the page, cameras were accepted', () => {
    assert.deepEqual(pageErrors, []);
    for (const [id, cam] of Object.entries(cameras)) {
      assert.deepEqual(cam.errors, [], `${id} upload errors`);
      assert.ok(cam.sent > 5, `${id} sent ${cam.sent} frames`);
    }
  });
});
