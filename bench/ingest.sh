#!/usr/bin/env bash
# bench/ingest.sh: benchmark of the camera-ingest fast path, all on 127.0.0.1.
#
# What it measures
#   Phase 1 (closed loop, wrk): POST a ~40 KB JPEG (raw image/jpeg, X-Device-ID cam-1..cam-16
#   round-robin) as fast as possible for DURATION at each connection count in CONNS, against
#     iotstream   POST /api/v1/stream/fast   ($IOTSTREAM_BIN, fresh data dir)
#     peer        POST /api/v1/stream/fast   (../shared/peers/seed-express, the Node + Python
#                                             "full system" via its run.sh; falls back to Node
#                                             only, RECOG=0, if the full system cannot be set up)
#     nginx       POST /                     (one worker, reads and discards the body, 204: the floor)
#   The servers run one at a time (each started fresh, stopped before the next), so they never
#   share the CPU with each other; wrk shares the machine with the server under test.
#   It prints req/s, p50, p99, 4xx/5xx count and socket errors, the ratios iotstream/peer and
#   iotstream/nginx, and for iotstream the frames accepted/stored/dropped during each run
#   (GET /api/v1/system/performance before and after).
#   Phase 2 (fixed rate, iotstream only): 100 cameras x 10 fps = 1000 frames/s for DURATION with
#   bench/fixed-rate.cjs (Debian 12 has no wrk2); prints sent/ok/errors, p50/p99 and the frames
#   stored and dropped. Expected: dropped == 0 and stored == sent.
#
# How to run (from anywhere; it cds to the repo root):
#   bench/ingest.sh
#   DURATION=5s CONNS="16" ONLY="peer nginx" bench/ingest.sh
# Knobs: DURATION (10s), CONNS ("1 16 64"), FACES_DIR (../shared/faces),
#   IOTSTREAM_BIN (build/src/iotstream; built in Release if missing), ONLY ("iotstream peer nginx"),
#   IOT_RECOG (1: iotstream with recognition on, as the peer's full system; 0: off),
#   FIXED_RATE (1; 0 skips phase 2), RATE_CAMS (100), RATE_FPS (10), PEER_RECOG (auto|0: 0 forces
#   the peer's Node-only mode), FRAME_BYTES (40960), WARMUP (2s of wrk -c16 per server before its
#   measured runs, not counted; 0 turns it off), ROUNDS (1: how many times phase 1 runs the servers in
#   turn; with more, each ratio is given per round and as the median of the rounds: identical runs on
#   this shared VM move by 10-30 %, and interleaving lets both servers see the same slow and fast spells).
# It installs what is missing with apt-get (wrk nginx-light curl jq python3-pil) and keeps the
# peer's copy (node_modules, built dlib binding) in .cache/peer-seed-express between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"

DURATION=${DURATION:-10s}
CONNS=${CONNS:-"1 16 64"}
FACES_DIR=${FACES_DIR:-../shared/faces}
IOTSTREAM_BIN=${IOTSTREAM_BIN:-build/src/iotstream}
ONLY=${ONLY:-"iotstream peer nginx"}
FIXED_RATE=${FIXED_RATE:-1}
RATE_CAMS=${RATE_CAMS:-100}
RATE_FPS=${RATE_FPS:-10}
PEER_RECOG=${PEER_RECOG:-auto}
FRAME_BYTES=${FRAME_BYTES:-40960}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-1}
PEER_SRC=${PEER_SRC:-../shared/peers/seed-express}
PEER_DIR=$ROOT/.cache/peer-seed-express
PY=/usr/bin/python3   # Debian's python: python3-pil installs for it
HOST=127.0.0.1

LOG_TAG=bench
dur_s() { # "10s" / "1m" / "10" -> seconds
  local d=$1
  case $d in *ms) echo 1 ;; *s) echo "${d%s}" ;; *m) echo $(( ${d%m} * 60 )) ;; *h) echo $(( ${d%h} * 3600 )) ;; *) echo "$d" ;; esac
}

