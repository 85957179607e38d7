// Browser test of the dashboard in a cluster (issue 19): Debian's PostgreSQL (initdb into a temporary folder, on a
// free port), two real nodes on it, no HAProxy, real headless Chromium. A camera that sends its frames to n2 shows on
// n1's dashboard: its tile shows its frames, fetched from n1, which forwards each snapshot to n2; renamed in n1's
// device list, it is renamed where it is (n2). Every check waits for the state it asserts, never for a time window.
// The environment it reads (IOTSTREAM_BIN, IOTSTREAM_FACES_DIR, IOTSTREAM_ARTIFACTS_DIR, ...): see support.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ARTIFACTS, FACES, jpegSize, launchChromium, startServer, stopAll } from './support.mjs';

const FRAME_MS = 200;
const WAIT_MS = 30000; // how long any one state may take to appear on a loaded machine (a node joins in seconds)
const CAMERA = 'porch';

let pgDir;
let postgres;
let n1;
let n2;
let browser;
let page;
let photo;
const pageErrors = [];
const camera = { running: true, sent: 0, errors: [] };

/** Debian keeps initdb and postgres in /usr/lib/postgresql/<version>/bin, off PATH: the newest version's folder. */
function postgresBin() {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v) &&
    fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  assert.ok(versions.length > 0, 'PostgreSQL is not installed (apt-get install postgresql; test.sh installs it)');
  return path.join(root, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** A PostgreSQL cluster of its own, as the `postgres` account when this runs as root (PostgreSQL refuses root).
 *  Resolves to its URL; the nodes wait for it themselves (they retry the database every heartbeat). */
async function startPostgres() {
  const bin = postgresBin();
  pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotstream-cluster-pg-'));
  const as = {};
  if (process.getuid() === 0) {
    as.uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    as.gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    fs.chownSync(pgDir, as.uid, as.gid);
  }
  execFileSync(path.join(bin, 'initdb'), ['-D', path.join(pgDir, 'data'), '-U', 'postgres', '--auth=trust', '-N',
    '-E', 'UTF8', '--locale=C'], { ...as, stdio: 'pipe' });
  const port = await freePort();
  const log = fs.openSync(path.join(pgDir, 'postgres.log'), 'a');
  // Durability is not under test: without fsync the start and each commit are much faster.
  postgres = spawn(path.join(bin, 'postgres'), ['-D', path.join(pgDir, 'data'), '-p', String(port), '-k', pgDir,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off'], { ...as, stdio: ['ignore', log, log] });
  return `postgresql://postgres@127.0.0.1:${port}/postgres`;
}

async function json(base, p) {
  const res = await fetch(base + p, { cache: 'no-store' });
  assert.equal(res.status, 200, `${p}: ${res.status}`);
  return res.json();
}

/** Polls `check` (async, truthy when done) until it holds or WAIT_MS passes; returns its last value. */
async function waitFor(what, check) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  while (Date.now() < deadline) {
    last = await check().catch(() => undefined);
    if (last) return last;
    await sleep(100);
  }
  assert.fail(`${what}: not within ${WAIT_MS / 1000} s`);
}

const listedOn = async (node) => (await json(node.base, '/api/v1/devices')).devices.find((d) => d.id === CAMERA);

before(async () => {
  photo = fs.readFileSync(path.join(FACES, 'ageitgey_face_recognition/examples/obama-480p.jpg'));
  const url = await startPostgres();
  const args = (id) => ['--auth', 'off', '--recognition=false', '--recognition-api=false', '--database', url,
    '--node-id', id];
  [n1, n2] = await Promise.all([startServer(args('n1'), { prefix: 'cluster' }),
    startServer(args('n2'), { prefix: 'cluster' })]);
  // The camera sends to n2 only, every FRAME_MS.
  camera.done = (async () => {
    while (camera.running) {
      const t = Date.now();
      try {
        const res = await fetch(`${n2.base}/api/v1/stream/fast`, {
          method: 'POST', headers: { 'Content-Type': 'image/jpeg', 'X-Device-ID': CAMERA }, body: photo,
        });
        if (res.ok) camera.sent++; else camera.errors.push(`${res.status} ${await res.text()}`);
      } catch (err) {
        camera.errors.push(err.message);
      }
      await sleep(Math.max(0, FRAME_MS - (Date.now() - t))); // pacing, not an assertion
    }
  })();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

after(async () => {
  camera.running = false;
  await camera.done;
  if (page) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'cluster.png') }).catch(() => {});
  }
  await browser?.close();
  await stopAll();
  if (postgres && postgres.exitCode === null) {
    const exited = new Promise((r) => postgres.once('exit', r));
    postgres.kill('SIGINT');
    await exited;
  }
  if (pgDir) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.copyFileSync(path.join(pgDir, 'postgres.log'), path.join(ARTIFACTS, 'cluster-postgres.log'));
    fs.rmSync(pgDir, { recursive: true, force: true });
  }
});

test('cluster: a camera of n2 is watched and renamed on n1\'s dashboard', { timeout: 90000 }, async () => {
  // n1 lists the camera as n2's, once n2's heartbeat has reached it.
  await waitFor('n1 lists the camera as n2\'s', async () => {
    const d = await listedOn(n1);
    return d?.node === 'n2' && d.node_up === true && d.online;
  });
  await page.goto(n1.base + '/');
  const tile = `[data-testid="camera-tile"][data-device-id="${CAMERA}"]`;
  // Its tile shows its frames: snapshots n1 forwards to n2 (no HAProxy here), each the photo sent, decoded.
  const shown = await page.waitForFunction((sel) => {
    const img = document.querySelector(`${sel} [data-testid="camera-image"]`);
    if (!img || !img.complete || img.naturalWidth === 0) return null;
    return { src: img.getAttribute('src'), width: img.naturalWidth, height: img.naturalHeight };
  }, tile, { timeout: WAIT_MS }).then((h) => h.jsonValue());
  const src = new URL(shown.src, n1.base);
  assert.equal(src.origin + src.pathname, `${n1.base}/api/v1/devices/${CAMERA}/snapshot.jpg`);
  const { width, height } = jpegSize(photo);
  assert.deepEqual([shown.width, shown.height], [width, height]);
  const metrics = await (await fetch(n1.base + '/metrics')).text();
  const forwarded = Number(metrics.match(/^main_http_forwarded_total (\d+)$/m)?.[1] ?? 0);
  assert.ok(forwarded >= 1, `n1 forwarded ${forwarded} requests`);

  // Renamed in n1's device list: the PATCH goes to n2, where the camera is, and every node lists the new name.
  const row = `[data-testid="device-row"][data-device-id="${CAMERA}"]`;
  await page.fill(`${row} [data-testid="rename-input"]`, 'Porch');
  await page.click(`${row} [data-testid="rename-save"]`);
  await page.waitForFunction((sel) => document.querySelector(`${sel} [data-testid="rename-msg"]`)?.textContent ===
    'saved', row, { timeout: WAIT_MS });
  assert.equal((await listedOn(n2)).name, 'Porch');
  await waitFor('n1 lists the new name', async () => (await listedOn(n1))?.name === 'Porch');
  assert.deepEqual(camera.errors, []);
  assert.deepEqual(pageErrors, []);
});
