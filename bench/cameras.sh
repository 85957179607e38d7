#!/usr/bin/env bash
# bench/cameras.sh: camera capacity (issue 13), all on 127.0.0.1.
#
# What it measures
#   iotstream-sim (build/tools/sim: simulated ESP32-CAMs on the firmware's uploader, each camera one keep-alive
#   connection, open loop, 3 s timeout) posts 640x480 JPEGs of about FRAME_BYTES to /api/v1/stream/fast at FPS per
#   camera for DURATION s, at each camera count in STEPS, against
#     iotstream   build/src/iotstream, recognition on at its defaults (30 % of frames sampled, cores - 1 workers),
#                 no one enrolled
#     peer        ../shared/peers/seed-express as the full system (Node + Python recognition, 30 % sampled, at
#                 most 8 recognition calls in flight), copied to .cache/peer-seed-express as the other benches do
#   One server at a time: start it, warm it up (WARMUP s at the first step's camera count, not counted: Node's JIT,
#   lazily loaded models), step through STEPS on the same running server, stop it; then the other. Before each step the server is left to finish the previous one's backlog (until it uses under 10 % of a core, 15 s at
#   most). The simulator shares the two cores with the server, as the issue's target says.
#   Per step: the frames (fps x duration per camera, sent or skipped), the share answered 2xx within SLO_MS (the
#   simulator's --slo-ms), latency p50/p99/max of the answers, timeouts, non-2xx, connection errors; the server's
#   CPU (utime + stime from /proc/PID/stat over the step, % of one core) and peak RSS (VmHWM after resetting it
#   through /proc/PID/clear_refs at the step's start); for the peer both are summed over Node and Python. And the
#   frames recognised during the step (iotstream: recognition_jobs_completed_total; peer: recognition.ok) and the
#   simulator's own CPU (bash's `times`).
#   Verdict per server: the largest camera count held, i.e. every step up to it had >= 99.9 % of its frames
#   answered 2xx within SLO_MS. Targets: iotstream holds >= 200 cameras; its peak RSS at 200 cameras < 300 MiB.
#   The frames: PHOTOS (one face each, from FACES_DIR) scaled to cover 640x480, centre-cropped, and JPEG-encoded by
#   ffmpeg at the quality whose size is nearest FRAME_BYTES, into the temp dir.
#
# How to run (from anywhere; it cds to the repo root):
#   bench/cameras.sh
#   STEPS="10 50" DURATION=3 ONLY=iotstream bench/cameras.sh
# Knobs: STEPS ("10 50 100 200 400"), DURATION (10, s per step), WARMUP (2, s; 0: none), FPS (10), ONLY
#   ("iotstream peer"), SLO_MS (100), FRAME_BYTES (40960), FACES_DIR (../shared/faces), PHOTOS (four photos there).
# It builds with scripts/setup.sh build and sets the peer up with its own setup.sh (both idempotent), and
# installs what is missing with apt-get (ffmpeg curl jq).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"

