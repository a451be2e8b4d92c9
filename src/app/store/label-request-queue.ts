import type { QueueServiceClient } from '@azure/storage-queue';
import { z } from 'zod';
import { BatchIdSchema } from './documents';
import { QUEUES } from './names';

/** A request to label one image of a batch again (its current blob version), outside the blob trigger. */
export const LabelRequestSchema = z.strictObject({
  batchId: BatchIdSchema,
  name: z
    .string()
    .min(1)
    .regex(/^[^/\\]+$/, 'an image name is a file name without folders'),
  /** Why it was asked for (the sweep, the host giving up), for the logs. */
  reason: z.string().min(1).max(500),
  requestedAt: z.string().datetime({ offset: true }),
});
export type LabelRequest = z.infer<typeof LabelRequestSchema>;

/**
 * The `label-requests` queue. Messages are base64 of the JSON, the Functions host's default queue encoding
 * (host.json queues.messageEncoding), so the queue trigger reads them as JSON.
 */
export class LabelRequestQueue {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly queues: QueueServiceClient | undefined) {}

  async send(request: LabelRequest): Promise<void> {
    if (!this.queues) {
      throw new Error(
        'no queue endpoint: set AzureWebJobsStorage__queueServiceUri (identity) or a connection string with a queue endpoint',
      );
    }
    const queue = this.queues.getQueueClient(QUEUES.labelRequests);
    // Created by infra/ in Azure; creating it here as well keeps a fresh local account working.
    this.ready ??= queue.createIfNotExists().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    await this.ready;
    const text = JSON.stringify(LabelRequestSchema.parse(request));
    await queue.sendMessage(Buffer.from(text, 'utf8').toString('base64'));
  }
}
