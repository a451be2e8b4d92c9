/**
 * How far an attribute classifier's confidence can be trusted, from held-out predictions (one per image and CV
 * repeat): expected calibration error, a reliability table, temperature scaling, and the accuracy-vs-coverage curve
 * that abstention thresholds (minConfidence) are chosen from. Pure arithmetic on probability vectors.
 */

/** One held-out prediction: the probability of every class (same order for all), and the index of the true class. */
export interface ScoredPrediction {
  probabilities: ArrayLike<number>;
  truth: number;
  /** Image the prediction is of (repeats of one image share it): keeps an image's predictions in one fold. */
  group: string;
}

export interface ReliabilityBin {
  /** Confidence range [from, to) (the last bin includes 1). */
  from: number;
  to: number;
  predictions: number;
  meanConfidence: number;
  accuracy: number;
}

export interface CoveragePoint {
  minConfidence: number;
  /** Share of predictions answered (confidence >= minConfidence). */
  coverage: number;
  /** Accuracy on the answered ones (-1 when none is). */
  answeredAccuracy: number;
  /** Accuracy over all, an abstention counted wrong (as BDD scores an `undefined` answer). */
  accuracy: number;
  /** Answered right minus answered wrong, per prediction: the gain when a wrong label costs as much as a right one is worth. */
  net: number;
}

const RELIABILITY_BINS = 10;
/** Thresholds of the accuracy-vs-coverage curve. */
export const COVERAGE_GRID = [0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95] as const;

function top(p: ArrayLike<number>): { index: number; confidence: number } {
  let index = 0;
  for (let k = 1; k < p.length; k++) if ((p[k] as number) > (p[index] as number)) index = k;
  return { index, confidence: p[index] as number };
}

/** p^(1/T), renormalised: the same as dividing the logits by T (a class at probability 0 stays there). */
export function applyTemperature(p: ArrayLike<number>, temperature: number): Float64Array {
  const out = new Float64Array(p.length);
  let max = -Infinity;
  for (let k = 0; k < p.length; k++) {
    const v = p[k] as number;
    out[k] = v > 0 ? Math.log(v) / temperature : -Infinity;
    if (out[k]! > max) max = out[k]!;
  }
  let sum = 0;
  for (let k = 0; k < p.length; k++) {
    out[k] = Number.isFinite(out[k]!) ? Math.exp(out[k]! - max) : 0;
    sum += out[k]!;
  }
  for (let k = 0; k < p.length; k++) out[k] = out[k]! / sum;
  return out;
}

/** Mean negative log-likelihood of the true class (probability floored at 1e-6). */
export function logLoss(predictions: readonly ScoredPrediction[], temperature = 1): number {
  let sum = 0;
  for (const { probabilities, truth } of predictions) {
    const p = temperature === 1 ? (probabilities[truth] as number) : (applyTemperature(probabilities, temperature)[truth] as number);
    sum -= Math.log(Math.max(1e-6, p));
  }
  return predictions.length ? sum / predictions.length : 0;
}

/** The temperature (0.05..20) minimising the log-loss: golden-section search on log T (the loss is unimodal there). */
export function fitTemperature(predictions: readonly ScoredPrediction[]): number {
  if (predictions.length === 0) return 1;
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  const g = (Math.sqrt(5) - 1) / 2;
  let a = hi - g * (hi - lo);
  let b = lo + g * (hi - lo);
  let fa = logLoss(predictions, Math.exp(a));
  let fb = logLoss(predictions, Math.exp(b));
  for (let i = 0; i < 60; i++) {
    if (fa <= fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - g * (hi - lo);
      fa = logLoss(predictions, Math.exp(a));
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + g * (hi - lo);
      fb = logLoss(predictions, Math.exp(b));
    }
  }
  return Number(Math.exp((lo + hi) / 2).toPrecision(4));
}