# ------------------------------------------------------------------ packages (idempotent)
ensure_pkgs wrk nginx-light curl jq python3-pil
need_cmd node "(Node 20)"

# ------------------------------------------------------------------ temp dir + cleanup
bench_tmpdir iotstream-bench   # T, SRV_PID/SRV_KIND (iotstream pid, nginx master pid or peer run.sh pgid), traps

# ------------------------------------------------------------------ the frame
make_frame
export FRAME DEVICES=16

# ------------------------------------------------------------------ build if needed
if want iotstream && [ ! -x "$IOTSTREAM_BIN" ]; then
  log "$IOTSTREAM_BIN missing: building (Release)"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j2 --target iotstream
fi

# ------------------------------------------------------------------ header
echo "== iotstream ingest benchmark"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -sr)"
echo "nginx:   $(nginx -v 2>&1 | sed 's/^nginx version: //')   node: $(node --version)   wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
if want iotstream; then
  v=$(timeout 5 "$IOTSTREAM_BIN" --version 2>/dev/null | head -1) || v=
  echo "iotstream: $IOTSTREAM_BIN (--version: ${v:-n/a})"
  # The full system, like the peer's: background recognition of 30% of the frames (IOT_RECOG=0: off).
  if [ "${IOT_RECOG:-1}" = 1 ]; then
    RECOG_FLAG=(--recognition-port 0); IOT_NOTE="full system: recognition on, 30% of frames sampled"
  else
    RECOG_FLAG=(--recognition=false --recognition-api=false); IOT_NOTE="recognition off (IOT_RECOG=0)"
  fi
fi
echo "frame:   $FRAME_INFO (from $(basename "$SRC_IMG")), devices cam-1..cam-16 round-robin"
echo "runs:    wrk -t min(2,c) -c c -d $DURATION --latency, c in: $CONNS; servers run one at a time, each after a $WARMUP warm-up (-c16, not counted)"

RESULTS=$T/results.tsv   # server conns rps p50_us p99_us non2xx sockerr requests round
: > "$RESULTS"

# ------------------------------------------------------------------ servers
start_iotstream() { # data dir
  local port; port=$(free_port)
  mkdir -p "$1"
  # --auth off: the peer and nginx it is compared with are open (camera ingest is open with auth on too).
  "$IOTSTREAM_BIN" --port "$port" "${RECOG_FLAG[@]}" --bind "$HOST" --data-dir "$1" \
    --log-level warn --auth off > "$T/iotstream.out" 2> "$T/iotstream.err" &
  SRV_PID=$!; SRV_KIND=iotstream
  wait_iotstream_out "listening on $HOST:$port" 150
  if ! wait_http "http://$HOST:$port/health" 5 "$SRV_PID"; then
    log "iotstream did not come up; stderr:"; tail -20 "$T/iotstream.err" >&2; return 1
  fi
  BASE=http://$HOST:$port
}

perf_frames() { # prints "accepted stored dropped" from iotstream's performance JSON (n/a if absent)
  curl -fs --max-time 5 "$BASE/api/v1/system/performance" 2>/dev/null |
    jq -r '[(.frames.accepted // "n/a"), (.frames.stored // "n/a"), (.frames.dropped // "n/a")] | map(tostring) | join(" ")' 2>/dev/null ||
    echo "n/a n/a n/a"
}
delta() { # after before
  if [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]]; then echo $(( $1 - $2 )); else echo n/a; fi
}
perf_settled() { # before-triple: polls (up to 5 s) until accepted == stored + dropped or the counters
  # stop moving for 0.5 s (the store queue drains after the load ends); prints the after-triple
  local b=($1) a prev= still=0 i
  for i in $(seq 50); do
    a=($(perf_frames))
    [[ "${a[*]} ${b[*]}" =~ ^[0-9]+\ [0-9]+\ [0-9]+\ [0-9]+\ [0-9]+\ [0-9]+$ ]] || break
    (( a[0] - b[0] == (a[1] - b[1]) + (a[2] - b[2]) )) && break
    if [ "${a[*]}" = "$prev" ]; then still=$((still + 1)); [ $still -ge 5 ] && break; else still=0; fi
    prev="${a[*]}"
    sleep 0.1
  done
  echo "${a[*]}"
}

