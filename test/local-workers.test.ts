/**
 * The local models in worker threads (src/adapters/providers/local-workers): same answers as in-process, both workers used,
 * typed errors across the thread boundary, aborts, a killed worker replaced, close() ending the threads. Real models
 * from <shared>/models, real sample images.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadLabelingConfig } from '../src/adapters/config/load-config';
import {
  BadResponseError,
  InvalidImageError,
  LabelingError,
  ProviderError,
  ProviderTimeoutError,
  ThrottledError,
} from '../src/core/pipeline/errors';
import type { DetectionResult, ImageInput, SceneResult } from '../src/core/pipeline/types';
import { readImage } from '../src/adapters/image/intake';
import { createOnnxDetector } from '../src/adapters/providers/detector/onnx/onnx-detector';
import { createLabelingSetup } from '../src/adapters/providers/factory';
import {
  createLocalWorkerProviders,
  LocalModelPool,
  poolOf,
  resolveLocalWorkers,
  type JobDone,
  type LocalWorkerProviders,
} from '../src/adapters/providers/local-workers';
import { deserializeError, serializeError } from '../src/adapters/providers/local-workers/protocol';
import { createLocalSceneClassifier } from '../src/adapters/providers/scene/local';
import { sampleImagesDir, sharedDir } from './helpers/shared';

const modelsDir = path.join(sharedDir, 'models');
const limits = { maxBytes: 20 << 20, maxPixels: 40_000_000, minSide: 32 };
const models = { modelsDir, allowDownload: false };

let images: ImageInput[];
let pooled: LocalWorkerProviders;
const jobs: JobDone[] = [];

before(async () => {
  const names = (await fs.readdir(sampleImagesDir))
    .filter((n) => n.endsWith('.jpg'))
    .sort()
    .slice(0, 4);
  images = await Promise.all(names.map(async (n) => readImage(await fs.readFile(path.join(sampleImagesDir, n)), n, limits)));
  pooled = createLocalWorkerProviders({
    workers: 2,
    detector: { config: { provider: 'onnx' }, options: models },
    scene: { options: models },
    onJobDone: (event) => jobs.push(event),
  });
});

after(async () => {
  await Promise.allSettled([pooled?.detector?.close(), pooled?.scene?.close()]);
});

describe('errors across the thread boundary', () => {
  test('every LabelingError class comes back with its class, kind, retryability and fields', () => {
    const cases: Error[] = [
      new InvalidImageError('x.jpg: not an image', { provider: 'onnx' }),
      new ThrottledError('busy', { provider: 'p', retryAfterMs: 1500, requestId: 'r1' }),
      new ProviderTimeoutError('slow', { provider: 'p' }),
      new ProviderError('broken', { provider: 'p', status: 503, requestId: 'r2' }),
      new ProviderError('bad request', { provider: 'p', status: 400 }),
      new ProviderError('inference failed', { provider: 'onnx', retryable: false }),
      new BadResponseError('garbled', { provider: 'p', requestId: 'r3' }),
      new LabelingError('config', 'no model', { retryable: false, provider: 'local' }),
    ];
    for (const original of cases) {
      // structuredClone is what postMessage does to the serialised form.
      const back = deserializeError(structuredClone(serializeError(original)), 'fallback') as LabelingError;
      assert.equal(back.constructor, original.constructor, original.name);
      for (const key of ['name', 'message', 'kind', 'retryable', 'provider', 'status', 'requestId', 'retryAfterMs'] as const) {
        assert.equal(
          (back as unknown as Record<string, unknown>)[key],
          (original as unknown as Record<string, unknown>)[key],
          `${original.name}.${key}`,
        );
      }
    }
    const plain = deserializeError(structuredClone(serializeError(new TypeError('oops'))), 'onnx');
    assert.ok(!(plain instanceof LabelingError));
    assert.deepEqual([plain.name, plain.message], ['TypeError', 'oops']);
  });
});

describe('local models in worker threads', () => {
  test('give the same boxes and scene answers as the in-process providers', async () => {
    const detector = createOnnxDetector({ provider: 'onnx' }, models);
    const scene = createLocalSceneClassifier(models);
    try {
      for (const image of images) {
        const [inWorker, inProcess] = await Promise.all([pooled.detector!.detect(image), detector.detect(image)]);
        assert.equal(inWorker.boxes.length, inProcess.boxes.length, image.name);
        assert.ok(inWorker.boxes.length > 0);
        inWorker.boxes.forEach((box, i) => {
          const other = inProcess.boxes[i]!;
          assert.equal(box.category, other.category);
          assert.equal(box.sourceCategory, other.sourceCategory);
          assert.ok(Math.abs(box.score - other.score) < 1e-6, `${image.name} box ${i} score`);
          for (const k of ['x1', 'y1', 'x2', 'y2'] as const)
            assert.ok(Math.abs(box.box2d[k] - other.box2d[k]) < 1e-6, `${image.name} box ${i} ${k}`);
        });
        assert.deepEqual(inWorker.unmapped, inProcess.unmapped);
        assert.equal(inWorker.details?.['views'], 5);

        const [sceneWorker, sceneProcess] = await Promise.all([pooled.scene!.classify(image), scene.classify(image)]);
        assert.deepEqual(sceneWorker.attributes, sceneProcess.attributes, image.name);
        for (const name of ['weather', 'timeofday', 'scene'] as const)
          assert.ok(Math.abs(sceneWorker.confidence[name] - sceneProcess.confidence[name]) < 1e-6);
      }
      assert.deepEqual(pooled.detector!.model, detector.model);
      assert.deepEqual(pooled.scene!.model, scene.model);
    } finally {
      await Promise.all([detector.close(), scene.close()]);
    }
  });

  test('two images in flight run on both workers at once, off the main thread', async () => {
    // Workers start when first needed: make sure both have started and loaded their sessions.
    await Promise.all(images.slice(0, 2).map((image) => pooled.detector!.detect(image)));
    jobs.length = 0;
    const started = performance.now();
    await Promise.all(images.slice(0, 2).map((image) => pooled.detector!.detect(image)));
    const wall = performance.now() - started;
    assert.deepEqual(jobs.map((j) => j.worker).sort(), [0, 1], 'one image per worker');
    // Both ran at the same time: together they took less wall time than one after the other.
    const sequential = jobs.reduce((sum, j) => sum + j.ms, 0);
    assert.ok(wall < sequential, `wall ${wall.toFixed(0)} ms, jobs ${jobs.map((j) => j.ms.toFixed(0)).join(' + ')} ms`);
    const threads = pooled.pool.threadIds();
    assert.equal(new Set(threads).size, 2);
    assert.ok(
      threads.every((id) => id !== undefined && id !== 0),
      'thread 0 is the main thread',
    );
  });

  test('typed errors from inside a worker: bad pixels, missing models', async () => {
    const image = images[0]!;
    const broken = { ...image, width: image.width + 1 };
    await assert.rejects(pooled.detector!.detect(broken), (error: unknown) => {
      assert.ok(error instanceof InvalidImageError, String(error));
      assert.equal(error.kind, 'invalid-image');
      assert.equal(error.retryable, false);
      assert.equal(error.provider, 'onnx');
      assert.match(error.message, /rgb holds \d+ bytes, expected 1281x720x3/);
      return true;
    });
    await assert.rejects(
      pooled.scene!.classify(broken),
      (error: unknown) => error instanceof InvalidImageError && error.provider === 'local',
    );

    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'autolabel-workers-'));
    const missing = createLocalWorkerProviders({
      workers: 1,
      scene: { options: { modelsDir: path.join(empty, 'nowhere'), allowDownload: false, cacheDir: empty, env: {} } },
    });
    try {
      await assert.rejects(missing.scene!.classify(image), (error: unknown) => {
        assert.ok(error instanceof LabelingError && error.kind === 'config' && !error.retryable, String(error));
        assert.match(error.message, /models directory .*nowhere does not exist/);
        return true;
      });
    } finally {
      await missing.scene!.close();
      await fs.rm(empty, { recursive: true, force: true });
    }
  });

  test('aborting a call rejects it at once, whether it waits in the queue or runs', async () => {
    const busy = images.map((image) => pooled.detector!.detect(image)); // 4 jobs: both workers busy, 2 queued
    const queued = new AbortController();
    const running = new AbortController();
    const waiting = pooled.detector!.detect(images[0]!, { signal: queued.signal });
    queued.abort(new Error('not needed any more'));
    await assert.rejects(waiting, /not needed any more/);
    assert.equal(
      pooled.pool.stats().reduce((n, w) => n + (w.running ? 1 : 0), 0),
      2,
      'the workers are still busy with the earlier images',
    );

    await Promise.all(busy);
    jobs.length = 0;
    const call = pooled.detector!.detect(images[1]!, { signal: running.signal });
    await new Promise((resolve) => setTimeout(resolve, 5));
    running.abort(new Error('stop'));
    await assert.rejects(call, /stop/);
    assert.equal(jobs.length, 0, 'rejected before its worker finished');
    // The pool still works afterwards.
    assert.ok((await pooled.detector!.detect(images[2]!)).boxes.length > 0);
  });

  test('a killed worker fails its image with a retryable ProviderError and is replaced', async () => {
    // An aborted job keeps its worker busy until it stops: wait until both are idle, so that worker 0 takes the next job.
    for (let waited = 0; pooled.pool.stats().some((w) => w.running) && waited < 5000; waited += 10)
      await new Promise((r) => setTimeout(r, 10));
    const before = pooled.pool.stats()[0]!.restarts;
    pooled.pool.crashWorkerOnNextJob(0);
    const victim = pooled.detector!.detect(images[0]!); // both workers idle: the first one (0) takes it
    const other = pooled.scene!.classify(images[1]!);
    await assert.rejects(victim, (error: unknown) => {
      assert.ok(error instanceof ProviderError, String(error));
      assert.equal(error.retryable, true);
      assert.equal(error.provider, 'onnx');
      assert.match(error.message, /worker stopped \(exit code 70\) while working on .*; it was replaced/);
      return true;
    });
    assert.ok((await other).attributes.timeofday);
    assert.equal(pooled.pool.stats()[0]!.restarts, before + 1);
    // The replacement (with sessions of its own) serves the next images.
    const again: DetectionResult[] = await Promise.all(images.slice(0, 2).map((image) => pooled.detector!.detect(image)));
    assert.ok(again.every((r) => r.boxes.length > 0));
  });

  test('a worker that cannot start fails its calls with a config error, not a retryable one', async () => {
    // Parameters the main thread would have refused: here only the worker sees them.
    const broken = new LocalModelPool({ size: 1, setup: { scene: { options: { ...models, params: { format: 'nonsense' } } } } });
    try {
      await assert.rejects(broken.run('classify', images[0]!), (error: unknown) => {
        assert.ok(error instanceof LabelingError && error.kind === 'config' && !error.retryable, String(error));
        assert.match(error.message, /local model worker could not start: local scene classifier: invalid parameters/);
        return true;
      });
      assert.equal(broken.stats()[0]!.restarts, 0, 'not counted as a crash');
    } finally {
      await broken.close();
    }
  });

  test('close() finishes accepted calls, ends the threads; later calls fail', async () => {
    const own = createLocalWorkerProviders({
      workers: 2,
      detector: { config: { provider: 'onnx', tiling: false }, options: models },
      scene: { options: models },
    });
    const inFlight: Promise<DetectionResult | SceneResult>[] = [own.detector!.detect(images[0]!), own.scene!.classify(images[0]!)];
    await own.detector!.close();
    await assert.rejects(own.detector!.detect(images[0]!), /after close/);
    assert.ok(
      own.pool.threadIds().some((id) => id !== undefined),
      'the scene classifier is still open',
    );
    await own.scene!.close();
    const settled = await Promise.allSettled(inFlight);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled'],
    );
    assert.deepEqual(own.pool.threadIds(), [undefined, undefined]);
    await assert.rejects(own.scene!.classify(images[0]!), /after close/);
  });

  test('a process that labels an image and closes the setup exits by itself', () => {
    const script = `
      const { createLabelingSetup } = require('./src/adapters/providers/factory');
      const { loadLabelingConfig } = require('./src/adapters/config/load-config');
      const { labelImage } = require('./src/core/pipeline/label-image');
      const fs = require('node:fs');
      (async () => {
        const setup = await createLabelingSetup(loadLabelingConfig({ detector: { provider: 'onnx', tiling: false } }), { modelsDir: ${JSON.stringify(modelsDir)}, allowDownload: false, localWorkers: 2 });
        const { frame } = await labelImage(fs.readFileSync(${JSON.stringify(path.join(sampleImagesDir, images[0]!.name))}), 'a.jpg', setup);
        await Promise.all([setup.scene.close(), setup.detector.close()]);
        console.log('labeled', frame.labels.length > 0);
      })();`;
    const child = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', script], {
      cwd: path.resolve(__dirname, '..'),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(child.error, undefined, 'did not exit within 30 s');
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /labeled true/);
  });
});

describe('warm-up and metering', () => {
  test('the workers start and load their models at once, before any job, and warm() can be awaited', async () => {
    const own = createLocalWorkerProviders({
      workers: 2,
      detector: { config: { provider: 'onnx' }, options: models },
      scene: { options: models },
    });
    try {
      assert.ok(
        own.pool.threadIds().every((id) => id !== undefined),
        'both workers started by creating the providers',
      );
      await own.pool.warm();
      assert.deepEqual(
        own.pool.stats().map((w) => w.jobs),
        [0, 0],
        'warming is not a job',
      );
      const [boxes, scene] = await Promise.all([own.detector!.detect(images[0]!), own.scene!.classify(images[0]!)]);
      assert.ok(boxes.boxes.length > 0 && scene.attributes.timeofday);
    } finally {
      await Promise.all([own.detector!.close(), own.scene!.close()]);
    }
  });

  test('metered workers report the time of every session.run; others report none', async () => {
    const metered = createLocalWorkerProviders({
      workers: 1,
      detector: { config: { provider: 'onnx' }, options: models },
      scene: { options: models },
      meterModelRuns: true,
    });
    try {
      for (const image of images.slice(0, 2)) await Promise.all([metered.detector!.detect(image), metered.scene!.classify(image)]);
      const model = metered.pool.stats()[0]!.model!;
      assert.equal(model.runs, 2 * (5 + 1), 'five detector views and one backbone run per image');
      assert.ok(model.wallMs > 0);
      if (process.platform === 'linux') {
        assert.ok(model.cpuMs !== undefined && model.cpuMs > 0, `cpu ${model.cpuMs}`);
        // The thread's CPU inside the runs cannot exceed the time they took (the clock reads add ~0.1 ms a run).
        assert.ok(model.cpuMs <= model.wallMs + 0.5 * model.runs, `cpu ${model.cpuMs} ms, wall ${model.wallMs} ms`);
      }
    } finally {
      await Promise.all([metered.detector!.close(), metered.scene!.close()]);
    }
    assert.equal(pooled.pool.stats()[0]!.model, undefined, 'the unmetered pool');
  });
});

describe('the factory', () => {
  test('runs local models in workers by default, in-process with 0 workers', async () => {
    const config = loadLabelingConfig({});
    const workers = await createLabelingSetup(config, { ...models, localWorkers: 2 });
    const inProcess = await createLabelingSetup(config, { ...models, localWorkers: 0 });
    try {
      assert.equal(poolOf(workers.detector)?.size, 2);
      assert.equal(poolOf(workers.detector), poolOf(workers.scene), 'one pool for both models');
      assert.equal(poolOf(inProcess.detector), undefined);
      assert.equal(workers.configHash, inProcess.configHash, 'workers change how fast, not what');
      assert.deepEqual(workers.detector!.model, inProcess.detector!.model);
    } finally {
      await Promise.all([workers.scene?.close?.(), workers.detector?.close?.(), inProcess.scene?.close?.(), inProcess.detector?.close?.()]);
    }
    assert.equal(resolveLocalWorkers(undefined, { AUTOLABEL_LOCAL_WORKERS: '3' }), 3);
    assert.equal(resolveLocalWorkers(undefined, {}), os.availableParallelism());
    assert.equal(resolveLocalWorkers(0, { AUTOLABEL_LOCAL_WORKERS: '3' }), 0);
    assert.throws(
      () => resolveLocalWorkers(undefined, { AUTOLABEL_LOCAL_WORKERS: 'many' }),
      (e: unknown) => e instanceof LabelingError && e.kind === 'config' && /AUTOLABEL_LOCAL_WORKERS/.test(e.message),
    );
    assert.throws(() => resolveLocalWorkers(1.5), /localWorkers/);
  });
});
