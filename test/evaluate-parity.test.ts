/**
 * Randomized parity with pycocotools: seeded cases built from the real BDD100K sample labels (shared folder, never
 * copied here) are evaluated by our evaluator in-process and by pycocotools' COCOeval in one Python process
 * (test/golden/pycoco_reference.py). All 12 stats and per-class AP / AP50 / AP75 / AR100 must agree within 1e-9 for
 * every seed. Needs the project's venv with pycocotools (test/helpers/python.ts): without it this test fails.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { writeCocoExport } from '../src/adapters/files/write-labels';
import { evaluate } from '../src/core/evaluation/evaluate';
import type { Box2d, Frame, Label } from '../src/core/labels/schema';
import { BDD_CLASSES } from '../src/core/taxonomy/categories';
import {
  compareMetrics,
  describeMismatches,
  metricsOf,
  mulberry32,
  readSampleFrame,
  TOLERANCE,
  type CocoMetrics,
  type Comparison,
} from './golden/support';
import { sampleLabelsDir } from './helpers/shared';
import { runPython } from './helpers/python';

const SEEDS = Array.from({ length: 200 }, (_, i) => i + 1);
const REFERENCE = path.join(__dirname, 'golden', 'pycoco_reference.py');

type Mode = 'coco' | 'bdd';
interface ParityCase {
  case: string;
  seed: number;
  mode: Mode;
  gt: Frame[];
  predictions: Frame[];
}

/** What a case exercises, to check that the generator covers the situations it is meant to. */
interface Features {
  crowdGt: boolean;
  over100: boolean;
  scoreTies: boolean;
  imageWithoutPrediction: boolean;
  emptyPredictions: boolean;
  names2018: boolean;
  gtArea: boolean;
  outsideGt: boolean;
}

const RENAMES_2018: Record<string, string[]> = {
  pedestrian: ['person'],
  bicycle: ['bike'],
  motorcycle: ['motor'],
  car: ['van', 'caravan'],
};
const CROWD_CLASSES = ['other person', 'other vehicle', 'trailer'];