start_peer() { # sets PEER_MODE
  peer_copy   # a copy of the read-only peer, kept in .cache
  local recog=0
  if [ "$PEER_RECOG" != 0 ]; then
    if peer_setup; then recog=1
    else log "peer full-system setup failed (tail of log below); falling back to RECOG=0"
         tail -5 "$T/peer-setup.log" >&2
    fi
  fi
  if [ $recog = 0 ]; then
    peer_setup WITH_RECOG=0 ||
      { log "peer setup failed:"; tail -20 "$T/peer-setup.log" >&2; return 1; }
  fi
  local port rport
  port=$(free_port); rport=$(free_port)
  while [ "$rport" = "$port" ]; do rport=$(free_port); done
  _launch_peer() { # recog
    peer_launch "$port" "$rport" "$1"
    wait_http "http://$HOST:$port/health" 90 "$SRV_PID"
  }
  if ! _launch_peer $recog; then
    if [ $recog = 1 ]; then
      log "peer full system did not come up; falling back to RECOG=0:"; tail -5 "$T/peer-run.out" >&2
      stop_server; recog=0
      _launch_peer 0 || { log "peer did not come up:"; tail -20 "$T/peer-run.out" >&2; return 1; }
    else
      log "peer did not come up:"; tail -20 "$T/peer-run.out" >&2; return 1
    fi
  fi
  BASE=http://$HOST:$port
  if [ $recog = 1 ]; then
    PEER_MODE="full system (Node :$port + Python recognition :$rport, RECOG=1, 30% sampled, cap 8 in flight)"
  else
    PEER_MODE="Node only (RECOG=0: recognition off) -- NOT the full system"
  fi
}

start_nginx() {
  local port; port=$(free_port)
  mkdir -p "$T/nginx"
  sed -e "s|@DIR@|$T/nginx|g" -e "s|@PORT@|$port|g" bench/nginx-floor.conf.in > "$T/nginx/nginx.conf"
  nginx -e "$T/nginx/error.log" -p "$T/nginx" -c "$T/nginx/nginx.conf" &
  SRV_PID=$!; SRV_KIND=nginx
  wait_http "http://$HOST:$port/" 10 "$SRV_PID" ||
    { log "nginx did not come up:"; cat "$T/nginx/error.log" >&2; return 1; }
  BASE=http://$HOST:$port
}

kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< " $1"; }   # kv LINE KEY: value of KEY=value
ms() { awk -v us="$1" 'BEGIN{printf "%.2f", us/1000}'; }
run_wrk() { # server conns url
  local c=$2 t=$(( $2 < 2 ? $2 : 2 )) out line
  out=$(wrk -t"$t" -c"$c" -d"$DURATION" --latency -s bench/post-jpeg.lua "$3" 2>&1) ||
    { log "wrk failed: $out"; return 1; }
  echo "$out" > "$T/wrk-$1-$c.txt"
  line=$(grep '^RESULT ' <<< "$out" | tail -1)
  [ -n "$line" ] || { log "no RESULT line from wrk: $out"; return 1; }
  local requests rps p50 p99 non2xx connect read write timeout sockerr
  requests=$(kv "$line" requests); rps=$(kv "$line" rps); p50=$(kv "$line" p50_us); p99=$(kv "$line" p99_us)
  non2xx=$(kv "$line" non2xx); connect=$(kv "$line" connect); read=$(kv "$line" read)
  write=$(kv "$line" write); timeout=$(kv "$line" timeout)
  sockerr=$(( connect + read + write + timeout ))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$c" "$rps" "$p50" "$p99" "$non2xx" "$sockerr" "$requests" "$round" >> "$RESULTS"
  printf '  %-9s c=%-3s %9s req/s  p50 %7.2f ms  p99 %7.2f ms  4xx/5xx %s  socket errors %s (connect %s read %s write %s timeout %s)\n' \
    "$1" "$c" "$rps" "$(ms "$p50")" "$(ms "$p99")" "$non2xx" "$sockerr" "$connect" "$read" "$write" "$timeout"
}

