import type { EvaluationReport } from '../evaluation/report-schema';
import { BatchReportSummarySchema, type BatchReportSummary } from './schemas';

type ClassResult = EvaluationReport['detection']['perClass'][keyof EvaluationReport['detection']['perClass']];

/**
 * The part of one batch evaluation report the nightly report needs. The report's own id and batch are not inside
 * the report document, so the caller passes them. The result is parsed, so bad ids or dates fail here, at the
 * batch they belong to, rather than later in the pooled night.
 */
export function summarizeBatchReport(report: EvaluationReport, ids: { reportId: string; batchId: string }): BatchReportSummary {
  const results = report.detection.perClass as Record<string, ClassResult | undefined>;
  // The report's class order first (BDD order), then anything else it holds, so the pages list classes stably.
  const names = [...report.detection.classes, ...Object.keys(results).filter((n) => !report.detection.classes.includes(n))];
  const perClass: BatchReportSummary['perClass'] = {};
  for (const name of names) {
    const r = results[name];
    if (r) perClass[name] = { AP: r.AP, AP50: r.AP50, gt: r.gt };
  }
  const { weather, timeofday, scene, overall } = report.attributes.accuracy;
  return BatchReportSummarySchema.parse({
    reportId: ids.reportId,
    batchId: ids.batchId,
    createdAt: report.createdAt,
    images: report.images.evaluated,
    stats: { AP: report.detection.stats.AP, AP50: report.detection.stats.AP50 },
    perClass,
    attributes: { weather, timeofday, scene, overall },
    ...(report.reviewAgreement ? { reviewAgreement: report.reviewAgreement } : {}),
  });
}
