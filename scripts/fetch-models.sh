#!/usr/bin/env bash
# Fetches dlib's ResNet face descriptor weights, as converted by @vladmandic/face-api (MIT), from the npm registry
# at a pinned version into the ignored cache folder, checks their sha256 and prints the models folder.
# Idempotent: does nothing (but the check) when the files are already there.
#   usage: scripts/fetch-models.sh [--with-reference]   (--with-reference also installs tfjs for the Node
#          reference test under tests/vision/reference)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ROOT}/.cache"
PKG_DIR="${CACHE}/face-api"
MODELS_DIR="${IOTSTREAM_MODELS_DIR:-${CACHE}/models}"
FACE_API_VERSION="1.7.15"
TFJS_VERSION="4.22.0"
MANIFEST="face_recognition_model-weights_manifest.json"
WEIGHTS="face_recognition_model.bin"
SHA_MANIFEST="cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b"
SHA_WEIGHTS="b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589"

with_reference=0
[[ "${1:-}" == "--with-reference" ]] && with_reference=1

verify() {  # verify FILE SHA -> 0 when it matches
  [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]
}

mkdir -p "${PKG_DIR}" "${MODELS_DIR}"
need_pkg=0
verify "${MODELS_DIR}/${MANIFEST}" "${SHA_MANIFEST}" && verify "${MODELS_DIR}/${WEIGHTS}" "${SHA_WEIGHTS}" || need_pkg=1
if [[ ${with_reference} == 1 && ! -d "${PKG_DIR}/node_modules/@tensorflow/tfjs-backend-wasm" ]]; then need_pkg=1; fi

if [[ ${need_pkg} == 1 ]]; then
  command -v npm >/dev/null || { echo "fetch-models: npm is required (apt-get install npm)" >&2; exit 1; }
  [[ -f "${PKG_DIR}/package.json" ]] || echo '{"name":"iotstream-face-api-cache","private":true}' > "${PKG_DIR}/package.json"
  pkgs=("@vladmandic/face-api@${FACE_API_VERSION}")
  if [[ ${with_reference} == 1 ]]; then
    pkgs+=("@tensorflow/tfjs@${TFJS_VERSION}" "@tensorflow/tfjs-backend-wasm@${TFJS_VERSION}")
  fi
  # --ignore-scripts: nothing native is built or downloaded; packages are saved to the cache's own package.json so a later run does not prune them.
  (cd "${PKG_DIR}" && npm install --no-audit --no-fund --ignore-scripts --save-exact --loglevel=error "${pkgs[@]}" >&2)
  src="${PKG_DIR}/node_modules/@vladmandic/face-api/model"
  cp "${src}/${MANIFEST}" "${src}/${WEIGHTS}" "${MODELS_DIR}/"
fi

for f in "${MANIFEST}:${SHA_MANIFEST}" "${WEIGHTS}:${SHA_WEIGHTS}"; do
  if ! verify "${MODELS_DIR}/${f%%:*}" "${f#*:}"; then
    echo "fetch-models: sha256 mismatch for ${MODELS_DIR}/${f%%:*} (expected ${f#*:})" >&2
    exit 1
  fi
done
echo "${MODELS_DIR}"
