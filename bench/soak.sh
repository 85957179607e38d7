#!/usr/bin/env bash
# bench/soak.sh: the soak test (issue 16), all on 127.0.0.1.
#
# What it does
#   iotstream (recognition on at its defaults, no one enrolled, so faces become unknown_face events) takes CAMERAS
#   simulated cameras (build/tools/sim: the firmware's uploader, one keep-alive connection each) at FPS, while
#   VIEWERS WebSocket viewers of /ws (bench/soak-viewers.cjs) get every camera's frames and the events, for
#   DURATION s. The simulator runs in back-to-back runs of SAMPLE_S s; after each, the bench records the server's
#   RSS, open descriptors and threads (/proc), its queue depths (store_queue_frames from /metrics; the recognition
#   pool's pending cameras and busy workers from the recognition port's /health) and the run's upload p99.
#   Frames are ~FRAME_BYTES JPEGs ffmpeg makes from obama-480p.jpg.
#
# It fails (exit 1) when
#   - memory or descriptors keep growing after warm-up: the mean of the last third of the samples taken after
#     WARMUP_S is over the first of them by more than RSS_MARGIN_PCT % + RSS_MARGIN_MIB MiB (RSS), or FD_MARGIN
#     (descriptors) or THREAD_MARGIN (threads);
#   - a frame is lost that was not counted as a drop: after the cameras stop and the store's queue drains, the
#     frames the cameras had answered 2xx must equal ingest_frames_accepted_total, and those must equal
#     store_frames_stored_total + store_frames_dropped_total + store_write_errors_total; and every frame the server
#     counts as written to a viewer (live_frames_sent_total) must have reached one, and every event in the log must
#     have reached every viewer or be counted in live_events_dropped_total (a viewer behind loses its oldest);
#   - the server exits, or a viewer is closed by the server before the end.
#   Uploads the cameras gave up on (timeouts, connection errors) are counted by the simulator and reported, not
#   failed on: the server never had them. Latencies are reported, never judged (the machine may be shared).
#
# How to run (from anywhere; it cds to the repo root):
#   bench/soak.sh                      10 minutes
#   DURATION=60 bench/soak.sh          the CI version (CTest's soak_60s, run by ./test.sh)
# Knobs: DURATION (600 s), CAMERAS (50), FPS (10), VIEWERS (20), SAMPLE_S (10), WARMUP_S (20), FRAME_BYTES (40960),
#   RSS_MARGIN_PCT (25), RSS_MARGIN_MIB (32), FD_MARGIN (16), THREAD_MARGIN (4), IOTSTREAM_BIN (build/src/iotstream),
#   SIM_BIN (build/tools/sim/iotstream-sim), IOTSTREAM_FACES_DIR / FACES_DIR (../shared/faces),
#   IOTSTREAM_MODELS_DIR (.cache/models). It builds nothing: build first (./test.sh or scripts/setup.sh build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"

DURATION=${DURATION:-600}
CAMERAS=${CAMERAS:-50}
FPS=${FPS:-10}
VIEWERS=${VIEWERS:-20}
SAMPLE_S=${SAMPLE_S:-10}
WARMUP_S=${WARMUP_S:-20}
FRAME_BYTES=${FRAME_BYTES:-40960}
RSS_MARGIN_PCT=${RSS_MARGIN_PCT:-25}
RSS_MARGIN_MIB=${RSS_MARGIN_MIB:-32}
FD_MARGIN=${FD_MARGIN:-16}
THREAD_MARGIN=${THREAD_MARGIN:-4}
IOTSTREAM_BIN=${IOTSTREAM_BIN:-build/src/iotstream}
SIM_BIN=${SIM_BIN:-build/tools/sim/iotstream-sim}
FACES_DIR=${IOTSTREAM_FACES_DIR:-${FACES_DIR:-$ROOT/../shared/faces}}
MODELS_DIR=${IOTSTREAM_MODELS_DIR:-$ROOT/.cache/models}
HOST=127.0.0.1
LOG_TAG=soak

need_cmd curl; need_cmd jq; need_cmd ffmpeg; need_cmd node
for f in "$IOTSTREAM_BIN" "$SIM_BIN"; do [ -x "$f" ] || { log "no $f: build first"; exit 1; }; done
[ -f "$MODELS_DIR/face_recognition_model.bin" ] || { log "no descriptor weights in $MODELS_DIR (scripts/fetch-models.sh)"; exit 1; }
SRC_IMG=$FACES_DIR/ageitgey_face_recognition/examples/obama-480p.jpg
[ -f "$SRC_IMG" ] || { log "missing $SRC_IMG (set FACES_DIR)"; exit 1; }
need_ws ci
(( DURATION >= 3 * SAMPLE_S + WARMUP_S )) || { log "DURATION must be at least WARMUP_S + 3 samples"; exit 1; }
bench_tmpdir iotstream-soak   # T, SRV_PID/SRV_KIND, traps
VIEWERS_PID=
stop_viewers() { [ -z "$VIEWERS_PID" ] || { kill -TERM "$VIEWERS_PID" 2>/dev/null || true; wait "$VIEWERS_PID" 2>/dev/null || true; }; }
trap 'stop_viewers; cleanup' EXIT

