/**
 * Local blob trigger: runs app.storageBlob handlers against Azurite with the host's receipts, retries and poison
 * queue. Usage:
 *
 *   const trigger = startBlobTrigger({
 *     blobService: BlobServiceClient.fromConnectionString(cs),
 *     queueService: QueueServiceClient.fromConnectionString(cs),
 *     functions: [{ name: 'labelImageBlob', options: labelImageBlobOptions }],
 *   });
 *   await trigger.idle();   // every matching blob processed or poisoned
 *   await trigger.close();
 */
export { startBlobTrigger } from './start-blob-trigger';
export type { BlobTrigger, BlobTriggerStats, StartBlobTriggerOptions } from './start-blob-trigger';
export type { RegisteredBlobFunction } from './invoke-handler';
export { parseBlobPathPattern, type BlobPathPattern } from './path-pattern';
export { receiptBlobName } from './receipts';
export { decodePoisonMessage, encodePoisonMessage, type BlobTriggerPoisonMessage } from './poison-queue';
export { defaultHostId, functionFullName, HOST_MAX_ATTEMPTS, HOSTS_CONTAINER, POISON_QUEUE, RECEIPTS_DIRECTORY } from './host-names';