STEPS=${STEPS:-"10 50 100 200 400"}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
FPS=${FPS:-10}
ONLY=${ONLY:-"iotstream peer"}
SLO_MS=${SLO_MS:-100}
FRAME_BYTES=${FRAME_BYTES:-40960}
FACES_DIR=${FACES_DIR:-$ROOT/../shared/faces}
PHOTOS=${PHOTOS:-"ageitgey_face_recognition/examples/obama-720p.jpg
  ageitgey_face_recognition/examples/knn_examples/test/alex_lacamoire1.jpg
  ageitgey_face_recognition/examples/knn_examples/train/rose_leslie/img1.jpg
  ageitgey_face_recognition/examples/knn_examples/train/biden/biden2.jpg"}
IOTSTREAM_BIN=build/src/iotstream
SIM_BIN=build/tools/sim/iotstream-sim
PEER_SRC=${PEER_SRC:-../shared/peers/seed-express}
PEER_DIR=$ROOT/.cache/peer-seed-express
HOST=127.0.0.1
HOLD=99.9 HOLD_PERMILLE=999   # share of frames answered 2xx within SLO_MS for a step to count as held
CLK_TCK=$(getconf CLK_TCK)

LOG_TAG=cameras
ensure_pkgs ffmpeg curl jq
bench_tmpdir iotstream-cameras   # T, SRV_PID/SRV_KIND, traps

# ------------------------------------------------------------------ build
log "scripts/setup.sh build (log: $T/setup.log)"
scripts/setup.sh build > "$T/setup.log" 2>&1 || { log "build failed:"; tail -20 "$T/setup.log" >&2; exit 1; }
# shellcheck source=../scripts/blas-env.sh
source scripts/blas-env.sh

# ------------------------------------------------------------------ the frames
mkdir -p "$T/frames"
i=0
for photo in $PHOTOS; do
  i=$((i + 1)); out=$T/frames/frame-$i.jpg; best=
  for q in $(seq 1 31); do   # ffmpeg's JPEG quality scale: 1 best; sizes fall as q rises
    ffmpeg -v error -y -i "$FACES_DIR/$photo" -vf "scale=640:480:force_original_aspect_ratio=increase,crop=640:480" \
      -pix_fmt yuvj420p -qmin 1 -q:v "$q" "$T/try.jpg"
    size=$(stat -c %s "$T/try.jpg")
    off=$(( size > FRAME_BYTES ? size - FRAME_BYTES : FRAME_BYTES - size ))
    if [ -z "$best" ] || [ "$off" -lt "$best" ]; then best=$off; cp "$T/try.jpg" "$out"; fi
    [ "$size" -le "$FRAME_BYTES" ] && break
  done
done
FRAMES_INFO="$i JPEGs, 640x480, $(stat -c %s "$T"/frames/*.jpg | sort -n | tr '\n' ' ' | sed 's/ $//; s/ / \/ /g') bytes"

# ------------------------------------------------------------------ header
echo "== iotstream camera capacity benchmark"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit:  $(git describe --always --dirty)"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -sr)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average at start; the machine is shared)"
echo "BLAS:    OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS" \
  "(libopenblas $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo n/a)), the same for both servers"
echo "frames:  $FRAMES_INFO, one face each, from (under $FACES_DIR):"
# shellcheck disable=SC2086  # PHOTOS is a list of paths
printf '           %s\n' $PHOTOS
echo "cameras: $SIM_BIN, $FPS fps per camera, ${DURATION} s per step after a ${WARMUP} s warm-up, steps: $STEPS; held = >= $HOLD % of frames 2xx within $SLO_MS ms"

RESULTS=$T/results.tsv   # server cams frames ok within p50 p99 max timeouts non2xx errors cpu_pct rss_kib recognised sim_cpu_pct
: > "$RESULTS"

# ------------------------------------------------------------------ per-process figures
server_pids() { # the processes measured: iotstream, or the peer's Node and Python
  if [ "$SRV_KIND" = peer ]; then cat "$T/peer-run/server.pid" "$T/peer-run/recognition.pid"; else echo "$SRV_PID"; fi
}
cpu_ticks() { # PID...: utime + stime summed, clock ticks
  local p sum=0
  for p in "$@"; do sum=$(( sum + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }') )); done
  echo "$sum"
}
hwm_kib() { # PID...: VmHWM summed, KiB
  local p sum=0
  for p in "$@"; do sum=$(( sum + $(awk '$1 == "VmHWM:" { print $2 }' "/proc/$p/status") )); done
  echo "$sum"
}
children_ms() { # FILE: the user + system time of the shell's finished children in the output of bash's `times`, ms
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }' "$1"
}
recognised() { # frames recognised so far
  if [ "$SRV_KIND" = peer ]; then
    curl -fs --max-time 5 "$BASE/api/v1/system/performance" | jq -r '.recognition.ok // 0'
  else
    curl -fs --max-time 5 "$BASE/metrics" | awk '$1 == "recognition_jobs_completed_total" { print $2; exit }'
  fi
}
settle() { # PID...: until they use under 10 % of a core over 0.5 s, 15 s at most
  local a b
  for _ in $(seq 30); do
    a=$(cpu_ticks "$@"); sleep 0.5; b=$(cpu_ticks "$@")
    (( (b - a) * 20 < CLK_TCK )) && return 0
  done
  log "$SRV_KIND still busy after 15 s; measuring anyway"
}

run_step() { # server cameras
  local srv=$1 n=$2 pids c0 c1 t0 t1 r0 r1 p out
  mapfile -t pids < <(server_pids)
  settle "${pids[@]}"
  for p in "${pids[@]}"; do echo 5 > "/proc/$p/clear_refs"; done   # VmHWM := current RSS
  r0=$(recognised); c0=$(cpu_ticks "${pids[@]}"); t0=$(date +%s.%N)
  times > "$T/times0"   # in this shell, not in a $(...) subshell: only the simulator finishes until times1
  out=$T/sim-$srv-$n.json
  "$SIM_BIN" --url "$BASE" --cameras "$n" --fps "$FPS" --duration "$DURATION" --frames "$T/frames" \
    --slo-ms "$SLO_MS" --device-prefix cam- --json > "$out" 2> "$T/sim-$srv-$n.err" ||
    { log "iotstream-sim failed:"; tail -5 "$T/sim-$srv-$n.err" >&2; return 1; }
  times > "$T/times1"; t1=$(date +%s.%N); c1=$(cpu_ticks "${pids[@]}"); r1=$(recognised)
  local cpu sim_ms sim_cpu rss
  cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", 100 * d / hz / (b - a) }')
  sim_ms=$(( $(children_ms "$T/times1") - $(children_ms "$T/times0") ))
  sim_cpu=$(awk -v d="$sim_ms" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", d / 10 / (b - a) }')
  rss=$(hwm_kib "${pids[@]}")
  jq -r --arg s "$srv" --arg n "$n" --arg cpu "$cpu" --arg rss "$rss" --arg rec "$((r1 - r0))" --arg sim "$sim_cpu" '.total |
    [$s, $n, .frames, .ok, .ok_within_slo, .latency_ms.p50, .latency_ms.p99, .latency_ms.max, .timeouts,
     .non_2xx, .connect_failures + .connection_errors, $cpu, $rss, $rec, $sim] | @tsv' "$out" >> "$RESULTS"
  print_row "$(tail -1 "$RESULTS")"
}
print_row() { # a results line
  awk -F'\t' '{ printf "%-10s %7d %7d %7d %9.2f %% %8.2f %8.2f %8.1f %8d %7d %6d %6d %% %9.1f %10d %6d %%\n",
    $1, $2, $3, $4, ($3 ? 100 * $5 / $3 : 0), $6, $7, $8, $9, $10, $11, $12, $13 / 1024, $14, $15 }' <<< "$1"
}
HEADER=$(printf '%-10s %7s %7s %7s %11s %8s %8s %8s %8s %7s %6s %8s %9s %10s %8s' server cameras frames 2xx \
  "<=${SLO_MS}ms" "p50 ms" "p99 ms" "max ms" timeouts non-2xx errors "CPU" "RSS MiB" recognised "sim CPU")

# ------------------------------------------------------------------ the runs
for srv in iotstream peer; do
  want "$srv" || continue
  echo
  case $srv in
    iotstream) iotstream_start || exit 1
               echo "== iotstream at $BASE: recognition on, defaults (sample rate 0.3, $("$IOTSTREAM_BIN" --help 2>&1 |
                 sed -n 's/.*--max-workers arg (=\([0-9]*\)).*/\1/p') workers)" ;;
    peer)      peer_start_full || exit 1
               echo "== peer at $BASE: full system (Node + Python recognition, 30 % sampled, at most 8 calls in flight)" ;;
  esac
  if [ "$WARMUP" != 0 ]; then
    "$SIM_BIN" --url "$BASE" --cameras "${STEPS%% *}" --fps "$FPS" --duration "$WARMUP" --frames "$T/frames" \
      --device-prefix cam- --json > "$T/warmup-$srv.json" 2>&1 || { log "warm-up failed:"; tail -5 "$T/warmup-$srv.json" >&2; exit 1; }
  fi
  echo "$HEADER"
  for n in $STEPS; do run_step "$srv" "$n" || exit 1; done
  stop_server
