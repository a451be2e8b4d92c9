import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { formatZodError } from '../../core/labels/read';
import { durableClientFor } from '../durable';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';
import { labelRequestedImage, type LabelRequestOutcome } from '../services/label-requests';
import { STORAGE_CONNECTION } from '../settings';
import { LabelRequestSchema } from '../store/label-request-queue';
import { QUEUES } from '../store/names';

/** host.json `extensions.queues.maxDequeueCount`: the host's last delivery of a queue message. */
export const MAX_DEQUEUE_COUNT = 5;

const TriggerMetadata = z.looseObject({ dequeueCount: z.coerce.number().int().positive().default(1) });

/**
 * label-requests: label one image again, from the reconcile sweep or after the blob trigger gave up. Retryable
 * failures throw so the host delivers the message again; its last delivery stores the failure instead. A message
 * that is not a label request is logged and dropped (retrying cannot fix its content).
 */
export async function labelImageQueueHandler(
  message: unknown,
  context: InvocationContext,
): Promise<LabelRequestOutcome | { outcome: 'ignored' }> {
  const request = LabelRequestSchema.safeParse(message);
  if (!request.success) {
    context.warn(JSON.stringify({ event: 'label-request-invalid', reason: formatZodError(request.error) }));
    return { outcome: 'ignored' };
  }
  const { dequeueCount } = TriggerMetadata.parse(context.triggerMetadata ?? {});
  const lastTry = dequeueCount >= MAX_DEQUEUE_COUNT;
  return labelRequestedImage(appRuntime(), request.data, durableClientFor(context), context, { lastTry });
}

app.storageQueue('labelImageQueue', {
  queueName: QUEUES.labelRequests,
  connection: STORAGE_CONNECTION,
  extraInputs: [df.input.durableClient()],
  handler: withRedaction(labelImageQueueHandler),
});
