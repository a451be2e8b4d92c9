import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapOpenVocabulary, normalizeObjectName, openVocabularyClass } from '../src/core/taxonomy/open-vocabulary';

test('specific names map to their BDD class, case- and spacing-insensitively', () => {
  const table: [string, string][] = [
    ['car', 'car'],
    ['Taxi', 'car'],
    ['sedan', 'car'],
    ['SUV', 'car'],
    ['van', 'car'],
    ['Pickup truck', 'car'],
    ['person', 'pedestrian'],
    ['Man', 'pedestrian'],
    ['woman', 'pedestrian'],
    ['child', 'pedestrian'],
    ['pedestrian', 'pedestrian'],
    ['cyclist', 'rider'],
    ['motorcyclist', 'rider'],
    ['bicycle', 'bicycle'],
    ['bike', 'bicycle'],
    ['motorcycle', 'motorcycle'],
    ['Motorbike', 'motorcycle'],
    ['scooter', 'motorcycle'],
    ['bus', 'bus'],
    ['school_bus', 'bus'],
    ['truck', 'truck'],
    ['lorry', 'truck'],
    ['tractor-trailer', 'truck'],
    ['Fire  engine', 'truck'],
    ['train', 'train'],
    ['tram', 'train'],
    ['traffic light', 'traffic light'],
    ['Traffic signal', 'traffic light'],
    ['stop sign', 'traffic sign'],
    ['traffic sign', 'traffic sign'],
    ['street sign', 'traffic sign'],
    ['sign', 'traffic sign'],
  ];
  for (const [name, expected] of table) assert.equal(openVocabularyClass(name), expected, name);
  assert.equal(normalizeObjectName('  Tractor_-  Trailer '), 'tractor trailer');
});

test('a known leaf decides, with its own name and depth', () => {
  assert.deepEqual(mapOpenVocabulary('taxi', ['car', 'Land vehicle', 'Vehicle']), {
    category: 'car',
    matched: 'taxi',
    depth: 0,
    generic: false,
  });
});

test('an unknown leaf walks its parents to the first known name', () => {
  assert.deepEqual(mapOpenVocabulary('Crossover', ['car', 'Land vehicle']), { category: 'car', matched: 'car', depth: 1, generic: false });
  assert.deepEqual(mapOpenVocabulary('Skier', ['person']), { category: 'pedestrian', matched: 'person', depth: 1, generic: false });
  assert.equal(openVocabularyClass('Double-decker', ['bus', 'Land vehicle']), 'bus');
});

test("'Land vehicle' is car only when nothing more specific is known", () => {
  assert.deepEqual(mapOpenVocabulary('Land vehicle'), { category: 'car', matched: 'Land vehicle', depth: 0, generic: true });
  assert.deepEqual(mapOpenVocabulary('minivan-ish', ['Land vehicle', 'Vehicle']), {
    category: 'car',
    matched: 'Land vehicle',
    depth: 1,
    generic: true,
  });
  // A specific name further up beats a generic one nearer the leaf.
  assert.deepEqual(mapOpenVocabulary('Land vehicle', ['truck']), { category: 'truck', matched: 'truck', depth: 1, generic: false });
});

test('names BDD does not label stop the walk before a generic parent', () => {
  assert.equal(mapOpenVocabulary('tractor', ['Land vehicle', 'Vehicle']), undefined);
  assert.equal(mapOpenVocabulary('boat', ['Watercraft', 'Vehicle']), undefined);
  assert.equal(mapOpenVocabulary('tricycle', ['cycle', 'Land vehicle']), undefined);
});

test('unknown names and substrings of known ones are unmapped', () => {
  assert.equal(mapOpenVocabulary('dog', ['mammal', 'animal']), undefined);
  assert.equal(mapOpenVocabulary('Vehicle registration plate'), undefined);
  assert.equal(mapOpenVocabulary('Wheel'), undefined);
  assert.equal(mapOpenVocabulary('carpet'), undefined);
  assert.equal(mapOpenVocabulary(''), undefined);
});
