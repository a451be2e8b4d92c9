/**
 * What one frame's own labels say about how much it needs a person: the signals the review queue ranks by. They are
 * read from what the labels carry (scores against the thresholds in force, the detector's count before thresholds,
 * box sizes, the scene model's confidence), and, where a second labeling of the same images exists (another
 * provider), from the disagreement between the two.
 */
import { boxIou } from '../evaluation/matching';
import type { Frame, Label } from '../labels/schema';
import { LabelProvenanceSchema } from '../pipeline/provenance';

/** A kept box scoring less than this above its class threshold was a near call. */
export const NEAR_THRESHOLD_MARGIN = 0.2;
/** Boxes smaller than this (in pixels: 64 x 64) are where the detectors miss and misplace most. */
export const SMALL_BOX_AREA = 64 * 64;
/** Two labelings' boxes of one class overlapping less than this do not describe the same object. */
export const AGREEMENT_IOU = 0.5;

export interface ReviewSignals {
  boxes: number;
  /** Kept boxes within NEAR_THRESHOLD_MARGIN of their class threshold. */
  nearThreshold: number;
  /** Detections the thresholds dropped (the detector's count before thresholds minus the boxes kept). */
  belowThreshold: number;
  smallBoxes: number;
  /**
   * The scene model's (calibrated, for the local model) confidence per attribute, lowest first (empty without one).
   * An attribute it abstained on has its withheld answer as `value` and the minimum it missed.
   */
  attributeConfidence: Array<{ attribute: string; value: string; confidence: number; abstainedBelow?: number }>;
  /** Against a second labeling of the image, when given. */
  disagreement?: { unmatchedBoxes: number; attributes: string[] };
  /** The thresholds in force when the frame was labeled (undefined: the frame does not say). */
  thresholds?: { default: number; perClass: Record<string, number> };
}

const asEvalBox = (label: Label) => {
  const b = label.box2d!;
  return { x: b.x1, y: b.y1, w: b.x2 - b.x1, h: b.y2 - b.y1, crowd: false };
};

const withBox = (frame: Frame) => frame.labels.filter((l) => l.box2d);

/** Boxes of either labeling with no box of the same class in the other at AGREEMENT_IOU (greedy, by score). */
function unmatchedBetween(a: readonly Label[], b: readonly Label[]): number {
  const taken = new Set<number>();
  let matched = 0;
  const byScore = [...a].sort((x, y) => (y.score ?? 0) - (x.score ?? 0));
  for (const box of byScore) {
    let best = -1;
    let bestIou = AGREEMENT_IOU;
    b.forEach((other, i) => {
      if (taken.has(i) || other.category !== box.category) return;
      const overlap = boxIou(asEvalBox(box), asEvalBox(other));
      if (overlap >= bestIou) [best, bestIou] = [i, overlap];
    });
    if (best >= 0) {
      taken.add(best);
      matched++;
    }
  }
  return a.length + b.length - 2 * matched;
}

export function reviewSignals(frame: Frame, second?: Frame): ReviewSignals {
  const provenance = LabelProvenanceSchema.safeParse(frame.provenance);
  const thresholds = provenance.success ? provenance.data.thresholds : undefined;
  const boxes = withBox(frame);
  const thresholdOf = (category: string) => thresholds?.perClass[category] ?? thresholds?.default;
  const nearThreshold = boxes.filter((l) => {
    const threshold = thresholdOf(l.category);
    return threshold !== undefined && l.score !== undefined && l.score < threshold + NEAR_THRESHOLD_MARGIN;
  }).length;
  const before = provenance.success ? provenance.data.detector?.boxesBeforeThresholds : undefined;
  const confidence = provenance.success ? (provenance.data.scene?.confidence ?? {}) : {};
  const abstained = provenance.success ? (provenance.data.scene?.abstained ?? {}) : {};
  const attributes = (frame.attributes ?? {}) as Record<string, unknown>;
  const signals: ReviewSignals = {
    boxes: boxes.length,
    nearThreshold,
    belowThreshold: before === undefined ? 0 : Math.max(0, before - boxes.length),
    smallBoxes: boxes.filter((l) => {
      const { w, h } = asEvalBox(l);
      return w * h < SMALL_BOX_AREA;
    }).length,
    attributeConfidence: Object.entries(confidence)
      .map(([attribute, value]) => {
        const withheld = abstained[attribute];
        return withheld
          ? { attribute, value: withheld.value, confidence: value, abstainedBelow: withheld.minConfidence }
          : { attribute, value: String(attributes[attribute] ?? ''), confidence: value };
      })
      .sort((x, y) => x.confidence - y.confidence),
    ...(thresholds ? { thresholds } : {}),
  };
  if (second) {
    const theirs = (second.attributes ?? {}) as Record<string, unknown>;
    signals.disagreement = {
      unmatchedBoxes: unmatchedBetween(boxes, withBox(second)),
      attributes: ['weather', 'timeofday', 'scene'].filter(
        (key) => attributes[key] !== undefined && theirs[key] !== undefined && attributes[key] !== theirs[key],
      ),
    };
  }
  return signals;
}
