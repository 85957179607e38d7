#!/usr/bin/env bash
# bench/auth.sh: what access control and TLS cost a camera upload. The same JPEG is POSTed to /api/v1/stream/fast N
# times in sequence over one keep-alive connection (curl), against a fresh server each time:
#   open   --auth on (the default; camera ingest stays open), plain HTTP
#   token  --auth on --camera-auth, each upload with X-API-Key: <camera token bound to the device>
#   tls    as open, over HTTPS (--tls-self-signed; curl trusts that certificate): one handshake, then N uploads
# ROUNDS times, the three interleaved (open, token, tls, open, ...), and prints p50/p90/p99 of curl's time_total
# (client-side, ms) for each run. Recognition is off: it is not on this path.
#   bench/auth.sh        N (2000), ROUNDS (3), IOTSTREAM_BIN (build/src/iotstream), FRAME (the shared set's
#                        obama-480p.jpg)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${IOTSTREAM_BIN:-build/src/iotstream}
N=${N:-2000}
ROUNDS=${ROUNDS:-3}
FRAME=${FRAME:-../shared/faces/ageitgey_face_recognition/examples/obama-480p.jpg}
[ -x "$BIN" ] || { echo "bench/auth.sh: $BIN missing (build first)" >&2; exit 1; }
[ -f "$FRAME" ] || { echo "bench/auth.sh: no frame at $FRAME (set FRAME)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/iotstream-auth-bench.XXXXXX")
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT

run() { # name [server flags...]
  local name=$1; shift
  rm -rf "$T/data"; mkdir -p "$T/data"
  local key=()
  if [ "$name" = token ]; then
    key=(-H "X-API-Key: $("$BIN" token create --name cam1 --role camera --device cam1 --data-dir "$T/data" 2>/dev/null)")
  fi
  "$BIN" --port 0 --bind 127.0.0.1 --recognition=false --recognition-api=false --data-dir "$T/data" \
    --log-level warn "$@" > "$T/out" 2> "$T/err" &
  PID=$!
  for _ in $(seq 300); do grep -q '^ready' "$T/out" && break; sleep 0.1; done
  local port; port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/out")
  [ -n "$port" ] || { echo "bench/auth.sh: the server did not start:" >&2; cat "$T/err" >&2; exit 1; }
  local scheme=http tls=()
  if [ "$name" = tls ]; then scheme=https; tls=(--cacert "$T/data/tls-cert.pem"); fi
  local url="$scheme://127.0.0.1:$port/api/v1/stream/fast"
  for _ in $(seq "$N"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done > "$T/urls"
  curl -s -w '%{http_code} %{time_total}\n' -H 'Content-Type: image/jpeg' -H 'X-Device-ID: cam1' \
    "${key[@]}" "${tls[@]}" --data-binary "@$FRAME" -K "$T/urls" > "$T/times"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  local bad; bad=$(grep -vc '^200 ' "$T/times" || true)
  awk '{print $2 * 1000}' "$T/times" | sort -n | awk -v name="$name" -v n="$N" -v bad="$bad" '
    { v[NR] = $1 }
    END { printf "%-6s n=%d non-200=%d  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n", name, n, bad,
          v[int(NR * 0.5)], v[int(NR * 0.9)], v[int(NR * 0.99)] }'
}

echo "iotstream $("$BIN" --version | awk '{print $2}'), $(nproc) cores, $(stat -c %s "$FRAME")-byte frame, $(date -u +%F)"
for _ in $(seq "$ROUNDS"); do
  run open
  run token --camera-auth
  run tls --tls-self-signed
done
