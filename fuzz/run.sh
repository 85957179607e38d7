#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan) and runs each: first its regression inputs (every crash found
# so far, now fixed: fuzz/regressions/<harness>/), then SECONDS of fuzzing from its seeds (fuzz/corpus/<harness>/,
# plus small photos from FACES_DIR for the image harnesses; what it learns stays in $FUZZ_BUILD_DIR/corpus/).
#   fuzz/run.sh [SECONDS [HARNESS...]]   default: 30 s each, every harness
#   FUZZ_BUILD_DIR   build folder (default build-fuzz; configured here unless it already is)
#   FACES_DIR        photos to seed from (default ../shared/faces; absent: the checked-in seeds only)
#   JOBS             parallel compile jobs (default: every core)
#   FUZZ_SEED        libFuzzer's random seed (default: a new one each run, printed); ./test.sh fixes it so that a CI
#                    run explores the same inputs each time and fails only on what a change broke
# Exit status 1 if any harness crashed, leaked, hung (10 s per input) or ran out of memory (2 GB); the input that
# did is in $FUZZ_BUILD_DIR/findings/<harness>/ and the log beside it. fuzz_<harness> <input> replays one.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
all=(http_request multipart jpeg upload_fields ws_subscribe image_decode api_bodies config)
[ $# -gt 0 ] && harnesses=("$@") || harnesses=("${all[@]}")
build=${FUZZ_BUILD_DIR:-build-fuzz}
faces=${FACES_DIR:-$(cd .. && pwd)/shared/faces}

# Release (asserts on and debug info in sanitizer builds: CMakeLists.txt). The test targets are configured too but
# built only by scripts/sanitizers.sh, whose ASan stage shares this folder.
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release \
    -DIOTSTREAM_FUZZ=ON -DIOTSTREAM_BUILD_BENCHMARKS=OFF > /dev/null
fi
started=$(date +%s)
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target fuzzers > "$build/fuzz-build.log" 2>&1 ||
  { tail -50 "$build/fuzz-build.log"; exit 1; }
echo "[fuzz] built in $(( $(date +%s) - started )) s"

# Small photos (<= 40 KB) as extra seeds for the image harnesses: read here, never copied into the repository.
photo_seeds=$build/seeds/photos
rm -rf "$photo_seeds" && mkdir -p "$photo_seeds"
if [ -d "$faces" ]; then
  find "$faces" -type f \( -name '*.jpg' -o -name '*.png' \) -size -41k | sort | head -20 |
    while read -r f; do cp "$f" "$photo_seeds/"; done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for h in "${harnesses[@]}"; do
  bin=$build/fuzz/fuzz_$h
  findings=$build/findings/$h
  mkdir -p "$findings" "$build/corpus/$h"
  log=$findings/log.txt
  : > "$log"
  regressions=()
  [ -d "fuzz/regressions/$h" ] && while IFS= read -r -d '' f; do regressions+=("$f"); done < \
    <(find "fuzz/regressions/$h" -type f -print0)
  if [ ${#regressions[@]} -gt 0 ] && ! "$bin" "${regressions[@]}" >> "$log" 2>&1; then
    echo "[fuzz] $h: a regression input fails again"; tail -40 "$log"; failed+=("$h"); continue
  fi
  seeds=("fuzz/corpus/$h")
  case $h in jpeg | image_decode) seeds+=("$photo_seeds") ;; esac
  seed=${FUZZ_SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}
  if "$bin" -seed="$seed" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$findings/" "$build/corpus/$h" "${seeds[@]}" >> "$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
    echo "[fuzz] $h: ok, ${#regressions[@]} regression input(s), $runs runs in ${seconds} s (seed $seed), coverage $cov"
  else
    echo "[fuzz] $h: FAILED with seed $seed (input and log in $findings/)"; grep -A30 -m1 'ERROR\|runtime error\|==ERROR' "$log" || tail -40 "$log"
    failed+=("$h")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "[fuzz] failed: ${failed[*]}"; exit 1; }
