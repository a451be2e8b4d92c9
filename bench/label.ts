/**
 * bench/label: how fast the labeling pipeline and `autolabel label` run on the 60-image BDD100K sample
 * (../shared/bdd100k-sample), local and remote. Run by hand, not by tests:
 *
 *   npm run bench:label                          # the tables below (3 passes, medians)
 *   npm run bench:label -- --json out/label.json # also the figures as JSON
 *   npm run bench:label -- --repeat 5            # more passes
 *   npm run bench:label -- --sweep 1,2,3,4,6,8   # local throughput and latency per image concurrency
 *   --workers N (default: the factory's, one per core)  --concurrency N (default: the config's)
 *   --skip-remote  --skip-local  --skip-cli
 *
 * Local, every pass on the same 60 images with the default config (local scene classifier + YOLOX-Nano over 5 views,
 * models from shared/models), one after the other so that load on a shared machine falls on all of them:
 * - pipeline: the images are read into memory first; labelImage on all of them at the config's concurrency.
 *   images/s and per-image latency.
 * - CPU split: the same with every session.run metered (a second setup, metering costs two 50 us sleeps per run):
 *   cpu = process CPU time over the pass (every thread: main, model workers, libuv's pool where sharp decodes and
 *   resizes, GC) / images; model = CPU time of the worker threads inside session.run / images (per-thread clock,
 *   src/adapters/providers/models/run-clock.ts); nonModel = cpu - model: decoding, views, scene features,
 *   post-processing, messaging, garbage collection. Target: nonModel <= 25 ms. Beside it, the preparation the default's
 *   outputs are a function of, each step measured alone (model-bound pass below): the decode and the detector's view
 *   inputs, which no change may touch without changing the boxes, and the scene inputs (bench/label-passes.ts,
 *   preparationPass).
 * - cli: `autolabel label <images> --out <tmp> --models-dir <models>` in a child process (bench/label-cli.ts says
 *   why), cold: it builds its own worker pool and loads the models (reported apart, before its labeling starts).
 *   images/s as the command reports it: labeled images / its labeling time (run.json: first image to the summary
 *   files, overlays and label files included); the whole command's rate besides. Target: cli >= 90% of the
 *   pipeline's rate.
 * - model-bound (information): session.run alone on one thread; cores x 1000 / per-image model time is what the
 *   models alone would allow with every core running them, and a pass with one thread per core doing only that
 *   shows whether the cores scale.
 *
 * Remote: bench/label-remote.ts (a simulated Foundry endpoint, 300 ms per request, 300 requests/min): achieved rate
 * against the allowed one (target 90%) and images lost.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadLabelingConfig } from '../src/adapters/config/load-config';
import type { LabelingSetup } from '../src/core/pipeline/label-image';
import { createLabelingSetup } from '../src/adapters/providers/factory';
import { benchRemote } from './label-remote';
import { runCli, type CliRun } from './label-cli';
import {
  loadModels,
  meteredPass,
  modelPass,
  modelsOnAllCores,
  pipelinePass,
  preparationPass,
  type PreparationCpu,
  poolOf,
  type CpuSplit,
  type PipelinePass,
  type SampleImage,
} from './label-passes';

const repo = path.resolve(__dirname, '..');
const shared = path.resolve(process.env.AUTOLABEL_SHARED_DIR ?? path.join(repo, '..', 'shared'));
const imagesDir = path.join(shared, 'bdd100k-sample', 'images');
const modelsDir = path.join(shared, 'models');

const NON_MODEL_TARGET_MS = 25;
const CLI_TARGET = 0.9;
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
    json: { type: 'string' },
    'skip-remote': { type: 'boolean', default: false },
    'skip-local': { type: 'boolean', default: false },
    'skip-cli': { type: 'boolean', default: false },
  },
});
const repeat = positive('--repeat', values.repeat);
const workersFlag = values.workers !== undefined ? positive('--workers', values.workers) : undefined;
const concurrencyFlag = values.concurrency !== undefined ? positive('--concurrency', values.concurrency) : undefined;
const log = (message: string) => process.stderr.write(`[bench:label] ${message}\n`);

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a whole number, got ${value}`);
  return n;
}

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
const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);
const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

function loadSample(): SampleImage[] {
  const names = fs
    .readdirSync(imagesDir)
    .filter((n) => /\.(jpe?g|png)$/i.test(n))
    .sort();
  return names.map((name) => ({ name, bytes: fs.readFileSync(path.join(imagesDir, name)) }));
}

function table(header: string[], rows: string[][]) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
  console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
}

interface LocalResult {
  pipeline: { imagesPerSecond: number; modelMsPerImage: number; nonModelMsPerImage: number } & Record<string, unknown>;
  cli?: { imagesPerSecond: number } & Record<string, unknown>;
  modelBound: Record<string, unknown>;
}

async function close(setup: LabelingSetup) {
  await Promise.allSettled([setup.scene?.close?.(), setup.detector?.close?.()]);
}

async function local(images: SampleImage[]): Promise<LocalResult | undefined> {
  const config = loadLabelingConfig(concurrencyFlag !== undefined ? { concurrency: concurrencyFlag } : {});
  const setupOptions = { modelsDir, allowDownload: false, ...(workersFlag !== undefined ? { localWorkers: workersFlag } : {}) };
  const setup = await createLabelingSetup(config, setupOptions);
  const metered = await createLabelingSetup(config, { ...setupOptions, meterModelRuns: true });
  const workers = poolOf(setup)?.size ?? 0;
  const cores = os.availableParallelism();
  const models = await loadModels(modelsDir);
  try {
    log(`${images.length} images in memory; ${workers} workers, ${cores} cores, concurrency ${config.concurrency}; warm-up`);
    await pipelinePass(setup, images.slice(0, WARMUP_IMAGES), config.concurrency, log);
    await meteredPass(metered, images.slice(0, WARMUP_IMAGES), config.concurrency, log);
    await modelPass(models, images.slice(0, 3), config.limits);

    if (values.sweep) {
      await sweep(
        setup,
        images,
        values.sweep.split(',').map((v) => positive('--sweep', v)),
      );
      return undefined;
    }

    const passes: PipelinePass[] = [];
    const splits: CpuSplit[] = [];
    const clis: CliRun[] = [];
    const modelMs: number[] = [];
    const detectorMs: number[] = [];
    const sceneMs: number[] = [];
    const preparation: PreparationCpu[] = [];
    let views = 0;
    for (let i = 0; i < repeat; i++) {
      passes.push(await pipelinePass(setup, images, config.concurrency, log));
      if (!values['skip-cli']) {
        clis.push(
          await runCli({
            imagesDir,
            modelsDir,
            ...(workersFlag !== undefined ? { workers: workersFlag } : {}),
            ...(concurrencyFlag !== undefined ? { concurrency: concurrencyFlag } : {}),
          }),
        );
      }
      splits.push(await meteredPass(metered, images, config.concurrency, log));
      const bound = await modelPass(models, images, config.limits);
      views = bound[0]!.views;
      modelMs.push(median(bound.map((b) => b.detectorMs + b.sceneMs)));
      detectorMs.push(median(bound.map((b) => b.detectorMs)));
      sceneMs.push(median(bound.map((b) => b.sceneMs)));
      preparation.push(await preparationPass(images, config.limits));
      const split = splits.at(-1)!;
      log(
        `pass ${i + 1}/${repeat}: pipeline ${f1(passes.at(-1)!.imagesPerSecond)} images/s` +
          (clis.length ? `, cli ${f1(clis.at(-1)!.imagesPerSecond)} images/s` : '') +
          `; CPU per image ${f1(split.cpuMsPerImage)} ms = model ${f1(split.modelMsPerImage)} + other ${f1(split.nonModelMsPerImage)}`,
      );
    }
    const modelsOnly = await modelsOnAllCores(images, modelsDir, config.limits);

    const throughput = median(passes.map((p) => p.imagesPerSecond));
    const latencies = passes.flatMap((p) => p.latencies);
    const failed = passes.reduce((s, p) => s + p.failed, 0);
    const split = {
      cpu: median(splits.map((s) => s.cpuMsPerImage)),
      model: median(splits.map((s) => s.modelMsPerImage)),
      nonModel: median(splits.map((s) => s.nonModelMsPerImage)),
      modelWall: median(splits.map((s) => s.modelWallMsPerImage)),
      gcWorkers: median(splits.map((s) => s.gcMsPerImage.workers)),
      gcMain: median(splits.map((s) => s.gcMsPerImage.main)),
      byThread: splits.every((s) => s.nonModelByThread)
        ? {
            main: median(splits.map((s) => s.nonModelByThread!.main)),
            workersOutsideRuns: median(splits.map((s) => s.nonModelByThread!.workersOutsideRuns)),
            libvips: median(splits.map((s) => s.nonModelByThread!.libvips)),
            other: median(splits.map((s) => s.nonModelByThread!.other)),
          }
        : undefined,
    };
    const clock = splits[0]!.clock;
    const prep = {
      decode: median(preparation.map((p) => p.decode)),
      detectorInputs: median(preparation.map((p) => p.detectorInputs)),
      sceneInputs: median(preparation.map((p) => p.sceneInputs)),
    };
    const floor = prep.decode + prep.detectorInputs;
    const boundMs = median(modelMs);
    const limit = (cores * 1000) / boundMs;

    console.log(
      `\nLocal pipeline: ${images.length} images, default config (local scene + YOLOX-Nano, ${views} views), ${workers} workers, concurrency ${config.concurrency}, ${cores} cores, ${repeat} passes (medians)`,
    );
    table(
      ['images/s', 'p50 ms', 'p95 ms', 'CPU ms/image', 'model', 'non-model', 'target', '', 'failed'],
      [
        [
          f1(throughput),
          f1(percentile(latencies, 0.5)),
          f1(percentile(latencies, 0.95)),
          f1(split.cpu),
          f1(split.model),
          f1(split.nonModel),
          `<= ${NON_MODEL_TARGET_MS}`,
          split.nonModel <= NON_MODEL_TARGET_MS ? 'met' : 'NOT met',
          String(failed),
        ],
      ],
    );
    console.log(
      `  CPU ms/image: process CPU (all threads) per image in the metered passes; model: CPU of the worker threads inside session.run ` +
        `(${clock === 'thread' ? 'per-thread clock' : 'no per-thread clock here: wall time inside session.run'}; wall ${f1(split.modelWall)} ms); ` +
        `non-model = the rest, of which garbage-collection pauses ${f1(split.gcWorkers)} ms in the workers, ${f1(split.gcMain)} ms on the main thread`,
    );
    if (split.byThread) {
      const t = split.byThread;
      console.log(
        `  non-model by thread: model workers outside session.run ${f1(t.workersOutsideRuns)} ms (views, packing, scene features, ` +
          `outputs, NMS) + libvips ${f1(t.libvips)} ms (JPEG decode, resizes) + main thread ${f1(t.main)} ms + other threads ` +
          `${f1(t.other)} ms (libuv's pool driving sharp, V8's background GC and compiler)`,
      );
    }
    console.log(
      `  preparation alone (process CPU, each step over every image, one at a time, outputs as the default's): decode ${f1(prep.decode)} ms + ` +
        `detector inputs ${f1(prep.detectorInputs)} ms (${views} views: the resizes in libvips, the packing) = ${f1(floor)} ms, ` +
        `${pct(floor / NON_MODEL_TARGET_MS)} of the ${NON_MODEL_TARGET_MS} ms target before the scene inputs (${f1(prep.sceneInputs)} ms), ` +
        `outputs, NMS, messaging and garbage collection`,
    );
    console.log(
      `  per pass: pipeline ${passes.map((p) => f1(p.imagesPerSecond)).join(', ')} images/s; non-model ${splits.map((s) => f1(s.nonModelMsPerImage)).join(', ')} ms; ` +
        (workers ? `workers busy ${pct(median(passes.map((p) => p.workerBusy ?? 0)))}; ` : '') +
        `main event loop longest stall ${f1(median(passes.map((p) => p.eventLoopMaxMs)))} ms`,
    );
    console.log(
      `  model-bound (information): ${cores} cores x 1000 / ${f1(boundMs)} ms (median per-image session.run on one thread: detector ${f1(median(detectorMs))} ms over ${views} views + scene ${f1(median(sceneMs))} ms) = ${f1(limit)} images/s; ` +
        `the pipeline runs at ${pct(throughput / limit)} of it; the models alone on all ${cores} cores: ${f1(modelsOnly)} images/s`,
    );

    let cli: LocalResult['cli'];
    if (clis.length) {
      const cliRate = median(clis.map((c) => c.imagesPerSecond));
      const commandRate = median(clis.map((c) => c.images / c.commandSeconds));
      const ratio = cliRate / throughput;
      console.log(
        `\nautolabel label on the same ${images.length} images (child process, cold: own worker pool and model loading; medians)`,
      );
      table(
        ['images/s', 'whole command images/s', 'of the pipeline', 'target', '', 'command CPU ms/image', 'failed'],
        [
          [
            f1(cliRate),
            f1(commandRate),
            pct(ratio),
            pct(CLI_TARGET),
            ratio >= CLI_TARGET ? 'met' : 'NOT met',
            f1(median(clis.map((c) => c.cpuMsPerImage))),
            String(clis.reduce((s, c) => s + c.failed, 0)),
          ],
        ],
      );
      console.log(
        `  per pass: ${clis.map((c, i) => `${f1(c.imagesPerSecond)}/${f1(passes[i]!.imagesPerSecond)}`).join(', ')} images/s (cli/pipeline)`,
      );
      cli = {
        imagesPerSecond: round(cliRate),
        commandImagesPerSecond: round(commandRate),
        ratioToPipeline: round(ratio, 3),
        cpuMsPerImage: round(median(clis.map((c) => c.cpuMsPerImage))),
        failed: clis.reduce((s, c) => s + c.failed, 0),
        passes: clis.map((c) => ({ imagesPerSecond: round(c.imagesPerSecond), commandSeconds: round(c.commandSeconds, 3) })),
      };
    }
    return {
      pipeline: {
        imagesPerSecond: round(throughput),
        modelMsPerImage: round(split.model),
        nonModelMsPerImage: round(split.nonModel),
        cpuMsPerImage: round(split.cpu),
        modelWallMsPerImage: round(split.modelWall),
        gcPauseMsPerImage: { workers: round(split.gcWorkers), main: round(split.gcMain) },
        ...(split.byThread
          ? {
              nonModelByThreadMsPerImage: {
                workersOutsideRuns: round(split.byThread.workersOutsideRuns),
                libvips: round(split.byThread.libvips),
                main: round(split.byThread.main),
                other: round(split.byThread.other),
              },
            }
          : {}),
        preparationAloneCpuMsPerImage: {
          decode: round(prep.decode),
          detectorInputs: round(prep.detectorInputs),
          sceneInputs: round(prep.sceneInputs),
        },
        clock,
        p50Ms: round(percentile(latencies, 0.5), 1),
        p95Ms: round(percentile(latencies, 0.95), 1),
        failed,
        passes: passes.map((p, i) => ({
          imagesPerSecond: round(p.imagesPerSecond),
          nonModelMsPerImage: round(splits[i]!.nonModelMsPerImage),
        })),
      },
      ...(cli ? { cli } : {}),
      modelBound: {
        modelMsPerImage: round(boundMs),
        detectorMsPerImage: round(median(detectorMs)),
        sceneMsPerImage: round(median(sceneMs)),
        limitImagesPerSecond: round(limit),
        modelsAloneOnAllCoresImagesPerSecond: round(modelsOnly),
      },
    };
  } finally {
    await models.close();
    await Promise.all([close(setup), close(metered)]);
  }
}

async function sweep(setup: LabelingSetup, images: SampleImage[], levels: number[]) {
  const rows: string[][] = [];
  for (const level of levels) {
    const passes: PipelinePass[] = [];
    for (let i = 0; i < repeat; i++) passes.push(await pipelinePass(setup, images, level, log));
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
  return { ratio, lost: result.failed, achievedPerSecond: result.achievedPerSecond, allowedPerSecond: result.allowedPerSecond };
}

(async () => {
  const images = loadSample();
  const json: Record<string, unknown> = {
    images: images.length,
    cores: os.availableParallelism(),
    repeat,
    measuredAt: new Date().toISOString(),
  };
  const summary: string[][] = [];
  if (!values['skip-local']) {
    const result = await local(images);
    if (result) {
      Object.assign(json, result);
      const { pipeline, cli } = result;
      summary.push([
        'local: CPU outside session.run',
        `${f1(pipeline.nonModelMsPerImage)} ms/image`,
        `<= ${NON_MODEL_TARGET_MS} ms/image`,
        pipeline.nonModelMsPerImage <= NON_MODEL_TARGET_MS ? 'met' : 'NOT met',
      ]);
      if (cli) {
        const ratio = cli.imagesPerSecond / pipeline.imagesPerSecond;
        summary.push([
          'local: autolabel label vs pipeline',
          `${f1(cli.imagesPerSecond)} vs ${f1(pipeline.imagesPerSecond)} images/s (${pct(ratio)})`,
          `>= ${pct(CLI_TARGET)}`,
          ratio >= CLI_TARGET ? 'met' : 'NOT met',
        ]);
      }
    }
  }
  if (!values['skip-remote']) {
    const result = await remote(images);
    json.remote = {
      achievedPerSecond: round(result.achievedPerSecond),
      allowedPerSecond: round(result.allowedPerSecond),
      lost: result.lost,
    };
    summary.push([
      'remote: achieved vs allowed rate',
      `${f2(result.achievedPerSecond)} vs ${f2(result.allowedPerSecond)} images/s (${pct(result.ratio)})`,
      `>= ${pct(REMOTE_TARGET)}, none lost`,
      result.ratio >= REMOTE_TARGET && result.lost === 0 ? 'met' : `NOT met${result.lost ? ` (${result.lost} lost)` : ''}`,
    ]);
  }
  if (summary.length) {
    console.log('\nSummary');
    table(['measure', 'achieved', 'target', ''], summary);
  }
  if (values.json) {
    fs.mkdirSync(path.dirname(path.resolve(values.json)), { recursive: true });
    fs.writeFileSync(values.json, JSON.stringify(json, null, 2) + '\n');
    log(`wrote ${values.json}`);
  }
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
