import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { durableClientFor } from '../app/durable';
import { register } from '../app/registry';
import { appRuntime } from '../app/runtime';
import { markBlobGivenUp } from '../app/services/label-blob';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../app/store/names';
import { STORAGE_CONNECTION } from '../app/settings';

/** The queue the host writes to when it gives up on a blob trigger invocation (after 5 tries). */
export const BLOB_POISON_QUEUE = 'webjobs-blobtrigger-poison';

/** The host's poison message; extra keys are kept. */
export const PoisonMessageSchema = z.looseObject({
  FunctionId: z.string(),
  BlobType: z.string().optional(),
  ContainerName: z.string(),
  BlobName: z.string(),
  ETag: z.string(),
});

/**
 * webjobs-blobtrigger-poison: an image the host gave up on gets a `failed` document, so a batch never waits for an
 * image that will not come (e.g. Cosmos DB was unreachable for all five tries).
 */
export async function blobPoisonQueueHandler(message: unknown, context: InvocationContext): Promise<'marked' | 'ignored'> {
  const parsed = PoisonMessageSchema.safeParse(typeof message === 'string' ? safeJson(message) : message);
  if (!parsed.success) {
    context.warn(JSON.stringify({ event: 'poison-message-unreadable', message }));
    return 'ignored';
  }
  const { ContainerName, BlobName, ETag } = parsed.data;
  const [batchId, name, ...rest] = BlobName.split('/');
  if (ContainerName !== BLOB_CONTAINERS.images || !batchId || !name || rest.length || name === MANIFEST_NAME) {
    context.warn(JSON.stringify({ event: 'poison-message-ignored', container: ContainerName, blob: BlobName }));
    return 'ignored';
  }
  await markBlobGivenUp(appRuntime(), { batchId, name, etag: ETag }, durableClientFor(context), context);
  return 'marked';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

register.storageQueue('blobPoisonQueue', {
  queueName: BLOB_POISON_QUEUE,
  connection: STORAGE_CONNECTION,
  extraInputs: [df.input.durableClient()],
  handler: blobPoisonQueueHandler,
});