echo
echo "== phase 1: closed loop (wrk)"
for round in $(seq "$ROUNDS"); do
[ "$ROUNDS" -gt 1 ] && echo "-- round $round of $ROUNDS"
for srv in iotstream peer nginx; do
  want "$srv" || continue
  case $srv in
    iotstream) start_iotstream "$T/data" || exit 1; path=/api/v1/stream/fast
               echo "iotstream: $BASE ($IOT_NOTE)" ;;
    peer)      start_peer || exit 1; path=/api/v1/stream/fast
               echo "peer: $BASE, mode: $PEER_MODE" ;;
    nginx)     start_nginx || exit 1; path=/
               echo "nginx: $BASE (1 worker, return 204)" ;;
  esac
  if [ "$(dur_s "$WARMUP")" != 0 ]; then   # JIT, caches, lazily started workers; not counted
    wrk -t2 -c16 -d"$WARMUP" -s bench/post-jpeg.lua "$BASE$path" > "$T/warmup-$srv.txt" 2>&1 || true
    sleep 1
  fi
  for c in $CONNS; do
    if [ "$srv" = iotstream ]; then before=$(perf_frames); fi
    # Every server starts each run with no dirty page cache: otherwise the kernel's write-back of what the
    # previous run stored (GBs after the 1-connection run) lands in the next run's measurement.
    sync
    run_wrk "$srv" "$c" "$BASE$path" || exit 1
    if [ "$srv" = iotstream ]; then
      after=$(perf_settled "$before"); b=($before); a=($after)
      ok2xx=$(( $(tail -1 "$RESULTS" | cut -f8) - $(tail -1 "$RESULTS" | cut -f6) ))
      echo "            frames during run: accepted $(delta "${a[0]}" "${b[0]}"), stored $(delta "${a[1]}" "${b[1]}"), dropped $(delta "${a[2]}" "${b[2]}") (wrk completed $ok2xx with status < 400)"
    fi
    sleep 1
  done
  if [ "$srv" = peer ] && [ -n "${BASE:-}" ]; then
    curl -fs --max-time 5 "$BASE/api/v1/system/performance" |
      jq -c '{frames: .frames, recognition: .recognition}' 2>/dev/null | sed 's/^/  peer counters: /' || true
  fi
  stop_server
  sleep 1
done
done

# ------------------------------------------------------------------ table
echo
echo "== summary (req/s; latency in ms; 4xx/5xx = wrk's status errors; sockerr = connect+read+write+timeout)"
printf '%-10s %5s %5s %10s %9s %9s %8s %8s\n' server round conns req/s p50 p99 4xx/5xx sockerr
sort -t$'\t' -k2,2n -k9,9n -s "$RESULTS" |
  awk -F'\t' '{printf "%-10s %5s %5s %10.0f %9.2f %9.2f %8s %8s\n", $1, $9, $2, $3, $4/1000, $5/1000, $6, $7}'
