#!/usr/bin/env bash
# bench/events.sh: frame-to-MQTT-message and frame-to-webhook latency of recognition events (issue 14), all on
# 127.0.0.1.
#
# What it measures
#   iotstream (build/src/iotstream, recognition at its defaults: 30 % of frames sampled, cores - 1 workers) with
#   --mqtt-url to a Debian mosquitto started here, one --webhook to the receiver below, and --event-dedup-s 0 so
#   that every recognised face is an event (the default folds repeats of one person at one camera into one event
#   per 10 s, which would leave a handful of events to measure). One person is enrolled (obama.jpg).
#   iotstream-sim (build/tools/sim) posts obama-480p.jpg (one face; another photo than the enrolled one) from N
#   cameras at FPS each to /api/v1/stream/fast for DURATION s, for N in STEPS, on the same running server.
#   bench/event-latency.mjs is the consumer: a mosquitto_sub child on iotstream/events (QoS 1) and an HTTP
#   receiver for the webhook; each recognition event's latency is its arrival time there minus its
#   frame_received_at (when the server had the frame's upload; one machine, one clock). So the figure is the
#   whole path: sampling, the recognition queue and pipeline, the event log write, the output (broker and its
#   delivery to a subscriber; the webhook outbox, POST and answer).
#   After each step the bench waits until both outputs have delivered every event of the step (up to 60 s), then
#   prints per output: events, p50/p90/p99/max (ms); and the simulator's upload p99 and non-2xx, so that a step
#   whose cameras were not served is visible. Target (issue 14): p99 <= 200 ms at 100 cameras.
#
# How to run (from anywhere; it cds to the repo root):
#   bench/events.sh
#   STEPS="1 10" DURATION=5 bench/events.sh
# Knobs: STEPS ("1 10 100"), DURATION (20, s per step), FPS (10), FACES_DIR (../shared/faces), IOTSTREAM_BIN (the
# server binary, build/src/iotstream), SKIP_BUILD (1: use the binaries as built, so that two builds can be run in
# turn; build/tools/sim/iotstream-sim must exist).
# It builds with scripts/setup.sh build (unless SKIP_BUILD=1) and installs what is missing with apt-get (mosquitto
# mosquitto-clients nodejs curl jq).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"

STEPS=${STEPS:-"1 10 100"}
DURATION=${DURATION:-20}
FPS=${FPS:-10}
FACES_DIR=${FACES_DIR:-$ROOT/../shared/faces}
ENROL=$FACES_DIR/ageitgey_face_recognition/examples/obama.jpg
FRAME=$FACES_DIR/ageitgey_face_recognition/examples/obama-480p.jpg
IOTSTREAM_BIN=${IOTSTREAM_BIN:-build/src/iotstream}
SIM_BIN=build/tools/sim/iotstream-sim
HOST=127.0.0.1

LOG_TAG=events
ensure_pkgs mosquitto mosquitto-clients nodejs curl jq
for f in "$ENROL" "$FRAME"; do [ -f "$f" ] || { log "missing $f (set FACES_DIR)"; exit 1; }; done
bench_tmpdir iotstream-events   # T, SRV_PID/SRV_KIND, traps
BROKER_PID=; RECEIVER_PID=
stop_helpers() {
  for p in $RECEIVER_PID $BROKER_PID; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}
trap 'stop_helpers; cleanup' EXIT

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "scripts/setup.sh build (log: $T/setup.log)"
  scripts/setup.sh build > "$T/setup.log" 2>&1 || { log "build failed:"; tail -20 "$T/setup.log" >&2; exit 1; }
fi
# shellcheck source=../scripts/blas-env.sh
source scripts/blas-env.sh
IOTSTREAM_MODELS_DIR=${IOTSTREAM_MODELS_DIR:-$ROOT/.cache/models}

# ------------------------------------------------------------------ broker, receiver, server
BROKER_PORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$BROKER_PORT" > "$T/mosquitto.conf"
mosquitto -c "$T/mosquitto.conf" > "$T/mosquitto.log" 2>&1 &
BROKER_PID=$!
node bench/event-latency.mjs "$BROKER_PORT" > "$T/receiver.out" 2> "$T/receiver.err" &
RECEIVER_PID=$!
for _ in $(seq 100); do grep -q '^listening' "$T/receiver.out" && break; sleep 0.1; done
RECEIVER=http://$HOST:$(sed -n 's/^listening //p' "$T/receiver.out")
[ "$RECEIVER" != "http://$HOST:" ] || { log "the receiver did not start:"; cat "$T/receiver.err" >&2; exit 1; }

