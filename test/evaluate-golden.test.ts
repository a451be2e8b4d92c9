/**
 * Golden fixtures: our COCO evaluator against numbers pycocotools computed once (test/golden/make_golden.py, run by
 * `npm run golden`). Every one of the 12 stats and the per-class AP / AP50 / AP75 / AR100 must agree within 1e-9.
 * No Python is needed here; test/evaluate-parity.test.ts runs pycocotools live on random cases.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { evaluate } from '../src/core/evaluation/evaluate';
import { COCO_STAT_NAMES } from '../src/core/evaluation/coco-summary';
import { FrameListSchema, type Frame, type FrameInput } from '../src/core/labels/schema';
import { BDD_CLASSES } from '../src/core/taxonomy/categories';
import {
  assertMetricsAgree,
  compareMetrics,
  describeMismatches,
  metricsOf,
  mulberry32,
  PER_CLASS_KEYS,
  readSampleFrame,
  TOLERANCE,
  type CocoMetrics,
} from './golden/support';

const CASES_DIR = path.join(__dirname, 'golden', 'cases');

/** Every case make_golden.py writes; a fixture that goes missing (or appears unlisted) fails the suite. */
const CASES = [
  'crowd_regions',
  'score_ties',
  'over_100_detections',
  'area_ranges',
  'class_without_gt',
  'image_without_predictions',
  'empty_predictions',
  'box_mode_coco',
  'box_mode_bdd',
  'category_names_2018',
  'perfect_predictions',
  'gt_area_coco',
  'gt_area_bdd',
  'iou_at_thresholds',
  'unevaluated_predictions',
  'bdd100k_sample_perturbed',
] as const;

const perClassValues = z.record(z.enum(BDD_CLASSES), z.number());
const ExpectedSchema = z.object({
  stats: z.record(z.enum(COCO_STAT_NAMES), z.number()),
  perClassAP: perClassValues,
  perClassAP50: perClassValues,
  perClassAP75: perClassValues,
  perClassAR100: perClassValues,
});
const common = { case: z.string(), description: z.string().min(1), mode: z.enum(['coco', 'bdd']), expected: ExpectedSchema };
const SyntheticCaseSchema = z.object({ ...common, gt: FrameListSchema, predictions: FrameListSchema });
const SampleCaseSchema = z.object({
  ...common,
  source: z.object({
    kind: z.literal('bdd100k-sample'),
    labelFiles: z.array(z.string().min(1)).min(1),
    seed: z.number().int(),
    generator: z.literal('mulberry32-perturb-v1'),
    rngCheck: z.array(z.number()).min(1),
    predictionDigest: z.object({ frames: z.number(), labels: z.number(), coordinateSum: z.number(), scoreSum: z.number() }),
  }),
});
const GoldenCaseSchema = z.union([SyntheticCaseSchema, SampleCaseSchema]);
type GoldenCase = z.infer<typeof GoldenCaseSchema>;
type SampleCase = z.infer<typeof SampleCaseSchema>;

/** Read and validate one fixture; a missing or malformed file is an error naming the way to regenerate it. */
function loadCase(name: string, dir = CASES_DIR): GoldenCase {
  const file = path.join(dir, `${name}.json`);
  if (!existsSync(file)) throw new Error(`golden case file missing: ${file} (regenerate with \`npm run golden\`)`);
  const parsed = GoldenCaseSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`golden case ${file} is malformed: ${z.prettifyError(parsed.error)}`);
  if (parsed.data.case !== name) throw new Error(`golden case ${file} names itself ${parsed.data.case}`);
  return parsed.data;
}

/**
 * The predictions of the sample case, rebuilt from the real GT: make_golden.py's perturb_sample, operation for
 * operation (same generator, same order of draws, same arithmetic), so the doubles are identical.
 */
