#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds Release, and runs iotstream in the foreground.
# Ctrl-C / SIGTERM stops it cleanly (queued frames are written, SQLite is closed).
# Any iotstream flag can be given here or as an IOTSTREAM_* variable, e.g.
#   IOTSTREAM_DATA_DIR=/srv/iotstream ./start-high-performance.sh --port 9003
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh build
port=${IOTSTREAM_PORT:-9003}
for ((i = 1; i <= $#; i++)); do
  [ "${!i}" = "--port" ] && { j=$((i + 1)); port=${!j}; }
done
host=$(hostname -I 2>/dev/null | awk '{print $1}')
echo "iotstream: dashboard/API  http://${host:-localhost}:${port}/   (health: /health, metrics: /metrics)"
echo "iotstream: cameras POST JPEG frames to http://${host:-localhost}:${port}/api/v1/stream/fast"
exec build/src/iotstream "$@"
