// bench/fanout.js: live-view fan-out load generator and report (driven by bench/fanout.sh).
//
//   node bench/fanout.js run    --impl NAME --base http://127.0.0.1:P --pid PID --frame F --out R.json
//   node bench/fanout.js report R1.json [R2.json]
//
// "run" plays cameras (main thread, one keep-alive HTTP connection per camera, open-loop 10 fps
// schedule) against POST /api/v1/stream/fast, and WebSocket viewers of /ws in VIEWER_THREADS
// worker threads of this same process, for each scenario in turn. Every posted frame carries a
// unique sequence number in a JPEG COM segment (FF FE 00 08 'F' 'O' seq:u32be) inserted after
// SOI, so each delivery is matched exactly to the frame's send time on both servers (iotstream's
// binary header also gives the frame id, checked against the POST answer). All times come from
// process.hrtime (CLOCK_MONOTONIC, shared by all threads). Server CPU = utime+stime of --pid
// from /proc between the start of the measured window and the end of the grace period.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TAG0 = 0x46, TAG1 = 0x4f; // "FO"
const MIN_P99_SAMPLES = 500; // uploads a side before a pooled p99 rise gets a verdict

// ------------------------------------------------------------------------------ viewer worker
if (!isMainThread) {
  const { default: WebSocket } = await import('ws');
  if (process.env.VIEWER_SCHED === 'idle') { // this thread only: /proc/thread-self names its tid
    const tid = readlinkSync('/proc/thread-self').split('/').pop();
    execFileSync('chrt', ['--idle', '-p', '0', tid]);
  }
  let viewers = [];
  const hdrCheck = new Map(); // seq -> frame id from the binary header (iotstream only)
  let bad = 0, textMsgs = 0;
  const onMsg = (v) => (data, isBinary) => {
    const t = nowUs();
    if (!isBinary) { textMsgs++; if (!v.hello) { v.hello = true; v.resolveHello(); } return; }
    let off = 0, fid = null;
    if (!(data[0] === 0xff && data[1] === 0xd8)) { // iotstream header
      if (data.length < 20 || data[2] !== 1) { bad++; return; }
      off = data.readUInt16BE(0);
      fid = Number(data.readBigUInt64BE(4));
    }
    if (data[off + 2] === 0xff && data[off + 3] === 0xfe && data[off + 6] === TAG0 && data[off + 7] === TAG1) {
      const seq = data.readUInt32BE(off + 8);
      v.seq.push(seq); v.t.push(t);
      if (fid !== null && !hdrCheck.has(seq)) hdrCheck.set(seq, fid);
    } else {
      v.seq.push(-1); v.t.push(t); // untagged: matched by arrival order later
    }
  };
  parentPort.on('message', async (m) => {
    if (m.cmd === 'connect') {
      hdrCheck.clear(); bad = 0; textMsgs = 0;
      const out = [];
      const one = () => new Promise((resolve, reject) => {
        const v = { seq: [], t: [], hello: false };
        const hp = new Promise((r) => { v.resolveHello = r; });
        const ws = new WebSocket(m.url, { perMessageDeflate: false, maxPayload: 64 << 20 });
        v.ws = ws;
        ws.on('message', onMsg(v));
        ws.on('error', (e) => reject(e));
        ws.on('close', () => { v.closed = true; });
        ws.on('open', () => {
          Promise.race([hp, sleep(5000)]).then(() => resolve(v));
        });
      });
      try {
        for (let i = 0; i < m.n; i += 25) { // 25 handshakes at a time
          const batch = [];
          for (let j = i; j < Math.min(m.n, i + 25); j++) batch.push(one());
          out.push(...(await Promise.all(batch)));
        }
        viewers = out;
        parentPort.postMessage({ ok: true, hello: out.filter((v) => v.hello).length });
      } catch (e) {
        parentPort.postMessage({ ok: false, error: String(e && e.message || e) });
      }
    } else if (m.cmd === 'collect') {
      const res = viewers.map((v) => ({ seq: v.seq, t: v.t, closed: !!v.closed }));
      for (const v of viewers) { v.seq = []; v.t = []; }
      parentPort.postMessage({ ok: true, viewers: res, hdr: [...hdrCheck], bad, textMsgs });
    } else if (m.cmd === 'close') {
      for (const v of viewers) { try { v.ws.terminate(); } catch { /* already gone */ } }
      viewers = [];
      parentPort.postMessage({ ok: true });
    }
  });
} else {
  const mode = process.argv[2];
  if (mode === 'run') await runMain();
  else if (mode === 'report') report(process.argv.slice(3));
  else { console.error('usage: fanout.js run|report ...'); process.exit(2); }
}

