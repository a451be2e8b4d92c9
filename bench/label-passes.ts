/**
 * The local passes of bench/label: the pipeline at full speed (images/s, latency), the same pipeline with its model
 * runs metered (where an image's CPU time goes), and session.run alone on one thread (the model-bound limit).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { LabelingConfig } from '../src/core/config/labeling-config';
import type { ImageInput } from '../src/core/pipeline/types';
import { labelImage, type LabelingSetup } from '../src/core/pipeline/label-image';
import { readImage } from '../src/adapters/image/intake';
import { DEFAULT_KERNEL, DEFAULT_TILES } from '../src/adapters/providers/detector/onnx/onnx-detector';
import { letterboxInput } from '../src/adapters/providers/detector/onnx/preprocess';
import { planViews } from '../src/adapters/providers/detector/onnx/views';
import { YoloxSession } from '../src/adapters/providers/detector/onnx/yolox-session';
import { poolOf as providerPool, type LocalModelPool } from '../src/adapters/providers/local-workers';
import { MOBILENETV2_INT8, resolveModelFile, YOLOX_NANO } from '../src/adapters/providers/models/model-files';
import { meterModelRuns, takeModelRunTime } from '../src/adapters/providers/models/run-clock';
import { createLimiter } from '../src/adapters/concurrency/limits';
import { defaultSceneModel } from '../src/adapters/providers/scene/local';
import { loadBackbone } from '../src/adapters/providers/scene/local/backbone';
import { sceneInputs, type FeatureSpec } from '../src/adapters/providers/scene/local/features';
import type { ModelWorkerData } from './label-model-worker';

export interface SampleImage {
  name: string;
  bytes: Buffer;
}

/** CPU time of the whole process (every thread: main, model workers, libuv's pool where sharp runs, GC). */
export const processCpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

export function poolOf(setup: LabelingSetup): LocalModelPool | undefined {
  return providerPool(setup.detector) ?? providerPool(setup.scene);
}

export interface PipelinePass {
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
}

