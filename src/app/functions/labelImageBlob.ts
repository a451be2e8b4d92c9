import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { durableClientFor } from '../durable';
import { withRedaction } from '../redacted-context';
import { appRuntime, type AppRuntime } from '../runtime';
import { labelImageBlob, type LabelBlobOutcome } from '../services/label-blob';
import { declareBatch } from '../services/manifest';
import { BatchIdSchema } from '../store/documents';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../store/names';
import { STORAGE_CONNECTION } from '../settings';

export const LABEL_IMAGE_BLOB_PATH = `${BLOB_CONTAINERS.images}/{batchId}/{name}`;

/**
 * The blob version this invocation saw. The host passes the blob's properties in the trigger metadata; the casing of
 * their keys differs between hosts, so any `etag` key is accepted. Undefined when there is none.
 */
export function blobVersion(context: InvocationContext): string | undefined {
  const properties = context.triggerMetadata?.['properties'];
  if (properties && typeof properties === 'object') {
    for (const [key, value] of Object.entries(properties)) {
      if (key.toLowerCase() === 'etag' && typeof value === 'string' && value) return value;
    }
  }
  return undefined;
}

/**
 * images/{batchId}/{name}: label the image into Cosmos DB, or, for `_batch.json`, declare the batch complete.
 * Retryable failures throw (the host retries, up to 5 tries); everything else ends in a final document.
 */
export async function labelImageBlobHandler(
  blob: unknown,
  context: InvocationContext,
): Promise<LabelBlobOutcome | { outcome: 'declared' | 'ignored' | 'deleted' }> {
  const batchId = String(context.triggerMetadata?.['batchId'] ?? '');
  const name = String(context.triggerMetadata?.['name'] ?? '');
  const bytes = toBytes(blob);
  if (!BatchIdSchema.safeParse(batchId).success || !name || name.includes('/')) {
    // Nothing to retry: the path itself is not a batch image. Logged so the uploader can see why.
    context.warn(
      JSON.stringify({
        event: 'blob-ignored',
        path: `${BLOB_CONTAINERS.images}/${batchId}/${name}`,
        reason: 'expected images/{batchId}/{file name}',
      }),
    );
    return { outcome: 'ignored' };
  }
  const app = appRuntime();
  const durable = durableClientFor(context);
  const version = await versionedBytes(app, context, { batchId, name, bytes });
  if (!version) {
    context.warn(JSON.stringify({ event: 'blob-deleted', path: `${BLOB_CONTAINERS.images}/${batchId}/${name}` }));
    return { outcome: 'deleted' };
  }
  if (name === MANIFEST_NAME) {
    await declareBatch(app, { batchId, ...version }, durable, context);
    return { outcome: 'declared' };
  }
  return labelImageBlob(app, { batchId, name, ...version }, durable, context);
}

/**
 * The bytes and the ETag of one and the same version. Documents are keyed on the ETag, so a host that gives no ETag
 * must not be answered with a guess: the blob is downloaded again, which returns both together (undefined: deleted).
 */
async function versionedBytes(
  app: AppRuntime,
  context: InvocationContext,
  blob: { batchId: string; name: string; bytes: Uint8Array },
): Promise<{ bytes: Uint8Array; etag: string } | undefined> {
  const etag = blobVersion(context);
  if (etag) return { bytes: blob.bytes, etag };
  const read = await app.blobs.read(BLOB_CONTAINERS.images, `${blob.batchId}/${blob.name}`);
  return read && { bytes: read.data, etag: read.etag };
}

function toBytes(blob: unknown): Uint8Array {
  if (blob instanceof Uint8Array) return blob;
  if (blob instanceof ArrayBuffer) return new Uint8Array(blob);
  if (typeof blob === 'string') return Buffer.from(blob, 'utf8');
  throw new TypeError(`unexpected blob input of type ${typeof blob}`);
}

app.storageBlob('labelImageBlob', {
  path: LABEL_IMAGE_BLOB_PATH,
  connection: STORAGE_CONNECTION,
  source: 'EventGrid',
  extraInputs: [df.input.durableClient()],
  handler: withRedaction(labelImageBlobHandler),
});
