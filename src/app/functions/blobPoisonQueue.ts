import { app, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';
import { handleGivenUpBlob } from '../services/label-requests';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../store/names';
import { STORAGE_CONNECTION } from '../settings';

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
 * webjobs-blobtrigger-poison: an image the host gave up on (e.g. the blob could not be read, or Cosmos DB was
 * unreachable for all five tries) is asked for again through the label-requests queue, whose handler labels it or
 * stores why it cannot be; a batch never waits for an image that will not come, and no failure is left without a reason.
 */
export async function blobPoisonQueueHandler(
  message: unknown,
  context: InvocationContext,
): Promise<'requested' | 'already-final' | 'ignored'> {
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
  return handleGivenUpBlob(appRuntime(), { batchId, name, etag: ETag }, context);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

app.storageQueue('blobPoisonQueue', {
  queueName: BLOB_POISON_QUEUE,
  connection: STORAGE_CONNECTION,
  handler: withRedaction(blobPoisonQueueHandler),
});
