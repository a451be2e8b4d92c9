import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BDD_CLASSES } from '../taxonomy/categories';

/**
 * What `autolabel label`, the HTTP trigger and the blob trigger run: providers, thresholds, limits. JSON on disk,
 * validated here; secrets never appear in it, only the names of the environment variables that hold them.
 */

const remoteCall = {
  /** Per request. */
  timeoutMs: z.number().int().positive().default(30_000),
  /** Retries after the first request (429, 5xx, timeouts, malformed answers). */
  maxRetries: z.number().int().min(0).max(10).default(4),
  /** Requests in flight to this provider. */
  concurrency: z.number().int().positive().max(64).default(4),
  /** The service's allowed rate; requests are spaced to stay under it. */
  requestsPerMinute: z.number().positive().optional(),
};

export const AuthSchema = z.discriminatedUnion('type', [
  /** API key read from the named environment variable. */
  z.strictObject({
    type: z.literal('key'),
    apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
  }),
  /** Microsoft Entra ID through DefaultAzureCredential (managed identity in Azure, az login locally). */
  z.strictObject({ type: z.literal('entra') }),
  /** No credentials (a local OpenAI-compatible server such as Ollama). */
  z.strictObject({ type: z.literal('none') }),
]);
export type Auth = z.infer<typeof AuthSchema>;

const url = z.url({ message: 'must be an absolute http(s) URL' });

export const OpenAiSceneSchema = z
  .strictObject({
    provider: z.literal('openai'),
    /** Azure OpenAI: resource endpoint, deployment and api-version (json_schema needs 2024-10-21 or later). */
    azure: z.strictObject({ endpoint: url, deployment: z.string().min(1), apiVersion: z.string().min(1).default('2024-10-21') }).optional(),
    /** Any OpenAI-compatible server (Ollama, vLLM, LM Studio, Foundry Local), e.g. http://localhost:11434/v1. */
    baseURL: url.optional(),
    /** Model name (the deployment name is used for Azure when omitted). */
    model: z.string().min(1).optional(),
    /**
     * The request rules of the model. `chat` (gpt-4o, gpt-4.1, llava, qwen-vl...): temperature 0 and max_tokens.
     * `reasoning` (gpt-5.x, o-series): max_completion_tokens (room for the reasoning tokens too), the default
     * temperature, and reasoning_effort. `auto`: from the model name (gpt-5*, o1/o3/o4* are reasoning models).
     */
    family: z.enum(['auto', 'chat', 'reasoning']).default('auto'),
    /** reasoning_effort sent to reasoning models (not to their -chat variants); a label needs little thought. */
    reasoningEffort: z.enum(['none', 'minimal', 'low', 'medium', 'high']).default('low'),
    auth: AuthSchema,
    detail: z.enum(['low', 'high', 'auto']).default('low'),
    ...remoteCall,
  })
  .refine((c) => !(c.azure && c.baseURL), { message: 'give either azure or baseURL, not both' })
  .refine((c) => c.azure || c.model, { message: 'model is required unless azure.deployment names it', path: ['model'] });

export const FoundrySceneSchema = z.strictObject({
  provider: z.literal('foundry'),
  /** Azure AI Foundry models endpoint, e.g. https://<resource>.services.ai.azure.com/models */
  endpoint: url,
  model: z.string().min(1).default('Phi-4-multimodal-instruct'),
  auth: AuthSchema,
  ...remoteCall,
});

/** Per attribute, the confidence below which an answer is not trusted (0..1). */
export const MinConfidenceSchema = z.strictObject({
  weather: z.number().min(0).max(1).optional(),
  timeofday: z.number().min(0).max(1).optional(),
  scene: z.number().min(0).max(1).optional(),
});

export const LocalSceneSchema = z.strictObject({
  provider: z.literal('local'),
  /**
   * Learned parameters written by `autolabel train-scene`: a file path, or `blob:<container>/<name>` in the app's
   * storage account (the app only). Default: the built-in model.
   */
  model: z.string().min(1).optional(),
  /** Below it the attribute is `undefined` and the frame's provenance says why. Default: the model file's CV choice. */
  minConfidence: MinConfidenceSchema.optional(),
});
const NoScene = z.strictObject({ provider: z.literal('none') });

/**
 * The local model first; a remote model is asked only when some attribute's local confidence is below
 * `minConfidence` (default: the local model's own thresholds), and answers only those attributes.
 */
export const CascadeSceneSchema = z.strictObject({
  provider: z.literal('cascade'),
  first: LocalSceneSchema,
  then: z.union([OpenAiSceneSchema, FoundrySceneSchema]),
  minConfidence: MinConfidenceSchema.optional(),
});

export const SceneProviderSchema = z.discriminatedUnion('provider', [
  LocalSceneSchema,
  OpenAiSceneSchema,
  FoundrySceneSchema,
  CascadeSceneSchema,
  NoScene,
]);

export const OnnxDetectorSchema = z.strictObject({
  provider: z.literal('onnx'),
  /** Full frame plus overlapping crops, merged: finds small objects a 416-px view loses. */
  tiling: z.boolean().default(true),
  nmsIou: z.number().gt(0).lte(1).default(0.45),
  /** Boxes below this never leave the detector (the pipeline thresholds apply after). */
  minScore: z.number().min(0).max(1).default(0.05),
});

export const AzureVisionDetectorSchema = z.strictObject({
  provider: z.literal('azure-vision'),
  endpoint: url,
  /** `4.0`: Image Analysis REST; `3.2`: @azure/cognitiveservices-computervision detectObjectsInStream. */
  api: z.enum(['4.0', '3.2']).default('4.0'),
  auth: AuthSchema,
  ...remoteCall,
});

