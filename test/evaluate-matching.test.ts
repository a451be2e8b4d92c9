/**
 * The evaluator's fast paths against the plain algorithms they replace, on random data built to hit their edge cases
 * (equal IoUs, equal scores, crowd regions, area ranges, maxDet cuts): the sparse IoU candidates against the dense
 * greedy matching, the merge order against a comparator sort, accumulation on true positives only against COCOeval's
 * full recall/precision arrays. Equality is exact. test/evaluate-golden and evaluate-parity check the whole against
 * pycocotools itself.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  accumulate,
  FALSE_POSITIVE,
  IGNORED,
  matchClass,
  precisionIndex,
  recallIndex,
  TRUE_POSITIVE,
  type ClassMatches,
} from '../src/core/evaluation/coco-eval';
import { AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, PRECISION_EPS, RECALL_THRESHOLDS } from '../src/core/evaluation/coco-params';
import type { EvalBox, EvalImage } from '../src/core/evaluation/dataset';
import { collectImageClass, IouCandidates, matchAtThreshold, matchingOrder } from '../src/core/evaluation/matching';
import { descendingScoreOrder } from '../src/core/evaluation/score-order';
import { sweepThresholds } from '../src/core/evaluation/calibration';
import type { Label } from '../src/core/labels/schema';
import { seededRandom } from '../bench/synthetic';

const CLASSES = 3;
const A = AREA_RANGES.length;
const T = IOU_THRESHOLDS.length;
const R = RECALL_THRESHOLDS.length;
const M = MAX_DETS.length;

/** Random boxes of CLASSES classes in a few images: clustered, so IoUs are high, equal (duplicates) and crowded. */
function randomImages(random: () => number, count: number, maxDetections: number): EvalImage[] {
  const label = {} as Label;
  const box = (classIndex: number, crowd: boolean, near?: EvalBox): EvalBox => {
    const copy = near && random() < 0.2;
    const jitter = (v: number) => v + (random() < 0.5 ? 0 : (random() - 0.5) * 8);
    const x = copy ? near.x : near ? jitter(near.x) : Math.floor(random() * 300);
    const y = copy ? near.y : near ? jitter(near.y) : Math.floor(random() * 200);
    const w = copy ? near.w : near ? Math.max(1, jitter(near.w)) : 4 + Math.floor(random() * 150);
    const h = copy ? near.h : near ? Math.max(1, jitter(near.h)) : 4 + Math.floor(random() * 120);
    const score = Math.round(random() * 10) / 10;
    return { x, y, w, h, area: w * h, crowd, classIndex, score, label };
  };
  return Array.from({ length: count }, (_, i): EvalImage => {
    const gt: EvalBox[] = [];
    const dt: EvalBox[] = [];
    const gtCount = Math.floor(random() * 8);
    for (let g = 0; g < gtCount; g++) gt.push(box(Math.floor(random() * CLASSES), random() < 0.1));
    const dtCount = Math.floor(random() * maxDetections);
    for (let d = 0; d < dtCount; d++) {
      const near = gt.length && random() < 0.7 ? gt[Math.floor(random() * gt.length)] : undefined;
      dt.push(box(near?.classIndex ?? Math.floor(random() * CLASSES), false, near));
    }
    const byClass = (boxes: EvalBox[]) => Array.from({ length: CLASSES }, (_, k) => boxes.filter((b) => b.classIndex === k));
    return { name: `i${i}`, gt, dt, gtByClass: byClass(gt), dtByClass: byClass(dt), hasPrediction: dt.length > 0 };
  });
}

