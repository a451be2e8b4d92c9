/**
 * The manifest blob `images/{batchId}/_batch.json` declares a batch complete: which images it holds and where its
 * ground truth is. An invalid manifest is recorded on the batch (GET /api/batches/{id} shows it) and not retried:
 * retrying cannot fix its content, uploading a corrected one does.
 */
import type { DurableClientLike } from '../durable';
import type { AppRuntime } from '../runtime';
import type { BatchDocument } from '../store/documents';
import { sameEtag } from '../store/blob-store';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../store/names';
import { manifestSnapshotPath, parseManifest } from './applied-manifest';
import { refreshBatchProgress } from './batch-progress';
import type { Logger } from './logger';

const MAX_PROBLEMS_KEPT = 20;

export async function declareBatch(
  app: AppRuntime,
  blob: { batchId: string; bytes: Uint8Array; etag: string },
  durable: DurableClientLike,
  logger: Logger,
): Promise<BatchDocument> {
  const { batchId } = blob;
  const now = () => app.now().toISOString();
  const parsed = parseManifest(blob.bytes, batchId);
  if ('problem' in parsed) {
    logger.error(JSON.stringify({ event: 'manifest-invalid', batchId, reason: parsed.problem }));
    const { doc } = await app.batches.update(batchId, now, (current) =>
      current.rejectedManifestEtag === blob.etag
        ? undefined
        : { ...current, rejectedManifestEtag: blob.etag, problems: [...current.problems, parsed.problem].slice(-MAX_PROBLEMS_KEPT) },
    );
    return doc;
  }
  const { manifest } = parsed;
  // The batch keeps its own copy of the manifest it applied: later checks read exactly that version, whatever
  // happens to the uploaded blob afterwards.
  const path = manifestSnapshotPath(batchId, blob.etag);
  await app.blobs.writeJson(BLOB_CONTAINERS.evaluationWork, path, manifest);
  await app.batches.update(batchId, now, (current) => {
    if (current.manifest && sameEtag(current.manifest.etag, blob.etag)) return undefined;
    if (current.status !== 'labeling') {
      const problem = `a new ${MANIFEST_NAME} arrived after the batch was ${current.status}; it was not applied (use a new batch id, or POST /api/batches/${batchId}/evaluate to re-evaluate)`;
      logger.warn(JSON.stringify({ event: 'manifest-ignored', batchId, status: current.status }));
      return { ...current, problems: [...current.problems, problem].slice(-MAX_PROBLEMS_KEPT) };
    }
    return {
      ...current,
      expected: manifest.images.length,
      manifest: { path, etag: blob.etag, declaredAt: now(), groundTruthPrefix: manifest.groundTruthPrefix ?? `${batchId}/` },
    };
  });
  logger.log(JSON.stringify({ event: 'batch-declared', batchId, expected: manifest.images.length }));
  return refreshBatchProgress(app, batchId, durable, logger);
}
