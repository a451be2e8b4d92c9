/** An axis-aligned box with a score and a class index: the unit the decoder, NMS and view merging work on. */
export interface ScoredBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  classIndex: number;
}

type Rect = Pick<ScoredBox, 'x1' | 'y1' | 'x2' | 'y2'>;

export function area(b: Rect): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

export function intersection(a: Rect, b: Rect): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Intersection over union (coco convention: w = x2 - x1); 0 for two empty boxes. */
export function iou(a: Rect, b: Rect): number {
  const inter = intersection(a, b);
  if (inter === 0) return 0;
  return inter / (area(a) + area(b) - inter);
}

/**
 * Deterministic order: score descending, then class, then coordinates, so that equal scores never depend on the
 * order views or rows were produced in.
 */
export function compareBoxes(a: ScoredBox, b: ScoredBox): number {
  return b.score - a.score || a.classIndex - b.classIndex || a.x1 - b.x1 || a.y1 - b.y1 || a.x2 - b.x2 || a.y2 - b.y2;
}

/**
 * Greedy per-class non-maximum suppression: in score order, a box is kept unless a kept box of the same class
 * overlaps it with IoU > iouThreshold. Returns the kept boxes, best first. The input is not modified.
 */
export function nms<T extends ScoredBox>(boxes: readonly T[], iouThreshold: number): T[] {
  const sorted = [...boxes].sort(compareBoxes);
  const keptByClass = new Map<number, T[]>();
  const kept: T[] = [];
  for (const box of sorted) {
    let same = keptByClass.get(box.classIndex);
    if (!same) keptByClass.set(box.classIndex, (same = []));
    if (same.some((k) => iou(k, box) > iouThreshold)) continue;
    same.push(box);
    kept.push(box);
  }
  return kept;
}

/**
 * Weighted box fusion (Solovyev et al.), per class: in score order, a box that overlaps a cluster's fused box with
 * IoU > iouThreshold joins it; the fused box is the score-weighted mean of its members, its score the best member's
 * (views see different parts of the frame, so the "seen by fewer views" penalty of the paper does not apply).
 */
export function weightedBoxFusion<T extends ScoredBox>(boxes: readonly T[], iouThreshold: number): T[] {
  const sorted = [...boxes].sort(compareBoxes);
  type Cluster = { fused: T; members: T[] };
  const clusters: Cluster[] = [];
  const byClass = new Map<number, Cluster[]>();
  for (const box of sorted) {
    let list = byClass.get(box.classIndex);
    if (!list) byClass.set(box.classIndex, (list = []));
    let best: Cluster | undefined;
    let bestIou = iouThreshold;
    for (const cluster of list) {
      const overlap = iou(cluster.fused, box);
      if (overlap > bestIou) {
        bestIou = overlap;
        best = cluster;
      }
    }
    if (!best) {
      const cluster: Cluster = { fused: { ...box }, members: [box] };
      list.push(cluster);
      clusters.push(cluster);
      continue;
    }
    best.members.push(box);
    let sw = 0;
    let x1 = 0;
    let y1 = 0;
    let x2 = 0;
    let y2 = 0;
    for (const m of best.members) {
      sw += m.score;
      x1 += m.x1 * m.score;
      y1 += m.y1 * m.score;
      x2 += m.x2 * m.score;
      y2 += m.y2 * m.score;
    }
    Object.assign(best.fused, { x1: x1 / sw, y1: y1 / sw, x2: x2 / sw, y2: y2 / sw });
  }
  return clusters.map((c) => c.fused).sort(compareBoxes);
}
