#!/usr/bin/env bash
# bench/time-to-name.sh: how soon, and how surely, a known person walking past a camera is named, and what
# recognition costs while nobody is there; all on 127.0.0.1.
#
# What it measures
#   People: the identities of FACES_DIR/MANIFEST.tsv with at least 3 photos of one face each (faces_hog_upsample1
#   = 1; not multi, none, unlabeled_single). Each is enrolled with ONE of them (the first listed) through
#   POST /api/v1/recognition/add-permitted-face; the others are the appearances and are never enrolled. They are
#   shown taking the people in turn (bench/time-to-name.py people), so that a person comes back to one camera no
#   sooner than one appearance per person later (12 s with the 12 people of the set): at the default
#   --event-dedup-s 10 a second event for one person at one camera within 10 s is folded into the first and would
#   read as a miss. PNGs become JPEGs (ffmpeg, in the temp dir) for the simulator.
#   For each camera count in CAMS and each scheduler in SCHEDULERS: a fresh server (IOTSTREAM_BIN, new data dir,
#   free ports, --recognition-api=false, recognition on at its defaults; the sample scheduler adds
#   --recognition-sample-rate 0.3, which the server takes as "use the old sampler") gets the people enrolled; then
#   iotstream-sim (SIM_BIN --appearances) runs that many cameras at 10 fps for DURATION s: after 3 s of still
#   background, one person per second across all cameras walks past camera k mod cameras, in view for 1.5 s (15
#   frames; the photo about 260 px high in 640x480). GRACE s after the run the bench reads the person_recognised and
#   unknown_face events (GET /api/v1/events, paged with since_id) and joins them with the simulator's list of
#   appearances (bench/time-to-name.py join):
#     named         a person_recognised event at the appearance's camera with its person's name and ts within
#                   [start_ms, start_ms + 3000]; start_ms is when the camera grabbed the appearance's first frame
#                   (an appearance the camera had no slot for, waiting for a late answer, counts as a miss: unsent)
#     time to name  the first such event's ts - start_ms; p50/p90/p99/max over the named appearances
#     wrong         person_recognised events with no appearance of that person at that camera within
#                   [start_ms, start_ms + 1500 + 3000]
#   With the simulator's upload p99 and non-2xx, and the server's CPU (utime + stime of /proc/PID/stat, sampled
#   every 0.5 s and interpolated to the simulator's run, % of one core).
#   Idle (IDLE=1): per camera count, the same servers with the still background and nobody appearing
#   (iotstream-sim --scene-still) for DURATION s: CPU with recognition on (each scheduler, people enrolled) and
#   with --recognition=false, and the difference: what recognition costs while there is nobody to recognise.
#   At the end, the photos never named in any run (a face the detector misses at that size, say).
#
# How to run (from anywhere; it cds to the repo root):
#   bench/time-to-name.sh
#   CAMS="10" DURATION=20 IDLE=0 bench/time-to-name.sh
#   IOTSTREAM_BIN=/path/to/iotstream SIM_BIN=/path/to/iotstream-sim bench/time-to-name.sh
# Knobs: DURATION (60, s per run), CAMS ("10 50 100 200"), SCHEDULERS ("need sample"), GRACE (3, s to wait for late
#   events), IDLE (1; 0 skips the idle runs), IOTSTREAM_BIN (build/src/iotstream), SIM_BIN
#   (build/tools/sim/iotstream-sim), FACES_DIR (../shared/faces), IOTSTREAM_MODELS_DIR (.cache/models).
# It builds the two targets when a binary is missing, and installs what is missing with apt-get (ffmpeg curl jq).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"

