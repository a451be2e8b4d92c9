/**
 * Evaluation in chunks (src/core/evaluation/chunks.ts): matchChunk per chunk of GT frames, aggregateChunks over the
 * chunks' JSON, must give the very report evaluate() gives on all frames at once (deep equality, not closeness).
 * Cases are built from the real BDD100K sample labels (shared folder) with the simulated detector of bench/synthetic.ts
 * and seeded perturbations: missing predictions, predictions without GT, unknown categories, crowd regions, more than
 * 100 detections in an image, score ties across images.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { evaluate } from '../src/core/evaluation/evaluate';
import {
  aggregateChunks,
  ChunkError,
  ChunkMatchesSchema,
  matchChunk,
  WORST_IMAGES_WITH_BOXES,
  type ChunkMatches,
} from '../src/core/evaluation/chunks';
import { imageKey } from '../src/core/evaluation/dataset';
import { EvaluationReportSchema, type EvaluationOptions, type EvaluationReport } from '../src/core/evaluation/report-schema';
import { loadLabels } from '../src/adapters/files/load-labels';
import type { Frame, Label } from '../src/core/labels/schema';
import { seededRandom, simulatePredictions } from '../bench/synthetic';
import { sampleLabelsDir } from './helpers/shared';

const NOW = new Date('2026-01-01T00:00:00Z');
const STRAYS = ['stray-a.jpg', 'images/stray-b.jpg', 'stray-c.jpg'];

let sample: Frame[] = [];
let gt: Frame[] = [];
let predictions: Frame[] = [];
let reference: EvaluationReport;

const label = (id: string, category: string, x1: number, y1: number, w: number, h: number, extra: Partial<Label> = {}): Label => ({
  id,
  category,
  box2d: { x1, y1, x2: x1 + w, y2: y1 + h },
  ...extra,
});

/** GT and predictions from the sample, perturbed deterministically so that every special case occurs. */
function makeCase(frames: readonly Frame[], seed: number): { gt: Frame[]; predictions: Frame[] } {
  const random = seededRandom(seed);
  const gt: Frame[] = frames.map((f) => ({ ...f, labels: [...f.labels] }));
  // Unknown GT categories, a crowd region (attribute and crowd class), a GT frame with an undefined attribute.
  gt[3]!.labels.push(label('u1', 'lane', 0, 600, 1280, 120), label('u2', 'wheelchair', 10, 10, 20, 20));
  gt[5]!.labels.push(label('c1', 'car', 400, 300, 300, 200, { attributes: { crowd: true } }));
  gt[6]!.labels.push(label('c2', 'other person', 100, 100, 200, 300));
  gt[7] = { ...gt[7]!, attributes: { ...gt[7]!.attributes, weather: 'undefined' } };

  const predictions = gt.map((f) => simulatePredictions(f, random));
  // Detections inside the crowd region (absorbed, not false positives).
  predictions[5]!.labels.push(
    label('p-c1', 'car', 450, 320, 60, 50, { score: 0.77 }),
    label('p-c2', 'car', 500, 350, 40, 30, { score: 0.5 }),
  );
  // More than 100 detections of one class in one image, many with tied scores (the maxDet cuts).
  for (let i = 0; i < 130; i++)
    predictions[12]!.labels.push(
      label(`many${i}`, 'car', (i % 13) * 90, Math.floor(i / 13) * 70, 60 + (i % 7), 50, { score: Math.round(random() * 20) / 20 }),
    );
  // Unknown predicted categories, a class BDD does not evaluate, no score, no box.
  predictions[30]!.labels.push(
    label('x1', 'unicorn', 10, 10, 30, 30, { score: 0.9 }),
    label('x2', 'unicorn', 40, 10, 30, 30, { score: 0.8 }),
    label('x3', 'trailer', 70, 10, 30, 30, { score: 0.7 }),
    label('x4', 'car', 100, 10, 30, 30),
    { id: 'x5', category: 'car', score: 0.6 },
  );
  predictions[44]!.labels.push(label('x6', 'zebra', 10, 10, 30, 30, { score: 0.4 }));
  // A free-text attribute outside the vocabulary.
  predictions[20] = { ...predictions[20]!, attributes: { ...predictions[20]!.attributes, weather: 'sort of murky' } };
  // A prediction frame named with a folder: matched by file name.
  predictions[50] = { ...predictions[50]!, name: `images/${predictions[50]!.name}` };
  // Images without predictions, predictions without GT.
  const kept = predictions.filter((_, i) => ![10, 25, 41, 59].includes(i));
  for (const [i, name] of STRAYS.entries()) kept.splice(7 + 13 * i, 0, { name, labels: [label('s', 'car', 0, 0, 50, 50, { score: 0.9 })] });
  // Shuffle: evaluation order is the GT order whatever order the predictions come in.
  for (let i = kept.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kept[i], kept[j]] = [kept[j]!, kept[i]!];
  }
  return { gt, predictions: kept };
}