// ------------------------------------------------------------------------------ helpers
function args() {
  const a = {};
  for (let i = 3; i < process.argv.length; i += 2) a[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
  return a;
}
function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
function procCpuMs(pid, tck) { // server CPU in ms: /proc/<pid>/stat utime+stime (clock ticks)
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] = state (field 3)
  return ((Number(f[11]) + Number(f[12])) * 1000) / tck; // utime (14), stime (15)
}
function procCpuNsMs(pid) { // the same in ns resolution: sum of /proc/<pid>/task/*/schedstat field 1
  try {
    let ns = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try { ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* exited */ }
    }
    return ns / 1e6;
  } catch { return null; }
}
function getText(url, timeoutMs) { // { status, body }, or null if the request failed or timed out
  return new Promise((resolve) => {
    http.get(url, { timeout: timeoutMs }, (res) => {
      let b = ''; res.setEncoding('utf8');
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: b }));
    }).on('error', () => resolve(null)).on('timeout', function () { this.destroy(); resolve(null); });
  });
}
async function getJson(url) {
  const r = await getText(url, 3000);
  try { return r ? JSON.parse(r.body) : null; } catch { return null; }
}
async function skippedCounter(base) { // iotstream: /api/v1/live/viewers; peer: performance.websocket
  const v = await getJson(`${base}/api/v1/live/viewers`);
  if (v && typeof v.frames_skipped === 'number') return { skipped: v.frames_skipped, sent: v.frames_sent };
  const p = await getJson(`${base}/api/v1/system/performance`);
  if (p && p.websocket) return { skipped: p.websocket.frames_dropped, sent: p.websocket.frames_sent };
  return null;
}
// iotstream's own time per upload (ingest_fast_request_duration_seconds, a cumulative histogram of the fast
// path's handler: frame accepted and answer built) at two moments. Only uploads land in it, so the bench's own
// GETs between the two moments do not. null for the peer.
async function serverHistogram(base) {
  const r = await getText(`${base}/metrics`, 5000);
  if (!r || r.status !== 200) return null;
  const buckets = [];
  for (const line of r.body.split('\n')) {
    const m = line.match(/^ingest_fast_request_duration_seconds_bucket\{le="([^"]+)"\} (\d+)/);
    if (m) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]) * 1000, Number(m[2])]);
  }
  return buckets.length ? buckets : null;
}
function histogramPct(h0, h1, p) { // ms: upper bound of the bucket holding percentile p of the samples between h0 and h1
  // The server lists buckets only up to its last non-empty one, so h1 may have more than h0: a bucket that h0
  // lacks held, cumulatively, all of h0's samples.
  if (!h0 || !h1) return null;
  const total0 = h0[h0.length - 1][1];
  const before = new Map(h0.map(([le, c]) => [le, c]));
  const n = h1[h1.length - 1][1] - total0;
  if (n <= 0) return null;
  const want = Math.ceil((p / 100) * n);
  for (const [le, c] of h1) if (c - (before.has(le) ? before.get(le) : total0) >= want) return le;
  return null;
}
function tagged(frame, seq) { // SOI + COM("FO" seq) + rest of the JPEG
  const b = Buffer.allocUnsafe(frame.length + 10);
  b[0] = 0xff; b[1] = 0xd8; b[2] = 0xff; b[3] = 0xfe; b[4] = 0; b[5] = 8; b[6] = TAG0; b[7] = TAG1;
  b.writeUInt32BE(seq, 8);
  frame.copy(b, 12, 2);
  return b;
}