DURATION=${DURATION:-60}
CAMS=${CAMS:-"10 50 100 200"}
SCHEDULERS=${SCHEDULERS:-"need sample"}
GRACE=${GRACE:-3}
IDLE=${IDLE:-1}
IOTSTREAM_BIN=${IOTSTREAM_BIN:-build/src/iotstream}
SIM_BIN=${SIM_BIN:-build/tools/sim/iotstream-sim}
FACES_DIR=${FACES_DIR:-$ROOT/../shared/faces}
export IOTSTREAM_MODELS_DIR=${IOTSTREAM_MODELS_DIR:-$ROOT/.cache/models}
HOST=127.0.0.1
PY=python3
FPS=10
APPEARANCE_S=1.5   # the simulator's default, given explicitly: the join's windows depend on it
NAME_WITHIN_MS=3000
CLK_TCK=$(getconf CLK_TCK)

LOG_TAG=time-to-name
ensure_pkgs ffmpeg curl jq
need_cmd "$PY"
for s in $SCHEDULERS; do
  [[ $s == need || $s == sample ]] || { log "unknown scheduler '$s' in SCHEDULERS (need, sample)"; exit 1; }
done
[ -f "$FACES_DIR/MANIFEST.tsv" ] || { log "no $FACES_DIR/MANIFEST.tsv (set FACES_DIR)"; exit 1; }

# ------------------------------------------------------------------ build if needed
if [ ! -x "$IOTSTREAM_BIN" ] || [ ! -x "$SIM_BIN" ]; then
  log "building iotstream and iotstream-sim"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j2 --target iotstream iotstream-sim
fi
# shellcheck source=../scripts/blas-env.sh
source scripts/blas-env.sh
bench_tmpdir iotstream-ttn   # T, SRV_PID/SRV_KIND, traps

