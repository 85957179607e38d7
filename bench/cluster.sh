#!/usr/bin/env bash
# bench/cluster.sh: three iotstream nodes on one PostgreSQL behind HAProxy, all on this machine, fed by the camera
# simulator through HAProxy. Prints what a cluster costs and how fast it moves cameras:
#   steady    CAMS cameras x FPS for DURATION s (recognition off: the ingest path): each node's CPU, in % of a core and
#             per camera, and the database's statements and WAL bytes per second and per frame
#   forwarding the snapshot of a camera of n2 asked SNAPSHOTS times of n2 and of n1 (which forwards it), interleaved
#   events    EVENTS new cameras, one frame each: every one logs a device_online event; statements and WAL bytes per
#             event (the steady phase's heartbeat rate taken off)
#   failover  the steady load again; kill -9 of n2 after 5 s: how long until its cameras' frames are accepted by
#             another node, and the simulator's figures (upload p99, success) over the whole run
# Usage: bench/cluster.sh        env: CAMS=60 FPS=5 DURATION=20 EVENTS=300 SNAPSHOTS=300 BUILD=build CHECK_MS=500
#                                     FRAMES=<JPEG folder>
# Needs: the build (iotstream, iotstream-sim), Debian's postgresql and haproxy (setup.sh WITH_TEST_TOOLS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
LOG_TAG=cluster
. bench/lib.sh
CAMS=${CAMS:-60}
FPS=${FPS:-5}
DURATION=${DURATION:-20}
EVENTS=${EVENTS:-300}
SNAPSHOTS=${SNAPSHOTS:-300}
BUILD=${BUILD:-build}
CHECK_MS=${CHECK_MS:-500}
BIN=${IOTSTREAM_BIN:-$BUILD/src/iotstream}
SIM=$BUILD/tools/sim/iotstream-sim
FACES_DIR=${FACES_DIR:-../shared/faces}
[ -x "$BIN" ] && [ -x "$SIM" ] || { log "build first: cmake -S . -B $BUILD && cmake --build $BUILD"; exit 1; }
need_cmd haproxy "(apt-get install haproxy)"
need_cmd jq
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { log "PostgreSQL is required (apt-get install postgresql)"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/cluster-bench.XXXXXX")
chmod 755 "$T"
PIDS=()
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
finish() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  as_pg "$PGBIN/pg_ctl" -D "$T/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$T"
  exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

# PostgreSQL with pg_stat_statements, to count statements.
mkdir "$T/pg"
[ "$(id -u)" = 0 ] && chown postgres "$T/pg"
as_pg "$PGBIN/initdb" -D "$T/pg" -U postgres --auth=trust >/dev/null
PGPORT=$(free_port)
as_pg "$PGBIN/pg_ctl" -D "$T/pg" -l "$T/pg/server.log" -w \
  -o "-p $PGPORT -k $T/pg -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements" start >/dev/null
sql() { "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "${2:-iotstream}" -Atqc "$1"; }
sql "CREATE DATABASE iotstream" postgres
sql "CREATE EXTENSION pg_stat_statements"
DB="postgresql://postgres@127.0.0.1:$PGPORT/iotstream"

declare -A PORT PID
for i in 1 2 3; do
  PORT[$i]=$(free_port)
  "$BIN" --database "$DB" --node-id "n$i" --bind "127.0.0.$i" --port "${PORT[$i]}" --recognition=false \
    --recognition-api=false --auth off --trusted-proxy 127.0.0.1 --data-dir "$T/n$i" --log-level warn \
    >"$T/n$i.out" 2>"$T/n$i.log" &
  PID[$i]=$!
  PIDS+=("$!")
done
for i in 1 2 3; do wait_http "http://127.0.0.$i:${PORT[$i]}/health" 30 "${PID[$i]}"; done
for _ in $(seq 150); do
  [ "$(curl -fs "http://127.0.0.1:${PORT[1]}/api/v1/cluster" | jq '[.nodes[] | select(.state == "up")] | length')" = 3 ] && break
  sleep 0.2
done
PROXY=$(free_port)
"$BIN" cluster haproxy-config --database "$DB" --bind 127.0.0.1 --port "$PROXY" --check-interval-ms "$CHECK_MS" \
  >"$T/haproxy.cfg"
haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 &
HAPROXY_PID=$!
PIDS+=("$!")
wait_http "http://127.0.0.1:$PROXY/health" 10

# A node's CPU seconds so far (user + system).
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# PostgreSQL's CPU seconds so far: the postmaster and its children (the nodes' connections stay open).
pg_cpu_s() {
  local pm total=0 p
  pm=$(head -1 "$T/pg/postmaster.pid")
  for p in "$pm" $(ps -o pid= --ppid "$pm"); do
    [ -r "/proc/$p/stat" ] && total=$(awk -v t="$total" -v c="$(cpu_s "$p" 2>/dev/null || echo 0)" 'BEGIN { print t + c }')
  done
  echo "$total"
}
stmts() { sql "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"; }
wal() { sql "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"; }
accepted() { curl -fs "http://127.0.0.$1:${PORT[$1]}/metrics" | awk '$1 == "ingest_frames_accepted_total" { print $2 }'; }
FRAMES=${FRAMES:-$FACES_DIR/ageitgey_face_recognition/examples}
log "frames from $FRAMES; $CAMS cameras x $FPS fps through HAProxy at 127.0.0.1:$PROXY; PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}')"

# The cameras register first (their device_online events), then the measured run.
"$SIM" --url "http://127.0.0.1:$PROXY" --cameras "$CAMS" --fps "$FPS" --duration 3 --frames "$FRAMES" --json >/dev/null
declare -A C0 C1 F0 F1
for i in 1 2 3; do C0[$i]=$(cpu_s "${PID[$i]}"); F0[$i]=$(accepted "$i"); done
H0=$(cpu_s "$HAPROXY_PID"); P0=$(pg_cpu_s)
S0=$(stmts); W0=$(wal); t0=$(date +%s.%N)
"$SIM" --url "http://127.0.0.1:$PROXY" --cameras "$CAMS" --fps "$FPS" --duration "$DURATION" --frames "$FRAMES" --json \
  >"$T/steady.json"
t1=$(date +%s.%N); S1=$(stmts); W1=$(wal)
H1=$(cpu_s "$HAPROXY_PID"); P1=$(pg_cpu_s)
for i in 1 2 3; do C1[$i]=$(cpu_s "${PID[$i]}"); F1[$i]=$(accepted "$i"); done
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
frames=0
echo "steady: $CAMS cameras x $FPS fps for $DURATION s through HAProxy (recognition off)"
for i in 1 2 3; do
  f=$(( F1[$i] - F0[$i] )); frames=$(( frames + f ))
  cams=$(curl -fs "http://127.0.0.1:${PORT[1]}/api/v1/cluster" | jq --arg n "n$i" '.nodes[] | select(.node_id == $n) | .load.cameras')
  awk -v c0="${C0[$i]}" -v c1="${C1[$i]}" -v t="$elapsed" -v f="$f" -v cams="$cams" -v n="n$i" 'BEGIN {
    cpu = (c1 - c0) / t * 100
    printf "  %s: %d cameras, %.1f frames/s, CPU %.2f %% of a core, %.3f %% per camera, %.1f us per frame\n", n, cams,
      f / t, cpu, (cams > 0 ? cpu / cams : 0), (f > 0 ? (c1 - c0) / f * 1e6 : 0) }'
done
jq -r '"  simulator: \(.total.ok) of \(.total.sent) answered 2xx, upload p50 \(.total.latency_ms.p50) ms, p99 \(.total.latency_ms.p99) ms"' "$T/steady.json"
awk -v h0="$H0" -v h1="$H1" -v p0="$P0" -v p1="$P1" -v t="$elapsed" -v f="$frames" 'BEGIN {
  printf "  HAProxy: CPU %.2f %% of a core, %.1f us per frame; PostgreSQL: CPU %.2f %% of a core\n", (h1 - h0) / t * 100,
    (h1 - h0) / f * 1e6, (p1 - p0) / t * 100 }'
awk -v s=$(( S1 - S0 )) -v w=$(( W1 - W0 )) -v t="$elapsed" -v f="$frames" 'BEGIN {
  printf "  database: %.1f statements/s, %.0f WAL bytes/s (heartbeats and placements only); per frame %.4f statements, %.1f WAL bytes\n",
    s / t, w / t, s / f, w / f }'
