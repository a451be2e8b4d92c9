/**
 * One attempt of one function on one blob version: read the bytes of exactly that version and invoke the function
 * with them and the trigger metadata the worker would pass.
 *
 * The download is conditional on the version's ETag: when the blob was overwritten or deleted since the listing,
 * the host skips the stale message (the new version gets its own run), and so does this; the caller sees `superseded`.
 */
import type { BlobServiceClient } from '@azure/storage-blob';
import type { BlobVersion } from './blob-version';
import { blobTriggerMetadata } from './trigger-metadata';

export type AttemptOutcome = { kind: 'succeeded' } | { kind: 'failed'; error: unknown } | { kind: 'superseded' };

/** A blob-triggered function: its trigger path and how to invoke it (with the InvocationContext the worker builds). */
export interface RegisteredBlobFunction {
  name: string;
  /** The trigger's `path`, e.g. `images/{batchId}/{name}`. */
  path: string;
  invoke(blob: Buffer, triggerMetadata: Record<string, unknown>): Promise<unknown>;
}

function isGone(err: unknown): boolean {
  const status = (err as { statusCode?: number }).statusCode;
  return status === 404 || status === 412;
}

export async function invokeOnce(options: {
  blobService: BlobServiceClient;
  fn: RegisteredBlobFunction;
  version: BlobVersion;
  bound: Record<string, string>;
}): Promise<AttemptOutcome> {
  const { blobService, fn, version, bound } = options;
  const blobClient = blobService.getContainerClient(version.container).getBlobClient(version.name);
  let content: Buffer;
  try {
    content = await blobClient.downloadToBuffer(0, undefined, { conditions: { ifMatch: version.etag } });
  } catch (err) {
    if (isGone(err)) return { kind: 'superseded' };
    return { kind: 'failed', error: err };
  }
  try {
    await fn.invoke(content, blobTriggerMetadata({ version, uri: blobClient.url, bound, functionName: fn.name }));
    return { kind: 'succeeded' };
  } catch (error) {
    return { kind: 'failed', error };
  }
}
