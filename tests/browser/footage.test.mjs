// Browser test of the footage page: the real iotstream binary, real headless Chromium (Debian's) through
// playwright-core, ffprobe and unzip on what it exports. Controls are found by their role and accessible name.
// Every check waits for the page state it asserts, never for a time window; the timeouts only bound the wait.
// Run from the repo root:  node --test tests/browser/footage.test.mjs
// The environment it reads (IOTSTREAM_BIN, IOTSTREAM_FACES_DIR, IOTSTREAM_ARTIFACTS_DIR, ...): see support.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { docsScreenshot } from './docs-screenshot.mjs';
import { ARTIFACTS, FACES, launchChromium, startServer, stopAll } from './support.mjs';

const WAIT_MS = 20000;      // how long any one page state may take to appear
const EXPORT_WAIT_MS = 90000;
const FRAMES = 100;
const STEP_MS = 200;        // the cameras' frame times: 5 fps
const MAX_EXPORT_S = 60;

let browser;
const pageErrors = [];

/** The photo with a JPEG comment naming frame `i` after its SOI marker: every frame's bytes differ. */
function uniqueJpeg(photo, i) {
  const text = Buffer.from(`iotstream footage test frame ${i}`);
  const len = text.length + 2;
  return Buffer.concat([photo.subarray(0, 2), Buffer.from([0xff, 0xfe, len >> 8, len & 0xff]), text, photo.subarray(2)]);
}

/** The server as both tests run it (no recognition, a short export limit), with `extraArgs` after. */
function startFootageServer(extraArgs) {
  return startServer(['--recognition=false', '--recognition-api=false', '--max-export-seconds', String(MAX_EXPORT_S),
    ...extraArgs], { prefix: 'footage' });
}

/** Posts FRAMES frames of `device`, STEP_MS apart from `t0` (their X-Frame-Timestamp), each answered once stored. */
async function postFrames(s, device, photo, t0) {
  const posted = [];
  for (let i = 0; i < FRAMES; i++) {
    const jpeg = uniqueJpeg(photo, i);
    const res = await fetch(`${s.base}/api/v1/stream/stream`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/jpeg', 'X-Device-ID': device, 'X-Frame-Timestamp': String(t0 + i * STEP_MS) },
      body: jpeg,
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.timestamp, t0 + i * STEP_MS);
    posted.push({ id: body.frame_id, ts: body.timestamp, jpeg });
  }
  return posted;
}

/** The frame id and timestamp the page shows, once its image has decoded. */
async function shownFrame(page) {
  const h = await page.waitForFunction(() => {
    const img = document.querySelector('[data-testid="footage-image"]');
    if (!img?.dataset.frameId || !img.complete || img.naturalWidth === 0) return null;
    return { id: Number(img.dataset.frameId), ts: Number(img.dataset.timestamp), src: img.getAttribute('src'),
      caption: document.querySelector('[data-testid="footage-frame-id"]').textContent };
  }, null, { timeout: WAIT_MS });
  return h.jsonValue();
}

async function waitForFrame(page, id) {
  await page.waitForFunction((want) => {
    const img = document.querySelector('[data-testid="footage-image"]');
    return img?.dataset.frameId === String(want) && img.complete && img.naturalWidth > 0;
  }, id, { timeout: WAIT_MS });
  return shownFrame(page);
}

/** Runs an export from the page and returns its finished job (read from the API) and the downloaded file. */
async function exportFromPage(page, base, format, previousHref) {
  await page.getByLabel('Format').selectOption(format);
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  const link = page.getByRole('link', { name: /^Download the/ });
  await page.waitForFunction((old) => {
    const a = document.querySelector('[data-testid="export-download"]');
    return !a.hidden && a.getAttribute('href') && a.getAttribute('href') !== old;
  }, previousHref, { timeout: EXPORT_WAIT_MS });
  const href = await link.getAttribute('href');
  assert.equal(await page.getByRole('progressbar', { name: 'Export progress' }).evaluate((p) => p.value), 1);
  assert.match(await page.getByTestId('export-status').textContent(), /^Ready: \d+ frames/);
  // Through the page's own cookies: with --auth on, the file needs the session.
  const job = await (await page.request.get(base + href.replace(/\/file$/, ''))).json();
  const res = await page.request.get(base + href);
  assert.equal(res.status(), 200);
  const file = path.join(ARTIFACTS, `footage-export-${path.basename(href.replace(/\/file$/, ''))}.${format}`);
  fs.writeFileSync(file, await res.body());
  return { job, file, href };
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopAll();
});

