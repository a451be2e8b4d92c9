/**
 * Writes the data the Bicep templates load with loadJsonContent, from the code that owns it, so the two cannot drift:
 *   npm run infra:data        rewrites infra/app/app-settings.json and infra/app/data-resources.json
 *
 * - app-settings.json: every app setting of src/app/settings.ts that has a default, with that default as a string
 *   (app settings are strings). function-app.bicep unions it with the settings only the deployment knows (endpoints,
 *   the identity, the labeling config). Putting the defaults in Azure explicitly shows them in the portal, where they
 *   can be changed without a deployment.
 * - data-resources.json: the blob containers, queues and Cosmos DB containers (with partition keys) of
 *   src/app/store/names.ts, and the database the app uses by default; storage.bicep and cosmos.bicep create them.
 *
 * test/deploy-settings.test.ts regenerates both in memory and fails when a committed file differs.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { ZodType } from 'zod';
import { EnvSchema, SETTING_NAMES } from '../src/app/settings';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS, QUEUES } from '../src/app/store/names';

const ROOT = path.resolve(__dirname, '..');
export const APP_SETTINGS_FILE = 'infra/app/app-settings.json';
export const DATA_RESOURCES_FILE = 'infra/app/data-resources.json';

/** The default of every setting that has one, as the app setting string that parses back to it. */
export function appSettingDefaults(): Record<string, string> {
  const defaults: Record<string, string> = {};
  const schemas: Record<string, ZodType | undefined> = EnvSchema.shape;
  for (const name of Object.values(SETTING_NAMES)) {
    // Not every setting is parsed here (AUTOLABEL_LOCAL_WORKERS is read by the local workers, per machine).
    const schema = schemas[name];
    if (!schema) continue;
    // A setting without a default parses `undefined` as undefined (optional) or not at all (required).
    const parsed = schema.safeParse(undefined);
    if (parsed.success && parsed.data !== undefined) defaults[name] = String(parsed.data);
  }
  return defaults;
}

export interface DataResources {
  blobContainers: string[];
  queues: string[];
  cosmos: { database: string; containers: Array<{ name: string; partitionKey: string }> };
}

export function dataResources(): DataResources {
  const database = appSettingDefaults()[SETTING_NAMES.cosmosDatabase];
  if (!database) throw new Error(`${SETTING_NAMES.cosmosDatabase} has no default in src/app/settings.ts`);
  return {
    blobContainers: Object.values(BLOB_CONTAINERS),
    queues: Object.values(QUEUES),
    cosmos: {
      database,
      containers: Object.values(COSMOS_CONTAINERS).map((c) => ({ name: c.id, partitionKey: c.partitionKey })),
    },
  };
}

/** The generated files by path (relative to the repository root), as data. */
export function infraData(): Record<string, unknown> {
  return { [APP_SETTINGS_FILE]: appSettingDefaults(), [DATA_RESOURCES_FILE]: dataResources() };
}

/** Each file as Prettier writes it, so `npm run lint` (prettier --check) accepts what this generates. */
export async function renderInfraData(): Promise<Record<string, string>> {
  const rendered: Record<string, string> = {};
  for (const [file, data] of Object.entries(infraData())) {
    const filepath = path.join(ROOT, file);
    rendered[file] = await format(JSON.stringify(data, null, 2), { ...(await resolveConfig(filepath)), filepath });
  }
  return rendered;
}

if (require.main === module) {
  void renderInfraData().then((files) => {
    for (const [file, text] of Object.entries(files)) {
      writeFileSync(path.join(ROOT, file), text);
      console.log(`wrote ${file}`);
    }
  });
}