/** One seeded case: a random subset of the sample (random order), GT and predictions perturbed in many ways. */
function makeCase(seed: number, sample: readonly Frame[]): { parity: ParityCase; features: Features } {
  const rnd = mulberry32(Math.imul(seed, 0x9e3779b1) ^ 0x5eed);
  const chance = (p: number) => rnd() < p;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const shuffle = <T>(xs: T[]): T[] => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };

  const mode: Mode = chance(0.5) ? 'coco' : 'bdd';
  const features: Features = {
    crowdGt: false,
    over100: false,
    scoreTies: false,
    imageWithoutPrediction: false,
    emptyPredictions: false,
    names2018: false,
    gtArea: false,
    outsideGt: false,
  };
  // Scores on a coarse grid make ties (within and across images); 0 keeps them continuous.
  const grid = pick([0, 0, 1000, 20, 10, 4]);
  const score = () => (grid ? Math.round(rnd() * grid) / grid : rnd());
  const integerBoxes = chance(0.3);
  const coord = (v: number) => (integerBoxes ? Math.round(v) : v);
  const ordered = (x1: number, y1: number, x2: number, y2: number): Box2d => ({
    x1: coord(Math.min(x1, x2)),
    y1: coord(Math.min(y1, y2)),
    x2: coord(Math.max(x1, x2)),
    y2: coord(Math.max(y1, y2)),
  });
  const jitter = (b: Box2d, amount: number): Box2d => {
    const w = b.x2 - b.x1;
    const h = b.y2 - b.y1;
    return ordered(
      b.x1 + (rnd() - 0.5) * amount * w,
      b.y1 + (rnd() - 0.5) * amount * h,
      b.x2 + (rnd() - 0.5) * amount * w,
      b.y2 + (rnd() - 0.5) * amount * h,
    );
  };
  const randomBox = (): Box2d => {
    const [lo, span] = pick([
      [0, 10],
      [5, 40],
      [28, 10], // around the 32 px border
      [30, 80],
      [92, 10], // around the 96 px border
      [90, 300],
    ] as const);
    const w = lo + rnd() * span;
    const h = chance(0.2) ? w : lo + rnd() * span;
    const x1 = rnd() * (1280 - w);
    const y1 = rnd() * (720 - h);
    return ordered(x1, y1, x1 + w, y1 + h);
  };

  const pDropGt = rnd() * 0.3;
  const pCrowd = chance(0.5) ? rnd() * 0.15 : 0;
  const p2018 = chance(0.3) ? rnd() * 0.5 : 0;
  const pArea = mode === 'coco' && chance(0.3) ? rnd() * 0.3 : 0;
  const pMiss = rnd() * 0.5;
  const amount = rnd() * 0.5;
  const pConfuse = rnd() * 0.1;
  const pDuplicate = rnd() * 0.3;
  const falsePositives = Math.floor(rnd() * 12);

  const count = chance(0.04) ? sample.length : 1 + Math.floor(rnd() * 12);
  const images = shuffle(sample.map((_, i) => i))
    .slice(0, count)
    .map((i) => sample[i]!);

  const gt: Frame[] = [];
  const predictions: Frame[] = [];
  for (const frame of images) {
    const gtLabels: Label[] = [];
    const predLabels: { category: string; box2d: Box2d; score?: number }[] = [];
    for (const l of frame.labels) {
      const b = l.box2d;
      if (!b) {
        gtLabels.push(l);
        continue;
      }
      if (!chance(pDropGt)) {
        const g: Label = { ...l };
        if (chance(pCrowd)) {
          g.attributes = { ...l.attributes, crowd: true };
          features.crowdGt = true;
        }
        if (CROWD_CLASSES.includes(l.category) || l.attributes?.['crowd'] === true) features.crowdGt = true;
        const renames = RENAMES_2018[l.category];
        if (renames && chance(p2018)) {
          g.category = pick(renames);
          features.names2018 = true;
        }
        if (chance(pArea)) {
          g.area = (b.x2 - b.x1) * (b.y2 - b.y1) * (0.2 + rnd() * 3);
          features.gtArea = true;
        }
        gtLabels.push(g);
      }
      if (chance(pMiss)) continue;
      // A detection of a crowd class is not evaluated; as `car` it lands inside the crowd region.
      let category = CROWD_CLASSES.includes(l.category) && chance(0.7) ? 'car' : l.category;
      if (chance(pConfuse)) category = pick(BDD_CLASSES);
      if (chance(0.1)) category = RENAMES_2018[category]?.[0] ?? category;
      const box = jitter(b, amount);
      predLabels.push({ category, box2d: box, score: score() });
      while (chance(pDuplicate)) predLabels.push({ category, box2d: jitter(box, amount / 3), score: score() });
    }
    for (let i = Math.floor(rnd() * falsePositives); i > 0; i--)
      predLabels.push({ category: pick(BDD_CLASSES), box2d: randomBox(), score: score() });
    if (chance(0.08)) {
      // a burst of car detections: more than 100 in one image for one class
      const cars = frame.labels.filter((l) => l.category === 'car' && l.box2d);
      for (let i = 100 + Math.floor(rnd() * 60); i > 0; i--) {
        const near = cars.length > 0 && chance(0.5) ? pick(cars).box2d! : undefined;
        predLabels.push({ category: 'car', box2d: near ? jitter(near, 0.6) : randomBox(), score: score() });
      }
      features.over100 = true;
    }
    if (chance(0.1)) predLabels.push({ category: 'car', box2d: randomBox() }); // no score: not evaluated
    if (chance(0.1)) predLabels.push({ category: pick(CROWD_CLASSES), box2d: randomBox(), score: score() });
    if (chance(0.05)) predLabels.push({ category: 'dog', box2d: randomBox(), score: score() });
    if (chance(0.3)) shuffle(predLabels);

    gt.push({ ...frame, labels: gtLabels });
    if (chance(0.08)) {
      features.imageWithoutPrediction = true;
      continue;
    }
    const labels = predLabels.map((l, i) => ({ id: `p${i}`, ...l }));
    if (chance(0.05) && labels.length > 1) {
      // the same image in two prediction frames: both count
      const cut = 1 + Math.floor(rnd() * (labels.length - 1));
      predictions.push({ name: frame.name, labels: labels.slice(0, cut) });
      predictions.push({ name: `images/${frame.name}`, labels: labels.slice(cut) });
    } else {
      predictions.push({ name: chance(0.1) ? `images/${frame.name}` : frame.name, labels });
    }
  }
  if (chance(0.5)) shuffle(predictions);
  if (chance(0.1)) {
    const outside = sample.find((f) => !images.includes(f));
    predictions.push({
      name: outside ? outside.name : 'not-in-gt.jpg',
      labels: [{ id: 'x', category: 'car', box2d: randomBox(), score: 0.99 }],
    });
    features.outsideGt = true;
  }
  if (chance(0.03)) {
    predictions.length = 0;
    features.emptyPredictions = true;
  }
  const scores = predictions.flatMap((f) => f.labels.flatMap((l) => (l.score === undefined ? [] : [l.score])));
  features.scoreTies = new Set(scores).size < scores.length;
  return { parity: { case: `seed-${seed}`, seed, mode, gt, predictions }, features };
}

