import { readImage } from '../image/intake';
import { createHash } from 'node:crypto';
import { configHash, type LabelingConfig } from '../../core/config/labeling-config';
import type { LabelingSetup } from '../../core/pipeline/label-image';
import type { Detector, SceneClassifier } from '../../core/pipeline/types';
import { createOnnxDetector } from './detector/onnx/onnx-detector';
import { createLocalWorkerProviders, poolOf, resolveLocalWorkers, type LocalWorkerProviders } from './local-workers';
import { createLocalSceneClassifier } from './scene/local';
import { PROMPT_SHA256 } from './scene/prompt';
import { MOBILENETV2_INT8, resolveModelFile, YOLOX_NANO, type ModelFileSpec } from './models/model-files';

export interface SetupOptions {
  /** Folder with the ONNX models (`--models-dir`), else AUTOLABEL_MODELS_DIR, else the download cache. */
  modelsDir?: string;
  allowDownload?: boolean;
  env?: NodeJS.ProcessEnv;
  /**
   * Worker threads that run the local ONNX models (scene `local`, detector `onnx`): default AUTOLABEL_LOCAL_WORKERS,
   * else os.availableParallelism(). 0 runs them in-process, on the calling thread (one core, blocking it).
   */
  localWorkers?: number;
  /** Where a provider says something worth a log line (a weaker answer format from now on...); default stderr. */
  warn?: (line: string) => void;
  /** Benchmarks: the local-model workers time their session.run calls (see LocalModelPool.stats()). */
  meterModelRuns?: boolean;
}

/** Model files checked (or downloaded) once for the setup: the providers and every worker load these as they are. */
interface VerifiedModels {
  detector?: string;
  scene?: string;
}

/** Where the local models look for their files: the same for the in-process providers and the workers. */
function modelOptions(options: SetupOptions, file?: string) {
  return {
    ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}),
    ...(options.allowDownload === false ? { allowDownload: false } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(file ? { modelPath: file } : {}),
  };
}

/*
 * The remote providers' modules are loaded only when the config names them: with their SDKs they take about 10 MB of
 * heap and 350 ms to load, which a local setup (the CLI's default) would otherwise carry, its main thread's garbage
 * collections marking that heap again and again.
 */
async function createScene(
  config: LabelingConfig['scene'],
  options: SetupOptions,
  models: VerifiedModels,
  pooled?: LocalWorkerProviders,
): Promise<SceneClassifier | undefined> {
  switch (config.provider) {
    case 'local':
      return pooled?.scene ?? createLocalSceneClassifier(modelOptions(options, models.scene));
    case 'openai': {
      const { createOpenAiSceneClassifier } = await import('./scene/openai-scene');
      const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
      return createOpenAiSceneClassifier(config, {
        ...(options.env ? { env: options.env } : {}),
        onModeChange: ({ provider, from, to, reason }) =>
          warn(JSON.stringify({ event: 'scene-answer-mode', provider, from, to, reason, note: 'later calls of this process use it too' })),
      });
    }
    case 'foundry': {
      const { createFoundrySceneClassifier } = await import('./scene/foundry-scene');
      return createFoundrySceneClassifier(config, options.env ? { env: options.env } : {});
    }
    case 'none':
      return undefined;
  }
}

async function createDetector(
  config: LabelingConfig['detector'],
  options: SetupOptions,
  models: VerifiedModels,
  pooled?: LocalWorkerProviders,
): Promise<Detector | undefined> {
  switch (config.provider) {
    case 'onnx':
      return pooled?.detector ?? createOnnxDetector(config, modelOptions(options, models.detector));
    case 'azure-vision': {
      const { createAzureVisionDetector } = await import('./detector/azure-vision');
      return createAzureVisionDetector(config, options.env ? { env: options.env } : {});
    }
    case 'foundry-endpoint': {
      const { createFoundryEndpointDetector } = await import('./detector/foundry-endpoint');
      return createFoundryEndpointDetector(config, options.env ? { env: options.env } : {});
    }
    case 'none':
      return undefined;
  }
}

