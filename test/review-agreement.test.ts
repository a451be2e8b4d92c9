/**
 * How far the automatic labels are from people's reviews: the agreement of one batch (the automatic frames of the
 * reviewed images evaluated against the reviews), its place in the batch summary, its pooling over a night
 * (weighted by reviewed images) and its table on the nightly page.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Frame } from '../src/core/labels/schema';
import {
  BatchReportSummarySchema,
  NightlyReportSchema,
  poolNight,
  summarizeBatchReport,
  type BatchReportSummary,
  type NightlySummary,
} from '../src/core/nightly';
import { evaluate } from '../src/core/evaluation/evaluate';
import { reviewAgreement } from '../src/core/review/agreement';
import { renderNightlyHtml } from '../src/adapters/report/nightly-html';

const box = (category: string, x: number, score?: number) => ({
  id: `${category}-${x}`,
  category,
  box2d: { x1: x, y1: 0, x2: x + 100, y2: 100 },
  ...(score === undefined ? {} : { score }),
});

test('agreement: the automatic frames of the reviewed images only, against the reviews', () => {
  const reviewed: Frame[] = [
    { name: 'a.jpg', attributes: { weather: 'rainy', timeofday: 'daytime', scene: 'highway' }, labels: [box('car', 0), box('car', 200)] },
    { name: 'b.jpg', attributes: { weather: 'clear', timeofday: 'night', scene: 'highway' }, labels: [box('truck', 0)] },
  ];
  const automatic: Frame[] = [
    // a: one car right, one missed, one false pedestrian; weather wrong.
    {
      name: 'a.jpg',
      attributes: { weather: 'clear', timeofday: 'daytime', scene: 'highway' },
      labels: [box('car', 0, 0.9), box('pedestrian', 500, 0.8)],
    },
    { name: 'b.jpg', attributes: { weather: 'clear', timeofday: 'night', scene: 'highway' }, labels: [box('truck', 0, 0.7)] },
    // Not reviewed: not compared.
    { name: 'c.jpg', labels: [box('car', 0, 0.9)] },
  ];
  const agreement = reviewAgreement(reviewed, automatic)!;
  // TP 2, FP 1, FN 1: precision 2/3, recall 2/3; attributes 5 of 6 right.
  assert.equal(agreement.images, 2);
  assert.ok(Math.abs(agreement.precision - 2 / 3) < 1e-12, String(agreement.precision));
  assert.ok(Math.abs(agreement.recall - 2 / 3) < 1e-12);
  assert.ok(Math.abs(agreement.f1 - 2 / 3) < 1e-12);
  assert.ok(Math.abs(agreement.attributeAccuracy - 5 / 6) < 1e-12, String(agreement.attributeAccuracy));
  assert.equal(reviewAgreement([], automatic), undefined);
});

test('a batch report with an agreement keeps it in its summary; a night pools it by reviewed images', () => {
  const report = evaluate({
    gt: [{ name: 'a.jpg', labels: [box('car', 0)] }],
    predictions: [{ name: 'a.jpg', labels: [box('car', 0, 0.9)] }],
  });
  report.reviewAgreement = { images: 10, precision: 0.5, recall: 0.5, f1: 0.5, attributeAccuracy: 0.9 };
  const summary = summarizeBatchReport(report, { reportId: 'r1', batchId: 'b1' });
  assert.deepEqual(summary.reviewAgreement, report.reviewAgreement);
  const other: BatchReportSummary = BatchReportSummarySchema.parse({
    ...summary,
    reportId: 'r2',
    batchId: 'b2',
    reviewAgreement: { images: 30, precision: 0.9, recall: 0.9, f1: 0.9, attributeAccuracy: -1 },
  });
  const unreviewed = BatchReportSummarySchema.parse({ ...summary, reportId: 'r3', batchId: 'b3', reviewAgreement: undefined });
  const window = { night: '2026-12-02', windowStart: '2026-12-01T02:00:00.000Z', windowEnd: '2026-12-02T02:00:00.000Z' };
  const night = poolNight([summary, other, unreviewed], window);
  assert.equal(night.reviewAgreement!.images, 40);
  assert.ok(Math.abs(night.reviewAgreement!.f1 - (10 * 0.5 + 30 * 0.9) / 40) < 1e-12);
  assert.equal(night.reviewAgreement!.attributeAccuracy, 0.9, 'an undefined value is skipped, not averaged in');
  assert.equal(poolNight([unreviewed], window).reviewAgreement, undefined);

  const nightlyPage = (summary: NightlySummary) =>
    renderNightlyHtml(
      NightlyReportSchema.parse({
        kind: 'autolabel.nightly',
        schemaVersion: 1,
        createdAt: '2026-12-02T02:00:05.000Z',
        settings: { tolerance: 0.02, minHistory: 3, historyLimit: 14 },
        night: summary,
        history: [],
        regressions: [],
        notes: [],
      }),
    );
  const page = nightlyPage(night);
  assert.match(page, /<h2 id="review-agreement-title">Automatic labels against people’s reviews<\/h2>/);
  assert.match(page, /<tr><th scope="row">2026-12-02<\/th><td class="num">40<\/td><td class="num">80\.0\s?%<\/td>/);
  assert.doesNotMatch(nightlyPage(poolNight([unreviewed], window)), /review-agreement/);
});
