#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds Release, and runs iotstream in the foreground.
# Ctrl-C / SIGTERM stops it cleanly (queued frames are written, SQLite is closed).
# Any iotstream flag can be given here or as an IOTSTREAM_* variable, e.g.
#   IOTSTREAM_DATA_DIR=/srv/iotstream ./start-high-performance.sh --port 9003
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh build
. scripts/blas-env.sh
port=${IOTSTREAM_PORT:-9003}
recognition_port=${IOTSTREAM_RECOGNITION_PORT:-9001}
scheme=http
[[ -n "${IOTSTREAM_TLS_CERT:-}" || "${IOTSTREAM_TLS_SELF_SIGNED:-}" =~ ^(1|true|yes|on)$ ]] && scheme=https
for ((i = 1; i <= $#; i++)); do
  j=$((i + 1))
  [ "${!i}" = "--port" ] && port=${!j}
  [ "${!i}" = "--recognition-port" ] && recognition_port=${!j}
  case "${!i}" in --tls-self-signed=false | --tls-self-signed=0) ;; --tls-cert* | --tls-self-signed*) scheme=https ;; esac
done
host=$(hostname -I 2>/dev/null | awk '{print $1}')
echo "iotstream: dashboard/API   $scheme://${host:-localhost}:${port}/   (health: /health, metrics: /metrics)"
echo "iotstream: cameras POST JPEG frames to $scheme://${host:-localhost}:${port}/api/v1/stream/fast"
echo "iotstream: recognition API $scheme://${host:-localhost}:${recognition_port}/api/v1/recognize"
echo "iotstream: access control is on: the first start prints the admin password once (README: Access control)"
exec build/src/iotstream "$@"
