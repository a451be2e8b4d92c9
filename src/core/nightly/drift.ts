/**
 * The nightly report's drift section: every batch that finished labeling in the window, with or without ground
 * truth, compared with its reference (core/drift). Pure: the timer gathers the profiles, this judges them.
 */
import { z } from 'zod';
import {
  BINS,
  compareProfiles,
  describeReference,
  DriftMetricSchema,
  DriftResultSchema,
  DriftThresholdsSchema,
  referenceFor,
  type DriftProfile,
  type DriftReferenceSetting,
  type DriftThresholds,
  type ProfiledBatch,
} from '../drift';

/** Reference batch ids listed per batch; the count says how many there are in all. */
const MAX_LISTED_REFERENCE = 20;
/** Bins of the brightness sketch drawn per batch (the profile's 50 bins, summed in fives). */
const SKETCH_BINS = 10;

const count = z.number().int().nonnegative();
const isoDate = z.string().datetime({ offset: true });

export const BatchDriftSchema = z.object({
  batchId: z.string().min(1),
  completedAt: isoDate,
  images: count,
  failed: count,
  /** Whether the batch has an evaluation report (ground truth) yet: drift is judged either way. */
  groundTruth: z.boolean(),
  /**
   * compared: judged against its reference; reference: part of the reference itself; no-reference: nothing to
   * compare with (no pinned batch has a profile, or no other batch of its labeling setup); no-profile: its drift
   * profile could not be computed.
   */
  status: z.enum(['compared', 'reference', 'no-reference', 'no-profile']),
  reference: z.object({ batchIds: z.array(z.string()).max(MAX_LISTED_REFERENCE), batches: count, images: count }).optional(),
  drift: z.boolean(),
  metrics: z.array(DriftMetricSchema),
  /** Whole-image latency percentiles of the batch and its reference (compareProfiles). */
  latencyMs: DriftResultSchema.shape.latencyMs.optional(),
  /** Share of images per tenth of brightness, reference and batch: the small chart beside the table. */
  brightness: z.object({ reference: z.array(z.number()), current: z.array(z.number()) }).optional(),
});
export type BatchDrift = z.infer<typeof BatchDriftSchema>;

export const NightlyDriftSchema = z.object({
  /** DRIFT_REFERENCE in words. */
  reference: z.string(),
  thresholds: DriftThresholdsSchema,
  /** Oldest completion first. */
  batches: z.array(BatchDriftSchema),
});
export type NightlyDrift = z.infer<typeof NightlyDriftSchema>;

export interface WindowBatch {
  batchId: string;
  completedAt: string;
  groundTruth: boolean;
  /** Undefined when the profile could not be computed. */
  profile: DriftProfile | undefined;
}

export interface BuildDriftSectionArgs {
  /** The batches that finished labeling in the window. */
  window: readonly WindowBatch[];
  /** Every batch with a profile (the window's included): where references come from. */
  all: readonly ProfiledBatch[];
  reference: DriftReferenceSetting;
  thresholds: DriftThresholds;
}

export function buildDriftSection(args: BuildDriftSectionArgs): NightlyDrift {
  const sorted = [...args.window].sort((a, b) => (a.completedAt < b.completedAt ? -1 : a.completedAt > b.completedAt ? 1 : 0));
  const batches = sorted.map((batch): BatchDrift => {
    const base = { batchId: batch.batchId, completedAt: batch.completedAt, groundTruth: batch.groundTruth };
    if (!batch.profile) return { ...base, images: 0, failed: 0, status: 'no-profile', drift: false, metrics: [] };
    const profile = batch.profile;
    const sizes = { images: profile.images, failed: profile.failed };
    const ref = referenceFor({ batchId: batch.batchId, completedAt: batch.completedAt, profile }, args.all, args.reference);
    const images = args.all.filter((b) => ref.batchIds.includes(b.batchId)).reduce((n, b) => n + b.profile.images, 0);
    const reference = { batchIds: ref.batchIds.slice(0, MAX_LISTED_REFERENCE), batches: ref.batchIds.length, images };
    if (ref.status !== 'compared') return { ...base, ...sizes, status: ref.status, reference, drift: false, metrics: [] };
    const result = compareProfiles(ref.profile, profile, args.thresholds);
    return {
      ...base,
      ...sizes,
      status: 'compared',
      reference,
      drift: result.drift,
      metrics: result.metrics,
      latencyMs: result.latencyMs,
      brightness: { reference: sketch(ref.profile.input.brightness), current: sketch(profile.input.brightness) },
    };
  });
  return NightlyDriftSchema.parse({ reference: describeReference(args.reference), thresholds: args.thresholds, batches });
}

function sketch(counts: readonly number[]): number[] {
  const per = BINS.unit.bins / SKETCH_BINS;
  const total = counts.reduce((a, b) => a + b, 0);
  return Array.from({ length: SKETCH_BINS }, (_, i) => {
    const s = counts.slice(i * per, (i + 1) * per).reduce((a, b) => a + b, 0);
    return total ? Number((s / total).toFixed(4)) : 0;
  });
}
