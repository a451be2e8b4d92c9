/**
 * The one way a label document is written. Event Grid delivers at least once and out of order, and an image can be
 * overwritten while its older version is still being labeled; an upsert would let whichever try finishes last win,
 * so an old version finishing late would describe the image forever. Instead every write:
 *  1. reads the stored document (and its _etag);
 *  2. keeps it if it is already a final outcome the new document must not replace (same blob version and config);
 *  3. checks that the blob version the document describes is the blob's current one (a HEAD request);
 *  4. writes with IfMatch on the _etag read in 1 (or create-if-absent), and on 412/409 starts again at 1.
 * A stale write can then only succeed when the blob changed between 3 and 4 and nobody wrote in between; the newer
 * version's own trigger comes later, sees the blob current, and replaces it. So the newest version always ends
 * labeled or failed with its own reason.
 */
import type { AppRuntime } from '../runtime';
import { sameEtag, type BlobProperties } from '../store/blob-store';
import type { LabelDocument, ProgressCounts } from '../store/documents';
import { BLOB_CONTAINERS } from '../store/names';

/**
 * Which blob state the document is for: one version (`etag`), no blob at all (`absent`: an image that never arrived
 * or was deleted), or `unknown` (storage cannot say: an unreadable blob). `absent` and `unknown` documents are markers
 * that never replace a final outcome.
 */
export type BlobExpectation = { etag: string } | 'absent' | 'unknown';

export type VersionedWrite =
  /** `progress`: the batch's counts after the write, when it changed the image's status (store/label-store.ts). */
  | { written: true; doc: LabelDocument; progress: ProgressCounts | undefined }
  /** The blob is no longer the version the document describes (or exists again, for `absent`). */
  | { written: false; why: 'superseded'; current: BlobProperties | undefined }
  /** A final document that must stay is stored (e.g. a repeated delivery finished first). */
  | { written: false; why: 'kept'; doc: LabelDocument };

/** Writers that lost this many IfMatch races in a row are not unlucky but stuck: say so. */
const MAX_WRITE_ROUNDS = 10;

export const imageBlobPath = (batchId: string, name: string) => `${batchId}/${name}`;

export async function writeLabelDocument(app: AppRuntime, doc: LabelDocument, expectation: BlobExpectation): Promise<VersionedWrite> {
  for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
    const stored = await app.labels.get(doc.batchId, doc.name);
    if (stored && mustKeep(stored, doc, expectation)) return { written: false, why: 'kept', doc: stored };
    if (expectation !== 'unknown') {
      const current = await app.blobs.properties(BLOB_CONTAINERS.images, imageBlobPath(doc.batchId, doc.name));
      const isCurrent =
        expectation === 'absent' ? current === undefined : current !== undefined && sameEtag(current.etag, expectation.etag);
      if (!isCurrent) return { written: false, why: 'superseded', current };
    }
    const written = await app.labels.write(doc, stored?._etag ? { etag: stored._etag, status: stored.status } : 'absent');
    if (written) return { written: true, ...written };
  }
  throw new Error(`the label document of ${doc.batchId}/${doc.name} kept changing under ${MAX_WRITE_ROUNDS} conditional writes in a row`);
}

/**
 * Cosmos DB stores items of at most 2 MB, and a transactional batch (the label write with its progress patch, see
 * store/label-store.ts) carries at most 2 MB in all. A frame of several thousand boxes (about 150 bytes each) or a
 * provider's very long raw answer in the provenance could pass that: kept under this, with room for the patch and
 * the system properties.
 */
export const MAX_LABEL_DOCUMENT_BYTES = 1_900_000;

/** The document as it is, or, when its labels are too large to store, a failure that says so (never retried). */
export function withinDocumentLimit(doc: LabelDocument): LabelDocument {
  const bytes = Buffer.byteLength(JSON.stringify(doc));
  if (bytes <= MAX_LABEL_DOCUMENT_BYTES) return doc;
  const { frame, ...rest } = doc;
  const boxes = frame?.labels.length ?? 0;
  const message = `the labels of ${doc.name} (${boxes} boxes) take ${(bytes / 1e6).toFixed(1)} MB, over the ${MAX_LABEL_DOCUMENT_BYTES / 1e6} MB a label document may hold`;
  return { ...rest, status: 'failed', error: { kind: 'too-large', message, retryable: false } };
}

/** Whether a stored document is a final outcome the new one must not replace. */
function mustKeep(stored: LabelDocument, next: LabelDocument, expectation: BlobExpectation): boolean {
  if (stored.status === 'retrying') return false;
  if (expectation === 'absent' || expectation === 'unknown') return true;
  return sameEtag(stored.blob.etag, expectation.etag) && stored.configHash === next.configHash;
}

/** A document describes the current version's final outcome: nothing is left to do for this image. */
export function isFinalFor(doc: Pick<LabelDocument, 'status'> & { etag: string }, blobEtag: string): boolean {
  return doc.status !== 'retrying' && sameEtag(doc.etag, blobEtag);
}
