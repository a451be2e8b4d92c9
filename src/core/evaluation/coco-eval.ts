import type { EvalDataset, EvalImage } from './dataset';
import { AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, PRECISION_EPS, RECALL_THRESHOLDS } from './coco-params';
import { collectImageClass, matchAtThreshold, matchingOrder, type ImageClassBoxes } from './matching';

const T = IOU_THRESHOLDS.length;
const R = RECALL_THRESHOLDS.length;
const A = AREA_RANGES.length;
const M = MAX_DETS.length;
const LARGEST_MAX_DET = MAX_DETS[M - 1]!;

/**
 * Detection outcome per area range and IoU threshold, as COCOeval's dtMatches/dtIgnore pair reduce to. The codes are
 * the characters '0', '1', '2' so that a chunk's outcomes travel as a plain string (see chunks.ts) with no re-coding.
 */
export const FALSE_POSITIVE = 48;
export const TRUE_POSITIVE = 49;
export const IGNORED = 50;

/** COCOeval.eval's arrays, flattened; -1 marks cells without ground truth (excluded from every mean). */
export interface CocoEvalArrays {
  classCount: number;
  /** [T][R][K][A][M] */
  precision: Float64Array;
  /** [T][K][A][M] */
  recall: Float64Array;
}

export const precisionIndex = (K: number, t: number, r: number, k: number, a: number, m: number) => (((t * R + r) * K + k) * A + a) * M + m;
export const recallIndex = (K: number, t: number, k: number, a: number, m: number) => ((t * K + k) * A + a) * M + m;

/**
 * COCOeval.evaluate()'s result for one class over a run of images: every detection, laid out contiguously in
 * COCOeval's concatenation order (images in evaluation order, each image's detections by descending score, at most
 * 100). Per-image matching is independent, so the runs of consecutive chunks of images concatenate
 * (concatClassMatches) into the whole dataset's; only accumulation is global.
 */
export interface ClassMatches {
  count: number;
  scores: Float64Array;
  /** Detections per image, for the images that have any, in image order (decides membership in the maxDet 1/10 cuts). */
  detectionsPerImage: number[];
  /** [A][T][count] outcome codes. */
  outcomes: Uint8Array;
  /** Non-ignored GT per area range. */
  nonIgnoredGt: Int32Array;
}

/** Match one class over `images` (COCOeval.evaluateImg for every image, all area ranges and IoU thresholds). */
export function matchClass(images: readonly EvalImage[], classIndex: number): ClassMatches {
  const slices: ImageClassBoxes[] = [];
  let count = 0;
  for (const image of images) {
    const boxes = collectImageClass(image, classIndex, LARGEST_MAX_DET);
    if (!boxes) continue;
    slices.push(boxes);
    count += boxes.dt.length;
  }

  const result: ClassMatches = {
    count,
    scores: new Float64Array(count),
    detectionsPerImage: [],
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
    if (D > 0) result.detectionsPerImage.push(D);
    for (let d = 0; d < D; d++) result.scores[offset + d] = boxes.dt[d]!.score;
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

/** One class's matches over consecutive runs of images, in order: the matches of the images of all runs. */
export function concatClassMatches(parts: readonly ClassMatches[]): ClassMatches {
  if (parts.length === 1) return parts[0]!;
  const count = parts.reduce((n, p) => n + p.count, 0);
  const result: ClassMatches = {
    count,
    scores: new Float64Array(count),
    detectionsPerImage: [],
    outcomes: new Uint8Array(A * T * count),
    nonIgnoredGt: new Int32Array(A),
  };
  let offset = 0;
  for (const part of parts) {
    result.scores.set(part.scores, offset);
    for (const n of part.detectionsPerImage) result.detectionsPerImage.push(n);
    for (let cell = 0; cell < A * T; cell++)
      result.outcomes.set(part.outcomes.subarray(cell * part.count, (cell + 1) * part.count), cell * count + offset);
    for (let a = 0; a < A; a++) result.nonIgnoredGt[a]! += part.nonIgnoredGt[a]!;
    offset += part.count;
  }
  return result;
}

/** Walk one cell's detections in score order: fill recall, and precision at the recall thresholds. */
function accumulateCell(
  arrays: CocoEvalArrays,
  detections: ClassMatches,
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

/** COCOeval.accumulate() over every class's matches (index = class index), for the whole dataset. */
export function accumulate(perClass: readonly ClassMatches[]): CocoEvalArrays {
  const K = perClass.length;
  const arrays: CocoEvalArrays = {
    classCount: K,
    precision: new Float64Array(T * R * K * A * M).fill(-1),
    recall: new Float64Array(T * K * A * M).fill(-1),
  };
  for (let k = 0; k < K; k++) {
    const detections = perClass[k]!;
    // Classes without GT anywhere keep -1 in every cell (COCOeval skips them).
    if (!detections.nonIgnoredGt.some((n) => n > 0)) continue;
    const { scores, count } = detections;
    const rankInImage = new Uint8Array(count);
    let position = 0;
    for (const n of detections.detectionsPerImage) for (let d = 0; d < n; d++) rankInImage[position++] = d;
    if (position !== count) throw new Error(`class ${k}: detectionsPerImage covers ${position} of ${count} detections`);
    // One stable sort by descending score (ties keep concatenation order, as numpy's mergesort). The maxDet 1 and
    // 10 cuts are subsequences of the same order, since the order is total on (score, position).
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
        if (rankInImage[j]! < maxDet) sorted[sortedCount++] = j;
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

/** COCOeval.evaluate() + accumulate() for boxes, over the dataset's GT images in their order. */
export function cocoEvaluate(dataset: EvalDataset): CocoEvalArrays {
  return accumulate(dataset.classes.map((_, k) => matchClass(dataset.images, k)));
}
