/**
 * The nightly report: pooling math on hand-made batch summaries (exact numbers), regressions at the tolerance
 * edge, undefined (-1) metrics, empty nights and missing history; summaries of real evaluation reports (the
 * BDD100K sample against simulated predictions); and the page, statically and in headless Chromium.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluate } from '../src/core/evaluation/evaluate';
import type { EvaluationReport } from '../src/core/evaluation/report-schema';
import { loadLabels } from '../src/adapters/files/load-labels';
import type { Frame } from '../src/core/labels/schema';
import {
  BatchReportSummarySchema,
  buildNightlyReport,
  findRegressions,
  historyAfter,
  metricKey,
  NightlyReportSchema,
  parseMetricKey,
  poolNight,
  summarizeBatchReport,
  weightedMean,
  type BatchReportSummary,
  type NightlyReport,
  type NightlySummary,
} from '../src/core/nightly';
import { formatPoints, metricTitle, renderNightlyHtml } from '../src/adapters/report/nightly-html';
import { trendChart } from '../src/adapters/report/svg-charts';
import { escapeHtml } from '../src/adapters/report/format';
import { seededRandom, simulatePredictions } from '../bench/synthetic';
import { launchChromium, openOffline } from './helpers/browser';
import { sampleLabelsDir } from './helpers/shared';

/** The browser's, inside page.evaluate callbacks (the project compiles without the DOM lib). */
declare const getComputedStyle: (element: unknown) => { fill: string; color: string };

const OUTPUT_DIR = path.resolve(__dirname, '..', 'test-output');
const EXACT = 1e-12;

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < EXACT, `${what}: ${actual} != ${expected}`);
}

type ClassMetrics = BatchReportSummary['perClass'][string];

/** A hand-made batch summary; every metric not given is undefined (-1). */
function batch(
  reportId: string,
  createdAt: string,
  images: number,
  fields: {
    AP?: number;
    AP50?: number;
    perClass?: Record<string, ClassMetrics>;
    attributes?: Partial<BatchReportSummary['attributes']>;
  } = {},
): BatchReportSummary {
  return BatchReportSummarySchema.parse({
    reportId,
    batchId: `batch-${reportId}`,
    createdAt,
    images,
    stats: { AP: fields.AP ?? -1, AP50: fields.AP50 ?? -1 },
    perClass: fields.perClass ?? {},
    attributes: { weather: -1, timeofday: -1, scene: -1, overall: -1, ...fields.attributes },
  });
}

/** A hand-made earlier night holding one batch with these metrics. */
function pastNight(night: string, fields: Parameters<typeof batch>[3], images = 100): NightlySummary {
  return poolNight([batch(`r-${night}`, `${night}T01:00:00.000Z`, images, fields)], {
    night,
    windowStart: `${night}T00:00:00.000Z`,
    windowEnd: `${night}T23:59:59.000Z`,
  });
}

const WINDOW = { night: '2025-06-10', windowStart: '2025-06-09T02:00:00.000Z', windowEnd: '2025-06-10T02:00:00.000Z' };

// ---------------------------------------------------------------------------------------------------------------