iotstream_start --models-dir "$IOTSTREAM_MODELS_DIR" --mqtt-url "mqtt://$HOST:$BROKER_PORT" \
  --webhook "$RECEIVER/hook" --event-dedup-s 0
RECOG=http://$HOST:$(sed -n "s/^recognition listening on $HOST:\([0-9]*\).*/\1/p" "$T/iotstream.out" | head -1)
curl -fs -o /dev/null -F name="Barack Obama" -F "image=@$ENROL;type=image/jpeg" \
  "$RECOG/api/v1/recognition/add-permitted-face" || { log "enrolment failed"; exit 1; }
mkdir -p "$T/frames" && cp "$FRAME" "$T/frames/"

metric() { # NAME: its value in /metrics (0 when absent)
  curl -fs --max-time 5 "$BASE/metrics" | awk -v n="$1" '$1 == n { print $2; found = 1; exit } END { if (!found) print 0 }'
}
recognition_events() { echo $(( $(metric events_person_recognised_total) + $(metric events_unknown_face_total) )); }
delivered() { # the MQTT messages and webhook deliveries still owed: 0 once both are through
  echo $(( $(metric notify_mqtt_queue_depth) + $(metric notify_webhook_backlog) ))
}

# ------------------------------------------------------------------ header
echo "== iotstream event latency benchmark (frame arrival -> MQTT subscriber / webhook receiver)"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit:  $(git describe --always --dirty)"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -sr)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average at start; the machine is shared)"
echo "BLAS:    OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS" \
  "(libopenblas $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo n/a))"
echo "broker:  mosquitto $(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null || echo '?'); receiver: node $(node --version)"
echo "cameras: $SIM_BIN, $FPS fps each, $DURATION s per step, frame $(basename "$FRAME") ($(stat -c %s "$FRAME") bytes)"
printf '%-8s %-8s %8s %8s %8s %8s %8s   %s\n' cameras output events p50_ms p90_ms p99_ms max_ms "uploads (p99 ms, non-2xx)"

curl -fs -o /dev/null "$RECEIVER/stats"   # empties the receiver's window (enrolment, warm-up)
for n in $STEPS; do
  before=$(recognition_events)
  "$SIM_BIN" --url "$BASE" --cameras "$n" --fps "$FPS" --duration "$DURATION" --frames "$T/frames" \
    --device-prefix "cam$n-" --json > "$T/sim-$n.json" 2> "$T/sim-$n.err" || true
  # Every event of the step through both outputs: the log stops growing and nothing is owed.
  last=-1 owed=
  for _ in $(seq 300); do
    now=$(recognition_events); owed=$(delivered)
    [ "$now" = "$last" ] && [ "$owed" = 0 ] && break
    last=$now; sleep 0.2
  done
  [ "$owed" = 0 ] || log "after $n cameras the outputs still owe $owed message(s); measuring what arrived"
  sleep 0.5   # the last messages' way from the broker to the subscriber
  events=$(( $(recognition_events) - before ))
  stats=$(curl -fs "$RECEIVER/stats")
  uploads=$(jq -r '.total | "\(.latency_ms.p99) ms, \(.non_2xx) non-2xx"' "$T/sim-$n.json" 2>/dev/null || echo "?")
  for out in mqtt webhook; do
    echo "$stats" | jq -r --arg n "$n" --arg out "$out" --arg ev "$events" --arg up "$uploads" \
      '.[$out] as $s | "\($n)\t\($out)\t\($s.count) of \($ev)\t\($s.p50)\t\($s.p90)\t\($s.p99)\t\($s.max)\t\($up)"' |
      awk -F'\t' '{ printf "%-8s %-8s %8s %8s %8s %8s %8s   %s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
  done
done
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (at the end)"
echo "server's own view (event_latency_seconds in /metrics, all steps): $(curl -fs "$BASE/metrics" |
  awk '/^event_latency_seconds_count/ { printf "%s ", $0 }')"
