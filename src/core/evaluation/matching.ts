import type { EvalBox, EvalImage } from './dataset';
import { MAX_MATCH_IOU } from './coco-params';

/** What IoU reads of a box (any box with a position and a size, not only an evaluation's). */
export type BoxGeometry = Pick<EvalBox, 'x' | 'y' | 'w' | 'h' | 'crowd'>;

/**
 * IoU exactly as pycocotools' C `bbIou` computes it (same operations in the same order, so the same doubles).
 * Against a crowd GT the union is the detection's own area.
 */
export function boxIou(d: BoxGeometry, g: BoxGeometry): number {
  const w = Math.min(d.w + d.x, g.w + g.x) - Math.max(d.x, g.x);
  if (w <= 0) return 0;
  const h = Math.min(d.h + d.y, g.h + g.y) - Math.max(d.y, g.y);
  if (h <= 0) return 0;
  const inter = w * h;
  const detArea = d.w * d.h;
  const union = g.crowd ? detArea : detArea + g.w * g.h - inter;
  return inter / union;
}

/** One image's boxes of one class: detections in descending score order (stable), with their IoU matrix. */
export interface ImageClassBoxes {
  image: EvalImage;
  gt: EvalBox[];
  dt: EvalBox[];
  /** Row-major [detection][gt], GT in input order. */
  iou: Float64Array;
}

const byDescendingScore = (a: EvalBox, b: EvalBox) => b.score - a.score;

/**
 * Collect one class of one image; `undefined` when it has neither GT nor detections (COCOeval skips those pairs).
 * `keep` filters detections before the score sort and the `maxDet` cut.
 */
export function collectImageClass(
  image: EvalImage,
  classIndex: number,
  maxDet: number,
  keep: (d: EvalBox) => boolean = () => true,
): ImageClassBoxes | undefined {
  const gt = image.gtByClass[classIndex]!;
  // Array.prototype.sort is stable, like the mergesort argsort pycocotools uses.
  const dt = image.dtByClass[classIndex]!.filter(keep).sort(byDescendingScore).slice(0, maxDet);
  if (gt.length === 0 && dt.length === 0) return undefined;
  const iou = new Float64Array(dt.length * gt.length);
  for (let d = 0; d < dt.length; d++) {
    for (let g = 0; g < gt.length; g++) iou[d * gt.length + g] = boxIou(dt[d]!, gt[g]!);
  }
  return { image, gt, dt, iou };
}

/**
 * GT indices in COCOeval's matching order: non-ignored first, input order kept within each group.
 * Writes into `order` when given (hot loops reuse one buffer), else into a new array.
 */
export function matchingOrder(ignored: Uint8Array, count = ignored.length, order = new Int32Array(count)): Int32Array {
  let next = 0;
  for (let g = 0; g < count; g++) if (!ignored[g]) order[next++] = g;
  for (let g = 0; g < count; g++) if (ignored[g]) order[next++] = g;
  return order;
}

const takenBuffer = new Uint8Array(1024);

/**
 * COCOeval.evaluateImg's greedy matching at one IoU threshold: detections in score order take the best
 * still-free GT with IoU >= threshold (crowd GT can absorb many; a non-ignored match is never traded for an
 * ignored one; on equal IoU the later GT in matching order wins). Writes the matched GT index or -1 per detection.
 */
export function matchAtThreshold(
  boxes: ImageClassBoxes,
  gtIgnored: Uint8Array,
  order: Int32Array,
  threshold: number,
  matchedGt: Int32Array,
): void {
  const G = boxes.gt.length;
  const taken = G <= takenBuffer.length ? takenBuffer.fill(0, 0, G) : new Uint8Array(G);
  for (let d = 0; d < boxes.dt.length; d++) {
    let best = Math.min(threshold, MAX_MATCH_IOU);
    let m = -1;
    for (let p = 0; p < G; p++) {
      const g = order[p]!;
      if (taken[g] && !boxes.gt[g]!.crowd) continue;
      if (m > -1 && !gtIgnored[m] && gtIgnored[g]) break;
      const v = boxes.iou[d * G + g]!;
      if (v < best) continue;
      best = v;
      m = g;
    }
    matchedGt[d] = m;
    if (m > -1) taken[m] = 1;
  }
}
