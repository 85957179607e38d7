# shellcheck shell=bash
# bench/lib.sh: shell helpers shared by bench/ingest.sh, bench/fanout.sh, bench/recognition.sh, bench/cameras.sh and
# bench/time-to-name.sh.
# Sourced (not run) after the script has cd'ed to the repo root. The helpers read the caller's
# variables when called: LOG_TAG, ONLY, HOST, PY (python3 if unset), T, SRV_PID/SRV_KIND,
# PEER_SRC, PEER_DIR, FACES_DIR, FRAME_BYTES, IOTSTREAM_BIN.

# log MSG...: "[LOG_TAG] MSG" on stderr.
log() { echo "[$LOG_TAG] $*" >&2; }

# want NAME: true if NAME is one of the words in $ONLY.
want() { [[ " $ONLY " == *" $1 "* ]]; }

# need_cmd CMD [NOTE]: exits with "CMD is required NOTE" if CMD is not on PATH.
need_cmd() { command -v "$1" >/dev/null || { log "$1 is required${2:+ $2}"; exit 1; }; }

# need_ws ci|install: runs "npm ci" / "npm install" if the ws module is not in node_modules yet.
need_ws() { [ -f node_modules/ws/package.json ] || { log "npm $1 (for ws)"; npm "$1" --no-audit --no-fund >/dev/null; }; }