/**
 * What besides the config decides the outputs: the prompt text of a remote scene model and the learned parameters of
 * the local one. Folded into the setup's hash so a resumed run never reuses labels made by another prompt or model.
 */
function providerFingerprint(config: LabelingConfig, scene: SceneClassifier | undefined): string {
  const parts: string[] = [];
  if (config.scene.provider === 'openai' || config.scene.provider === 'foundry') parts.push(`prompt:${PROMPT_SHA256}`);
  if (config.scene.provider === 'local' && scene) parts.push(`scene:${scene.model.model}`);
  return parts.join('|');
}

/**
 * Local model files the config needs, checked (or downloaded) up front so a missing one fails the run at once. The
 * providers get the verified paths: hashing each file again in every worker cost about 10 ms of CPU a file.
 */
async function verifyModelFiles(config: LabelingConfig, options: SetupOptions): Promise<VerifiedModels> {
  const resolve = (spec: ModelFileSpec) =>
    resolveModelFile(spec, {
      ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}),
      ...(options.allowDownload === false ? { allowDownload: false } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
  const models: VerifiedModels = {};
  if (config.scene.provider === 'local') models.scene = await resolve(MOBILENETV2_INT8);
  if (config.detector.provider === 'onnx') models.detector = await resolve(YOLOX_NANO);
  return models;
}

/**
 * Build the configured providers once; they are shared by every image labeled with this setup. Local models run in a
 * pool of worker threads (see SetupOptions.localWorkers); close() on the providers ends it.
 */
export async function createLabelingSetup(config: LabelingConfig, options: SetupOptions = {}): Promise<LabelingSetup> {
  const models = await verifyModelFiles(config, options);
  const workers = resolveLocalWorkers(options.localWorkers, options.env ?? process.env);
  const localScene = config.scene.provider === 'local';
  const pooled =
    workers > 0 && (localScene || config.detector.provider === 'onnx')
      ? createLocalWorkerProviders({
          workers,
          ...(config.detector.provider === 'onnx'
            ? { detector: { config: config.detector, options: modelOptions(options, models.detector) } }
            : {}),
          ...(localScene ? { scene: { options: modelOptions(options, models.scene) } } : {}),
          ...(options.meterModelRuns ? { meterModelRuns: true } : {}),
        })
      : undefined;
  let scene: SceneClassifier | undefined;
  let detector: Detector | undefined;
  try {
    scene = await createScene(config.scene, options, models, pooled);
    detector = await createDetector(config.detector, options, models, pooled);
  } catch (error) {
    // A remote provider's config was refused: the local workers already started must not outlive the setup.
    await Promise.allSettled([pooled?.scene?.close(), pooled?.detector?.close()]);
    throw error;
  }
  const hash = createHash('sha256')
    .update(`${configHash(config)}|${providerFingerprint(config, scene)}`)
    .digest('hex')
    .slice(0, 16);
  return {
    config,
    configHash: hash,
    decodeImage: readImage,
    ...(scene ? { scene } : {}),
    ...(detector ? { detector } : {}),
  };
}

/**
 * Load the local models of a setup now: the worker pool's sessions (every worker, side by side), or the in-process
 * providers' sessions. What the first images would otherwise wait for, so that a caller can report it apart from
 * the labeling. Never rejects: a model that cannot load fails the first image that needs it, with its own error.
 */
export async function loadLocalModels(setup: Pick<LabelingSetup, 'scene' | 'detector'>): Promise<void> {
  const pool = poolOf(setup.detector) ?? poolOf(setup.scene);
  if (pool) return pool.warm();
  const providers = [setup.detector, setup.scene] as ({ load?: () => Promise<void> } | undefined)[];
  await Promise.allSettled(providers.map((provider) => provider?.load?.()));
}
