/**
 * When a difference between two profiles is drift. Two conditions, both needed: the size of the change (`score`)
 * reaches the metric's threshold, AND the change is significant for the sample sizes (p-value below `alpha`). The
 * first ignores differences too small to matter however many images there are; the second ignores differences
 * that small batches show by chance (two ordinary batches of 30 daytime images differ by that much).
 */
import { z } from 'zod';

export type DriftTest = 'ks' | 'js' | 'share';

/**
 * Per-metric thresholds that differ from their test's default (see the README, "Monitoring in production", for
 * why): a key is a metric name or the part before its last dot (`output.score` for every class).
 */
export const DEFAULT_METRIC_THRESHOLDS: Readonly<Record<string, number>> = {
  // Latency follows the machine's load as much as the model: only a gross change is worth an alarm.
  'software.latencyMs': 0.5,
  // One extra failure or retry in a small batch is noise; a fifth of the images is not.
  'software.failed': 0.1,
  'software.retried': 0.2,
};

export const DriftThresholdsSchema = z.strictObject({
  /** Significance level: a change is drift only if samples this size show it by chance less often than this. */
  alpha: z.number().gt(0).lt(1).default(0.001),
  /** Fewer images (or boxes, for a class's scores) on either side: the metric is not judged. */
  minSamples: z.number().int().positive().default(5),
  /** Boxes of a class either side needs before its score distribution is judged. */
  minBoxes: z.number().int().positive().default(20),
  /** Defaults per test: KS statistic D, Jensen-Shannon distance, absolute difference of two shares. */
  byTest: z
    .strictObject({
      ks: z.number().min(0).max(1).default(0.3),
      js: z.number().min(0).max(1).default(0.25),
      share: z.number().min(0).max(1).default(0.2),
    })
    .prefault({}),
  /**
   * Per metric name, or name prefix before the last dot: overrides DEFAULT_METRIC_THRESHOLDS and byTest. Scores are
   * at most 1, so a threshold above 1 turns a metric's alarm off (it is still measured and shown).
   */
  metrics: z.record(z.string().min(1), z.number().min(0)).default({}),
});
export type DriftThresholds = z.infer<typeof DriftThresholdsSchema>;
export type DriftThresholdsInput = z.input<typeof DriftThresholdsSchema>;

export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = DriftThresholdsSchema.parse({});

/** The threshold of a metric: the configured one for its name or prefix, else the built-in one, else its test's. */
export function thresholdFor(thresholds: DriftThresholds, name: string, test: DriftTest): number {
  const prefix = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : name;
  return (
    thresholds.metrics[name] ??
    thresholds.metrics[prefix] ??
    DEFAULT_METRIC_THRESHOLDS[name] ??
    DEFAULT_METRIC_THRESHOLDS[prefix] ??
    thresholds.byTest[test]
  );
}