/** matchClass as it was: the dense IoU matrix, matchAtThreshold for every area range and threshold. */
function denseMatchClass(images: readonly EvalImage[], classIndex: number): ClassMatches {
  const slices = images.map((image) => collectImageClass(image, classIndex, 100)).filter((s) => s !== undefined);
  const count = slices.reduce((n, s) => n + s.dt.length, 0);
  const result: ClassMatches = {
    count,
    scores: new Float64Array(count),
    detectionsPerImage: [],
    outcomes: new Uint8Array(A * T * count),
    nonIgnoredGt: new Int32Array(A),
  };
  let offset = 0;
  for (const boxes of slices) {
    const D = boxes.dt.length;
    const G = boxes.gt.length;
    if (D > 0) result.detectionsPerImage.push(D);
    boxes.dt.forEach((d, i) => (result.scores[offset + i] = d.score));
    for (let a = 0; a < A; a++) {
      const { min, max } = AREA_RANGES[a]!;
      const ignored = Uint8Array.from(boxes.gt, (g) => (g.crowd || g.area < min || g.area > max ? 1 : 0));
      result.nonIgnoredGt[a]! += ignored.filter((v) => !v).length;
      for (let t = 0; t < T; t++) {
        const matched = new Int32Array(D).fill(-1);
        if (G > 0) matchAtThreshold(boxes, ignored, matchingOrder(ignored), IOU_THRESHOLDS[t]!, matched);
        boxes.dt.forEach((d, i) => {
          const m = matched[i]!;
          result.outcomes[(a * T + t) * count + offset + i] =
            m >= 0 ? (ignored[m] ? IGNORED : TRUE_POSITIVE) : d.area < min || d.area > max ? IGNORED : FALSE_POSITIVE;
        });
      }
    }
    offset += D;
  }
  return result;
}

