#!/usr/bin/env bash
# Installs what iotstream needs to build and test on Debian 12 (idempotent), then configures and builds.
#   scripts/setup.sh [BUILD_DIR] [extra cmake args...]
#   WITH_TEST_TOOLS=1  also the tools the tests drive: ffmpeg/ffprobe and unzip (footage exports), Chromium,
#                      playwright-core and ws, the mosquitto broker, the openssl tool (the TLS tests' certificates),
#                      PostgreSQL and HAProxy (the cluster tests), jq (the soak test reads /metrics and JSON with it)
# Every path installs the dashboard's chart library from npm and copies it into web/vendor/.
#   WITH_SANITIZERS=1  also clang and its sanitizer and libFuzzer runtimes (fuzz/run.sh, scripts/sanitizers.sh)
#   SKIP_BUILD=1       install only
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(g++ cmake make pkg-config git ca-certificates curl
  libboost1.81-dev libboost-program-options1.81-dev libturbojpeg0-dev nlohmann-json3-dev libsqlite3-dev libjemalloc-dev
  libmosquitto-dev libssl-dev libsodium-dev libpq-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  libdlib-dev libdlib-data libopenblas-dev libjpeg62-turbo-dev libpng-dev
  libavcodec-dev libavformat-dev libswscale-dev libavutil-dev libminizip-dev)
[ "${WITH_TEST_TOOLS:-0}" = 1 ] && pkgs+=(ffmpeg unzip chromium mosquitto openssl postgresql haproxy jq)
[ "${WITH_SANITIZERS:-0}" = 1 ] && pkgs+=(clang libclang-rt-dev)
# npm fetches the model weights and the chart library. Node.js may come from elsewhere with its npm bundled: ask apt
# only when node itself is missing.
command -v node >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm: the dashboard's chart library (package.json's dependencies) on every path, for the tests also the browser test
# tools (its devDependencies).
npm_need=(node_modules/uplot)
npm_omit=(--omit=dev)
if [ "${WITH_TEST_TOOLS:-0}" = 1 ]; then npm_need+=(node_modules/playwright-core node_modules/ws); npm_omit=(); fi
for d in "${npm_need[@]}"; do
  if [ ! -d "$d" ] || [ package-lock.json -nt node_modules ]; then
    echo "[setup] npm ci${npm_omit[*]:+ ${npm_omit[*]}}"
    npm ci --no-audit --no-fund "${npm_omit[@]}"
    touch node_modules
    break
  fi
done
# uPlot (MIT, https://github.com/leeoniya/uPlot; its LICENSE goes along) draws the system page's charts. The dashboard
# is served from web/ alone, so the browser never fetches a script from elsewhere.
mkdir -p web/vendor/uplot
cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE web/vendor/uplot/

# dlib's ResNet descriptor weights (npm: @vladmandic/face-api), checked and cached in .cache/models; for the
# tests also face-api's own TensorFlow.js network, the reference the port is checked against.
if [ "${WITH_TEST_TOOLS:-0}" = 1 ]; then scripts/fetch-models.sh --with-reference > /dev/null; else scripts/fetch-models.sh > /dev/null; fi

[ "${SKIP_BUILD:-0}" = 1 ] && exit 0
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@" > /dev/null
cmake --build "$build_dir" -j"$(nproc)"