BASE_STMTS_PER_S=$(awk -v s=$(( S1 - S0 )) -v t="$elapsed" 'BEGIN { print s / t }')
BASE_WAL_PER_S=$(awk -v w=$(( W1 - W0 )) -v t="$elapsed" 'BEGIN { print w / t }')

# Forwarding: the snapshot of a camera of n2, asked of n2 itself and of n1, which forwards it to n2 (interleaved).
held=$(curl -fs "http://127.0.0.1:${PORT[1]}/api/v1/cluster" | jq -r '.nodes[] | select(.node_id == "n2") | .cameras[0]')
: >"$T/direct"; : >"$T/forwarded"
for _ in $(seq "$SNAPSHOTS"); do
  curl -fso /dev/null -w '%{time_total}\n' "http://127.0.0.2:${PORT[2]}/api/v1/devices/$held/snapshot.jpg" >>"$T/direct"
  curl -fso /dev/null -w '%{time_total}\n' "http://127.0.0.1:${PORT[1]}/api/v1/devices/$held/snapshot.jpg" >>"$T/forwarded"
done
ms_at() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; printf "%.2f", v[i] * 1000 }'; }
echo "forwarding: $(wc -l <"$T/forwarded") snapshots of $held (held by n2) each way, interleaved:" \
  "from n2 p50 $(ms_at "$T/direct" 50) / p99 $(ms_at "$T/direct" 99) ms;" \
  "through n1 (forwarded) p50 $(ms_at "$T/forwarded" 50) / p99 $(ms_at "$T/forwarded" 99) ms"

