/**
 * The ground truth an evaluation plan cuts into chunks: the uploaded frames of the batch's listed images, with a
 * person's review standing in for an image's uploaded frame (or where there was none), in the order `autolabel
 * evaluate` reads them (by name; COCO in its own order). Streamed for every layout but COCO, so the plan's memory
 * does not grow with the batch (ground-truth-stream.ts).
 */
import { imageKey } from '../../core/evaluation/dataset';
import type { InputSummary } from '../../core/evaluation/report-schema';
import type { Frame } from '../../core/labels/schema';
import type { AppRuntime } from '../runtime';
import { sameEtag } from '../store/blob-store';
import { loadGroundTruth } from './ground-truth';
import { streamGroundTruth } from './ground-truth-stream';

export interface PlanGroundTruth {
  summary: InputSummary;
  /** How many frames `frames` yields. */
  count: number;
  frames: AsyncIterable<Frame> | Iterable<Frame>;
}

const byName = (a: Frame, b: Frame) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export async function planGroundTruth(
  app: AppRuntime,
  batch: { batchId: string; groundTruthPrefix: string },
  images: readonly string[],
  workDir: string,
): Promise<PlanGroundTruth> {
  const reviewed = await reviewedGroundTruth(app, batch.batchId, images);
  const reviewedKeys = new Set(reviewed.map((f) => imageKey(f.name)));
  const inBatch = new Set(images.map(imageKey));
  let outside = 0;
  const keep = (frame: Frame) => {
    const key = imageKey(frame.name);
    if (!inBatch.has(key)) {
      outside++;
      return false;
    }
    return !reviewedKeys.has(key);
  };

  let result: PlanGroundTruth;
  const streamed = await streamGroundTruth(app.blobs, batch.groundTruthPrefix, keep, workDir);
  if (streamed) {
    result = { summary: streamed.summary, count: streamed.kept.count + reviewed.length, frames: streamed.kept.sorted(reviewed) };
  } else {
    // COCO: the folder as a whole, frames in memory (a COCO file is one document, read at once anyway).
    const gt = await loadGroundTruth(app.blobs, batch.groundTruthPrefix);
    outside = 0;
    const uploaded = gt.frames.filter(keep);
    const frames = reviewed.length ? [...uploaded, ...reviewed].sort(byName) : uploaded;
    result = { summary: gt.summary, count: frames.length, frames };
  }
  if (reviewed.length) result.summary.reviewed = reviewed.map((f) => f.name);
  if (outside > 0)
    result.summary.problems.push({
      file: result.summary.path,
      message: `${outside} ground-truth frame(s) name images that are not in this batch: not evaluated`,
    });
  return result;
}

/**
 * The reviews of the batch's listed images that correct the image's current version (a review of a version since
 * replaced is about another picture), as frames named like the image.
 */
async function reviewedGroundTruth(app: AppRuntime, batchId: string, images: readonly string[]): Promise<Frame[]> {
  const listed = new Set(images);
  const reviews = await app.reviews.ofBatch(batchId);
  if (reviews.length === 0) return [];
  const current = new Map((await app.labels.versions(batchId)).map((v) => [v.name, v.etag]));
  return reviews
    .filter((r) => listed.has(r.name) && current.has(r.name) && sameEtag(r.image.etag, current.get(r.name)!))
    .map((r) => ({ ...r.frame, name: r.name }))
    .sort(byName);
}
