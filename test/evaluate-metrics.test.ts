import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../src/core/evaluation/evaluate';
import { EvaluationReportSchema } from '../src/core/evaluation/report-schema';
import { MISSING_PREDICTION } from '../src/core/evaluation/attributes-eval';
import { FrameSchema, type FrameInput } from '../src/core/labels/schema';

const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });
const frames = (inputs: FrameInput[]) => inputs.map((f) => FrameSchema.parse(f));

// A hand-computed case: every count below was worked out on paper from these boxes.
const gt = frames([
  {
    name: 'a.jpg',
    attributes: { weather: 'clear', timeofday: 'daytime', scene: 'city street' },
    labels: [
      { id: 'A', category: 'car', box2d: box(0, 0, 10, 10) },
      { id: 'B', category: 'car', box2d: box(20, 0, 30, 10) },
      { id: 'C', category: 'pedestrian', box2d: box(50, 50, 60, 70) },
      { id: 'D', category: 'other vehicle', box2d: box(100, 100, 200, 200) },
      { id: 'E', category: 'lane', box2d: box(0, 600, 1280, 720) },
    ],
  },
  {
    name: 'b.jpg',
    attributes: { weather: 'undefined', timeofday: 'night', scene: 'highway' },
    labels: [{ id: 'F', category: 'car', box2d: box(0, 0, 50, 50) }],
  },
]);
const predictions = frames([
  {
    name: 'images/a.jpg',
    attributes: { weather: 'Sunny', timeofday: 'dusk', scene: ' Urban Street ' },
    labels: [
      { id: '1', category: 'car', score: 0.9, box2d: box(0, 0, 10, 10) }, // TP on A
      { id: '2', category: 'car', score: 0.8, box2d: box(21, 0, 31, 10) }, // IoU 90/110 with B: TP
      { id: '3', category: 'car', score: 0.7, box2d: box(0, 0, 10, 10) }, // duplicate of A: FP
      { id: '4', category: 'car', score: 0.6, box2d: box(120, 120, 140, 140) }, // inside the crowd region: ignored
      { id: '5', category: 'car', score: 0.2, box2d: box(300, 300, 310, 310) }, // below the score threshold
      { id: '6', category: 'truck', score: 0.5, box2d: box(0, 0, 5, 5) }, // no truck GT: FP
      { id: '7', category: 'car', box2d: box(0, 0, 1, 1) }, // no score: not evaluated, warned
    ],
  },
  { name: 'c.jpg', labels: [{ id: '1', category: 'car', score: 0.9, box2d: box(0, 0, 1, 1) }] },
]);

const report = evaluate({ gt, predictions, now: new Date('2026-01-01T00:00:00Z') });

test('the report satisfies its own schema', () => {
  assert.doesNotThrow(() => EvaluationReportSchema.parse(report));
  assert.equal(report.createdAt, '2026-01-01T00:00:00.000Z');
  assert.deepEqual(report.options, { mode: 'coco', iouThreshold: 0.5, scoreThreshold: 0.3 });
});

test('operating point counts per class: crowd regions absorb, duplicates are false positives', () => {
  const { car, pedestrian, truck } = report.detection.perClass;
  assert.deepEqual({ tp: car!.tp, fp: car!.fp, fn: car!.fn }, { tp: 2, fp: 1, fn: 1 });
  assert.equal(car!.precision, 2 / 3);
  assert.equal(car!.recall, 2 / 3);
  assert.equal(car!.f1, 4 / 6);
  assert.deepEqual(
    { tp: pedestrian!.tp, fp: pedestrian!.fp, fn: pedestrian!.fn, precision: pedestrian!.precision },
    { tp: 0, fp: 0, fn: 1, precision: -1 },
  );
  assert.equal(pedestrian!.recall, 0);
  assert.deepEqual(
    { fp: truck!.fp, recall: truck!.recall, precision: truck!.precision, f1: truck!.f1 },
    { fp: 1, recall: -1, precision: 0, f1: 0 },
  );
  assert.deepEqual(report.detection.overall, { tp: 2, fp: 2, fn: 2, precision: 0.5, recall: 0.5, f1: 0.5 });
});