describe('poolNight', () => {
  const a = batch('a', '2025-06-09T10:00:00.000Z', 20, {
    AP: 0.4,
    AP50: 0.6,
    perClass: {
      car: { AP: 0.5, AP50: 0.8, gt: 100 },
      train: { AP: -1, AP50: -1, gt: 0 },
      motorcycle: { AP: -1, AP50: -1, gt: 0 },
    },
    attributes: { weather: 0.9, timeofday: 0.5, scene: 0.25, overall: 0.55 },
  });
  const b = batch('b', '2025-06-09T08:00:00.000Z', 60, {
    AP: 0.2,
    AP50: 0.5,
    perClass: {
      car: { AP: 0.3, AP50: 0.4, gt: 300 },
      train: { AP: 0.6, AP50: 0.9, gt: 10 },
      motorcycle: { AP: -1, AP50: -1, gt: 0 },
    },
    attributes: { weather: -1, timeofday: 0.7, scene: 0.75, overall: 0.6 },
  });
  const night = poolNight([a, b], WINDOW);

  test('per-class AP and AP50: mean weighted by GT boxes, over batches with GT of the class', () => {
    close(night.perClass.car!.AP, (0.5 * 100 + 0.3 * 300) / 400, 'car AP'); // 0.35
    close(night.perClass.car!.AP50, (0.8 * 100 + 0.4 * 300) / 400, 'car AP50'); // 0.5
    assert.equal(night.perClass.car!.gt, 400);
    // Batch a has no train GT (-1): only batch b counts, at its own value, not halved by a zero.
    assert.deepEqual(night.perClass.train, { AP: 0.6, AP50: 0.9, gt: 10 });
    // No GT of the class in any batch: undefined, not 0.
    assert.deepEqual(night.perClass.motorcycle, { AP: -1, AP50: -1, gt: 0 });
  });

  test('detection stats and attribute accuracies: mean weighted by images, -1 skipped', () => {
    close(night.stats.AP, (0.4 * 20 + 0.2 * 60) / 80, 'AP'); // 0.25
    close(night.stats.AP50, (0.6 * 20 + 0.5 * 60) / 80, 'AP50'); // 0.525
    assert.equal(night.attributes.weather, 0.9, 'batch b has no weather accuracy: batch a alone');
    close(night.attributes.timeofday, (0.5 * 20 + 0.7 * 60) / 80, 'timeofday'); // 0.65
    close(night.attributes.scene, (0.25 * 20 + 0.75 * 60) / 80, 'scene'); // 0.625
    close(night.attributes.overall, (0.55 * 20 + 0.6 * 60) / 80, 'overall'); // 0.5875
  });

  test('batches oldest first, images summed, window kept', () => {
    assert.deepEqual(
      night.batches.map((x) => [x.reportId, x.batchId, x.images, x.AP50, x.attributeAccuracy]),
      [
        ['b', 'batch-b', 60, 0.5, 0.6],
        ['a', 'batch-a', 20, 0.6, 0.55],
      ],
    );
    assert.equal(night.images, 80);
    assert.equal(night.night, '2025-06-10');
    assert.deepEqual(poolNight([b, a], WINDOW), night, 'input order does not matter');
  });

  test('an empty night is all undefined', () => {
    const empty = poolNight([], WINDOW);
    assert.deepEqual(empty.stats, { AP: -1, AP50: -1 });
    assert.deepEqual(empty.attributes, { weather: -1, timeofday: -1, scene: -1, overall: -1 });
    assert.deepEqual(empty.perClass, {});
    assert.deepEqual(empty.batches, []);
    assert.equal(empty.images, 0);
  });

  test('weightedMean skips undefined values and zero weights', () => {
    assert.equal(weightedMean([]), -1);
    assert.equal(weightedMean([{ value: -1, weight: 5 }]), -1);
    assert.equal(weightedMean([{ value: 0.9, weight: 0 }]), -1);
    assert.equal(
      weightedMean([
        { value: 0, weight: 3 },
        { value: -1, weight: 100 },
      ]),
      0,
    );
    close(
      weightedMean([
        { value: 1, weight: 1 },
        { value: 0, weight: 3 },
      ]),
      0.25,
      'mean',
    );
  });

  test('summaries reject metrics that are neither fractions nor -1', () => {
    assert.throws(() => batch('x', '2025-06-09T10:00:00.000Z', 1, { AP: -0.5 }));
    assert.throws(() => batch('x', '2025-06-09T10:00:00.000Z', 1, { AP50: 1.2 }));
    assert.throws(() => batch('', '2025-06-09T10:00:00.000Z', 1));
    assert.throws(() => batch('x', 'yesterday', 1));
  });
});

describe('metric keys', () => {
  test('build and parse, class names with dots included', () => {
    for (const ref of [
      { scope: 'stats', measure: 'AP50' },
      { scope: 'perClass', className: 'traffic light', measure: 'AP' },
      { scope: 'perClass', className: 'a.b', measure: 'AP50' },
      { scope: 'attributes', attribute: 'timeofday' },
    ] as const) {
      assert.deepEqual(parseMetricKey(metricKey(ref)), ref);
    }
    assert.equal(metricKey({ scope: 'perClass', className: 'car', measure: 'AP50' }), 'perClass.car.AP50');
    assert.equal(parseMetricKey('attributes.color'), undefined);
    assert.equal(parseMetricKey('stats.AP75'), undefined);
    assert.equal(metricTitle('perClass.car.AP50'), 'car · AP50');
    assert.equal(metricTitle('attributes.timeofday'), 'Time of day accuracy');
  });
});

