// Browser test of the people and events pages (issue 17): the real iotstream binary with recognition on, real headless
// Chromium (Debian's) through playwright-core. Controls are found by their role and accessible name. Every check waits
// for the page state it asserts, never for a time window; the timeouts only bound the wait.
// Run from the repo root:  node --test tests/browser/people.test.mjs
// The environment it reads (IOTSTREAM_BIN, IOTSTREAM_FACES_DIR, IOTSTREAM_MODELS_DIR, ...): see support.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { docsScreenshot } from './docs-screenshot.mjs';
import { ARTIFACTS, FACES, fitsPhone, launchChromium, startServer, stopAll } from './support.mjs';

const WAIT_MS = 30000;         // how long any one page state may take to appear (recognition runs on a loaded CPU)
const EVENT_TRIES = 12;        // frames posted, one after the other, until the camera's event is on the page
const PER_FRAME_WAIT_MS = 5000;

// Photos from the shared set, checked against its MANIFEST.tsv (identity, faces found): never copied into the repo.
const PHOTOS = {
  enrol1: ['ageitgey_face_recognition/examples/knn_examples/train/obama/obama.jpg', 'barack_obama', 1],
  enrol2: ['ageitgey_face_recognition/examples/knn_examples/train/obama/obama2.jpg', 'barack_obama', 1],
  enrol3: ['ageitgey_face_recognition/examples/obama_small.jpg', 'barack_obama', 1],
  twoFaces: ['ageitgey_face_recognition/examples/knn_examples/test/kit_with_rose.jpg', 'multi', 2],
  noFace: ['davisking_dlib/dlib/test/ffmpeg_data/dog.jpg', 'none', 0],
  camera: ['ageitgey_face_recognition/examples/obama-480p.jpg', 'barack_obama', 1],
  otherCamera: ['ageitgey_face_recognition/examples/biden.jpg', 'joe_biden', 1],
};
const photo = (key) => path.join(FACES, PHOTOS[key][0]);

let browser;
const pageErrors = [];

/** The server as both tests run it, with `extraArgs` after. */
function startPeopleServer(extraArgs) {
  // Every frame goes to recognition, so that one posted frame is enough for an event.
  return startServer(['--recognition-api=false', '--recognition-sample-rate', '1', ...extraArgs], { prefix: 'people' });
}

async function getJson(url, headers = {}) {
  const res = await fetch(url, { headers });
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return res.json();
}

