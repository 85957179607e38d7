#!/usr/bin/env bash
# Makes the documentation's screenshots (docs/screenshots/) from the browser tests' own (photos blurred:
# tests/browser/docs-screenshot.mjs): one JPEG per page and pages.jpg, all of them side by side, for the README.
#   ctest --test-dir build -R 'browser_(dashboard|people|footage|system)'   # build/test-artifacts/docs/*.png
#   scripts/readme-screenshots.sh [ARTIFACTS_DIR]                 # default build/test-artifacts
set -euo pipefail
cd "$(dirname "$0")/.."
shots=${1:-build/test-artifacts}/docs
out=docs/screenshots
mkdir -p "$out"
pages=(live footage events people system)
inputs=()
for p in "${pages[@]}"; do
  src=$shots/$p.png
  [ -f "$src" ] || { echo "readme-screenshots: no $src (run the browser tests first)" >&2; exit 1; }
  # Each page at 960 px wide; the tiles of pages.jpg cut to 640 x 420 from the top.
  ffmpeg -loglevel error -y -i "$src" -vf scale=960:-2 -q:v 4 "$out/$p.jpg"
  inputs+=(-i "$src")
done
tile='scale=640:-2,crop=640:min(ih\,420):0:0,pad=640:420:0:0:color=0x0f1115'
ffmpeg -loglevel error -y "${inputs[@]}" -filter_complex \
  "[0]${tile}[a];[1]${tile}[b];[2]${tile}[c];[3]${tile}[d];[4]${tile}[e];color=c=0x0f1115:s=640x420[f];
   [a][b][c][d][e][f]xstack=inputs=6:layout=0_0|640_0|1280_0|0_420|640_420|1280_420,scale=1440:-2" \
  -frames:v 1 -q:v 4 "$out/pages.jpg"
ls -l "$out"
