/**
 * The reconcile sweep: rather than trusting every event to arrive once (Event Grid can drop or delay events, a
 * process can die between a receipt and a write), it compares what should exist with what does, for every batch
 * still labeling:
 *  - the manifest blob against the manifest the batch applied (a lost manifest event is applied now);
 *  - each image blob against its label document: no final document for the current version and no sign of work for
 *    BATCH_SWEEP_GRACE_MINUTES -> labeled again through the label-requests queue;
 *  - each image the manifest lists against the blobs: past the batch deadline (BATCH_DEADLINE_MINUTES from the
 *    manifest) an image that never arrived gets a `failed` document of kind `missing`;
 * then reconciles the batch's progress (batch-progress.ts): its counts against the documents, and its completion
 * from the documents whatever the counts say, so a batch whose last image is now final moves on to its evaluation.
 * A batch past labeling whose evaluation instance is gone (lost task hub state) or ended without recording a result
 * (still `evaluating`) gets its evaluation started again; a failed evaluation is the nightly run's to retry.
 */
import { describeError } from '../../core/redaction';
import { findInstance, isRunning, type DurableClientLike } from '../durable';
import type { AppRuntime } from '../runtime';
import { sameEtag, type StoredBlob } from '../store/blob-store';
import { BatchIdSchema, type BatchDocument } from '../store/documents';
import { BLOB_CONTAINERS, evaluationInstanceId, MANIFEST_NAME } from '../store/names';
import { reconcileBatchProgress } from './batch-progress';
import { startBatchEvaluation } from './evaluation-start';
import { storeImageFailure } from './label-blob';
import type { Logger } from './logger';
import { requestRelabel } from './label-requests';
import { isFinalFor } from './label-writes';
import { unfinishedImages } from './unfinished-images';
import { declareBatch } from './manifest';
import { replayDeadLetters } from './dead-letters';
import { manifestLostProblem, readAppliedManifest } from './applied-manifest';

export interface BatchSweepResult {
  batchId: string;
  status: BatchDocument['status'];
  /** Images sent to the label-requests queue. */
  requested: string[];
  /** Images failed as `missing` (listed, never arrived, deadline passed). */
  missing: string[];
  /** Images without a final document that still show recent work (left alone this time). */
  inProgress: number;
  /** Whether this sweep applied a manifest the batch had not seen. */
  declared: boolean;
}

export async function sweepBatches(app: AppRuntime, durable: DurableClientLike, logger: Logger): Promise<BatchSweepResult[]> {
  // First the events Event Grid gave up on: their images are asked for at once, without the grace period.
  try {
    const replay = await replayDeadLetters(app, logger);
    if (replay.files || replay.unreadable) logger.warn(JSON.stringify({ event: 'dead-letters-replayed', ...replay }));
  } catch (error) {
    logger.error(JSON.stringify({ event: 'dead-letters-replay-failed', reason: describeError(error) }));
  }
  const known = await app.batches.statuses();
  const knownIds = new Set(known.map((b) => b.batchId));
  // A batch every one of whose events was lost has no document yet: its folder in `images` still shows it.
  const unseen = (await app.blobs.folders(BLOB_CONTAINERS.images)).filter((id) => !knownIds.has(id) && BatchIdSchema.safeParse(id).success);
  const toVisit = [...known.filter((b) => b.status === 'labeling').map((b) => b.batchId), ...unseen];
  const results: BatchSweepResult[] = [];
  for (const batchId of toVisit) {
    try {
      results.push(await sweepBatch(app, batchId, durable, logger));
    } catch (error) {
      // One batch's trouble (e.g. an unreadable manifest copy) must not stop the others from being swept.
      logger.error(JSON.stringify({ event: 'batch-sweep-failed', batchId, reason: describeError(error) }));
    }
  }
  for (const { batchId, status } of known.filter((b) => b.status === 'labeled' || b.status === 'evaluating')) {
    try {
      await reviveEvaluation(app, batchId, status, durable, logger);
    } catch (error) {
      // One batch's trouble (e.g. an unreadable manifest copy) must not stop the others from being swept.
      logger.error(JSON.stringify({ event: 'batch-sweep-failed', batchId, reason: describeError(error) }));
    }
  }
  return results;
}