before(async () => {
  const manifest = path.join(FACES, 'MANIFEST.tsv');
  assert.ok(fs.existsSync(manifest), `no face photos at ${FACES} (no MANIFEST.tsv): set IOTSTREAM_FACES_DIR`);
  const rows = new Map(fs.readFileSync(manifest, 'utf8').split('\n').map((l) => l.split('\t')).map((c) => [c[0], c]));
  for (const [file, identity, faces] of Object.values(PHOTOS)) {
    const row = rows.get(file);
    assert.ok(row, `${file} is not in ${manifest}`);
    assert.equal(row[1], identity, `${file}'s identity`);
    assert.equal(Number(row[2]), faces, `${file}'s face count`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopAll();
});

test('people and events: enrol, rename, drop a photo, a live event, not this person, filters, deletions, strangers, ' +
  '"this is ...", phone, a pick of one face of two', { timeout: 280000 }, async (t) => {
    const s = await startPeopleServer(['--auth', 'off']);
    const people = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    people.on('pageerror', (err) => pageErrors.push(`people: ${err.message}`));
    await people.goto(`${s.base}/people.html`);
    const card = (name) => people.getByTestId('person').filter({ has: people.getByRole('heading', { name, exact: true }) });

    await t.test('enrol a person from two photos at once; the server\'s answer is shown per photo', async () => {
      assert.equal(await people.title(), 'iotstream · people');
      await people.getByText('Nobody is enrolled yet.').waitFor({ timeout: WAIT_MS });
      await people.getByLabel('Name', { exact: true }).fill('Barack');
      await people.getByLabel('Photos (one face each)').setInputFiles(
        [photo('enrol1'), photo('enrol2'), photo('twoFaces'), photo('noFace')]);
      await people.getByRole('button', { name: 'Add person' }).click();
      const results = people.getByRole('list', { name: 'Uploaded photos', exact: true }).getByRole('listitem');
      await people.waitForFunction(() => {
        const items = [...document.querySelectorAll('[data-testid="enrol-results"] li')];
        return items.length === 4 && items.every((i) => i.dataset.state !== 'pending');
      }, null, { timeout: WAIT_MS * 2 });
      const lines = await results.allTextContents();
      assert.equal(lines[0], 'obama.jpg: added to Barack');
      assert.equal(lines[1], 'obama2.jpg: added to Barack');
      assert.equal(lines[2], 'kit_with_rose.jpg: 2 faces: pick the one to add');
      assert.match(lines[3], /^dog\.jpg: not added: no face found/);
      await people.waitForFunction(() => {
        const imgs = [...document.querySelectorAll('[data-testid="person-photo"] img')];
        return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
      }, null, { timeout: WAIT_MS });
      assert.equal(await card('Barack').getByRole('img', { name: /^Photo \d of Barack$/ }).count(), 2);
      const listed = await getJson(`${s.base}/api/v1/recognition/permitted-faces`);
      assert.deepEqual(listed.people.map((p) => [p.name, p.faces]), [['Barack', 2]]);
    });

    await t.test('rename by keyboard', async () => {
      const input = people.getByLabel('New name for Barack');
      await input.fill('Barack Obama');
      await input.press('Enter');
      await card('Barack Obama').waitFor({ timeout: WAIT_MS });
      const listed = await getJson(`${s.base}/api/v1/recognition/permitted-faces`);
      assert.deepEqual(listed.people.map((p) => p.name), ['Barack Obama']);
      await people.screenshot({ path: path.join(ARTIFACTS, 'people-desktop.png'), fullPage: true });
    });

    await t.test('a photo dropped on a person\'s card is added to them', async () => {
      const bytes = fs.readFileSync(photo('enrol3')).toString('base64');
      const dataTransfer = await people.evaluateHandle((b64) => {
        const dt = new DataTransfer();
        const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        dt.items.add(new File([raw], 'dropped.jpg', { type: 'image/jpeg' }));
        return dt;
      }, bytes);
      await card('Barack Obama').dispatchEvent('drop', { dataTransfer });
      await card('Barack Obama').getByText('dropped.jpg: added to Barack Obama').waitFor({ timeout: WAIT_MS });
      await card('Barack Obama').getByRole('img', { name: 'Photo 3 of Barack Obama' }).waitFor({ timeout: WAIT_MS });
      assert.equal((await getJson(`${s.base}/api/v1/recognition/permitted-faces`)).people[0].faces, 3);
    });

    const events = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    events.on('pageerror', (err) => pageErrors.push(`events: ${err.message}`));
    let eventId;

    await t.test('a camera\'s face appears on the events page without a reload', async () => {
      await events.goto(`${s.base}/events.html`);
      await events.waitForSelector('[data-testid="ws-status"][data-state="live"]', { timeout: WAIT_MS });
      await events.evaluate(() => { window.notReloaded = true; });
      const jpeg = fs.readFileSync(photo('camera'));
      const item = events.getByTestId('event').filter({ has: events.getByText('Barack Obama', { exact: true }) });
      for (let i = 0; i < EVENT_TRIES && await item.count() === 0; i++) {
        const res = await fetch(`${s.base}/api/v1/stream/fast`, {
          method: 'POST', headers: { 'Content-Type': 'image/jpeg', 'X-Device-ID': 'cam-door' }, body: jpeg,
        });
        assert.equal(res.status, 200, await res.text());
        // The next frame only if this one's recognition gave no event (dropped under load, say).
        await item.first().waitFor({ timeout: PER_FRAME_WAIT_MS }).catch(() => {});
      }
      await item.first().waitFor({ timeout: WAIT_MS });
      assert.equal(await events.evaluate(() => window.notReloaded), true, 'the page was not reloaded');
      const first = item.first();
      eventId = Number(await first.getAttribute('data-event-id'));
      assert.equal(await first.getByTestId('event-camera').textContent(), 'cam-door');
      assert.match(await first.getByTestId('event-distance').textContent(), /^distance 0\.\d\d$/);
      await events.waitForFunction((id) => {
        const img = document.querySelector(`[data-event-id="${id}"] img`);
        return img?.complete && img.naturalWidth > 0;
      }, eventId, { timeout: WAIT_MS });
      assert.equal(await first.getByRole('img', { name: 'Face of Barack Obama', exact: true }).count(), 1);
      const stored = await getJson(`${s.base}/api/v1/events/${eventId}`);
      assert.equal(stored.type, 'person_recognised');
      assert.equal(stored.name, 'Barack Obama');
      const href = await first.getByRole('link', { name: /^Footage of cam-door at / }).getAttribute('href');
      assert.equal(href, `footage.html?device=cam-door&t=${stored.frame_ts}`);
      // The frame it came from, the face's box drawn on it.
      await first.getByTestId('event-box').waitFor({ timeout: WAIT_MS });
      assert.equal(await first.getByRole('img', { name: 'Frame with the face of Barack Obama', exact: true }).count(), 1);
      await events.screenshot({ path: path.join(ARTIFACTS, 'events-desktop.png'), fullPage: true });
    });

    await t.test('"not this person" is sent and shown', async () => {
      const item = events.locator(`[data-event-id="${eventId}"]`);
      await item.getByRole('button', { name: /^Not Barack Obama: cam-door at / }).click();
      await item.getByText('Marked: not Barack Obama').waitFor({ timeout: WAIT_MS });
      assert.equal(await item.getByRole('button', { name: /^Not / }).count(), 0);
      assert.equal((await getJson(`${s.base}/api/v1/events/${eventId}`)).feedback, 'wrong');
    });

    await t.test('filters: kind, person, camera and time', async () => {
      const item = events.locator(`[data-event-id="${eventId}"]`);
      await events.getByLabel('Kind').selectOption('unknown_face');
      await item.waitFor({ state: 'detached', timeout: WAIT_MS });
      await events.getByLabel('Kind').selectOption('person_recognised');
      await item.waitFor({ timeout: WAIT_MS });
      await events.getByLabel('Person').selectOption({ label: 'Barack Obama' });
      await item.waitFor({ timeout: WAIT_MS });
      // The camera list is read when the page opens: cam-door came later.
      await events.reload();
      await events.getByLabel('Camera').selectOption('cam-door');
      await item.waitFor({ timeout: WAIT_MS });
      await events.getByLabel('From (local time)').fill('2099-01-01T00:00');
      await events.getByText('No faces seen that match these filters.').waitFor({ timeout: WAIT_MS });
      await events.getByRole('button', { name: 'Clear filters' }).click();
      await item.waitFor({ timeout: WAIT_MS });
      await item.getByText('Marked: not Barack Obama').waitFor({ timeout: WAIT_MS });
    });

    await t.test('the footage link opens that camera at that moment', async () => {
      const stored = await getJson(`${s.base}/api/v1/events/${eventId}`);
      await events.locator(`[data-event-id="${eventId}"]`).getByRole('link', { name: /^Footage of / }).click();
      await events.waitForURL(/\/footage\.html\?device=cam-door/, { timeout: WAIT_MS });
      // The event's own frame: the newest stored at or before its capture time.
      await events.waitForFunction((id) => {
        const img = document.querySelector('[data-testid="footage-image"]');
        return img?.dataset.frameId === String(id) && img.complete && img.naturalWidth > 0;
      }, stored.frame_id, { timeout: WAIT_MS });
      assert.equal(await events.getByLabel('Camera').inputValue(), 'cam-door');
    });

    await t.test('delete a photo, then the person, each after a confirmation', async () => {
      await people.getByRole('button', { name: 'Delete photo 2 of Barack Obama' }).click();
      const dialog = people.getByRole('dialog');
      await dialog.getByText('Delete photo 2 of Barack Obama?').waitFor({ timeout: WAIT_MS });
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden', timeout: WAIT_MS });
      assert.equal((await getJson(`${s.base}/api/v1/recognition/permitted-faces`)).people[0].faces, 3);

      await people.getByRole('button', { name: 'Delete photo 2 of Barack Obama' }).click();
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await people.getByText('Photo 2 of Barack Obama deleted.').waitFor({ timeout: WAIT_MS });
      assert.equal(await card('Barack Obama').getByRole('img').count(), 2);
      assert.equal((await getJson(`${s.base}/api/v1/recognition/permitted-faces`)).people[0].faces, 2);

      await people.getByRole('button', { name: 'Delete Barack Obama', exact: true }).click();
      await dialog.getByText('Delete Barack Obama and all their photos?').waitFor({ timeout: WAIT_MS });
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await people.getByText('Nobody is enrolled yet.').waitFor({ timeout: WAIT_MS });
      assert.equal((await getJson(`${s.base}/api/v1/recognition/permitted-faces`)).total, 0);
    });

    /** Posts `key`'s photo as camera `device` until `done()` holds (a frame's recognition may be dropped under load). */
    async function postUntil(key, device, done) {
      const jpeg = fs.readFileSync(photo(key));
      for (let i = 0; i < EVENT_TRIES && !await done(); i++) {
        const res = await fetch(`${s.base}/api/v1/stream/fast`, {
          method: 'POST', headers: { 'Content-Type': 'image/jpeg', 'X-Device-ID': device }, body: jpeg,
        });
        assert.equal(res.status, 200, await res.text());
        const until = Date.now() + PER_FRAME_WAIT_MS;
        while (Date.now() < until && !await done()) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(await done(), `${key} from ${device}: what was waited for never happened`);
    }

    await t.test('a stranger is named on the people page; the next event names them', async () => {
      await events.goto(`${s.base}/events.html`);  // back from the footage page
      await events.waitForSelector('[data-testid="ws-status"][data-state="live"]', { timeout: WAIT_MS });
      // Nobody is enrolled now: the camera's face is a stranger.
      await postUntil('camera', 'cam-door', async () =>
        (await getJson(`${s.base}/api/v1/recognition/strangers`)).strangers.length > 0);
      const { strangers } = await getJson(`${s.base}/api/v1/recognition/strangers`);
      await people.getByRole('button', { name: 'Refresh' }).click();
      const stranger = people.locator(`[data-testid="stranger"][data-stranger-id="${strangers[0].id}"]`);
      await stranger.getByRole('img', { name: `Face 1 of stranger ${strangers[0].id}` }).waitFor({ timeout: WAIT_MS });
      await people.screenshot({ path: path.join(ARTIFACTS, 'strangers-desktop.png'), fullPage: true });
      await people.reload();  // without the earlier uploads' answers
      await stranger.getByRole('img', { name: `Face 1 of stranger ${strangers[0].id}` }).waitFor({ timeout: WAIT_MS });
      await docsScreenshot(people, ARTIFACTS, 'people');
      await stranger.getByLabel(`Name of stranger ${strangers[0].id}`).fill('Visitor');
      await stranger.getByRole('button', { name: `Name stranger ${strangers[0].id}` }).click();
      await people.getByText(/^Visitor added with \d+ of these faces\.$/).waitFor({ timeout: WAIT_MS });
      await card('Visitor').waitFor({ timeout: WAIT_MS });
      await people.getByText('No unknown faces seen lately.').waitFor({ timeout: WAIT_MS });
      const named = events.getByTestId('event').filter({ has: events.getByText('Visitor', { exact: true }) });
      await postUntil('camera', 'cam-door', async () => await named.count() > 0);
    });

    await t.test('"this is ..." on an unknown face adds it to a person; the next event names them', async () => {
      const unknown = events.getByTestId('event').filter({ has: events.getByTestId('event-camera').getByText('cam-yard') });
      await postUntil('otherCamera', 'cam-yard', async () => await unknown.count() > 0);
      const item = unknown.first();
      assert.equal(await item.getAttribute('data-type'), 'unknown_face');
      await item.getByLabel(/^Who this is: cam-yard at /).fill('Joe');
      await item.getByRole('button', { name: /^Add this face: cam-yard at / }).click();
      await events.getByText('This face is now one of Joe\'s.').waitFor({ timeout: WAIT_MS });
      const listed = await getJson(`${s.base}/api/v1/recognition/permitted-faces`);
      assert.deepEqual(listed.people.map((p) => p.name).sort(), ['Joe', 'Visitor']);
      const joe = events.getByTestId('event').filter({ has: events.getByText('Joe', { exact: true }) });
      await postUntil('otherCamera', 'cam-yard', async () => await joe.count() > 0);
      await joe.first().getByTestId('event-box').waitFor({ timeout: WAIT_MS });
      await docsScreenshot(events, ARTIFACTS, 'events');
    });

    await t.test('on a phone: both pages fit the screen', async () => {
      const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      phone.on('pageerror', (err) => pageErrors.push(`phone: ${err.message}`));
      await phone.goto(`${s.base}/events.html`);
      await phone.locator(`[data-event-id="${eventId}"]`).waitFor({ timeout: WAIT_MS });
      await fitsPhone(phone, ['Clear filters']);
      await phone.screenshot({ path: path.join(ARTIFACTS, 'events-phone.png'), fullPage: true });
      await phone.goto(`${s.base}/people.html`);
      await phone.getByRole('heading', { name: 'Joe', exact: true }).waitFor({ timeout: WAIT_MS });
      await fitsPhone(phone, ['Add person']);
      await phone.screenshot({ path: path.join(ARTIFACTS, 'people-phone.png'), fullPage: true });
      await phone.close();
    });

    await t.test('of a photo with two faces the user picks one on the photo', async () => {
      await people.getByLabel('Name', { exact: true }).fill('Rose');
      await people.getByLabel('Photos (one face each)').setInputFiles([photo('twoFaces')]);
      await people.getByRole('button', { name: 'Add person' }).click();
      const results = people.getByTestId('enrol-results');
      await results.getByText('kit_with_rose.jpg: 2 faces: pick the one to add').waitFor({ timeout: WAIT_MS });
      assert.equal(await results.getByRole('button', { name: /^Face \d of kit_with_rose\.jpg$/ }).count(), 2);
      await people.screenshot({ path: path.join(ARTIFACTS, 'people-pick.png'), fullPage: true });
      await results.getByRole('button', { name: 'Face 2 of kit_with_rose.jpg' }).click();
      await results.getByText('kit_with_rose.jpg: added to Rose').waitFor({ timeout: WAIT_MS });
      await card('Rose').getByRole('img', { name: 'Photo 1 of Rose' }).waitFor({ timeout: WAIT_MS });
    });

    await t.test('no uncaught errors in the pages', () => assert.deepEqual(pageErrors, []));
    await people.close();
    await events.close();
  });

test('with --auth on: the login page first; a viewer sees people and events but may not change them',
  { timeout: 120000 }, async () => {
    const s = await startPeopleServer([]);
    assert.ok(s.password, 'the first start printed no admin password');
    const login = await fetch(`${s.base}/api/v1/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Origin: s.base },
      body: JSON.stringify({ username: 'admin', password: s.password }),
    });
    assert.equal(login.status, 200);
    const admin = { Origin: s.base, Cookie: login.headers.get('set-cookie').split(';')[0] };
    const add = await fetch(`${s.base}/api/v1/auth/users`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', ...admin },
      body: JSON.stringify({ name: 'watcher', password: 'watcher-password', role: 'viewer' }),
    });
    assert.equal(add.status, 201, await add.text());
    const enrol = await fetch(`${s.base}/api/v1/recognition/add-permitted-face?name=Barack`, {
      method: 'POST', headers: { 'Content-Type': 'image/jpeg', ...admin }, body: fs.readFileSync(photo('enrol1')),
    });
    assert.equal(enrol.status, 200, await enrol.text());
    // /stream answers once the frame's recognition has run: its event is then in the log or on its way over /ws.
    const frame = await fetch(`${s.base}/api/v1/stream/stream`, {
      method: 'POST', headers: { 'Content-Type': 'image/jpeg', 'X-Device-ID': 'cam-hall' },
      body: fs.readFileSync(photo('camera')),
    });
    const seen = await frame.json();
    assert.equal(frame.status, 200, JSON.stringify(seen));
    assert.equal(seen.recognition.faces[0].name, 'Barack', JSON.stringify(seen));

    const page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(`auth: ${err.message}`));
    await page.goto(`${s.base}/people.html`);
    await page.waitForURL(/\/login\.html$/, { timeout: WAIT_MS });
    await page.fill('[data-testid="login-user"]', 'watcher');
    await page.fill('[data-testid="login-password"]', 'watcher-password');
    await page.click('[data-testid="login-submit"]');
    await page.waitForURL((u) => !u.pathname.endsWith('/login.html'), { timeout: WAIT_MS });

    await page.getByRole('link', { name: 'People', exact: true }).click();
    await page.getByRole('heading', { name: 'Barack', exact: true }).waitFor({ timeout: WAIT_MS });
    await page.waitForSelector('[data-testid="account"]:not([hidden])', { timeout: WAIT_MS });
    assert.equal(await page.getByRole('img', { name: 'Photo 1 of Barack' }).count(), 1);
    for (const name of ['Add person', 'Rename Barack', 'Delete Barack', 'Delete photo 1 of Barack']) {
      assert.equal(await page.getByRole('button', { name }).count(), 0, `no "${name}" for a viewer`);
    }
    assert.equal(await page.getByLabel('Add photos of Barack').count(), 0);

    await page.getByRole('link', { name: 'Events', exact: true }).click();
    const item = page.getByTestId('event').filter({ has: page.getByText('Barack', { exact: true }) });
    await item.first().waitFor({ timeout: WAIT_MS });
    assert.equal(await item.first().getByTestId('event-camera').textContent(), 'cam-hall');
    assert.equal(await page.getByRole('button', { name: /^Not / }).count(), 0, 'no feedback for a viewer');
    assert.equal(await page.getByRole('link', { name: 'Accounts' }).count(), 0, 'no accounts link for a viewer');
    await page.screenshot({ path: path.join(ARTIFACTS, 'events-viewer.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
    await page.close();
  });
