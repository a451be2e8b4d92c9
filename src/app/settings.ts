/**
 * Every setting the Functions app reads, parsed once from the environment (app settings in Azure,
 * local.settings.json / the local host's environment on a workstation). All problems are reported together.
 * The labeling config itself (providers, thresholds, limits) is the CLI's: inline JSON in AUTOLABEL_CONFIG or a
 * file named by AUTOLABEL_CONFIG_FILE; absent means the local offline providers.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, type LabelingConfig } from '../core/config/labeling-config';
import { loadLabelingConfig } from '../adapters/config/load-config';
import { registerSecret } from '../core/redaction';
import { DriftThresholdsSchema, parseDriftReference, type DriftReferenceSetting, type DriftThresholds } from '../core/drift';

/** The app setting prefix of the storage connection the host and the app share (identity-based or a string). */
export const STORAGE_CONNECTION = 'AzureWebJobsStorage';

/**
 * Names of the settings read here, with what they do: the source for local.settings.sample.json and the Bicep app
 * settings (a test checks that both cover exactly these).
 */
export const SETTING_NAMES = {
  storageConnectionString: STORAGE_CONNECTION,
  storageBlobServiceUri: `${STORAGE_CONNECTION}__blobServiceUri`,
  storageQueueServiceUri: `${STORAGE_CONNECTION}__queueServiceUri`,
  storageClientId: `${STORAGE_CONNECTION}__clientId`,
  cosmosEndpoint: 'COSMOS_ENDPOINT',
  cosmosKey: 'COSMOS_KEY',
  cosmosDatabase: 'COSMOS_DATABASE',
  cosmosDisableEndpointDiscovery: 'COSMOS_DISABLE_ENDPOINT_DISCOVERY',
  managedIdentityClientId: 'AZURE_CLIENT_ID',
  labelingConfig: 'AUTOLABEL_CONFIG',
  labelingConfigFile: 'AUTOLABEL_CONFIG_FILE',
  modelsDir: 'AUTOLABEL_MODELS_DIR',
  localWorkers: 'AUTOLABEL_LOCAL_WORKERS',
  evaluationChunkSize: 'EVALUATION_CHUNK_SIZE',
  evaluationScoreThreshold: 'EVALUATION_SCORE_THRESHOLD',
  nightlySchedule: 'NIGHTLY_REPORT_SCHEDULE',
  nightlyRegressionTolerance: 'NIGHTLY_REGRESSION_TOLERANCE',
  maxLabelAttempts: 'LABEL_MAX_ATTEMPTS',
  batchSweepSchedule: 'BATCH_SWEEP_SCHEDULE',
  batchDeadlineMinutes: 'BATCH_DEADLINE_MINUTES',
  batchSweepGraceMinutes: 'BATCH_SWEEP_GRACE_MINUTES',
  driftReference: 'DRIFT_REFERENCE',
  driftReferenceImages: 'DRIFT_REFERENCE_IMAGES',
  driftThresholds: 'DRIFT_THRESHOLDS',
} as const;

const flag = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1')
  .optional();
const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const ncrontab = (fallback: string) =>
  z
    .string()
    .regex(/^(\S+\s+){5}\S+$/, 'must be a six-field NCRONTAB expression: second minute hour day month day-of-week')
    .default(fallback);
/** Minutes, fractions allowed (tests shorten deadlines to seconds), at most 30 days. */
const minutes = (min: number, fallback: number) =>
  z.coerce
    .number()
    .min(min)
    .max(30 * 24 * 60)
    .default(fallback);

