/**
 * The `local` scene classifier: offline and in-process. A frozen MobileNetV2 int8 backbone (onnxruntime-node, CPU)
 * gives the whole frame's ImageNet logits; together with cheap image statistics they feed one multinomial logistic
 * regression per attribute (weather, timeofday, scene), learned by trainer.ts into scene-model.json (or a file of
 * `autolabel train-scene`). The probabilities are calibrated (a temperature per attribute), and an attribute below its
 * minConfidence is answered `undefined` with the withheld answer in `abstained`. One ONNX session, created on the
 * first image and reused.
 */
import { promises as fs } from 'node:fs';
import { InvalidImageError, LabelingError, ProviderError } from '../../../../core/pipeline/errors';
import type { CallOptions, ImageInput, ModelInfo, SceneAttributes, SceneClassifier, SceneResult } from '../../../../core/pipeline/types';
import { ATTRIBUTE_NAMES, type AttributeName } from '../../../../core/taxonomy/attributes';
import { applyMinConfidence, type MinConfidence } from '../../../../core/pipeline/abstention';
import { MOBILENETV2_INT8, resolveModelFile, type ResolveModelOptions } from '../../models/model-files';
import { createLimiter } from '../../../concurrency/limits';
import { loadBackbone } from './backbone';
import { extractSceneFeatures, type Backbone, type FeatureSpec } from './features';
import { compileSceneModel, SceneModelParamsSchema, type CompiledSceneModel, type SceneModelParams } from './params';
import sceneModelJson from './scene-model.json';

export const LOCAL_SCENE_PROVIDER = 'local';

export interface LocalSceneOptions {
  /** Folder holding mobilenetv2-int8/mobilenetv2_int8_features.onnx (e.g. ../shared/models); else AUTOLABEL_MODELS_DIR. */
  modelsDir?: string;
  /** False forbids downloading the official backbone file when no local copy is found (default: allowed). */
  allowDownload?: boolean;
  /** Download cache (default AUTOLABEL_CACHE_DIR or ~/.cache/autolabel/models). */
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  /** The backbone file to load as it is (no lookup, no checksum): the factory passes the file it has just verified. */
  modelPath?: string;
  /** onnxruntime intra-op threads (default 1: the pipeline runs images in parallel instead). */
  threads?: number;
  /** Other learned parameters (default: the committed scene-model.json). */
  params?: unknown;
  /** Where `params` came from (an `autolabel train-scene` file): named in the model info, hence in provenance. */
  paramsFile?: { path: string; sha256: string };
  /**
   * Per attribute, below this confidence the answer is `undefined` (the frame's provenance keeps the withheld one).
   * Default: the parameters' cross-validated choice (calibration.attributes.*.minConfidence); 0 never abstains.
   */
  minConfidence?: MinConfidence;
}

export interface LocalSceneRaw {
  /** Per attribute, the probability of every class the model was trained on (nothing time-dependent: raw is deterministic). */
  probabilities: Record<AttributeName, Record<string, number>>;
}

export interface LocalSceneClassifier extends SceneClassifier {
  /** Load the backbone now rather than on the first image (rejects as that image would). */
  load(): Promise<void>;
  /** Release the session; classify() afterwards fails. */
  close(): Promise<void>;
  /** The validated parameters in use. */
  readonly params: SceneModelParams;
  /** The abstention thresholds in force (the config's, else the parameters' defaults). */
  readonly minConfidence: MinConfidence;
  /** ONNX sessions created so far: 1 after any number of images (one session, shared by every image). */
  readonly sessionsCreated: number;
}

/** Validate learned parameters (`source`: where they came from, for the message). */
export function parseSceneParams(raw: unknown, source?: string): SceneModelParams {
  const parsed = SceneModelParamsSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new LabelingError('config', `local scene classifier: invalid parameters${source ? ` in ${source}` : ''} (${issues.join('; ')})`, {
      retryable: false,
      provider: LOCAL_SCENE_PROVIDER,
    });
  }
  return parsed.data;
}

/** The config's thresholds over the parameters' cross-validated defaults (none without a calibration). */
export function effectiveMinConfidence(params: SceneModelParams, configured: MinConfidence = {}): MinConfidence {
  const out: MinConfidence = {};
  for (const name of ATTRIBUTE_NAMES) {
    const value = configured[name] ?? params.calibration?.attributes[name].minConfidence;
    if (value !== undefined) out[name] = value;
  }
  return out;
}

let defaultModel: CompiledSceneModel | undefined;

/** The committed parameters, validated once per process. */
export function defaultSceneModel(): CompiledSceneModel {
  defaultModel ??= compileSceneModel(parseSceneParams(sceneModelJson));
  return defaultModel;
}

