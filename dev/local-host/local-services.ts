/**
 * Azurite and the Cosmos DB stand-in together, for local runs and tests. With `dataDir`, Azurite keeps its files in
 * `<dataDir>/azurite` and the Cosmos snapshot goes to `<dataDir>/cosmos` (see azurite.ts and cosmos-emulator.ts for
 * what survives a restart and how).
 */
import path from 'node:path';
import { startAzurite, type AzuriteHandle, type StartAzuriteOptions } from './azurite';
import { startCosmosEmulator, type CosmosEmulatorHandle, type StartCosmosOptions } from './cosmos-emulator';

export interface StartLocalServicesOptions {
  dataDir?: string;
  azurite?: Omit<StartAzuriteOptions, 'dataDir'>;
  cosmos?: Omit<StartCosmosOptions, 'dataDir'>;
}

/** Environment variables the app reads to reach storage and Cosmos DB. */
export interface LocalServicesEnv {
  /** Functions host storage and the default connection of blob/queue triggers. */
  AzureWebJobsStorage: string;
  /** Same connection string, under the name the Azure Storage SDK samples use. */
  AZURE_STORAGE_CONNECTION_STRING: string;
  COSMOS_ENDPOINT: string;
  COSMOS_KEY: string;
  /** 'true' against the local stand-in (plain HTTP): the app must pass connectionPolicy.enableEndpointDiscovery=false. */
  COSMOS_DISABLE_ENDPOINT_DISCOVERY: string;
}

export interface LocalServices {
  azurite: AzuriteHandle;
  cosmos: CosmosEmulatorHandle;
  dataDir: string | undefined;
  env(): LocalServicesEnv;
  /** Stops both (Cosmos first, so its snapshot is written). Safe to call twice. */
  stop(): Promise<void>;
}

export async function startLocalServices(options: StartLocalServicesOptions = {}): Promise<LocalServices> {
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : undefined;
  const [azurite, cosmos] = await Promise.allSettled([
    startAzurite({ ...options.azurite, ...(dataDir ? { dataDir: path.join(dataDir, 'azurite') } : {}) }),
    startCosmosEmulator({ ...options.cosmos, ...(dataDir ? { dataDir: path.join(dataDir, 'cosmos') } : {}) }),
  ]);
  if (azurite.status === 'rejected' || cosmos.status === 'rejected') {
    if (azurite.status === 'fulfilled') await azurite.value.stop();
    if (cosmos.status === 'fulfilled') await cosmos.value.stop();
    throw azurite.status === 'rejected' ? azurite.reason : (cosmos as PromiseRejectedResult).reason;
  }
  const az = azurite.value;
  const cs = cosmos.value;
  let stopping: Promise<void> | undefined;
  return {
    azurite: az,
    cosmos: cs,
    dataDir,
    env: () => ({
      AzureWebJobsStorage: az.connectionString,
      AZURE_STORAGE_CONNECTION_STRING: az.connectionString,
      COSMOS_ENDPOINT: cs.endpoint,
      COSMOS_KEY: cs.key,
      COSMOS_DISABLE_ENDPOINT_DISCOVERY: 'true',
    }),
    stop: () => {
      stopping ??= (async () => {
        const results = await Promise.allSettled([cs.stop(), az.stop()]);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return stopping;
    },
  };
}
