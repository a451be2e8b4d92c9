/**
 * Finding one image's stored frame for the label and overlay routes. Only a `labeled` document has a frame; the
 * other states answer with what a client should do:
 *   404 batch-not-found / label-not-found  nothing stored (unknown batch; image not uploaded or not labeled yet)
 *   409 label-pending (Retry-After)        not labeled yet: the last try hit a throttled or unavailable provider and
 *                                          the host retries, or the reconcile sweep asked for another try
 *   422 label-failed                       final: the image could not be labeled (the reason is in `error.reason`)
 */
import type { AppRuntime } from '../runtime';
import type { LabelDocument } from '../store/documents';
import { HttpProblem } from './handle';
import { conflict, notFound, unprocessable } from './responses';

/** How long a client should wait before asking again about an image whose labeling is being retried. */
export const PENDING_RETRY_AFTER_SECONDS = 30;

export type LabeledDocument = LabelDocument & { frame: NonNullable<LabelDocument['frame']> };

export async function labeledDocument(app: AppRuntime, batchId: string, name: string): Promise<LabeledDocument> {
  const doc = await app.labels.get(batchId, name);
  if (!doc) {
    const batch = await app.batches.get(batchId);
    if (!batch) throw new HttpProblem(notFound('batch-not-found', `no batch ${batchId}`));
    throw new HttpProblem(notFound('label-not-found', `batch ${batchId} has no label for ${name} (not uploaded, or not labeled yet)`));
  }
  const details = {
    batchId,
    name,
    status: doc.status,
    attempts: doc.attempts,
    blob: doc.blob.path,
    ...(doc.error ? { reason: doc.error } : {}),
  };
  if (doc.status === 'retrying') {
    throw new HttpProblem(
      conflict(
        'label-pending',
        `${name} is not labeled yet (${doc.error?.message ?? 'unknown reason'}); another try is on its way`,
        details,
        { 'retry-after': String(PENDING_RETRY_AFTER_SECONDS) },
      ),
    );
  }
  if (doc.status === 'failed' || !doc.frame) {
    throw new HttpProblem(
      unprocessable('label-failed', `${name} could not be labeled: ${doc.error?.message ?? 'no frame was stored'}`, details),
    );
  }
  return doc as LabeledDocument;
}