// ------------------------------------------------------------------------------ run
async function runMain() {
  const a = args();
  const base = a.base, pid = Number(a.pid), impl = a.impl;
  const frame = readFileSync(a.frame);
  const DURATION = Number(process.env.DURATION || 10);
  const FPS = Number(process.env.FPS || 10);
  const WARMUP = Number(process.env.WARMUP || 1);
  const GRACE = Number(process.env.GRACE || 1.5);
  const THREADS = Number(process.env.VIEWER_THREADS || 2);
  const TCK = Number(process.env.CLK_TCK || 100);
  const scenarios = (process.env.SCENARIOS || '1x0 1x1 1x10 1x100 1x500 1x0 10x0 10x10').split(/\s+/)
    .filter(Boolean).map((s) => { const [c, v] = s.split('x').map(Number); return { cams: c, viewers: v, name: s }; });
  const seenNames = new Map(); // a repeated scenario (e.g. the 0-viewer baseline again at the end) gets "#2"
  for (const sc of scenarios) {
    const n = (seenNames.get(sc.name) || 0) + 1; seenNames.set(sc.name, n);
    if (n > 1) sc.name += `#${n}`;
  }
  const wsUrl = base.replace(/^http/, 'ws') + '/ws';

  const workers = [];
  for (let i = 0; i < THREADS; i++) workers.push(new Worker(fileURLToPath(import.meta.url)));
  const call = (w, msg) => new Promise((resolve) => { w.once('message', resolve); w.postMessage(msg); });
  const all = (msg) => Promise.all(workers.map((w) => call(w, msg)));

  let seqNext = 1;
  const results = [];
  for (const sc of scenarios) {
    process.stderr.write(`[fanout] ${impl}: ${sc.cams} camera(s) x ${FPS} fps -> ${sc.viewers} viewer(s), ${DURATION}s ... `);
    // 1. viewers
    if (sc.viewers > 0) {
      const per = workers.map((_, i) => Math.floor(sc.viewers / THREADS) + (i < sc.viewers % THREADS ? 1 : 0));
      const r = await Promise.all(workers.map((w, i) => call(w, { cmd: 'connect', url: wsUrl, n: per[i] })));
      const failed = r.find((x) => !x.ok);
      if (failed) { console.error(`viewer connect failed: ${failed.error}`); process.exit(1); }
    }
    await sleep(300);
    // 2. cameras: open loop, tick k of camera c at t0 + c*period/cams + k*period
    const sent = new Map(); // seq -> {t0, t1, ok, fid, win}
    const period = 1000 / FPS;
    const agents = [];
    let stopAt = 0, winStart = 0, winEnd = 0, postErrors = 0, lateTicks = 0;
    const camLoop = async (c) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      agents.push(agent);
      const u = new URL(`${base}/api/v1/stream/fast`);
      const start = performance.now() + (c * period) / sc.cams;
      for (let k = 0; ; k++) {
        const due = start + k * period;
        if (due >= stopAt) break;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait); else if (wait < -period) lateTicks++;
        const seq = seqNext++;
        const body = tagged(frame, seq);
        const rec = { t0: nowUs(), t1: 0, ok: false, fid: null };
        rec.win = rec.t0 >= winStart && rec.t0 < winEnd;
        sent.set(seq, rec);
        await new Promise((resolve) => {
          const req = http.request(u, {
            method: 'POST', agent,
            headers: { 'Content-Type': 'image/jpeg', 'Content-Length': body.length, 'X-Device-ID': `cam-${c + 1}`,
              'X-Frame-Timestamp': String(Date.now()) },
          }, (res) => {
            let b = ''; res.setEncoding('utf8');
            res.on('data', (ch) => { b += ch; });
            res.on('end', () => {
              rec.t1 = nowUs();
              rec.ok = res.statusCode === 200;
              if (!rec.ok) postErrors++;
              try { rec.fid = JSON.parse(b).frame_id ?? null; } catch { /* not JSON */ }
              resolve();
            });
          });
          req.on('error', () => { postErrors++; resolve(); });
          req.end(body);
        });
      }
    };
    const tStart = performance.now();
    const tUs = nowUs();
    winStart = tUs + WARMUP * 1e6; winEnd = winStart + DURATION * 1e6;
    stopAt = tStart + (WARMUP + DURATION) * 1000;
    const cams = [];
    for (let c = 0; c < sc.cams; c++) cams.push(camLoop(c));
    // window start: reset viewer records + CPU and counters
    await sleep(WARMUP * 1000);
    const cpu0 = procCpuMs(pid, TCK), sched0 = procCpuNsMs(pid), self0 = process.cpuUsage(), sk0 = await skippedCounter(base);
    const hist0 = await serverHistogram(base);
    const w0 = nowUs();
    await Promise.all(cams);
    await sleep(GRACE * 1000);
    const hist1 = await serverHistogram(base);
    const cpu1 = procCpuMs(pid, TCK), sched1 = procCpuNsMs(pid), self1 = process.cpuUsage(self0), sk1 = await skippedCounter(base);
    const wallS = (nowUs() - w0) / 1e6;
    for (const ag of agents) ag.destroy();
    // 3. collect
    const win = [...sent.entries()].filter(([, r]) => r.win);
    const winSeqs = new Set(win.map(([s]) => s));
    const rtts = win.filter(([, r]) => r.ok).map(([, r]) => (r.t1 - r.t0) / 1000).sort((x, y) => x - y);
    let delivered = 0, untagged = 0, closed = 0, fidMismatch = 0, fidChecked = 0;
    const lats = [];
    if (sc.viewers > 0) {
      const cols = await all({ cmd: 'collect' });
      const sendOrder = [...sent.keys()]; // send order, for the arrival-order fallback
      for (const col of cols) {
        for (const [seq, fid] of col.hdr) {
          const r = sent.get(seq);
          if (r && r.fid !== null) { fidChecked++; if (r.fid !== fid) fidMismatch++; }
        }
        for (const v of col.viewers) {
          if (v.closed) closed++;
          const seen = new Set();
          let k = 0;
          for (let i = 0; i < v.seq.length; i++) {
            let seq = v.seq[i];
            if (seq < 0) { untagged++; seq = sendOrder[k++]; if (seq === undefined) continue; }
            if (!winSeqs.has(seq) || seen.has(seq)) continue;
            seen.add(seq); delivered++;
            lats.push((v.t[i] - sent.get(seq).t0) / 1000);
          }
        }
      }
      await all({ cmd: 'close' });
    }
    lats.sort((x, y) => x - y);
    const posted = win.length;
    const expected = posted * sc.viewers;
    // ns-resolution schedstat when available (10 ms ticks are coarse for short windows); stat kept as a check
    const cpuStatMs = cpu1 - cpu0;
    const cpuMs = sched0 !== null && sched1 !== null ? sched1 - sched0 : cpuStatMs;
    const r = {
      name: sc.name, cams: sc.cams, viewers: sc.viewers, fps: FPS, duration_s: DURATION,
      posted, post_errors: postErrors, late_ticks: lateTicks, expected, delivered,
      delivered_pct: expected ? (100 * delivered) / expected : null,
      lat_p50: pct(lats, 50), lat_p99: pct(lats, 99), lat_max: lats.length ? lats[lats.length - 1] : null,
      rtt_p50: pct(rtts, 50), rtt_p99: pct(rtts, 99), rtts,
      srv_p50: histogramPct(hist0, hist1, 50), srv_p99: histogramPct(hist0, hist1, 99),
      cpu_ms: cpuMs, cpu_stat_ms: cpuStatMs, cpu_source: sched0 !== null && sched1 !== null ? 'schedstat' : 'stat', cpu_wall_s: wallS,
      cpu_ms_per_delivered: delivered ? cpuMs / delivered : null,
      cpu_ms_per_posted: posted ? cpuMs / posted : null,
      client_cpu_pct: (100 * (self1.user + self1.system)) / 1e6 / wallS,
      skipped: sk0 && sk1 ? sk1.skipped - sk0.skipped : null,
      untagged, viewers_closed: closed, frame_id_checked: fidChecked, frame_id_mismatch: fidMismatch,
    };
    results.push(r);
    process.stderr.write(`delivered ${delivered}/${expected}, lat p99 ${r.lat_p99 === null ? '-' : r.lat_p99.toFixed(2)} ms, upload p99 ${r.rtt_p99 === null ? '-' : r.rtt_p99.toFixed(2)} ms\n`);
    await sleep(500);
  }
  for (const w of workers) await w.terminate();
  writeFileSync(a.out, JSON.stringify({ impl, note: a.note || '', threads: THREADS, results }, null, 1));
}

