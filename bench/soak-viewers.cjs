'use strict';
// Live viewers for bench/soak.sh (Node 18 or later, the `ws` package).
//   node bench/soak-viewers.cjs WS_URL VIEWERS OUT.json
// Opens VIEWERS WebSocket viewers of WS_URL (every camera), reads everything they are sent, and on SIGTERM writes
//   {"viewers": N, "connected": N, "frames": N, "events": {type: N}, "closed_early": N, "errors": N}
// to OUT.json and exits: frames are binary messages, events the JSON text ones (hello and subscribed left out),
// closed_early counts viewers the server closed before the end.
const fs = require('fs');
const WebSocket = require('ws');

const [url, countArg, out] = process.argv.slice(2, 5);
if (!url || !countArg || !out) {
  console.error('usage: node bench/soak-viewers.cjs WS_URL VIEWERS OUT.json');
  process.exit(2);
}
const stats = { viewers: Number(countArg), connected: 0, frames: 0, events: {}, closed_early: 0, errors: 0 };
let stopping = false;
const sockets = [];

for (let i = 0; i < stats.viewers; i++) {
  const ws = new WebSocket(url);
  ws.on('open', () => { stats.connected++; });
  ws.on('message', (data, isBinary) => {
    if (isBinary) { stats.frames++; return; }
    const type = JSON.parse(data.toString()).type;
    if (type !== 'hello' && type !== 'subscribed') stats.events[type] = (stats.events[type] || 0) + 1;
  });
  ws.on('error', () => { stats.errors++; });
  ws.on('close', () => { if (!stopping) stats.closed_early++; });
  sockets.push(ws);
}

process.on('SIGTERM', () => {
  stopping = true;
  for (const ws of sockets) ws.terminate();
  fs.writeFileSync(out, JSON.stringify(stats));
  process.exit(0);
});
