/**
 * One attempt of one function on one blob version: read the bytes of exactly that version, build the
 * InvocationContext the worker would build, and call the registered handler with `(blob: Buffer, context)`.
 *
 * The download is conditional on the version's ETag: when the blob was overwritten or deleted since the listing,
 * the host skips the stale message (the new version gets its own run), and so does this; the caller sees `superseded`.
 */
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { InvocationContext, type StorageBlobFunctionOptions } from '@azure/functions';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { BlobVersion } from './blob-version';
import { blobTriggerMetadata } from './trigger-metadata';

export type AttemptOutcome = { kind: 'succeeded' } | { kind: 'failed'; error: unknown } | { kind: 'superseded' };

export interface RegisteredBlobFunction {
  name: string;
  options: StorageBlobFunctionOptions;
}

function isGone(err: unknown): boolean {
  const status = (err as { statusCode?: number }).statusCode;
  return status === 404 || status === 412;
}

/** The trigger the worker would report in `context.options.trigger` for app.storageBlob(...). */
function triggerOptions(options: StorageBlobFunctionOptions): InvocationContext['options']['trigger'] {
  // Everything but the handler and the other bindings describes the trigger (path, connection, source, ...).
  const { handler, trigger, extraInputs, extraOutputs, return: returnOutput, ...triggerSettings } = options;
  return trigger ?? { ...triggerSettings, type: 'blobTrigger', name: 'storageBlobTrigger' };
}

export async function invokeOnce(options: {
  blobService: BlobServiceClient;
  fn: RegisteredBlobFunction;
  version: BlobVersion;
  bound: Record<string, string>;
  log: (line: string) => void;
}): Promise<AttemptOutcome> {
  const { blobService, fn, version, bound, log } = options;
  const blobClient = blobService.getContainerClient(version.container).getBlobClient(version.name);
  let content: Buffer;
  try {
    content = await blobClient.downloadToBuffer(0, undefined, { conditions: { ifMatch: version.etag } });
  } catch (err) {
    if (isGone(err)) return { kind: 'superseded' };
    return { kind: 'failed', error: err };
  }
  const invocationId = randomUUID();
  const context = new InvocationContext({
    functionName: fn.name,
    invocationId,
    triggerMetadata: blobTriggerMetadata({ version, uri: blobClient.url, bound, functionName: fn.name }),
    logHandler: (level, ...args) => log(`[${fn.name}] ${level}: ${format(...args)}`),
    options: {
      trigger: triggerOptions(fn.options),
      return: fn.options.return,
      extraInputs: fn.options.extraInputs ?? [],
      extraOutputs: fn.options.extraOutputs ?? [],
    },
  });
  try {
    await fn.options.handler(content, context);
    return { kind: 'succeeded' };
  } catch (error) {
    return { kind: 'failed', error };
  }
}
