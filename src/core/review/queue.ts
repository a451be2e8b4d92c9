/**
 * The review queue: a set's images, the one most worth a person's look first, each with the reasons in words.
 *
 * Priority = ln(1 + near-threshold boxes) + ln(1 + detections dropped by the thresholds) + ln(1 + small boxes)
 *          + (1 - the lowest attribute confidence) + 0.5 for an unusual box count
 *          + ln(1 + boxes the other labeling lacks) + 0.5 per attribute it disagrees on (when there is one).
 * Logarithms, so that one busy street does not drown every other kind of doubt. The box terms were chosen on
 * bdd100k-scenes (100 images) and measured on bdd100k-sample (60): README, "Review queue".
 */
import type { Frame } from '../labels/schema';
import { NEAR_THRESHOLD_MARGIN, reviewSignals, type ReviewSignals } from './signals';

export interface ReviewItem {
  name: string;
  /** Higher first; only the order means something. */
  priority: number;
  reasons: string[];
  signals: ReviewSignals;
}

export interface ReviewOptions {
  /** At most this many items (default: all). */
  limit?: number;
  /** A second labeling of the same images (another provider), matched by name. */
  compare?: readonly Frame[];
}

/** Below this, the scene model's own confidence in an attribute is worth saying. */
const LOW_CONFIDENCE = 0.6;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function median(values: readonly number[]): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Far more boxes than the set usually has, or none where the set usually has several. */
function unusualCount(boxes: number, typical: number): string | undefined {
  if (boxes >= 2 * typical && boxes >= typical + 5) return `${plural(boxes, 'box', 'boxes')}, against a median of ${typical} in this set`;
  if (boxes === 0 && typical >= 3) return `no boxes, where this set's median is ${typical}`;
  return undefined;
}

function score(signals: ReviewSignals, unusual: boolean): number {
  const lowest = signals.attributeConfidence[0]?.confidence ?? 1;
  let priority = Math.log1p(signals.nearThreshold) + Math.log1p(signals.belowThreshold) + Math.log1p(signals.smallBoxes) + (1 - lowest);
  if (unusual) priority += 0.5;
  if (signals.disagreement) priority += Math.log1p(signals.disagreement.unmatchedBoxes) + 0.5 * signals.disagreement.attributes.length;
  return priority;
}

function reasonsOf(signals: ReviewSignals, unusual: string | undefined): string[] {
  const reasons: string[] = [];
  if (signals.disagreement?.unmatchedBoxes)
    reasons.push(`${plural(signals.disagreement.unmatchedBoxes, 'box', 'boxes')} without a match in the other labeling`);
  if (signals.disagreement?.attributes.length) reasons.push(`the other labeling differs on ${signals.disagreement.attributes.join(', ')}`);
  if (signals.belowThreshold)
    reasons.push(`${plural(signals.belowThreshold, 'detection')} dropped by the score thresholds: objects may be missing`);
  if (signals.nearThreshold)
    reasons.push(`${plural(signals.nearThreshold, 'box', 'boxes')} scored within ${NEAR_THRESHOLD_MARGIN} of the threshold`);
  if (signals.smallBoxes) reasons.push(`${plural(signals.smallBoxes, 'box', 'boxes')} smaller than 64 x 64 px`);
  if (unusual) reasons.push(unusual);
  for (const { attribute, value, confidence, abstainedBelow } of signals.attributeConfidence) {
    if (abstainedBelow !== undefined)
      reasons.push(
        `${attribute} left undefined: "${value}" at confidence ${confidence.toFixed(2)}, below its minimum ${abstainedBelow.toFixed(2)}`,
      );
    else if (confidence < LOW_CONFIDENCE) reasons.push(`${attribute} "${value}" at confidence ${confidence.toFixed(2)}`);
  }
  return reasons;
}

export function reviewQueue(frames: readonly Frame[], options: ReviewOptions = {}): ReviewItem[] {
  const others = new Map((options.compare ?? []).map((f) => [f.name, f]));
  const signals = frames.map((frame) => ({ frame, signals: reviewSignals(frame, others.get(frame.name)) }));
  const typical = median(signals.map((s) => s.signals.boxes));
  const items = signals.map(({ frame, signals: s }) => {
    const unusual = unusualCount(s.boxes, typical);
    return { name: frame.name, priority: score(s, unusual !== undefined), reasons: reasonsOf(s, unusual), signals: s };
  });
  items.sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
  return options.limit === undefined ? items : items.slice(0, options.limit);
}

export interface QueueAdvantage {
  /** How many of the queue's first images are compared with the whole set. */
  top: number;
  topErrorsPerImage: number;
  allErrorsPerImage: number;
  /** topErrorsPerImage / allErrorsPerImage. */
  ratio: number;
}

/**
 * How much better than picking at random the queue's head is: label errors (FP + FN against ground truth) per image
 * among its first `top` images, against the average image. `errors` by image name; images without an entry count 0.
 */
export function queueAdvantage(queue: readonly ReviewItem[], errors: ReadonlyMap<string, number>, top: number): QueueAdvantage {
  const mean = (names: readonly string[]) => (names.length ? names.reduce((sum, n) => sum + (errors.get(n) ?? 0), 0) / names.length : 0);
  const head = queue.slice(0, top).map((i) => i.name);
  const topErrorsPerImage = mean(head);
  const allErrorsPerImage = mean(queue.map((i) => i.name));
  return { top: head.length, topErrorsPerImage, allErrorsPerImage, ratio: allErrorsPerImage ? topErrorsPerImage / allErrorsPerImage : 0 };
}
