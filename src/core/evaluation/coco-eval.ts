import type { EvalBox, EvalDataset, EvalImage } from './dataset';
import { AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, MAX_MATCH_IOU, PRECISION_EPS, RECALL_THRESHOLDS } from './coco-params';
import { IouCandidates } from './matching';
import { descendingScoreOrder } from './score-order';

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

const byDescendingScore = (a: EvalBox, b: EvalBox) => b.score - a.score;

/** An image's detections of one class as COCOeval takes them: by descending score (stable), at most 100. */
function topDetections(all: readonly EvalBox[]): readonly EvalBox[] {
  if (all.length < 2) return all;
  // Array.prototype.sort is stable, like the mergesort argsort pycocotools uses.
  const sorted = all.slice().sort(byDescendingScore);
  if (sorted.length > LARGEST_MAX_DET) sorted.length = LARGEST_MAX_DET;
  return sorted;
}

/** Pairs below the lowest threshold never match at any of them. */
const MIN_CANDIDATE_IOU = Math.min(IOU_THRESHOLDS[0]!, MAX_MATCH_IOU);

/** Match one class over `images` (COCOeval.evaluateImg for every image, all area ranges and IoU thresholds). */
export function matchClass(images: readonly EvalImage[], classIndex: number): ClassMatches {
  let count = 0;
  for (const image of images) count += Math.min(image.dtByClass[classIndex]!.length, LARGEST_MAX_DET);
  const result: ClassMatches = {
    count,
    scores: new Float64Array(count),
    detectionsPerImage: [],
    outcomes: new Uint8Array(A * T * count),
    nonIgnoredGt: new Int32Array(A),
  };
  const candidates = new IouCandidates();
  const matched = new Int32Array(LARGEST_MAX_DET);
  const unmatched = new Uint8Array(LARGEST_MAX_DET);
  let crowd = new Uint8Array(64);
  let gtIgnored = new Uint8Array(64);
  let offset = 0;
  for (const image of images) {
    const gt = image.gtByClass[classIndex]!;
    const dt = topDetections(image.dtByClass[classIndex]!);
    const D = dt.length;
    const G = gt.length;
    if (D === 0 && G === 0) continue;
    if (D > 0) result.detectionsPerImage.push(D);
    for (let d = 0; d < D; d++) result.scores[offset + d] = dt[d]!.score;
    if (crowd.length < G) {
      crowd = new Uint8Array(2 * G);
      gtIgnored = new Uint8Array(2 * G);
    }
    for (let g = 0; g < G; g++) crowd[g] = gt[g]!.crowd ? 1 : 0;
    if (D > 0 && G > 0) candidates.fill(dt, gt, MIN_CANDIDATE_IOU);
    const active = D > 0 && G > 0 ? candidates.activeCount : 0;

    for (let a = 0; a < A; a++) {
      const { min, max } = AREA_RANGES[a]!;
      for (let g = 0; g < G; g++) {
        const area = gt[g]!.area;
        gtIgnored[g] = crowd[g] || area < min || area > max ? 1 : 0;
        if (!gtIgnored[g]) result.nonIgnoredGt[a]!++;
      }
      // What an unmatched detection counts as in this area range: outside it, it is ignored.
      for (let d = 0; d < D; d++) {
        const area = dt[d]!.area;
        unmatched[d] = area < min || area > max ? IGNORED : FALSE_POSITIVE;
      }
      for (let t = 0; t < T; t++) {
        const base = (a * T + t) * count + offset;
        for (let d = 0; d < D; d++) result.outcomes[base + d] = unmatched[d]!;
        if (active === 0) continue;
        candidates.match(G, crowd, gtIgnored, IOU_THRESHOLDS[t]!, matched);
        for (let i = 0; i < active; i++) {
          const m = matched[i]!;
          if (m >= 0) result.outcomes[base + candidates.active[i]!] = gtIgnored[m] ? IGNORED : TRUE_POSITIVE;
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

/**
 * Walk one cell's detections in score order for COCOeval's recall and its precision at the recall thresholds.
 * `ranked` holds the cell's outcomes already in score order; `kept` the positions in it that the maxDet cut keeps
 * (increasing). Only true positives need a precision: recall rises only at them (so each threshold's search lands on
 * one), and the envelope, the best precision at or after a point, is always reached at one, since every false
 * positive after a true positive has a lower precision than it. The values are the same doubles COCOeval's full
 * arrays hold at those points.
 */
function accumulateCell(
  arrays: CocoEvalArrays,
  ranked: Uint8Array,
  cellBase: number,
  kept: Uint32Array,
  keptCount: number,
  index: { k: number; a: number; t: number; m: number },
  npig: number,
  tpPrecision: Float64Array,
): void {
  const { k, a, t, m } = index;
  const K = arrays.classCount;
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < keptCount; i++) {
    const code = ranked[cellBase + kept[i]!];
    if (code === TRUE_POSITIVE) {
      tp++;
      tpPrecision[tp - 1] = tp / (fp + tp + PRECISION_EPS);
    } else if (code !== IGNORED) fp++;
  }
  arrays.recall[recallIndex(K, t, k, a, m)] = tp + fp ? tp / npig : 0;
  // Precision envelope from the right, then numpy.searchsorted(recall, recallThresholds, side='left').
  for (let j = tp - 1; j > 0; j--) if (tpPrecision[j]! > tpPrecision[j - 1]!) tpPrecision[j - 1] = tpPrecision[j]!;
  let j = 0;
  for (let r = 0; r < R; r++) {
    const threshold = RECALL_THRESHOLDS[r]!;
    while (j < tp && (j + 1) / npig < threshold) j++;
    arrays.precision[precisionIndex(K, t, r, k, a, m)] = j < tp ? tpPrecision[j]! : 0;
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
    const { count, outcomes } = detections;
    const rankInImage = new Uint8Array(count);
    let position = 0;
    for (const n of detections.detectionsPerImage) for (let d = 0; d < n; d++) rankInImage[position++] = d;
    if (position !== count) throw new Error(`class ${k}: detectionsPerImage covers ${position} of ${count} detections`);
    // One stable order by descending score (ties keep concatenation order, as numpy's mergesort). The maxDet 1 and
    // 10 cuts are subsequences of the same order, since the order is total on (score, position).
    const byScore = descendingScoreOrder(detections.scores);
    // Every cell's outcomes laid out in that order once, so the 120 walks below read memory in sequence.
    const ranked = new Uint8Array(A * T * count);
    for (let cell = 0; cell < A * T; cell++) {
      const base = cell * count;
      for (let i = 0; i < count; i++) ranked[base + i] = outcomes[base + byScore[i]!]!;
    }
    const tpPrecision = new Float64Array(count);
    const kept = new Uint32Array(count);
    for (let m = 0; m < M; m++) {
      const maxDet = MAX_DETS[m]!;
      let keptCount = 0;
      for (let i = 0; i < count; i++) if (rankInImage[byScore[i]!]! < maxDet) kept[keptCount++] = i;
      for (let a = 0; a < A; a++) {
        const npig = detections.nonIgnoredGt[a]!;
        if (npig === 0) continue;
        for (let t = 0; t < T; t++) accumulateCell(arrays, ranked, (a * T + t) * count, kept, keptCount, { k, a, t, m }, npig, tpPrecision);
      }
    }
  }
  return arrays;
}

/** COCOeval.evaluate() + accumulate() for boxes, over the dataset's GT images in their order. */
export function cocoEvaluate(dataset: EvalDataset): CocoEvalArrays {
  return accumulate(dataset.classes.map((_, k) => matchClass(dataset.images, k)));
}
