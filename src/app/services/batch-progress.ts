/**
 * A batch's progress and its one transition that starts work: labeling -> labeled, when every image the manifest
 * lists has a final document. Counts come from the label documents themselves (COUNT queries in the batch's
 * partition), so re-deliveries and retries never double-count; the batch document is written with IfMatch, so two
 * triggers finishing at the same moment cannot both win, and the winner starts the evaluation.
 */
import { durableInstanceStarted, startBatchEvaluation } from './evaluation-start';
import type { DurableClientLike } from '../durable';
import type { AppRuntime } from '../runtime';
import type { BatchDocument } from '../store/documents';
import { readAppliedManifest } from './applied-manifest';
import type { Logger } from './logger';
import { unfinishedImages } from './unfinished-images';

export async function refreshBatchProgress(
  app: AppRuntime,
  batchId: string,
  durable: DurableClientLike,
  logger: Logger,
): Promise<BatchDocument> {
  const now = () => app.now().toISOString();
  const { doc, written, previous } = await app.batches.update(batchId, now, async (current) => {
    const [labeled, failed] = await Promise.all([app.labels.count(batchId, 'labeled'), app.labels.count(batchId, 'failed')]);
    const next = { ...current, labeled, failed };
    if (current.status === 'labeling' && current.expected !== null && current.manifest && labeled + failed >= current.expected) {
      if (await everyExpectedImageFinished(app, current)) {
        next.status = 'labeled';
        next.completedAt = now();
      }
    }
    const changed = next.labeled !== current.labeled || next.failed !== current.failed || next.status !== current.status;
    return changed ? next : undefined;
  });
  if (written && previous.status === 'labeling' && doc.status === 'labeled') {
    logger.log(JSON.stringify({ event: 'batch-labeled', batchId, expected: doc.expected, labeled: doc.labeled, failed: doc.failed }));
    return (await startBatchEvaluation(app, batchId, durable, 'batch complete', logger)).doc;
  }
  // Heal a crash between the transition and the start: a labeled batch with no evaluation requested yet.
  if (doc.status === 'labeled' && !doc.evaluation && !(await durableInstanceStarted(durable, batchId))) {
    return (await startBatchEvaluation(app, batchId, durable, 'batch complete (resumed)', logger)).doc;
  }
  return doc;
}

/**
 * Whether every name in the manifest has a final label document for its current version (the counts may include
 * images not listed, and documents of versions since replaced).
 */
async function everyExpectedImageFinished(app: AppRuntime, batch: BatchDocument): Promise<boolean> {
  const manifest = await readAppliedManifest(app, batch);
  if (!manifest) return false;
  return (await unfinishedImages(app, batch.batchId, manifest.images)).length === 0;
}
