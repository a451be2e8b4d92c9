import { z } from 'zod';
import { BDD_CLASSES } from '../taxonomy/categories';
import { ATTRIBUTE_NAMES } from '../taxonomy/attributes';
import { CalibrationSchema } from './calibration';

export const REPORT_SCHEMA_VERSION = 1;

/** A fraction in [0, 1], or -1 where the quantity is undefined (COCO's convention for "no ground truth"). */
const metric = z.number().min(-1).max(1);
const count = z.number().int().nonnegative();
const box2d = z.object({ x1: z.number(), y1: z.number(), x2: z.number(), y2: z.number() });

export const BoxModeSchema = z.enum(['coco', 'bdd']);

export const EvaluationOptionsSchema = z.object({
  mode: BoxModeSchema.default('coco'),
  iouThreshold: z.number().gt(0).lte(1).default(0.5),
  scoreThreshold: z.number().min(0).default(0.3),
});
export type EvaluationOptions = z.infer<typeof EvaluationOptionsSchema>;

/** The models and configs behind the predicted frames, each with how many frames it made. */
export const PredictionProvenanceSchema = z.object({
  /** Frames carrying provenance, of the input's frames. */
  frames: count,
  models: z.array(z.object({ role: z.enum(['detector', 'scene']), provider: z.string(), model: z.string(), frames: count })),
  configHashes: z.array(z.object({ hash: z.string(), frames: count })),
  /** Earliest and latest provenance createdAt (ISO), when the frames carry one. */
  firstCreatedAt: z.string().optional(),
  lastCreatedAt: z.string().optional(),
});
export type PredictionProvenance = z.infer<typeof PredictionProvenanceSchema>;

export const InputSummarySchema = z.object({
  path: z.string(),
  files: count,
  frames: count,
  formats: z.record(z.string(), count),
  problems: z.array(z.object({ file: z.string(), message: z.string() })),
  /** What made the predictions, from the frames' provenance (predictions input only; absent when none carries any). */
  provenance: PredictionProvenanceSchema.optional(),
  /** Ground truth only: images whose ground truth is a person's review of the automatic labels (in name order). */
  reviewed: z.array(z.string()).optional(),
});
export type InputSummary = z.infer<typeof InputSummarySchema>;

export const CocoStatsSchema = z.object({
  AP: metric,
  AP50: metric,
  AP75: metric,
  APs: metric,
  APm: metric,
  APl: metric,
  AR1: metric,
  AR10: metric,
  AR100: metric,
  ARs: metric,
  ARm: metric,
  ARl: metric,
});

const operatingPoint = z.object({ precision: metric, recall: metric, f1: metric, tp: count, fp: count, fn: count });

export const ClassResultSchema = operatingPoint.extend({
  AP: metric,
  AP50: metric,
  AP75: metric,
  AR100: metric,
  /** Non-crowd GT boxes of the class. */
  gt: count,
  /** Predicted boxes of the class, any score. */
  predictions: count,
});

export const DiagnosticBoxSchema = z.object({ category: z.string(), box2d, score: z.number().optional(), bestIou: z.number() });
export const ImageCountsSchema = z.object({ name: z.string(), gt: count, predictions: count, tp: count, fp: count, fn: count });
export const ImageDiagnosticsSchema = ImageCountsSchema.extend({
  missed: z.array(DiagnosticBoxSchema),
  falsePositives: z.array(DiagnosticBoxSchema),
  /** Matched predictions (bestIou: IoU with the GT box they matched), for pictures; absent unless asked for. */
  truePositives: z.array(DiagnosticBoxSchema).optional(),
});

export const AttributeResultSchema = z.object({
  accuracy: metric,
  evaluated: count,
  correct: count,
  undefinedGt: count,
  missingPrediction: count,
  unrecognizedPredictions: count,
  /** Answered (not `undefined`, not missing), its share and the accuracy on those; absent in older reports. */
  answered: count.optional(),
  coverage: metric.optional(),
  answeredAccuracy: metric.optional(),
  gtLabels: z.array(z.string()),
  predictedLabels: z.array(z.string()),
  confusion: z.array(z.array(count)),
});

const byClass = <T extends z.ZodType>(value: T) => z.record(z.enum(BDD_CLASSES), value);
const byAttribute = <T extends z.ZodType>(value: T) => z.record(z.enum(ATTRIBUTE_NAMES as [string, ...string[]]), value);

/** The automatic labels of the images people reviewed, against those reviews (core/review/agreement.ts). */
export const ReviewAgreementSchema = z.object({
  /** Reviewed images compared. */
  images: count,
  /** Boxes at the operating point, all classes pooled; -1 when undefined. */
  precision: metric,
  recall: metric,
  f1: metric,
  /** Attributes the automatic labels got as the reviewers have them; -1 when none was reviewed. */
  attributeAccuracy: metric,
});
export type ReviewAgreement = z.infer<typeof ReviewAgreementSchema>;

export const EvaluationReportSchema = z.object({
  kind: z.literal('autolabel.evaluation'),
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  createdAt: z.string(),
  options: EvaluationOptionsSchema,
  inputs: z.object({ gt: InputSummarySchema, pred: InputSummarySchema }).optional(),
  images: z.object({
    evaluated: count,
    withPredictions: count,
    withoutPredictions: count,
    predictionsWithoutGt: z.array(z.string()),
  }),
  warnings: z.array(z.string()),
  /** Present when people reviewed some of the images: how far the automatic labels are from their corrections. */
  reviewAgreement: ReviewAgreementSchema.optional(),
  detection: z.object({
    classes: z.array(z.string()),
    stats: CocoStatsSchema,
    perClass: byClass(ClassResultSchema),
    overall: operatingPoint,
    prCurves: z.object({
      recallThresholds: z.array(z.number()),
      perClass: byClass(z.object({ iou50: z.array(metric), iou75: z.array(metric) })),
    }),
  }),
  attributes: z.object({
    accuracy: z.object({ weather: metric, timeofday: metric, scene: metric, overall: metric }),
    perAttribute: byAttribute(AttributeResultSchema),
  }),
  diagnostics: z.object({
    /** Images with the most errors at the operating point, worst first, with their boxes. */
    worstImages: z.array(ImageDiagnosticsSchema),
    /** Every evaluated image's counts, worst first. */
    perImage: z.array(ImageCountsSchema),
  }),
  /** Suggested score thresholds from this evaluation's own errors (calibration.ts); absent in older reports. */
  calibration: CalibrationSchema.optional(),
});
export type EvaluationReport = z.infer<typeof EvaluationReportSchema>;