/** The settings' types and defaults; scripts/generate-infra-data.ts writes the defaults into the Azure app settings. */
export const EnvSchema = z.object({
  [SETTING_NAMES.storageConnectionString]: z.string().min(1).optional(),
  [SETTING_NAMES.storageBlobServiceUri]: z.url().optional(),
  [SETTING_NAMES.storageQueueServiceUri]: z.url().optional(),
  [SETTING_NAMES.storageClientId]: z.string().min(1).optional(),
  [SETTING_NAMES.cosmosEndpoint]: z.url({
    message: 'must be the Cosmos DB account endpoint, e.g. https://<account>.documents.azure.com:443/',
  }),
  [SETTING_NAMES.cosmosKey]: z.string().min(1).optional(),
  [SETTING_NAMES.cosmosDatabase]: z
    .string()
    .regex(/^[^/\\?#]{1,255}$/, 'must be a Cosmos DB database id')
    .default('autolabel'),
  [SETTING_NAMES.cosmosDisableEndpointDiscovery]: flag,
  [SETTING_NAMES.managedIdentityClientId]: z.string().min(1).optional(),
  [SETTING_NAMES.labelingConfig]: z.string().min(1).optional(),
  [SETTING_NAMES.labelingConfigFile]: z.string().min(1).optional(),
  [SETTING_NAMES.modelsDir]: z.string().min(1).optional(),
  [SETTING_NAMES.evaluationChunkSize]: intFrom(1, 5000).default(100),
  [SETTING_NAMES.evaluationScoreThreshold]: z.coerce.number().min(0).max(1).default(0.3),
  [SETTING_NAMES.nightlySchedule]: ncrontab('0 0 2 * * *'),
  [SETTING_NAMES.nightlyRegressionTolerance]: z.coerce.number().min(0).max(1).default(0.02),
  [SETTING_NAMES.maxLabelAttempts]: intFrom(1, 20).default(5),
  [SETTING_NAMES.batchSweepSchedule]: ncrontab('0 */5 * * * *'),
  [SETTING_NAMES.batchDeadlineMinutes]: minutes(0, 60).refine((m) => m > 0, 'must be more than 0 minutes'),
  [SETTING_NAMES.batchSweepGraceMinutes]: minutes(0, 10),
  /** Empty: the first DRIFT_REFERENCE_IMAGES images after each deployment; else batch ids, or `<from>/<to>` (core/drift/reference.ts). */
  [SETTING_NAMES.driftReference]: z.string().default(''),
  [SETTING_NAMES.driftReferenceImages]: intFrom(1, 1_000_000).default(200),
  /** JSON overriding the drift thresholds (DriftThresholdsSchema); `{}` keeps the defaults. */
  [SETTING_NAMES.driftThresholds]: z.string().default('{}'),
});

export type StorageConnection =
  | { kind: 'connection-string'; connectionString: string }
  | { kind: 'identity'; blobServiceUri: string; queueServiceUri: string | undefined; clientId: string | undefined };

export type CosmosAuth = { kind: 'key'; key: string } | { kind: 'identity'; clientId: string | undefined };

export interface AppSettings {
  storage: StorageConnection;
  cosmos: { endpoint: string; database: string; auth: CosmosAuth; disableEndpointDiscovery: boolean };
  labeling: LabelingConfig;
  /** Where the labeling config came from, for provenance and error messages. */
  labelingSource: string;
  modelsDir: string | undefined;
  evaluation: { chunkSize: number; scoreThreshold: number };
  nightly: { schedule: string; regressionTolerance: number };
  drift: { reference: DriftReferenceSetting; thresholds: DriftThresholds };
  /** Tries of one image before its document says failed (the blob trigger's host gives up after 5). */
  maxLabelAttempts: number;
  sweep: {
    /** When the reconcile sweep runs (NCRONTAB). */
    schedule: string;
    /** After this long from the manifest, listed images that never arrived are failed as `missing`. */
    deadlineMs: number;
    /**
     * An image with no final document and no sign of work for this long has no try in progress (at least host.json's
     * functionTimeout): the sweep labels it again.
     */
    graceMs: number;
  };
}

export class SettingsError extends Error {
  override name = 'SettingsError';
  constructor(readonly problems: string[]) {
    super(`${problems.length} problem(s) in the app settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Parse the environment; throws SettingsError listing every problem. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): AppSettings {
  const problems: string[] = [];
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);

  const storageString = env[SETTING_NAMES.storageConnectionString];
  const blobServiceUri = env[SETTING_NAMES.storageBlobServiceUri];
  if (!storageString && !blobServiceUri) {
    problems.push(
      `${STORAGE_CONNECTION}: set a connection string (UseDevelopmentStorage=true locally) or ${SETTING_NAMES.storageBlobServiceUri} for a managed identity`,
    );
  }
  if (!storageString && blobServiceUri && !env[SETTING_NAMES.storageQueueServiceUri]) {
    problems.push(
      `${SETTING_NAMES.storageQueueServiceUri}: required with ${SETTING_NAMES.storageBlobServiceUri}: the app sends label requests to a queue`,
    );
  }

  let labeling: LabelingConfig | undefined;
  let labelingSource = 'default (local providers)';
  try {
    const inline = env[SETTING_NAMES.labelingConfig];
    const file = env[SETTING_NAMES.labelingConfigFile];
    if (inline && file)
      throw new ConfigError('labeling config', [`set ${SETTING_NAMES.labelingConfig} or ${SETTING_NAMES.labelingConfigFile}, not both`]);
    let value: unknown = {};
    if (inline) {
      labelingSource = SETTING_NAMES.labelingConfig;
      value = parseJson(inline, SETTING_NAMES.labelingConfig);
    } else if (file) {
      labelingSource = file;
      value = parseJson(readText(file), file);
    }
    labeling = loadLabelingConfig(value, labelingSource, env);
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.problems.map((p) => `${error.source}: ${p}`));
    else problems.push((error as Error).message);
  }

  const drift = parsed.success ? driftSettings(parsed.data, problems) : undefined;

  registerSettingSecrets(env);
  if (problems.length || !parsed.success || !labeling || !drift) throw new SettingsError(problems);
  const v = parsed.data;
  const clientId = v[SETTING_NAMES.managedIdentityClientId];
  const cosmosKey = v[SETTING_NAMES.cosmosKey];
  return {
    storage: storageString
      ? { kind: 'connection-string', connectionString: storageString }
      : {
          kind: 'identity',
          blobServiceUri: blobServiceUri!,
          queueServiceUri: v[SETTING_NAMES.storageQueueServiceUri],
          clientId: v[SETTING_NAMES.storageClientId] ?? clientId,
        },
    cosmos: {
      endpoint: v[SETTING_NAMES.cosmosEndpoint],
      database: v[SETTING_NAMES.cosmosDatabase],
      auth: cosmosKey ? { kind: 'key', key: cosmosKey } : { kind: 'identity', clientId },
      disableEndpointDiscovery: v[SETTING_NAMES.cosmosDisableEndpointDiscovery] ?? false,
    },
    labeling,
    labelingSource,
    modelsDir: v[SETTING_NAMES.modelsDir],
    evaluation: { chunkSize: v[SETTING_NAMES.evaluationChunkSize], scoreThreshold: v[SETTING_NAMES.evaluationScoreThreshold] },
    nightly: { schedule: v[SETTING_NAMES.nightlySchedule], regressionTolerance: v[SETTING_NAMES.nightlyRegressionTolerance] },
    drift,
    maxLabelAttempts: v[SETTING_NAMES.maxLabelAttempts],
    sweep: {
      schedule: v[SETTING_NAMES.batchSweepSchedule],
      deadlineMs: v[SETTING_NAMES.batchDeadlineMinutes] * 60_000,
      graceMs: v[SETTING_NAMES.batchSweepGraceMinutes] * 60_000,
    },
  };
}

function driftSettings(v: z.infer<typeof EnvSchema>, problems: string[]): AppSettings['drift'] | undefined {
  let reference: DriftReferenceSetting | undefined;
  try {
    reference = parseDriftReference(v[SETTING_NAMES.driftReference], v[SETTING_NAMES.driftReferenceImages]);
  } catch (error) {
    problems.push(`${SETTING_NAMES.driftReference}: ${(error as Error).message}`);
  }
  let thresholds: DriftThresholds | undefined;
  try {
    const parsed = DriftThresholdsSchema.safeParse(JSON.parse(v[SETTING_NAMES.driftThresholds]));
    if (parsed.success) thresholds = parsed.data;
    else
      for (const issue of parsed.error.issues) problems.push(`${SETTING_NAMES.driftThresholds}: ${issue.path.join('.')}: ${issue.message}`);
  } catch (error) {
    problems.push(`${SETTING_NAMES.driftThresholds}: not valid JSON: ${(error as Error).message}`);
  }
  return reference && thresholds ? { reference, thresholds } : undefined;
}

/** Keys the app reads from its settings: registered, so that no log line, document or answer can carry them. */
function registerSettingSecrets(env: NodeJS.ProcessEnv): void {
  registerSecret(env[SETTING_NAMES.cosmosKey]);
  registerSecret(env.AZURE_CLIENT_SECRET);
  for (const part of (env[SETTING_NAMES.storageConnectionString] ?? '').split(';')) {
    const [name, ...value] = part.split('=');
    if (/^(AccountKey|SharedAccessSignature)$/i.test(name?.trim() ?? '')) registerSecret(value.join('='));
  }
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(source, [`not valid JSON: ${(error as Error).message}`]);
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [
      `cannot read the labeling config file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    ]);
  }
}
