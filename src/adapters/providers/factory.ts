import { readImage } from '../image/intake';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LabelingError } from '../../core/pipeline/errors';
import type { MinConfidence } from '../../core/pipeline/abstention';
import { ATTRIBUTE_NAMES } from '../../core/taxonomy/attributes';
import { configHash, type LabelingConfig } from '../../core/config/labeling-config';
import type { LabelingSetup } from '../../core/pipeline/label-image';
import type { Detector, SceneClassifier } from '../../core/pipeline/types';
import { createOnnxDetector } from './detector/onnx/onnx-detector';
import { createLocalWorkerProviders, poolOf, resolveLocalWorkers, type LocalWorkerProviders } from './local-workers';
import {
  createLocalSceneClassifier,
  defaultSceneModel,
  effectiveMinConfidence,
  parseSceneParams,
  type LocalSceneOptions,
} from './scene/local';
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
  /** Reads `blob:<container>/<name>` (a scene model file in the app's storage account); only the app gives one. */
  readBlob?: (ref: string) => Promise<Uint8Array>;
}

/** What the local scene model of a config (`local`, or a cascade's `first`) is built with. */
interface LocalScenePlan {
  /** Options beyond where the backbone file is: learned parameters from a file, abstention thresholds. */
  options: Pick<LocalSceneOptions, 'params' | 'paramsFile' | 'minConfidence'>;
  /** A cascade: below these local confidences the remote model is asked. */
  deferBelow?: MinConfidence;
  /** Identity of the parameters (weights version + calibration), for the setup's hash. */
  version: string;
}

const NEVER_ABSTAIN: MinConfidence = { weather: 0, timeofday: 0, scene: 0 };

async function readSceneModel(ref: string, options: SetupOptions): Promise<{ bytes: Uint8Array; where: string }> {
  const fail = (message: string, cause?: unknown) =>
    new LabelingError('config', `local scene classifier: ${message}`, { retryable: false, provider: 'local', ...(cause ? { cause } : {}) });
  if (ref.startsWith('blob:')) {
    if (!options.readBlob) throw fail(`${ref}: a blob: model is read by the app only (give the CLI a file path)`);
    try {
      return { bytes: await options.readBlob(ref.slice('blob:'.length)), where: ref };
    } catch (error) {
      throw fail(`cannot read ${ref}: ${(error as Error).message}`, error);
    }
  }
  const where = path.resolve(ref);
  try {
    return { bytes: await fs.readFile(where), where };
  } catch (error) {
    throw fail(`cannot read the model file ${where}: ${(error as Error).message}`, error);
  }
}

async function planLocalScene(config: LabelingConfig['scene'], options: SetupOptions): Promise<LocalScenePlan | undefined> {
  const local = config.provider === 'local' ? config : config.provider === 'cascade' ? config.first : undefined;
  if (!local) return undefined;
  let params = defaultSceneModel().params;
  const planned: LocalScenePlan['options'] = {};
  if (local.model) {
    const { bytes, where } = await readSceneModel(local.model, options);
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (error) {
      throw new LabelingError('config', `local scene classifier: ${where} is not JSON: ${(error as Error).message}`, {
        retryable: false,
        provider: 'local',
      });
    }
    params = parseSceneParams(json, where);
    planned.params = params;
    planned.paramsFile = { path: where, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  // The weights' version does not cover the calibration, which changes answers (abstention) too.
  const calibration = ATTRIBUTE_NAMES.map((a) => params.calibration?.attributes[a])
    .map((c) => `${c?.temperature ?? 1}/${c?.minConfidence ?? 0}`)
    .join(',');
  const version = `${params.version}+${calibration}`;
  if (config.provider === 'cascade') {
    // The local model answers every attribute; the cascade decides which ones it keeps.
    planned.minConfidence = NEVER_ABSTAIN;
    return {
      options: planned,
      deferBelow: config.minConfidence ?? effectiveMinConfidence(params, local.minConfidence),
      version,
    };
  }
  if (local.minConfidence) planned.minConfidence = local.minConfidence;
  return { options: planned, version };
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
  local?: LocalScenePlan,
): Promise<SceneClassifier | undefined> {
  switch (config.provider) {
    case 'local':
      return pooled?.scene ?? createLocalSceneClassifier({ ...modelOptions(options, models.scene), ...local?.options });
    case 'cascade': {
      const first = pooled?.scene ?? createLocalSceneClassifier({ ...modelOptions(options, models.scene), ...local?.options });
      let then: SceneClassifier | undefined;
      try {
        then = await createScene(config.then, options, models);
      } catch (error) {
        await first.close?.();
        throw error;
      }
      const { createCascadeSceneClassifier } = await import('./scene/cascade-scene');
      return createCascadeSceneClassifier({ first, then: then!, minConfidence: local?.deferBelow ?? {} });
    }
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
function providerFingerprint(config: LabelingConfig, scene: SceneClassifier | undefined, local?: LocalScenePlan): string {
  const parts: string[] = [];
  if (config.scene.provider === 'openai' || config.scene.provider === 'foundry' || config.scene.provider === 'cascade')
    parts.push(`prompt:${PROMPT_SHA256}`);
  if (local) parts.push(`scene:${local.version}`);
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
  if (config.scene.provider === 'local' || config.scene.provider === 'cascade') models.scene = await resolve(MOBILENETV2_INT8);
  if (config.detector.provider === 'onnx') models.detector = await resolve(YOLOX_NANO);
  return models;
}

/**
 * Build the configured providers once; they are shared by every image labeled with this setup. Local models run in a
 * pool of worker threads (see SetupOptions.localWorkers); close() on the providers ends it.
 */
export async function createLabelingSetup(config: LabelingConfig, options: SetupOptions = {}): Promise<LabelingSetup> {
  const models = await verifyModelFiles(config, options);
  const localPlan = await planLocalScene(config.scene, options);
  const workers = resolveLocalWorkers(options.localWorkers, options.env ?? process.env);
  const localScene = localPlan !== undefined;
  const pooled =
    workers > 0 && (localScene || config.detector.provider === 'onnx')
      ? createLocalWorkerProviders({
          workers,
          ...(config.detector.provider === 'onnx'
            ? { detector: { config: config.detector, options: modelOptions(options, models.detector) } }
            : {}),
          ...(localScene ? { scene: { options: { ...modelOptions(options, models.scene), ...localPlan.options } } } : {}),
          ...(options.meterModelRuns ? { meterModelRuns: true } : {}),
        })
      : undefined;
  let scene: SceneClassifier | undefined;
  let detector: Detector | undefined;
  try {
    scene = await createScene(config.scene, options, models, pooled, localPlan);
    detector = await createDetector(config.detector, options, models, pooled);
  } catch (error) {
    // A remote provider's config was refused: the local workers already started must not outlive the setup.
    await Promise.allSettled([pooled?.scene?.close(), pooled?.detector?.close()]);
    throw error;
  }
  const hash = createHash('sha256')
    .update(`${configHash(config)}|${providerFingerprint(config, scene, localPlan)}`)
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
