/**
 * One image blob in, one label document out: the blob trigger's work, independent of how the blob arrived (Event
 * Grid in Azure, the local watcher, the label-requests queue, a test). Idempotent on (blob ETag, config hash).
 * Bad images become `failed` documents at once; throttling and outages are recorded as `retrying` and thrown so the
 * host retries, and the try that reaches the limit stores `failed` instead of throwing: no image is ever missing.
 * Documents are written only for the blob's current version (label-writes.ts): an older version that finishes late
 * is `superseded` and leaves the newer version's document alone.
 */
import { isLabelingError } from '../../core/pipeline/errors';
import { redact } from '../../core/redaction';
import { labelImage } from '../../core/pipeline/label-image';
import type { LabelProvenance } from '../../core/pipeline/provenance';
import type { DurableClientLike } from '../durable';
import type { AppRuntime } from '../runtime';
import { sameEtag, type BlobProperties } from '../store/blob-store';
import { DOCUMENT_SCHEMA_VERSION, type LabelDocument, type LabelError } from '../store/documents';
import { BLOB_CONTAINERS, labelDocumentId } from '../store/names';
import { refreshBatchProgress } from './batch-progress';
import { imageLabeledLine } from './image-labeled-log';
import type { Logger } from './logger';
import { imageBlobPath, withinDocumentLimit, writeLabelDocument, type BlobExpectation } from './label-writes';

export interface ImageBlob {
  batchId: string;
  name: string;
  bytes: Uint8Array;
  etag: string;
}

export type LabelBlobOutcome =
  | { outcome: 'labeled' | 'failed' | 'duplicate'; doc: LabelDocument }
  /** The blob was overwritten (or deleted) meanwhile: this version's labels were not stored. */
  | { outcome: 'superseded'; currentEtag: string | undefined };

export interface LabelBlobOptions {
  /** Nobody will try again after this (the label-requests queue's last delivery): store a retryable failure as failed. */
  lastTry?: boolean;
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
  options: LabelBlobOptions = {},
): Promise<LabelBlobOutcome> {
  const setup = await app.setup();
  const existing = await app.labels.get(blob.batchId, blob.name);
  const sameWork = existing !== undefined && sameEtag(existing.blob.etag, blob.etag) && existing.configHash === setup.configHash;
  if (sameWork && existing.status !== 'retrying') {
    // A repeated delivery: the document is already final (and counted with its write). The batch is looked at
    // again in case the earlier try died between that write and moving the batch on.
    await refreshBatchProgress(app, blob.batchId, durable, logger);
    return { outcome: 'duplicate', doc: existing };
  }
  // Checked before the work as well as at the write: an overwritten blob's old version is not worth labeling.
  const current = await app.blobs.properties(BLOB_CONTAINERS.images, imageBlobPath(blob.batchId, blob.name));
  if (!current || !sameEtag(current.etag, blob.etag)) return superseded(blob, current, logger);

  const attempts = (sameWork ? existing.attempts : 0) + 1;
  const base = documentBase(app, blob, { configHash: setup.configHash, attempts, createdAt: existing?.createdAt });
  let doc: LabelDocument;
  let provenance: LabelProvenance | undefined;
  try {
    const { frame } = await labelImage(blob.bytes, blob.name, setup, { now: () => app.now() });
    provenance = frame.provenance;
    doc = withinDocumentLimit({ ...base, status: 'labeled', frame });
  } catch (error) {
    const reason = describeLabelingFailure(error);
    const giveUp = !reason.retryable || options.lastTry === true || attempts >= app.settings.maxLabelAttempts;
    const error_ = giveUp && reason.retryable ? { ...reason, message: `gave up after ${attempts} tries: ${reason.message}` } : reason;
    doc = { ...base, status: giveUp ? 'failed' : 'retrying', error: error_ };
  }

  const result = await writeLabelDocument(app, doc, { etag: blob.etag });
  if (!result.written) {
    if (result.why === 'superseded') return superseded(blob, result.current, logger);
    await refreshBatchProgress(app, blob.batchId, durable, logger);
    return { outcome: 'duplicate', doc: result.doc };
  }
  logOutcome(result.doc, logger, provenance);
  if (result.doc.status === 'retrying') {
    const reason = result.doc.error!;
    throw new RetryableLabelingFailure(`${blob.name}: ${reason.message} (try ${attempts} of ${app.settings.maxLabelAttempts})`);
  }
  await refreshBatchProgress(app, blob.batchId, durable, logger, result.progress);
  return { outcome: result.doc.status === 'labeled' ? 'labeled' : 'failed', doc: result.doc };
}

