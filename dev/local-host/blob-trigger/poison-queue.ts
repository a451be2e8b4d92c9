/**
 * The host's report of a blob that failed every attempt: a message on queue `webjobs-blobtrigger-poison` holding the
 * BlobTriggerMessage it was retrying, serialized by Newtonsoft.Json in this property order:
 *
 *   {"Type":"BlobTrigger","FunctionId":"Host.Functions.f","BlobType":"BlockBlob","ContainerName":"images",
 *    "BlobName":"b1/x.jpg","ETag":"\"0x8D...\""}
 *
 * The host's queue clients use the Functions default `queues.messageEncoding` = base64, so the message text on the
 * wire is the base64 of that UTF-8 JSON; a queue-triggered function (or the host's own decoding) reads it back as JSON.
 */
import type { QueueServiceClient } from '@azure/storage-queue';
import type { BlobVersion } from './blob-version';
import { POISON_QUEUE } from './host-names';

export interface BlobTriggerPoisonMessage {
  Type: 'BlobTrigger';
  FunctionId: string;
  /** BlobType as the track-1 SDK spelled it (the v5 extension keeps that spelling): BlockBlob, PageBlob, AppendBlob. */
  BlobType: string;
  ContainerName: string;
  BlobName: string;
  ETag: string;
}

export function poisonMessage(functionId: string, version: BlobVersion): BlobTriggerPoisonMessage {
  return {
    Type: 'BlobTrigger',
    FunctionId: functionId,
    BlobType: version.properties.blobType ?? 'BlockBlob',
    ContainerName: version.container,
    BlobName: version.name,
    ETag: version.etag,
  };
}

export function encodePoisonMessage(message: BlobTriggerPoisonMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

export function decodePoisonMessage(text: string): BlobTriggerPoisonMessage {
  return JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as BlobTriggerPoisonMessage;
}

export class PoisonQueue {
  private queueReady = false;

  constructor(private readonly queueService: QueueServiceClient) {}

  get name(): string {
    return POISON_QUEUE;
  }

  async send(message: BlobTriggerPoisonMessage): Promise<void> {
    const queue = this.queueService.getQueueClient(POISON_QUEUE);
    if (!this.queueReady) {
      await queue.createIfNotExists();
      this.queueReady = true;
    }
    await queue.sendMessage(encodePoisonMessage(message));
  }
}