export function createLocalSceneClassifier(options: LocalSceneOptions = {}): LocalSceneClassifier {
  const compiled =
    options.params === undefined ? defaultSceneModel() : compileSceneModel(parseSceneParams(options.params, options.paramsFile?.path));
  const { params } = compiled;
  const spec = params.featureSpec as FeatureSpec;
  const model: ModelInfo = {
    provider: LOCAL_SCENE_PROVIDER,
    model: `mobilenetv2-int8+logreg@${params.version}`,
    ...(options.paramsFile ? { file: { ...options.paramsFile } } : {}),
  };
  const minConfidence = effectiveMinConfidence(params, options.minConfidence);
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new LabelingError('config', `local scene classifier: threads must be a positive integer, got ${threads}`, {
      retryable: false,
      provider: LOCAL_SCENE_PROVIDER,
    });
  }

  let backbonePromise: Promise<Backbone> | undefined;
  let sessionsCreated = 0;
  // The calls in flight on the shared session: close() refuses new ones and waits for these before releasing it
  // (releasing it under a running inference crashes onnxruntime-node).
  const calls = createLimiter(Infinity, {
    closedError: () =>
      new LabelingError('config', 'local scene classifier: classify() after close()', { retryable: false, provider: LOCAL_SCENE_PROVIDER }),
  });

  const getBackbone = (): Promise<Backbone> => {
    if (!backbonePromise) {
      backbonePromise = (async () => {
        const modelsDir = options.modelsDir;
        if (modelsDir !== undefined && options.modelPath === undefined) {
          const stat = await fs.stat(modelsDir).catch(() => undefined);
          if (!stat?.isDirectory()) {
            throw new LabelingError(
              'config',
              `local scene classifier: the models directory ${modelsDir} does not exist; it should hold ` +
                `${MOBILENETV2_INT8.folder}/${MOBILENETV2_INT8.fileName} (give --models-dir or AUTOLABEL_MODELS_DIR a folder that does)`,
              { retryable: false, provider: LOCAL_SCENE_PROVIDER },
            );
          }
        }
        const resolveOptions: ResolveModelOptions = {
          ...(modelsDir !== undefined ? { modelsDir } : {}),
          ...(options.allowDownload !== undefined ? { allowDownload: options.allowDownload } : {}),
          ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
          ...(options.env !== undefined ? { env: options.env } : {}),
          ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
        };
        let file: string;
        try {
          file = options.modelPath ?? (await resolveModelFile(MOBILENETV2_INT8, resolveOptions));
        } catch (error) {
          throw new LabelingError('config', `local scene classifier: ${(error as Error).message}`, {
            retryable: false,
            provider: LOCAL_SCENE_PROVIDER,
            cause: error,
          });
        }
        try {
          const backbone = await loadBackbone(file, { threads });
          sessionsCreated++;
          return backbone;
        } catch (error) {
          throw new LabelingError('config', `local scene classifier: cannot load ${file}: ${(error as Error).message}`, {
            retryable: false,
            provider: LOCAL_SCENE_PROVIDER,
            cause: error,
          });
        }
      })();
      // A failed start is not cached: the next image tries again (e.g. after the model file was put in place).
      backbonePromise.catch(() => {
        backbonePromise = undefined;
      });
    }
    return backbonePromise;
  };

  async function classifyImage(image: ImageInput, callOptions?: CallOptions): Promise<SceneResult> {
    const { width, height, rgb } = image;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || rgb.length !== width * height * 3) {
      throw new InvalidImageError(`${image.name}: rgb holds ${rgb.length} bytes, expected ${width}x${height}x3`, {
        provider: LOCAL_SCENE_PROVIDER,
      });
    }
    callOptions?.signal?.throwIfAborted();
    const backbone = await getBackbone();
    callOptions?.signal?.throwIfAborted();
    let features: Float64Array;
    try {
      features = await extractSceneFeatures(backbone, image, spec);
    } catch (error) {
      throw new ProviderError(`local scene classifier: inference failed on ${image.name}: ${(error as Error).message}`, {
        provider: LOCAL_SCENE_PROVIDER,
        retryable: false,
        cause: error,
      });
    }
    const predicted = compiled.predict(features);
    const attributes = {} as Record<AttributeName, string>;
    const confidence = {} as Record<AttributeName, number>;
    const probabilities = {} as LocalSceneRaw['probabilities'];
    for (const name of ATTRIBUTE_NAMES) {
      attributes[name] = predicted[name].value;
      confidence[name] = predicted[name].confidence;
      probabilities[name] = predicted[name].probabilities;
    }
    const raw: LocalSceneRaw = { probabilities };
    // The schema restricts classes to the closed vocabularies, so the values are SceneAttributes.
    return applyMinConfidence({ attributes: attributes as SceneAttributes, confidence, raw }, minConfidence);
  }

  return {
    model,
    params,
    minConfidence,
    get sessionsCreated() {
      return sessionsCreated;
    },
    classify(image, callOptions) {
      return calls.run(() => classifyImage(image, callOptions));
    },
    load() {
      return calls.run(async () => void (await getBackbone()));
    },
    async close() {
      await calls.close();
      const pending = backbonePromise;
      backbonePromise = undefined;
      if (pending) {
        const backbone = await pending.catch(() => undefined);
        await backbone?.close();
      }
    },
  };
}
