import type { EvalDataset } from './dataset';
import { AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, PRECISION_EPS, RECALL_THRESHOLDS } from './coco-params';
import { collectImageClass, matchAtThreshold, matchingOrder, type ImageClassBoxes } from './matching';

const T = IOU_THRESHOLDS.length;
const R = RECALL_THRESHOLDS.length;
const A = AREA_RANGES.length;
const M = MAX_DETS.length;
const LARGEST_MAX_DET = MAX_DETS[M - 1]!;

/** Detection outcome per IoU threshold, as COCOeval's dtMatches/dtIgnore pair reduce to. */
const FALSE_POSITIVE = 0;
const TRUE_POSITIVE = 1;
const IGNORED = 2;

/** COCOeval.eval's arrays, flattened; -1 marks cells without ground truth (excluded from every mean). */
export interface CocoEvalArrays {
  classCount: number;
  /** [T][R][K][A][M] */
  precision: Float64Array;
  /** [T][K][A][M] */
  recall: Float64Array;
}

export const precisionIndex = (K: number, t: number, r: number, k: number, a: number, m: number) =>
  (((t * R + r) * K + k) * A + a) * M + m;
export const recallIndex = (K: number, t: number, k: number, a: number, m: number) => ((t * K + k) * A + a) * M + m;

/**
 * Every detection of one class over all images, laid out contiguously in COCOeval's concatenation order
 * (images in evaluation order, each image's detections by descending score, at most 100).
 */
interface ClassDetections {
  count: number;
  scores: Float64Array;
  /** Position of the detection within its image's score order (decides membership in the maxDet 1/10 cuts). */
  rankInImage: Uint8Array;
  /** [A][T][count] outcome codes. */
  outcomes: Uint8Array;
  /** Non-ignored GT per area range. */
  nonIgnoredGt: Int32Array;
}

function evaluateClass(dataset: EvalDataset, classIndex: number): ClassDetections | undefined {
  const slices: ImageClassBoxes[] = [];
  let count = 0;
  for (const image of dataset.images) {
    const boxes = collectImageClass(image, classIndex, LARGEST_MAX_DET);
    if (!boxes) continue;
    slices.push(boxes);
    count += boxes.dt.length;
  }
  if (slices.length === 0) return undefined;

  const result: ClassDetections = {
    count,
    scores: new Float64Array(count),
    rankInImage: new Uint8Array(count),
    outcomes: new Uint8Array(A * T * count),
    nonIgnoredGt: new Int32Array(A),
  };
  const matched = new Int32Array(LARGEST_MAX_DET);
  const largestG = slices.reduce((n, boxes) => Math.max(n, boxes.gt.length), 0);
  const gtIgnored = new Uint8Array(largestG);
  const order = new Int32Array(largestG);
  let offset = 0;
  for (const boxes of slices) {
    const D = boxes.dt.length;
    const G = boxes.gt.length;
    for (let d = 0; d < D; d++) {
      result.scores[offset + d] = boxes.dt[d]!.score;
      result.rankInImage[offset + d] = d;
    }
    for (let a = 0; a < A; a++) {
      const { min, max } = AREA_RANGES[a]!;
      for (let g = 0; g < G; g++) {
        const box = boxes.gt[g]!;
        gtIgnored[g] = box.crowd || box.area < min || box.area > max ? 1 : 0;
        if (!gtIgnored[g]) result.nonIgnoredGt[a]!++;
      }
      matchingOrder(gtIgnored, G, order);
      for (let t = 0; t < T; t++) {
        const base = (a * T + t) * count + offset;
        if (G > 0) matchAtThreshold(boxes, gtIgnored, order, IOU_THRESHOLDS[t]!, matched);
        else matched.fill(-1, 0, D);
        for (let d = 0; d < D; d++) {
          const m = matched[d]!;
          const detArea = boxes.dt[d]!.area;
          result.outcomes[base + d] =
            m >= 0 ? (gtIgnored[m] ? IGNORED : TRUE_POSITIVE) : detArea < min || detArea > max ? IGNORED : FALSE_POSITIVE;
        }
      }
    }
    offset += D;
  }
  return result;
}

/** Walk one cell's detections in score order: fill recall, and precision at the recall thresholds. */
function accumulateCell(
  arrays: CocoEvalArrays,
  detections: ClassDetections,
  sorted: Uint32Array,
  sortedCount: number,
  k: number,
  a: number,
  t: number,
  m: number,
  npig: number,
  rc: Float64Array,
  pr: Float64Array,
): void {
  const K = arrays.classCount;
  const base = (a * T + t) * detections.count;
  let tp = 0;
  let fp = 0;
  let nd = 0;
  for (let i = 0; i < sortedCount; i++) {
    const code = detections.outcomes[base + sorted[i]!];
    if (code === IGNORED) continue;
    if (code === TRUE_POSITIVE) tp++;
    else fp++;
    rc[nd] = tp / npig;
    pr[nd] = tp / (fp + tp + PRECISION_EPS);
    nd++;
  }
  arrays.recall[recallIndex(K, t, k, a, m)] = nd ? rc[nd - 1]! : 0;
  // Precision envelope from the right, then numpy.searchsorted(rc, recallThresholds, side='left').
  for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
  let idx = 0;
  for (let r = 0; r < R; r++) {
    const threshold = RECALL_THRESHOLDS[r]!;
    while (idx < nd && rc[idx]! < threshold) idx++;
    arrays.precision[precisionIndex(K, t, r, k, a, m)] = idx < nd ? pr[idx]! : 0;
  }
}

/** COCOeval.evaluate() + accumulate() for boxes, over the dataset's GT images in their order. */
export function cocoEvaluate(dataset: EvalDataset): CocoEvalArrays {
  const K = dataset.classes.length;
  const arrays: CocoEvalArrays = {
    classCount: K,
    precision: new Float64Array(T * R * K * A * M).fill(-1),
    recall: new Float64Array(T * K * A * M).fill(-1),
  };
  for (let k = 0; k < K; k++) {
    const detections = evaluateClass(dataset, k);
    if (!detections) continue;
    // One stable sort by descending score (ties keep concatenation order, as numpy's mergesort). The maxDet 1 and
    // 10 cuts are subsequences of the same order, since the order is total on (score, position).
    const { scores, count } = detections;
    const byScore = new Uint32Array(count);
    for (let i = 0; i < count; i++) byScore[i] = i;
    byScore.sort((x, y) => scores[y]! - scores[x]! || x - y);
    const rc = new Float64Array(count);
    const pr = new Float64Array(count);
    const sorted = new Uint32Array(count);
    for (let m = 0; m < M; m++) {
      const maxDet = MAX_DETS[m]!;
      let sortedCount = 0;
      for (let i = 0; i < count; i++) {
        const j = byScore[i]!;
        if (detections.rankInImage[j]! < maxDet) sorted[sortedCount++] = j;
      }
      for (let a = 0; a < A; a++) {
        const npig = detections.nonIgnoredGt[a]!;
        if (npig === 0) continue;
        for (let t = 0; t < T; t++) accumulateCell(arrays, detections, sorted, sortedCount, k, a, t, m, npig, rc, pr);
      }
    }
  }
  return arrays;
}