export async function sweepBatch(app: AppRuntime, batchId: string, durable: DurableClientLike, logger: Logger): Promise<BatchSweepResult> {
  const now = app.now().getTime();
  const prefix = `${batchId}/`;
  const blobs = await app.blobs.list(BLOB_CONTAINERS.images, prefix);
  const images = new Map<string, StoredBlob>();
  let manifestBlob: StoredBlob | undefined;
  for (const blob of blobs) {
    const name = blob.name.slice(prefix.length);
    if (name === MANIFEST_NAME) manifestBlob = blob;
    else if (name && !name.includes('/')) images.set(name, blob);
  }

  let batch = await app.batches.getOrCreate(batchId, () => app.now().toISOString());
  // The batch's own copy of its manifest can be lost with storage state; applying the manifest again rewrites it.
  const copyLost = batch.manifest !== null && !(await app.blobs.properties(BLOB_CONTAINERS.evaluationWork, batch.manifest.path));
  const declared = batch.status === 'labeling' && manifestBlob !== undefined && (copyLost || !manifestApplied(batch, manifestBlob));
  if (declared) {
    const read = await app.blobs.read(BLOB_CONTAINERS.images, `${prefix}${MANIFEST_NAME}`);
    if (read) batch = await declareBatch(app, { batchId, bytes: read.data, etag: read.etag }, durable, logger);
  }

  // The counts first, then the documents: a status change between the two makes the counts' repair (if they
  // drifted) lose its IfMatch rather than overwrite a newer count (reconcileBatchProgress).
  const progress = await app.labels.progress.read(batchId);
  const documents = new Map((await app.labels.versions(batchId)).map((v) => [v.name, v]));
  const requested: string[] = [];
  let inProgress = 0;
  for (const [name, blob] of images) {
    const doc = documents.get(name);
    if (doc && isFinalFor(doc, blob.etag)) continue;
    const lastSignOfWork = Math.max(blob.lastModified?.getTime() ?? 0, doc ? Date.parse(doc.updatedAt) : 0);
    if (now - lastSignOfWork < app.settings.sweep.graceMs) {
      inProgress++;
      continue;
    }
    const why = !doc
      ? 'no label document'
      : doc.status === 'retrying'
        ? 'retrying, with no try since'
        : 'its document describes an earlier version';
    const minutes = Math.floor((now - lastSignOfWork) / 60_000);
    if (await requestRelabel(app, { batchId, name, etag: blob.etag }, `reconcile sweep: ${why} (nothing for ${minutes} min)`, logger))
      requested.push(name);
  }

  const missing: string[] = [];
  const deadline = batchDeadline(app, batch);
  const manifest = batch.status === 'labeling' && batch.manifest ? await readAppliedManifest(app, batch) : undefined;
  if (batch.status === 'labeling' && batch.manifest && !manifest) await recordManifestLost(app, batchId, logger);
  if (batch.manifest && manifest && deadline !== null && now >= Date.parse(deadline)) {
    for (const name of manifest.images) {
      const doc = documents.get(name);
      if (images.has(name) || (doc && doc.status !== 'retrying')) continue;
      const message =
        `${BLOB_CONTAINERS.images}/${prefix}${name} never arrived: the manifest (declared ${batch.manifest!.declaredAt}) lists it, ` +
        `and the batch deadline ${deadline} has passed`;
      const stored = await storeImageFailure(
        app,
        { batchId, name },
        { kind: 'missing', message, retryable: false },
        'absent',
        durable,
        logger,
      );
      if (stored) {
        missing.push(name);
        documents.set(name, { name, status: stored.status, etag: stored.blob.etag, updatedAt: stored.updatedAt });
      }
    }
  }

  batch = await reconcileBatchProgress(app, batchId, durable, logger, { progress, state: { versions: [...documents.values()], blobs } });
  const result: BatchSweepResult = { batchId, status: batch.status, requested, missing, inProgress, declared };
  if (requested.length || missing.length || declared) {
    logger.warn(
      JSON.stringify({
        event: 'batch-swept',
        batchId,
        status: batch.status,
        requested: requested.length,
        missing: missing.length,
        inProgress,
        declared,
      }),
    );
  }
  return result;
}