# ensure_pkgs PKG...: apt-get installs the Debian packages that are not installed yet (sudo if not root).
ensure_pkgs() {
  local p missing=() sudo=
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# bench_tmpdir PREFIX: makes the temp dir $T and installs the cleanup traps (no server running yet).
bench_tmpdir() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  SRV_PID=; SRV_KIND=   # the server under test (pid; for the peer, run.sh's process group) and its kind
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

# stop_server: stops the server under test (SIGTERM, SIGKILL after 10 s; the peer via its stop.sh and
# run.sh's process group) and clears SRV_PID/SRV_KIND. No-op when none runs.
stop_server() {
  [ -n "$SRV_PID" ] || return 0
  if [ "$SRV_KIND" = peer ]; then
    RUN_DIR=$T/peer-run "$PEER_DIR/stop.sh" >/dev/null 2>&1 || true
    kill -TERM -- "-$SRV_PID" 2>/dev/null || true     # run.sh's process group (setsid)
  else
    kill -TERM "$SRV_PID" 2>/dev/null || true
  fi
  for _ in $(seq 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SRV_PID" 2>/dev/null; then
    log "$SRV_KIND ($SRV_PID) did not stop in 10 s: SIGKILL"
    if [ "$SRV_KIND" = peer ]; then kill -KILL -- "-$SRV_PID" 2>/dev/null || true
    else kill -KILL "$SRV_PID" 2>/dev/null || true; fi
  fi
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=; SRV_KIND=
}

# cleanup: EXIT trap: stops the server, removes $T, keeps the exit status.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_server
  rm -rf "$T"
  exit $rc
}

# free_port: prints a TCP port on 127.0.0.1 that is free right now.
free_port() {
  "${PY:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS [PID]: until URL answers 2xx; fails after SECONDS, or early if PID died.
wait_http() {
  local i
  for i in $(seq $(( $2 * 10 ))); do
    curl -fs -o /dev/null --max-time 1 "$1" && return 0
    if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# wait_iotstream_out PATTERN TRIES: polls $T/iotstream.out every 0.1 s until a line matches PATTERN,
# TRIES times at most, or until the server ($SRV_PID) exits. Always returns 0: callers check after.
wait_iotstream_out() {
  local i
  for i in $(seq "$2"); do
    grep -q "$1" "$T/iotstream.out" 2>/dev/null && break
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  return 0
}

# make_frame: the ~FRAME_BYTES JPEG all benchmarks post: $FRAME (in $T) made from obama-480p.jpg by
# the peer's make-frame.py; sets SRC_IMG, FRAME and FRAME_INFO ("N bytes, WxH").
# shellcheck disable=SC2034  # FRAME_INFO is printed by the caller
make_frame() {
  SRC_IMG=$FACES_DIR/ageitgey_face_recognition/examples/obama-480p.jpg
  [ -f "$SRC_IMG" ] || { log "missing $SRC_IMG (set FACES_DIR)"; exit 1; }
  FRAME=$T/frame.jpg
  "$PY" "$PEER_SRC/bench/make-frame.py" "$SRC_IMG" "$FRAME" "$FRAME_BYTES" >/dev/null
  FRAME_INFO=$("$PY" -c 'import sys,os; from PIL import Image; im=Image.open(sys.argv[1]); print(f"{os.path.getsize(sys.argv[1])} bytes, {im.width}x{im.height}")' "$FRAME")
}

# peer_copy: copies the read-only peer ($PEER_SRC) to $PEER_DIR (.cache), leaving out what setup.sh
# builds, so node_modules and the dlib binding survive between runs.
peer_copy() {
  mkdir -p "$PEER_DIR"
  (cd "$PEER_SRC" && tar --exclude=./node_modules --exclude=./data --exclude=./run \
     --exclude='./recognition/*.so' --exclude=./recognition/__pycache__ -cf - .) |
    (cd "$PEER_DIR" && tar -xf - --no-same-owner)   # keeps mtimes: setup.sh's -nt checks stay valid
  chmod -R u+w "$PEER_DIR"
}

# peer_setup [VAR=value...]: runs the copy's setup.sh with those variables (WITH_RECOG=0: Node only);
# its output goes to $T/peer-setup.log.
# shellcheck disable=SC2120  # called with and without arguments
peer_setup() {
  (cd "$PEER_DIR" && env "$@" ./setup.sh) > "$T/peer-setup.log" 2>&1
}

# peer_launch PORT RECOG_PORT RECOG: starts the copy's run.sh in its own process group (setsid) on
# $HOST, data and run dirs in $T; sets SRV_PID/SRV_KIND. Does not wait for it.
peer_launch() {
  mkdir -p "$T/peer-run" "$T/peer-data"
  PORT=$1 HOST=$HOST RECOG_PORT=$2 RECOG_HOST=$HOST RECOG=$3 RUN_DIR=$T/peer-run \
    DATA_DIR=$T/peer-data setsid "$PEER_DIR/run.sh" > "$T/peer-run.out" 2>&1 < /dev/null &
  SRV_PID=$!; SRV_KIND=peer
}

# iotstream_start [FLAG...]: starts $IOTSTREAM_BIN on $HOST with free ports (--port 0, --recognition-port 0), a fresh
# data dir $T/data, --log-level warn, --auth off (the peer it is compared with is open) and the given flags; waits (30 s at most) for its "ready" line (models loaded).
# Sets SRV_PID/SRV_KIND and BASE; returns 1 with its stderr's tail if it did not come up.
# shellcheck disable=SC2120,SC2034  # called with and without flags; BASE is the caller's
iotstream_start() {
  rm -rf "$T/data"; mkdir -p "$T/data"
  "$IOTSTREAM_BIN" --port 0 --recognition-port 0 --bind "$HOST" --data-dir "$T/data" --log-level warn --auth off "$@" \
    > "$T/iotstream.out" 2> "$T/iotstream.err" &
  SRV_PID=$!; SRV_KIND=iotstream
  wait_iotstream_out '^ready' 300
  if ! grep -q '^ready' "$T/iotstream.out"; then
    log "iotstream did not come up ($*); stderr:"; tail -20 "$T/iotstream.err" >&2; return 1
  fi
  local port; port=$(sed -n "s/^listening on $HOST:\([0-9]*\).*/\1/p" "$T/iotstream.out" | head -1)
  BASE=http://$HOST:$port
}

# peer_start_full: the peer as the full system (Node + its Python recognition service): copies and sets it up,
# launches it on free ports and waits (90 s at most) until /health answers with recognition enabled. Sets
# SRV_PID/SRV_KIND and BASE; returns 1 with a note if it could not.
# shellcheck disable=SC2034  # BASE is the caller's
peer_start_full() {
  peer_copy
  if ! peer_setup; then
    log "peer full-system setup failed:"; tail -5 "$T/peer-setup.log" >&2; return 1
  fi
  local port rport
  port=$(free_port); rport=$(free_port)
  while [ "$rport" = "$port" ]; do rport=$(free_port); done
  peer_launch "$port" "$rport" 1
  wait_http "http://$HOST:$port/health" 90 "$SRV_PID" ||
    { log "peer did not come up:"; tail -5 "$T/peer-run.out" >&2; return 1; }
  [ "$(curl -fs --max-time 2 "http://$HOST:$port/health" | jq -r .recognition)" = enabled ] ||
    { log "peer is up but without recognition"; return 1; }
  BASE=http://$HOST:$port
}