/**
 * A `failed` document for an image whose blob has no version to label: it never arrived (`missing`, the batch
 * deadline passed), was deleted, or storage cannot read it. Written only while that is still so, and never over a
 * final outcome. Returns the stored document, or undefined when the image has an outcome or a blob after all.
 */
export async function storeImageFailure(
  app: AppRuntime,
  image: { batchId: string; name: string; etag?: string },
  error: LabelError,
  expectation: BlobExpectation,
  durable: DurableClientLike,
  logger: Logger,
): Promise<LabelDocument | undefined> {
  const existing = await app.labels.get(image.batchId, image.name);
  const doc: LabelDocument = {
    ...documentBase(
      app,
      { ...image, etag: image.etag ?? '', bytes: new Uint8Array(0) },
      {
        configHash: existing?.configHash ?? '',
        attempts: existing?.attempts ?? 1,
        createdAt: existing?.createdAt,
      },
    ),
    status: 'failed',
    error,
  };
  const result = await writeLabelDocument(app, doc, expectation);
  if (!result.written) return undefined;
  logOutcome(result.doc, logger);
  await refreshBatchProgress(app, image.batchId, durable, logger, result.progress);
  return result.doc;
}

type DocumentBase = Pick<
  LabelDocument,
  'id' | 'batchId' | 'name' | 'kind' | 'schemaVersion' | 'blob' | 'configHash' | 'attempts' | 'createdAt' | 'updatedAt'
>;

function documentBase(
  app: AppRuntime,
  blob: ImageBlob,
  fields: { configHash: string; attempts: number; createdAt: string | undefined },
): DocumentBase {
  const now = app.now().toISOString();
  return {
    id: labelDocumentId(blob.name),
    batchId: blob.batchId,
    name: blob.name,
    kind: 'label',
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    blob: { path: `${BLOB_CONTAINERS.images}/${imageBlobPath(blob.batchId, blob.name)}`, etag: blob.etag, bytes: blob.bytes.length },
    configHash: fields.configHash,
    attempts: fields.attempts,
    createdAt: fields.createdAt ?? now,
    updatedAt: now,
  };
}

function superseded(blob: ImageBlob, current: BlobProperties | undefined, logger: Logger): LabelBlobOutcome {
  logger.log(
    JSON.stringify({
      event: 'label-superseded',
      batchId: blob.batchId,
      image: blob.name,
      etag: blob.etag,
      currentEtag: current?.etag ?? null,
    }),
  );
  return { outcome: 'superseded', currentEtag: current?.etag };
}

function logOutcome(doc: LabelDocument, logger: Logger, provenance?: LabelProvenance): void {
  if (doc.status === 'labeled' && doc.frame && provenance) {
    const line = { source: 'blob' as const, batchId: doc.batchId, image: doc.name, boxes: doc.frame.labels.length, attempts: doc.attempts };
    logger.log(imageLabeledLine({ ...line, provenance }));
    return;
  }
  logger.warn(
    JSON.stringify({
      event: doc.status === 'failed' ? 'image-failed' : 'image-retrying',
      batchId: doc.batchId,
      image: doc.name,
      kind: doc.error?.kind,
      reason: doc.error?.message,
      attempts: doc.attempts,
    }),
  );
}

/** A labeling failure as stored: typed errors keep their kind; anything else is an unexpected (retryable) error. */
export function describeLabelingFailure(error: unknown): LabelError {
  if (isLabelingError(error)) return { kind: error.kind, message: error.message, retryable: error.retryable || error.kind === 'config' };
  return { kind: 'unexpected', message: redact((error as Error)?.message ?? String(error)), retryable: true };
}