/** Chunk boundaries: consecutive sizes adding up to `total`. */
const fixedSizes = (total: number, size: number) =>
  Array.from({ length: Math.ceil(total / size) }, (_, i) => Math.min(size, total - i * size));

function randomSizes(total: number, seed: number): number[] {
  const random = seededRandom(seed);
  const sizes: number[] = [];
  for (let left = total; left > 0;) {
    const size = Math.min(left, Math.floor(random() * 12)); // 0 included: empty chunks
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

/**
 * What an orchestrator does: cut the GT frames into consecutive chunks, send each prediction frame to the chunk of
 * its image, predictions without GT (in their order) to one extra chunk with no GT.
 */
function matchInChunks(
  gt: readonly Frame[],
  predictions: readonly Frame[],
  sizes: readonly number[],
  options?: Partial<EvaluationOptions>,
): ChunkMatches[] {
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    gt.length,
  );
  const gtChunks: Frame[][] = [];
  let start = 0;
  for (const size of sizes) {
    gtChunks.push(gt.slice(start, start + size));
    start += size;
  }
  const chunkOf = new Map<string, number>();
  gtChunks.forEach((frames, i) => frames.forEach((f) => chunkOf.set(imageKey(f.name), i)));
  const predChunks: Frame[][] = gtChunks.map(() => []);
  const strays: Frame[] = [];
  for (const p of predictions) {
    const i = chunkOf.get(imageKey(p.name));
    if (i === undefined) strays.push(p);
    else predChunks[i]!.push(p);
  }
  return [...gtChunks.map((frames, i) => matchChunk(frames, predChunks[i]!, options)), matchChunk([], strays, options)];
}

/** Through blob storage: JSON text and back. */
const viaJson = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));

before(async () => {
  sample = (await loadLabels(sampleLabelsDir)).frames;
  ({ gt, predictions } = makeCase(sample, 20261123));
  reference = evaluate({ gt, predictions, now: NOW });
});

