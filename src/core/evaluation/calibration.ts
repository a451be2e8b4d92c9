/**
 * Score thresholds calibrated on the product's own measured errors. The evaluator's COCO matching (area 'all', at
 * most 100 detections per image and class, one IoU threshold) already says, for every predicted box, whether it is a
 * true or a false positive; greedy matching goes in descending score order, so a box's outcome does not depend on the
 * boxes scoring below it, and "keep boxes with score >= t" for any t is a prefix of the same run. Sweeping t over the
 * scores seen is therefore exact: no re-matching per threshold.
 *
 * Per class, the threshold that best meets the target is suggested; classes with too little ground truth keep the
 * default, which is the same optimisation over all classes pooled. The output's `thresholds` has the labeling config's
 * shape ({default, perClass}), so it can be pasted into a config as is.
 */
import { z } from 'zod';
import { BDD_CLASSES, type BddClass } from '../taxonomy/categories';
import { FALSE_POSITIVE, TRUE_POSITIVE } from './coco-eval';
import { IOU_THRESHOLDS } from './coco-params';
import { addCounts, precisionRecallF1, type Counts } from './operating-point';
import { descendingScoreOrder } from './score-order';

/**
 * Below this many GT boxes a class keeps the default: with fewer than 10, one box moves recall by more than 10
 * points, so the F1 curve is a handful of steps and its maximum says more about those boxes than about the model.
 */
export const MIN_GT_TO_CALIBRATE = 10;

// ---------------------------------------------------------------------------------------------------------------
// Targets

export type CalibrationTarget = { kind: 'f1' } | { kind: 'precision'; min: number } | { kind: 'recall'; min: number };

const TARGET_PATTERN = /^(?:f1|(precision|recall)=([0-9]*\.?[0-9]+))$/;

/** `f1`, `precision=0.9` or `recall=0.8` (a fraction in (0, 1]). */
export const CalibrationTargetSchema = z.string().transform((text, ctx): CalibrationTarget => {
  const match = TARGET_PATTERN.exec(text.trim());
  const min = match?.[2] === undefined ? undefined : Number(match[2]);
  if (!match || (min !== undefined && !(min > 0 && min <= 1))) {
    ctx.addIssue({ code: 'custom', message: `must be f1, precision=<p> or recall=<r> with a fraction in (0, 1], not '${text}'` });
    return z.NEVER;
  }
  return match[1] === undefined ? { kind: 'f1' } : { kind: match[1] as 'precision' | 'recall', min: min! };
});

export const formatTarget = (t: CalibrationTarget) => (t.kind === 'f1' ? 'f1' : `${t.kind}=${t.min}`);

// ---------------------------------------------------------------------------------------------------------------
// Output (also the report's `calibration` section)

const metric = z.number().min(-1).max(1);
const count = z.number().int().nonnegative();
const score = z.number().min(0).max(1);

const PrfSchema = z.object({ precision: metric, recall: metric, f1: metric, tp: count, fp: count, fn: count });

/** The labeling config's `thresholds` (labeling-config.ts): what a config may take as is. */
export const SuggestedThresholdsSchema = z.strictObject({
  default: score,
  perClass: z.partialRecord(z.enum(BDD_CLASSES), score),
});
export type SuggestedThresholds = z.infer<typeof SuggestedThresholdsSchema>;

/** Thresholds in force: a config's, or a report's single operating-point score (which may exceed 1). */
export const CurrentThresholdsSchema = z.object({
  default: z.number().min(0),
  perClass: z.partialRecord(z.enum(BDD_CLASSES), z.number().min(0)),
});
export type CurrentThresholds = z.infer<typeof CurrentThresholdsSchema>;

export const ClassCalibrationSchema = z.object({
  /** Non-ignored GT boxes of the class. */
  gt: count,
  /** Its matched-or-not predicted boxes (crowd matches left out), any score. */
  detections: count,
  /** What the suggestion gives the class: its own threshold, or the default. */
  threshold: score,
  calibrated: z.boolean(),
  /** Why the class keeps the default. */
  note: z.string().optional(),
  suggested: PrfSchema,
  current: PrfSchema.extend({ threshold: z.number().min(0) }),
});
export type ClassCalibration = z.infer<typeof ClassCalibrationSchema>;

export const CalibrationSchema = z.object({
  target: z.string(),
  iouThreshold: z.number(),
  minGt: count,
  /** The lowest score among the predictions: no threshold below it could be tried. */
  lowestScore: z.number().nullable(),
  thresholds: SuggestedThresholdsSchema,
  /** The thresholds the suggestion is compared with. */
  current: CurrentThresholdsSchema,
  /** All classes pooled at the suggested default (how the default was chosen). */
  pooled: PrfSchema.extend({ note: z.string().optional() }),
  perClass: z.record(z.enum(BDD_CLASSES), ClassCalibrationSchema),
  /** All classes pooled (TP, FP, FN summed), each class at its threshold: the current ones, then the suggested. */
  overall: z.object({ current: PrfSchema, suggested: PrfSchema }),
  notes: z.array(z.string()),
});
export type Calibration = z.infer<typeof CalibrationSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Matches in, sweep, choice

