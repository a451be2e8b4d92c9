/**
 * The local providers (YOLOX-Nano detector, local scene classifier) run in a pool of worker threads: the same
 * Detector / SceneClassifier interfaces, the same results as the in-process implementations (the workers run that
 * very code), but inference uses every core and never blocks the caller's event loop.
 */
import os from 'node:os';
import { LabelingError } from '../../../core/pipeline/errors';
import type {
  CallOptions,
  DetectionResult,
  Detector,
  ImageInput,
  ModelInfo,
  SceneClassifier,
  SceneResult,
} from '../../../core/pipeline/types';
import { createLimiter } from '../../concurrency/limits';
import { createOnnxDetector, type OnnxDetectorConfigInput } from '../detector/onnx/onnx-detector';
import { createLocalSceneClassifier } from '../scene/local/local-scene';
import { LocalModelPool, type JobDone, type WorkerStats } from './pool';
import type { WorkerDetectorOptions, WorkerSceneOptions } from './protocol';

export { LocalModelPool, type JobDone, type WorkerStats } from './pool';

/** Environment variable that sets the worker count when the caller does not (0: run the models in-process). */
export const LOCAL_WORKERS_ENV = 'AUTOLABEL_LOCAL_WORKERS';

/**
 * Worker threads for local models: the explicit value, else AUTOLABEL_LOCAL_WORKERS, else one per core the process
 * may use (os.availableParallelism()). 0 means in-process (no workers).
 */
export function resolveLocalWorkers(value: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = env[LOCAL_WORKERS_ENV];
  const chosen = value ?? (fromEnv !== undefined && fromEnv.trim() !== '' ? Number(fromEnv) : os.availableParallelism());
  if (!Number.isInteger(chosen) || chosen < 0 || chosen > 256) {
    const source = value !== undefined ? 'localWorkers' : LOCAL_WORKERS_ENV;
    throw new LabelingError('config', `${source} must be a whole number from 0 to 256, got ${value ?? fromEnv}`, { retryable: false });
  }
  return chosen;
}

export interface PooledDetector extends Detector {
  close(): Promise<void>;
  /** The pool it runs in (shared with the scene classifier of the same setup). */
  readonly pool: LocalModelPool;
}

export interface PooledSceneClassifier extends SceneClassifier {
  close(): Promise<void>;
  readonly pool: LocalModelPool;
}

/** The worker pool a provider runs in, if it is a pooled local provider. */
export function poolOf(provider: Detector | SceneClassifier | undefined): LocalModelPool | undefined {
  const pool = (provider as { pool?: unknown } | undefined)?.pool;
  return pool instanceof LocalModelPool ? pool : undefined;
}

export interface LocalWorkerProvidersOptions {
  workers: number;
  detector?: { config: OnnxDetectorConfigInput; options?: WorkerDetectorOptions };
  scene?: { options?: WorkerSceneOptions };
  onJobDone?: (event: JobDone) => void;
  /** Benchmarks: each worker times its session.run calls (WorkerStats.model). */
  meterModelRuns?: boolean;
}

export interface LocalWorkerProviders {
  detector?: PooledDetector;
  scene?: PooledSceneClassifier;
  /** Shared by both; ended when both providers are closed. */
  pool: LocalModelPool;
  stats(): WorkerStats[];
}

/**
 * One pool for the local detector and scene classifier. Configs are validated here, on the calling thread, with the
 * same typed errors as the in-process factories (the in-process providers built for that load nothing: their
 * sessions are lazy). The workers start at once and load their own sessions (LocalModelPool.warm), while the caller
 * gets its first images ready.
 */
export function createLocalWorkerProviders(options: LocalWorkerProvidersOptions): LocalWorkerProviders {
  // Validation and model identity, from the very code the workers run.
  const detectorInfo = options.detector ? createOnnxDetector(options.detector.config, options.detector.options ?? {}) : undefined;
  const sceneInfo = options.scene ? createLocalSceneClassifier(options.scene.options ?? {}) : undefined;
  // process.env is not a plain object: give the workers a copy of what they were given.
  const cloneable = <T extends { env?: NodeJS.ProcessEnv }>(o: T | undefined): T =>
    o?.env ? { ...o, env: { ...o.env } } : { ...(o ?? ({} as T)) };
  const pool = new LocalModelPool({
    size: options.workers,
    setup: {
      ...(options.detector ? { detector: { config: options.detector.config, options: cloneable(options.detector.options) } } : {}),
      ...(options.scene ? { scene: { options: cloneable(options.scene.options) } } : {}),
      ...(options.meterModelRuns ? { meterModelRuns: true } : {}),
    },
    ...(options.onJobDone ? { onJobDone: options.onJobDone } : {}),
  });
  let open = (detectorInfo ? 1 : 0) + (sceneInfo ? 1 : 0);
  const release = async () => {
    if (--open === 0) await pool.close();
  };

  // Like the in-process providers: calls after close() fail, close() waits for this provider's calls in flight.
  const wrap = <R>(model: ModelInfo, kind: 'detect' | 'classify') => {
    const what = kind === 'detect' ? 'onnx detector: detect()' : 'local scene classifier: classify()';
    const calls = createLimiter(Infinity, {
      closedError: () => new LabelingError('config', `${what} after close()`, { retryable: false, provider: model.provider }),
    });
    let closing: Promise<void> | undefined;
    return {
      model,
      call: (image: ImageInput, callOptions?: CallOptions): Promise<R> => calls.run(() => pool.run<R>(kind, image, callOptions?.signal)),
      close(): Promise<void> {
        closing ??= calls.close().then(release);
        return closing;
      },
    };
  };

  const result: LocalWorkerProviders = { pool, stats: () => pool.stats() };
  if (detectorInfo) {
    const d = wrap<DetectionResult>(detectorInfo.model, 'detect');
    void detectorInfo.close();
    result.detector = { model: d.model, pool, detect: (image, o) => d.call(image, o), close: () => d.close() };
  }
  if (sceneInfo) {
    const s = wrap<SceneResult>(sceneInfo.model, 'classify');
    void sceneInfo.close();
    result.scene = { model: s.model, pool, classify: (image, o) => s.call(image, o), close: () => s.close() };
  }
  if (open === 0) void pool.close();
  else void pool.warm();
  return result;
}