# ------------------------------------------------------------------ people and photos
"$PY" bench/time-to-name.py people "$FACES_DIR/MANIFEST.tsv" "$T/people.tsv" "$T/shown.tsv"
# appearances.tsv, for the simulator: JPEG path, person; photos.tsv: that path, the photo as in FACES_DIR.
mkdir -p "$T/jpeg"
: > "$T/appearances.tsv"; : > "$T/photos.tsv"
declare -A AS_JPEG
while IFS=$'\t' read -r person photo; do
  if [ -z "${AS_JPEG[$photo]:-}" ]; then
    case ${photo,,} in
      *.jpg|*.jpeg) AS_JPEG[$photo]=$FACES_DIR/$photo ;;
      *) AS_JPEG[$photo]=$T/jpeg/${#AS_JPEG[@]}.jpg
         ffmpeg -nostdin -v error -y -i "$FACES_DIR/$photo" -q:v 2 "${AS_JPEG[$photo]}" ;;
    esac
    printf '%s\t%s\n' "${AS_JPEG[$photo]}" "$photo" >> "$T/photos.tsv"
  fi
  printf '%s\t%s\n' "${AS_JPEG[$photo]}" "$person" >> "$T/appearances.tsv"
done < "$T/shown.tsv"

enrol() { # each person's enrolment photo to the server at $BASE; fails naming the first it refuses
  local person photo out
  while IFS=$'\t' read -r person photo; do
    out=$(curl -sS --max-time 60 -F "image=@$FACES_DIR/$photo" -F "name=$person" \
      "$BASE/api/v1/recognition/add-permitted-face") || { log "enrolling $person failed"; return 1; }
    [ "$(jq -r .success <<< "$out" 2>/dev/null)" = true ] || { log "enrolling $person ($photo) refused: $out"; return 1; }
  done < "$T/people.tsv"
}

# ------------------------------------------------------------------ header
# A server with the recognition API on says which BLAS and how many workers it runs with, and shows that everyone
# can be enrolled before the runs start.
iotstream_start || exit 1
RPORT=$(sed -n "s/^recognition listening on $HOST:\([0-9]*\).*/\1/p" "$T/iotstream.out" | head -1)
HEALTH=$(curl -fs --max-time 5 "http://$HOST:$RPORT/health" || echo '{}')
enrol || exit 1
stop_server
echo "== iotstream time to name"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit:   $(git describe --always --dirty); server $IOTSTREAM_BIN, simulator $SIM_BIN"
echo "machine:  $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -sr)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average at start; the machine is shared)"
echo "BLAS:     $(jq -r '.blas // "n/a"' <<< "$HEALTH") (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}" \
  "OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS); recognition workers: $(jq -r '.pool.workers // "n/a"' <<< "$HEALTH")"
echo "people:   $(wc -l < "$T/people.tsv") enrolled with one photo each; $(wc -l < "$T/photos.tsv") other photos of" \
  "them shown, under $FACES_DIR"
echo "runs:     $FPS fps per camera for $DURATION s; after 3 s, one appearance a second across all cameras, in view for" \
  "$APPEARANCE_S s; named = the right name at its camera within $NAME_WITHIN_MS ms of its first frame"

# ------------------------------------------------------------------ running and measuring
server_flags() { # need|sample|off: the server flags that pick it
  case $1 in
    need) ;;
    sample) echo --recognition-sample-rate 0.3 ;;
    off) echo --recognition=false ;;
  esac
}
cpu_sample() { # PID: "wall_ms ticks" of PID now (utime + stime), read by bash itself as it runs twice a second
  local stat f
  read -r stat < "/proc/$1/stat"
  read -r -a f <<< "${stat##*) }"
  echo "$(( ${EPOCHREALTIME/./} / 1000 )) $(( f[11] + f[12] ))"
}
cpu_sampler() { # PID: a cpu_sample line every 0.5 s until PID exits or this is killed
  while kill -0 "$1" 2>/dev/null; do cpu_sample "$1"; sleep 0.5; done
}
fetch_events() { # FILE: every person_recognised and unknown_face event of the server at $BASE, as one JSON array
  local since=0 page
  : > "$T/events.jsonl"
  while :; do
    page=$(curl -fsS --max-time 30 "$BASE/api/v1/events?type=person_recognised,unknown_face&since_id=$since&limit=1000")
    jq -c '.events[]' <<< "$page" >> "$T/events.jsonl"
    [ "$(jq .count <<< "$page")" -eq 1000 ] || break   # since_id pages forward, oldest first, 1000 at most
    since=$(jq '.events[-1].id' <<< "$page")
  done
  jq -s . "$T/events.jsonl" > "$1"
}
run() { # NAME MODE CAMERAS SIM_ARGS...: a fresh server in MODE (need|sample|off), people enrolled unless off, the
        # simulator with the server's CPU sampled, GRACE s, its events; then bench/time-to-name.py join's line in
        # $T/NAME.row. Not in a $(...) subshell: the server it starts must be the one the EXIT trap stops.
  local name=$1 mode=$2 n=$3 sampler; shift 3
  # shellcheck disable=SC2046  # the flags are words
  iotstream_start --recognition-api=false $(server_flags "$mode") || return 1
  if [ "$mode" != off ]; then enrol || return 1; fi
  # Samples from before the simulator starts to after it ends, so that its run falls between two of them.
  cpu_sample "$SRV_PID" > "$T/$name.cpu"
  cpu_sampler "$SRV_PID" >> "$T/$name.cpu" &
  sampler=$!
  if ! "$SIM_BIN" --url "$BASE" --cameras "$n" --fps "$FPS" --duration "$DURATION" --device-prefix cam- --json "$@" \
       > "$T/$name.json" 2> "$T/$name.err"; then
    log "iotstream-sim failed:"; tail -5 "$T/$name.err" >&2; kill "$sampler"; return 1
  fi
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  cpu_sample "$SRV_PID" >> "$T/$name.cpu"
  sleep "$GRACE"
  fetch_events "$T/$name.events.json"
  stop_server
  "$PY" bench/time-to-name.py join "$T/$name.json" "$T/$name.events.json" "$T/$name.cpu" "$T/photos.tsv" \
    "$APPEARANCE_S" "$NAME_WITHIN_MS" "$CLK_TCK" "$T/photo-stats.tsv" > "$T/$name.row"
}