test('GT and prediction counts exclude crowd regions; AP is -1 for classes without GT', () => {
  assert.equal(report.detection.perClass.car!.gt, 3);
  assert.equal(report.detection.perClass.car!.predictions, 5);
  assert.equal(report.detection.perClass.truck!.AP, -1);
  assert.equal(report.detection.perClass.bus!.AP, -1);
  assert.ok(report.detection.perClass.car!.AP > 0 && report.detection.perClass.car!.AP < 1);
});

test('images: GT images are evaluated, predictions without GT are listed, names match by file name', () => {
  assert.deepEqual(report.images, { evaluated: 2, withPredictions: 1, withoutPredictions: 1, predictionsWithoutGt: ['c.jpg'] });
  const text = report.warnings.join('\n');
  assert.match(text, /1 predicted image\(s\) have no ground truth.*c\.jpg/);
  assert.match(text, /1 ground-truth image\(s\) have no prediction/);
  assert.match(text, /ground-truth boxes with categories outside the taxonomy.*lane \(1\)/);
  assert.match(text, /1 predicted box\(es\) have no score/);
});

test('per-image diagnostics list misses and false positives, worst first', () => {
  const [worst, next] = report.diagnostics.perImage;
  assert.deepEqual(worst, { name: 'a.jpg', gt: 3, predictions: 5, tp: 2, fp: 2, fn: 1 });
  assert.deepEqual(next, { name: 'b.jpg', gt: 1, predictions: 0, tp: 0, fp: 0, fn: 1 });
  const a = report.diagnostics.worstImages[0]!;
  assert.deepEqual(
    a.missed.map((m) => m.category),
    ['pedestrian'],
  );
  assert.deepEqual(
    a.falsePositives.map((f) => [f.category, f.score, f.bestIou]),
    [
      ['car', 0.7, 1],
      ['truck', 0.5, 0],
    ],
  );
});

test('attribute accuracy: synonyms count as right, undefined GT is excluded, missing predictions are wrong', () => {
  assert.deepEqual(report.attributes.accuracy, { weather: 1, timeofday: 0, scene: 0.5, overall: 2 / 5 });
  const weather = report.attributes.perAttribute.weather!;
  assert.equal(weather.undefinedGt, 1);
  assert.equal(weather.evaluated, 1);
  const time = report.attributes.perAttribute.timeofday!;
  const cell = (row: string, column: string) => time.confusion[time.gtLabels.indexOf(row)]![time.predictedLabels.indexOf(column)];
  assert.equal(cell('daytime', 'dawn/dusk'), 1);
  assert.equal(cell('night', MISSING_PREDICTION), 1);
  assert.equal(time.missingPrediction, 1);
  assert.equal(
    time.confusion.flat().reduce((a, b) => a + b, 0),
    time.evaluated,
  );
});

test('the operating point moves with its thresholds', () => {
  const strict = evaluate({ gt, predictions, options: { iouThreshold: 0.9, scoreThreshold: 0.85 } });
  // Only the 0.9 car survives the score cut; the IoU 0.818 match no longer counts.
  assert.deepEqual(
    { tp: strict.detection.perClass.car!.tp, fp: strict.detection.perClass.car!.fp, fn: strict.detection.perClass.car!.fn },
    { tp: 1, fp: 0, fn: 2 },
  );
  assert.equal(strict.detection.stats.AP, report.detection.stats.AP, 'COCO AP does not depend on the operating point');
});

test('bdd box mode adds one pixel to widths and heights', () => {
  const tiny = frames([{ name: 'x.jpg', labels: [{ id: '1', category: 'car', box2d: box(0, 0, 2, 2) }] }]);
  const shifted = frames([{ name: 'x.jpg', labels: [{ id: '1', category: 'car', score: 1, box2d: box(1, 0, 3, 2) }] }]);
  // coco: IoU = 2/6 (miss at 0.5); bdd: boxes are 3x3 and overlap 2x3, IoU = 6/12 = 0.5 (hit).
  const coco = evaluate({ gt: tiny, predictions: shifted, options: { mode: 'coco' } });
  const bdd = evaluate({ gt: tiny, predictions: shifted, options: { mode: 'bdd' } });
  assert.equal(coco.detection.perClass.car!.tp, 0);
  assert.equal(bdd.detection.perClass.car!.tp, 1);
  assert.equal(coco.detection.stats.AP50, 0);
  assert.ok(Math.abs(bdd.detection.stats.AP50 - 1) < 1e-12); // pycocotools' eps keeps it a hair below 1
});
