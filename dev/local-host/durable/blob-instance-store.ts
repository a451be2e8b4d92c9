/**
 * Instance documents as JSON blobs: one blob per instance (`instances/<encoded id>.json`) in one container of
 * Azurite or Azure Storage. A write is one Put Blob (uploadData of a small buffer is a single request), which
 * replaces the blob atomically. The runtime status is also kept in the blob's metadata so resume() can find the
 * unfinished instances from one listing without downloading every document.
 */
import { BlobServiceClient, RestError, type ContainerClient } from '@azure/storage-blob';
import { InstanceStateSchema, RuntimeStatusSchema, type RuntimeStatus } from './instance-state';
import type { InstanceStore } from './instance-store';

export const DEFAULT_DURABLE_CONTAINER = 'durable-local';
const PREFIX = 'instances/';
const SUFFIX = '.json';
/** Metadata names are C# identifiers and case-insensitive; the service returns them lower-cased. */
const STATUS_METADATA = 'runtimestatus';

export interface BlobInstanceStoreOptions {
  /** A connection string (e.g. Azurite's) or a ready client (e.g. one with a managed identity credential). */
  connection: string | BlobServiceClient;
  containerName?: string;
}

function blobName(instanceId: string): string {
  return `${PREFIX}${encodeURIComponent(instanceId)}${SUFFIX}`;
}

function instanceIdOf(name: string): string | undefined {
  if (!name.startsWith(PREFIX) || !name.endsWith(SUFFIX)) return undefined;
  return decodeURIComponent(name.slice(PREFIX.length, name.length - SUFFIX.length));
}

async function readText(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function isNotFound(error: unknown): boolean {
  return error instanceof RestError && error.statusCode === 404;
}

export function createBlobInstanceStore(options: BlobInstanceStoreOptions): InstanceStore {
  const service = typeof options.connection === 'string' ? BlobServiceClient.fromConnectionString(options.connection) : options.connection;
  const container: ContainerClient = service.getContainerClient(options.containerName ?? DEFAULT_DURABLE_CONTAINER);
  let created: Promise<unknown> | undefined;
  // Created on first write only: reads and listings of a missing container simply find nothing.
  const ensureContainer = (): Promise<unknown> => {
    created ??= container.createIfNotExists().catch((error: unknown) => {
      created = undefined;
      throw error;
    });
    return created;
  };

  return {
    async read(instanceId) {
      try {
        // One GET: a consistent copy even while the blob is being replaced (downloadToBuffer may use several
        // ranged reads, which can straddle two versions).
        const response = await container.getBlockBlobClient(blobName(instanceId)).download();
        return InstanceStateSchema.parse(JSON.parse(await readText(response.readableStreamBody)));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    async write(state) {
      const valid = InstanceStateSchema.parse(state);
      await ensureContainer();
      await container.getBlockBlobClient(blobName(valid.instanceId)).uploadData(Buffer.from(JSON.stringify(valid)), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        metadata: { [STATUS_METADATA]: valid.runtimeStatus },
      });
    },

    async listIds(statuses) {
      const ids: string[] = [];
      try {
        for await (const item of container.listBlobsFlat({ prefix: PREFIX, includeMetadata: true })) {
          const id = instanceIdOf(item.name);
          if (id === undefined) continue;
          const status = RuntimeStatusSchema.safeParse(item.metadata?.[STATUS_METADATA]);
          // A blob without readable status metadata is listed whenever statuses are asked for: the caller reads
          // the document itself and decides.
          if (!statuses || !status.success || statuses.includes(status.data as RuntimeStatus)) ids.push(id);
        }
      } catch (error) {
        if (isNotFound(error)) return [];
        throw error;
      }
      return ids;
    },
  };
}