const tempDirs: string[] = [];
after(() => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('parity with pycocotools on random cases from the BDD100K sample', () => {
  test(`${SEEDS.length} seeds agree within ${TOLERANCE} on every stat and per-class value`, async (t) => {
    const started = Date.now();
    const files = readdirSync(sampleLabelsDir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    assert.ok(files.length >= 10, `the BDD100K sample at ${sampleLabelsDir} has ${files.length} label files`);
    const sample = files.map((file) => readSampleFrame(file));
    const generated = SEEDS.map((seed) => makeCase(seed, sample));
    const cases = generated.map((g) => g.parity);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'autolabel-parity-'));
    tempDirs.push(dir);
    const input = path.join(dir, 'cases.json');
    const output = path.join(dir, 'results.json');
    writeFileSync(input, JSON.stringify({ cases }));
    // pycocotools runs in its own process while we evaluate here.
    const reference = runPython(REFERENCE, [input, output]);
    reference.catch(() => undefined); // awaited below; keeps an early rejection from being reported as unhandled
    const ours = cases.map((c) =>
      metricsOf(evaluate({ gt: c.gt, predictions: c.predictions, options: { mode: c.mode }, now: new Date(0) })),
    );
    const oursDone = Date.now();
    await reference;
    const results = (JSON.parse(readFileSync(output, 'utf8')) as { results: (CocoMetrics & { case: string })[] }).results;
    assert.deepEqual(
      results.map((r) => r.case),
      cases.map((c) => c.case),
      'pycoco_reference.py returned the cases in order',
    );

    let worst: { comparison: Comparison; seed: number } | undefined;
    const failures: string[] = [];
    results.forEach((expected, i) => {
      const c = cases[i]!;
      const comparison = compareMetrics(ours[i]!, expected);
      if (!worst || comparison.maxDiff > worst.comparison.maxDiff) worst = { comparison, seed: c.seed };
      if (comparison.mismatches.length > 0)
        failures.push(describeMismatches(comparison, `${c.case} (${c.mode} mode, ${c.gt.length} images)`));
    });
    const summary =
      `max |ours - pycocotools| over ${cases.length} seeds x 52 values: ${worst!.comparison.maxDiff}` +
      ` (seed ${worst!.seed}, ${worst!.comparison.maxDiffAt || 'all equal'}); ours ${oursDone - started} ms,` +
      ` total ${Date.now() - started} ms`;
    t.diagnostic(summary);
    console.log(`[parity] ${summary}`);
    assert.deepEqual(failures, [], `${failures.length} of ${cases.length} seeds disagree with pycocotools:\n${failures.join('\n')}`);

    // The generator must exercise what it is meant to: a quiet generator would make agreement meaningless.
    const covered = (key: keyof Features) => generated.filter((g) => g.features[key]).length;
    for (const key of Object.keys(generated[0]!.features) as (keyof Features)[]) assert.ok(covered(key) > 0, `no seed covers ${key}`);
    for (const mode of ['coco', 'bdd'] as const)
      assert.ok(
        cases.some((c) => c.mode === mode),
        `no seed in ${mode} mode`,
      );
    assert.ok(
      results.some((r) => Object.values(r.perClassAP).includes(-1)) && results.some((r) => (r.stats.AP ?? 0) > 0.3),
      'seeds span classes without GT and reasonable AP',
    );

    // And the comparison would notice a wrong evaluator: the same cases in the other box mode disagree.
    const flipped = cases.slice(0, 20).filter((c, i) => {
      const other = metricsOf(evaluate({ gt: c.gt, predictions: c.predictions, options: { mode: c.mode === 'coco' ? 'bdd' : 'coco' } }));
      return compareMetrics(other, results[i]!).mismatches.length > 0;
    });
    assert.ok(flipped.length >= 15, `only ${flipped.length} of 20 seeds notice a flipped box mode`);
  });
});