done

# ------------------------------------------------------------------ summary
held() { # server: the largest step held with every step before it held too; 0 if the first failed
  awk -F'\t' -v s="$1" -v pm="$HOLD_PERMILLE" '$1 == s { if (!broken && $3 && 1000 * $5 >= pm * $3) last = $2; else broken = 1 }
    END { print last + 0 }' "$RESULTS"
}
echo
echo "== summary ($(nproc) CPUs; load average now $(cut -d' ' -f1-3 /proc/loadavg)); CPU (the server's) and sim CPU" \
  "(the simulator's) in % of one core; RSS = the server's peak during the step; for the peer both summed over Node and Python"
echo "$HEADER"
while IFS= read -r line; do print_row "$line"; done < "$RESULTS"
echo
largest=${STEPS##* }
for srv in iotstream peer; do
  want "$srv" || continue
  h=$(held "$srv")
  if [ "$h" = 0 ]; then note="fewer than ${STEPS%% *} cameras (not even the first step)"
  elif [ "$h" = "$largest" ]; then note="$h cameras or more (the largest step)"
  else note="$h cameras"; fi
  echo "$srv holds $note at $FPS fps with >= $HOLD % of frames 2xx within $SLO_MS ms"
done
if want iotstream && [[ " $STEPS " == *" 200 "* ]]; then
  h=$(held iotstream)
  echo "target iotstream >= 200 cameras: $([ "$h" -ge 200 ] && echo met || echo "NOT met") ($h)"
  rss200=$(awk -F'\t' '$1 == "iotstream" && $2 == 200 { printf "%.1f", $13 / 1024 }' "$RESULTS")
  if [ -n "$rss200" ]; then
    echo "target iotstream peak RSS at 200 cameras < 300 MiB: $(awk -v r="$rss200" 'BEGIN { print (r < 300) ? "met" : "NOT met" }') ($rss200 MiB)"
  fi
fi
if want iotstream && want peer; then
  hi=$(held iotstream); hp=$(held peer)
  if [ "$hp" = 0 ] && [ "$hi" = 0 ]; then
    echo "iotstream / peer: n/a (neither held the first step)"
  elif [ "$hp" = 0 ]; then
    echo "iotstream / peer: more than $(awk -v a="$hi" -v b="${STEPS%% *}" 'BEGIN { printf "%.0f", a / b }')x (the peer held no step)"
  else
    echo "iotstream / peer: $(awk -v a="$hi" -v b="$hp" 'BEGIN { printf "%.1f", a / b }')x ($hi / $hp cameras)"
  fi
fi
