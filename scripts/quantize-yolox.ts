/**
 * Make an int8 YOLOX-Nano from the fp32 model with onnxruntime's quantization tooling, reproducibly:
 *
 *   node --import tsx scripts/quantize-yolox.ts [--method static|dynamic] [--images 24] [--out FILE]
 *        [--models-dir DIR] [--calibration-dir DIR] [--python PYTHON]
 *
 * 1. The fp32 model is found and checked like every model (--models-dir, AUTOLABEL_MODELS_DIR, the cache).
 * 2. Static (the default): calibration inputs are the detector's own letterboxed views (all 5 of each image, the
 *    runtime's preprocessing, so the ranges are those the model meets) of the first --images images of
 *    --calibration-dir by name: default ../shared/bdd100k-scenes/images, not the 60-image sample the detector is
 *    evaluated on. Written as bytes (the inputs are whole numbers 0..255) to a temporary file.
 * 3. scripts/quantize-yolox.py (the project's .venv: `.venv/bin/pip install onnxruntime onnx`) quantizes them.
 * 4. The output's sha256 is compared with the one the model registry records for yolox-nano-int8
 *    (src/adapters/providers/models/model-files.ts): a different file (other inputs or library versions) is reported
 *    and the script exits 1.
 *
 * Output: out/models/yolox-nano-int8/yolox_nano_int8.onnx (out/ is left out of git and of the deployment package;
 * never commit model files).
 *
 * Measured on the 60-image sample (AP50 per class with the pipeline's thresholds, the label CLI's boxes) against
 * fp32 (car 0.474, pedestrian 0.475, traffic light 0.279, truck 0.117, bus 0.588, motorcycle 0.333, bicycle 0.257),
 * and session.run CPU time a view on one thread, each file against fp32 in the same run (shared 2-core machine):
 * - the defaults (convolutions quantized; first and depthwise convolutions and the head's outputs float): car 0.467,
 *   pedestrian 0.482, traffic light 0.261, truck 0.105, bus 0.505, motorcycle 0, bicycle 0.257; 9-20% slower.
 * - --ops all (every op type, the SiLU activations too, the same nodes float): no box left; 4% faster. With only
 *   the head's outputs float: car 0.27, pedestrian 0.32; 8% faster.
 * - convolutions only, with the depthwise ones or the first one quantized too: car 0.24-0.32 (percentile ranges:
 *   0.34); --method dynamic: no box left.
 * None keeps AP50 within 0.01 of fp32 on every class, and the one that comes closest is slower than fp32 (the
 * quantize/dequantize pairs around the float layers cost more than int8 saves on a model this small): the int8
 * model is not a detector option. `node --import tsx bench/onnx-views.ts --variants squares+centre --model FILE`
 * measures a file the same way (without the pipeline's thresholds).
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readImage } from '../src/adapters/image/intake';
import { DEFAULT_KERNEL, DEFAULT_TILES } from '../src/adapters/providers/detector/onnx/onnx-detector';
import { letterboxInput } from '../src/adapters/providers/detector/onnx/preprocess';
import { planViews } from '../src/adapters/providers/detector/onnx/views';
import { resolveModelFile, sha256File, YOLOX_NANO, YOLOX_NANO_INT8 } from '../src/adapters/providers/models/model-files';

const repo = path.resolve(__dirname, '..');
const shared = path.resolve(process.env.AUTOLABEL_SHARED_DIR ?? path.join(repo, '..', 'shared'));
const INPUT_SIZE = 416;
const LIMITS = { maxBytes: 20 * 1024 * 1024, maxPixels: 40_000_000, minSide: 32 };

const { values } = parseArgs({
  options: {
    method: { type: 'string', default: 'static' },
    images: { type: 'string', default: '24' },
    out: { type: 'string', default: path.join(repo, 'out', 'models', YOLOX_NANO_INT8.folder, YOLOX_NANO_INT8.fileName) },
    'models-dir': { type: 'string', default: process.env.AUTOLABEL_MODELS_DIR ?? path.join(shared, 'models') },
    'calibration-dir': { type: 'string', default: path.join(shared, 'bdd100k-scenes', 'images') },
    python: { type: 'string', default: process.env.AUTOLABEL_PYTHON ?? path.join(repo, '.venv', 'bin', 'python') },
    ops: { type: 'string', default: 'Conv' },
    calibrate: { type: 'string', default: 'minmax' },
  },
});

/** The detector's input views of `files`, as planar B, G, R bytes, one after the other. */
async function calibrationViews(files: string[]): Promise<{ bytes: Buffer; count: number }> {
  const chunks: Buffer[] = [];
  for (const file of files) {
    const image = await readImage(await fs.readFile(file), path.basename(file), LIMITS);
    for (const view of planViews(image.width, image.height, DEFAULT_TILES, INPUT_SIZE)) {
      const { data } = await letterboxInput(image, view, INPUT_SIZE, DEFAULT_KERNEL);
      const bytes = Buffer.alloc(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        if (!Number.isInteger(v) || v < 0 || v > 255) throw new Error(`${file}: input value ${v} is not a byte`);
        bytes[i] = v;
      }
      chunks.push(bytes);
    }
  }
  return { bytes: Buffer.concat(chunks), count: chunks.length };
}

