// The TLS suite's Node client (tests/integration/tls_test.cpp): WSS and MJPEG over HTTPS against a server whose
// certificate a test CA signed, trusting only that CA (Node's https and the `ws` package, both with `ca`).
//   node tls_client.mjs PORT CA_FILE VIEWER_TOKEN JPEG_FILE
// Connects /ws (waits for hello), uploads the JPEG over HTTPS as device cam-tls, waits for its device_added event
// and its binary frame on /ws, then takes /ws/devices/cam-tls (a bare JPEG) and the MJPEG stream (one part).
// Prints one JSON line with what it saw; exits 1 (with what it was waiting for) if that takes over 30 s.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import WebSocket from 'ws';

const [port, caFile, token, jpegFile] = process.argv.slice(2);
const ca = readFileSync(caFile);
const jpeg = readFileSync(jpegFile);
const base = `127.0.0.1:${port}`;
const seen = {};
let waitingFor = 'the /ws hello';
setTimeout(() => {
  console.log(JSON.stringify({ ...seen, error: `timed out waiting for ${waitingFor}` }));
  process.exit(1);
}, 30000).unref();

const isJpeg = (b) => b.length > 2 && b[0] === 0xff && b[1] === 0xd8;

// Resolves with each message's (data, isBinary) as they come, from the moment the socket is made.
function openSocket(path) {
  const ws = new WebSocket(`wss://${base}${path}?token=${token}`, { ca });
  const queue = [];
  let wake = null;
  ws.on('message', (data, isBinary) => {
    queue.push({ data, isBinary });
    if (wake) wake();
  });
  ws.on('error', (e) => {
    console.log(JSON.stringify({ ...seen, error: `${path}: ${e.message}` }));
    process.exit(1);
  });
  const next = async () => {
    while (queue.length === 0) await new Promise((r) => (wake = r));
    wake = null;
    return queue.shift();
  };
  return { ws, next };
}

function upload() {
  return new Promise((resolve, reject) => {
    const req = https.request(`https://${base}/api/v1/stream/fast`, {
      method: 'POST', ca,
      headers: { 'Content-Type': 'image/jpeg', 'X-Device-ID': 'cam-tls', 'Content-Length': jpeg.length },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(jpeg);
  });
}

function mjpegPart() {
  return new Promise((resolve, reject) => {
    const req = https.get(`https://${base}/api/v1/devices/cam-tls/mjpeg?token=${token}`, { ca }, (res) => {
      let body = Buffer.alloc(0);
      res.on('data', (chunk) => {
        body = Buffer.concat([body, chunk]);
        const head = body.indexOf('Content-Type: image/jpeg');
        const start = head < 0 ? -1 : body.indexOf('\r\n\r\n', head);
        if (start >= 0 && isJpeg(body.subarray(start + 4))) {
          resolve({ status: res.statusCode, type: res.headers['content-type'] });
          req.destroy();
        }
      });
    });
    req.on('error', (e) => { if (!req.destroyed) reject(e); });
  });
}

const all = openSocket('/ws');
for (;;) {
  const m = await all.next();
  if (!m.isBinary && JSON.parse(m.data).type === 'hello') break;
}
seen.hello = true;
waitingFor = 'the upload';
seen.upload_status = await upload();
waitingFor = 'device_added and a frame on /ws';
while (!seen.event || !seen.ws_frame) {
  const m = await all.next();
  if (m.isBinary) seen.ws_frame = isJpeg(m.data.subarray(m.data.readUInt16BE(0)));
  else if (JSON.parse(m.data).type === 'device_added') seen.event = 'device_added';
}
all.ws.close();
waitingFor = 'a JPEG on /ws/devices/cam-tls';
const one = openSocket('/ws/devices/cam-tls');
const m = await one.next();
seen.device_frame = m.isBinary && isJpeg(m.data);
one.ws.close();
waitingFor = 'an MJPEG part';
seen.mjpeg = await mjpegPart();
console.log(JSON.stringify(seen));
process.exit(0);
