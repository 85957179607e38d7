// Reference face descriptors from @vladmandic/face-api's own TensorFlow.js network (pure-JS CPU backend).
//
//   node face_api_descriptor.cjs <dir>
// reads every <dir>/*.rgb (150x150x3 bytes, RGB, row-major: an aligned chip written by the C++ test) and writes
// <dir>/<name>.json = [128 floats].
//
// Like with like: dlib's input layer computes (x - mean) / 256, face-api's (x - mean) / 255. The chip is handed to
// face-api as x' = mean + (x - mean) * 255 / 256, so both networks see the same normalised input and any
// difference left is the port (layer mapping, dequantisation, arithmetic order).
// Packages: FACE_API_NODE_MODULES (default <repo>/.cache/face-api/node_modules), from
// scripts/fetch-models.sh --with-reference.
'use strict';
const fs = require('fs');
const path = require('path');

const modules = process.env.FACE_API_NODE_MODULES ||
    path.resolve(__dirname, '../../../.cache/face-api/node_modules');
const tf = require(path.join(modules, '@tensorflow/tfjs'));
require(path.join(modules, '@tensorflow/tfjs-backend-wasm'));
const faceapi = require(path.join(modules, '@vladmandic/face-api/dist/face-api.node-wasm.js'));

const SIZE = 150;
const MEAN = [122.782, 117.001, 104.298];

async function main() {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: node face_api_descriptor.cjs <dir>');
  await tf.setBackend('cpu');
  await tf.ready();
  await faceapi.nets.faceRecognitionNet.loadFromDisk(path.join(modules, '@vladmandic/face-api/model'));
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.rgb')).sort();
  for (const f of files) {
    const bytes = fs.readFileSync(path.join(dir, f));
    if (bytes.length !== SIZE * SIZE * 3) throw new Error(`${f}: ${bytes.length} bytes, expected ${SIZE * SIZE * 3}`);
    const x = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; ++i) {
      const m = MEAN[i % 3];
      x[i] = m + (bytes[i] - m) * 255 / 256;
    }
    const input = tf.tensor3d(x, [SIZE, SIZE, 3], 'float32');
    const desc = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(input);
    input.dispose();
    fs.writeFileSync(path.join(dir, f.replace(/\.rgb$/, '.json')), JSON.stringify(Array.from(desc)));
    console.log(`${f}: ok`);
  }
}

main().catch((e) => {
  console.error(`face_api_descriptor: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