test('footage: timeline, scrub, step, play, events, MP4 and ZIP exports', { timeout: 240000 }, async (t) => {
  const s = await startFootageServer(['--auth', 'off']);
  const photo = fs.readFileSync(path.join(FACES, 'ageitgey_face_recognition/examples/obama-480p.jpg'));
  // Frames from 10 s ago to 10 s ahead (cameras' clocks may run ahead): the camera's device_online event, at its
  // first upload, falls inside them.
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 10000;
  const posted = await postFrames(s, 'cam-a', photo, t0);
  const byId = new Map(posted.map((f) => [f.id, f]));

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${s.base}/footage.html?device=cam-a`);

  await t.test('the page opens on the newest stored frame, with the density drawn', async () => {
    assert.equal(await page.title(), 'iotstream · footage');
    const last = posted[FRAMES - 1];
    const shown = await waitForFrame(page, last.id);
    assert.equal(await page.getByLabel('Camera').inputValue(), 'cam-a');
    assert.equal(shown.ts, last.ts);
    assert.equal(shown.src, `/api/v1/devices/cam-a/frames/${last.id}`);
    assert.equal(shown.caption, `frame ${last.id}`);
    const slider = page.getByRole('slider', { name: 'Position in the stored footage' });
    assert.equal(await slider.getAttribute('min'), String(t0));
    assert.equal(await slider.getAttribute('max'), String(last.ts));
    const timeline = await (await fetch(`${s.base}/api/v1/footage/cam-a/timeline`)).json();
    assert.equal(timeline.frames, FRAMES);
    assert.equal(timeline.buckets.reduce((n, b) => n + b.frames, 0), FRAMES);
    const drawn = await page.getByTestId('timeline-density').evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
      return false;
    });
    assert.ok(drawn, 'the density canvas has bars');
  });

  await t.test('scrubbing back shows the frame stored at that time', async () => {
    const target = posted[30];  // 6 s after the first frame: on the slider's 1 s steps
    await page.getByRole('slider', { name: 'Position in the stored footage' }).fill(String(target.ts));
    const shown = await waitForFrame(page, target.id);
    assert.equal(shown.ts, target.ts);
    const res = await fetch(`${s.base}${shown.src}`);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), target.jpeg, 'the image shown is that frame\'s JPEG');
  });

  await t.test('stepping frame by frame, by button and by key', async () => {
    await page.getByRole('button', { name: 'Next frame' }).click();
    await waitForFrame(page, posted[31].id);
    await page.getByRole('button', { name: 'Previous frame' }).click();
    await waitForFrame(page, posted[30].id);
    await page.getByRole('button', { name: 'Previous frame' }).click();
    await waitForFrame(page, posted[29].id);
    await page.getByRole('button', { name: 'Play' }).focus();
    await page.keyboard.press('.');
    await waitForFrame(page, posted[30].id);
  });

  await t.test('playing at 16x moves forward through the stored frames, and pauses', async () => {
    await page.getByLabel('Speed').selectOption('16');
    await page.getByRole('button', { name: 'Play' }).click();
    // 70 frames 200 ms apart take at least 875 ms at 16x: it is still playing.
    assert.equal(await page.getByTestId('play').getAttribute('aria-label'), 'Pause');
    assert.equal(await page.getByTestId('play').getAttribute('aria-pressed'), 'true');
    await page.waitForFunction((id) => Number(document.querySelector('[data-testid="footage-image"]').dataset.frameId) >= id,
      posted[45].id, { timeout: WAIT_MS });
    // Pauses; or, had it reached the newest frame meanwhile, starts and stops at once: paused either way.
    await page.getByTestId('play').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="play"]').getAttribute('aria-pressed') === 'false',
      null, { timeout: WAIT_MS });
    assert.equal(await page.getByTestId('play').getAttribute('aria-label'), 'Play');
    const shown = await shownFrame(page);
    assert.equal(byId.get(shown.id)?.ts, shown.ts, 'every frame shown is a stored frame with its own time');
  });

  await t.test('an event on the timeline jumps to the footage at its time', async () => {
    const jump = page.getByRole('button', { name: /^Jump to device (added|online)/ });
    await jump.first().waitFor({ timeout: WAIT_MS });
    const ts = Number(await jump.first().getAttribute('data-ts'));
    const [expected] = (await (await fetch(`${s.base}/api/v1/devices/cam-a/frames?to=${ts}&limit=1`)).json()).frames;
    assert.ok(expected, 'a frame before the event');
    await jump.first().click();
    const shown = await waitForFrame(page, expected.frame_id);
    assert.ok(shown.ts <= ts);
    assert.equal(await page.getByTestId('timeline-markers').locator('.marker').count() >= 1, true);
  });

  let mp4Href = null;
  await t.test('ten seconds exported as MP4: H.264 with every stored frame of the range', async () => {
    await page.getByRole('slider', { name: 'Position in the stored footage' }).fill(String(posted[10].ts));
    await waitForFrame(page, posted[10].id);
    await page.getByRole('button', { name: 'Start at the shown frame' }).click();
    assert.equal(await page.getByLabel('Length in seconds').inputValue(), '10');
    const { job, file, href } = await exportFromPage(page, s.base, 'mp4', null);
    mp4Href = href;
    assert.equal(job.state, 'done');
    assert.equal(job.from, posted[10].ts);
    assert.equal(job.to, posted[10].ts + 10000);
    const inRange = (await (await fetch(`${s.base}/api/v1/devices/cam-a/frames?from=${job.from}&to=${job.to - 1}&limit=1000`)).json()).count;
    assert.equal(inRange, 10000 / STEP_MS);
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0',
      '-show_entries', 'stream=codec_name,pix_fmt,nb_read_frames:format=duration,format_name', '-of', 'json', file]));
    const stream = probe.streams[0];
    assert.equal(stream.codec_name, 'h264');
    assert.equal(stream.pix_fmt, 'yuv420p');
    assert.equal(Number(stream.nb_read_frames), inRange, 'one video frame per stored frame');
    // The video runs from the first frame's time to the end of the range: its content, not a clock, sets this.
    assert.ok(Math.abs(Number(probe.format.duration) - 10) < 0.05, `duration ${probe.format.duration}`);
    // And Chromium decodes it: a <video> of the export reaches its first frame.
    const video = await page.evaluate(([src, timeout]) => new Promise((resolve, reject) => {
      const v = document.createElement('video');
      v.muted = true;
      v.onloadeddata = () => resolve({ width: v.videoWidth, height: v.videoHeight, duration: v.duration });
      v.onerror = () => reject(new Error(`the browser cannot play the export (MediaError ${v.error?.code})`));
      setTimeout(() => reject(new Error(`no frame decoded within ${timeout} ms`)), timeout);
      v.src = src;
    }), [href, WAIT_MS]);
    assert.deepEqual({ width: video.width, height: video.height }, { width: 852, height: 480 }, 'the photo, cut to even');
    assert.ok(Math.abs(video.duration - 10) < 0.05, `the browser reads ${video.duration} s`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'footage.png'), fullPage: true });
    await docsScreenshot(page, ARTIFACTS, 'footage');
  });

  await t.test('the same range as a ZIP holds the stored JPEGs byte for byte', async () => {
    const { job, file } = await exportFromPage(page, s.base, 'zip', mp4Href);
    const names = execFileSync('unzip', ['-Z1', file]).toString().trim().split('\n');
    const expected = posted.filter((f) => f.ts >= job.from && f.ts < job.to);
    assert.equal(names.length, expected.length);
    for (const f of expected) {
      const name = `cam-a_${f.ts}_${f.id}.jpg`;
      assert.ok(names.includes(name), `${name} in ${names.slice(0, 3)}...`);
      const bytes = execFileSync('unzip', ['-p', file, name], { maxBuffer: 1 << 24 });
      assert.deepEqual(bytes, f.jpeg, `${name} is the stored JPEG`);
    }
    const methods = execFileSync('unzip', ['-v', file]).toString();
    assert.doesNotMatch(methods, /Defl/, 'stored, not compressed');
  });

  await t.test('a length over the server\'s limit is refused by the form; a range without frames by the server', async () => {
    const seconds = page.getByLabel('Length in seconds');
    assert.equal(await seconds.getAttribute('max'), String(MAX_EXPORT_S));
    await seconds.fill(String(MAX_EXPORT_S + 1));
    assert.equal(await seconds.evaluate((i) => i.validity.rangeOverflow), true);
    await seconds.fill('10');
    await page.getByLabel('Start (local time)').fill('2000-01-01T00:00:01');  // with seconds: Chromium drops ':00'
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="export-status"]').textContent.startsWith('Not exported'),
      null, { timeout: WAIT_MS });
    assert.equal(await page.getByTestId('export-status').textContent(), 'Not exported: no stored frames in that range');
  });

  await t.test('on a phone the page fits the screen and its controls stay reachable', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
    for (const name of ['Previous frame', 'Play', 'Next frame', 'Export']) {
      const box = await page.getByRole('button', { name, exact: true }).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${name} is on screen`);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'footage-phone.png'), fullPage: true });
  });

  await t.test('no uncaught errors in the page', () => assert.deepEqual(pageErrors, []));
  await page.close();
});

