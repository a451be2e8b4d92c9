/**
 * bench/label: how fast the labeling pipeline runs on the 60-image BDD100K sample (../shared/bdd100k-sample), local
 * and remote. Run by hand, not by tests:
 *
 *   npm run bench:label                          # the table below (3 passes, medians)
 *   npm run bench:label -- --repeat 5            # more passes
 *   npm run bench:label -- --sweep 1,2,3,4,6,8   # local throughput and latency per image concurrency
 *   --workers N (default: the factory's, one per core)  --concurrency N (default: the config's)
 *   --skip-remote  --skip-local
 *
 * Local: the 60 images are read into memory first; a warm-up labels 12 of them (each worker loads its sessions); then
 * every pass labels all 60 with labelImage and the default config (local scene classifier + YOLOX-Nano, 5 views,
 * models from shared/models) at the config's image concurrency: images/s and per-image latency (labelImage's own time).
 * Passes alternate with a model-bound pass in the same process, nothing else in flight: per image, the same views
 * prepared, then session.run of the detector on each view plus the scene backbone's, single-threaded (the sessions'
 * settings are the workers'). The model-bound limit = cores x 1000 / median per-image session.run time: what the
 * models alone would allow with every core running them; ratio = throughput / limit (target 85%). The same pass
 * times the other stages (CPU time, means), to show where the rest goes; a "models alone on all cores" pass (one
 * thread per core running only session.run, bench/label-model-worker.ts) shows whether the cores themselves scale.
 *
 * Remote: bench/label-remote.ts (a simulated Foundry endpoint, 300 ms per request, 300 requests/min): achieved rate
 * against the allowed one (target 90%) and images lost.
 *
 * The machine may be shared: passes interleave local pipeline and model-bound measurements so that load falls on both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { OnnxDetectorSchema } from '../src/core/config/labeling-config';
import { loadLabelingConfig } from '../src/adapters/config/load-config';
import { labelImage, type LabelingSetup } from '../src/core/pipeline/label-image';
import { readImage } from '../src/adapters/image/intake';
import { decodeYolox } from '../src/adapters/providers/detector/onnx/decode';
import { DEFAULT_KERNEL, DEFAULT_TILES } from '../src/adapters/providers/detector/onnx/onnx-detector';
import { nms } from '../src/adapters/providers/detector/onnx/nms';
import { letterboxInput, mapToImage } from '../src/adapters/providers/detector/onnx/preprocess';
import { DEFAULT_MERGE, isCutByView, mergeViews, planViews, type ViewBox } from '../src/adapters/providers/detector/onnx/views';
import { YoloxSession } from '../src/adapters/providers/detector/onnx/yolox-session';
import { createLabelingSetup } from '../src/adapters/providers/factory';
import { poolOf as providerPool, type LocalModelPool } from '../src/adapters/providers/local-workers';
import { MOBILENETV2_INT8, resolveModelFile, YOLOX_NANO } from '../src/adapters/providers/models/model-files';
import { createLimiter } from '../src/adapters/concurrency/limits';
import { defaultSceneModel } from '../src/adapters/providers/scene/local';
import { assembleFeatures, loadBackbone, sceneInputs, type FeatureSpec } from '../src/adapters/providers/scene/local/features';
import { benchRemote } from './label-remote';
import type { ModelWorkerData } from './label-model-worker';

const repo = path.resolve(__dirname, '..');
const shared = path.resolve(process.env.AUTOLABEL_SHARED_DIR ?? path.join(repo, '..', 'shared'));
const imagesDir = path.join(shared, 'bdd100k-sample', 'images');
const modelsDir = path.join(shared, 'models');

const LOCAL_TARGET = 0.85;
const REMOTE_TARGET = 0.9;
const REMOTE_RATE_PER_MINUTE = 300;
const REMOTE_LATENCY_MS = 300;
const WARMUP_IMAGES = 12;

const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    workers: { type: 'string' },
    concurrency: { type: 'string' },
    sweep: { type: 'string' },
    'skip-remote': { type: 'boolean', default: false },
    'skip-local': { type: 'boolean', default: false },
  },
});
const repeat = positive('--repeat', values.repeat);
const log = (message: string) => process.stderr.write(`[bench:label] ${message}\n`);

async function sequence<T>(times: number, run: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < times; i++) results.push(await run());
  return results;
}

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a whole number, got ${value}`);
  return n;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** Nearest-rank percentile. */
