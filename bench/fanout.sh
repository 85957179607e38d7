#!/usr/bin/env bash
# bench/fanout.sh: live-view fan-out benchmark (issue 4), all on 127.0.0.1.
#
# What it measures, for iotstream and then the reference peer (../shared/peers/seed-express, Node
# only: RECOG=0, recognition is irrelevant to fan-out; iotstream likewise with --recognition=false), one
# server at a time, each started fresh:
#   scenarios (cameras x 10 fps -> WebSocket viewers of /ws), each WARMUP (1 s) + DURATION:
#     1 -> 0 (upload baseline), 1 -> 1, 1 -> 10, 1 -> 100, 1 -> 500, 1 -> 0 again (the lower of the
#     two 0-viewer upload p99s is the baseline), 10 -> 0 (baseline), 10 -> 10
#   - delivered/expected frames (expected = frames posted in the window x viewers; every viewer
#     receives every camera's frames; deliveries later than GRACE (1.5 s) after the last post miss)
#   - ingest-to-viewer latency p50/p99: viewer receive time minus the camera's POST start, matched
#     exactly per frame by a sequence number in a JPEG COM segment of each posted frame (works for
#     both servers; the peer sends bare JPEGs). iotstream's binary header frame id is also checked
#     against the POST answer's frame_id.
#   - server CPU per delivered frame (/proc/<pid>/task/*/schedstat, ns; /proc/<pid>/stat utime+stime
#     in clock ticks is printed beside it as a check), and the fan-out share
#     (minus the 0-viewer ingest CPU per posted frame)
#   - camera upload round trip p50/p99 and its rise over the 0-viewer baseline, and beside it (iotstream)
#     the server's own time for those uploads (its upload-handler histogram, /metrics, before and after)
#   - frames the server itself counted as skipped (iotstream /api/v1/live/viewers, peer
#     /api/v1/system/performance websocket.frames_dropped)
# Cameras (main thread) and viewers (VIEWER_THREADS worker threads) run in ONE Node process on the
# same cores as the server under test.
#
#   bench/fanout.sh
#   DURATION=5 ONLY=iotstream SCENARIOS="1x0 1x100" bench/fanout.sh
#   DURATION=60 ONLY=iotstream SCENARIOS="1x0 1x100 1x0 1x100 1x0 1x100" bench/fanout.sh
#     (the upload-rise target: with the 0-viewer baseline run more than once, each scenario's upload samples
#     are pooled over its runs, so interleaved runs share the machine's stalls, and the pooled rise is the
#     verdict; identical 0-viewer runs of 200-600 uploads differ by 1-4 ms in p99 on this VM)
# VIEWER_SCHED=idle puts the viewer threads of the load generator under SCHED_IDLE (an experiment: it makes
#   the rise larger, see the README).
# Knobs: DURATION (10, seconds), WARMUP (1), GRACE (1.5), FPS (10), SCENARIOS ("CAMSxVIEWERS ..."),
#   VIEWER_THREADS (2), ONLY ("iotstream peer"), IOTSTREAM_BIN (build/src/iotstream),
#   FRAME_BYTES (40960), FACES_DIR (../shared/faces), KEEP (a folder to copy the result JSON into).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"

export DURATION=${DURATION:-10} WARMUP=${WARMUP:-1} GRACE=${GRACE:-1.5} FPS=${FPS:-10}
export SCENARIOS=${SCENARIOS:-"1x0 1x1 1x10 1x100 1x500 1x0 10x0 10x10"} VIEWER_THREADS=${VIEWER_THREADS:-2}
ONLY=${ONLY:-"iotstream peer"}
IOTSTREAM_BIN=${IOTSTREAM_BIN:-build/src/iotstream}
FRAME_BYTES=${FRAME_BYTES:-40960}
FACES_DIR=${FACES_DIR:-../shared/faces}
PEER_SRC=${PEER_SRC:-../shared/peers/seed-express}
PEER_DIR=$ROOT/.cache/peer-seed-express
PY=/usr/bin/python3
HOST=127.0.0.1
export CLK_TCK; CLK_TCK=$(getconf CLK_TCK)

LOG_TAG=fanout

need_cmd node "(Node 20)"
need_cmd curl
"$PY" -c 'import PIL' 2>/dev/null || { log "python3-pil is required (apt-get install python3-pil)"; exit 1; }
need_ws ci
[ -x "$IOTSTREAM_BIN" ] || ! want iotstream || { log "$IOTSTREAM_BIN missing (build it first)"; exit 1; }

