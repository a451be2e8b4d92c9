/**
 * A simulated detector for benchmarks and the demo: it perturbs ground-truth frames deterministically
 * (drops boxes, jitters them, adds false positives, draws scores, sometimes answers scene attributes wrongly).
 * Its output is labelled synthetic wherever it is used; it is never passed off as a model's predictions.
 */
import type { LabelProvenance } from '../src/core/pipeline/provenance';
import type { Frame, Label } from '../src/core/labels/schema';
import { ATTRIBUTE_VOCABULARIES, ATTRIBUTE_NAMES } from '../src/core/taxonomy/attributes';

/** mulberry32: small, fast, deterministic. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FALSE_POSITIVE_CATEGORIES = ['car', 'pedestrian', 'traffic sign', 'traffic light', 'truck'];

export interface SimulationOptions {
  /**
   * Extra low-score boxes per image (scores below 0.3), half of them loose duplicates of ground-truth boxes: what a
   * real detector returns at a low score threshold, where most of COCO evaluation's work is. Drawn after everything
   * else, so 0 (the default) gives the same predictions, draw for draw, as before the option existed.
   */
  lowScoreBoxes?: number;
}

export function simulatePredictions(gt: Frame, random: () => number, name = gt.name, options: SimulationOptions = {}): Frame {
  const labels: Label[] = [];
  for (const label of gt.labels) {
    if (!label.box2d || random() < 0.18) continue;
    const { x1, y1, x2, y2 } = label.box2d;
    const w = x2 - x1;
    const h = y2 - y1;
    const jitter = (size: number) => (random() - 0.5) * size * 0.25;
    const nx1 = Math.max(0, x1 + jitter(w));
    const ny1 = Math.max(0, y1 + jitter(h));
    labels.push({
      id: `p${labels.length + 1}`,
      category: label.category,
      box2d: { x1: nx1, y1: ny1, x2: Math.max(nx1, x2 + jitter(w)), y2: Math.max(ny1, y2 + jitter(h)) },
      score: Math.round((0.35 + random() * 0.65) * 100) / 100,
    });
  }
  const falsePositives = Math.floor(random() * 5);
  for (let i = 0; i < falsePositives; i++) {
    const x1 = random() * 1200;
    const y1 = random() * 680;
    const size = 8 + random() * 150;
    labels.push({
      id: `p${labels.length + 1}`,
      category: FALSE_POSITIVE_CATEGORIES[Math.floor(random() * FALSE_POSITIVE_CATEGORIES.length)]!,
      box2d: { x1, y1, x2: Math.min(1280, x1 + size), y2: Math.min(720, y1 + size * 0.8) },
      score: Math.round(random() * 60) / 100,
    });
  }
  const attributes: Record<string, string> = {};
  for (const attribute of ATTRIBUTE_NAMES) {
    const truth = gt.attributes?.[attribute];
    const vocabulary = ATTRIBUTE_VOCABULARIES[attribute].filter((v) => v !== 'undefined');
    attributes[attribute] = truth && random() < 0.8 ? truth : vocabulary[Math.floor(random() * vocabulary.length)]!;
  }
  labels.push(...lowScoreTail(gt, random, options.lowScoreBoxes ?? 0, labels.length));
  return { name, attributes, labels };
}

function lowScoreTail(gt: Frame, random: () => number, count: number, idsFrom: number): Label[] {
  const boxed = gt.labels.filter((label) => label.box2d);
  const tail: Label[] = [];
  for (let i = 0; i < count; i++) {
    const score = Math.round((0.01 + random() * 0.28) * 1000) / 1000;
    const id = `p${idsFrom + tail.length + 1}`;
    const source = boxed.length && random() < 0.5 ? boxed[Math.floor(random() * boxed.length)] : undefined;
    if (source?.box2d) {
      const { x1, y1, x2, y2 } = source.box2d;
      const shift = (size: number) => (random() - 0.5) * size * 0.6;
      const nx1 = Math.max(0, x1 + shift(x2 - x1));
      const ny1 = Math.max(0, y1 + shift(y2 - y1));
      const box2d = { x1: nx1, y1: ny1, x2: Math.max(nx1, x2 + shift(x2 - x1)), y2: Math.max(ny1, y2 + shift(y2 - y1)) };
      tail.push({ id, category: source.category, box2d, score });
    } else {
      const x1 = random() * 1200;
      const y1 = random() * 680;
      const size = 6 + random() * 200;
      const category = FALSE_POSITIVE_CATEGORIES[Math.floor(random() * FALSE_POSITIVE_CATEGORIES.length)]!;
      tail.push({ id, category, box2d: { x1, y1, x2: Math.min(1280, x1 + size), y2: Math.min(720, y1 + size * 0.8) }, score });
    }
  }
  return tail;
}

/**
 * Provenance shaped like the labeling pipeline's (src/core/pipeline/provenance.ts), naming the simulated detector and
 * scene model, so that per-image files built from simulated predictions are the size and shape `autolabel label`
 * writes. `index` spaces the creation times one second apart.
 */
export function syntheticProvenance(index: number, boxes: number, random: () => number): LabelProvenance {
  const hex = Array.from({ length: 8 }, () =>
    Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0'),
  ).join('');
  return {
    schemaVersion: 1,
    pipelineVersion: 'synthetic',
    createdAt: new Date(Date.UTC(2026, 0, 1) + index * 1000).toISOString(),
    configHash: 'synthetic-config',
    image: { sha256: hex, width: 1280, height: 720, format: 'jpeg', bytes: 150_000 + Math.floor(random() * 200_000) },
    scene: {
      provider: 'synthetic',
      model: 'simulated-scene',
      raw: null,
      confidence: { weather: 0.6, timeofday: 0.9, scene: 0.7 },
      latencyMs: 3,
    },
    detector: { provider: 'synthetic', model: 'simulated-detector', latencyMs: 60, boxesBeforeThresholds: boxes },
    thresholds: { default: 0.01, perClass: {} },
    latencyMs: 70,
  };
}
