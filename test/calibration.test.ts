import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelingConfigSchema } from '../src/core/config/labeling-config';
import {
  CalibrationTargetSchema,
  calibrateChunks,
  MIN_GT_TO_CALIBRATE,
  type CalibrateOptions,
  type CalibrationTarget,
} from '../src/core/evaluation/calibration';
import { matchChunk } from '../src/core/evaluation/chunks';
import { evaluate } from '../src/core/evaluation/evaluate';
import { EvaluationReportSchema } from '../src/core/evaluation/report-schema';
import { FrameSchema, type FrameInput } from '../src/core/labels/schema';

const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });
const frames = (inputs: FrameInput[]) => inputs.map((f) => FrameSchema.parse(f));

/**
 * A hand-computed case. 10 GT cars (g0..g9, 50 px squares in a row) and 2 GT buses, one image. Predicted cars, by
 * score: TP .95 .90 .85 .80 .75, FP .70 (a duplicate of g0, already taken), FP .65, TP .60, FP .50, FP .40, TP .30,
 * FP .20, FP .10. Buses: TP .90, FP .80. A car inside the crowd region is neither TP nor FP.
 *
 * Cars, threshold: TP/kept (F1 = 2TP / (kept + 10), P = TP/kept, R = TP/10):
 *   .75: 5/5 (F1 2/3, P 1)   .70: 5/6 (P .833)   .65: 5/7   .60: 6/8 (F1 2/3, P .75, R .6)   .50: 6/9   .40: 6/10
 *   .30: 7/11 (F1 2/3, R .7)   .20: 7/12   .10: 7/13; above .75 F1 < 2/3.
 * So f1 -> .75 (a three-way tie, the highest wins), precision=0.9 -> .75, precision=0.8 -> .70, precision=0.75 ->
 * .60 (reached exactly, though .65 is below it), recall=0.6 -> .60, recall=0.7 -> .30, recall=0.8: never.
 * Pooled (GT 12), F1 = 2TP / (kept + 12): .80: 5/6 -> .556, .75: 6/7 -> .632, .60: 7/10 -> .636, .30: 8/13 -> .640
 * (the highest), .20: 8/14, .10: 8/15. So the default is .30; buses (2 GT) keep it: TP 1, FP 1.
 */
const carAt = (i: number) => box(i * 100, 0, i * 100 + 50, 50);
const gt = frames([
  {
    name: 'a.jpg',
    labels: [
      ...Array.from({ length: 10 }, (_, i) => ({ id: `g${i}`, category: 'car', box2d: carAt(i) })),
      { id: 'b0', category: 'bus', box2d: box(0, 200, 200, 300) },
      { id: 'b1', category: 'bus', box2d: box(300, 200, 500, 300) },
      { id: 'crowd', category: 'other vehicle', box2d: box(0, 600, 400, 700) },
    ],
  },
]);
const far = (i: number) => box(1000 + i * 10, 400, 1005 + i * 10, 405);
const cars: Array<[number, ReturnType<typeof box>]> = [
  [0.95, carAt(0)],
  [0.9, carAt(1)],
  [0.85, carAt(2)],
  [0.8, carAt(3)],
  [0.75, carAt(4)],
  [0.7, carAt(0)],
  [0.65, far(1)],
  [0.6, carAt(5)],
  [0.5, far(2)],
  [0.4, far(3)],
  [0.3, carAt(6)],
  [0.2, far(4)],
  [0.1, far(5)],
  [0.99, box(10, 610, 60, 660)], // inside the crowd region: ignored
];
const predictions = frames([
  {
    name: 'a.jpg',
    labels: [
      ...cars.map(([score, box2d], i) => ({ id: `c${i}`, category: 'car', score, box2d })),
      { id: 'p0', category: 'bus', score: 0.9, box2d: box(0, 200, 200, 300) },
      { id: 'p1', category: 'bus', score: 0.8, box2d: box(600, 200, 800, 300) },
    ],
  },
]);