/** Starts the evaluation of a batch past labeling whose instance is gone, or ended while the batch says `evaluating`. */
async function reviveEvaluation(
  app: AppRuntime,
  batchId: string,
  status: BatchDocument['status'],
  durable: DurableClientLike,
  logger: Logger,
): Promise<void> {
  const instance = await findInstance(durable, evaluationInstanceId(batchId));
  if (isRunning(instance)) return;
  if (status === 'labeled' && instance === undefined) {
    await startBatchEvaluation(
      app,
      batchId,
      durable,
      'reconcile sweep: the evaluation instance was never started or is gone',
      logger,
      'once',
    );
  } else if (status === 'evaluating') {
    const reason = `reconcile sweep: the evaluation ${instance ? `ended (${instance.runtimeStatus})` : 'instance is gone'} without recording a result`;
    await startBatchEvaluation(app, batchId, durable, reason, logger, 'unless-running');
  } else {
    return;
  }
  logger.warn(JSON.stringify({ event: 'evaluation-revived', batchId, status, runtimeStatus: instance?.runtimeStatus ?? null }));
}

function manifestApplied(batch: BatchDocument, blob: StoredBlob): boolean {
  return (
    (batch.manifest !== null && sameEtag(batch.manifest.etag, blob.etag)) ||
    (batch.rejectedManifestEtag !== undefined && sameEtag(batch.rejectedManifestEtag, blob.etag))
  );
}

/** When listed images that never arrived are failed: BATCH_DEADLINE_MINUTES after the manifest was applied. */
export function batchDeadline(app: AppRuntime, batch: BatchDocument): string | null {
  if (!batch.manifest) return null;
  return new Date(Date.parse(batch.manifest.declaredAt) + app.settings.sweep.deadlineMs).toISOString();
}

/** How many missing names a batch view lists (the count says how many there are in all). */
export const MISSING_LISTED = 100;

/**
 * The manifest's images without a final document for their current version, for GET /api/batches/{id} and the 409 of an early evaluate;
 * undefined when the applied manifest is lost (the batch's problems say so).
 */
export async function missingImages(app: AppRuntime, batch: BatchDocument): Promise<string[] | undefined> {
  if (!batch.manifest || batch.status !== 'labeling') return [];
  const manifest = await readAppliedManifest(app, batch);
  if (!manifest) return undefined;
  return unfinishedImages(app, batch.batchId, manifest.images);
}

/** What a labeling batch waits for, as GET /api/batches/{id} and an early evaluate show it. */
export interface BatchWaitingFor {
  /** The first MISSING_LISTED names without a final document. */
  missing: string[];
  /** How many there are; null when the applied manifest is lost and nobody can say. */
  missingCount: number | null;
  deadline: string | null;
}

export async function batchWaitingFor(app: AppRuntime, batch: BatchDocument): Promise<BatchWaitingFor> {
  const missing = await missingImages(app, batch);
  return {
    missing: (missing ?? []).slice(0, MISSING_LISTED),
    missingCount: missing ? missing.length : null,
    deadline: batchDeadline(app, batch),
  };
}

async function recordManifestLost(app: AppRuntime, batchId: string, logger: Logger): Promise<void> {
  const problem = manifestLostProblem(batchId);
  const { written } = await app.batches.update(
    batchId,
    () => app.now().toISOString(),
    (current) => (current.problems.at(-1) === problem ? undefined : { ...current, problems: [...current.problems, problem].slice(-20) }),
  );
  if (written) logger.error(JSON.stringify({ event: 'manifest-lost', batchId }));
}
