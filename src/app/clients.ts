/**
 * The SDK clients the app talks through, built once from the settings. In Azure: a user-assigned managed identity
 * (no keys), storage's and Cosmos DB's each by its own client id (one shared credential per identity: see
 * adapters/identity/credentials); locally: Azurite's connection string and the Cosmos stand-in's well-known key.
 */
import { CosmosClient, type Container, type Database } from '@azure/cosmos';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { azureCredential } from '../adapters/identity/credentials';
import type { AppSettings } from './settings';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from './store/names';

export interface AppClients {
  blobs: BlobServiceClient;
  queues: QueueServiceClient | undefined;
  cosmos: CosmosClient;
  database: Database;
  containers: { labels: Container; batches: Container; reports: Container; reviews: Container };
  dispose(): void;
}

export function createClients(settings: AppSettings): AppClients {
  const { storage, cosmos: c } = settings;
  const blobs =
    storage.kind === 'connection-string'
      ? BlobServiceClient.fromConnectionString(storage.connectionString)
      : new BlobServiceClient(storage.blobServiceUri, azureCredential(storage.clientId));
  const queues =
    storage.kind === 'connection-string'
      ? QueueServiceClient.fromConnectionString(storage.connectionString)
      : storage.queueServiceUri
        ? new QueueServiceClient(storage.queueServiceUri, azureCredential(storage.clientId))
        : undefined;
  const cosmos = new CosmosClient({
    endpoint: c.endpoint,
    ...(c.auth.kind === 'key' ? { key: c.auth.key } : { aadCredentials: azureCredential(c.auth.clientId) }),
    ...(c.disableEndpointDiscovery ? { connectionPolicy: { enableEndpointDiscovery: false } } : {}),
  });
  const database = cosmos.database(c.database);
  return {
    blobs,
    queues,
    cosmos,
    database,
    containers: {
      labels: database.container(COSMOS_CONTAINERS.labels.id),
      batches: database.container(COSMOS_CONTAINERS.batches.id),
      reports: database.container(COSMOS_CONTAINERS.reports.id),
      reviews: database.container(COSMOS_CONTAINERS.reviews.id),
    },
    dispose: () => cosmos.dispose(),
  };
}

/**
 * Create the database, containers and blob containers if missing. Local runs and tests only: in Azure, infra/
 * creates them and the app's identity has data-plane rights alone (it cannot create Cosmos containers).
 */
export async function ensureResources(clients: AppClients, databaseId: string): Promise<void> {
  await clients.cosmos.databases.createIfNotExists({ id: databaseId });
  for (const spec of Object.values(COSMOS_CONTAINERS)) {
    await clients.database.containers.createIfNotExists({ id: spec.id, partitionKey: { paths: [spec.partitionKey] } });
  }
  for (const name of Object.values(BLOB_CONTAINERS)) await clients.blobs.getContainerClient(name).createIfNotExists();
}
