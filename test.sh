#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit + integration) through CTest.
#   ./test.sh                 all tests
#   ./test.sh -R Store        only tests matching a regex (passed to ctest; the fuzzers are then skipped)
# FACES_DIR (default ../shared/faces) holds the labelled photos the tests read. After the tests every libFuzzer
# harness runs FUZZ_SECONDS (default 30; 0 skips them) after its regression inputs, from FUZZ_SEED (default 1, so
# every run explores the same inputs; fuzz/run.sh alone picks a new seed each time).
set -euo pipefail
cd "$(dirname "$0")"
WITH_TEST_TOOLS=1 scripts/setup.sh build
. scripts/blas-env.sh
export IOTSTREAM_FACES_DIR=${FACES_DIR:-$(cd .. && pwd)/shared/faces}
if [ ! -f "$IOTSTREAM_FACES_DIR/MANIFEST.tsv" ]; then
  echo "test.sh: no face photos at $IOTSTREAM_FACES_DIR (set FACES_DIR)" >&2
  exit 1
fi
export IOTSTREAM_MODELS_DIR=${IOTSTREAM_MODELS_DIR:-$PWD/.cache/models}
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 300 "$@"
if [ $# -eq 0 ] && [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  WITH_SANITIZERS=1 SKIP_BUILD=1 scripts/setup.sh
  FUZZ_SEED=${FUZZ_SEED:-1} fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi
