/**
 * bench/onnx-views: what tiling buys the local YOLOX-Nano detector, and what it costs, on the 60-image BDD100K sample
 * (../shared/bdd100k-sample). Run by hand, not by tests:
 *
 *   node --import tsx bench/onnx-views.ts                   # quality + ms/image per view plan
 *   node --import tsx bench/onnx-views.ts --repeat 3        # timing passes per variant (medians reported)
 *   node --import tsx bench/onnx-views.ts --threads         # intra-op threads 1 vs 2, two (and one) images in flight
 *   node --import tsx bench/onnx-views.ts --model-bound     # session.run alone per view (the model-bound limit)
 *   --variants full,squares,...   --intra 2   --kernel linear|cubic|lanczos3 (default: the detector's)
 *   --model FILE                                            # another YOLOX file, e.g. the int8 one of scripts/quantize-yolox.ts
 *
 * Quality: our COCO-exact evaluator, ground truth from bdd100k-sample/labels. Timing: wall time of detect() per
 * image with nothing else in flight (decode excluded: images are decoded once, before), plus the sums of
 * session.run and of preprocessing that the detector reports. The machine is shared: repeat and read medians.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { evaluate } from '../src/core/evaluation/evaluate';
import { loadLabels } from '../src/adapters/files/load-labels';
import type { Frame } from '../src/core/labels/schema';
import type { DetectionResult, ImageInput } from '../src/core/pipeline/types';
import { readImage } from '../src/adapters/image/intake';
import {
  createOnnxDetector,
  DEFAULT_KERNEL,
  DEFAULT_TILES,
  type OnnxDetectorOptions,
} from '../src/adapters/providers/detector/onnx/onnx-detector';
import { letterboxInput, type ResizeKernel } from '../src/adapters/providers/detector/onnx/preprocess';
import { planViews, type TilePart } from '../src/adapters/providers/detector/onnx/views';
import { YoloxSession } from '../src/adapters/providers/detector/onnx/yolox-session';
import { resolveModelFile, YOLOX_NANO } from '../src/adapters/providers/models/model-files';

const repo = path.resolve(__dirname, '..');
const shared = path.resolve(process.env.AUTOLABEL_SHARED_DIR ?? path.join(repo, '..', 'shared'));
const imagesDir = path.join(shared, 'bdd100k-sample', 'images');
const labelsDir = path.join(shared, 'bdd100k-sample', 'labels');
const modelsDir = path.join(shared, 'models');

interface Variant {
  name: string;
  tiling: boolean;
  tiles?: readonly TilePart[];
  merge?: OnnxDetectorOptions['merge'];
  kernel?: ResizeKernel;
}

const VARIANTS: Variant[] = [
  { name: 'full', tiling: false },
  { name: 'squares', tiling: true, tiles: ['squares'] },
  { name: 'squares-wbf', tiling: true, tiles: ['squares'], merge: { method: 'wbf' } },
  { name: 'squares-keepcut', tiling: true, tiles: ['squares'], merge: { coverage: Infinity } },
  { name: 'centre', tiling: true, tiles: ['centre'] },
  { name: 'squares+centre', tiling: true, tiles: ['squares', 'centre'] },
  { name: 'full-linear', tiling: false, kernel: 'linear' },
  { name: 'squares+centre-linear', tiling: true, tiles: ['squares', 'centre'], kernel: 'linear' },
  { name: 'squares+centre-wbf', tiling: true, tiles: ['squares', 'centre'], merge: { method: 'wbf' } },
  { name: 'squares+zoom', tiling: true, tiles: ['squares', 'zoom'] },
  { name: 'band', tiling: true, tiles: ['band'] },
  { name: 'centre+zoom', tiling: true, tiles: ['centre', 'zoom'] },
  { name: 'squares+band', tiling: true, tiles: ['squares', 'band'] },
  { name: 'squares+centre+zoom', tiling: true, tiles: ['squares', 'centre', 'zoom'] },
];

const CLASSES = ['car', 'pedestrian', 'traffic light', 'traffic sign', 'truck', 'bus', 'motorcycle', 'bicycle'] as const;

const { values } = parseArgs({
  options: {
    variants: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    threads: { type: 'boolean', default: false },
    'model-bound': { type: 'boolean', default: false },
    intra: { type: 'string' },
    kernel: { type: 'string' },
    model: { type: 'string' },
  },
});
const repeat = Math.max(1, Number(values.repeat));
const kernel = (values.kernel ?? DEFAULT_KERNEL) as ResizeKernel;
const intraOpThreads = values.intra ? Number(values.intra) : undefined;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f3 = (v: number) => v.toFixed(3);
const f1 = (v: number) => v.toFixed(1);
const log = (message: string) => process.stderr.write(`[onnx-views] ${message}\n`);

function toFrame(name: string, result: DetectionResult): Frame {
  return {
    name,
    labels: result.boxes.map((b, i) => ({ id: String(i), category: b.category, box2d: b.box2d, score: b.score })),
  };
}

async function loadImages(): Promise<ImageInput[]> {
  const names = fs
    .readdirSync(imagesDir)
    .filter((n) => n.endsWith('.jpg'))
    .sort();
  const limits = { maxBytes: 20 << 20, maxPixels: 40_000_000, minSide: 32 };
  return Promise.all(names.map(async (n) => readImage(fs.readFileSync(path.join(imagesDir, n)), n, limits)));
}

async function quality(images: ImageInput[], gt: Frame[], variants: Variant[]) {
  const runs = variants.map((variant) => ({
    variant,
    detector: createOnnxDetector(
      { provider: 'onnx', tiling: variant.tiling },
      {
        modelsDir,
        allowDownload: false,
        kernel: variant.kernel ?? kernel,
        ...(variant.tiles ? { tiles: variant.tiles } : {}),
        ...(variant.merge ? { merge: variant.merge } : {}),
        ...(intraOpThreads ? { intraOpThreads } : {}),
        ...(values.model ? { modelPath: values.model } : {}),
      },
    ),
    wall: [] as number[],
    cpu: [] as number[],
    run: [] as number[],
    prep: [] as number[],
    views: 0,
    predictions: [] as Frame[],
  }));
  // Warm-up (session creation, first runs), then passes that interleave the variants so that the shared machine's
  // load falls on all of them alike.
  for (const r of runs) for (const image of images.slice(0, 3)) await r.detector.detect(image);
  for (let pass = 0; pass < repeat; pass++) {
    for (const r of runs) {
      const frames: Frame[] = [];
      let wall = 0;
      let run = 0;
      let prep = 0;
      const cpuStart = process.cpuUsage();
      for (const image of images) {
        const start = performance.now();
        const result = await r.detector.detect(image);
        wall += performance.now() - start;
        run += result.details!['inferenceMs'] as number;
        prep += result.details!['preprocessMs'] as number;
        r.views = result.details!['views'] as number;
        frames.push(toFrame(image.name, result));
      }
      const cpu = process.cpuUsage(cpuStart);
      r.wall.push(wall / images.length);
      r.cpu.push((cpu.user + cpu.system) / 1000 / images.length);
      r.run.push(run / images.length);
      r.prep.push(prep / images.length);
      r.predictions = frames;
      log(`pass ${pass + 1}/${repeat} ${r.variant.name}: ${f1(wall / images.length)} ms/img`);
    }
  }
  const header = [
    'variant',
    'views',
    'AP',
    'AP50',
    ...CLASSES.flatMap((c) => [`${c} AP50`, `${c} AP`]),
    'ms/img',
    'cpu ms/img',
    'run ms/img',
    'prep ms/img',
  ];
  const rows = [header.join('\t')];
  for (const r of runs) {
    await r.detector.close();
    const report = evaluate({ gt, predictions: r.predictions });
    const stats = report.detection.stats;
    const pc = report.detection.perClass;
    rows.push(
      [
        r.variant.name,
        String(r.views),
        f3(stats.AP),
        f3(stats.AP50),
        ...CLASSES.flatMap((c) => [f3(pc[c]?.AP50 ?? NaN), f3(pc[c]?.AP ?? NaN)]),
        f1(median(r.wall)),
        f1(median(r.cpu)),
        f1(median(r.run)),
        f1(median(r.prep)),
      ].join('\t'),
    );
  }
  console.log(rows.join('\n'));
}

/**
 * Throughput with two images in flight (the pipeline's default concurrency; one in flight for reference), intra-op
 * threads 1 vs 2. Passes interleave the settings so that the shared machine's load falls on all of them alike.
 */
async function threads(images: ImageInput[], variants: Variant[]) {
  const settings = [
    { intra: 1, inFlight: 2 },
    { intra: 2, inFlight: 2 },
    { intra: 1, inFlight: 1 },
    { intra: 2, inFlight: 1 },
  ];
  const combos = variants.flatMap((variant) =>
    settings.map(({ intra, inFlight }) => ({
      variant,
      intra,
      inFlight,
      detector: createOnnxDetector(
        { provider: 'onnx', tiling: variant.tiling },
        {
          modelsDir,
          allowDownload: false,
          kernel: variant.kernel ?? kernel,
          intraOpThreads: intra,
          ...(variant.tiles ? { tiles: variant.tiles } : {}),
          ...(values.model ? { modelPath: values.model } : {}),
        },
      ),
      rates: [] as number[],
      cpu: [] as number[],
    })),
  );
  for (const c of combos) for (const image of images.slice(0, 3)) await c.detector.detect(image);
  for (let pass = 0; pass < repeat; pass++) {
    for (const c of combos) {
      let next = 0;
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      const worker = async () => {
        while (next < images.length) await c.detector.detect(images[next++]!);
      };
      await Promise.all(Array.from({ length: c.inFlight }, worker));
      const cpu = process.cpuUsage(cpuStart);
      c.rates.push(images.length / ((performance.now() - start) / 1000));
      c.cpu.push((cpu.user + cpu.system) / 1000 / images.length);
      log(`pass ${pass + 1}/${repeat} ${c.variant.name} intra ${c.intra} in flight ${c.inFlight}: ${f1(c.rates.at(-1)!)} images/s`);
    }
  }
  console.log(['variant', 'intraOp', 'in flight', 'images/s (median)', 'cpu ms/img (median)', 'images/s per pass'].join('\t'));
  for (const c of combos) {
    await c.detector.close();
    console.log([c.variant.name, c.intra, c.inFlight, f1(median(c.rates)), f1(median(c.cpu)), c.rates.map(f1).join(',')].join('\t'));
  }
}

/** session.run alone, one view at a time, nothing else in flight: the floor any pipeline on this model pays. */
async function modelBound(images: ImageInput[]) {
  const modelPath = values.model ?? (await resolveModelFile(YOLOX_NANO, { modelsDir, allowDownload: false }));
  const views = planViews(1280, 720, DEFAULT_TILES);
  const inputs = await Promise.all(images.slice(0, 20).map((image) => letterboxInput(image, views[0]!, 416, kernel)));
  console.log(['intraOp', 'run ms/view (median)', 'p90', `ms/image full (1 view)`, `ms/image tiled (${views.length} views)`].join('\t'));
  for (const intra of [1, 2]) {
    const session = await YoloxSession.create(modelPath, { intraOpThreads: intra });
    for (const input of inputs.slice(0, 5)) await session.run(input.data);
    const times: number[] = [];
    for (let pass = 0; pass < repeat; pass++) for (const input of inputs) times.push((await session.run(input.data)).ms);
    await session.release();
    const sorted = [...times].sort((a, b) => a - b);
    const m = median(times);
    console.log([intra, f1(m), f1(sorted[Math.floor(0.9 * (sorted.length - 1))]!), f1(m), f1(m * views.length)].join('\t'));
  }
}

(async () => {
  const selected = values.variants
    ? values.variants.split(',').map((n) => {
        const v = VARIANTS.find((x) => x.name === n);
        if (!v) throw new Error(`unknown variant ${n}; known: ${VARIANTS.map((x) => x.name).join(', ')}`);
        return v;
      })
    : VARIANTS;
  const images = await loadImages();
  log(`${images.length} images decoded`);
  if (values['model-bound']) return modelBound(images);
  if (values.threads)
    return threads(images, values.variants ? selected : [VARIANTS[0]!, VARIANTS.find((v) => v.name === 'squares+centre')!]);
  const gt = (await loadLabels(labelsDir)).frames;
  return quality(images, gt, selected);
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