describe('findRegressions', () => {
  const history = [
    pastNight('2025-06-07', { perClass: { car: { AP: 0.5, AP50: 0.9, gt: 10 } }, attributes: { overall: 0.8 } }),
    pastNight('2025-06-08', { perClass: { car: { AP: -1, AP50: -1, gt: 0 } }, attributes: { overall: 0.8 } }),
    pastNight('2025-06-09', { perClass: { car: { AP: 0.5, AP50: 0.7, gt: 10 } }, attributes: { overall: 0.8 } }),
  ];
  const tonight = (fields: Parameters<typeof batch>[3]) => poolNight([batch('t', '2025-06-09T12:00:00.000Z', 50, fields)], WINDOW);
  const options = { tolerance: 0.02, minHistory: 1 };

  test('a drop of exactly the tolerance is not flagged; a hair more is', () => {
    // 0.8 - 0.78 is 0.020000000000000018 in floating point: still "exactly" the tolerance.
    assert.ok(0.8 - 0.78 > 0.02);
    assert.deepEqual(findRegressions(tonight({ attributes: { overall: 0.78 } }), history, options), []);
    const flagged = findRegressions(tonight({ attributes: { overall: 0.7799 } }), history, options);
    assert.equal(flagged.length, 1);
    assert.equal(flagged[0]!.metric, 'attributes.overall');
    close(flagged[0]!.baseline, 0.8, 'baseline');
    close(flagged[0]!.drop, 0.0201, 'drop');
    assert.equal(flagged[0]!.baselineNights, 3);
    // An improvement is never a regression, and a larger tolerance hides the drop.
    assert.deepEqual(findRegressions(tonight({ attributes: { overall: 0.95 } }), history, options), []);
    assert.deepEqual(findRegressions(tonight({ attributes: { overall: 0.7799 } }), history, { ...options, tolerance: 0.05 }), []);
  });

  test('the baseline is the mean of the earlier nights that define the metric', () => {
    // car AP50: 0.9 and 0.7 (the night without car GT is skipped, not counted as 0): baseline 0.8 over 2 nights.
    const [r] = findRegressions(tonight({ perClass: { car: { AP: 0.5, AP50: 0.75, gt: 10 } } }), history, options);
    assert.deepEqual(
      { ...r, baseline: Math.round(r!.baseline * 1e9) / 1e9, drop: Math.round(r!.drop * 1e9) / 1e9 },
      {
        metric: 'perClass.car.AP50',
        current: 0.75,
        baseline: 0.8,
        baselineNights: 2,
        drop: 0.05,
      },
    );
    // The same drop with minHistory 3: only 2 nights define car AP50, so nothing is flagged.
    assert.deepEqual(
      findRegressions(tonight({ perClass: { car: { AP: 0.5, AP50: 0.75, gt: 10 } } }), history, { ...options, minHistory: 3 }),
      [],
    );
    assert.equal(
      findRegressions(tonight({ perClass: { car: { AP: 0.5, AP50: 0.75, gt: 10 } } }), history, { ...options, minHistory: 2 }).length,
      1,
    );
  });

  test('undefined tonight, or never defined before, is never a regression', () => {
    assert.deepEqual(
      findRegressions(tonight({ perClass: { car: { AP: -1, AP50: -1, gt: 0 } } }), history, options),
      [],
      'no car GT tonight',
    );
    assert.deepEqual(findRegressions(tonight({ perClass: { bus: { AP: 0, AP50: 0, gt: 7 } } }), history, options), [], 'bus is new');
    assert.deepEqual(findRegressions(tonight({ AP: 0, AP50: 0 }), history, options), [], 'stats were never defined before');
    assert.deepEqual(findRegressions(tonight({ attributes: { overall: 0 } }), [], options), [], 'no history');
  });

  test('largest drop first', () => {
    const r = findRegressions(
      tonight({ perClass: { car: { AP: 0.1, AP50: 0.7, gt: 10 } }, attributes: { overall: 0.7 } }),
      history,
      options,
    );
    assert.deepEqual(
      r.map((x) => x.metric),
      ['perClass.car.AP', 'attributes.overall', 'perClass.car.AP50'],
    );
  });
});

