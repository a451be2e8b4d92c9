/**
 * A simulated detector for benchmarks and the demo: it perturbs ground-truth frames deterministically
 * (drops boxes, jitters them, adds false positives, draws scores, sometimes answers scene attributes wrongly).
 * Its output is labelled synthetic wherever it is used; it is never passed off as a model's predictions.
 */
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

export function simulatePredictions(gt: Frame, random: () => number, name = gt.name): Frame {
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
  return { name, attributes, labels };
}