function perturbSample(gt: readonly Frame[], seed: number): FrameInput[] {
  const rnd = mulberry32(seed);
  const predictions: FrameInput[] = [];
  gt.forEach((frame, frameIndex) => {
    if (rnd() < 0.1) return;
    const labels: { category: string; box2d: { x1: number; y1: number; x2: number; y2: number }; score: number }[] = [];
    for (const l of frame.labels) {
      const b = l.box2d;
      if (!b) continue;
      if (rnd() < 0.15) continue;
      const w = b.x2 - b.x1;
      const h = b.y2 - b.y1;
      const x1 = b.x1 + (rnd() - 0.5) * 0.2 * w;
      const y1 = b.y1 + (rnd() - 0.5) * 0.2 * h;
      const x2 = b.x2 + (rnd() - 0.5) * 0.2 * w;
      const y2 = b.y2 + (rnd() - 0.5) * 0.2 * h;
      const score = Math.floor(rnd() * 20) / 20;
      labels.push({ category: l.category, box2d: { x1, y1, x2: Math.max(x1, x2), y2: Math.max(y1, y2) }, score });
      if (rnd() < 0.1)
        labels.push({
          category: l.category,
          box2d: { x1: x1 + 2, y1: y1 + 2, x2: Math.max(x1, x2) + 2, y2: Math.max(y1, y2) + 2 },
          score: Math.floor(rnd() * 20) / 20,
        });
    }
    const falsePositives = Math.floor(rnd() * 4);
    for (let i = 0; i < falsePositives; i++) {
      const category = BDD_CLASSES[Math.floor(rnd() * 10)]!;
      const x1 = rnd() * 1200;
      const y1 = rnd() * 680;
      const w = 2 + rnd() * 150;
      const h = 2 + rnd() * 100;
      labels.push({ category, box2d: { x1, y1, x2: x1 + w, y2: y1 + h }, score: Math.floor(rnd() * 20) / 20 });
    }
    predictions.push({ name: frame.name, labels: labels.map((l, i) => ({ id: `p${frameIndex}-${i}`, ...l })) });
  });
  return predictions;
}

function digestOf(predictions: readonly Frame[]) {
  let coordinateSum = 0;
  let scoreSum = 0;
  let labels = 0;
  for (const frame of predictions)
    for (const l of frame.labels) {
      const b = l.box2d!;
      coordinateSum += b.x1 + b.y1 + b.x2 + b.y2;
      scoreSum += l.score!;
      labels++;
    }
  return { frames: predictions.length, labels, coordinateSum, scoreSum };
}

/** GT and predictions of a case: stored in the fixture, or rebuilt from the shared sample. */
function framesOf(c: GoldenCase): { gt: Frame[]; predictions: Frame[] } {
  if ('gt' in c) return { gt: c.gt, predictions: c.predictions };
  const { source } = c as SampleCase;
  const rnd = mulberry32(source.seed);
  assert.deepEqual(
    source.rngCheck.map(() => rnd()),
    source.rngCheck,
    'mulberry32 in TypeScript and in make_golden.py disagree',
  );
  const gt = source.labelFiles.map((file) => readSampleFrame(file));
  const predictions = FrameListSchema.parse(perturbSample(gt, source.seed));
  assert.deepEqual(
    digestOf(predictions),
    source.predictionDigest,
    'rebuilt predictions differ from those make_golden.py evaluated (perturbSample out of step with perturb_sample?)',
  );
  return { gt, predictions };
}

function ourMetrics(c: GoldenCase): CocoMetrics {
  const { gt, predictions } = framesOf(c);
  return metricsOf(evaluate({ gt, predictions, options: { mode: c.mode }, now: new Date(0) }));
}

