// Frame-to-event latency of iotstream's background recognition, for bench/recognition.sh (issue 5).
//   node bench/recognition-latency.js --base http://127.0.0.1:PORT --frame FRAME.jpg
//        [--cams 10] [--fps 10] [--duration 10] [--warmup 1] [--grace 3] [--viewer 1] [--path /api/v1/stream/fast]
//        [--samples FILE]   (also writes the measured upload round trips to FILE, one ms value per line)
//
// Cameras: each has its own keep-alive connection (http.Agent, maxSockets 1) and POSTs FRAME as raw image/jpeg with
// X-Device-ID cam-N on a fixed schedule (start + k * 1000/fps ms, cameras staggered evenly); a POST due while the
// previous one still runs waits in the agent's queue. The answer's JSON gives the frame_id; the POST's start time
// is kept per frame_id.
// Viewer (--viewer 1): one /ws client that subscribes to no camera ({"subscribe": []}: no binary frames, events
// only) and collects the JSON text events. For each person_recognised event of a frame posted in the measured
// window: latency = the event's arrival (Date.now() clock, sub-ms) - the POST start of that frame_id.
// Also: server-side latency (arrival - frame_received_at, the server's own arrival stamp, same machine clock),
// upload round trips (from the scheduled time or the actual send, whichever is earlier: no coordinated
// omission). Frames scheduled in the first --warmup seconds are sent but not measured.
// After --duration it waits for the last answers, then --grace seconds for late events, and prints one line:
//   RESULT {"sent":..,"ok":..,"non2xx":..,"errors":..,"upload_p50_ms":..,"upload_p99_ms":..,"events":..,
//           "unknown_events":..,"event_p50_ms":..,"event_p99_ms":..,"event_max_ms":..,"server_p50_ms":..,...}
import http from 'node:http';
import fs from 'node:fs';
import WebSocket from 'ws';

const opts = { base: '', frame: '', cams: 10, fps: 10, duration: 10, warmup: 1, grace: 3, viewer: 1,
  path: '/api/v1/stream/fast', samples: '' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in opts) || argv[i + 1] === undefined) { console.error(`unknown or incomplete option ${argv[i]}`); process.exit(2); }
  opts[k] = typeof opts[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
}
if (!opts.base || !opts.frame) {
  console.error('usage: node bench/recognition-latency.js --base URL --frame FRAME.jpg [--cams N] [--fps F] ' +
    '[--duration S] [--warmup S] [--grace S] [--viewer 0|1] [--path P] [--samples FILE]');
  process.exit(2);
}
const body = fs.readFileSync(opts.frame);
const base = new URL(opts.base);
const periodMs = 1000 / opts.fps;
const nowMs = () => performance.timeOrigin + performance.now(); // Date.now() clock with sub-ms resolution

const sendAt = new Map();   // frame_id -> POST start (epoch ms), measured frames only
const warmIds = new Set();  // frame_ids posted during the warm-up
const early = new Map();    // frame_id -> [event arrival, frame_received_at] for events ahead of their POST answer
const upload = [];
const eventLat = [], serverLat = [];
let sent = 0, ok = 0, non2xx = 0, errors = 0, pending = 0;
let events = 0, unknownEvents = 0, warmEvents = 0, foreignEvents = 0, otherText = 0;

function pct(arr, p) {
  if (!arr.length) return null;
  const s = [...arr].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] * 100) / 100;
}

function onEvent(msg, arrival) {
  if (msg.type === 'unknown_face') { unknownEvents++; return; }
  if (msg.type !== 'person_recognised') { otherText++; return; }
  const id = String(msg.frame_id);
  if (sendAt.has(id)) {
    events++;
    eventLat.push(arrival - sendAt.get(id));
    if (typeof msg.frame_received_at === 'number') serverLat.push(arrival - msg.frame_received_at);
  } else if (warmIds.has(id)) {
    warmEvents++;
  } else {
    early.set(id, [arrival, msg.frame_received_at]);
  }
}

