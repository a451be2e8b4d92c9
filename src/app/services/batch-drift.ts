/**
 * A batch's drift profile (core/drift): computed from its label documents, a page at a time (a batch can hold
 * 20,000 images; only the fixed-size profile is kept in memory), and stored on the batch document. Recorded when the
 * batch becomes `labeled`; the nightly run records it for a batch that became labeled without one (a crash between
 * the transition and this write).
 */
import { emptyProfile, capFormats, observeFailure, observeFrame, type DriftProfile } from '../../core/drift';
import { describeError } from '../../core/redaction';
import type { AppRuntime } from '../runtime';
import type { BatchDocument } from '../store/documents';
import type { Logger } from './logger';

export async function batchDriftProfile(app: AppRuntime, batchId: string): Promise<DriftProfile> {
  const profile = emptyProfile();
  for await (const page of app.labels.listBatch(batchId)) {
    for (const doc of page) {
      if (doc.status === 'labeled' && doc.frame) observeFrame(profile, doc.frame);
      else if (doc.status === 'failed') observeFailure(profile, doc.error?.kind ?? 'unknown');
    }
  }
  return capFormats(profile);
}

/**
 * Computes and stores the profile of a labeled batch that has none; the batch document as it is afterwards. Never
 * throws: a profile that cannot be made must not stop the evaluation (the nightly run tries again).
 */
export async function recordBatchDrift(app: AppRuntime, batchId: string, logger: Logger): Promise<BatchDocument | undefined> {
  try {
    const profile = await batchDriftProfile(app, batchId);
    const { doc } = await app.batches.update(
      batchId,
      () => app.now().toISOString(),
      (current) => (current.status === 'labeling' || current.drift ? undefined : { ...current, drift: profile }),
    );
    return doc;
  } catch (error) {
    logger.warn(JSON.stringify({ event: 'drift-profile-failed', batchId, reason: describeError(error) }));
    return undefined;
  }
}