async function main(): Promise<number> {
  const method = values.method;
  if (method !== 'static' && method !== 'dynamic') throw new Error(`--method must be static or dynamic, got ${method}`);
  const imageCount = Number(values.images);
  if (!Number.isInteger(imageCount) || imageCount < 1) throw new Error(`--images must be a positive whole number, got ${values.images}`);
  const input = await resolveModelFile(YOLOX_NANO, { modelsDir: values['models-dir'], allowDownload: false });
  const out = path.resolve(values.out);
  await fs.mkdir(path.dirname(out), { recursive: true });
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'quantize-yolox-'));
  try {
    const args = ['scripts/quantize-yolox.py', '--input', input, '--output', out, '--method', method, '--size', String(INPUT_SIZE)];
    if (method === 'static') {
      const dir = values['calibration-dir'];
      const names = (await fs.readdir(dir)).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
      if (names.length < imageCount) throw new Error(`${dir} has ${names.length} images, --images asks for ${imageCount}`);
      const { bytes, count } = await calibrationViews(names.slice(0, imageCount).map((n) => path.join(dir, n)));
      const file = path.join(work, 'views.u8');
      await fs.writeFile(file, bytes);
      args.push('--calibration', file, '--count', String(count), '--ops', values.ops, '--calibrate', values.calibrate);
      console.error(`calibration: ${count} views of the first ${imageCount} images of ${dir}`);
    }
    const python = spawnSync(values.python, args, { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'] });
    if (python.error) throw new Error(`cannot run ${values.python}: ${python.error.message} (create the venv: see this file's header)`);
    if (python.status !== 0) return python.status ?? 1;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  const digest = await sha256File(out);
  const size = (await fs.stat(out)).size;
  console.log(`${out}\n  ${size} bytes, sha256 ${digest}`);
  const defaults = method === 'static' && imageCount === 24 && values.ops === 'Conv' && values.calibrate === 'minmax';
  if (!defaults) {
    console.log(`  (not the defaults: the registry's digest for ${YOLOX_NANO_INT8.id} does not apply)`);
  } else if (!YOLOX_NANO_INT8.acceptedSha256.includes(digest)) {
    console.error(
      `not the file the registry records for ${YOLOX_NANO_INT8.id} (${YOLOX_NANO_INT8.acceptedSha256.join(', ')}): ` +
        'other calibration images or other onnxruntime / onnx versions than onnxruntime 1.30.0 and onnx 1.23.1',
    );
    return 1;
  } else {
    console.log(`  the registry's ${YOLOX_NANO_INT8.id} (reproduced)`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
