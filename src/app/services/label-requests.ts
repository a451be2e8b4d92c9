/**
 * Labeling outside the blob trigger, through the `label-requests` queue: the reconcile sweep asks for images that
 * have no final document and no try in progress (a lost event, a lost write), and the blob trigger's poison queue
 * asks for the ones the host gave up on. The queue trigger labels the blob's current version; its last delivery
 * stores a failure with its reason instead of throwing, so every request ends in a final document.
 */
import { redact } from '../../core/redaction';
import type { DurableClientLike } from '../durable';
import type { AppRuntime } from '../runtime';
import { sameEtag } from '../store/blob-store';
import { DOCUMENT_SCHEMA_VERSION, type LabelDocument } from '../store/documents';
import type { LabelRequest } from '../store/label-request-queue';
import { BLOB_CONTAINERS, labelDocumentId } from '../store/names';
import { labelImageBlob, storeImageFailure, type LabelBlobOutcome } from './label-blob';
import type { Logger } from './logger';
import { imageBlobPath, writeLabelDocument } from './label-writes';

export async function requestLabeling(
  app: AppRuntime,
  image: { batchId: string; name: string },
  reason: string,
  logger: Logger,
): Promise<void> {
  await app.labelRequests.send({ ...image, reason, requestedAt: app.now().toISOString() });
  logger.log(JSON.stringify({ event: 'label-requested', batchId: image.batchId, image: image.name, reason }));
}

/**
 * The sweep's request for one blob version: first a `retrying` document stamped now (a try is on its way, so the
 * next sweeps leave the image alone for the grace period instead of asking again while the request waits in the
 * queue), then the message. Nothing is asked when the version got its final document meanwhile, or was replaced.
 */
export async function requestRelabel(
  app: AppRuntime,
  image: { batchId: string; name: string; etag: string },
  reason: string,
  logger: Logger,
): Promise<boolean> {
  const existing = await app.labels.get(image.batchId, image.name);
  const sameVersion = existing !== undefined && sameEtag(existing.blob.etag, image.etag);
  const now = app.now().toISOString();
  const marker: LabelDocument =
    sameVersion && existing.status === 'retrying'
      ? { ...existing, updatedAt: now }
      : {
          id: labelDocumentId(image.name),
          batchId: image.batchId,
          name: image.name,
          kind: 'label',
          schemaVersion: DOCUMENT_SCHEMA_VERSION,
          status: 'retrying',
          blob: { path: `${BLOB_CONTAINERS.images}/${imageBlobPath(image.batchId, image.name)}`, etag: image.etag, bytes: 0 },
          // No labeling config yet: the try that comes labels with the current one and counts its attempts from 1.
          configHash: '',
          attempts: 1,
          error: { kind: 'requested', message: `${reason}; labeling was asked for again`, retryable: true },
          createdAt: existing?.createdAt ?? now,
          updatedAt: now,
        };
  const written = await writeLabelDocument(app, marker, { etag: image.etag });
  if (!written.written) return false;
  await requestLabeling(app, { batchId: image.batchId, name: image.name }, reason, logger);
  return true;
}

export type LabelRequestOutcome = LabelBlobOutcome | { outcome: 'blob-gone' | 'unreadable'; doc: LabelDocument | undefined };

/**
 * One delivery of a label request. `lastTry`: the queue will not deliver it again, so a retryable failure (including
 * storage failing to read the blob) is stored as the image's failure instead of thrown.
 */
export async function labelRequestedImage(
  app: AppRuntime,
  request: LabelRequest,
  durable: DurableClientLike,
  logger: Logger,
  { lastTry }: { lastTry: boolean },
): Promise<LabelRequestOutcome> {
  const image = { batchId: request.batchId, name: request.name };
  const path = imageBlobPath(request.batchId, request.name);
  let blob: { data: Buffer; etag: string } | undefined;
  try {
    blob = await app.blobs.read(BLOB_CONTAINERS.images, path);
  } catch (error) {
    if (!lastTry) throw error;
    const message = `storage could not read ${BLOB_CONTAINERS.images}/${path}: ${describeStorageError(error)}`;
    const doc = await storeImageFailure(app, image, { kind: 'unreadable', message, retryable: false }, 'unknown', durable, logger);
    return { outcome: 'unreadable', doc };
  }
  if (!blob) {
    const message = `${BLOB_CONTAINERS.images}/${path} was deleted before it could be labeled`;
    const doc = await storeImageFailure(app, image, { kind: 'missing', message, retryable: false }, 'absent', durable, logger);
    return { outcome: 'blob-gone', doc };
  }
  return labelImageBlob(app, { ...image, bytes: blob.data, etag: blob.etag }, durable, logger, { lastTry });
}

/**
 * The host gave up on a blob trigger (its poison message): unless that version already has a final document, ask
 * for it through the queue, whose handler finds out what is wrong with the blob and says so.
 */
export async function handleGivenUpBlob(
  app: AppRuntime,
  blob: { batchId: string; name: string; etag: string },
  logger: Logger,
): Promise<'already-final' | 'requested'> {
  const existing = await app.labels.get(blob.batchId, blob.name);
  if (existing && existing.status !== 'retrying' && sameEtag(existing.blob.etag, blob.etag)) return 'already-final';
  logger.warn(JSON.stringify({ event: 'image-poisoned', batchId: blob.batchId, image: blob.name, etag: blob.etag }));
  await requestLabeling(
    app,
    { batchId: blob.batchId, name: blob.name },
    'the Functions host gave up on the blob trigger after its tries',
    logger,
  );
  return 'requested';
}

/** A storage SDK error as `status code: message` (RestError), or the network failure when nothing answered. */
export function describeStorageError(error: unknown): string {
  const e = error as { statusCode?: number; code?: string; message?: string };
  const message = (e?.message ?? String(error)).split('\n')[0]!.trim() || 'no message';
  if (e?.statusCode) return redact(`${e.statusCode}${e.code ? ` ${e.code}` : ''}: ${message}`);
  return redact(`no answer (${e?.code ? `${e.code}: ` : ''}${message})`);
}