# ------------------------------------------------------------------ the frame: ~FRAME_BYTES, the best quality under it
mkdir -p "$T/frames"
for q in $(seq 2 31); do
  ffmpeg -v error -y -i "$SRC_IMG" -q:v "$q" "$T/try.jpg"
  cp "$T/try.jpg" "$T/frames/frame.jpg"
  [ "$(stat -c %s "$T/try.jpg")" -le "$FRAME_BYTES" ] && break
done
rm -f "$T/try.jpg"

# ------------------------------------------------------------------ server and viewers
iotstream_start --models-dir "$MODELS_DIR" || exit 1
RECOG_BASE=http://$HOST:$(sed -n "s/^recognition listening on $HOST:\([0-9]*\).*/\1/p" "$T/iotstream.out" | head -1)
node bench/soak-viewers.cjs "ws://${BASE#http://}/ws" "$VIEWERS" "$T/viewers.json" &
VIEWERS_PID=$!
metric() { awk -v m="$1" '$1 == m { print $2; f = 1; exit } END { if (!f) print 0 }' "$T/metrics"; }
# The viewers are all there before the first camera, so that each is owed every event.
for _ in $(seq 300); do
  curl -fs --max-time 5 "$BASE/metrics" > "$T/metrics"
  [ "$(metric live_viewers)" = "$VIEWERS" ] && break
  sleep 0.1
done
[ "$(metric live_viewers)" = "$VIEWERS" ] || { log "the viewers did not all connect"; exit 1; }

echo "== iotstream soak: $CAMERAS cameras at $FPS fps, $VIEWERS /ws viewers, recognition on, for $DURATION s"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git describe --always --dirty 2>/dev/null || echo n/a)"
echo "machine: $(nproc) CPUs, $(uname -sr); load $(cut -d' ' -f1-3 /proc/loadavg) at start (the machine may be shared)"
echo "frame:   $(stat -c %s "$T/frames/frame.jpg") bytes, from obama-480p.jpg"
printf '%6s %9s %5s %8s %11s %13s %10s %9s %9s\n' t_s rss_mib fds threads store_queue recog_pending recog_busy \
  p99_ms uploads