describe('our COCO export, evaluated by pycocotools', () => {
  test('gives the numbers of our evaluator: predictions of the ignore classes are left out of results.json', async () => {
    const files = readdirSync(sampleLabelsDir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    const gt = files.slice(0, 12).map((file) => readSampleFrame(file));
    const rnd = mulberry32(20261203);
    const randomBox = (): Box2d => {
      const x1 = rnd() * 1100;
      const y1 = rnd() * 600;
      return { x1, y1, x2: x1 + 20 + rnd() * 150, y2: y1 + 20 + rnd() * 100 };
    };
    let ignored = 0;
    const predictions: Frame[] = gt.map((frame, i) => {
      const labels: Label[] = frame.labels
        .filter((l) => l.box2d && !CROWD_CLASSES.includes(l.category))
        .map((l, j) => {
          const b = l.box2d!;
          const dx = (rnd() - 0.5) * 0.3 * (b.x2 - b.x1);
          return { id: `p${j}`, category: l.category, box2d: { ...b, x1: b.x1 + dx, x2: b.x2 + dx }, score: rnd() };
        });
      // Detections of the classes BDD does not evaluate, scored above everything else: false positives of car and
      // truck if they reached results.json as those classes.
      for (const category of ['other vehicle', 'trailer', 'other person']) {
        labels.push({ id: `x${labels.length}`, category, box2d: randomBox(), score: 0.999 });
        ignored++;
      }
      // A prediction flagged crowd is an ordinary detection (only ground truth can be a crowd region).
      if (i % 3 === 0)
        labels.push({ id: `c${labels.length}`, category: 'car', box2d: randomBox(), score: 0.5, attributes: { crowd: true } });
      return { name: frame.name, labels };
    });

    const dir = mkdtempSync(path.join(os.tmpdir(), 'autolabel-export-parity-'));
    tempDirs.push(dir);
    const exported = await writeCocoExport(dir, { groundTruth: gt, predictions });
    assert.equal(exported.results?.skippedIgnoredClass, ignored);
    const out = path.join(dir, 'metrics.json');
    await runPython(REFERENCE, ['--files', exported.instancesFile, exported.resultsFile!, out]);
    const theirs = JSON.parse(readFileSync(out, 'utf8')) as CocoMetrics;
    const ours = metricsOf(evaluate({ gt, predictions, options: { mode: 'coco' }, now: new Date(0) }));
    const comparison = compareMetrics(ours, theirs);
    assert.deepEqual(comparison.mismatches, [], describeMismatches(comparison, 'the export'));
    assert.ok((ours.stats.AP ?? 0) > 0.3, `AP ${ours.stats.AP}: the case has matches to get wrong`);
  });
});
