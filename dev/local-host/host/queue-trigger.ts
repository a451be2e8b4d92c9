/**
 * The host's queue trigger, locally: poll each queue, hand every message to the same handler the Functions host
 * would call (JSON messages parsed, base64 decoded like the host's default encoding), delete it on success, let it
 * reappear after the visibility timeout on failure, and move it to `<queue>-poison` after maxDequeueCount tries.
 */
import { describeError } from '../../../src/core/redaction';
import type { QueueServiceClient } from '@azure/storage-queue';

export const MAX_DEQUEUE_COUNT = 5;

export interface QueueTriggerHandle {
  /** Resolves once every queue was seen empty (tests). */
  drained(): Promise<void>;
  close(): Promise<void>;
}

/** The host's decoding: base64 text that decodes to UTF-8 JSON, else plain JSON, else the text itself. */
export function decodeQueueMessage(text: string): unknown {
  const candidates = [text];
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0) candidates.unshift(Buffer.from(text, 'base64').toString('utf8'));
  for (const candidate of candidates) {
    try {
      return JSON.parse(candidate);
    } catch {
      // not JSON: try the next reading
    }
  }
  return candidates[0];
}

export function startQueueTriggers(args: {
  queues: QueueServiceClient;
  /** The queue-triggered functions: their queue and how to invoke them (with the InvocationContext the worker builds). */
  functions: Array<{
    name: string;
    queueName: string;
    invoke(message: unknown, triggerMetadata: Record<string, unknown>): Promise<unknown>;
  }>;
  pollIntervalMs?: number;
  visibilityTimeoutSeconds?: number;
  log?: (line: string) => void;
}): QueueTriggerHandle {
  const log = args.log ?? (() => undefined);
  const interval = args.pollIntervalMs ?? 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  let emptyWaiters: Array<() => void> = [];

  const pollOnce = async (): Promise<boolean> => {
    let sawMessages = false;
    for (const { name, queueName, invoke } of args.functions) {
      const queue = args.queues.getQueueClient(queueName);
      await queue.createIfNotExists();
      const { receivedMessageItems } = await queue.receiveMessages({
        numberOfMessages: 16,
        visibilityTimeout: args.visibilityTimeoutSeconds ?? 30,
      });
      // The host runs a received batch (queues.batchSize, 16) concurrently, not one message after another.
      sawMessages ||= receivedMessageItems.length > 0;
      await Promise.all(
        receivedMessageItems.map(async (message) => {
          const triggerMetadata = {
            id: message.messageId,
            dequeueCount: message.dequeueCount,
            insertionTime: message.insertedOn,
            popReceipt: message.popReceipt,
          };
          try {
            await invoke(decodeQueueMessage(message.messageText), triggerMetadata);
            await queue.deleteMessage(message.messageId, message.popReceipt);
          } catch (error) {
            log(`[${name}] message ${message.messageId} failed (try ${message.dequeueCount}): ${describeError(error)}`);
            if (message.dequeueCount >= MAX_DEQUEUE_COUNT) {
              const poison = args.queues.getQueueClient(`${queueName}-poison`);
              await poison.createIfNotExists();
              await poison.sendMessage(message.messageText);
              await queue.deleteMessage(message.messageId, message.popReceipt);
              log(`[${name}] message ${message.messageId} moved to ${queueName}-poison`);
            }
          }
        }),
      );
    }
    return sawMessages;
  };

  const loop = () => {
    if (stopped) return;
    current = pollOnce()
      .then((busy) => {
        if (!busy) {
          const waiters = emptyWaiters;
          emptyWaiters = [];
          for (const resolve of waiters) resolve();
        }
      })
      .catch((error: unknown) => log(`queue poll failed: ${(error as Error).message}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, interval);
      });
  };
  loop();

  return {
    drained: () => new Promise<void>((resolve) => emptyWaiters.push(resolve)),
    async close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
      for (const resolve of emptyWaiters) resolve();
      emptyWaiters = [];
    },
  };
}
