// bench/event-latency.mjs: the consumer end of bench/events.sh. Receives iotstream's recognition events as a
// Home Assistant or a webhook consumer would, and measures each one's age on arrival: Date.now() minus the
// event's frame_received_at (the server's wall clock when the frame's upload arrived; same machine, same clock).
//   MQTT:    a mosquitto_sub child subscribed to <prefix>/events at QoS 1 (one JSON message per line)
//   webhook: an HTTP server; every POST is answered 200 at once
// Control (HTTP, same server): GET /stats answers {mqtt, webhook} each {count, p50, p90, p99, max} (ms) of what
// arrived since the last /stats, and starts a new window. Prints "listening PORT" on stdout when ready.
// Usage: node bench/event-latency.mjs BROKER_PORT [TOPIC]       (Node 18, no npm packages)
import { spawn } from 'node:child_process';
import http from 'node:http';
import readline from 'node:readline';

const [brokerPort, topic = 'iotstream/events'] = process.argv.slice(2);
if (!brokerPort) {
  console.error('usage: node bench/event-latency.mjs BROKER_PORT [TOPIC]');
  process.exit(2);
}

const windows = { mqtt: [], webhook: [] };
const recognition = new Set(['person_recognised', 'unknown_face']);

function record(output, text) {
  const now = Date.now();
  let event;
  try {
    event = JSON.parse(text);
  } catch {
    return;
  }
  if (!recognition.has(event.type) || typeof event.frame_received_at !== 'number') return;
  windows[output].push(now - event.frame_received_at);
}

function summary(values) {
  const v = [...values].sort((a, b) => a - b);
  const at = (q) => (v.length ? v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)] : null);
  return { count: v.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: v.length ? v[v.length - 1] : null };
}

const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', brokerPort, '-t', topic, '-q', '1', '-i', 'bench-events'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
sub.on('exit', (code) => {
  console.error(`event-latency: mosquitto_sub exited (${code})`);
  process.exit(1);
});
readline.createInterface({ input: sub.stdout }).on('line', (line) => record('mqtt', line));

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    const out = { mqtt: summary(windows.mqtt), webhook: summary(windows.webhook) };
    windows.mqtt = [];
    windows.webhook = [];
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(out));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'POST') record('webhook', Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    sub.kill();
    process.exit(0);
  });
}
