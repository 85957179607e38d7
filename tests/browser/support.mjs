// What every browser test starts and cleans up the same way: the paths read from the environment, the real iotstream
// binary started on a free port (or a given one) and stopped, its log kept and saved with the artifacts, its data
// folder removed, Debian's headless Chromium through playwright-core, and the check that a page fits a phone's screen.
// Each test file runs in a process of its own (node --test), so the servers listed here are that file's.
//   IOTSTREAM_BIN            server binary                (default build/src/iotstream)
//   IOTSTREAM_FACES_DIR      folder of sample photos      (default ../shared/faces)
//   IOTSTREAM_MODELS_DIR     recognition weights          (default: the binary's own, <source>/.cache/models)
//   IOTSTREAM_ARTIFACTS_DIR  screenshots, exports, logs   (default build/test-artifacts, as tests/CMakeLists.txt sets)
//   CHROMIUM                 browser binary               (default /usr/bin/chromium)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.resolve(REPO, process.env.IOTSTREAM_BIN ?? 'build/src/iotstream');
export const FACES = path.resolve(REPO, process.env.IOTSTREAM_FACES_DIR ?? '../shared/faces');
export const MODELS = process.env.IOTSTREAM_MODELS_DIR;
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(REPO, process.env.IOTSTREAM_ARTIFACTS_DIR ?? 'build/test-artifacts');
const LOG_LINES = 300;  // the last lines of a server's output kept for an error or its saved log
const READY_MS = 60000; // a loaded machine may take this long to load the recognition weights

const servers = [];            // every server started, in order, for stopAll()
const dataDirs = new Set();    // every data folder made, removed by stopAll()

/** A new empty data folder named after `prefix`, removed by stopAll(). */
export function makeDataDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `iotstream-${prefix}-`));
  dataDirs.add(dir);
  return dir;
}

/** Starts the server with `args` after the common ones; resolves to { proc, dataDir, log, base, port, password } once
 *  it prints `ready`. `port` and `dataDir` given start it again where a stopped one ran; `prefix` names its data folder
 *  and its log (<prefix>-server-<n>.log). `password` is the first start's admin password, null on later starts. */
export function startServer(args, { prefix, port = 0, dataDir = makeDataDir(prefix) } = {}) {
  assert.ok(fs.existsSync(BIN), `no server binary at ${BIN} (set IOTSTREAM_BIN)`);
  const proc = spawn(BIN, ['--port', String(port), '--bind', '127.0.0.1', '--data-dir', dataDir,
    '--web-dir', path.join(REPO, 'web'), ...(MODELS ? ['--models-dir', MODELS] : []), ...args],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  const s = { proc, prefix, dataDir, log: [], base: null, port: null, password: null };
  servers.push(s);
  const remember = (l) => { s.log.push(l); if (s.log.length > LOG_LINES) s.log.shift(); };
  readline.createInterface({ input: proc.stderr }).on('line', remember);
  return new Promise((resolve, reject) => {
    const fail = (why) => { clearTimeout(timer); reject(new Error(`${why}:\n${s.log.join('\n')}`)); };
    const timer = setTimeout(() => fail(`no "ready" within ${READY_MS / 1000} s`), READY_MS);
    proc.once('error', (err) => fail(`cannot start ${BIN}: ${err.message}`));
    proc.once('exit', (code, sig) => fail(`${BIN} exited early (${code ?? sig})`));
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      remember(line);
      const p = line.match(/user 'admin' with password (\S+) /);
      if (p) s.password = p[1];
      // Anchored: the recognition API announces itself as "recognition listening on ...".
      const m = line.match(/^listening on (127\.0\.0\.1:(\d+))$/);
      if (m) { s.base = `http://${m[1]}`; s.port = Number(m[2]); }
      if (line === 'ready') { clearTimeout(timer); resolve(s); }
    });
  });
}

/** Stops the server with SIGTERM and waits for it to exit; SIGKILL after 5 s, so that a stuck one cannot hang the run. */
export async function stopServer(s) {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  const timer = setTimeout(() => s.proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** For `after`: saves each server's log as ARTIFACTS/<prefix>-server-<n>.log, stops it, and removes the data folders. */
export async function stopAll() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const [i, s] of servers.entries()) {
    fs.writeFileSync(path.join(ARTIFACTS, `${s.prefix}-server-${i}.log`), s.log.join('\n') + '\n');
    await stopServer(s);
  }
  for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
}

/** Width and height from a JPEG's first SOFn marker. */
export function jpegSize(buf) {
  for (let i = 2; i + 9 < buf.length;) {
    if (buf[i] !== 0xff) { i++; continue; }
    const marker = buf[i + 1];
    const len = buf.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return { width: buf.readUInt16BE(i + 7), height: buf.readUInt16BE(i + 5) };
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker');
}

/** Debian's Chromium, headless, with nothing of its own going to the network. */
export function launchChromium() {
  assert.ok(fs.existsSync(CHROMIUM), `no browser at ${CHROMIUM} (apt-get install chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Checks that `page` is no wider than its phone screen, `width` px, and that the named buttons are on screen. */
export async function fitsPhone(page, buttons = [], width = 390) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
  for (const name of buttons) {
    const box = await page.getByRole('button', { name }).first().boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= width, `${name} is on screen`);
  }
}
