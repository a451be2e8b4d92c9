/** The nightly evaluation report, pure parts: what the timer function imports. No I/O here. */
export * from './schemas';
export { summarizeBatchReport } from './summarize-batch';
export { poolNight, weightedMean, type NightWindow } from './pool-night';
export { classNamesOf, metricKey, metricValue, parseMetricKey, trackedMetrics, type MetricRef } from './metrics';
export { baselineOf, findRegressions, FLOAT_SLACK, type Baseline } from './regressions';
export {
  buildNightlyReport,
  historyAfter,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_MIN_HISTORY,
  DEFAULT_TOLERANCE,
  type BuildNightlyReportArgs,
  type Instant,
} from './build-report';
export {
  BatchDriftSchema,
  buildDriftSection,
  NightlyDriftSchema,
  type BatchDrift,
  type BuildDriftSectionArgs,
  type NightlyDrift,
  type WindowBatch,
} from './drift';
