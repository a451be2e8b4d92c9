import type { BddClass } from './categories';

/**
 * Open-vocabulary object names (Azure AI Vision: `car`, `taxi`, `Land vehicle`, `person`, ...) to BDD classes.
 * Pure and exact: names are compared case-insensitively after trimming and folding `_`, `-` and runs of spaces to
 * one space, never by substring (`Vehicle registration plate` is not a car).
 *
 * A name is looked up in three tables:
 * - SPECIFIC: the name says which BDD class it is (`taxi` -> car, `woman` -> pedestrian).
 * - GENERIC: a catch-all parent (`Land vehicle`, `Motor vehicle`, `Vehicle`). On a road most of what it covers is
 *   a car, so it maps to car, but only when no name in the chain is specific: `taxi` < `car` < `Land vehicle`
 *   is a car because of `taxi`, `minivan` (unknown) < `Land vehicle` is a car because of the fallback.
 * - STOP: the name is something BDD does not label (`boat`, `tractor`, `cycle` - the parent of both bicycle and
 *   motorcycle), so its parents must not be consulted: `tractor` < `Land vehicle` is not a car.
 *
 * The chain is walked from the leaf to the root: the first SPECIFIC name wins; a STOP name ends the walk with
 * nothing; when the walk ends without a specific name, the first GENERIC name seen gives car.
 */

const SPECIFIC: Readonly<Record<BddClass, readonly string[]>> = {
  car: [
    'car',
    'automobile',
    'taxi',
    'cab',
    'sedan',
    'suv',
    'sport utility vehicle',
    'van',
    'minivan',
    'jeep',
    'station wagon',
    'hatchback',
    'coupe',
    'convertible',
    'limousine',
    'police car',
    'sports car',
    // BDD100K draws pickups as `car` (truck is reserved for goods vehicles: box trucks, semis, dump trucks).
    'pickup',
    'pickup truck',
  ],
  pedestrian: ['person', 'pedestrian', 'man', 'woman', 'child', 'kid', 'boy', 'girl', 'human', 'adult', 'toddler'],
  rider: ['rider', 'cyclist', 'bicyclist', 'motorcyclist', 'biker'],
  bicycle: ['bicycle', 'bike', 'mountain bike', 'road bike'],
  // `scooter` in a driving scene is almost always a motor scooter; a kick scooter is a STOP name.
  motorcycle: ['motorcycle', 'motorbike', 'motor', 'moped', 'scooter', 'motor scooter', 'dirt bike'],
  bus: ['bus', 'school bus', 'minibus', 'coach', 'double decker bus', 'trolleybus'],
  truck: [
    'truck',
    'lorry',
    'semi',
    'semi truck',
    'tractor trailer',
    'box truck',
    'delivery truck',
    'dump truck',
    'garbage truck',
    'fire truck',
    'fire engine',
    'tow truck',
    'tanker truck',
    'cement truck',
  ],
  train: ['train', 'tram', 'streetcar', 'light rail', 'locomotive', 'railcar', 'subway train'],
  'traffic light': ['traffic light', 'traffic lights', 'traffic signal', 'stoplight', 'stop light'],
  'traffic sign': ['traffic sign', 'stop sign', 'street sign', 'road sign', 'sign', 'yield sign', 'speed limit sign'],
};

/** Catch-all vehicle parents: car, when nothing more specific is known (see above). */
const GENERIC_CAR: ReadonlySet<string> = new Set(['land vehicle', 'motor vehicle', 'vehicle', 'wheeled vehicle']);

/** Names whose subtree has no BDD class: the walk stops here instead of falling back to a generic parent. */
const STOP: ReadonlySet<string> = new Set([
  'cycle',
  'two wheeler',
  'unicycle',
  'tricycle',
  'kick scooter',
  'skateboard',
  'wheelchair',
  'stroller',
  'baby carriage',
  'cart',
  'shopping cart',
  'golf cart',
  'tractor',
  'forklift',
  'trailer',
  'caravan trailer',
  'boat',
  'ship',
  'watercraft',
  'aircraft',
  'airplane',
  'helicopter',
  'billboard',
  'animal',
]);

const SPECIFIC_BY_NAME: ReadonlyMap<string, BddClass> = new Map(
  (Object.entries(SPECIFIC) as [BddClass, readonly string[]][]).flatMap(([category, names]) =>
    names.map((name) => [name, category] as const),
  ),
);

export function normalizeObjectName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ');
}

export interface OpenVocabularyMatch {
  category: BddClass;
  /** The name that decided, as given (the leaf, a parent, or a generic parent). */
  matched: string;
  /** Its position in the chain: 0 for the leaf, 1 for its parent, ... */
  depth: number;
  /** True when only a generic parent (`Land vehicle`) gave the class. */
  generic: boolean;
}

/**
 * Map a name and its parents (nearest first: `taxi`, then [`car`, `Land vehicle`, `Vehicle`]) to a BDD class.
 * Undefined when nothing in the chain is known or a STOP name comes first.
 */
export function mapOpenVocabulary(name: string, parents: readonly string[] = []): OpenVocabularyMatch | undefined {
  const chain = [name, ...parents];
  let fallback: OpenVocabularyMatch | undefined;
  for (const [depth, raw] of chain.entries()) {
    const key = normalizeObjectName(raw);
    const category = SPECIFIC_BY_NAME.get(key);
    if (category) return { category, matched: raw, depth, generic: false };
    if (STOP.has(key)) return undefined;
    if (!fallback && GENERIC_CAR.has(key)) fallback = { category: 'car', matched: raw, depth, generic: true };
  }
  return fallback;
}

/** The BDD class of a name (and parents), or undefined. */
export function openVocabularyClass(name: string, parents: readonly string[] = []): BddClass | undefined {
  return mapOpenVocabulary(name, parents)?.category;
}