/** COCOeval.accumulate as numpy does it: full recall and precision arrays per cell, envelope, searchsorted. */
function fullAccumulate(perClass: readonly ClassMatches[]) {
  const K = perClass.length;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  perClass.forEach((c, k) => {
    if (!c.nonIgnoredGt.some((n) => n > 0)) return;
    const rank = c.detectionsPerImage.flatMap((n) => Array.from({ length: n }, (_, d) => d));
    const order = [...c.scores.keys()].sort((x, y) => c.scores[y]! - c.scores[x]! || x - y);
    MAX_DETS.forEach((maxDet, m) => {
      const kept = order.filter((j) => rank[j]! < maxDet);
      for (let a = 0; a < A; a++) {
        const npig = c.nonIgnoredGt[a]!;
        if (npig === 0) continue;
        for (let t = 0; t < T; t++) {
          const codes = kept.map((j) => c.outcomes[(a * T + t) * c.count + j]!).filter((code) => code !== IGNORED);
          let tp = 0;
          let fp = 0;
          const rc: number[] = [];
          const pr: number[] = [];
          for (const code of codes) {
            if (code === TRUE_POSITIVE) tp++;
            else fp++;
            rc.push(tp / npig);
            pr.push(tp / (fp + tp + PRECISION_EPS));
          }
          recall[recallIndex(K, t, k, a, m)] = rc.length ? rc[rc.length - 1]! : 0;
          for (let i = pr.length - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
          RECALL_THRESHOLDS.forEach((threshold, r) => {
            const idx = rc.findIndex((v) => v >= threshold);
            precision[precisionIndex(K, t, r, k, a, m)] = idx >= 0 ? pr[idx]! : 0;
          });
        }
      }
    });
  });
  return { classCount: K, precision, recall };
}

describe('sparse matching', () => {
  test('IouCandidates.match takes the GT matchAtThreshold takes, at every threshold and area range', () => {
    const random = seededRandom(31);
    const candidates = new IouCandidates();
    let pairs = 0;
    for (const image of randomImages(random, 400, 40)) {
      for (let k = 0; k < CLASSES; k++) {
        const boxes = collectImageClass(image, k, 100);
        if (!boxes || !boxes.gt.length || !boxes.dt.length) continue;
        const G = boxes.gt.length;
        candidates.fill(boxes.dt, boxes.gt, IOU_THRESHOLDS[0]!);
        pairs += candidates.activeCount;
        const crowd = Uint8Array.from(boxes.gt, (g) => (g.crowd ? 1 : 0));
        for (const { min, max } of AREA_RANGES) {
          const ignored = Uint8Array.from(boxes.gt, (g) => (g.crowd || g.area < min || g.area > max ? 1 : 0));
          for (const threshold of IOU_THRESHOLDS) {
            const dense: Int32Array = new Int32Array(boxes.dt.length);
            matchAtThreshold(boxes, ignored, matchingOrder(ignored), threshold, dense);
            const sparse = new Int32Array(boxes.dt.length);
            candidates.match(G, crowd, ignored, threshold, sparse);
            const expanded = new Int32Array(boxes.dt.length).fill(-1);
            for (let i = 0; i < candidates.activeCount; i++) expanded[candidates.active[i]!] = sparse[i]!;
            assert.deepEqual(expanded, dense);
          }
        }
      }
    }
    assert.ok(pairs > 1000, `only ${pairs} detections with candidates`);
  });

  test('matchClass equals the dense matching, outcome for outcome, with more than 100 detections per image', () => {
    const random = seededRandom(32);
    const images = randomImages(random, 150, 260);
    for (let k = 0; k < CLASSES; k++) assert.deepStrictEqual(matchClass(images, k), denseMatchClass(images, k));
  });
});

describe('score order and accumulation', () => {
  test('descendingScoreOrder is the stable descending sort, for runs, ties and anything else', () => {
    const random = seededRandom(33);
    const cases: number[][] = [[], [0.5], [1, 1, 1], [3, 2, 1], [1, 2, 3], [0, -0, 0]];
    for (let i = 0; i < 200; i++) {
      const n = Math.floor(random() * 300);
      const levels = 1 + Math.floor(random() * 12);
      cases.push(Array.from({ length: n }, () => Math.floor(random() * levels) / levels));
      // Runs already in order, as the evaluator's data comes (each image's detections by score).
      const runs: number[] = [];
      while (runs.length < n) runs.push(...Array.from({ length: 1 + Math.floor(random() * 9) }, () => random()).sort((a, b) => b - a));
      cases.push(runs);
    }
    for (const scores of cases) {
      const expected = [...scores.keys()].sort((x, y) => scores[y]! - scores[x]! || x - y);
      assert.deepEqual([...descendingScoreOrder(Float64Array.from(scores))], expected, JSON.stringify(scores));
      assert.deepEqual([...descendingScoreOrder(scores)], expected);
    }
  });

  test('accumulate on true positives only gives COCOeval’s recall and precision arrays exactly', () => {
    const random = seededRandom(34);
    const images = randomImages(random, 120, 180);
    const matched = Array.from({ length: CLASSES }, (_, k) => matchClass(images, k));
    // And codes with no geometry behind them: any mix of outcomes, long runs of false positives, tied scores.
    const noise: ClassMatches[] = Array.from({ length: 4 }, (_, k) => {
      const detectionsPerImage = Array.from({ length: 30 }, () => 1 + Math.floor(random() * 100));
      const count = detectionsPerImage.reduce((n, d) => n + d, 0);
      const scores = Float64Array.from({ length: count }, () => Math.floor(random() * 7) / 7);
      const codes = [FALSE_POSITIVE, TRUE_POSITIVE, IGNORED];
      const outcomes = Uint8Array.from({ length: A * T * count }, () => codes[random() < 0.6 ? 0 : random() < 0.7 ? 1 : 2]!);
      const nonIgnoredGt = Int32Array.from({ length: A }, (_, a) => (k === 3 && a === 2 ? 0 : 1 + Math.floor(random() * count)));
      return { count, scores, detectionsPerImage, outcomes, nonIgnoredGt };
    });
    const perClass = [...matched, ...noise];
    const fast = accumulate(perClass);
    const full = fullAccumulate(perClass);
    assert.equal(fast.classCount, full.classCount);
    assert.deepEqual(fast.recall, full.recall);
    assert.deepEqual(fast.precision, full.precision);
    assert.ok(
      fast.precision.some((p) => p > 0 && p < 1),
      'the cases have partial precision',
    );
  });

  test('the calibration sweep: one point per distinct score, highest first, counts in the stable order', () => {
    const points = sweepThresholds({ scores: [0.5, 0.9, 0.5, 0.7, 0.9, 0.1], truePositive: [1, 0, 0, 1, 1, 0], gt: 4 });
    assert.deepEqual(points, [
      { threshold: 0.9, tp: 1, fp: 1, fn: 3 },
      { threshold: 0.7, tp: 2, fp: 1, fn: 2 },
      { threshold: 0.5, tp: 3, fp: 2, fn: 1 },
      { threshold: 0.1, tp: 3, fp: 3, fn: 1 },
    ]);
  });
});
