/**
 * Where `npm start` put its local services: written by the local host into its data folder, read by tools such as
 * `autolabel upload`, so they reach the same Azurite and Cosmos DB stand-in without copying connection strings.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const DEFAULT_LOCAL_DATA_DIR = '.autolabel-local';
export const ENDPOINTS_FILE = 'endpoints.json';

export const LocalEndpointsSchema = z.object({
  AzureWebJobsStorage: z.string(),
  COSMOS_ENDPOINT: z.string(),
  COSMOS_KEY: z.string(),
  httpUrl: z.string(),
  pid: z.number().int(),
});
export type LocalEndpoints = z.infer<typeof LocalEndpointsSchema>;

export function readLocalEndpoints(dataDir: string = DEFAULT_LOCAL_DATA_DIR): LocalEndpoints | undefined {
  try {
    return LocalEndpointsSchema.parse(JSON.parse(readFileSync(path.join(dataDir, ENDPOINTS_FILE), 'utf8')));
  } catch {
    return undefined;
  }
}
