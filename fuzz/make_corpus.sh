#!/usr/bin/env bash
# Writes the seed corpora of the harnesses (fuzz/corpus/<harness>/) and the tiny JPEG the upload_fields harness
# embeds: request shapes taken from real firmwares (tests/integration/camera_shapes_test.cpp) around images that
# ffmpeg draws (a test pattern, no photos). The output is checked in; rerun after changing a harness's input format.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

img() {  # img NAME SIZE PIX_FMT [EXT]: a test-pattern image of SIZE in PIX_FMT
  ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=$2:rate=1" -frames:v 1 -pix_fmt "$3" "$tmp/$1.${4:-jpg}"
}
img gray8 8x8 gray
img yuv420 32x24 yuvj420p
img yuv444 17x9 yuvj444p
img yuv422 40x16 yuvj422p
img rgb 16x16 rgb24 png
img rgba 12x10 rgba png
img gray16 9x7 gray16be png
img pal 20x4 pal8 png
jpeg=$tmp/gray8.jpg

rm -rf corpus
mkdir -p corpus/{http_request,multipart,jpeg,upload_fields,ws_subscribe,image_decode,api_bodies,config}
xxd -i < "$jpeg" > tiny_jpeg.inc

# jpeg, image_decode: the images, one with the zero padding some firmwares append, one cut short.
for f in "$tmp"/*.jpg; do cp "$f" corpus/jpeg/; cp "$f" corpus/image_decode/; done
for f in "$tmp"/*.png; do cp "$f" corpus/image_decode/; done
{ cat "$tmp/yuv420.jpg"; printf '\0\0\0\0'; } > corpus/jpeg/zero_padded.jpg
head -c 200 "$tmp/yuv420.jpg" > corpus/jpeg/truncated.jpg

# multipart: Content-Type line, a flags byte, the body.
mp() {  # mp NAME CONTENT_TYPE FLAGS BODY_FILE
  { printf '%s\n' "$2"; printf "$3"; cat "$4"; } > "corpus/multipart/$1"
}
{ printf -- '--RandomNerdTutorials\r\nContent-Disposition: form-data; name="imageFile"; filename="esp32-cam.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
  cat "$jpeg"; printf '\r\n--RandomNerdTutorials--\r\n'; } > "$tmp/b1"
mp esp32_sketch 'multipart/form-data; boundary=RandomNerdTutorials' '\x00' "$tmp/b1"
{ printf -- '--xYz\r\nContent-Disposition: form-data; name="device_id"\r\n\r\nform-cam\r\n'
  printf -- '--xYz\r\nContent-Disposition: form-data; name="timestamp"\r\n\r\n0\r\n'
  printf -- '--xYz\r\nContent-Disposition: form-data; name="file"; filename="f"\r\nContent-Type: application/octet-stream\r\n\r\n'
  cat "$jpeg"; printf '\r\n--xYz--\r\n'; } > "$tmp/b2"
mp fields_before_file 'multipart/form-data; boundary=xYz' '\x02' "$tmp/b2"
{ printf -- '--b\ncontent-disposition: form-data; name="photo"\ncontent-type: image/jpeg\n'; cat "$jpeg"; printf '\n--b--\n'; } > "$tmp/b3"
mp no_blank_line 'multipart/form-data; boundary=b' '\x00' "$tmp/b3"
{ printf -- '--realboundary\r\nContent-Disposition: form-data; name="frame"\r\n\r\n'; cat "$jpeg"; printf '\r\n'; } > "$tmp/b4"
mp wrong_boundary_unclosed 'multipart/form-data; boundary=other' '\x00' "$tmp/b4"
mp raw_curl 'application/x-www-form-urlencoded' '\x00' "$jpeg"
{ printf -- '--enrol\r\nContent-Disposition: form-data; name="name"\r\n\r\nAda\r\n--enrol\r\nContent-Disposition: form-data; name="image"; filename="p.png"\r\nContent-Type: image/png\r\n\r\n'
  cat "$tmp/rgb.png"; printf '\r\n--enrol--\r\n'; } > "$tmp/b5"
mp enrol_png 'multipart/form-data; boundary="enrol"' '\x01' "$tmp/b5"
printf -- '--q\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--q--\r\n' > "$tmp/b6"
mp no_image 'multipart/form-data; boundary=q' '\xe2' "$tmp/b6"

# http_request: a piece-size byte, then what a client sends on one connection.
req() {  # req NAME PIECE_BYTE FILE
  { printf "$2"; cat "$3"; } > "corpus/http_request/$1"
}
len=$(stat -c %s "$jpeg")
{ printf 'POST /api/v1/stream/fast HTTP/1.1\r\nHost: 192.168.1.10:9003\r\nX-Device-ID: esp32-cam-01\r\nContent-Type: image/jpeg\r\nContent-Length: %s\r\n\r\n' "$len"; cat "$jpeg"; } > "$tmp/r1"
req raw_jpeg '\xff' "$tmp/r1"
{ printf 'POST /api/v1/stream/stream HTTP/1.1\r\nHost: x\r\nX-Device-ID: chunky\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n' "$len"; cat "$jpeg"; printf '\r\n0\r\n\r\n'; } > "$tmp/r2"
req chunked '\x0f' "$tmp/r2"
b1len=$(stat -c %s "$tmp/b1")
{ printf 'POST /api/v1/stream/fast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=RandomNerdTutorials\r\nContent-Length: %s\r\n\r\n' "$b1len"; cat "$tmp/b1"; } > "$tmp/r3"
req esp32_multipart '\x3f' "$tmp/r3"
printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/devices/cam-1/frames?from=0&to=1750000000000&limit=10 HTTP/1.1\r\nHost: x\r\n\r\nDELETE /api/v1/devices/cam%%2D1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' > "$tmp/r4"
req pipelined '\x00' "$tmp/r4"
printf 'POST /api/v1/stream/fast?device_id=old-cam&timestamp=1750000000000 HTTP/1.0\r\nConnection: close\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\n\xff\xd8\xff\xd9' > "$tmp/r5"
req http10 '\x07' "$tmp/r5"
printf 'GET /ws/devices/cam1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n' > "$tmp/r6"
req ws_upgrade '\x1f' "$tmp/r6"
printf 'PATCH /api/v1/devices/cam-1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n{"name": "Front door"}' > "$tmp/r7"
req patch '\xff' "$tmp/r7"

# upload_fields: X-Device-ID, query string, X-Frame-Timestamp, peer address, Content-Type; then the body ('J': a JPEG).
uf() { printf "$2" > "corpus/upload_fields/$1"; }
uf header_id 'esp32-cam-01\n\n1750000000123\n192.168.1.20\nimage/jpeg\nJ'
uf query_id '\ndevice_id=garden%%3Acam&timestamp=1749999999000\n\n10.0.0.7\napplication/octet-stream\nJ'
uf peer_only '\n\n\n::ffff:10.0.0.9\n\nJ'
uf traversal '..%%2F..%%2Fetc\ndevice_id=..%%2Fx\n-9223372036854775808\n127.0.0.1\nimage/jpeg\nJ'
{ printf '\n\n\n10.0.0.7\nmultipart/form-data; boundary=xYz\n'; cat "$tmp/b2"; } > corpus/upload_fields/form_fields

# ws_subscribe, api_bodies: JSON as clients send it.
printf '{"subscribe": ["cam1", "cam2"]}' > corpus/ws_subscribe/list
printf '{"subscribe": "*"}' > corpus/ws_subscribe/all
printf '{"subscribe": []}' > corpus/ws_subscribe/none
printf '{"subscribe": 5}' > corpus/ws_subscribe/bad
printf '{"name": "Front door", "location": "Hall", "sparse": true, "expected_interval_s": 300}' > corpus/api_bodies/device
printf '{"expected_interval_s": 0.5}' > corpus/api_bodies/interval
printf '{"url": "https://example.com/hook", "secret": "s3cret", "types": ["person_recognized"], "cameras": ["cam1"], "persons": null}' > corpus/api_bodies/webhook
printf '{"correct": false}' > corpus/api_bodies/feedback
printf '{"from": 1700000000000, "to": 1700000010000, "format": "zip"}' > corpus/api_bodies/export

# config: arguments separated by NUL bytes.
printf -- '--port\0009003\000--max-body-bytes\000100000\000--max-multipart-parts\00016' > corpus/config/limits
printf -- '--mqtt-url\000mqtt://user:pw@broker.local:1883\000--mqtt-prefix\000home/iotstream' > corpus/config/mqtt
printf -- '--recognition-sample-rate\0000.5\000--match-threshold\0000.55\000--hog-upsample\0001' > corpus/config/recognition
printf -- '--read-timeout-ms=5000\000--log-level\000debug\000--webhook\000https://example.com/a' > corpus/config/misc
