/**
 * One image blob in, one label document out: the blob trigger's work, independent of how the blob arrived (Event
 * Grid in Azure, the local watcher, a test). Idempotent on (blob ETag, config hash). Bad images become `failed`
 * documents at once; throttling and outages are recorded as `retrying` and thrown so the host retries, and the try
 * that reaches the limit stores `failed` instead of throwing: no image is ever missing.
 */
import { isLabelingError } from '../../core/pipeline/errors';
import { labelImage } from '../../core/pipeline/label-image';
import type { DurableClientLike } from '../durable';
import type { AppRuntime } from '../runtime';
import { DOCUMENT_SCHEMA_VERSION, type LabelDocument, type LabelError } from '../store/documents';
import { BLOB_CONTAINERS, labelDocumentId } from '../store/names';
import { refreshBatchProgress } from './batch-progress';
import { imageLabeledLine } from './image-labeled-log';

export interface ImageBlob {
  batchId: string;
  name: string;
  bytes: Uint8Array;
  etag: string;
}

export type LabelBlobOutcome =
  | { outcome: 'labeled' | 'failed'; doc: LabelDocument }
  | { outcome: 'duplicate'; doc: LabelDocument };

export interface Logger {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Thrown after a retryable failure was recorded, so the host tries again. */
export class RetryableLabelingFailure extends Error {
  override name = 'RetryableLabelingFailure';
}

export async function labelImageBlob(
  app: AppRuntime,
  blob: ImageBlob,
  durable: DurableClientLike,
  logger: Logger,
): Promise<LabelBlobOutcome> {
  const setup = await app.setup();
  const existing = await app.labels.get(blob.batchId, blob.name);
  const sameWork = existing !== undefined && existing.blob.etag === blob.etag && existing.configHash === setup.configHash;
  if (sameWork && existing.status !== 'retrying') {
    // A repeated delivery: the document is already final. Progress is refreshed in case the earlier try died
    // between writing the document and counting it.
    await refreshBatchProgress(app, blob.batchId, durable, logger);
    return { outcome: 'duplicate', doc: existing };
  }
  const attempts = (sameWork ? existing.attempts : 0) + 1;
  const now = app.now().toISOString();
  const base = {
    id: labelDocumentId(blob.name),
    batchId: blob.batchId,
    name: blob.name,
    kind: 'label' as const,
    schemaVersion: DOCUMENT_SCHEMA_VERSION as typeof DOCUMENT_SCHEMA_VERSION,
    blob: { path: `${BLOB_CONTAINERS.images}/${blob.batchId}/${blob.name}`, etag: blob.etag, bytes: blob.bytes.length },
    configHash: setup.configHash,
    attempts,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };

  let doc: LabelDocument;
  try {
    const { frame } = await labelImage(blob.bytes, blob.name, setup, { now: () => app.now() });
    doc = { ...base, status: 'labeled', frame };
    logger.log(imageLabeledLine({ source: 'blob', batchId: blob.batchId, image: blob.name, boxes: frame.labels.length, provenance: frame.provenance, attempts }));
  } catch (error) {
    const reason = describe(error);
    const giveUp = !reason.retryable || attempts >= app.settings.maxLabelAttempts;
    doc = { ...base, status: giveUp ? 'failed' : 'retrying', error: giveUp && reason.retryable ? { ...reason, message: `gave up after ${attempts} tries: ${reason.message}` } : reason };
    logger.warn(
      JSON.stringify({ event: giveUp ? 'image-failed' : 'image-retrying', batchId: blob.batchId, image: blob.name, kind: reason.kind, reason: reason.message, attempts }),
    );
    if (!giveUp) {
      await app.labels.upsert(doc);
      throw new RetryableLabelingFailure(`${blob.name}: ${reason.message} (try ${attempts} of ${app.settings.maxLabelAttempts})`, { cause: error });
    }
  }
  const stored = await app.labels.upsert(doc);
  await refreshBatchProgress(app, blob.batchId, durable, logger);
  return { outcome: stored.status === 'labeled' ? 'labeled' : 'failed', doc: stored };
}

/** A labeling failure as stored: typed errors keep their kind; anything else is an unexpected (retryable) error. */
function describe(error: unknown): LabelError {
  if (isLabelingError(error)) return { kind: error.kind, message: error.message, retryable: error.retryable || error.kind === 'config' };
  return { kind: 'unexpected', message: (error as Error)?.message ?? String(error), retryable: true };
}

/**
 * The host gave up on a blob (its poison queue message): make sure the image has a final document, so it is
 * visibly failed rather than missing.
 */
export async function markBlobGivenUp(
  app: AppRuntime,
  blob: { batchId: string; name: string; etag: string },
  durable: DurableClientLike,
  logger: Logger,
): Promise<LabelDocument> {
  const existing = await app.labels.get(blob.batchId, blob.name);
  if (existing && existing.status !== 'retrying' && existing.blob.etag === blob.etag) return existing;
  const now = app.now().toISOString();
  const doc: LabelDocument = {
    id: labelDocumentId(blob.name),
    batchId: blob.batchId,
    name: blob.name,
    kind: 'label',
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    status: 'failed',
    blob: existing?.blob ?? { path: `${BLOB_CONTAINERS.images}/${blob.batchId}/${blob.name}`, etag: blob.etag, bytes: 0 },
    configHash: existing?.configHash ?? '',
    attempts: existing?.attempts ?? 1,
    error: {
      kind: existing?.error?.kind ?? 'gave-up',
      message: `the Functions host gave up on this blob after its retries${existing?.error ? `: ${existing.error.message}` : ''}`,
      retryable: false,
    },
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  const stored = await app.labels.upsert(doc);
  logger.warn(JSON.stringify({ event: 'image-poisoned', batchId: blob.batchId, image: blob.name }));
  await refreshBatchProgress(app, blob.batchId, durable, logger);
  return stored;
}
