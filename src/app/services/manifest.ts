/**
 * The manifest blob `images/{batchId}/_batch.json` declares a batch complete: which images it holds and where its
 * ground truth is. An invalid manifest is recorded on the batch (GET /api/batches/{id} shows it) and not retried:
 * retrying cannot fix its content, uploading a corrected one does.
 */
import { createHash } from 'node:crypto';
import { formatZodError } from '../../core/labels/read';
import type { DurableClientLike } from '../durable';
import type { AppRuntime } from '../runtime';
import { BatchManifestSchema, type BatchDocument, type BatchManifest } from '../store/documents';
import { bareEtag, sameEtag } from '../store/blob-store';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../store/names';
import { refreshBatchProgress } from './batch-progress';
import type { Logger } from './label-blob';

const MAX_PROBLEMS_KEPT = 20;

/** Where the applied manifest is kept (container evaluation-work), one copy per uploaded version. */
export function manifestSnapshotPath(batchId: string, etag: string): string {
  return `${batchId}/manifests/${createHash('sha256').update(bareEtag(etag)).digest('hex').slice(0, 16)}.json`;
}

/**
 * The manifest a batch applied: its copy (see manifestSnapshotPath), else the uploaded blob if it is still that
 * version (the copy is written again from it). Undefined when both are gone: storage lost them (the local stand-in
 * can, on a hard kill), and only a new upload of the manifest can say again which images the batch holds.
 */
export async function readAppliedManifest(
  app: AppRuntime,
  batch: Pick<BatchDocument, 'batchId' | 'manifest'>,
): Promise<BatchManifest | undefined> {
  if (!batch.manifest) return undefined;
  const copy = await app.blobs.read(BLOB_CONTAINERS.evaluationWork, batch.manifest.path);
  if (copy) return BatchManifestSchema.parse(JSON.parse(copy.data.toString('utf8')));
  const uploaded = await app.blobs.read(BLOB_CONTAINERS.images, `${batch.batchId}/${MANIFEST_NAME}`);
  if (!uploaded || !sameEtag(uploaded.etag, batch.manifest.etag)) return undefined;
  const parsed = parseManifest(uploaded.data, batch.batchId);
  if (!('manifest' in parsed)) return undefined;
  await app.blobs.writeJson(BLOB_CONTAINERS.evaluationWork, batch.manifest.path, parsed.manifest);
  return parsed.manifest;
}

/** What a batch records when the manifest it applied is gone (readAppliedManifest gave nothing). */
export const manifestLostProblem = (batchId: string) =>
  `the manifest this batch applied is gone from storage (both ${BLOB_CONTAINERS.images}/${batchId}/${MANIFEST_NAME} and its copy): ` +
  `upload ${MANIFEST_NAME} again to say which images the batch holds`;

export function parseManifest(bytes: Uint8Array, batchId: string): { manifest: BatchManifest } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    return { problem: `${MANIFEST_NAME} of batch ${batchId} is not valid JSON: ${(error as Error).message}` };
  }
  const parsed = BatchManifestSchema.safeParse(value);
  if (!parsed.success) return { problem: `${MANIFEST_NAME} of batch ${batchId} is invalid: ${formatZodError(parsed.error)}` };
  return { manifest: parsed.data };
}

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