export function reliabilityTable(predictions: readonly ScoredPrediction[]): ReliabilityBin[] {
  const bins = Array.from({ length: RELIABILITY_BINS }, (_, i) => ({ n: 0, confidence: 0, correct: 0, i }));
  for (const { probabilities, truth } of predictions) {
    const { index, confidence } = top(probabilities);
    const bin = bins[Math.min(RELIABILITY_BINS - 1, Math.floor(confidence * RELIABILITY_BINS))]!;
    bin.n++;
    bin.confidence += confidence;
    if (index === truth) bin.correct++;
  }
  return bins
    .filter((b) => b.n > 0)
    .map((b) => ({
      from: b.i / RELIABILITY_BINS,
      to: (b.i + 1) / RELIABILITY_BINS,
      predictions: b.n,
      meanConfidence: b.confidence / b.n,
      accuracy: b.correct / b.n,
    }));
}

/** Expected calibration error: the prediction-weighted mean |accuracy - confidence| over the reliability bins. */
export function expectedCalibrationError(predictions: readonly ScoredPrediction[]): number {
  const n = predictions.length;
  if (n === 0) return 0;
  return reliabilityTable(predictions).reduce((s, b) => s + (b.predictions / n) * Math.abs(b.accuracy - b.meanConfidence), 0);
}

export function coverageCurve(predictions: readonly ScoredPrediction[], thresholds: readonly number[] = COVERAGE_GRID): CoveragePoint[] {
  const scored = predictions.map(({ probabilities, truth }) => {
    const { index, confidence } = top(probabilities);
    return { confidence, correct: index === truth };
  });
  const n = scored.length;
  return thresholds.map((minConfidence) => {
    const answered = scored.filter((s) => s.confidence >= minConfidence);
    const correct = answered.filter((s) => s.correct).length;
    return {
      minConfidence,
      coverage: n ? answered.length / n : 0,
      answeredAccuracy: answered.length ? correct / answered.length : -1,
      accuracy: n ? correct / n : 0,
      net: n ? (2 * correct - answered.length) / n : 0,
    };
  });
}

/**
 * The abstention threshold the curve recommends: the highest `net` (right answers minus wrong ones: a wrong label
 * costs a reviewer as much as a right one saves), ties going to the lower threshold (more answers).
 */
export function chooseMinConfidence(curve: readonly CoveragePoint[]): number {
  let best = curve[0];
  for (const point of curve) if (best === undefined || point.net > best.net + 1e-12) best = point;
  return best?.minConfidence ?? 0;
}

/**
 * The calibrated predictions as they would be on unseen images: each group fold's temperature is fitted on the
 * other folds only (so "after calibration" figures are not fitted on the images they score).
 */
export function crossCalibrated(
  predictions: readonly ScoredPrediction[],
  folds: number,
  foldOf: (group: string) => number,
): ScoredPrediction[] {
  const out: ScoredPrediction[] = new Array(predictions.length);
  for (let f = 0; f < folds; f++) {
    const temperature = fitTemperature(predictions.filter((p) => foldOf(p.group) !== f));
    predictions.forEach((p, i) => {
      if (foldOf(p.group) === f) out[i] = { ...p, probabilities: applyTemperature(p.probabilities, temperature) };
    });
  }
  return out;
}

export interface ClassOutcome {
  /** Predictions whose true class this is, and how many of them were right (recall = correct / predictions). */
  predictions: number;
  correct: number;
  /** Predictions that answered this class, right or wrong (precision = correct / predicted). */
  predicted: number;
}

/** Per class: recall and precision counts. */
export function perClassRecall(predictions: readonly ScoredPrediction[], classes: readonly string[]): Record<string, ClassOutcome> {
  const out: Record<string, ClassOutcome> = {};
  const entry = (k: number) => (out[classes[k] ?? String(k)] ??= { predictions: 0, correct: 0, predicted: 0 });
  for (const { probabilities, truth } of predictions) {
    const answer = top(probabilities).index;
    entry(truth).predictions++;
    entry(answer).predicted++;
    if (answer === truth) entry(truth).correct++;
  }
  return out;
}
