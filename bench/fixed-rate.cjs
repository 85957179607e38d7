'use strict';
// Constant-rate camera load for bench/ingest.sh (Debian 12 has no wrk2).
//   node bench/fixed-rate.js URL FRAME.jpg [cameras=100] [fps=10] [duration_s=10]
// Each virtual camera has its own keep-alive connection (an http.Agent with maxSockets 1) and
// POSTs the frame as raw image/jpeg with X-Device-ID: rate-cam-NNN on a fixed schedule
// (start + k * 1000/fps ms, cameras staggered evenly). A request that is due while the previous
// one is still running waits in the agent's queue; latency is measured from the scheduled send
// time, so a slow server is not hidden (no coordinated omission).
// Stops scheduling after duration_s, waits up to 10 s for answers, then prints
//   RATE sent=N ok=N non2xx=N errors=N pending=N elapsed_s=F achieved_fps=F p50_ms=F p99_ms=F max_ms=F
//        send_p50_ms=F send_p99_ms=F late_sends=N
// (p50/p99/max: from the scheduled time; send_*: from the actual send, i.e. without the loader's own
// timer lateness; late_sends: sends whose timer fired more than one period late; the percentiles
// leave out the first second when the run is 3 s or longer, the counts do not)
const http = require('http');
const fs = require('fs');

const [url, framePath] = process.argv.slice(2, 4);
if (!url || !framePath) {
  console.error('usage: node bench/fixed-rate.js URL FRAME.jpg [cameras] [fps] [duration_s]');
  process.exit(2);
}
const cameras = Number(process.argv[4] || 100);
const fps = Number(process.argv[5] || 10);
const durationMs = Number(process.argv[6] || 10) * 1000;
const periodMs = 1000 / fps;
const body = fs.readFileSync(framePath);
const target = new URL(url);

const lat = []; // ms, per answered request, from the scheduled send time
const latSend = []; // ms, from the moment the request was handed to http.request
let sent = 0, ok = 0, non2xx = 0, errors = 0, pending = 0, lateSends = 0;
const t0 = performance.now() + 50;
// The first second (100 connections opening, JIT) counts in sent/ok/errors but not in the latency
// percentiles, for runs of 3 s or more.
const warmMs = durationMs >= 3000 ? 1000 : 0;
const tEnd = t0 + durationMs;

function camera(i) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, noDelay: true });
  const id = `rate-cam-${String(i).padStart(3, '0')}`;
  const offset = (i * periodMs) / cameras;
  let k = 0;
  const fire = () => {
    const due = t0 + offset + k * periodMs;
    if (due >= tEnd) return;
    k++;
    if (performance.now() - due > periodMs) lateSends++; // the timer itself ran a period late
    sent++; pending++;
    const tSend = performance.now();
    const req = http.request({
      host: target.hostname, port: target.port, path: target.pathname + target.search,
      method: 'POST', agent,
      headers: { 'Content-Type': 'image/jpeg', 'Content-Length': body.length, 'X-Device-ID': id },
    }, (res) => {
      res.resume();
      res.on('end', () => {
        pending--;
        const now = performance.now();
        if (due - t0 >= warmMs) {
          lat.push(now - Math.min(due, tSend)); // a timer that fired early counts from the send
          latSend.push(now - tSend);
        }
        if (res.statusCode >= 200 && res.statusCode < 300) ok++; else non2xx++;
        if (pending === 0 && performance.now() >= tEnd) finish();
      });
    });
    req.on('error', () => {
      pending--; errors++;
      if (pending === 0 && performance.now() >= tEnd) finish();
    });
    req.end(body);
    schedule();
  };
  const schedule = () => {
    const due = t0 + offset + k * periodMs;
    setTimeout(fire, Math.max(0, due - performance.now()));
  };
  schedule();
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  lat.sort((a, b) => a - b);
  latSend.sort((a, b) => a - b);
  const pct = (arr, p) => (arr.length ? arr[Math.min(arr.length - 1, Math.max(0, Math.ceil((p / 100) * arr.length) - 1))] : NaN);
  const q = (p) => pct(lat, p);
  const elapsed = (Math.max(performance.now(), tEnd) - t0) / 1000;
  console.log(`RATE sent=${sent} ok=${ok} non2xx=${non2xx} errors=${errors} pending=${pending} ` +
    `elapsed_s=${elapsed.toFixed(2)} achieved_fps=${(sent / (durationMs / 1000)).toFixed(1)} ` +
    `p50_ms=${q(50).toFixed(2)} p99_ms=${q(99).toFixed(2)} max_ms=${q(100).toFixed(2)} ` +
    `send_p50_ms=${pct(latSend, 50).toFixed(2)} send_p99_ms=${pct(latSend, 99).toFixed(2)} late_sends=${lateSends} ` +
    `latency_skip_first_ms=${warmMs}`);
  process.exit(0);
}

for (let i = 0; i < cameras; i++) camera(i);
setTimeout(() => { if (pending === 0) finish(); }, durationMs + 100);
setTimeout(finish, durationMs + 10100); // give up on stragglers after 10 s