describe('chunked evaluation on the BDD100K sample', () => {
  test('the case exercises what chunking could get wrong', () => {
    assert.equal(sample.length, 60);
    const r = reference;
    assert.equal(r.images.evaluated, 60);
    assert.equal(r.images.withoutPredictions, 4);
    assert.deepEqual(r.images.predictionsWithoutGt.map(imageKey).sort(), STRAYS.map(imageKey).sort());
    assert.ok(r.warnings.some((w) => /ground-truth boxes with categories outside the taxonomy.*lane \(1\).*wheelchair \(1\)/.test(w)));
    assert.ok(
      r.warnings.some((w) => /predicted boxes with categories outside the taxonomy.*unicorn \(2\), wheelchair \(1\), zebra \(1\)/.test(w)),
    );
    assert.ok(r.warnings.some((w) => /1 predicted box\(es\) have no score/.test(w)));
    assert.ok(r.warnings.some((w) => /1 predicted label\(s\) have no box2d/.test(w)));
    assert.ok(r.detection.overall.tp > 500 && r.detection.overall.fp > 100 && r.detection.overall.fn > 100);
    assert.ok(r.detection.stats.AP > 0.1 && r.detection.stats.AP < 0.9);
    assert.ok(r.detection.stats.AR1 < r.detection.stats.AR10, 'the maxDet cuts matter');
    assert.equal(r.diagnostics.worstImages.length, WORST_IMAGES_WITH_BOXES);
    const weather = r.attributes.perAttribute['weather']!;
    assert.ok(weather.undefinedGt >= 1 && weather.missingPrediction === 4 && weather.evaluated > 50);
    assert.equal(weather.unrecognizedPredictions, 1);
    // Reversing the chunks changes the report (score ties are broken by image order): equality below is not vacuous.
    const chunks = matchInChunks(gt, predictions, fixedSizes(60, 7));
    const reversed = aggregateChunks([...chunks].reverse(), { now: NOW });
    assert.notDeepStrictEqual(reversed.detection.stats, r.detection.stats);
  });

  for (const size of [1, 7, 20, 60]) {
    test(`chunks of ${size} image(s), through JSON, give evaluate()'s report`, () => {
      const chunks = matchInChunks(gt, predictions, fixedSizes(60, size));
      assert.equal(chunks.length, Math.ceil(60 / size) + 1);
      assert.deepStrictEqual(aggregateChunks(viaJson(chunks) as unknown[], { now: NOW }), reference);
      assert.deepStrictEqual(aggregateChunks(chunks, { now: NOW }), reference);
    });
  }

  test("random partitions with empty chunks give evaluate()'s report", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const sizes = randomSizes(60, seed);
      assert.ok(sizes.length > 3);
      const chunks = matchInChunks(gt, predictions, sizes);
      assert.deepStrictEqual(aggregateChunks(viaJson(chunks) as unknown[], { now: NOW }), reference, `sizes ${sizes.join(',')}`);
    }
    const withEmpty = matchInChunks(gt, predictions, [0, 30, 0, 0, 30, 0]);
    assert.equal(withEmpty.filter((c) => c.images.length === 0).length, 5);
    assert.deepStrictEqual(aggregateChunks(viaJson(withEmpty) as unknown[], { now: NOW }), reference);
  });

  test('other options, inputs: the same report as evaluate()', () => {
    const options = { mode: 'bdd' as const, iouThreshold: 0.7, scoreThreshold: 0.55 };
    const inputs = {
      gt: { path: 'gt', files: 60, frames: 60, formats: { scalabel: 60 }, problems: [] },
      pred: { path: 'pred', files: 1, frames: predictions.length, formats: { scalabel: 1 }, problems: [] },
    };
    const expected = evaluate({ gt, predictions, options, inputs, now: NOW });
    assert.notDeepStrictEqual(expected.detection, reference.detection);
    const chunks = viaJson(matchInChunks(gt, predictions, fixedSizes(60, 9), options)) as unknown[];
    assert.deepStrictEqual(aggregateChunks(chunks, { options, inputs, now: NOW }), expected);
    assert.deepStrictEqual(aggregateChunks(chunks, { inputs, now: NOW }), expected, 'options taken from the chunks');
    assert.doesNotThrow(() => EvaluationReportSchema.parse(expected));
  });

  test('predictions without GT may travel in any chunk; their report order is chunk order', () => {
    const strays = predictions.filter((p) => !gt.some((g) => imageKey(g.name) === imageKey(p.name)));
    assert.equal(strays.length, STRAYS.length);
    const chunks = matchInChunks(gt, predictions, fixedSizes(60, 15)).slice(0, -1);
    // The strays ride along with the last chunk's GT images instead of a chunk of their own.
    const last = gt.slice(45);
    const lastPredictions = predictions.filter((p) => strays.includes(p) || last.some((g) => imageKey(g.name) === imageKey(p.name)));
    chunks[chunks.length - 1] = matchChunk(last, lastPredictions);
    assert.deepStrictEqual(aggregateChunks(viaJson(chunks) as unknown[], { now: NOW }), reference);
    // A chunk with only predictions without GT contributes names and nothing else.
    const strayChunk = matchChunk([], strays);
    assert.equal(strayChunk.images.length, 0);
    assert.equal(strayChunk.predictionsWithoutGt.length, 3);
    assert.deepEqual(strayChunk.unknownPredictionCategories, {});
    assert.ok(Object.values(strayChunk.detection).every((c) => c.scores.length === 0 && c.predictions === 0));
  });

  test('no chunks, or only empty ones, is the report of no images', () => {
    const empty = evaluate({ gt: [], predictions: [], now: NOW });
    assert.equal(empty.images.evaluated, 0);
    assert.equal(empty.detection.stats.AP, -1);
    assert.deepStrictEqual(aggregateChunks([], { now: NOW }), empty);
    assert.deepStrictEqual(aggregateChunks(viaJson([matchChunk([], []), matchChunk([], [])]) as unknown[], { now: NOW }), empty);
  });

  test('chunk data is plain, compact JSON that the schema reads back unchanged', () => {
    const chunks = matchInChunks(gt, predictions, fixedSizes(60, 20));
    for (const chunk of chunks) {
      const text = JSON.stringify(chunk);
      assert.deepStrictEqual(ChunkMatchesSchema.parse(JSON.parse(text)), chunk);
      assert.ok(!text.includes('"labels"') && !text.includes('"id"'), 'no frames or labels in chunk data');
      assert.ok(chunk.images.filter((i) => i.missed).length <= WORST_IMAGES_WITH_BOXES);
    }
    const whole = matchChunk(gt, predictions);
    const withBoxes = whole.images.filter((i) => i.missed !== undefined);
    assert.equal(withBoxes.length, WORST_IMAGES_WITH_BOXES, 'only the images that can rank among the worst keep boxes');
    const car = whole.detection.car;
    assert.equal(car.outcomes.length, 40 * car.scores.length);
    assert.ok(car.detectionsPerImage.every((n) => n <= 100) && car.detectionsPerImage.includes(100));
  });
});

