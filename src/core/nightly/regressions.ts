import { metricKey, metricValue, trackedMetrics, type MetricRef } from './metrics';
import { weightedMean } from './pool-night';
import type { NightlySummary, Regression } from './schemas';

/**
 * Drops within this much of the tolerance count as equal to it: 0.80 - 0.78 is 0.020000000000000018 in floating
 * point, and a drop of exactly the tolerance must not be flagged.
 */
export const FLOAT_SLACK = 1e-9;

export interface Baseline {
  value: number;
  /** Earlier nights that define the metric. */
  nights: number;
}

/**
 * Mean of the metric over the earlier nights that define it, each night counting once: a baseline of nights, not
 * of images, so one big night does not set the norm for a month. Undefined when no earlier night defines it.
 */
export function baselineOf(history: readonly NightlySummary[], ref: MetricRef): Baseline | undefined {
  const values = history.map((night) => metricValue(night, ref)).filter((v) => v >= 0);
  if (values.length === 0) return undefined;
  return { value: weightedMean(values.map((value) => ({ value, weight: 1 }))), nights: values.length };
}

/**
 * Every tracked metric of `current` that is defined, has a baseline over at least `minHistory` earlier nights, and
 * fell below it by more than `tolerance` (absolute). Largest drop first, then by metric name.
 */
export function findRegressions(
  current: NightlySummary,
  history: readonly NightlySummary[],
  options: { tolerance: number; minHistory: number },
): Regression[] {
  const regressions: Regression[] = [];
  for (const ref of trackedMetrics([current])) {
    const value = metricValue(current, ref);
    if (value < 0) continue;
    const baseline = baselineOf(history, ref);
    if (!baseline || baseline.nights < options.minHistory) continue;
    const drop = baseline.value - value;
    if (drop > options.tolerance + FLOAT_SLACK)
      regressions.push({ metric: metricKey(ref), current: value, baseline: baseline.value, baselineNights: baseline.nights, drop });
  }
  return regressions.sort((a, b) => b.drop - a.drop || (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
}
