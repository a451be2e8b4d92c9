/**
 * Documents of the nightly evaluation report. These zod schemas are their single definition: the timer function
 * parses what it loads through them, and the types below are inferred from them.
 *
 * Metrics follow the evaluation report's convention: a fraction in [0, 1], or -1 where it is undefined (no ground
 * truth of the class, no image with a defined attribute, no batch that night).
 */
import { z } from 'zod';
import { ReviewAgreementSchema } from '../evaluation/report-schema';
import { NightlyDriftSchema } from './drift';

export const NIGHTLY_SCHEMA_VERSION = 1;

/** A fraction in [0, 1], or exactly -1 for "undefined" (values in between are always a bug upstream). */
const metric = z.number().refine((v) => v === -1 || (v >= 0 && v <= 1), 'a fraction in [0, 1], or -1 for undefined');
const count = z.number().int().nonnegative();
const isoDate = z.string().datetime({ offset: true });
const id = z.string().min(1);

export const DetectionStatsSchema = z.object({ AP: metric, AP50: metric });

export const ClassMetricsSchema = z.object({
  AP: metric,
  AP50: metric,
  /** Non-crowd GT boxes of the class (summed over the batches of a night). */
  gt: count,
});

/**
 * Keyed by class name as the evaluation report spells it. Plain string keys rather than the BDD enum so that stored
 * nights stay readable if the taxonomy changes.
 */
export const PerClassMetricsSchema = z.record(z.string().min(1), ClassMetricsSchema);

export const AttributeAccuracySchema = z.object({ weather: metric, timeofday: metric, scene: metric, overall: metric });
export type AttributeKey = keyof z.infer<typeof AttributeAccuracySchema>;
export const ATTRIBUTE_KEYS: readonly AttributeKey[] = ['weather', 'timeofday', 'scene', 'overall'];

/** What the timer keeps of one batch evaluation report (summarizeBatchReport). */
export const BatchReportSummarySchema = z.object({
  reportId: id,
  batchId: id,
  /** When the evaluation report was created. */
  createdAt: isoDate,
  /** Images evaluated. */
  images: count,
  stats: DetectionStatsSchema,
  perClass: PerClassMetricsSchema,
  attributes: AttributeAccuracySchema,
  /** When people reviewed some images: the automatic labels against their corrections. */
  reviewAgreement: ReviewAgreementSchema.optional(),
});
export type BatchReportSummary = z.infer<typeof BatchReportSummarySchema>;

/** One batch of a night, as the nightly page lists it. */
export const NightBatchSchema = z.object({
  reportId: id,
  batchId: id,
  createdAt: isoDate,
  images: count,
  AP50: metric,
  attributeAccuracy: metric,
});

/**
 * One night: the batch reports created in [windowStart, windowEnd), pooled (see poolNight for how). Every metric is
 * -1 on a night without batches.
 */
export const NightlySummarySchema = z.object({
  /** The UTC date of the run, YYYY-MM-DD. */
  night: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD'),
  windowStart: isoDate,
  windowEnd: isoDate,
  /** Oldest first. */
  batches: z.array(NightBatchSchema),
  /** Images evaluated over all batches. */
  images: count,
  stats: DetectionStatsSchema,
  perClass: PerClassMetricsSchema,
  attributes: AttributeAccuracySchema,
  /** The night's reviewed images pooled (F1 and attribute accuracy weighted by reviewed images); absent without any. */
  reviewAgreement: ReviewAgreementSchema.optional(),
});
export type NightlySummary = z.infer<typeof NightlySummarySchema>;

/** A tracked metric that fell more than the tolerance below the mean of the earlier nights. */
export const RegressionSchema = z.object({
  /** 'stats.AP50', 'perClass.car.AP50', 'attributes.timeofday' (metrics.ts builds and parses these). */
  metric: z.string().min(1),
  current: metric,
  /** Mean of the earlier nights where the metric is defined (each night counts once, whatever its size). */
  baseline: metric,
  /** How many earlier nights the baseline averages. */
  baselineNights: z.number().int().positive(),
  /** baseline - current, > tolerance. */
  drop: z.number().gt(0).max(1),
});
export type Regression = z.infer<typeof RegressionSchema>;

export const NightlySettingsSchema = z.object({
  /** A drop (absolute, in [0, 1] units) must exceed this to be a regression. */
  tolerance: z.number().min(0).max(1),
  /** Earlier nights with a defined value a metric needs before it can regress. */
  minHistory: z.number().int().positive(),
  /** Earlier nights kept in `history`. */
  historyLimit: z.number().int().positive(),
});
export type NightlySettings = z.infer<typeof NightlySettingsSchema>;

export const NightlyReportSchema = z.object({
  kind: z.literal('autolabel.nightly'),
  schemaVersion: z.literal(NIGHTLY_SCHEMA_VERSION),
  createdAt: isoDate,
  settings: NightlySettingsSchema,
  night: NightlySummarySchema,
  /** Earlier nights, oldest first, at most settings.historyLimit. */
  history: z.array(NightlySummarySchema),
  /** Largest drop first. */
  regressions: z.array(RegressionSchema),
  /** Plain sentences about what the report could not do or left out. */
  notes: z.array(z.string()),
  /** Drift without labels of the batches that finished labeling in the window (absent in older reports). */
  drift: NightlyDriftSchema.optional(),
});
export type NightlyReport = z.infer<typeof NightlyReportSchema>;