if want iotstream && [ "$ROUNDS" -gt 1 ]; then
  echo
  echo "per-round ratios (iotstream req/s / other req/s, same round), and their median:"
  for other in peer nginx; do
    want "$other" || continue
    for c in $CONNS; do
      awk -F'\t' -v o="$other" -v c="$c" '
        $2 == c && $1 == "iotstream" { i[$9] = $3 }
        $2 == c && $1 == o { n[$9] = $3 }
        END {
          k = 0; line = ""
          for (r in i) if (r in n) { v[++k] = i[r] / n[r] }
          for (a = 1; a <= k; a++) for (b = a + 1; b <= k; b++) if (v[b] < v[a]) { t = v[a]; v[a] = v[b]; v[b] = t }
          for (a = 1; a <= k; a++) line = line sprintf(" %.2fx", v[a])
          med = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
          if (k) printf "  iotstream/%-6s c=%-3s rounds %d:%s  median %.2fx\n", o, c, k, line, med
        }' "$RESULTS"
    done
  done
fi
if want iotstream && [ "$ROUNDS" = 1 ]; then
  echo
  printf '%5s %16s %17s %22s\n' conns iotstream/peer iotstream/nginx "p99 iotstream < peer"
  for c in $CONNS; do
    get() { awk -F'\t' -v s="$1" -v c="$c" -v f="$2" '$1==s && $2==c {print $f}' "$RESULTS"; }
    i_rps=$(get iotstream 3); p_rps=$(get peer 3); n_rps=$(get nginx 3)
    i_p99=$(get iotstream 5); p_p99=$(get peer 5)
    r1=n/a; r2=n/a; r3=n/a
    [ -n "$i_rps" ] && [ -n "$p_rps" ] && r1=$(awk "BEGIN{printf \"%.2fx\", $i_rps/$p_rps}")
    [ -n "$i_rps" ] && [ -n "$n_rps" ] && r2=$(awk "BEGIN{printf \"%.2fx\", $i_rps/$n_rps}")
    [ -n "$i_p99" ] && [ -n "$p_p99" ] && r3=$(awk "BEGIN{print ($i_p99 < $p_p99) ? \"yes\" : \"no\"}")
    [ "$r3" != n/a ] && r3="$r3 ($(awk "BEGIN{printf \"%.2f vs %.2f ms\", $i_p99/1000, $p_p99/1000}"))"
    printf '%5s %16s %17s %22s\n' "$c" "$r1" "$r2" "$r3"
  done
fi
[ -n "${PEER_MODE:-}" ] && echo "peer mode: $PEER_MODE"

# ------------------------------------------------------------------ phase 2: fixed rate
if want iotstream && [ "$FIXED_RATE" = 1 ]; then
  echo
  echo "== phase 2: fixed rate, iotstream only: $RATE_CAMS cameras x $RATE_FPS fps = $(( RATE_CAMS * RATE_FPS )) frames/s for $DURATION (bench/fixed-rate.cjs, fresh server)"
  rm -rf "$T/data"
  start_iotstream "$T/data2" || exit 1
  before=$(perf_frames)
  out=$(node bench/fixed-rate.cjs "$BASE/api/v1/stream/fast" "$FRAME" "$RATE_CAMS" "$RATE_FPS" "$(dur_s "$DURATION")")
  line=$(grep '^RATE ' <<< "$out" | tail -1)
  after=$(perf_settled "$before"); b=($before); a=($after)
  echo "  ${line#RATE }"
  sent=$(sed -n 's/.* sent=\([0-9]*\).*/\1/p' <<< "$line")
  st=$(delta "${a[1]}" "${b[1]}"); dr=$(delta "${a[2]}" "${b[2]}")
  echo "  frames during phase: accepted $(delta "${a[0]}" "${b[0]}"), stored $st, dropped $dr"
  if [[ $st =~ ^[0-9]+$ && $dr =~ ^[0-9]+$ ]]; then
    if [ "$dr" = 0 ] && [ "$st" = "$sent" ]; then echo "  expected outcome met: dropped == 0 and stored == sent ($sent)"
    else echo "  expected outcome NOT met: dropped $dr (want 0), stored $st vs sent $sent"; fi
  else
    echo "  cannot check stored/dropped (performance JSON fields missing)"
  fi
  stop_server
fi