const chunk = matchChunk(gt, predictions);
const options = (target: CalibrationTarget, more: Partial<CalibrateOptions> = {}): CalibrateOptions => ({
  target,
  iouThreshold: 0.5,
  current: { default: 0.5, perClass: {} },
  ...more,
});
const target = (text: string) => CalibrationTargetSchema.parse(text);

describe('calibration on a hand-computed case', () => {
  test('f1: the highest F1, ties to the higher threshold; the default from all classes pooled', () => {
    const c = calibrateChunks([chunk], options(target('f1')));
    assert.deepEqual(c.thresholds, { default: 0.3, perClass: { car: 0.75 } });
    const car = c.perClass.car!;
    assert.deepEqual(
      { gt: car.gt, detections: car.detections, calibrated: car.calibrated, tp: car.suggested.tp, fp: car.suggested.fp },
      { gt: 10, detections: 13, calibrated: true, tp: 5, fp: 0 },
      'the crowd-absorbed car is left out',
    );
    assert.equal(car.suggested.f1, 2 / 3);
    assert.deepEqual({ tp: c.pooled.tp, fp: c.pooled.fp, fn: c.pooled.fn }, { tp: 8, fp: 5, fn: 4 });
    assert.equal(c.pooled.f1, 16 / 25);
  });

  test('precision=P: the lowest threshold reaching P; recall=R: the highest keeping R', () => {
    const car = (text: string) => calibrateChunks([chunk], options(target(text))).perClass.car!;
    assert.equal(car('precision=0.9').threshold, 0.75);
    assert.equal(car('precision=0.8').threshold, 0.7);
    assert.equal(car('precision=0.75').threshold, 0.6, 'reached exactly at .60, below it at .65');
    assert.equal(car('recall=0.6').threshold, 0.6);
    assert.equal(car('recall=0.7').threshold, 0.3);
    const never = calibrateChunks([chunk], options(target('recall=0.8')));
    assert.equal(never.perClass.car!.calibrated, false);
    assert.match(never.perClass.car!.note!, /recall=0.8 is never reached/);
    assert.equal(never.thresholds.default, 0.5, 'pooled recall peaks at 8/12 too: the current default stays');
    assert.match(never.pooled.note!, /never reached/);
  });

  test(`classes with fewer than ${MIN_GT_TO_CALIBRATE} GT boxes keep the default, with the reason`, () => {
    const c = calibrateChunks([chunk], options(target('f1')));
    const bus = c.perClass.bus!;
    assert.equal(bus.calibrated, false);
    assert.equal(bus.threshold, 0.3);
    assert.match(bus.note!, /^2 GT box\(es\), fewer than 10: keeps the default$/);
    assert.deepEqual({ tp: bus.suggested.tp, fp: bus.suggested.fp, fn: bus.suggested.fn }, { tp: 1, fp: 1, fn: 1 });
    assert.equal(c.perClass.pedestrian!.note, '0 GT box(es), fewer than 10: keeps the default');
    assert.ok(!('bus' in c.thresholds.perClass));
    // With a lower minimum, the buses get their own: .90 (TP 1, kept 1: F1 2/3) beats .80 (1/2: F1 1/2).
    const lower = calibrateChunks([chunk], options(target('f1'), { minGt: 2 }));
    assert.equal(lower.thresholds.perClass.bus, 0.9);
  });

  test('overall F1 at the suggested thresholds next to the current ones (all classes pooled)', () => {
    const c = calibrateChunks([chunk], options(target('f1'), { current: { default: 0.5, perClass: { bus: 0.85 } } }));
    // Suggested: car .75 (5, 0, 5), bus .30 (1, 1, 1). Current: car .50 (6, 3, 4), bus .85 (1, 0, 1).
    assert.deepEqual({ tp: c.overall.suggested.tp, fp: c.overall.suggested.fp, fn: c.overall.suggested.fn }, { tp: 6, fp: 1, fn: 6 });
    assert.equal(c.overall.suggested.f1, 12 / 19);
    assert.deepEqual({ tp: c.overall.current.tp, fp: c.overall.current.fp, fn: c.overall.current.fn }, { tp: 7, fp: 3, fn: 5 });
    assert.equal(c.overall.current.f1, 14 / 22);
    assert.equal(c.perClass.bus!.current.threshold, 0.85);
  });

  test('the IoU threshold is the evaluator’s: at 0.95 a box off by a few pixels stops matching', () => {
    const shifted = frames([{ name: 'a.jpg', labels: [{ id: 'x', category: 'car', score: 0.9, box2d: box(2, 0, 52, 50) }] }]);
    const at = (iou: number) =>
      calibrateChunks([matchChunk(gt, shifted, { iouThreshold: iou })], options(target('f1'), { iouThreshold: iou }));
    assert.equal(at(0.5).perClass.car!.suggested.tp, 1);
    assert.equal(at(0.95).perClass.car!.suggested.tp, 0);
    assert.throws(() => calibrateChunks([chunk], options(target('f1'), { iouThreshold: 0.52 })), /not one of COCO's thresholds/);
  });

  test('the suggested thresholds parse as a labeling config’s thresholds, unchanged', () => {
    for (const text of ['f1', 'precision=0.9', 'recall=0.6', 'recall=0.8']) {
      const c = calibrateChunks([chunk], options(target(text)));
      assert.deepEqual(LabelingConfigSchema.parse({ thresholds: c.thresholds }).thresholds, c.thresholds, text);
    }
  });

  test('targets: f1, precision=P, recall=R with P, R in (0, 1]; anything else is refused', () => {
    assert.deepEqual(target('f1'), { kind: 'f1' });
    assert.deepEqual(target('precision=0.9'), { kind: 'precision', min: 0.9 });
    assert.deepEqual(target('recall=1'), { kind: 'recall', min: 1 });
    for (const bad of ['', 'F1', 'precision', 'precision=0', 'recall=1.5', 'precision=0.9x', 'accuracy=0.9'])
      assert.equal(CalibrationTargetSchema.safeParse(bad).success, false, bad);
  });
});

describe('every evaluation report carries the calibration', () => {
  const report = evaluate({ gt, predictions, options: { scoreThreshold: 0.5 } });

  test('the F1 target at the operating point; "current" is the operating point itself', () => {
    EvaluationReportSchema.parse(report);
    const c = report.calibration!;
    assert.equal(c.target, 'f1');
    assert.deepEqual(c.thresholds, { default: 0.3, perClass: { car: 0.75 } });
    assert.deepEqual(c.current, { default: 0.5, perClass: {} });
    const { tp, fp, fn, f1 } = report.detection.overall;
    assert.deepEqual(
      { tp: c.overall.current.tp, fp: c.overall.current.fp, fn: c.overall.current.fn, f1: c.overall.current.f1 },
      { tp, fp, fn, f1 },
    );
  });

  test('an operating-point IoU outside COCO’s grid falls back to 0.5, and says so', () => {
    const c = evaluate({ gt, predictions, options: { iouThreshold: 0.3 } }).calibration!;
    assert.equal(c.iouThreshold, 0.5);
    assert.match(c.notes.join('\n'), /IoU 0.3 is not one of COCO's thresholds/);
  });

  test('predictions that look filtered by the current threshold are flagged', () => {
    const filtered = frames([{ name: 'a.jpg', labels: predictions[0]!.labels.filter((l) => (l.score ?? 0) >= 0.5) }]);
    const c = evaluate({ gt, predictions: filtered, options: { scoreThreshold: 0.5 } }).calibration!;
    assert.equal(c.lowestScore, 0.5);
    assert.match(c.notes.join('\n'), /lower thresholds could not be tried/);
  });
});
