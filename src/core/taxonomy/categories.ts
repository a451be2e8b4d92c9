/** The 10 classes BDD100K evaluates, 2020 names, in the official order (category ids 1..10 in our COCO exports). */
export const BDD_CLASSES = [
  'pedestrian',
  'rider',
  'car',
  'truck',
  'bus',
  'train',
  'motorcycle',
  'bicycle',
  'traffic light',
  'traffic sign',
] as const;
export type BddClass = (typeof BDD_CLASSES)[number];

const BDD_CLASS_SET: ReadonlySet<string> = new Set(BDD_CLASSES);

/** 2018 release names and common spellings of the same classes. */
const RENAMES: Readonly<Record<string, BddClass>> = {
  person: 'pedestrian',
  bike: 'bicycle',
  motor: 'motorcycle',
  van: 'car',
  caravan: 'car',
};

/** Classes BDD does not evaluate but marks as crowd (ignore) regions of an evaluated class. */
const CROWD_REGIONS: Readonly<Record<string, BddClass>> = {
  'other person': 'pedestrian',
  'other vehicle': 'car',
  trailer: 'truck',
};

/** COCO-80 detector names that have a BDD counterpart; every other COCO class is dropped by detectors. */
export const COCO_TO_BDD: Readonly<Record<string, BddClass>> = {
  person: 'pedestrian',
  bicycle: 'bicycle',
  car: 'car',
  motorcycle: 'motorcycle',
  bus: 'bus',
  train: 'train',
  truck: 'truck',
  'traffic light': 'traffic light',
  'stop sign': 'traffic sign',
};

export type CategoryResolution =
  { kind: 'class'; category: BddClass } | { kind: 'crowd'; category: BddClass } | { kind: 'unknown'; raw: string };

const canonicalKey = (raw: string) =>
  raw
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, ' ');

/**
 * Resolve a label category to the evaluated taxonomy. `crowd` tells whether the label is flagged as a crowd
 * (attributes.crowd / COCO iscrowd); crowd labels and the BDD ignore classes become crowd regions.
 */
export function resolveCategory(raw: string, crowd = false): CategoryResolution {
  const resolved = resolveName(raw);
  if (crowd && resolved.kind === 'class') return { kind: 'crowd', category: resolved.category };
  return resolved;
}

// Label files repeat a handful of names hundreds of thousands of times: resolve each distinct spelling once.
const resolvedNames = new Map<string, CategoryResolution>();

function resolveName(raw: string): CategoryResolution {
  let resolved = resolvedNames.get(raw);
  if (!resolved) {
    resolved = resolveUncached(raw);
    if (resolvedNames.size < 10_000) resolvedNames.set(raw, resolved);
  }
  return resolved;
}

function resolveUncached(raw: string): CategoryResolution {
  const key = canonicalKey(raw);
  const regionOf = CROWD_REGIONS[key];
  if (regionOf) return { kind: 'crowd', category: regionOf };
  const category = BDD_CLASS_SET.has(key) ? (key as BddClass) : RENAMES[key];
  if (!category) return { kind: 'unknown', raw };
  return { kind: 'class', category };
}

export function isBddClass(name: string): name is BddClass {
  return BDD_CLASS_SET.has(name);
}

/** COCO category id used in our exports: 1-based position in BDD_CLASSES. */
export function bddCategoryId(category: BddClass): number {
  return BDD_CLASSES.indexOf(category) + 1;
}
