/**
 * Which of a batch's listed images still wait for labeling. An image is finished when its document is final (labeled
 * or failed) for the blob's current version. A final document that describes an earlier version does not count: a
 * newer upload is on its way through the trigger (or the sweep), and a batch must not be evaluated on stale labels.
 * An image with no blob (it never arrived) is finished once its document is final (failed as missing).
 */
import type { AppRuntime } from '../runtime';
import type { StoredBlob } from '../store/blob-store';
import type { LabelVersion } from '../store/label-store';
import { BLOB_CONTAINERS } from '../store/names';
import { isFinalFor } from './label-writes';

/** What the check reads: every label document's version and every image blob of the batch (both grow with it). */
export interface BatchState {
  versions: LabelVersion[];
  blobs: StoredBlob[];
}

export async function readBatchState(app: AppRuntime, batchId: string): Promise<BatchState> {
  const [versions, blobs] = await Promise.all([app.labels.versions(batchId), app.blobs.list(BLOB_CONTAINERS.images, `${batchId}/`)]);
  return { versions, blobs };
}

export async function unfinishedImages(app: AppRuntime, batchId: string, names: readonly string[]): Promise<string[]> {
  return unfinishedIn(await readBatchState(app, batchId), batchId, names);
}

export function unfinishedIn({ versions, blobs }: BatchState, batchId: string, names: readonly string[]): string[] {
  const prefix = `${batchId}/`;
  const documents = new Map(versions.map((v) => [v.name, v]));
  const current = new Map(blobs.map((blob) => [blob.name.slice(prefix.length), blob.etag]));
  return names.filter((name) => {
    const doc = documents.get(name);
    if (!doc) return true;
    const etag = current.get(name);
    return etag === undefined ? doc.status === 'retrying' : !isFinalFor(doc, etag);
  });
}
