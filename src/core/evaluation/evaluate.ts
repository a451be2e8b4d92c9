import type { Frame } from '../labels/schema';
import { buildEvalDataset, type EvalDataset } from './dataset';
import { cocoEvaluate } from './coco-eval';
import { classAp, precisionCurve, summarize } from './coco-summary';
import { RECALL_THRESHOLDS } from './coco-params';
import { evaluateOperatingPoint } from './operating-point';
import { evaluateAttributes } from './attributes-eval';
import {
  EvaluationOptionsSchema,
  REPORT_SCHEMA_VERSION,
  type EvaluationOptions,
  type EvaluationReport,
  type InputSummary,
} from './report-schema';

/** How many of the worst images keep their boxes in the report (all images keep their counts). */
export const WORST_IMAGES_WITH_BOXES = 50;

export interface EvaluateArgs {
  gt: readonly Frame[];
  predictions: readonly Frame[];
  options?: Partial<EvaluationOptions>;
  inputs?: { gt: InputSummary; pred: InputSummary };
  /** Injected for reproducible reports. */
  now?: Date;
}

/** Evaluate predictions against ground truth: COCO detection metrics, operating point, attributes, diagnostics. */
export function evaluate(args: EvaluateArgs): EvaluationReport {
  const options = EvaluationOptionsSchema.parse(args.options ?? {});
  const dataset = buildEvalDataset(args.gt, args.predictions, options.mode);
  const arrays = cocoEvaluate(dataset);
  const point = evaluateOperatingPoint(dataset, options);
  const attributes = evaluateAttributes(args.gt, args.predictions);

  const perClass = {} as EvaluationReport['detection']['perClass'];
  const curves = {} as EvaluationReport['detection']['prCurves']['perClass'];
  dataset.classes.forEach((name, k) => {
    perClass[name] = {
      ...classAp(arrays, k),
      ...point.perClass[k]!,
      gt: countBoxes(dataset, 'gt', k),
      predictions: countBoxes(dataset, 'dt', k),
    };
    curves[name] = { iou50: precisionCurve(arrays, k, 'iou50'), iou75: precisionCurve(arrays, k, 'iou75') };
  });

  const ranked = [...point.images].sort((a, b) => b.fp + b.fn - (a.fp + a.fn) || a.name.localeCompare(b.name));
  const withPredictions = dataset.images.filter((i) => i.hasPrediction).length;
  return {
    kind: 'autolabel.evaluation',
    schemaVersion: REPORT_SCHEMA_VERSION,
    createdAt: (args.now ?? new Date()).toISOString(),
    options,
    ...(args.inputs ? { inputs: args.inputs } : {}),
    images: {
      evaluated: dataset.images.length,
      withPredictions,
      withoutPredictions: dataset.images.length - withPredictions,
      predictionsWithoutGt: dataset.predictionsWithoutGt,
    },
    warnings: warningsOf(dataset),
    detection: {
      classes: [...dataset.classes],
      stats: summarize(arrays),
      perClass,
      overall: point.overall,
      prCurves: { recallThresholds: [...RECALL_THRESHOLDS], perClass: curves },
    },
    attributes,
    diagnostics: {
      worstImages: ranked.filter((i) => i.fp + i.fn > 0).slice(0, WORST_IMAGES_WITH_BOXES),
      perImage: ranked.map(({ name, gt, predictions, tp, fp, fn }) => ({ name, gt, predictions, tp, fp, fn })),
    },
  };
}

function countBoxes(dataset: EvalDataset, side: 'gt' | 'dt', classIndex: number): number {
  let n = 0;
  for (const image of dataset.images)
    for (const box of image[side]) if (box.classIndex === classIndex && !box.crowd) n++;
  return n;
}

function warningsOf(dataset: EvalDataset): string[] {
  const warnings: string[] = [];
  const tally = (t: Record<string, number>) =>
    Object.entries(t)
      .map(([name, n]) => `${name} (${n})`)
      .join(', ');
  if (dataset.predictionsWithoutGt.length > 0) {
    const names = dataset.predictionsWithoutGt;
    warnings.push(
      `${names.length} predicted image(s) have no ground truth and were not evaluated: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}`,
    );
  }
  const withoutPredictions = dataset.images.filter((i) => !i.hasPrediction).length;
  if (withoutPredictions > 0)
    warnings.push(`${withoutPredictions} ground-truth image(s) have no prediction: all their boxes count as misses`);
  if (Object.keys(dataset.unknownGtCategories).length > 0)
    warnings.push(`ground-truth boxes with categories outside the taxonomy were not evaluated: ${tally(dataset.unknownGtCategories)}`);
  if (Object.keys(dataset.unknownPredictionCategories).length > 0)
    warnings.push(`predicted boxes with categories outside the taxonomy were not evaluated: ${tally(dataset.unknownPredictionCategories)}`);
  const skipped = dataset.predictionsNotEvaluated;
  if (skipped.withoutScore > 0) warnings.push(`${skipped.withoutScore} predicted box(es) have no score and were not evaluated`);
  if (skipped.ignoredClass > 0)
    warnings.push(`${skipped.ignoredClass} predicted box(es) name a class BDD does not evaluate (other person/vehicle, trailer)`);
  if (skipped.withoutBox > 0) warnings.push(`${skipped.withoutBox} predicted label(s) have no box2d`);
  return warnings;
}
