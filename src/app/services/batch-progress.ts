/**
 * A batch's progress and its one transition that starts work: labeling -> labeled, when every image the manifest
 * lists has a final document for its current version.
 *
 * Counting is the label writes' own business: each write that changes an image's status changes the batch's progress
 * document in the same transactional batch (store/label-store.ts), so the counts are exact and re-deliveries never
 * count twice. Here an image costs two point reads (progress and batch document) whatever the size of the batch, and
 * nothing is written: the batch document is written at the transition only, so concurrent triggers do not collide.
 *
 * Deciding: once the counts reach the manifest's size, the images themselves are checked (every document's version
 * against every blob: this grows with the batch, but runs once or a few times per batch). The transition is written
 * with IfMatch from `labeling`, so exactly one caller wins it and starts the evaluation; it records the exact counts.
 */
import { durableInstanceStarted, startBatchEvaluation } from './evaluation-start';
import type { DurableClientLike } from '../durable';
import type { AppRuntime } from '../runtime';
import type { BatchDocument, ProgressCounts, ProgressDocument } from '../store/documents';
import type { LabelVersion } from '../store/label-store';
import { countsOf, sameCounts } from '../store/progress-store';
import { readAppliedManifest } from './applied-manifest';
import { recordBatchDrift } from './batch-drift';
import type { Logger } from './logger';
import { readBatchState, unfinishedIn, type BatchState } from './unfinished-images';

/**
 * After an image's document became final, or a manifest was applied: moves the batch on if it is complete.
 * `known`: the counts the label write answered (saves reading them).
 */
export async function refreshBatchProgress(
  app: AppRuntime,
  batchId: string,
  durable: DurableClientLike,
  logger: Logger,
  known?: ProgressCounts,
): Promise<BatchDocument> {
  const now = () => app.now().toISOString();
  const [counts, batch] = await Promise.all([
    known ?? app.labels.progress.ensure(batchId, now).then(countsOf),
    app.batches.getOrCreate(batchId, now),
  ]);
  if (isLabelingWithManifest(batch) && counts.labeled + counts.failed >= batch.expected!) {
    return completeIfFinished(app, batchId, durable, logger);
  }
  return startEvaluationIfForgotten(app, batch, durable, logger);
}

/**
 * The reconcile sweep's pass over a labeling batch, on what the sweep read (`seen`: the progress document, then every
 * label document's version and every image blob; no second read of a large batch). It repairs counts that no longer
 * match the documents (a write that bypassed LabelStore.write, e.g. during a rollout from a version without progress
 * documents, or a restored snapshot of the local stand-in) and checks completion from the documents whatever the
 * counts say. A repair waits until the counts have not changed for BATCH_SWEEP_GRACE_MINUTES (a read that lags
 * behind a write that just landed cannot pass for drift) and is conditional on the document read first (IfMatch),
 * so any status change since, the sweep's own included, wins over it.
 */
export async function reconcileBatchProgress(
  app: AppRuntime,
  batchId: string,
  durable: DurableClientLike,
  logger: Logger,
  seen: { progress: ProgressDocument | undefined; state: BatchState },
): Promise<BatchDocument> {
  const now = () => app.now().toISOString();
  const { progress, state } = seen;
  const exact = countStatuses(state.versions);
  if (!progress) {
    if (state.versions.length) await app.labels.progress.ensure(batchId, now);
  } else if (!sameCounts(progress, exact) && quietFor(app, progress)) {
    if (await app.labels.progress.repair(progress, exact)) {
      logger.warn(JSON.stringify({ event: 'progress-repaired', batchId, counted: countsOf(progress), documents: exact }));
    }
  }
  const batch = await app.batches.getOrCreate(batchId, now);
  if (isLabelingWithManifest(batch)) {
    // The transition itself checks again on fresh reads: only when the sweep's view says the batch is done.
    const manifest = await readAppliedManifest(app, batch);
    if (manifest && unfinishedIn(state, batchId, manifest.images).length === 0) return completeIfFinished(app, batchId, durable, logger);
    return batch;
  }
  return startEvaluationIfForgotten(app, batch, durable, logger);
}

/** The batch document with the live counts of its progress document (the stored ones are the transition's). */
export async function withLiveCounts(app: AppRuntime, batch: BatchDocument): Promise<BatchDocument> {
  const progress = await app.labels.progress.read(batch.batchId);
  return progress ? { ...batch, labeled: progress.labeled, failed: progress.failed } : batch;
}

/** Label documents per status, from their versions (what COUNT queries per status would answer). */
export function countStatuses(versions: readonly Pick<LabelVersion, 'status'>[]): ProgressCounts {
  const counts: ProgressCounts = { labeled: 0, failed: 0, retrying: 0 };
  for (const v of versions) counts[v.status]++;
  return counts;
}

const isLabelingWithManifest = (batch: BatchDocument) => batch.status === 'labeling' && batch.expected !== null && batch.manifest !== null;

/** The transition, if every listed image is finished: checked on the batch document as it is when written. */
async function completeIfFinished(app: AppRuntime, batchId: string, durable: DurableClientLike, logger: Logger): Promise<BatchDocument> {
  const now = () => app.now().toISOString();
  const { doc, written, previous } = await app.batches.update(batchId, now, async (current) => {
    if (!isLabelingWithManifest(current)) return undefined;
    const finished = await finishedCounts(app, current);
    return finished && { ...current, ...finished, status: 'labeled', completedAt: now() };
  });
  if (written && previous.status === 'labeling' && doc.status === 'labeled') {
    logger.log(JSON.stringify({ event: 'batch-labeled', batchId, expected: doc.expected, labeled: doc.labeled, failed: doc.failed }));
    const started = await startBatchEvaluation(app, batchId, durable, 'batch complete', logger);
    // After the start: reading every label document of a large batch must not delay its evaluation.
    return (await recordBatchDrift(app, batchId, logger)) ?? started.doc;
  }
  return startEvaluationIfForgotten(app, doc, durable, logger);
}

/**
 * The batch's exact counts when every name in its manifest has a final label document for its current version;
 * undefined while one has not (the counts may include images not listed, and documents of versions since replaced).
 */
async function finishedCounts(app: AppRuntime, batch: BatchDocument): Promise<{ labeled: number; failed: number } | undefined> {
  const manifest = await readAppliedManifest(app, batch);
  if (!manifest) return undefined;
  const state = await readBatchState(app, batch.batchId);
  if (unfinishedIn(state, batch.batchId, manifest.images).length > 0) return undefined;
  const { labeled, failed } = countStatuses(state.versions);
  return { labeled, failed };
}

/** Heals a crash between the transition and the start: a labeled batch with no evaluation requested yet. */
async function startEvaluationIfForgotten(
  app: AppRuntime,
  batch: BatchDocument,
  durable: DurableClientLike,
  logger: Logger,
): Promise<BatchDocument> {
  if (batch.status === 'labeled' && !batch.evaluation && !(await durableInstanceStarted(durable, batch.batchId))) {
    return (await startBatchEvaluation(app, batch.batchId, durable, 'batch complete (resumed)', logger)).doc;
  }
  return batch;
}

/** Whether the counts have not changed for the sweep's grace period (Cosmos DB's `_ts` is in seconds). */
function quietFor(app: AppRuntime, progress: ProgressDocument): boolean {
  return progress._ts === undefined || app.now().getTime() - progress._ts * 1000 >= app.settings.sweep.graceMs;
}
