import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BDD_CLASSES, COCO_TO_BDD, bddCategoryId, resolveCategory } from '../src/core/taxonomy/categories';
import { ATTRIBUTE_VOCABULARIES, normalizeAttribute } from '../src/core/taxonomy/attributes';

test('the 10 evaluated classes in official order, 1-based COCO ids', () => {
  assert.deepEqual(
    [...BDD_CLASSES],
    ['pedestrian', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle', 'traffic light', 'traffic sign'],
  );
  assert.equal(bddCategoryId('pedestrian'), 1);
  assert.equal(bddCategoryId('traffic sign'), 10);
});

test('2018 names and spellings resolve to the 2020 classes', () => {
  assert.deepEqual(resolveCategory('person'), { kind: 'class', category: 'pedestrian' });
  assert.deepEqual(resolveCategory('bike'), { kind: 'class', category: 'bicycle' });
  assert.deepEqual(resolveCategory('motor'), { kind: 'class', category: 'motorcycle' });
  assert.deepEqual(resolveCategory('van'), { kind: 'class', category: 'car' });
  assert.deepEqual(resolveCategory('  Traffic_Light '), { kind: 'class', category: 'traffic light' });
});

test('ignored classes and crowd flags become crowd regions', () => {
  assert.deepEqual(resolveCategory('other person'), { kind: 'crowd', category: 'pedestrian' });
  assert.deepEqual(resolveCategory('other vehicle'), { kind: 'crowd', category: 'car' });
  assert.deepEqual(resolveCategory('trailer'), { kind: 'crowd', category: 'truck' });
  assert.deepEqual(resolveCategory('car', true), { kind: 'crowd', category: 'car' });
  // The flag must not leak into the cache: the same name without it is a plain class again.
  assert.deepEqual(resolveCategory('car'), { kind: 'class', category: 'car' });
});

test('unknown categories are reported as unknown with the raw text', () => {
  assert.deepEqual(resolveCategory('lane'), { kind: 'unknown', raw: 'lane' });
  assert.deepEqual(resolveCategory('drivable area'), { kind: 'unknown', raw: 'drivable area' });
});

test('COCO-80 detector names map onto BDD classes', () => {
  assert.equal(COCO_TO_BDD['person'], 'pedestrian');
  assert.equal(COCO_TO_BDD['stop sign'], 'traffic sign');
  assert.equal(COCO_TO_BDD['motorcycle'], 'motorcycle');
  assert.equal(COCO_TO_BDD['dog'], undefined);
  for (const target of Object.values(COCO_TO_BDD)) assert.ok(BDD_CLASSES.includes(target));
});

test('attribute synonyms normalise case- and whitespace-insensitively, keeping the raw answer', () => {
  const cases: [Parameters<typeof normalizeAttribute>[0], string, string][] = [
    ['weather', 'sunny', 'clear'],
    ['weather', '  Partly   Cloudy ', 'partly cloudy'],
    ['weather', 'RAIN', 'rainy'],
    ['timeofday', 'dusk', 'dawn/dusk'],
    ['timeofday', 'Dawn / Dusk', 'dawn/dusk'],
    ['timeofday', 'Night time', 'night'],
    ['scene', 'urban street', 'city street'],
    ['scene', 'Residential area.', 'residential'],
    ['scene', 'gas station', 'gas stations'],
    ['scene', 'freeway', 'highway'],
  ];
  for (const [name, raw, expected] of cases) {
    const normalized = normalizeAttribute(name, raw);
    assert.equal(normalized.value, expected, `${name}: ${raw}`);
    assert.equal(normalized.raw, raw);
    assert.equal(normalized.unrecognized, false);
  }
});

test('unknown or missing attribute values become undefined; unknown text is flagged', () => {
  assert.deepEqual(normalizeAttribute('weather', 'volcanic ash'), { value: 'undefined', raw: 'volcanic ash', unrecognized: true });
  assert.deepEqual(normalizeAttribute('scene', undefined), { value: 'undefined', raw: undefined, unrecognized: false });
  assert.deepEqual(normalizeAttribute('timeofday', 42), { value: 'undefined', raw: undefined, unrecognized: false });
  assert.equal(normalizeAttribute('timeofday', 'undefined').unrecognized, false);
});

test('every vocabulary value normalises to itself', () => {
  for (const [name, values] of Object.entries(ATTRIBUTE_VOCABULARIES)) {
    for (const value of values) assert.equal(normalizeAttribute(name as keyof typeof ATTRIBUTE_VOCABULARIES, value).value, value);
  }
});