# Events: each new camera's first frame logs device_online on its node.
E0=$(sql "SELECT count(*) FROM events"); S0=$(stmts); W0=$(wal); t0=$(date +%s.%N)
"$SIM" --url "http://127.0.0.1:$PROXY" --cameras "$EVENTS" --fps 1 --duration 1 --frames "$FRAMES" --device-prefix ev- \
  --json >/dev/null
for _ in $(seq 100); do
  [ "$(sql "SELECT count(*) FROM events WHERE device_id LIKE 'ev-%' AND type = 'device_online'")" -ge "$EVENTS" ] && break
  sleep 0.1
done
t1=$(date +%s.%N); S1=$(stmts); W1=$(wal); E1=$(sql "SELECT count(*) FROM events")
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
awk -v s=$(( S1 - S0 )) -v w=$(( W1 - W0 )) -v e=$(( E1 - E0 )) -v t="$elapsed" -v bs="$BASE_STMTS_PER_S" \
  -v bw="$BASE_WAL_PER_S" 'BEGIN {
  printf "events: %d logged in %.1f s; per event %.1f statements, %.0f WAL bytes (heartbeats taken off), ", e, t,
    (s - bs * t) / e, (w - bw * t) / e
  printf "%d statements, %d WAL bytes in all\n", s, w }'
echo "  the statements by kind, over the whole run:"
sql "SELECT calls, left(regexp_replace(query, '\s+', ' ', 'g'), 90) FROM pg_stat_statements ORDER BY calls DESC LIMIT 8" |
  sed 's/^/    /'

# Failover: n2 dies under load.
victim=$(curl -fs "http://127.0.0.1:${PORT[1]}/api/v1/cluster" | jq -r '.nodes[] | select(.node_id == "n2") | .cameras[0]')
"$SIM" --url "http://127.0.0.1:$PROXY" --cameras "$CAMS" --fps "$FPS" --duration "$DURATION" --frames "$FRAMES" --json \
  >"$T/failover.json" &
SIM_PID=$!
sleep 5
killed=$(date +%s%N)
kill -KILL "${PID[2]}"
frame="$(find "$FRAMES" -name '*.jpg' | head -1)"
moved=
for _ in $(seq 400); do
  answer=$(curl -s -o /dev/null -D - -w 'status=%{http_code}\n' --max-time 1 -H "X-Device-ID: $victim" \
    -H 'Content-Type: image/jpeg' --data-binary "@$frame" "http://127.0.0.1:$PROXY/api/v1/stream/fast" || true)
  node=$(echo "$answer" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-iotstream-node" { print $2 }')
  if [[ "$answer" == *status=200* ]] && [ -n "$node" ] && [ "$node" != n2 ]; then moved=$(date +%s%N); break; fi
  sleep 0.02
done
wait "$SIM_PID"
if [ -n "$moved" ]; then
  echo "failover: n2 killed; its camera $victim accepted by $node $(( (moved - killed) / 1000000 )) ms later (HAProxy checks every $CHECK_MS ms, down after 2)"
else
  echo "failover: n2 killed; its camera $victim was not accepted elsewhere within 8 s"
fi
jq -r '"  simulator over the run: \(.total.ok) of \(.total.sent) answered 2xx (\(.total.non_2xx) non-2xx, \(.total.timeouts) timeouts, \(.total.connection_errors) connection errors), upload p50 \(.total.latency_ms.p50) ms, p99 \(.total.latency_ms.p99) ms, max \(.total.latency_ms.max) ms"' "$T/failover.json"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(haproxy -v | head -1)"