function startViewer() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${base.host}/ws`, { perMessageDeflate: false });
    const timer = setTimeout(() => reject(new Error('viewer: no "subscribed" answer in 5 s')), 5000);
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ subscribe: [] })));
    ws.on('message', (data, isBinary) => {
      const arrival = nowMs();
      if (isBinary) return;
      let msg;
      try { msg = JSON.parse(data.toString()); } catch { return; }
      if (msg.type === 'subscribed') { clearTimeout(timer); resolve(ws); return; }
      onEvent(msg, arrival);
    });
  });
}

function camera(i, t0, tEnd, warmEnd, done) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, noDelay: true });
  const id = `cam-${i}`;
  const offset = (i * periodMs) / opts.cams;
  let k = 0;
  const schedule = () => {
    const due = t0 + offset + k * periodMs;
    if (due >= tEnd) { done(); return; }
    setTimeout(() => fire(due), Math.max(0, due - performance.now()));
  };
  const fire = (due) => {
    k++;
    const measured = due >= warmEnd;
    sent++; pending++;
    const tSendPerf = performance.now();
    const tSend = nowMs();
    const req = http.request({
      host: base.hostname, port: base.port, path: opts.path, method: 'POST', agent,
      headers: { 'Content-Type': 'image/jpeg', 'Content-Length': body.length, 'X-Device-ID': id },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        pending--;
        const now = performance.now();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          ok++;
          if (measured) upload.push(now - Math.min(due, tSendPerf));
          let fid = null;
          try { fid = JSON.parse(Buffer.concat(chunks).toString()).frame_id; } catch { /* counted below */ }
          if (fid !== undefined && fid !== null) {
            const key = String(fid);
            if (measured) {
              sendAt.set(key, tSend);
              const e = early.get(key);
              if (e) { early.delete(key); onEvent({ type: 'person_recognised', frame_id: fid, frame_received_at: e[1] }, e[0]); }
            } else {
              warmIds.add(key);
              if (early.delete(key)) warmEvents++;
            }
          }
        } else {
          non2xx++;
        }
      });
    });
    req.on('error', () => { pending--; errors++; });
    req.end(body);
    schedule();
  };
  schedule();
}

async function main() {
  let ws = null;
  if (opts.viewer) ws = await startViewer();
  const t0 = performance.now() + 100;
  const warmEnd = t0 + opts.warmup * 1000;
  const tEnd = warmEnd + opts.duration * 1000;
  let running = opts.cams;
  await new Promise((resolve) => {
    for (let i = 1; i <= opts.cams; i++) camera(i, t0, tEnd, warmEnd, () => { if (--running === 0) resolve(); });
  });
  const tWait = performance.now();
  while (pending > 0 && performance.now() - tWait < 10000) await new Promise((r) => setTimeout(r, 20));
  if (ws) await new Promise((r) => setTimeout(r, opts.grace * 1000));
  foreignEvents = early.size;
  const measuredFrames = sendAt.size;
  const out = {
    cams: opts.cams, fps: opts.fps, duration_s: opts.duration, sent, ok, non2xx, errors, pending,
    measured_frames: measuredFrames,
    upload_p50_ms: pct(upload, 0.5), upload_p99_ms: pct(upload, 0.99), upload_max_ms: pct(upload, 1),
    events, unknown_events: unknownEvents, warmup_events: warmEvents, unmatched_events: foreignEvents,
    event_p50_ms: pct(eventLat, 0.5), event_p99_ms: pct(eventLat, 0.99), event_max_ms: pct(eventLat, 1),
    server_p50_ms: pct(serverLat, 0.5), server_p99_ms: pct(serverLat, 0.99),
  };
  if (opts.samples) fs.writeFileSync(opts.samples, upload.map((v) => v.toFixed(3)).join('\n') + '\n');
  console.log(`RESULT ${JSON.stringify(out)}`);
  if (ws) ws.terminate();
  process.exit(0);
}

main().catch((err) => { console.error(`recognition-latency: ${err.message}`); process.exit(1); });