test('footage with --auth on: the login page first; a viewer watches and exports', { timeout: 120000 }, async () => {
  const s = await startFootageServer([]);
  assert.ok(s.password, 'the first start printed no admin password');
  const login = await fetch(`${s.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Origin: s.base },
    body: JSON.stringify({ username: 'admin', password: s.password }),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get('set-cookie').split(';')[0];
  const add = await fetch(`${s.base}/api/v1/auth/users`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Origin: s.base, Cookie: cookie },
    body: JSON.stringify({ name: 'watcher', password: 'watcher-password', role: 'viewer' }),
  });
  assert.equal(add.status, 201, await add.text());
  const photo = fs.readFileSync(path.join(FACES, 'ageitgey_face_recognition/examples/biden.jpg'));
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 60000;
  await postFrames(s, 'cam-v', photo, t0);

  const page = await browser.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${s.base}/footage.html?device=cam-v`);
  await page.waitForURL(/\/login\.html$/, { timeout: WAIT_MS });
  await page.fill('[data-testid="login-user"]', 'watcher');
  await page.fill('[data-testid="login-password"]', 'watcher-password');
  await page.click('[data-testid="login-submit"]');
  await page.waitForURL((u) => !u.pathname.endsWith('/login.html'), { timeout: WAIT_MS });
  await page.getByRole('link', { name: 'Footage' }).first().click();
  await page.waitForURL(/\/footage\.html/, { timeout: WAIT_MS });
  await shownFrame(page);  // the only camera, chosen by itself
  assert.equal(await page.getByLabel('Camera').inputValue(), 'cam-v');
  await page.getByRole('button', { name: 'Start at the shown frame' }).click();
  assert.notEqual(await page.getByLabel('Start (local time)').inputValue(), '');
  await page.waitForSelector('[data-testid="account"]:not([hidden])', { timeout: WAIT_MS });
  assert.equal(await page.getByRole('link', { name: 'Accounts' }).count(), 0, 'no accounts link for a viewer');
  const { job } = await exportFromPage(page, s.base, 'zip', null).catch(async (err) => {
    throw new Error(`${err.message}: ${await page.getByTestId('export-status').textContent()}`);
  });
  assert.equal(job.state, 'done');
  assert.deepEqual(pageErrors, []);
  await page.close();
});