describe('buildNightlyReport', () => {
  const now = '2025-06-10T02:05:00.000Z';
  const base = { windowStart: '2025-06-09T02:00:00Z', windowEnd: '2025-06-10T02:00:00Z', now };
  const good = (id: string, t: string) =>
    batch(id, t, 40, {
      AP: 0.4,
      AP50: 0.6,
      perClass: { car: { AP: 0.5, AP50: 0.8, gt: 50 } },
      attributes: { timeofday: 0.9, overall: 0.85 },
    });

  test('an empty night with no history: both said in notes, everything undefined, valid', () => {
    const report = buildNightlyReport({ ...base, summaries: [], history: [] });
    NightlyReportSchema.parse(report);
    assert.equal(report.kind, 'autolabel.nightly');
    assert.equal(report.schemaVersion, 1);
    assert.equal(report.createdAt, now);
    assert.equal(report.night.night, '2025-06-10');
    assert.equal(report.night.windowStart, '2025-06-09T02:00:00.000Z');
    assert.deepEqual(report.night.stats, { AP: -1, AP50: -1 });
    assert.deepEqual(report.regressions, []);
    assert.deepEqual(report.settings, { tolerance: 0.02, minHistory: 1, historyLimit: 30 });
    assert.equal(report.notes.length, 2, report.notes.join('\n'));
    assert.match(report.notes[0]!, /^No batch was evaluated last night/);
    assert.match(report.notes[1]!, /^No earlier nights to compare with/);
  });

  test('the night is the UTC date of the run', () => {
    const report = buildNightlyReport({ ...base, now: '2025-06-10T01:30:00+02:00', summaries: [], history: [] });
    assert.equal(report.night.night, '2025-06-09');
    assert.equal(report.createdAt, '2025-06-09T23:30:00.000Z');
    assert.equal(buildNightlyReport({ ...base, now: new Date(now), summaries: [], history: [] }).night.night, '2025-06-10');
  });

  test('deterministic, order independent, duplicates counted once', () => {
    const s = [good('r1', '2025-06-09T05:00:00Z'), good('r2', '2025-06-09T06:00:00Z')];
    const once = buildNightlyReport({ ...base, summaries: s, history: [] });
    assert.deepEqual(buildNightlyReport({ ...base, summaries: [...s].reverse(), history: [] }), once);
    const twice = buildNightlyReport({ ...base, summaries: [s[1]!, ...s], history: [] });
    assert.equal(twice.night.images, 80);
    assert.deepEqual(
      twice.night.batches.map((b) => b.reportId),
      ['r1', 'r2'],
    );
    assert.ok(
      twice.notes.some((n) => /r2 was listed more than once/.test(n)),
      twice.notes.join('\n'),
    );
  });

  test('history: earlier nights only, one per date, oldest first, capped', () => {
    const nights = ['2025-06-05', '2025-06-09', '2025-06-07', '2025-06-06', '2025-06-08', '2025-06-10', '2025-06-11'].map((n) =>
      pastNight(n, { attributes: { overall: 0.8 } }),
    );
    const report = buildNightlyReport({ ...base, summaries: [good('r1', '2025-06-09T05:00:00Z')], history: nights, historyLimit: 3 });
    assert.deepEqual(
      report.history.map((n) => n.night),
      ['2025-06-07', '2025-06-08', '2025-06-09'],
    );
    assert.ok(
      report.notes.some((n) => /2 history entries are not earlier than 2025-06-10/.test(n)),
      report.notes.join('\n'),
    );
    assert.ok(
      report.notes.some((n) => /oldest 2 were dropped \(limit 3\)/.test(n)),
      report.notes.join('\n'),
    );
  });

  test('flags regressions against the chained history of earlier runs', () => {
    // Three nights, each run feeding the next with historyAfter(previous report).
    const run = (day: string, summaries: BatchReportSummary[], history: NightlySummary[]) =>
      buildNightlyReport({ summaries, history, windowStart: `${day}T00:00:00Z`, windowEnd: `${day}T23:00:00Z`, now: `${day}T23:30:00Z` });
    const n1 = run('2025-06-01', [good('a', '2025-06-01T05:00:00Z')], []);
    const n2 = run('2025-06-02', [good('b', '2025-06-02T05:00:00Z')], historyAfter(n1));
    const worse = batch('c', '2025-06-03T05:00:00Z', 40, {
      AP: 0.39, // a drop of 0.01: within the tolerance
      AP50: 0.6,
      perClass: { car: { AP: 0.5, AP50: 0.7, gt: 50 } },
      attributes: { timeofday: 0.8, overall: 0.85 },
    });
    const n3 = run('2025-06-03', [worse], historyAfter(n2));
    assert.deepEqual(n2.regressions, []);
    assert.deepEqual(
      n3.history.map((n) => n.night),
      ['2025-06-01', '2025-06-02'],
    );
    assert.deepEqual(
      n3.regressions.map((r) => [r.metric, Math.round(r.drop * 1e6) / 1e6, r.baselineNights]),
      [
        ['perClass.car.AP50', 0.1, 2],
        ['attributes.timeofday', 0.1, 2],
      ],
    );
    assert.deepEqual(n3.notes, []);
  });

  test('notes a batch report created outside the window, and refuses a caller’s bugs', () => {
    const r = buildNightlyReport({ ...base, summaries: [good('late', '2025-06-10T03:00:00Z')], history: [] });
    assert.ok(
      r.notes.some((n) => /late .* outside the window/.test(n)),
      r.notes.join('\n'),
    );
    assert.equal(r.night.batches.length, 1);
    assert.throws(() => buildNightlyReport({ ...base, now: 'not a date', summaries: [], history: [] }), /now must be/);
    assert.throws(() => buildNightlyReport({ ...base, now: '2025-06-10T02:05:00', summaries: [], history: [] }), /time zone/);
    assert.throws(
      () => buildNightlyReport({ ...base, windowStart: base.windowEnd, windowEnd: base.windowStart, summaries: [], history: [] }),
      /before it starts/,
    );
    assert.throws(() => buildNightlyReport({ ...base, summaries: [], history: [], minHistory: 0 }));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Real evaluation reports: the 60-image BDD100K sample against simulated (seeded, perturbed) predictions.

async function sampleGt(): Promise<Frame[]> {
  const loaded = await loadLabels(sampleLabelsDir);
  assert.deepEqual(loaded.problems, []);
  assert.equal(loaded.frames.length, 60);
  return loaded.frames;
}

function predict(gt: readonly Frame[], seed: number, drop?: (category: string) => boolean): Frame[] {
  const random = seededRandom(seed);
  return gt.map((frame) => {
    const p = simulatePredictions(frame, random);
    return drop ? { ...p, labels: p.labels.filter((l) => !drop(l.category)) } : p;
  });
}

const evaluateAt = (gt: readonly Frame[], predictions: Frame[], iso: string): EvaluationReport =>
  evaluate({ gt, predictions, options: { mode: 'coco' }, now: new Date(iso) });

describe('summarizeBatchReport on real evaluation reports', () => {
  test('keeps the report’s numbers, and pools two halves GT-weighted', async () => {
    const gt = await sampleGt();
    const predictions = predict(gt, 7);
    const full = evaluateAt(gt, predictions, '2025-06-09T10:00:00Z');
    const summary = summarizeBatchReport(full, { reportId: 'rep-1', batchId: 'batch-1' });
    assert.equal(summary.reportId, 'rep-1');
    assert.equal(summary.batchId, 'batch-1');
    assert.equal(summary.createdAt, '2025-06-09T10:00:00.000Z');
    assert.equal(summary.images, 60);
    assert.deepEqual(summary.stats, { AP: full.detection.stats.AP, AP50: full.detection.stats.AP50 });
    assert.deepEqual(Object.keys(summary.perClass), full.detection.classes);
    for (const [name, r] of Object.entries(full.detection.perClass))
      assert.deepEqual(summary.perClass[name], { AP: r.AP, AP50: r.AP50, gt: r.gt });
    assert.deepEqual(summary.attributes, full.attributes.accuracy);
    assert.ok(
      summary.perClass.car!.gt > 100 && summary.perClass.car!.AP50 > 0.3 && summary.perClass.car!.AP50 < 1,
      JSON.stringify(summary.perClass.car),
    );
    assert.ok(summary.attributes.overall > 0.5 && summary.attributes.overall < 1);

    // Two batches of 30 images each: the night's per-class AP50 is their GT-weighted mean.
    const halves = [gt.slice(0, 30), gt.slice(30)].map((part, i) =>
      summarizeBatchReport(
        evaluateAt(
          part,
          predictions.filter((p) => part.some((g) => g.name === p.name)),
          `2025-06-09T1${i}:00:00Z`,
        ),
        {
          reportId: `half-${i}`,
          batchId: `b-${i}`,
        },
      ),
    );
    const night = poolNight(halves, WINDOW);
    assert.equal(night.images, 60);
    for (const name of full.detection.classes) {
      const [x, y] = halves.map((h) => h.perClass[name]!);
      assert.equal(night.perClass[name]!.gt, full.detection.perClass[name as keyof typeof full.detection.perClass].gt, `${name} GT`);
      const defined = [x!, y!].filter((c) => c.gt > 0);
      const expected = defined.length ? defined.reduce((s, c) => s + c.AP50 * c.gt, 0) / defined.reduce((s, c) => s + c.gt, 0) : -1;
      close(night.perClass[name]!.AP50, expected, `${name} AP50`);
    }
    // A class with GT in one half only takes that half's value unchanged.
    const oneSided = full.detection.classes.find((n) => halves[0]!.perClass[n]!.gt > 0 !== halves[1]!.perClass[n]!.gt > 0);
    assert.ok(oneSided, 'the sample has a class with GT in one half only');
    const side = halves.find((h) => h.perClass[oneSided!]!.gt > 0)!;
    assert.equal(night.perClass[oneSided!]!.AP50, side.perClass[oneSided!]!.AP50);
  });

  test('a detector that stops finding cars is flagged on car AP, not on other classes', async () => {
    const gt = await sampleGt();
    const nights = ['2025-06-07', '2025-06-08'].map((day, i) =>
      poolNight([summarizeBatchReport(evaluateAt(gt, predict(gt, 11), `${day}T03:00:00Z`), { reportId: `ok-${i}`, batchId: `b${i}` })], {
        night: day,
        windowStart: `${day}T00:00:00.000Z`,
        windowEnd: `${day}T23:00:00.000Z`,
      }),
    );
    const broken = summarizeBatchReport(
      evaluateAt(
        gt,
        predict(gt, 11, (c) => c === 'car'),
        '2025-06-09T03:00:00Z',
      ),
      { reportId: 'broken', batchId: 'b3' },
    );
    const report = buildNightlyReport({
      summaries: [broken],
      history: nights,
      windowStart: '2025-06-09T00:00:00Z',
      windowEnd: '2025-06-10T00:00:00Z',
      now: '2025-06-10T00:10:00Z',
    });
    const metrics = report.regressions.map((r) => r.metric).sort();
    assert.deepEqual(metrics, ['perClass.car.AP', 'perClass.car.AP50', 'stats.AP', 'stats.AP50']);
    const car = report.regressions.find((r) => r.metric === 'perClass.car.AP50')!;
    assert.equal(car.current, 0);
    assert.equal(car.baseline, nights[0]!.perClass.car!.AP50);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The page.

const HOSTILE_CLASS = '<script>alert(1)</script>';
const HOSTILE_REPORT = 'rep"><img src=x onerror=alert(2)>';
const HOSTILE_BATCH = '<b onmouseover=alert(3)>batch</b>';

/** Five earlier nights and last night: car AP50 and time-of-day accuracy regress; train has GT on some nights only. */
function pageReport(): NightlyReport {
  const classes = (i: number, car: number): Record<string, ClassMetrics> => ({
    car: { AP: 0.45, AP50: car, gt: 400 },
    pedestrian: { AP: 0.3, AP50: 0.55 + 0.01 * (i % 2), gt: 120 },
    train: i % 3 === 0 ? { AP: 0.2, AP50: 0.4, gt: 2 } : { AP: -1, AP50: -1, gt: 0 },
    [HOSTILE_CLASS]: { AP: 0.1, AP50: 0.2, gt: 3 },
  });
  const history = [0, 1, 2, 3, 4].map((i) => {
    const day = `2025-06-0${i + 4}`;
    return pastNight(
      day,
      {
        AP: 0.33,
        AP50: 0.58,
        perClass: classes(i, 0.8 + 0.01 * i),
        attributes: { weather: 0.8, timeofday: 0.9, scene: 0.7, overall: 0.8 },
      },
      500,
    );
  });
  const summaries = [
    batch(HOSTILE_REPORT, '2025-06-09T05:00:00Z', 300, {
      AP: 0.325,
      AP50: 0.575,
      perClass: { ...classes(5, 0.7), train: { AP: -1, AP50: -1, gt: 0 } },
      attributes: { weather: 0.8, timeofday: 0.8, scene: 0.7, overall: 0.79 },
    }),
    {
      ...batch('rep-2', '2025-06-09T07:00:00Z', 200, {
        AP: 0.33,
        AP50: 0.58,
        perClass: classes(5, 0.7),
        attributes: { weather: 0.8, timeofday: 0.8, scene: 0.7, overall: 0.79 },
      }),
      batchId: HOSTILE_BATCH,
    },
  ];
  return buildNightlyReport({
    summaries,
    history,
    windowStart: '2025-06-09T02:00:00Z',
    windowEnd: '2025-06-10T02:00:00Z',
    now: '2025-06-10T02:10:00Z',
  });
}

const report = pageReport();
const html = renderNightlyHtml(report);

describe('nightly page fixture', () => {
  test('regresses exactly car AP50 and time of day', () => {
    assert.deepEqual(report.regressions.map((r) => r.metric).sort(), ['attributes.timeofday', 'perClass.car.AP50']);
    assert.equal(report.history.length, 5);
    assert.deepEqual(report.notes, []);
  });
});

describe('renderNightlyHtml (static)', () => {
  test('one self-contained document; the only links are the batch reports', () => {
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /<link[^>]+stylesheet/i);
    assert.doesNotMatch(html, /@import|url\(|<script\b|<img\b/i);
    const urls = (html.match(/https?:\/\/[^\s"'<>)]+/g) ?? []).filter((u) => u !== 'http://www.w3.org/2000/svg');
    assert.deepEqual(urls, []);
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(refs, ['data:,', `../reports/${escapeHtml(encodeURIComponent(HOSTILE_REPORT))}`, '../reports/rep-2']);
    assert.match(html, /Content-Security-Policy" content="default-src &#39;none&#39;/);
  });

  test('escapes every string from the report', () => {
    for (const hostile of [HOSTILE_CLASS, HOSTILE_REPORT, HOSTILE_BATCH]) assert.ok(!html.includes(hostile), `raw ${hostile}`);
    assert.ok(html.includes(escapeHtml(HOSTILE_CLASS)));
    assert.ok(html.includes(escapeHtml(HOSTILE_BATCH)));
  });

  test('sections in order', () => {
    const ids = ['header', 'notes', 'regressions', 'last-night', 'trends', 'classes', 'batches'];
    const positions = ids.map((id) => html.indexOf(`id="${id}"`));
    assert.ok(
      positions.every((p) => p > 0),
      JSON.stringify(positions),
    );
    assert.deepEqual(
      [...positions].sort((a, b) => a - b),
      positions,
    );
  });

  test('an empty first night renders and says so', () => {
    const empty = renderNightlyHtml(
      buildNightlyReport({
        summaries: [],
        history: [],
        windowStart: '2025-06-09T02:00:00Z',
        windowEnd: '2025-06-10T02:00:00Z',
        now: '2025-06-10T02:10:00Z',
      }),
    );
    assert.ok(empty.includes('No batch was evaluated last night.'));
    assert.ok(empty.includes('No regression can be flagged: there are no earlier nights yet.'));
    assert.ok(empty.includes('No night has a class yet.'));
    assert.equal(empty.match(/data-chart="trend"/g)?.length, 2);
    assert.equal(empty.match(/<circle/g), null);
    assert.ok(empty.includes('No defined values'));
  });

  test('trend chart: a dot per defined value, lines split at gaps, flagged points, baseline, escaping', () => {
    const svg = trendChart({
      title: 'AP50 <of> car',
      labels: ['2025-06-01', '2025-06-02', '2025-06-03', '2025-06-04', '2025-06-05'],
      series: [{ label: '<b>AP50</b>', values: [0.8, 0.82, -1, 0.81, 0.7], flagged: [4], baseline: 0.81 }],
    });
    assert.match(svg, /^<svg [^>]*class="chart chart-trend" data-chart="trend" role="img" aria-label="AP50 &lt;of&gt; car"/);
    assert.equal(svg.match(/<circle class="point/g)?.length, 4);
    assert.equal(svg.match(/<circle class="point flagged"/g)?.length, 1);
    assert.match(svg, /class="point flagged"[^>]*data-index="4"/);
    assert.equal(svg.match(/<path class="series"/g)?.length, 2, 'two runs: nights 1-2 and 4-5');
    assert.equal(svg.match(/class="baseline"/g)?.length, 1);
    assert.ok(svg.includes('>06-05<') && svg.includes('2025-06-05 · &lt;b&gt;AP50&lt;/b&gt;: 70.0% (regression)'));
    assert.ok(!svg.includes('<b>') && !svg.includes('NaN'));
    // The axis zooms to the data: 70%..82% lands on 5-point ticks, not 0..100%.
    assert.ok(svg.includes('>65%<') && svg.includes('>85%<') && !svg.includes('>0%<'), svg);
    assert.equal(formatPoints(-0.031), '−3.1 pts');
    assert.equal(formatPoints(0.004), '+0.4 pts');
    assert.equal(formatPoints(-0.0004), '±0.0 pts');
  });
});

describe('nightly.html in headless Chromium', () => {
  test('renders offline without errors; trends, regressions and batches as specified', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nightly-html-'));
    const file = path.join(dir, 'nightly.html');
    writeFileSync(file, html);
    const browser = await launchChromium();
    try {
      const opened = await openOffline(browser, file);
      const { page } = opened;
      assert.equal(await page.locator('h1').innerText(), 'Nightly evaluation report');

      // Trend charts: detection, attributes, and one per class, each visible with one dot per defined night.
      const nights = report.history.length + 1;
      const charts = page.locator('svg.chart[data-chart="trend"]');
      assert.equal(await charts.count(), 2 + 4);
      for (const svg of await charts.all()) {
        assert.ok(await svg.isVisible());
        const box = await svg.boundingBox();
        assert.ok(box && box.width > 150 && box.height > 80, JSON.stringify(box));
      }
      const dots = (selector: string) => page.locator(`${selector} svg circle.point`).count();
      assert.equal(await dots('figure[data-group="stats"]'), 2 * nights);
      assert.equal(await dots('figure[data-group="attributes"]'), 4 * nights);
      assert.equal(await dots('figure[data-class="car"]'), nights);
      assert.equal(await dots('figure[data-class="train"]'), 2, 'train has GT on the 1st and 4th night only');
      const classOrder = await page.locator('figure.class').evaluateAll((els) => els.map((e) => e.getAttribute('data-class')));
      assert.deepEqual(classOrder, ['car', 'pedestrian', 'train', HOSTILE_CLASS]);

      // Regressions: listed, and flagged where they are drawn, in red.
      assert.deepEqual(
        await page.locator('#regressions-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-metric'))),
        ['perClass.car.AP50', 'attributes.timeofday'],
      );
      assert.match(
        await page.locator('#regressions-table tbody tr').first().innerText(),
        /car · AP50\s+perClass\.car\.AP50\s+70\.0%\s+82\.0% \(5 nights\)\s+▼ −12\.0 pts/,
      );
      const flagged = page.locator('circle.point.flagged');
      assert.deepEqual(
        await flagged.evaluateAll((els) =>
          els.map((e) => [
            e.closest('figure')!.getAttribute('data-class') ?? e.closest('figure')!.getAttribute('data-group'),
            e.getAttribute('data-series'),
            e.getAttribute('data-index'),
          ]),
        ),
        [
          ['attributes', 'Time of day', String(nights - 1)],
          ['car', 'AP50', String(nights - 1)],
        ],
      );
      for (const dot of await flagged.all()) assert.equal(await dot.evaluate((e) => getComputedStyle(e).fill), 'rgb(185, 28, 28)');
      assert.deepEqual(
        await page
          .locator('figure.regression')
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-class') ?? e.getAttribute('data-group'))),
        ['attributes', 'car'],
      );
      assert.ok(await page.locator('figure[data-class="car"] .tag.bad').isVisible());
      const card = page.locator('.stat[data-metric="attributes.timeofday"]');
      assert.equal(await card.getAttribute('data-regression'), 'true');
      assert.equal(await card.locator('.stat-value').evaluate((e) => getComputedStyle(e).color), 'rgb(185, 28, 28)');
      assert.equal(await page.locator('.stat[data-regression]').count(), 1);
      assert.equal(await page.locator('#classes-table tr.regression').getAttribute('data-class'), 'car');

      // Batches, linked to their reports; hostile strings are text, never markup.
      const links = page.locator('#batches-table a');
      assert.deepEqual(await links.allInnerTexts(), [HOSTILE_REPORT, 'rep-2']);
      assert.equal(await links.first().getAttribute('href'), `../reports/${encodeURIComponent(HOSTILE_REPORT)}`);
      const text = await page.locator('body').innerText();
      for (const hostile of [HOSTILE_CLASS, HOSTILE_REPORT, HOSTILE_BATCH]) assert.ok(text.includes(hostile), `${hostile} shown as text`);
      assert.equal(await page.locator('img, b, script, [onerror], [onmouseover]').count(), 0);

      mkdirSync(OUTPUT_DIR, { recursive: true });
      writeFileSync(path.join(OUTPUT_DIR, 'nightly.html'), html);
      const screenshot = path.join(OUTPUT_DIR, 'nightly-html.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      assert.ok(statSync(screenshot).size > 50_000, `screenshot ${statSync(screenshot).size} bytes`);

      assert.deepEqual(opened.consoleErrors, []);
      assert.deepEqual(opened.pageErrors, []);
      assert.deepEqual(opened.failedRequests, []);
      assert.deepEqual(opened.otherRequests, []);
      assert.deepEqual(opened.dialogs, []);
      await opened.context.close();
    } finally {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
