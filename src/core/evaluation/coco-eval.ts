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

interface ImageOutcome {
  scores: Float64Array;
  /** Per area range: [T][D] outcome codes. */
  outcomes: Uint8Array[];
  /** Per area range: count of non-ignored GT. */
  nonIgnoredGt: Int32Array;
}

function evaluateImageClass(boxes: ImageClassBoxes): ImageOutcome {
  const D = boxes.dt.length;
  const G = boxes.gt.length;
  const matched = new Int32Array(D);
  const outcomes: Uint8Array[] = [];
  const nonIgnoredGt = new Int32Array(A);
  for (let a = 0; a < A; a++) {
    const { min, max } = AREA_RANGES[a]!;
    const gtIgnored = new Uint8Array(G);
    for (let g = 0; g < G; g++) {
      const box = boxes.gt[g]!;
      gtIgnored[g] = box.crowd || box.area < min || box.area > max ? 1 : 0;
      if (!gtIgnored[g]) nonIgnoredGt[a]!++;
    }
    const order = matchingOrder(gtIgnored);
    const codes = new Uint8Array(T * D);
    for (let t = 0; t < T; t++) {
      matchAtThreshold(boxes, gtIgnored, order, IOU_THRESHOLDS[t]!, matched);
      for (let d = 0; d < D; d++) {
        const m = matched[d]!;
        const detArea = boxes.dt[d]!.area;
        codes[t * D + d] =
          m >= 0 ? (gtIgnored[m] ? IGNORED : TRUE_POSITIVE) : detArea < min || detArea > max ? IGNORED : FALSE_POSITIVE;
      }
    }
    outcomes.push(codes);
  }
  return { scores: Float64Array.from(boxes.dt, (d) => d.score), outcomes, nonIgnoredGt };
}

/** First index i with values[i] >= target in a non-decreasing array (numpy searchsorted, side='left'). */
function accumulateCell(
  precisionOut: Float64Array,
  K: number,
  t: number,
  k: number,
  a: number,
  m: number,
  rc: Float64Array,
  pr: Float64Array,
  nd: number,
): void {
  for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
  let idx = 0;
  for (let r = 0; r < R; r++) {
    const threshold = RECALL_THRESHOLDS[r]!;
    while (idx < nd && rc[idx]! < threshold) idx++;
    precisionOut[precisionIndex(K, t, r, k, a, m)] = idx < nd ? pr[idx]! : 0;
  }
}

/** COCOeval.evaluate() + accumulate() for boxes, over the dataset's GT images in their order. */
export function cocoEvaluate(dataset: EvalDataset): CocoEvalArrays {
  const K = dataset.classes.length;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const rc = new Float64Array(dataset.images.reduce((n, image) => n + image.dt.length, 0));
  const pr = new Float64Array(rc.length);

  for (let k = 0; k < K; k++) {
    const perImage: ImageOutcome[] = [];
    for (const image of dataset.images) {
      const boxes = collectImageClass(image, k, LARGEST_MAX_DET);
      if (boxes) perImage.push(evaluateImageClass(boxes));
    }
    if (perImage.length === 0) continue;

    for (let m = 0; m < M; m++) {
      const maxDet = MAX_DETS[m]!;
      // Concatenate each image's first maxDet detections in image order, then a stable sort by score.
      const owner: number[] = [];
      const position: number[] = [];
      perImage.forEach((outcome, i) => {
        const n = Math.min(maxDet, outcome.scores.length);
        for (let d = 0; d < n; d++) {
          owner.push(i);
          position.push(d);
        }
      });
      const order = owner.map((_, j) => j);
      const scoreOf = (j: number) => perImage[owner[j]!]!.scores[position[j]!]!;
      order.sort((x, y) => scoreOf(y) - scoreOf(x) || x - y);

      for (let a = 0; a < A; a++) {
        const npig = perImage.reduce((n, outcome) => n + outcome.nonIgnoredGt[a]!, 0);
        if (npig === 0) continue;
        for (let t = 0; t < T; t++) {
          let tp = 0;
          let fp = 0;
          let nd = 0;
          for (const j of order) {
            const outcome = perImage[owner[j]!]!;
            const code = outcome.outcomes[a]![t * outcome.scores.length + position[j]!];
            if (code === IGNORED) continue;
            if (code === TRUE_POSITIVE) tp++;
            else fp++;
            rc[nd] = tp / npig;
            pr[nd] = tp / (fp + tp + PRECISION_EPS);
            nd++;
          }
          recall[recallIndex(K, t, k, a, m)] = nd ? rc[nd - 1]! : 0;
          accumulateCell(precision, K, t, k, a, m, rc, pr, nd);
        }
      }
    }
  }
  return { classCount: K, precision, recall };
}
