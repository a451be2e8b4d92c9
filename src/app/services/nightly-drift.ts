/**
 * The nightly report's drift section: the batches that finished labeling in the window, each compared with its
 * reference (DRIFT_REFERENCE), with or without ground truth. Every flagged metric is logged as a `drift-detected`
 * event: the Azure Monitor alert rule (infra/app/monitoring.bicep) fires on those.
 */
import { buildDriftSection, type NightlyDrift, type WindowBatch } from '../../core/nightly';
import type { ProfiledBatch } from '../../core/drift';
import type { AppRuntime } from '../runtime';
import { recordBatchDrift } from './batch-drift';
import type { Logger } from './logger';

export async function nightlyDrift(app: AppRuntime, windowStart: string, windowEnd: string, logger: Logger): Promise<NightlyDrift> {
  const from = Date.parse(windowStart);
  const to = Date.parse(windowEnd);
  const batches = await app.batches.list();
  const window: WindowBatch[] = [];
  for (const batch of batches) {
    const completed = batch.completedAt ? Date.parse(batch.completedAt) : NaN;
    if (batch.status === 'labeling' || !(completed >= from && completed < to)) continue;
    // A batch that became labeled without its profile (the transition's writer stopped in between) gets it now.
    const profile = batch.drift ?? (await recordBatchDrift(app, batch.batchId, logger))?.drift;
    if (profile) batch.drift = profile;
    window.push({ batchId: batch.batchId, completedAt: batch.completedAt!, groundTruth: batch.reportId !== null, profile });
  }
  const all: ProfiledBatch[] = batches.flatMap((b) =>
    b.drift && b.completedAt ? [{ batchId: b.batchId, completedAt: b.completedAt, profile: b.drift }] : [],
  );
  const section = buildDriftSection({ window, all, reference: app.settings.drift.reference, thresholds: app.settings.drift.thresholds });
  for (const batch of section.batches) {
    for (const m of batch.metrics) {
      if (!m.drift) continue;
      logger.warn(
        JSON.stringify({
          event: 'drift-detected',
          batchId: batch.batchId,
          metric: m.name,
          group: m.group,
          score: m.score,
          threshold: m.threshold,
          pValue: m.pValue,
          images: batch.images,
          referenceImages: batch.reference?.images ?? 0,
          groundTruth: batch.groundTruth,
        }),
      );
    }
  }
  return section;
}
