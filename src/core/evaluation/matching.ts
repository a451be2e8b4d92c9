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
  const all = image.dtByClass[classIndex]!;
  if (gt.length === 0 && all.length === 0) return undefined;
  // Array.prototype.sort is stable, like the mergesort argsort pycocotools uses.
  const dt = all.filter(keep).sort(byDescendingScore);
  if (dt.length > maxDet) dt.length = maxDet;
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
/** Initial buffer size of IouCandidates (pairs, detections, GT): enough for most images without growing. */
const LARGEST_EXPECTED = 1024;

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

/**
 * The detection-GT pairs of one image and class whose IoU reaches `minIou`, per detection in GT order. Matching at
 * any threshold >= minIou reads only these: a GT below the threshold can neither be taken nor end the search (see
 * matchAtThreshold), and a detection without any pair matches nothing and takes nothing. A detector's boxes mostly
 * overlap 0 or 1 GT that much, so COCO's 10 thresholds x 4 area ranges cost a pass over a few pairs each instead of
 * over detections x GT. One instance is reused image after image: its buffers only grow.
 */
export class IouCandidates {
  /** The detections with at least one pair, in score order: `active[0, activeCount)`. */
  active = new Int32Array(LARGEST_EXPECTED);
  activeCount = 0;
  /** Pairs of the i-th active detection: indices [start[i], start[i + 1]) of `gt` and `iou`. */
  private start = new Int32Array(LARGEST_EXPECTED + 1);
  private gt = new Int32Array(LARGEST_EXPECTED);
  private iou = new Float64Array(LARGEST_EXPECTED);
  private taken = new Uint8Array(LARGEST_EXPECTED);

  fill(dt: readonly BoxGeometry[], gt: readonly BoxGeometry[], minIou: number): void {
    const D = dt.length;
    if (this.active.length < D) {
      this.active = new Int32Array(2 * D);
      this.start = new Int32Array(2 * D + 1);
    }
    if (this.taken.length < gt.length) this.taken = new Uint8Array(2 * gt.length);
    let size = 0;
    let activeCount = 0;
    for (let d = 0; d < D; d++) {
      const from = size;
      const box = dt[d]!;
      for (let g = 0; g < gt.length; g++) {
        const v = boxIou(box, gt[g]!);
        if (v < minIou) continue;
        if (size === this.gt.length) this.grow();
        this.gt[size] = g;
        this.iou[size] = v;
        size++;
      }
      if (size === from) continue;
      this.start[activeCount] = from;
      this.active[activeCount++] = d;
    }
    this.start[activeCount] = size;
    this.activeCount = activeCount;
  }

  private grow(): void {
    const gt = new Int32Array(2 * this.gt.length);
    gt.set(this.gt);
    const iou = new Float64Array(2 * this.iou.length);
    iou.set(this.iou);
    this.gt = gt;
    this.iou = iou;
  }

  /**
   * matchAtThreshold on the pairs (threshold >= the fill's minIou): `matchedGt[i]` is the GT the i-th active detection
   * takes, or -1; every other detection matches nothing. `crowd` and `gtIgnored` are per GT of the fill.
   */
  match(gtCount: number, crowd: Uint8Array, gtIgnored: Uint8Array, threshold: number, matchedGt: Int32Array): void {
    const { start, gt, iou, taken } = this;
    taken.fill(0, 0, gtCount);
    const floor = Math.min(threshold, MAX_MATCH_IOU);
    for (let i = 0; i < this.activeCount; i++) {
      const from = start[i]!;
      const to = start[i + 1]!;
      let best = floor;
      let m = -1;
      // Matching order: non-ignored GT first; an ignored one is only tried when no non-ignored one matched.
      for (let pass = 0; pass < 2 && m < 0; pass++) {
        for (let c = from; c < to; c++) {
          const g = gt[c]!;
          if (gtIgnored[g] !== pass || (taken[g] && !crowd[g])) continue;
          const v = iou[c]!;
          if (v < best) continue;
          best = v;
          m = g;
        }
      }
      matchedGt[i] = m;
      if (m > -1) taken[m] = 1;
    }
  }
}
