import { readImage } from '../image/intake';
import { createHash } from 'node:crypto';
import { configHash, type LabelingConfig } from '../../core/config/labeling-config';
import type { LabelingSetup } from '../../core/pipeline/label-image';
import type { Detector, SceneClassifier } from '../../core/pipeline/types';
import { createAzureVisionDetector } from './detector/azure-vision';
import { createFoundryEndpointDetector } from './detector/foundry-endpoint';
import { createOnnxDetector } from './detector/onnx/onnx-detector';
import { createLocalWorkerProviders, resolveLocalWorkers, type LocalWorkerProviders } from './local-workers';
import { createFoundrySceneClassifier } from './scene/foundry-scene';
import { createLocalSceneClassifier } from './scene/local';
import { createOpenAiSceneClassifier } from './scene/openai-scene';
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
}

/** Where the local models look for their files: the same for the in-process providers and the workers. */
function modelOptions(options: SetupOptions) {
  return {
    ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}),
    ...(options.allowDownload === false ? { allowDownload: false } : {}),
    ...(options.env ? { env: options.env } : {}),
  };
}

function createScene(config: LabelingConfig['scene'], options: SetupOptions, pooled?: LocalWorkerProviders): SceneClassifier | undefined {
  switch (config.provider) {
    case 'local':
      return pooled?.scene ?? createLocalSceneClassifier(modelOptions(options));
    case 'openai': {
      const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
      return createOpenAiSceneClassifier(config, {
        ...(options.env ? { env: options.env } : {}),
        onModeChange: ({ provider, from, to, reason }) =>
          warn(JSON.stringify({ event: 'scene-answer-mode', provider, from, to, reason, note: 'later calls of this process use it too' })),
      });
    }
    case 'foundry':
      return createFoundrySceneClassifier(config, options.env ? { env: options.env } : {});
    case 'none':
      return undefined;
  }
}

function createDetector(config: LabelingConfig['detector'], options: SetupOptions, pooled?: LocalWorkerProviders): Detector | undefined {
  switch (config.provider) {
    case 'onnx':
      return pooled?.detector ?? createOnnxDetector(config, modelOptions(options));
    case 'azure-vision':
      return createAzureVisionDetector(config, options.env ? { env: options.env } : {});
    case 'foundry-endpoint':
      return createFoundryEndpointDetector(config, options.env ? { env: options.env } : {});
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

/** Local model files the config needs, checked (or downloaded) up front so a missing one fails the run at once. */
async function verifyModelFiles(config: LabelingConfig, options: SetupOptions): Promise<void> {
  const needed: ModelFileSpec[] = [];
  if (config.scene.provider === 'local') needed.push(MOBILENETV2_INT8);
  if (config.detector.provider === 'onnx') needed.push(YOLOX_NANO);
  for (const spec of needed) {
    await resolveModelFile(spec, {
      ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}),
      ...(options.allowDownload === false ? { allowDownload: false } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
  }
}

/**
 * Build the configured providers once; they are shared by every image labeled with this setup. Local models run in a
 * pool of worker threads (see SetupOptions.localWorkers); close() on the providers ends it.
 */
export async function createLabelingSetup(config: LabelingConfig, options: SetupOptions = {}): Promise<LabelingSetup> {
  await verifyModelFiles(config, options);
  const workers = resolveLocalWorkers(options.localWorkers, options.env ?? process.env);
  const localScene = config.scene.provider === 'local';
  const pooled =
    workers > 0 && (localScene || config.detector.provider === 'onnx')
      ? createLocalWorkerProviders({
          workers,
          ...(config.detector.provider === 'onnx' ? { detector: { config: config.detector, options: modelOptions(options) } } : {}),
          ...(localScene ? { scene: { options: modelOptions(options) } } : {}),
        })
      : undefined;
  const scene = createScene(config.scene, options, pooled);
  const detector = createDetector(config.detector, options, pooled);
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
