import type { Box2d } from '../labels/schema';
import type { EvalBox, EvalDataset } from './dataset';
import { collectImageClass, matchAtThreshold, matchingOrder } from './matching';

export interface OperatingPoint {
  iouThreshold: number;
  scoreThreshold: number;
}

export interface Counts {
  tp: number;
  fp: number;
  fn: number;
}

export interface PrecisionRecallF1 extends Counts {
  /** tp / (tp + fp); -1 when there are no predictions. */
  precision: number;
  /** tp / (tp + fn); -1 when there is no ground truth. */
  recall: number;
  /** 2tp / (2tp + fp + fn); -1 when there is neither. */
  f1: number;
}

export interface DiagnosticBox {
  category: string;
  box2d: Box2d;
  score?: number;
  /** Best IoU with any box of the other side of the same class: tells a localisation error from a miss. */
  bestIou: number;
}

export interface ImageDiagnostics extends Counts {
  name: string;
  gt: number;
  predictions: number;
  missed: DiagnosticBox[];
  falsePositives: DiagnosticBox[];
}

/** Raw counts (they add up over chunks of images); precisionRecallF1 turns the totals into fractions. */
export interface OperatingPointCounts {
  /** Per class index. */
  perClass: Counts[];
  /** Per image, in evaluation order. */
  images: ImageDiagnostics[];
}

export function precisionRecallF1({ tp, fp, fn }: Counts): PrecisionRecallF1 {
  return {
    tp,
    fp,
    fn,
    precision: tp + fp === 0 ? -1 : tp / (tp + fp),
    recall: tp + fn === 0 ? -1 : tp / (tp + fn),
    f1: 2 * tp + fp + fn === 0 ? -1 : (2 * tp) / (2 * tp + fp + fn),
  };
}

const diagnosticBox = (box: EvalBox, bestIou: number, withScore: boolean): DiagnosticBox => ({
  category: box.label.category,
  box2d: { x1: box.label.box2d!.x1, y1: box.label.box2d!.y1, x2: box.label.box2d!.x2, y2: box.label.box2d!.y2 },
  ...(withScore ? { score: box.score } : {}),
  bestIou,
});

/**
 * Precision, recall and F1 at one IoU and one score threshold: per class, detections with score >= threshold
 * are matched greedily in descending score order with COCO's rule (crowd regions absorb detections without
 * counting them). No per-image cap on detections here: every kept box counts.
 */
export function evaluateOperatingPoint(dataset: EvalDataset, point: OperatingPoint): OperatingPointCounts {
  const K = dataset.classes.length;
  const perClass: Counts[] = Array.from({ length: K }, () => ({ tp: 0, fp: 0, fn: 0 }));
  const images: ImageDiagnostics[] = [];
  const keep = (d: EvalBox) => d.score >= point.scoreThreshold;

  for (const image of dataset.images) {
    // The image's counts are summed over its classes: every box is in one class, and one pass over the boxes is
    // cheaper than three on a big batch (each box is a cache miss).
    const diagnostics: ImageDiagnostics = { name: image.name, gt: 0, predictions: 0, tp: 0, fp: 0, fn: 0, missed: [], falsePositives: [] };
    for (let k = 0; k < K; k++) {
      const boxes = collectImageClass(image, k, Number.POSITIVE_INFINITY, keep);
      if (!boxes) continue;
      const G = boxes.gt.length;
      const D = boxes.dt.length;
      const gtIgnored = new Uint8Array(G);
      for (let g = 0; g < G; g++) {
        if (boxes.gt[g]!.crowd) gtIgnored[g] = 1;
        else diagnostics.gt++;
      }
      diagnostics.predictions += D;
      const matched = new Int32Array(D);
      matchAtThreshold(boxes, gtIgnored, matchingOrder(gtIgnored), point.iouThreshold, matched);
      const gtMatched = new Uint8Array(G);
      const slice: Counts = { tp: 0, fp: 0, fn: 0 };
      for (let d = 0; d < D; d++) {
        const m = matched[d]!;
        if (m >= 0) {
          gtMatched[m] = 1;
          if (!gtIgnored[m]) slice.tp++;
        } else {
          slice.fp++;
          diagnostics.falsePositives.push(diagnosticBox(boxes.dt[d]!, bestIou(boxes.iou, G, d, -1, gtIgnored), true));
        }
      }
      for (let g = 0; g < G; g++) {
        if (gtIgnored[g] || gtMatched[g]) continue;
        slice.fn++;
        diagnostics.missed.push(diagnosticBox(boxes.gt[g]!, bestIou(boxes.iou, G, -1, g, gtIgnored), false));
      }
      addCounts(perClass[k]!, slice);
      addCounts(diagnostics, slice);
    }
    images.push(diagnostics);
  }

  return { perClass, images };
}

export function addCounts(total: Counts, add: Counts): void {
  total.tp += add.tp;
  total.fp += add.fp;
  total.fn += add.fn;
}

/** Best IoU of detection `d` with any non-ignored GT, or of GT `g` with any detection (pass -1 for the other). */
function bestIou(iou: Float64Array, G: number, d: number, g: number, gtIgnored: Uint8Array): number {
  let best = 0;
  if (d >= 0) {
    for (let j = 0; j < G; j++) if (!gtIgnored[j]) best = Math.max(best, iou[d * G + j]!);
  } else {
    for (let i = 0; i * G + g < iou.length; i++) best = Math.max(best, iou[i * G + g]!);
  }
  return best;
}