describe('chunks that do not fit together are rejected', () => {
  const predictionsOf = (frames: readonly Frame[]) => predictions.filter((p) => frames.some((g) => imageKey(g.name) === imageKey(p.name)));
  const chunkOf = (frames: readonly Frame[], options?: Partial<EvaluationOptions>) =>
    viaJson(matchChunk(frames, predictionsOf(frames), options)) as Record<string, any>;
  const valid = () => chunkOf(gt.slice(0, 5));

  function rejects(chunk: unknown, message: RegExp) {
    assert.throws(
      () => aggregateChunks([valid(), chunk]),
      (error: unknown) => error instanceof ChunkError && message.test(error.message),
    );
  }

  test('bad chunk JSON, with a message that names the problem', () => {
    rejects(null, /^chunk 1 is not valid evaluation chunk data: \(root\)/);
    rejects({ ...valid(), kind: 'autolabel.evaluation' }, /chunk 1 .*kind/);
    rejects({ ...valid(), schemaVersion: 2 }, /chunk 1 .*schemaVersion/);
    const noImages = valid();
    delete noImages['images'];
    rejects(noImages, /images: .*expected array/i);

    const badOutcome = valid();
    badOutcome['detection'].car.outcomes = badOutcome['detection'].car.outcomes.replace(/^./, '3');
    rejects(badOutcome, /detection\.car\.outcomes: outcomes may only hold the characters/);

    const shortOutcomes = valid();
    shortOutcomes['detection'].car.outcomes = shortOutcomes['detection'].car.outcomes.slice(1);
    rejects(shortOutcomes, /detection\.car\.outcomes: outcomes must have 40 characters per score/);

    const badRanks = valid();
    badRanks['detection'].truck.detectionsPerImage.push(1);
    rejects(badRanks, /detection\.truck\.detectionsPerImage: detectionsPerImage adds up to/);

    const missingClass = valid();
    delete missingClass['detection'].bus;
    rejects(missingClass, /detection\.bus/);

    const badConfusion = valid();
    badConfusion['attributes'].weather.confusion.pop();
    rejects(badConfusion, /attributes\.weather\.confusion/);

    const stringScore = valid();
    stringScore['detection'].car.scores[0] = String(stringScore['detection'].car.scores[0]);
    rejects(stringScore, /detection\.car\.scores\.0/);

    const negative = valid();
    negative['images'][0].tp = -1;
    rejects(negative, /images\.0\.tp/);
  });

  test('chunks matched with other options', () => {
    const other = chunkOf(gt.slice(5, 10), { iouThreshold: 0.75 });
    assert.throws(() => aggregateChunks([valid(), other]), /chunk 1 was matched with options .*0\.75/);
    assert.throws(() => aggregateChunks([valid()], { options: { mode: 'bdd' } }), /chunk 0 was matched with options/);
  });

  test('an image split across chunks, or its predictions sent elsewhere', () => {
    assert.doesNotThrow(() => aggregateChunks([valid(), chunkOf(gt.slice(5, 10))]));
    const again = chunkOf(gt.slice(4, 6));
    assert.throws(() => aggregateChunks([valid(), again]), /image .* is in chunks 0 and 1/);
    const misrouted = viaJson(
      matchChunk(
        gt.slice(5, 10),
        predictions.filter((p) => imageKey(p.name) === imageKey(gt[2]!.name)),
      ),
    );
    assert.throws(() => aggregateChunks([valid(), misrouted]), /chunk 1 has a prediction for .*, whose ground truth is in chunk 0/);
  });
});