RESULTS=$T/results.tsv   # cameras scheduler, then join's: appearances named recall wrong unknown unsent p50 p90 p99
                         # max upload_p99 non2xx cpu
: > "$RESULTS"; : > "$T/photo-stats.tsv"
print_row() { # a results line
  awk -F'\t' '{ printf "%7s %-9s %11s %6s %7s %% %6s %7s %7s %7s %7s %10s %7s %6s %%   %s unknown_face, %s unsent\n",
    $1, $2, $3, $4, $5, $6, $9, $10, $11, $12, $13, $14, $15, $7, $8 }' <<< "$1"
}
HEADER=$(printf '%7s %-9s %11s %6s %9s %6s %7s %7s %7s %7s %10s %7s %8s   %s' cameras scheduler appearances named \
  recall wrong "p50 ms" "p90 ms" "p99 ms" "max ms" "upload p99" non-2xx CPU notes)

echo
echo "== appearances: time to name in ms from an appearance's first frame to its person_recognised event; upload p99" \
  "in ms; server CPU in % of one core"
echo "$HEADER"
for n in $CAMS; do
  for s in $SCHEDULERS; do
    run "run-$n-$s" "$s" "$n" --appearances "$T/appearances.tsv" --appearance-s "$APPEARANCE_S" || exit 1
    line=$(printf '%s\t%s\t%s' "$n" "$s" "$(cat "$T/run-$n-$s.row")")
    echo "$line" >> "$RESULTS"
    print_row "$line"
  done
done

if [ "$IDLE" = 1 ]; then
  echo
  echo "== idle: the still background with nobody appearing, $DURATION s; server CPU in % of one core"
  printf '%7s %-26s %8s %10s\n' cameras recognition CPU "minus off"
  declare -A CPU
  for n in $CAMS; do
    for mode in $SCHEDULERS off; do
      run "idle-$n-$mode" "$mode" "$n" --scene-still || exit 1
      CPU[$mode]=$(cut -f13 "$T/idle-$n-$mode.row")
    done
    for mode in $SCHEDULERS off; do
      if [ "$mode" = off ]; then label="off (--recognition=false)"; diff=-
      else
        label="on, $mode scheduler"
        diff=$(awk -v a="${CPU[$mode]}" -v b="${CPU[off]}" \
          'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) printf "%+.1f", a - b; else print "n/a" }')
      fi
      printf '%7s %-26s %6s %% %10s\n' "$n" "$label" "${CPU[$mode]}" "$diff"
    done
  done
fi

# ------------------------------------------------------------------ summary
echo
echo "== summary ($(nproc) CPUs; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
echo "$HEADER"
while IFS= read -r line; do print_row "$line"; done < "$RESULTS"
never=$(awk -F'\t' '{ shown[$1]++; named[$1] += $2 } END { for (p in shown) if (!named[p]) print "  " p " (shown " shown[p] "x)" }' \
  "$T/photo-stats.tsv" | sort)
if [ -n "$never" ]; then
  echo "photos never named in any run: $(wc -l <<< "$never") of $(wc -l < "$T/photos.tsv")"
  echo "$never"
else
  echo "photos never named in any run: none"
fi
echo "photos missed at least once (missed / shown, over every run and scheduler):"
awk -F'\t' '{ shown[$1]++; if (!$2) missed[$1]++ } END { for (p in missed) printf "  %d / %d  %s\n", missed[p], shown[p], p }' \
  "$T/photo-stats.tsv" | sort -k4
echo "slowest photos to be named (each one's largest time to name in ms, over every run and scheduler):"
awk -F'\t' '$3 != "" { if ($3 > worst[$1]) worst[$1] = $3 } END { for (p in worst) print worst[p] "\t" p }' \
  "$T/photo-stats.tsv" | sort -rn | head -5 | awk -F'\t' '{ printf "  %6d  %s\n", $1, $2 }'
