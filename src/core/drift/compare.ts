/**
 * Drift of a current profile against a reference profile: one score per metric, judged by the thresholds
 * (thresholds.ts). Pure: the CLI, the batch documents and the nightly report all call this.
 */
import { z } from 'zod';
import { ATTRIBUTE_NAMES } from '../taxonomy/attributes';
import { categoricalDrift, ksDrift, shareDrift, type TestResult } from './statistics';
import { thresholdFor, type DriftTest, type DriftThresholds } from './thresholds';
import type { DriftProfile } from './profile';
import { BINS, percentile } from './bins';

export const DriftGroupSchema = z.enum(['input', 'output', 'software']);

export const DriftMetricSchema = z.object({
  /** `input.brightness`, `output.score.car`, `software.latencyMs` ... */
  name: z.string().min(1),
  group: DriftGroupSchema,
  test: z.enum(['ks', 'js', 'share']),
  /** Size of the change, 0 .. 1 (KS statistic D, Jensen-Shannon distance, or difference of two shares). */
  score: z.number().min(0).max(1),
  /** Above 1: the metric's alarm is off. */
  threshold: z.number().min(0),
  /** How likely samples of these sizes differ this much by chance (KS, chi-square or Fisher's exact test). */
  pValue: z.number().min(0).max(1),
  /** score >= threshold and pValue < alpha, with enough samples either side. */
  drift: z.boolean(),
  /** Observations on each side (images, or boxes for class histograms and scores). */
  samples: z.object({ reference: z.number().int().nonnegative(), current: z.number().int().nonnegative() }),
  /** Why the metric was not judged (too few samples). */
  note: z.string().optional(),
});
export type DriftMetric = z.infer<typeof DriftMetricSchema>;

const percentiles = z.object({ p50: z.number().nullable(), p95: z.number().nullable() });

export const DriftResultSchema = z.object({
  drift: z.boolean(),
  alpha: z.number(),
  reference: z.object({ images: z.number().int().nonnegative(), failed: z.number().int().nonnegative() }),
  current: z.object({ images: z.number().int().nonnegative(), failed: z.number().int().nonnegative() }),
  /** Whole-image latency percentiles either side, read from the bins (within 19%); null without timed frames. */
  latencyMs: z.object({ reference: percentiles, current: percentiles }),
  /** Flagged metrics first (largest score over threshold first), then the others by name. */
  metrics: z.array(DriftMetricSchema),
});
export type DriftResult = z.infer<typeof DriftResultSchema>;

const round = (v: number, digits: number) => Number(v.toFixed(digits));
const sumOf = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export function compareProfiles(reference: DriftProfile, current: DriftProfile, thresholds: DriftThresholds): DriftResult {
  const metrics: DriftMetric[] = [];
  const judge = (
    name: string,
    test: DriftTest,
    samples: [number, number],
    result: () => TestResult,
    minSamples = thresholds.minSamples,
  ) => {
    const threshold = thresholdFor(thresholds, name, test);
    const group = name.slice(0, name.indexOf('.')) as DriftMetric['group'];
    const [ref, cur] = samples;
    if (ref === 0 && cur === 0) return;
    const base = { name, group, test, threshold, samples: { reference: ref, current: cur } };
    if (ref < minSamples || cur < minSamples) {
      metrics.push({ ...base, score: 0, pValue: 1, drift: false, note: `fewer than ${minSamples} samples on a side` });
      return;
    }
    const { score, pValue } = result();
    metrics.push({
      ...base,
      score: round(score, 4),
      pValue: pValue < 1e-6 ? Number(pValue.toPrecision(2)) : round(pValue, 6),
      drift: score >= threshold && pValue < thresholds.alpha,
    });
  };
  const r = reference;
  const c = current;

  const measured: [number, number] = [r.input.measured, c.input.measured];
  judge('input.format', 'js', [r.images, c.images], () => categoricalDrift(r.input.formats, c.input.formats));
  judge('input.brightness', 'ks', measured, () => ksDrift(r.input.brightness, c.input.brightness));
  judge('input.contrast', 'ks', measured, () => ksDrift(r.input.contrast, c.input.contrast));
  judge('input.saturation', 'ks', measured, () => ksDrift(r.input.saturation, c.input.saturation));
  judge('input.nightLike', 'share', measured, () => shareDrift(r.input.nightLike, r.input.measured, c.input.nightLike, c.input.measured));

  const detected: [number, number] = [r.output.detected, c.output.detected];
  judge('output.boxesPerImage', 'ks', detected, () => ksDrift(r.output.boxesPerImage, c.output.boxesPerImage));
  judge('output.classes', 'js', detected, () => categoricalDrift(r.output.classes, c.output.classes));
  const classes = [...new Set([...Object.keys(r.output.scores), ...Object.keys(c.output.scores)])].sort();
  for (const name of classes) {
    const rs = r.output.scores[name] ?? [];
    const cs = c.output.scores[name] ?? [];
    judge(`output.score.${name}`, 'ks', [sumOf(rs), sumOf(cs)], () => ksDrift(rs, cs), thresholds.minBoxes);
  }
  const classified: [number, number] = [r.output.classified, c.output.classified];
  for (const name of ATTRIBUTE_NAMES) {
    judge(`output.attributes.${name}`, 'js', classified, () =>
      categoricalDrift(r.output.attributes[name] ?? {}, c.output.attributes[name] ?? {}),
    );
  }
  for (const name of ATTRIBUTE_NAMES) {
    const a = r.output.abstained[name] ?? 0;
    const b = c.output.abstained[name] ?? 0;
    // Judged once there are abstentions on either side: before that the share is 0 = 0.
    if (a + b > 0) judge(`output.abstained.${name}`, 'share', classified, () => shareDrift(a, r.output.classified, b, c.output.classified));
  }

  judge('software.latencyMs', 'ks', [r.software.timed, c.software.timed], () => ksDrift(r.software.latencyMs, c.software.latencyMs));
  const attempted: [number, number] = [r.images + r.failed, c.images + c.failed];
  if (r.software.retried + c.software.retried > 0)
    judge('software.retried', 'share', [r.images, c.images], () => shareDrift(r.software.retried, r.images, c.software.retried, c.images));
  if (r.failed + c.failed > 0)
    judge('software.failed', 'share', attempted, () => shareDrift(r.failed, attempted[0], c.failed, attempted[1]));
  if (r.software.metered + c.software.metered > 0)
    judge('software.tokensPerImage', 'ks', [r.software.metered, c.software.metered], () =>
      ksDrift(r.software.tokensPerImage, c.software.tokensPerImage),
    );

  metrics.sort(
    (a, b) =>
      Number(b.drift) - Number(a.drift) ||
      (a.drift ? b.score - b.threshold - (a.score - a.threshold) : 0) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return DriftResultSchema.parse({
    drift: metrics.some((m) => m.drift),
    alpha: thresholds.alpha,
    reference: { images: r.images, failed: r.failed },
    current: { images: c.images, failed: c.failed },
    latencyMs: { reference: latencyPercentiles(r), current: latencyPercentiles(c) },
    metrics,
  });
}

function latencyPercentiles(profile: DriftProfile): { p50: number | null; p95: number | null } {
  const at = (q: number) => {
    const v = percentile(profile.software.latencyMs, BINS.log, q);
    return v === undefined ? null : Math.round(v);
  };
  return { p50: at(0.5), p95: at(0.95) };
}
