import { ATTRIBUTE_KEYS, type BatchReportSummary, type NightlySummary } from './schemas';

export interface NightWindow {
  /** YYYY-MM-DD (UTC) of the run. */
  night: string;
  windowStart: string;
  windowEnd: string;
}

/**
 * Weighted mean of the defined values (>= 0) with a positive weight; -1 when there is none. -1 entries are skipped
 * rather than averaged in, since -1 means "undefined", not "zero".
 */
export function weightedMean(entries: Iterable<{ value: number; weight: number }>): number {
  let sum = 0;
  let weights = 0;
  for (const { value, weight } of entries) {
    if (!(value >= 0) || !(weight > 0)) continue;
    sum += value * weight;
    weights += weight;
  }
  // Clamped because rounding can put a mean of values in [0, 1] a hair outside it.
  return weights > 0 ? Math.min(1, Math.max(0, sum / weights)) : -1;
}

/** Oldest first; the report id breaks ties so the order never depends on the order the store returned them in. */
export function byCreation(a: BatchReportSummary, b: BatchReportSummary): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.reportId < b.reportId ? -1 : a.reportId > b.reportId ? 1 : 0;
}

/**
 * Pool one night's batch summaries (each a distinct report) into a NightlySummary.
 *
 * This averages the batches' own metrics; it does NOT re-evaluate the union of their images, which would need the
 * labels, and COCO AP is not additive over subsets: the pooled numbers approximate, not reproduce, an evaluation of
 * all the night's images at once.
 * - Per-class AP and AP50: mean over the batches where the class has ground truth, weighted by its GT box count
 *   (a batch with 500 cars says more about cars than one with 3). A class no batch has GT for is -1 (gt 0).
 * - Detection stats AP / AP50 and the attribute accuracies: mean weighted by the batch's evaluated images (the
 *   summaries do not say how many images had a defined attribute, so images are the closest weight available).
 * - -1 entries are skipped; a metric no batch defines stays -1.
 */
export function poolNight(summaries: readonly BatchReportSummary[], window: NightWindow): NightlySummary {
  const batches = [...summaries].sort(byCreation);
  const byImages = (pick: (s: BatchReportSummary) => number) => weightedMean(batches.map((s) => ({ value: pick(s), weight: s.images })));

  const classNames: string[] = [];
  for (const s of batches) for (const name of Object.keys(s.perClass)) if (!classNames.includes(name)) classNames.push(name);
  const perClass: NightlySummary['perClass'] = {};
  for (const name of classNames) {
    const entries = batches.flatMap((s) => {
      const c = s.perClass[name];
      return c ? [c] : [];
    });
    const byGt = (pick: (c: (typeof entries)[number]) => number) => weightedMean(entries.map((c) => ({ value: pick(c), weight: c.gt })));
    perClass[name] = { AP: byGt((c) => c.AP), AP50: byGt((c) => c.AP50), gt: entries.reduce((n, c) => n + c.gt, 0) };
  }

  const attributes = {} as NightlySummary['attributes'];
  for (const key of ATTRIBUTE_KEYS) attributes[key] = byImages((s) => s.attributes[key]);
  const reviewAgreement = poolReviewAgreement(batches);

  return {
    night: window.night,
    windowStart: window.windowStart,
    windowEnd: window.windowEnd,
    batches: batches.map((s) => ({
      reportId: s.reportId,
      batchId: s.batchId,
      createdAt: s.createdAt,
      images: s.images,
      AP50: s.stats.AP50,
      attributeAccuracy: s.attributes.overall,
    })),
    images: batches.reduce((n, s) => n + s.images, 0),
    stats: { AP: byImages((s) => s.stats.AP), AP50: byImages((s) => s.stats.AP50) },
    perClass,
    attributes,
    ...(reviewAgreement ? { reviewAgreement } : {}),
  };
}

/** The batches' agreement with their reviews, weighted by reviewed images; undefined when none was reviewed. */
function poolReviewAgreement(batches: readonly BatchReportSummary[]): NightlySummary['reviewAgreement'] {
  const reviewed = batches.flatMap((s) => (s.reviewAgreement ? [s.reviewAgreement] : []));
  if (!reviewed.length) return undefined;
  const pooled = (pick: (a: (typeof reviewed)[number]) => number) =>
    weightedMean(reviewed.map((a) => ({ value: pick(a), weight: a.images })));
  return {
    images: reviewed.reduce((n, a) => n + a.images, 0),
    precision: pooled((a) => a.precision),
    recall: pooled((a) => a.recall),
    f1: pooled((a) => a.f1),
    attributeAccuracy: pooled((a) => a.attributeAccuracy),
  };
}
