// Browser test of CORS (issue #15): a page on an origin given with --allowed-origin reads the API with fetch() and a
// token (so Chromium sends a preflight first), a page on another origin cannot. Two tiny Node servers play the two
// sites; iotstream is the real binary with --auth on. Run from the repo root:  node --test tests/browser/cors.test.mjs
//   IOTSTREAM_BIN  server binary  (default build/src/iotstream)
//   CHROMIUM       browser binary (default /usr/bin/chromium)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.resolve(REPO, process.env.IOTSTREAM_BIN ?? 'build/src/iotstream');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

let server;
let dataDir;
let base;
let token;
let browser;
const sites = [];
const serverLog = [];

// A site that serves one empty page; resolves to its origin.
function startSite() {
  const site = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>site</title>');
  });
  sites.push(site);
  return new Promise((resolve) => site.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${site.address().port}`)));
}

function startServer(allowed) {
  server = spawn(BIN, ['--port', '0', '--bind', '127.0.0.1', '--data-dir', dataDir, '--recognition=false',
    '--recognition-api=false', '--allowed-origin', allowed], { stdio: ['ignore', 'pipe', 'pipe'] });
  readline.createInterface({ input: server.stderr }).on('line', (l) => serverLog.push(l));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "ready" within 60 s:\n${serverLog.join('\n')}`)), 60000);
    server.once('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`exited early (${code ?? sig})`)); });
    readline.createInterface({ input: server.stdout }).on('line', (line) => {
      const m = line.match(/listening on (127\.0\.0\.1:\d+)/);
      if (m) base = `http://${m[1]}`;
      if (line === 'ready') { clearTimeout(timer); resolve(); }
    });
  });
}

let allowedSite;
let otherSite;

before(async () => {
  assert.ok(fs.existsSync(BIN), `no server binary at ${BIN} (set IOTSTREAM_BIN)`);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotstream-cors-'));
  token = execFileSync(BIN, ['token', 'create', '--name', 'ha', '--role', 'viewer', '--data-dir', dataDir])
    .toString().trim();
  assert.match(token, /^iot_/);
  allowedSite = await startSite();
  otherSite = await startSite();
  await startServer(allowedSite);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  for (const site of sites) site.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

// What a page on `origin` gets from fetch() of the device list with the viewer token: the status and the JSON, or
// the error fetch() threw.
async function fetchFrom(origin) {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  const result = await page.evaluate(async ([url, t]) => {
    try {
      const res = await fetch(url, { headers: { Authorization: `Bearer ${t}` } });
      return { status: res.status, body: await res.json() };
    } catch (e) {
      return { error: String(e) };
    }
  }, [`${base}/api/v1/devices`, token]);
  await page.close();
  return result;
}

test('a page on an allowed origin reads the API; a page on another origin cannot', async () => {
  const allowed = await fetchFrom(allowedSite);
  assert.equal(allowed.status, 200, JSON.stringify(allowed));
  assert.ok(Array.isArray(allowed.body.devices), JSON.stringify(allowed));
  const other = await fetchFrom(otherSite);
  assert.ok(other.error, `a foreign page must not read the answer: ${JSON.stringify(other)}`);
});