// ------------------------------------------------------------------------------ report
function report(files) {
  const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
  const f2 = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
  // impl/cams -> the 0-viewer baseline: of several runs, the one with the LOWEST upload p99 (a
  // single stall on a shared machine decides a p99 of 50-100 samples; the lowest baseline makes
  // the "rise" conservative, i.e. harder to meet)
  const base = {};
  for (const run of runs) {
    for (const r of run.results) {
      if (r.viewers !== 0) continue;
      const k = `${run.impl}/${r.cams}`;
      if (!base[k] || (r.rtt_p99 !== null && r.rtt_p99 < base[k].rtt_p99)) base[k] = r;
    }
  }
  console.log('latency = viewer receive time - camera POST start (ms, exact match by frame tag); upload = camera POST round trip (ms);');
  console.log('rise = upload p99 minus the 0-viewer p99 with the same camera count (the lowest, if the baseline ran more than once); CPU = server CPU time over window+grace\n(sum of /proc/<pid>/task/*/schedstat, ns; \"stat CPU\" = /proc/<pid>/stat utime+stime in clock ticks, as a check);');
  console.log('fan-out us/frame = (CPU - 0-viewer CPU per posted frame x posted) / delivered; skipped = server-counted skips.');
  console.log('(CPU per frame and fan-out us/frame are noisy below ~1000 deliveries; a p99 of 50-100 uploads is about their 2nd-largest value.)');
  console.log('srv p50/p99 = the server\'s own time for those uploads, upload handler in -> answer built (iotstream\'s histogram, buckets ~9 % wide).');
  const head = ['server', 'scenario', 'posted', 'delivered/expected', '%', 'lat p50', 'lat p99', 'lat max',
    'up p50', 'up p99', 'srv p50/p99', 'rise', 'CPU ms', 'stat CPU', 'CPU ms/deliv', 'fan-out us/fr', 'skipped', 'client CPU%'];
  const rows = [head];
  const byKey = {};
  for (const run of runs) {
    for (const r of run.results) {
      const b = base[`${run.impl}/${r.cams}`];
      const rise = b && r.viewers > 0 && r.rtt_p99 !== null ? r.rtt_p99 - b.rtt_p99 : null;
      const fan = b && r.delivered ? (r.cpu_ms - b.cpu_ms_per_posted * r.posted) / r.delivered * 1000 : null;
      byKey[`${run.impl}/${r.name}`] = { ...r, rise, fan };
      rows.push([run.impl, `${r.cams}cam x${r.fps}fps -> ${r.viewers}v`, String(r.posted),
        r.viewers ? `${r.delivered}/${r.expected}` : '-', r.viewers ? f2(r.delivered_pct, 1) : '-',
        f2(r.lat_p50), f2(r.lat_p99), f2(r.lat_max), f2(r.rtt_p50), f2(r.rtt_p99),
        r.srv_p99 === null || r.srv_p99 === undefined ? '-' : `${f2(r.srv_p50, 3)}/${f2(r.srv_p99, 3)}`,
        r.viewers ? f2(rise) : (b === r ? '(base)' : '(base, unused)'),
        f2(r.cpu_ms, 0), f2(r.cpu_stat_ms, 0), r.viewers ? f2(r.cpu_ms_per_delivered, 3) : `${f2(r.cpu_ms_per_posted, 3)}/post`,
        r.viewers ? f2(fan, 1) : '-', r.skipped === null ? '-' : String(r.skipped), f2(r.client_cpu_pct, 0)]);
    }
  }
  const w = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
  for (const run of runs) {
    const odd = run.results.filter((r) => r.post_errors || r.untagged || r.viewers_closed || r.frame_id_mismatch || r.late_ticks);
    for (const r of odd) {
      console.log(`note ${run.impl} ${r.name}: post errors ${r.post_errors}, untagged (order-matched) ${r.untagged}, ` +
        `viewers closed ${r.viewers_closed}, frame-id mismatches ${r.frame_id_mismatch}/${r.frame_id_checked}, late camera ticks ${r.late_ticks}`);
    }
    const chk = run.results.reduce((s, r) => s + r.frame_id_checked, 0);
    if (chk) console.log(`${run.impl}: binary-header frame id checked against the POST answer for ${chk} frames, ` +
      `${run.results.reduce((s, r) => s + r.frame_id_mismatch, 0)} mismatches`);
  }
  const impls = runs.map((r) => r.impl);
  if (impls.includes('iotstream') && impls.includes('peer')) {
    console.log('\n== ratios (peer / iotstream: > 1 means iotstream is better; delivered: iotstream % - peer %)');
    const hr = ['scenario', 'delivered pts', 'lat p50', 'lat p99', 'CPU/deliv', 'up p99'];
    const rr = [hr];
    const ratio = (p, i) => (p === null || i === null || !i ? '-' : `${(p / i).toFixed(2)}x`);
    for (const r of runs.find((x) => x.impl === 'iotstream').results) {
      const i = byKey[`iotstream/${r.name}`], p = byKey[`peer/${r.name}`];
      if (!p) continue;
      rr.push([`${r.cams}cam -> ${r.viewers}v${r.name.includes('#') ? ' (again)' : ''}`,
        r.viewers ? `${(i.delivered_pct - p.delivered_pct).toFixed(1)}` : '-',
        r.viewers ? ratio(p.lat_p50, i.lat_p50) : '-', r.viewers ? ratio(p.lat_p99, i.lat_p99) : '-',
        r.viewers ? ratio(p.cpu_ms_per_delivered, i.cpu_ms_per_delivered) : ratio(p.cpu_ms_per_posted, i.cpu_ms_per_posted),
        ratio(p.rtt_p99, i.rtt_p99)]);
    }
    const w2 = hr.map((_, k) => Math.max(...rr.map((r) => r[k].length)));
    for (const r of rr) console.log(r.map((c, k) => (k === 0 ? c.padEnd(w2[k]) : c.padStart(w2[k]))).join('  '));
  }
  const t = byKey['iotstream/1x100'];
  if (t) {
    console.log('\n== targets (issue 4), iotstream');
    const ok1 = t.delivered_pct >= 99, ok2 = t.lat_p99 !== null && t.lat_p99 < 20;
    console.log(`  1 camera -> 100 viewers: delivered ${f2(t.delivered_pct, 2)}% (>= 99%: ${ok1 ? 'MET' : 'NOT MET'}), ` +
      `latency p99 ${f2(t.lat_p99)} ms (< 20 ms: ${ok2 ? 'MET' : 'NOT MET'})`);
    for (const c of [1, 10]) {
      const bs = runs.find((x) => x.impl === 'iotstream').results.filter((r) => r.viewers === 0 && r.cams === c);
      if (!bs.length) continue;
      const p99s = bs.map((r) => r.rtt_p99);
      const spread = bs.length > 1 ? `; identical 0-viewer runs differ by ${f2(Math.max(...p99s) - Math.min(...p99s))} ms (the noise floor)` : '';
      console.log(`  0-viewer upload p99 with ${c} camera(s): ${p99s.map((x) => f2(x)).join(', ')} ms (p50 ${bs.map((r) => f2(r.rtt_p50)).join(', ')}); the lowest p99 is the per-run baseline${spread}`);
    }
    // A scenario that ran more than once (e.g. SCENARIOS="1x0 1x100 1x0 1x100", interleaved): the upload
    // samples of all its runs pooled, and the rise of the pooled p99 over the pooled 0-viewer p99. One run's
    // p99 of 100-300 uploads moves by milliseconds between identical runs on a shared VM; pooling the
    // interleaved runs lets both sides see the same stalls.
    const iot = runs.find((x) => x.impl === 'iotstream').results;
    const pooled = (cams, viewers) => {
      const rs = iot.filter((r) => r.cams === cams && r.viewers === viewers && Array.isArray(r.rtts));
      const v = rs.flatMap((r) => r.rtts).sort((x, y) => x - y);
      return { runs: rs.length, n: v.length, p50: pct(v, 50), p99: pct(v, 99) };
    };
    // With the baseline run more than once, the pooled rise is the verdict: the per-run rise below subtracts the
    // lowest of several noisy p99s, which biases it upwards by about the noise floor.
    let pooledTarget = false;
    for (const [c, v] of [[1, 100], [1, 500], [10, 10]]) {
      const b = pooled(c, 0), w = pooled(c, v);
      if (b.runs < 2 || w.runs < 1) continue;
      const rise = w.p99 - b.p99;
      const target = c === 1 && v === 100;
      pooledTarget ||= target;
      // Below ~500 samples a p99 is one of the few largest samples, i.e. one stall of the VM decides it.
      const verdict = Math.min(b.n, w.n) < MIN_P99_SAMPLES
        ? `too few uploads for a p99 (< ${MIN_P99_SAMPLES} a side): DURATION=60 ONLY=iotstream SCENARIOS="1x0 1x${v} 1x0 1x${v} 1x0 1x${v}"`
        : rise > 1 ? 'NOT MET' : 'MET';
      console.log(`  pooled over interleaved runs, ${c} camera(s): 0 viewers ${b.runs} runs, ${b.n} uploads, p99 ${f2(b.p99)} ms; ` +
        `${v} viewers ${w.runs} runs, ${w.n} uploads, p99 ${f2(w.p99)} ms; rise ${f2(rise)} ms (<= 1 ms: ${verdict})` +
        `${target ? '  <- the target' : ''}`);
    }
    for (const k of ['1x1', '1x10', '1x100', '1x500', '10x10']) {
      const r = byKey[`iotstream/${k}`];
      if (!r || r.rise === null) continue;
      console.log(`  per run: upload p99 rise, ${r.cams} camera(s) -> ${r.viewers} viewers vs the lowest 0-viewer p99: ${f2(r.rise)} ms ` +
        `(<= 1 ms: ${r.rise > 1 ? 'NOT MET' : r.rise < -1 ? 'inconclusive: the baseline p99 is the higher one (noise)' : 'MET'})${k === '1x100' && !pooledTarget ? '  <- the target' : ''}`);
    }
    // Where a rise comes from: the server's own handling of each upload, next to the round trip the camera sees.
    const srv = (viewers) => iot.filter((r) => r.cams === 1 && r.viewers === viewers && r.srv_p99 != null)
      .map((r) => `${f2(r.srv_p50, 3)}/${f2(r.srv_p99, 3)}`);
    if (srv(0).length && srv(100).length) {
      console.log(`  server time per upload (p50/p99 ms), 1 camera: 0 viewers ${srv(0).join(', ')}; 100 viewers ${srv(100).join(', ')}`);
    }
  }
}
