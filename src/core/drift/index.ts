/** Drift without labels, pure parts: image statistics, profiles in fixed bins, and their comparison. No I/O here. */
export { imageStats, ImageStatsSchema, NIGHT_BRIGHTNESS, NIGHT_SKY_BRIGHTNESS, type ImageStats } from './image-stats';
export { BINS, percentile } from './bins';
export {
  capFormats,
  DriftProfileSchema,
  emptyProfile,
  mergeProfiles,
  observeFailure,
  observeFrame,
  profileOf,
  PROFILE_SCHEMA_VERSION,
  type DriftProfile,
} from './profile';
export { categoricalDrift, ksDrift, shareDrift, type TestResult } from './statistics';
export {
  DEFAULT_DRIFT_THRESHOLDS,
  DEFAULT_METRIC_THRESHOLDS,
  DriftThresholdsSchema,
  thresholdFor,
  type DriftTest,
  type DriftThresholds,
  type DriftThresholdsInput,
} from './thresholds';
export { compareProfiles, DriftMetricSchema, DriftResultSchema, type DriftMetric, type DriftResult } from './compare';
export {
  describeReference,
  parseDriftReference,
  referenceFor,
  type DriftReferenceSetting,
  type ProfiledBatch,
  type ReferenceFor,
} from './reference';