/** Every image through labelImage at `concurrency` images in flight, as fast as it goes. */
export async function pipelinePass(setup: LabelingSetup, images: SampleImage[], concurrency: number, log: (m: string) => void) {
  const pool = poolOf(setup);
  const busyBefore = pool?.stats().reduce((s, w) => s + w.busyMs, 0) ?? 0;
  const limiter = createLimiter(concurrency);
  const latencies: number[] = [];
  let failed = 0;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpuStart = processCpuMs();
  const started = performance.now();
  await Promise.all(
    images.map((image) =>
      limiter.run(async () => {
        const t = performance.now();
        try {
          await labelImage(image.bytes, image.name, setup);
          latencies.push(performance.now() - t);
        } catch (error) {
          failed++;
          log(`${image.name}: ${(error as Error).message}`);
        }
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = processCpuMs() - cpuStart;
  loop.disable();
  const busy = pool ? pool.stats().reduce((s, w) => s + w.busyMs, 0) - busyBefore : undefined;
  const pass: PipelinePass = {
    seconds,
    imagesPerSecond: (images.length - failed) / seconds,
    latencies,
    failed,
    cpuMsPerImage: cpuMs / images.length,
    eventLoopMaxMs: loop.max / 1e6,
  };
  if (pool && busy !== undefined) pass.workerBusy = busy / (seconds * 1000 * pool.size);
  return pass;
}

export interface CpuSplit {
  /** Process CPU per image (every thread). */
  cpuMsPerImage: number;
  /** CPU of the threads running session.run, inside the calls, per image. */
  modelMsPerImage: number;
  /** cpuMsPerImage - modelMsPerImage: decoding, views, features, post-processing, messaging, GC. */
  nonModelMsPerImage: number;
  /** Model time as wall time inside the calls (what a preempted thread would add to the model's share). */
  modelWallMsPerImage: number;
  /** 'thread': per-thread CPU clock; 'wall': none on this platform, wall time inside session.run stands in. */
  clock: 'thread' | 'wall';
  imagesPerSecond: number;
  /** Garbage-collection pauses per image (part of nonModel): the model threads', this thread's. */
  gcMsPerImage: { workers: number; main: number };
  /**
   * nonModel split by thread (Linux; undefined elsewhere or in-process): this (main) thread; the model workers
   * outside session.run (views, packing, scene features, decoding outputs, NMS); libvips' threads (JPEG decode,
   * resizes); every other thread (libuv's pool driving sharp, V8's background GC and compiler threads).
   */
  nonModelByThread?: { main: number; workersOutsideRuns: number; libvips: number; other: number };
}

interface ThreadCpu {
  main: number;
  libvips: number;
}

/** CPU time (ms) of this process's main thread and of libvips' threads, from /proc; undefined where there is none. */
function threadCpu(): ThreadCpu | undefined {
  try {
    const totals: ThreadCpu = { main: 0, libvips: 0 };
    for (const tid of fs.readdirSync('/proc/self/task')) {
      let schedstat: string;
      let comm: string;
      try {
        schedstat = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1');
        comm = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim();
      } catch {
        continue; // the thread ended between the listing and the read
      }
      const ms = Number(schedstat.split(' ', 1)[0]) / 1e6;
      if (tid === String(process.pid)) totals.main += ms;
      else if (comm.startsWith('libvips')) totals.libvips += ms;
    }
    return totals;
  } catch {
    return undefined;
  }
}

/** Sum of the pool workers' own thread clocks (ms), or undefined when any worker has not reported one. */
function workerThreadCpu(setup: LabelingSetup): number | undefined {
  const stats = poolOf(setup)?.stats();
  if (!stats || stats.some((w) => w.restarts > 0 || w.model?.threadCpuMs === undefined)) return undefined;
  return stats.reduce((sum, w) => sum + w.model!.threadCpuMs!, 0);
}

type RunTotals = { runs: number; wallMs: number; cpuMs?: number; gcMs: number };
function modelTotals(setup: LabelingSetup): RunTotals {
  const pool = poolOf(setup);
  if (!pool) {
    const own = takeModelRunTime();
    return own;
  }
  const totals: RunTotals = { runs: 0, wallMs: 0, cpuMs: 0, gcMs: 0 };
  for (const { model } of pool.stats()) {
    if (!model) continue;
    totals.runs += model.runs;
    totals.wallMs += model.wallMs;
    totals.gcMs += model.gcMs;
    totals.cpuMs = model.cpuMs === undefined || totals.cpuMs === undefined ? undefined : totals.cpuMs + model.cpuMs;
  }
  return totals;
}

/**
 * The pipeline with every session.run metered (a setup made with meterModelRuns; in-process setups are metered on
 * this thread): nonModelMsPerImage = (process CPU over the pass - CPU of the model threads inside session.run) /
 * images. The metering sleeps 50 us around each run, so this pass is not the one images/s is read from. In-process,
 * one image at a time: with several, the awaits around their runs would overlap on the one thread and the work of
 * one image would be counted in another's run (a worker runs one job at a time, with its inputs ready before).
 */
export async function meteredPass(setup: LabelingSetup, images: SampleImage[], concurrency: number, log: (m: string) => void) {
  const inProcess = poolOf(setup) === undefined;
  if (inProcess) meterModelRuns(true);
  let mainGcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) mainGcMs += entry.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  try {
    const before = modelTotals(setup);
    const threadsBefore = threadCpu();
    const workersBefore = workerThreadCpu(setup);
    const pass = await pipelinePass(setup, images, inProcess ? 1 : concurrency, log);
    const threadsAfter = threadCpu();
    const workersAfter = workerThreadCpu(setup);
    const after = modelTotals(setup);
    gc.disconnect();
    const n = images.length;
    const thread = before.cpuMs !== undefined && after.cpuMs !== undefined;
    const modelMs = thread ? after.cpuMs! - before.cpuMs! : after.wallMs - before.wallMs;
    if (after.runs === before.runs) throw new Error('no model run was metered: is the setup made with meterModelRuns?');
    const split: CpuSplit = {
      cpuMsPerImage: pass.cpuMsPerImage,
      modelMsPerImage: modelMs / n,
      nonModelMsPerImage: pass.cpuMsPerImage - modelMs / n,
      modelWallMsPerImage: (after.wallMs - before.wallMs) / n,
      clock: thread ? 'thread' : 'wall',
      imagesPerSecond: pass.imagesPerSecond,
      gcMsPerImage: inProcess
        ? { workers: 0, main: (after.gcMs - before.gcMs) / n }
        : { workers: (after.gcMs - before.gcMs) / n, main: mainGcMs / n },
    };
    if (thread && threadsBefore && threadsAfter && workersBefore !== undefined && workersAfter !== undefined) {
      const main = (threadsAfter.main - threadsBefore.main) / n;
      const workersOutsideRuns = (workersAfter - workersBefore - modelMs) / n;
      const libvips = (threadsAfter.libvips - threadsBefore.libvips) / n;
      split.nonModelByThread = { main, workersOutsideRuns, libvips, other: split.nonModelMsPerImage - main - workersOutsideRuns - libvips };
    }
    return split;
  } finally {
    gc.disconnect();
    if (inProcess) meterModelRuns(false);
  }
}

export interface Models {
  yolox: YoloxSession;
  backbone: Awaited<ReturnType<typeof loadBackbone>>;
  close(): Promise<void>;
}

export async function loadModels(modelsDir: string): Promise<Models> {
  const yolox = await YoloxSession.create(await resolveModelFile(YOLOX_NANO, { modelsDir, allowDownload: false }), { intraOpThreads: 1 });
  const backbone = await loadBackbone(await resolveModelFile(MOBILENETV2_INT8, { modelsDir, allowDownload: false }), { threads: 1 });
  return { yolox, backbone, close: async () => void (await Promise.all([yolox.release(), backbone.close()])) };
}

/** Process CPU (every thread) per image of each preparation step of the default, alone. */
export interface PreparationCpu {
  /** The decode as intake does it. */
  decode: number;
  /** The detector's view inputs: resizes in libvips, packing into the models' float layout. */
  detectorInputs: number;
  /** The scene classifier's backbone input and image statistics. */
  sceneInputs: number;
}

/**
 * The preparation the default's outputs are a function of, each step alone over every image (one image at a time,
 * nothing else in flight, into reused buffers as the providers do): what any change would have to undercut without
 * changing a box or an attribute. Garbage collection a step sets off counts in that step.
 */
export async function preparationPass(images: SampleImage[], limits: LabelingConfig['limits']): Promise<PreparationCpu> {
  // Each decoded frame is dropped at once, as in the pipeline (holding all of them makes the collector work harder);
  // the later steps read frames decoded again, outside the clock.
  let start = processCpuMs();
  for (const { name, bytes } of images) await readImage(bytes, name, limits);
  const decode = (processCpuMs() - start) / images.length;
  const decoded: ImageInput[] = [];
  for (const { name, bytes } of images) decoded.push(await readImage(bytes, name, limits));
  const inputSize = 416;
  const buffers: Float32Array[] = [];
  start = processCpuMs();
  for (const image of decoded) {
    const views = planViews(image.width, image.height, DEFAULT_TILES, inputSize);
    while (buffers.length < views.length) buffers.push(new Float32Array(3 * inputSize * inputSize));
    await Promise.all(views.map((view, i) => letterboxInput(image, view, inputSize, DEFAULT_KERNEL, buffers[i])));
  }
  const detectorInputs = (processCpuMs() - start) / images.length;
  let sceneInput: Float32Array | undefined;
  start = processCpuMs();
  for (const image of decoded) sceneInput = sceneInputs(image, sceneInput).input;
  const scene = (processCpuMs() - start) / images.length;
  return { decode, detectorInputs, sceneInputs: scene };
}

/** Per image: session.run of the detector on each of its views plus the scene backbone's, on this thread alone. */
export async function modelPass(models: Models, images: SampleImage[], limits: LabelingConfig['limits']) {
  const spec = defaultSceneModel().params.featureSpec as FeatureSpec;
  const perImage: { detectorMs: number; sceneMs: number; views: number }[] = [];
  for (const { name, bytes } of images) {
    const image = await readImage(bytes, name, limits);
    const views = planViews(image.width, image.height, DEFAULT_TILES, models.yolox.inputSize);
    const inputs = await Promise.all(views.map((view) => letterboxInput(image, view, models.yolox.inputSize, DEFAULT_KERNEL)));
    let detectorMs = 0;
    for (const input of inputs) detectorMs += (await models.yolox.run(input.data)).ms;
    const { input } = sceneInputs(image);
    const t = performance.now();
    await models.backbone.run(input, [spec.backboneOutput]);
    perImage.push({ detectorMs, sceneMs: performance.now() - t, views: views.length });
  }
  return perImage;
}

/**
 * The models alone on every core: `cores` threads, each running session.run for its share of the images (inputs
 * prepared beforehand), all at once. What the hardware gives when it does nothing but inference; below the limit
 * when parallel runs slow each other down (shared caches, memory bandwidth).
 */
export async function modelsOnAllCores(images: SampleImage[], modelsDir: string, limits: LabelingConfig['limits']): Promise<number> {
  const cores = os.availableParallelism();
  const spec = defaultSceneModel().params.featureSpec as FeatureSpec;
  const prepared: { views: Float32Array[]; scene: Float32Array }[] = [];
  for (const { name, bytes } of images.slice(0, 6)) {
    const image = await readImage(bytes, name, limits);
    const views = planViews(image.width, image.height, DEFAULT_TILES, 416);
    prepared.push({
      views: await Promise.all(views.map(async (v) => (await letterboxInput(image, v, 416, DEFAULT_KERNEL)).data)),
      scene: sceneInputs(image).input.slice(),
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