/** One class's predicted boxes as the sweep needs them: score and outcome (1 true positive, 0 false positive). */
export interface ScoredDetections {
  scores: number[];
  truePositive: number[];
  gt: number;
}

/**
 * What calibration reads of chunk match data (chunks.ts's ChunkMatches, structurally: importing it would make a
 * cycle, as chunks.ts puts the calibration into the report).
 */
export interface ChunkMatchData {
  detection: Record<BddClass, { scores: readonly number[]; outcomes: string; nonIgnoredGt: readonly number[] }>;
}

/** The COCO IoU threshold index of `iou`, if it is one of 0.50:0.05:0.95 (the only ones chunks hold matches for). */
export function cocoIouIndex(iou: number): number {
  return IOU_THRESHOLDS.findIndex((t) => Math.abs(t - iou) < 1e-9);
}

/**
 * Each class's detections with their outcome at IoU threshold index `t`, area 'all', from chunk match data (the
 * evaluator's own matching: matchChunk / coco-eval.ts). Boxes matched to a crowd region count neither way.
 */
export function scoredDetectionsOfChunks(chunks: readonly ChunkMatchData[], t: number): Record<BddClass, ScoredDetections> {
  const out = {} as Record<BddClass, ScoredDetections>;
  for (const name of BDD_CLASSES) {
    const d: ScoredDetections = { scores: [], truePositive: [], gt: 0 };
    for (const chunk of chunks) {
      const c = chunk.detection[name];
      const n = c.scores.length;
      d.gt += c.nonIgnoredGt[0]!;
      // Area 'all' is area index 0, so its cells come first: [t * n, (t + 1) * n).
      for (let i = 0; i < n; i++) {
        const code = c.outcomes.charCodeAt(t * n + i);
        if (code !== TRUE_POSITIVE && code !== FALSE_POSITIVE) continue;
        d.scores.push(c.scores[i]!);
        d.truePositive.push(code === TRUE_POSITIVE ? 1 : 0);
      }
    }
    out[name] = d;
  }
  return out;
}

/** Counts when boxes with score >= threshold are kept. */
export interface SweepPoint extends Counts {
  threshold: number;
}

/** Every distinct score as a threshold, highest first, with the counts it gives. */
export function sweepThresholds(d: ScoredDetections): SweepPoint[] {
  const scores = Float64Array.from(d.scores);
  const order = descendingScoreOrder(scores);
  const points: SweepPoint[] = [];
  let tp = 0;
  let fp = 0;
  for (let rank = 0; rank < order.length; rank++) {
    const i = order[rank]!;
    if (d.truePositive[i]) tp++;
    else fp++;
    // Boxes of equal score are kept or dropped together: one point after the last of them.
    if (rank + 1 === order.length || scores[order[rank + 1]!] !== scores[i]) points.push({ threshold: scores[i]!, tp, fp, fn: d.gt - tp });
  }
  return points;
}

/** Counts at one threshold (score >= threshold kept). */
export function countsAt(d: ScoredDetections, threshold: number): Counts {
  let tp = 0;
  let fp = 0;
  d.scores.forEach((s, i) => {
    if (s < threshold) return;
    if (d.truePositive[i]) tp++;
    else fp++;
  });
  return { tp, fp, fn: d.gt - tp };
}

/**
 * The threshold meeting the target, or why there is none. f1: the highest F1, the higher threshold on ties (fewer
 * boxes for the same quality); precision=p: the lowest threshold reaching p (the most recall at that precision);
 * recall=r: the highest threshold keeping r (the most precision at that recall).
 */
export function chooseThreshold(points: readonly SweepPoint[], target: CalibrationTarget): SweepPoint | string {
  if (points.length === 0) return 'no predictions';
  const prf = points.map((p) => precisionRecallF1(p));
  let chosen: number | undefined;
  if (target.kind === 'f1') {
    prf.forEach((m, i) => {
      if (chosen === undefined || m.f1 > prf[chosen]!.f1) chosen = i;
    });
    if (prf[chosen!]!.tp === 0) return 'no true positive at any threshold';
  } else if (target.kind === 'precision') {
    prf.forEach((m, i) => {
      if (m.precision >= target.min) chosen = i;
    });
  } else {
    chosen = prf.findIndex((m) => m.recall >= target.min);
    if (chosen < 0) chosen = undefined;
  }
  return chosen === undefined ? `${formatTarget(target)} is never reached` : points[chosen]!;
}

// ---------------------------------------------------------------------------------------------------------------
// Calibration

export interface CalibrateOptions {
  target: CalibrationTarget;
  iouThreshold: number;
  current: CurrentThresholds;
  minGt?: number;
  /** Said in the output, e.g. which IoU was used and why. */
  notes?: string[];
}