describe('golden fixtures from pycocotools', () => {
  test('the fixture directory holds exactly the listed cases', () => {
    const onDisk = readdirSync(CASES_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
    assert.deepEqual(onDisk, [...CASES].sort());
  });

  for (const name of CASES) {
    test(`${name} agrees with pycocotools within ${TOLERANCE}`, (t) => {
      const c = loadCase(name);
      const { maxDiff, maxDiffAt } = assertMetricsAgree(ourMetrics(c), c.expected, name);
      t.diagnostic(`max |ours - pycocotools|: ${maxDiff}${maxDiffAt ? ` (${maxDiffAt})` : ''}`);
    });
  }
});

describe('the golden cases cover what they claim', () => {
  const synthetic = (name: string) => {
    const c = loadCase(name);
    assert.ok('gt' in c, `${name} stores its frames`);
    return c as z.infer<typeof SyntheticCaseSchema>;
  };
  const categories = (frames: readonly Frame[]) => new Set(frames.flatMap((f) => f.labels.map((l) => l.category)));
  const gtArea = (mode: string, l: Frame['labels'][number]) => {
    const extra = mode === 'bdd' ? 1 : 0;
    const b = l.box2d!;
    return (b.x2 - b.x1 + extra) * (b.y2 - b.y1 + extra);
  };

  test('crowd_regions has other vehicle, trailer, other person and crowd=true GT', () => {
    const c = synthetic('crowd_regions');
    for (const category of ['other vehicle', 'trailer', 'other person']) assert.ok(categories(c.gt).has(category), category);
    assert.ok(c.gt.some((f) => f.labels.some((l) => l.attributes?.['crowd'] === true)));
  });

  test('score_ties has equal scores within an image and across images', () => {
    const c = synthetic('score_ties');
    const scoresPerFrame = c.predictions.map((f) => f.labels.map((l) => l.score));
    assert.ok(
      scoresPerFrame.some((s) => new Set(s).size < s.length),
      'a tie inside one image',
    );
    const shared = scoresPerFrame[0]!.filter((s) => scoresPerFrame.slice(1).some((other) => other.includes(s)));
    assert.ok(shared.length > 0, 'a tie across images');
  });

  test('over_100_detections has more than 100 detections of one class in one image', () => {
    const c = synthetic('over_100_detections');
    const most = Math.max(
      ...c.predictions.flatMap((f) => [...categories([f])].map((k) => f.labels.filter((l) => l.category === k).length)),
    );
    assert.ok(most > 100, `most detections of one class in one image: ${most}`);
  });

  test('area_ranges has GT below, at and above both borders', () => {
    const c = synthetic('area_ranges');
    const areas = c.gt.flatMap((f) => f.labels.map((l) => gtArea(c.mode, l)));
    for (const border of [32 ** 2, 96 ** 2]) {
      assert.ok(areas.includes(border), `an area of exactly ${border}`);
      assert.ok(
        areas.some((a) => a < border && a > border - 2),
        `an area just under ${border}`,
      );
      assert.ok(
        areas.some((a) => a > border && a < border + 2),
        `an area just over ${border}`,
      );
    }
  });

  test('class_without_gt: predicted classes without GT give -1, a class with GT and no prediction 0', () => {
    const c = synthetic('class_without_gt');
    assert.equal(c.expected.perClassAP.bus, -1);
    assert.equal(c.expected.perClassAP.train, -1);
    assert.equal(c.expected.perClassAP.bicycle, 0);
    assert.ok(categories(c.predictions).has('bus') && !categories(c.gt).has('bus'));
  });

  test('image_without_predictions and empty_predictions leave GT without prediction', () => {
    const c = synthetic('image_without_predictions');
    const predicted = new Set(c.predictions.map((f) => path.basename(f.name)));
    assert.ok(c.gt.some((f) => !predicted.has(f.name)));
    assert.equal(synthetic('empty_predictions').predictions.length, 0);
  });

  test('box_mode_coco and box_mode_bdd: the same frames, different numbers', () => {
    const coco = synthetic('box_mode_coco');
    const bdd = synthetic('box_mode_bdd');
    assert.deepEqual([coco.mode, bdd.mode], ['coco', 'bdd']);
    assert.deepEqual(coco.gt, bdd.gt);
    assert.deepEqual(coco.predictions, bdd.predictions);
    assert.ok(compareMetrics(coco.expected, bdd.expected, 1e-3).mismatches.length > 0);
  });

  test('gt_area_coco uses the label area, gt_area_bdd does not', () => {
    const coco = synthetic('gt_area_coco');
    const bdd = synthetic('gt_area_bdd');
    assert.ok(coco.gt.some((f) => f.labels.some((l) => l.area !== undefined && l.area !== gtArea('coco', l))));
    assert.deepEqual(coco.gt, bdd.gt);
    assert.ok(compareMetrics(coco.expected, bdd.expected, 1e-3).mismatches.length > 0);
  });

  test('category_names_2018 has 2018 names in GT', () => {
    const names = categories(synthetic('category_names_2018').gt);
    for (const category of ['person', 'bike', 'motor']) assert.ok(names.has(category), category);
  });

  test('perfect_predictions: pycocotools gives 1 (to rounding) wherever a value is defined', () => {
    const { expected } = synthetic('perfect_predictions');
    const values = [...Object.values(expected.stats), ...PER_CLASS_KEYS.flatMap((k) => Object.values(expected[k]))];
    assert.ok(
      values.every((v) => v === -1 || Math.abs(v - 1) < 1e-12),
      JSON.stringify(expected.stats),
    );
    for (const stat of ['AP', 'APs', 'APm', 'APl'] as const) assert.ok(Math.abs(expected.stats[stat] - 1) < 1e-12, stat);
  });
});

describe('the comparison can fail', () => {
  const reference = (): CocoMetrics => {
    const c = loadCase('crowd_regions');
    return structuredClone(c.expected) as CocoMetrics;
  };

  test('identical metrics agree', () => {
    const e = reference();
    const comparison = assertMetricsAgree(reference(), e, 'self');
    assert.equal(comparison.maxDiff, 0);
  });

  test('a stat off by 2e-9 is reported with its name and both values', () => {
    const actual = reference();
    actual.stats.APm! += 2e-9;
    const comparison = compareMetrics(actual, reference());
    assert.deepEqual(
      comparison.mismatches.map((m) => m.path),
      ['stats.APm'],
    );
    assert.throws(() => assertMetricsAgree(actual, reference(), 'case x'), /case x: stats\.APm is .* pycocotools says /);
  });

  test('a difference within the tolerance passes, and the largest difference is reported', () => {
    const actual = reference();
    actual.perClassAP75.car! += 5e-10;
    const comparison = assertMetricsAgree(actual, reference(), 'small');
    assert.ok(Math.abs(comparison.maxDiff - 5e-10) < 1e-15);
    assert.equal(comparison.maxDiffAt, 'perClassAP75.car');
  });

  test('-1 against 0, NaN and missing values are mismatches', () => {
    const expected = reference();
    expected.perClassAP.bus = -1;
    const actual = structuredClone(expected);
    actual.perClassAP.bus = 0;
    actual.perClassAR100['traffic sign'] = Number.NaN;
    delete actual.stats.ARl;
    delete (actual as Partial<CocoMetrics>).perClassAP50;
    const comparison = compareMetrics(actual, expected);
    const paths = comparison.mismatches.map((m) => m.path);
    assert.ok(paths.includes('stats.ARl'));
    assert.ok(paths.includes('perClassAP.bus'));
    assert.ok(paths.includes('perClassAR100.traffic sign'));
    assert.equal(paths.filter((p) => p.startsWith('perClassAP50.')).length, BDD_CLASSES.length);
    assert.match(describeMismatches(comparison, 'c'), /^c: stats\.ARl is undefined, pycocotools says /);
  });

  test('our evaluator on a wrong mode is caught by the comparison', () => {
    const c = loadCase('box_mode_bdd');
    assert.ok('gt' in c);
    const wrong = metricsOf(evaluate({ gt: c.gt, predictions: c.predictions, options: { mode: 'coco' }, now: new Date(0) }));
    assert.throws(() => assertMetricsAgree(wrong, c.expected, 'box_mode_bdd evaluated in coco mode'));
  });

  test('the fixture loader rejects a missing case file', () => {
    assert.throws(() => loadCase('no_such_case'), /golden case file missing: .*no_such_case\.json/);
  });

  test('the fixture loader rejects a malformed case and a case filed under another name', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'autolabel-golden-'));
    try {
      const { expected: _dropped, ...withoutExpected } = loadCase('score_ties');
      writeFileSync(path.join(dir, 'score_ties.json'), JSON.stringify(withoutExpected));
      assert.throws(() => loadCase('score_ties', dir), /golden case .*score_ties\.json is malformed/);
      writeFileSync(path.join(dir, 'renamed.json'), JSON.stringify(loadCase('score_ties')));
      assert.throws(() => loadCase('renamed', dir), /names itself score_ties/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