export const FoundryEndpointDetectorSchema = z.strictObject({
  provider: z.literal('foundry-endpoint'),
  /** Managed online endpoint scoring URI, e.g. https://<endpoint>.<region>.inference.ml.azure.com/score */
  scoringUri: url,
  /** Routes to one deployment behind the endpoint (header azureml-model-deployment). */
  deployment: z.string().min(1).optional(),
  auth: AuthSchema,
  ...remoteCall,
});
const NoDetector = z.strictObject({ provider: z.literal('none') });

export const DetectorProviderSchema = z.discriminatedUnion('provider', [
  OnnxDetectorSchema,
  AzureVisionDetectorSchema,
  FoundryEndpointDetectorSchema,
  NoDetector,
]);

const score = z.number().min(0).max(1);

/** See LabelingConfig.concurrency: one more image in flight than there are cores (the local-model workers). */
export function defaultConcurrency(cores: number): number {
  return Math.min(256, Math.max(1, cores) + 1);
}

export const LabelingConfigSchema = z.strictObject({
  scene: SceneProviderSchema.default({ provider: 'local' }),
  detector: DetectorProviderSchema.default({ provider: 'onnx', tiling: true, nmsIou: 0.45, minScore: 0.05 }),
  thresholds: z
    .strictObject({
      /** Boxes scoring below this are not written. */
      default: score.default(0.3),
      perClass: z.partialRecord(z.enum(BDD_CLASSES), score).default({}),
    })
    .default({ default: 0.3, perClass: {} }),
  /**
   * Images labeled at the same time. Default: one more than the cores (os.availableParallelism() + 1), i.e. the default
   * local-model workers + 1: measured on 2 cores (bench/label --sweep), 2 in flight left the workers idle 13% of the
   * time, 3 kept them 94% busy, more only added latency (p50 175 ms at 3, 243 at 4, 420 at 6).
   */
  concurrency: z.number().int().positive().max(256).optional(),
  limits: z
    .strictObject({
      maxBytes: z
        .number()
        .int()
        .positive()
        .default(20 * 1024 * 1024),
      maxPixels: z.number().int().positive().default(40_000_000),
      minSide: z.number().int().positive().default(32),
    })
    .default({ maxBytes: 20 * 1024 * 1024, maxPixels: 40_000_000, minSide: 32 }),
});
/** A parsed config: every default filled in, concurrency included (it depends on the machine: see ConfigContext). */
export type LabelingConfig = Omit<z.infer<typeof LabelingConfigSchema>, 'concurrency'> & { concurrency: number };
export type LabelingConfigInput = z.input<typeof LabelingConfigSchema>;
export type SceneProviderConfig = LabelingConfig['scene'];
export type DetectorProviderConfig = LabelingConfig['detector'];

/** Every problem in a config at once, each with its JSON path. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: ${problems.length} problem(s) in the labeling config:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const pathOf = (path: readonly PropertyKey[]) => (path.length ? path.map(String).join('.') : '(root)');

/** Environment variables a config needs (API keys), so a missing one is reported with the config's other problems. */
export function requiredEnvironment(config: Pick<LabelingConfig, 'scene' | 'detector'>): { path: string; name: string }[] {
  const needed: { path: string; name: string }[] = [];
  for (const [where, provider] of [
    ['scene', config.scene],
    ['scene.then', config.scene.provider === 'cascade' ? config.scene.then : { provider: 'none' }],
    ['detector', config.detector],
  ] as const) {
    if ('auth' in provider && provider.auth.type === 'key') needed.push({ path: `${where}.auth.apiKeyEnv`, name: provider.auth.apiKeyEnv });
  }
  return needed;
}

/** What parsing needs from outside the config: where it came from, the environment its keys live in, the cores. */
export interface ConfigContext {
  source?: string;
  env: Readonly<Record<string, string | undefined>>;
  cores: number;
}

export function parseLabelingConfig(value: unknown, context: ConfigContext): LabelingConfig {
  const { source = 'config', env } = context;
  const parsed = LabelingConfigSchema.safeParse(value ?? {});
  if (!parsed.success)
    throw new ConfigError(
      source,
      parsed.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`),
    );
  const missing = requiredEnvironment(parsed.data)
    .filter(({ name }) => !env[name])
    .map(({ path, name }) => `${path}: environment variable ${name} is not set`);
  if (missing.length) throw new ConfigError(source, missing);
  return { ...parsed.data, concurrency: parsed.data.concurrency ?? defaultConcurrency(context.cores) };
}

/** Bumped whenever the pipeline's output for the same config could change (resumable runs redo everything). */
export const PIPELINE_VERSION = '1';

/** Settings that change how fast outputs come, never what they are: left out of the config hash. */
const PACING_KEYS = new Set(['timeoutMs', 'maxRetries', 'concurrency', 'requestsPerMinute']);

/**
 * Identity of a labeling setup: the same hash means the same outputs for the same image bytes, so a resumed run
 * may reuse them. Pacing (concurrency, timeouts, retries, rate) is not part of it.
 */
export function configHash(config: LabelingConfig): string {
  const withoutPacing = (value: object): object =>
    Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !PACING_KEYS.has(key))
        // A cascade's remote model has its own pacing.
        .map(([key, v]) => [key, key === 'then' && v && typeof v === 'object' ? withoutPacing(v as object) : v]),
    );
  const identity = {
    pipeline: PIPELINE_VERSION,
    scene: withoutPacing(config.scene),
    detector: withoutPacing(config.detector),
    thresholds: config.thresholds,
    limits: config.limits,
  };
  return createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