/** Thresholds in [0, 1], as the config takes them (a detector's score never exceeds 1; a foreign file's might). */
const asConfigScore = (v: number) => Math.min(1, Math.max(0, v));

/** Suggest thresholds for the target from each class's scored detections, and compare with the current ones. */
export function calibrate(perClass: Record<BddClass, ScoredDetections>, options: CalibrateOptions): Calibration {
  const minGt = options.minGt ?? MIN_GT_TO_CALIBRATE;
  const notes = [...(options.notes ?? [])];
  const pooledDetections: ScoredDetections = { scores: [], truePositive: [], gt: 0 };
  for (const name of BDD_CLASSES) {
    const d = perClass[name];
    // A loop, not push(...spread): a big batch has more boxes than a call may take arguments.
    d.scores.forEach((s, i) => {
      pooledDetections.scores.push(s);
      pooledDetections.truePositive.push(d.truePositive[i]!);
    });
    pooledDetections.gt += d.gt;
  }

  const pooledChoice = chooseThreshold(sweepThresholds(pooledDetections), options.target);
  const defaultThreshold = asConfigScore(typeof pooledChoice === 'string' ? options.current.default : pooledChoice.threshold);
  const pooled = {
    ...precisionRecallF1(countsAt(pooledDetections, defaultThreshold)),
    ...(typeof pooledChoice === 'string' ? { note: `${pooledChoice}: the current default is kept` } : {}),
  };

  const thresholds: SuggestedThresholds = { default: defaultThreshold, perClass: {} };
  const classes = {} as Record<BddClass, ClassCalibration>;
  const totalCurrent: Counts = { tp: 0, fp: 0, fn: 0 };
  const totalSuggested: Counts = { tp: 0, fp: 0, fn: 0 };
  for (const name of BDD_CLASSES) {
    const d = perClass[name];
    const choice: SweepPoint | string =
      d.gt < minGt ? `${d.gt} GT box(es), fewer than ${minGt}` : chooseThreshold(sweepThresholds(d), options.target);
    const threshold = typeof choice === 'string' ? defaultThreshold : asConfigScore(choice.threshold);
    if (typeof choice !== 'string') thresholds.perClass[name] = threshold;
    const currentThreshold = options.current.perClass[name] ?? options.current.default;
    const suggested = countsAt(d, threshold);
    const current = countsAt(d, currentThreshold);
    addCounts(totalSuggested, suggested);
    addCounts(totalCurrent, current);
    classes[name] = {
      gt: d.gt,
      detections: d.scores.length,
      threshold,
      calibrated: typeof choice !== 'string',
      ...(typeof choice === 'string' ? { note: `${choice}: keeps the default` } : {}),
      suggested: precisionRecallF1(suggested),
      current: { threshold: currentThreshold, ...precisionRecallF1(current) },
    };
  }

  const lowestScore = pooledDetections.scores.length ? pooledDetections.scores.reduce((a, b) => Math.min(a, b)) : null;
  if (lowestScore !== null && lowestScore >= options.current.default)
    notes.push(
      `no prediction scores below ${lowestScore}, the current default: the predictions look filtered by it, so lower thresholds could not be tried (label with thresholds.default 0.05 to calibrate)`,
    );

  return {
    target: formatTarget(options.target),
    iouThreshold: options.iouThreshold,
    minGt,
    lowestScore,
    thresholds,
    current: options.current,
    pooled,
    perClass: classes,
    overall: { current: precisionRecallF1(totalCurrent), suggested: precisionRecallF1(totalSuggested) },
    notes,
  };
}

/**
 * Calibrate from chunk match data at one IoU threshold, which must be one of COCO's (the chunks hold matches for
 * those only); the CLI's entry.
 */
export function calibrateChunks(chunks: readonly ChunkMatchData[], options: CalibrateOptions): Calibration {
  const t = cocoIouIndex(options.iouThreshold);
  if (t < 0) throw new RangeError(`IoU ${options.iouThreshold} is not one of COCO's thresholds 0.50:0.05:0.95`);
  return calibrate(scoredDetectionsOfChunks(chunks, t), options);
}

/** The IoU a report's calibration uses: the operating point's when chunks hold matches for it, else 0.5. */
const FALLBACK_IOU = 0.5;

/**
 * The report's `calibration` section: the F1 target at the operating point's IoU, compared with the operating point's
 * score threshold applied to every class.
 */
export function reportCalibration(
  chunks: readonly ChunkMatchData[],
  options: { iouThreshold: number; scoreThreshold: number },
): Calibration {
  const onGrid = cocoIouIndex(options.iouThreshold) >= 0;
  return calibrateChunks(chunks, {
    target: { kind: 'f1' },
    iouThreshold: onGrid ? options.iouThreshold : FALLBACK_IOU,
    current: { default: options.scoreThreshold, perClass: {} },
    notes: onGrid
      ? []
      : [`matched at IoU ${FALLBACK_IOU}: the operating point's IoU ${options.iouThreshold} is not one of COCO's thresholds`],
  });
}
