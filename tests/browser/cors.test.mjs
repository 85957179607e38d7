// Browser test of CORS (issue #15): a page on an origin given with --allowed-origin reads the API with fetch() and a
// token (so Chromium sends a preflight first), a page on another origin cannot. Two tiny Node servers play the two
// sites; iotstream is the real binary with --auth on. Run from the repo root:  node --test tests/browser/cors.test.mjs
// The environment it reads (IOTSTREAM_BIN, CHROMIUM, ...): see support.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { BIN, launchChromium, makeDataDir, startServer, stopAll } from './support.mjs';

let base;
let token;
let browser;
const sites = [];

// A site that serves one empty page; resolves to its origin.
function startSite() {
  const site = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>site</title>');
  });
  sites.push(site);
  return new Promise((resolve) => site.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${site.address().port}`)));
}

let allowedSite;
let otherSite;

before(async () => {
  // The binary writes the viewer's token into the data folder before the server starts (which checks it is there).
  assert.ok(fs.existsSync(BIN), `no server binary at ${BIN} (set IOTSTREAM_BIN)`);
  const dataDir = makeDataDir('cors');
  token = execFileSync(BIN, ['token', 'create', '--name', 'ha', '--role', 'viewer', '--data-dir', dataDir])
    .toString().trim();
  assert.match(token, /^iot_/);
  allowedSite = await startSite();
  otherSite = await startSite();
  ({ base } = await startServer(['--recognition=false', '--recognition-api=false', '--allowed-origin', allowedSite],
    { prefix: 'cors', dataDir }));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopAll();
  for (const site of sites) site.close();
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