SAMPLES=$T/samples.tsv   # t rss_kib fds threads
: > "$SAMPLES"
SENT=0 OK=0 TIMEOUTS=0 CONN_ERRORS=0 NON2XX=0 SKIPPED=0
runs=$(( DURATION / SAMPLE_S ))
for i in $(seq "$runs"); do
  "$SIM_BIN" --url "$BASE" --cameras "$CAMERAS" --fps "$FPS" --duration "$SAMPLE_S" --frames "$T/frames" \
    --device-prefix soak- --json > "$T/sim.json" 2> "$T/sim.err" || { log "iotstream-sim failed:"; tail -5 "$T/sim.err" >&2; exit 1; }
  kill -0 "$SRV_PID" 2>/dev/null || { log "the server exited:"; tail -20 "$T/iotstream.err" >&2; exit 1; }
  read -r sent ok timeouts conn non2xx skipped p99 < <(jq -r '.total | [.sent, .ok, .timeouts,
    .connect_failures + .connection_errors, .non_2xx, .skipped, .latency_ms.p99] | @tsv' "$T/sim.json")
  SENT=$((SENT + sent)) OK=$((OK + ok)) TIMEOUTS=$((TIMEOUTS + timeouts)) CONN_ERRORS=$((CONN_ERRORS + conn))
  NON2XX=$((NON2XX + non2xx)) SKIPPED=$((SKIPPED + skipped))
  rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$SRV_PID/status")
  threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$SRV_PID/status")
  fds=$(find "/proc/$SRV_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
  curl -fs --max-time 5 "$BASE/metrics" > "$T/metrics"
  read -r pending busy < <(curl -fs --max-time 5 "$RECOG_BASE/health" | jq -r '[.pool.pending_cameras, .pool.busy] | @tsv')
  t=$((i * SAMPLE_S))
  echo -e "$t\t$rss\t$fds\t$threads" >> "$SAMPLES"
  printf '%6d %9.1f %5d %8d %11d %13d %10d %9.1f %9d\n' "$t" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$fds" \
    "$threads" "$(metric store_queue_frames)" "$pending" "$busy" "$p99" "$ok"
done

# ------------------------------------------------------------------ the verdict
failed=0
fail() { echo "FAIL: $*"; failed=1; }
# The store's queue drains and the viewers get what was written to them.
for _ in $(seq 300); do
  curl -fs --max-time 5 "$BASE/metrics" > "$T/metrics"
  [ "$(metric store_queue_frames)" = 0 ] && break
  sleep 0.1
done
sleep 1
curl -fs --max-time 5 "$BASE/metrics" > "$T/metrics"
stop_viewers; VIEWERS_PID=

growth() { # column margin_abs margin_pct: "first mean verdict" over the samples after warm-up
  awk -F'\t' -v w="$WARMUP_S" -v c="$1" -v abs="$2" -v pct="$3" '$1 > w { v[n++] = $c }
    END { k = int((n + 2) / 3); s = 0; for (i = n - k; i < n; i++) s += v[i]; m = s / k;
          printf "%d %.1f %s\n", v[0], m, (m > v[0] * (1 + pct / 100) + abs) ? "grows" : "flat" }' "$SAMPLES"
}
read -r rss0 rss_mean rss_verdict < <(growth 2 $((RSS_MARGIN_MIB * 1024)) "$RSS_MARGIN_PCT")
read -r fd0 fd_mean fd_verdict < <(growth 3 "$FD_MARGIN" 0)
read -r th0 th_mean th_verdict < <(growth 4 "$THREAD_MARGIN" 0)
echo
echo "after warm-up (${WARMUP_S} s), first sample -> mean of the last third:"
echo "  RSS $((rss0 / 1024)) MiB -> $(awk -v m="$rss_mean" 'BEGIN { printf "%.1f", m / 1024 }') MiB ($rss_verdict);" \
  "descriptors $fd0 -> $fd_mean ($fd_verdict); threads $th0 -> $th_mean ($th_verdict)"
[ "$rss_verdict" = flat ] || fail "memory keeps growing"
[ "$fd_verdict" = flat ] || fail "descriptors keep growing"
[ "$th_verdict" = flat ] || fail "threads keep growing"

logged=0 since=0   # the events in the log, paged forward
while :; do
  curl -fs --max-time 10 "$BASE/api/v1/events?since_id=$since&limit=1000" > "$T/events.json"
  n=$(jq .count "$T/events.json")
  [ "$n" = 0 ] && break
  logged=$((logged + n)) since=$(jq '.events[-1].id' "$T/events.json")
done
viewer_events=$(jq '[.events[]] | add // 0' "$T/viewers.json")
events_dropped=$(metric live_events_dropped_total)
accepted=$(metric ingest_frames_accepted_total)
stored=$(metric store_frames_stored_total)
store_dropped=$(metric store_frames_dropped_total)
write_errors=$(metric store_write_errors_total)
live_sent=$(metric live_frames_sent_total)
echo "cameras: $SENT uploads, $OK answered 2xx, $NON2XX non-2xx, $TIMEOUTS timed out, $CONN_ERRORS connection errors," \
  "$SKIPPED frames skipped by the cameras (their previous upload still running)"
echo "server:  $accepted accepted = $stored stored + $store_dropped dropped (queue full) + $write_errors write errors;" \
  "recognised $(metric recognition_jobs_completed_total), recognition drops (replaced by a newer frame)" \
  "$(metric recognition_dropped_replaced_total)"
jq -r '"viewers: \(.connected)/\(.viewers) connected, \(.frames) frames received, events \(.events | tostring),
  \(.closed_early) closed early, \(.errors) errors"' "$T/viewers.json"
echo "live:    $live_sent frames written to viewers, $(metric live_frames_skipped_total) skipped (viewer behind);" \
  "$logged events logged, $viewer_events received by the viewers, $events_dropped dropped (viewer behind)"
[ "$OK" = "$accepted" ] || fail "the cameras had $OK uploads answered 2xx, the server accepted $accepted"
[ "$accepted" = $((stored + store_dropped + write_errors)) ] ||
  fail "$((accepted - stored - store_dropped - write_errors)) accepted frames neither stored nor counted as dropped"
[ "$(jq .frames "$T/viewers.json")" = "$live_sent" ] ||
  fail "the viewers received $(jq .frames "$T/viewers.json") frames, the server wrote $live_sent"
[ $((viewer_events + events_dropped)) = $((logged * VIEWERS)) ] ||
  fail "$((logged * VIEWERS - viewer_events - events_dropped)) events neither reached a viewer nor were counted as dropped"
[ "$(jq '.connected == .viewers and .closed_early == 0' "$T/viewers.json")" = true ] ||
  fail "a viewer did not connect or was closed early"
[ "$(metric events_store_errors_total)" = 0 ] || fail "events could not be stored"
kill -0 "$SRV_PID" 2>/dev/null || fail "the server exited"
if [ "$failed" = 0 ]; then echo "PASS"; else tail -20 "$T/iotstream.err"; exit 1; fi
