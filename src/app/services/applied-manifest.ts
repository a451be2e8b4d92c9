/**
 * The manifest a batch applied, as the batch keeps it: parsing an uploaded manifest, where the batch's own copy lives,
 * and reading it back (from the copy, else from the upload while it is still that version).
 */
import { createHash } from 'node:crypto';
import { formatZodError } from '../../core/labels/read';
import type { AppRuntime } from '../runtime';
import { bareEtag, sameEtag } from '../store/blob-store';
import { BatchManifestSchema, type BatchDocument, type BatchManifest } from '../store/documents';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../store/names';

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
