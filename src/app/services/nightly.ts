/**
 * The nightly run: start the evaluation of every batch that finished labeling but has no report yet (a failed or
 * never-started evaluation), then write the nightly report of the batch reports created since the previous nightly
 * run, compared with the nights before (src/core/nightly). Batches started now are evaluated asynchronously and
 * appear in the next night's report.
 */
import { BatchReportSummarySchema, buildNightlyReport, historyAfter, NightlyReportSchema, type NightlyReport } from '../../core/nightly';
import { describeError } from '../../core/redaction';
import { renderNightlyHtml } from '../../adapters/report/nightly-html';
import type { DurableClientLike } from '../durable';
import type { AppRuntime } from '../runtime';
import { BLOB_CONTAINERS, compactUtc } from '../store/names';
import { startBatchEvaluation } from './evaluation-start';
import { storeReport } from './store-report';
import { nightlyDrift } from './nightly-drift';
import type { Logger } from './logger';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface NightlyOutcome {
  reportId: string;
  evaluationsStarted: string[];
  batchReports: number;
  regressions: number;
}

export const nightlyReportId = (now: Date) => `nightly-${compactUtc(now)}`;

export async function runNightly(app: AppRuntime, durable: DurableClientLike, logger: Logger): Promise<NightlyOutcome> {
  const now = app.now();
  const evaluationsStarted: string[] = [];
  for (const batch of await app.batches.listAwaitingEvaluation()) {
    try {
      await startBatchEvaluation(app, batch.batchId, durable, 'nightly: completed batch without a report', logger, 'unless-running');
      evaluationsStarted.push(batch.batchId);
    } catch (error) {
      // One batch that cannot start must not stop the nightly report.
      logger.error(JSON.stringify({ event: 'nightly-evaluation-start-failed', batchId: batch.batchId, reason: describeError(error) }));
    }
  }

  const [previousDoc] = await app.reports.latest('nightly-report', 1);
  let previous: NightlyReport | undefined;
  if (previousDoc) {
    const parsed = NightlyReportSchema.safeParse(
      await app.blobs.readJson(BLOB_CONTAINERS.reports, previousDoc.json).catch(() => undefined),
    );
    if (parsed.success) previous = parsed.data;
    else logger.warn(JSON.stringify({ event: 'nightly-previous-unreadable', reportId: previousDoc.id }));
  }
  const windowStart = previous?.createdAt ?? new Date(now.getTime() - DAY_MS).toISOString();
  const windowEnd = now.toISOString();
  const batchReports = await app.reports.listCreated('batch-report', windowStart, windowEnd);
  const summaries = batchReports.flatMap((doc) => {
    const parsed = BatchReportSummarySchema.safeParse(doc.summary);
    return parsed.success ? [parsed.data] : [];
  });
  const drift = await nightlyDrift(app, windowStart, windowEnd, logger);
  const report = buildNightlyReport({
    summaries,
    history: previous ? historyAfter(previous) : [],
    windowStart,
    windowEnd,
    now,
    tolerance: app.settings.nightly.regressionTolerance,
    drift,
  });

  const reportId = nightlyReportId(now);
  await storeReport(app, {
    id: reportId,
    kind: 'nightly-report',
    createdAt: report.createdAt,
    content: report,
    html: renderNightlyHtml(report),
    summary: {
      night: report.night.night,
      batches: report.night.batches.length,
      images: report.night.images,
      regressions: report.regressions.length,
      driftBatches: drift.batches.filter((b) => b.drift).length,
    },
  });
  logger.log(
    JSON.stringify({
      event: 'nightly-report',
      reportId,
      batchReports: summaries.length,
      regressions: report.regressions.length,
      driftBatches: drift.batches.filter((b) => b.drift).length,
      evaluationsStarted: evaluationsStarted.length,
    }),
  );
  return { reportId, evaluationsStarted, batchReports: summaries.length, regressions: report.regressions.length };
}