# ------------------------------------------------------------------ temp dir + cleanup
bench_tmpdir iotstream-fanout   # T, SRV_PID/SRV_KIND, traps
CPU_PID=   # the process whose CPU is measured (iotstream, or the peer's node process)

# ------------------------------------------------------------------ the frame (as bench/ingest.sh)
make_frame

# ------------------------------------------------------------------ servers
start_iotstream() {
  local port; port=$(free_port)
  mkdir -p "$T/data"
  # Recognition off, like the peer's Node-only mode: this measures live view, not face recognition. --auth off: the
  # peer is open, and the viewers carry no token.
  "$IOTSTREAM_BIN" --port "$port" --bind "$HOST" --data-dir "$T/data" --log-level warn --auth off \
    --recognition=false --recognition-api=false \
    > "$T/iotstream.out" 2> "$T/iotstream.err" &
  SRV_PID=$!; SRV_KIND=iotstream; CPU_PID=$SRV_PID
  wait_iotstream_out "listening on $HOST:$port" 150
  wait_http "http://$HOST:$port/health" 5 "$SRV_PID" ||
    { log "iotstream did not come up:"; tail -20 "$T/iotstream.err" >&2; return 1; }
  BASE=http://$HOST:$port
}
start_peer() { # Node only (RECOG=0); a copy in .cache keeps node_modules between runs
  peer_copy
  peer_setup WITH_RECOG=0 ||
    { log "peer setup failed:"; tail -20 "$T/peer-setup.log" >&2; return 1; }
  local port rport
  port=$(free_port); rport=$(free_port)
  peer_launch "$port" "$rport" 0
  wait_http "http://$HOST:$port/health" 30 "$SRV_PID" ||
    { log "peer did not come up:"; tail -20 "$T/peer-run.out" >&2; return 1; }
  CPU_PID=$(cat "$T/peer-run/server.pid")   # the node process itself, not run.sh
  BASE=http://$HOST:$port
}

# ------------------------------------------------------------------ header
echo "== iotstream live-view fan-out benchmark"
echo "date:      $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:   $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -sr), load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions:  node $(node --version), ws $(node -p 'require("./node_modules/ws/package.json").version')," \
     "iotstream $(timeout 5 "$IOTSTREAM_BIN" --version 2>/dev/null | head -1 || echo n/a)," \
     "peer ws $(node -p "require('$PEER_SRC/package.json').dependencies.ws" 2>/dev/null || echo n/a)"
echo "frame:     $FRAME_INFO (bench/ingest.sh's frame) + a 10-byte JPEG COM tag per post (sequence number)"
echo "load:      cameras POST /api/v1/stream/fast (raw image/jpeg, keep-alive, one connection each, open-loop $FPS fps);"
echo "           viewers: ws clients of /ws, no compression, in $VIEWER_THREADS worker threads; cameras and viewers run in ONE"
echo "           Node process on the same $(nproc) cores as the server under test (client CPU% below is that process)"
echo "window:    ${WARMUP}s warm-up (not counted) + ${DURATION}s measured + ${GRACE}s grace for deliveries; scenarios: $SCENARIOS"
echo "peer:      $PEER_SRC, Node only (RECOG=0: recognition off; irrelevant to fan-out), WS_MAX_BUFFERED_BYTES default 1 MiB;"
echo "           its /ws sends bare JPEGs (no header): latency is matched by the JPEG tag, the same way as for iotstream"
echo "servers:   one at a time, each started fresh and stopped before the next"
echo

for srv in iotstream peer; do
  want "$srv" || continue
  case $srv in
    iotstream) start_iotstream || exit 1 ;;
    peer)      start_peer || exit 1 ;;
  esac
  log "$srv up at $BASE (cpu pid $CPU_PID)"
  node bench/fanout.js run --impl "$srv" --base "$BASE" --pid "$CPU_PID" --frame "$FRAME" \
    --out "$T/result-$srv.json" || { log "$srv run failed"; exit 1; }
  if [ "$srv" = iotstream ]; then
    grep -v '^listening on' "$T/iotstream.err" | tail -5 | sed 's/^/  iotstream stderr: /' || true
  fi
  stop_server
  sleep 1
done

echo "== results (DURATION=${DURATION}s per scenario)"
files=(); for f in "$T"/result-*.json; do [ -f "$f" ] && files+=("$f"); done
# iotstream first
[ -f "$T/result-iotstream.json" ] && [ -f "$T/result-peer.json" ] && files=("$T/result-iotstream.json" "$T/result-peer.json")
node bench/fanout.js report "${files[@]}"
if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "${files[@]}" "$KEEP/"; log "results JSON copied to $KEEP"; fi