const percentile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);
const pct = (v: number) => `${(v * 100).toFixed(0)}%`;

interface SampleImage {
  name: string;
  bytes: Buffer;
}

function loadSample(): SampleImage[] {
  const names = fs
    .readdirSync(imagesDir)
    .filter((n) => /\.(jpe?g|png)$/i.test(n))
    .sort();
  return names.map((name) => ({ name, bytes: fs.readFileSync(path.join(imagesDir, name)) }));
}

// ---------------------------------------------------------------------------------------------------------------
// The pipeline

interface PipelinePass {
  seconds: number;
  imagesPerSecond: number;
  latencies: number[];
  failed: number;
  /** Process CPU (all threads) per image. */
  cpuMsPerImage: number;
  /** Worker time on jobs / (wall time x workers). */
  workerBusy?: number;
  /** Longest stall of the main thread's event loop. */
  eventLoopMaxMs: number;
  /** Per image, the detector's session.run time as it reports it (wall time inside its worker, waits for a core included). */
  detectorRunMs: number[];
}

function poolOf(setup: LabelingSetup): LocalModelPool | undefined {
  return providerPool(setup.detector) ?? providerPool(setup.scene);
}

async function pipelinePass(setup: LabelingSetup, images: SampleImage[], concurrency: number): Promise<PipelinePass> {
  const pool = poolOf(setup);
  const busyBefore = pool?.stats().reduce((s, w) => s + w.busyMs, 0) ?? 0;
  const limiter = createLimiter(concurrency);
  const latencies: number[] = [];
  const detectorRunMs: number[] = [];
  let failed = 0;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpuStart = cpuMs();
  const started = performance.now();
  await Promise.all(
    images.map((image) =>
      limiter.run(async () => {
        const t = performance.now();
        try {
          const { frame } = await labelImage(image.bytes, image.name, setup);
          latencies.push(performance.now() - t);
          const inference = frame.provenance.detector?.details?.['inferenceMs'];
          if (typeof inference === 'number') detectorRunMs.push(inference);
        } catch (error) {
          failed++;
          log(`${image.name}: ${(error as Error).message}`);
        }
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  loop.disable();
  const busy = pool ? pool.stats().reduce((s, w) => s + w.busyMs, 0) - busyBefore : undefined;
  return {
    seconds,
    imagesPerSecond: (images.length - failed) / seconds,
    latencies,
    failed,
    cpuMsPerImage: (cpuMs() - cpuStart) / images.length,
    ...(pool && busy !== undefined ? { workerBusy: busy / (seconds * 1000 * pool.size) } : {}),
    eventLoopMaxMs: loop.max / 1e6,
    detectorRunMs,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The model-bound pass: session.run alone, single-threaded, plus the CPU time of every other stage

const STAGES = ['decode', 'detector views', 'detector run', 'detector post', 'scene features', 'scene run', 'scene predict'] as const;
type Stage = (typeof STAGES)[number];

interface ModelPass {
  /** Per image: detector session.run over its views + scene backbone session.run. */
  modelMs: number[];
  detectorRunMs: number[];
  sceneRunMs: number[];
  stages: Record<Stage, number[]>;
  views: number;
}

interface Models {
  yolox: YoloxSession;
  backbone: Awaited<ReturnType<typeof loadBackbone>>;
  close(): Promise<void>;
}

async function loadModels(): Promise<Models> {
  const yolox = await YoloxSession.create(await resolveModelFile(YOLOX_NANO, { modelsDir, allowDownload: false }), { intraOpThreads: 1 });
  const backbone = await loadBackbone(await resolveModelFile(MOBILENETV2_INT8, { modelsDir, allowDownload: false }), { threads: 1 });
  return { yolox, backbone, close: async () => void (await Promise.all([yolox.release(), backbone.close()])) };
}

async function modelPass(
  models: Models,
  images: SampleImage[],
  limits: ReturnType<typeof loadLabelingConfig>['limits'],
): Promise<ModelPass> {
  const settings = OnnxDetectorSchema.parse({ provider: 'onnx' });
  const scene = defaultSceneModel();
  const spec = scene.params.featureSpec as FeatureSpec;
  const pass: ModelPass = {
    modelMs: [],
    detectorRunMs: [],
    sceneRunMs: [],
    stages: Object.fromEntries(STAGES.map((s) => [s, []])) as unknown as Record<Stage, number[]>,
    views: 0,
  };
  const add = (stage: Stage, ms: number) => pass.stages[stage].push(ms);
  const buffers = { views: [] as Float32Array[], scene: new Float32Array(3 * 224 * 224) };
  for (const { name, bytes } of images) {
    let c = cpuMs();
    const image = await readImage(bytes, name, limits);
    add('decode', cpuMs() - c);

    const views = planViews(image.width, image.height, DEFAULT_TILES, models.yolox.inputSize);
    pass.views = views.length;
    // Input buffers reused from image to image, as the detector and the scene classifier do.
    while (buffers.views.length < views.length) buffers.views.push(new Float32Array(3 * models.yolox.inputSize ** 2));
    c = cpuMs();
    const inputs = [];
    for (const [v, view] of views.entries())
      inputs.push(await letterboxInput(image, view, models.yolox.inputSize, DEFAULT_KERNEL, buffers.views[v]));
    add('detector views', cpuMs() - c);
    let runMs = 0;
    let postMs = 0;
    const boxes: ViewBox[] = [];
    for (let v = 0; v < views.length; v++) {
      const { output, ms } = await models.yolox.run(inputs[v]!.data);
      runMs += ms;
      c = cpuMs();
      const decoded = decodeYolox(output, {
        inputSize: models.yolox.inputSize,
        numClasses: models.yolox.numClasses,
        minScore: settings.minScore,
      });
      for (const box of nms(decoded, settings.nmsIou)) {
        const mapped = mapToImage(box, views[v]!, inputs[v]!.geometry);
        if (mapped) boxes.push({ ...mapped, view: v, cut: v > 0 && isCutByView(mapped, views[v]!, image.width, image.height) });
      }
      postMs += cpuMs() - c;
    }
    c = cpuMs();
    if (views.length > 1) mergeViews(boxes, { ...DEFAULT_MERGE, iou: settings.nmsIou });
    add('detector post', postMs + cpuMs() - c);
    add('detector run', runMs);

    c = cpuMs();
    const { input, stats } = sceneInputs(image, buffers.scene);
    add('scene features', cpuMs() - c);
    const t = performance.now();
    const outputs = await models.backbone.run(input, [spec.backboneOutput]);
    const sceneMs = performance.now() - t;
    add('scene run', sceneMs);
    c = cpuMs();
    scene.predict(assembleFeatures({ backbone: outputs, stats }, spec));
    add('scene predict', cpuMs() - c);

    pass.detectorRunMs.push(runMs);
    pass.sceneRunMs.push(sceneMs);
    pass.modelMs.push(runMs + sceneMs);
  }
  return pass;
}

/**
 * The models alone on every core: `cores` threads, each running session.run for its share of the images (inputs
 * prepared beforehand), all at once. What the hardware gives when it does nothing but inference; below the limit
 * when parallel runs slow each other down (shared caches, memory bandwidth).
 */
async function modelsOnAllCores(
  images: SampleImage[],
  cores: number,
  limits: ReturnType<typeof loadLabelingConfig>['limits'],
): Promise<number> {
  const spec = defaultSceneModel().params.featureSpec as FeatureSpec;
  const prepared: { views: Float32Array[]; scene: Float32Array }[] = [];
  for (const { name, bytes } of images.slice(0, 6)) {
    const image = await readImage(bytes, name, limits);
    const views = planViews(image.width, image.height, DEFAULT_TILES, 416);
    prepared.push({
      views: await Promise.all(views.map(async (v) => (await letterboxInput(image, v, 416, DEFAULT_KERNEL)).data)),
      scene: sceneInputs(image).input,
    });
  }
  const file = path.join(__dirname, 'label-model-worker.ts');
  const perWorker = Math.ceil(images.length / cores);
  const workerData: ModelWorkerData = {
    yoloxPath: await resolveModelFile(YOLOX_NANO, { modelsDir, allowDownload: false }),
    backbonePath: await resolveModelFile(MOBILENETV2_INT8, { modelsDir, allowDownload: false }),
    backboneOutput: spec.backboneOutput,
    prepared,
    images: perWorker,
  };
  const workers = Array.from(
    { length: cores },
    () => new Worker(file, { execArgv: ['--require', require.resolve('tsx/cjs')], workerData }),
  );
  const exited = workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
  const next = (w: Worker) =>
    new Promise<{ type: string; ms?: number }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  await Promise.all(workers.map(next));
  const done = workers.map(next);
  for (const w of workers) w.postMessage('go');
  const walls = (await Promise.all(done)).map((m) => m.ms!);
  // They end by themselves once their sessions are released (terminating a thread inside onnxruntime aborts).
  await Promise.all(exited);
  return (perWorker * cores) / (Math.max(...walls) / 1000);
}

// ---------------------------------------------------------------------------------------------------------------

async function local(images: SampleImage[]) {
  const config = loadLabelingConfig(values.concurrency ? { concurrency: positive('--concurrency', values.concurrency) } : {});
  const setup = await createLabelingSetup(config, {
    modelsDir,
    allowDownload: false,
    ...(values.workers !== undefined ? { localWorkers: positive('--workers', values.workers) } : {}),
  });
  const workers = poolOf(setup)?.size ?? 0;
  const cores = os.availableParallelism();
  const models = await loadModels();
  try {
    log(`${images.length} images in memory; ${workers} workers, ${cores} cores, concurrency ${config.concurrency}; warm-up`);
    await pipelinePass(setup, images.slice(0, WARMUP_IMAGES), config.concurrency);
    await modelPass(models, images.slice(0, 3), config.limits);

    if (values.sweep)
      return await sweep(
        setup,
        images,
        values.sweep.split(',').map((v) => positive('--sweep', v)),
      );

    const passes: PipelinePass[] = [];
    const bound: ModelPass[] = [];
    for (let i = 0; i < repeat; i++) {
      passes.push(await pipelinePass(setup, images, config.concurrency));
      bound.push(await modelPass(models, images, config.limits));
      const limit = (cores * 1000) / median(bound.at(-1)!.modelMs);
      log(
        `pass ${i + 1}/${repeat}: ${f1(passes.at(-1)!.imagesPerSecond)} images/s, limit ${f1(limit)} images/s (${pct(passes.at(-1)!.imagesPerSecond / limit)})`,
      );
    }
    const modelsOnly = median(await sequence(repeat, () => modelsOnAllCores(images, cores, config.limits)));
    const throughput = median(passes.map((p) => p.imagesPerSecond));
    const modelMs = median(bound.map((b) => median(b.modelMs)));
    const limit = (cores * 1000) / modelMs;
    const latencies = passes.flatMap((p) => p.latencies);
    const failed = passes.reduce((s, p) => s + p.failed, 0);

    console.log(
      `\nLocal pipeline: ${images.length} images, default config (local scene + YOLOX-Nano, ${bound[0]!.views} views), ${workers} workers, concurrency ${config.concurrency}, ${cores} cores, ${repeat} passes (medians)`,
    );
    table(
      ['images/s', 'p50 ms', 'p95 ms', 'limit images/s', 'ratio', 'target', 'failed'],
      [
        [
          f1(throughput),
          f1(percentile(latencies, 0.5)),
          f1(percentile(latencies, 0.95)),
          f1(limit),
          pct(throughput / limit),
          pct(LOCAL_TARGET),
          String(failed),
        ],
      ],
    );
    console.log(
      `  models alone on all ${cores} cores (session.run only, inputs prepared beforehand): ${f1(modelsOnly)} images/s = ${pct(modelsOnly / limit)} of the limit`,
    );
    console.log(
      `  limit = ${cores} cores x 1000 / ${f1(modelMs)} ms (median per-image session.run: detector ${f1(median(bound.map((b) => median(b.detectorRunMs))))} ms over ${bound[0]!.views} views + scene backbone ${f1(median(bound.map((b) => median(b.sceneRunMs))))} ms, single-threaded)`,
    );
    console.log(
      `  per pass: ${passes.map((p, i) => `${f1(p.imagesPerSecond)}/${f1((cores * 1000) / median(bound[i]!.modelMs))}`).join(', ')} images/s (pipeline/limit); ` +
        `process CPU ${f1(median(passes.map((p) => p.cpuMsPerImage)))} ms/image; ` +
        (workers ? `workers busy ${pct(median(passes.map((p) => p.workerBusy ?? 0)))}; ` : '') +
        `main event loop longest stall ${f1(median(passes.map((p) => p.eventLoopMaxMs)))} ms`,
    );

    // Means, not medians: allocation costs (page faults, garbage collection) land on some images only.
    console.log(
      `\nWhere an image's CPU time goes (single-threaded, one image in flight; mean over ${repeat} x ${images.length} images, ms)`,
    );
    const stageMean = (s: Stage) => mean(bound.flatMap((b) => b.stages[s]));
    const rows = STAGES.map((stage) => [stage, f2(stageMean(stage))]);
    const model = stageMean('detector run') + stageMean('scene run');
    const other = STAGES.filter((s) => s !== 'detector run' && s !== 'scene run').reduce((sum, s) => sum + stageMean(s), 0);
    rows.push(
      ['model (session.run)', f2(model)],
      ['everything else', f2(other)],
      ['ratio if all cores did only this work = model / (model + else)', pct(model / (model + other))],
      ['pipeline: process CPU per image (all threads)', f2(median(passes.map((p) => p.cpuMsPerImage)))],
      ['pipeline: detector session.run per image, wall time in a worker', f2(median(passes.flatMap((p) => p.detectorRunMs)))],
    );
    table(['stage', 'ms/image'], rows);
    return { throughput, limit };
  } finally {
    await models.close();
    await Promise.allSettled([setup.scene?.close?.(), setup.detector?.close?.()]);
  }
}

async function sweep(setup: LabelingSetup, images: SampleImage[], levels: number[]) {
  const rows: string[][] = [];
  for (const level of levels) {
    const passes: PipelinePass[] = [];
    for (let i = 0; i < repeat; i++) passes.push(await pipelinePass(setup, images, level));
    const latencies = passes.flatMap((p) => p.latencies);
    log(`concurrency ${level}: ${passes.map((p) => f1(p.imagesPerSecond)).join(', ')} images/s`);
    rows.push([
      String(level),
      f1(median(passes.map((p) => p.imagesPerSecond))),
      f1(percentile(latencies, 0.5)),
      f1(percentile(latencies, 0.95)),
      passes[0]!.workerBusy !== undefined ? pct(median(passes.map((p) => p.workerBusy!))) : '-',
      f1(median(passes.map((p) => p.eventLoopMaxMs))),
    ]);
  }
  console.log(`\nConcurrency sweep: ${images.length} images, ${poolOf(setup)?.size ?? 0} workers, ${repeat} passes per level (medians)`);
  table(['concurrency', 'images/s', 'p50 ms', 'p95 ms', 'workers busy', 'loop stall ms'], rows);
  return undefined;
}

async function remote(images: SampleImage[]) {
  const result = await benchRemote(images, REMOTE_RATE_PER_MINUTE, REMOTE_LATENCY_MS);
  const ratio = result.achievedPerSecond / result.allowedPerSecond;
  console.log(
    `\nRemote pipeline: ${images.length} images, simulated Foundry endpoint (${REMOTE_LATENCY_MS} ms per request, ${REMOTE_RATE_PER_MINUTE} requests/min)`,
  );
  table(
    ['achieved/s', 'allowed/s', 'ratio', 'target', 'lost', 'seconds', 'requests', '429s'],
    [
      [
        f2(result.achievedPerSecond),
        f2(result.allowedPerSecond),
        pct(ratio),
        pct(REMOTE_TARGET),
        String(result.failed),
        f1(result.seconds),
        String(result.serverRequests),
        String(result.throttled),
      ],
    ],
  );
  return { ratio, lost: result.failed };
}

function table(header: string[], rows: string[][]) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
  console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
}

(async () => {
  const images = loadSample();
  const summary: string[][] = [];
  if (!values['skip-local']) {
    const result = await local(images);
    if (result) {
      const ratio = result.throughput / result.limit;
      summary.push([
        'local',
        `${f1(result.throughput)} images/s`,
        `${f1(result.limit)} images/s (model-bound)`,
        pct(ratio),
        pct(LOCAL_TARGET),
        ratio >= LOCAL_TARGET ? 'met' : 'NOT met',
      ]);
    }
  }
  if (!values['skip-remote']) {
    const result = await remote(images);
    summary.push([
      'remote',
      '',
      `${f2(REMOTE_RATE_PER_MINUTE / 60)} images/s (allowed)`,
      pct(result.ratio),
      pct(REMOTE_TARGET),
      result.ratio >= REMOTE_TARGET && result.lost === 0 ? 'met' : `NOT met${result.lost ? ` (${result.lost} lost)` : ''}`,
    ]);
    summary[summary.length - 1]![1] = `${f2(result.ratio * (REMOTE_RATE_PER_MINUTE / 60))} images/s`;
  }
  if (summary.length) {
    console.log('\nSummary');
    table(['pipeline', 'achieved', 'limit', 'ratio', 'target', ''], summary);
  }
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
