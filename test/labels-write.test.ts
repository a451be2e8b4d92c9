import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { framesToCocoInstances } from '../src/core/labels/coco';
import { loadLabels } from '../src/adapters/files/load-labels';
import type { Frame, Label } from '../src/core/labels/schema';
import { writeCocoExport, writeFileAtomic, writeScalabelFiles, writeScalabelList } from '../src/adapters/files/write-labels';
import { BDD_CLASSES, resolveCategory } from '../src/core/taxonomy/categories';
import { sampleLabelsDir, scenesDir } from './helpers/shared';

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'autolabel-write-'));
  tempDirs.push(dir);
  return dir;
}
after(() => Promise.all(tempDirs.map((dir) => fs.rm(dir, { recursive: true, force: true }))));

/** Every file under dir, relative, so leftovers (temp files) show up. */
async function listTree(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

const closeTo = (actual: number, expected: number) => Math.abs(actual - expected) < 1e-9;

function assertSameBox(actual: Label, expected: Label) {
  for (const key of ['x1', 'y1', 'x2', 'y2'] as const) {
    assert.ok(closeTo(actual.box2d![key], expected.box2d![key]), `${key}: ${actual.box2d![key]} vs ${expected.box2d![key]}`);
  }
}

let sample: Frame[];
let scenes: Frame[];
before(async () => {
  sample = (await loadLabels(sampleLabelsDir)).frames;
  scenes = (await loadLabels(path.join(scenesDir, 'labels'))).frames;
  assert.equal(sample.length, 60);
  assert.equal(scenes.length, 100);
});

describe('Scalabel writers', () => {
  test('per-image files read back identically, one pretty file per image stem', async () => {
    const dir = await tempDir();
    const written = await writeScalabelFiles(dir, sample);
    assert.equal(written.length, 60);
    assert.equal(written[0], path.join(dir, sample[0]!.name.replace(/\.jpg$/, '.json')));
    assert.deepEqual(await listTree(dir), sample.map((frame) => frame.name.replace(/\.jpg$/, '.json')).sort());
    const text = await fs.readFile(written[0]!, 'utf8');
    assert.match(text, /^\{\n {2}"/, '2-space indent');

    const loaded = await loadLabels(dir);
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.formats, { 'scalabel-frame': 60 });
    assert.deepEqual(loaded.frames, sample);
  });

  test('two frames with the same file stem throw before writing anything', async () => {
    const dir = await tempDir();
    const clash = [
      { name: 'a.jpg', labels: [] },
      { name: 'b.jpg', labels: [] },
      { name: 'a.png', labels: [] },
    ];
    await assert.rejects(writeScalabelFiles(dir, clash), /"a\.jpg" and "a\.png" would both be written to a\.json/);
    assert.deepEqual(await listTree(dir), []);
  });

  test('a list file reads back identically', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'labels', 'all.json');
    await writeScalabelList(file, scenes);
    const loaded = await loadLabels(file);
    assert.deepEqual(loaded.formats, { 'scalabel-list': 1 });
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.frames, scenes);
  });
});

describe('COCO export', () => {
  test('ground truth: BDD categories 1..10, images 1..N, bbox/area/iscrowd, and a round trip', async () => {
    const dir = await tempDir();
    const exported = await writeCocoExport(dir, { groundTruth: sample });
    assert.deepEqual(exported.instances, {
      images: 60,
      written: 1171,
      skippedNoBox: 0,
      skippedUnknownCategory: {},
      skippedNoScore: 0,
      skippedIgnoredClass: 0,
      skippedUnknownImage: 0,
    });
    assert.equal(exported.resultsFile, undefined);

    const coco = JSON.parse(await fs.readFile(exported.instancesFile, 'utf8'));
    assert.deepEqual(
      coco.categories,
      BDD_CLASSES.map((name, i) => ({ id: i + 1, name })),
    );
    assert.deepEqual(
      coco.images.map((image: { id: number; file_name: string }) => [image.id, image.file_name]),
      sample.map((frame, i) => [i + 1, frame.name]),
    );
    const first = sample[0]!.labels[0]!;
    const { x1, y1, x2, y2 } = first.box2d!;
    assert.deepEqual(coco.annotations[0], {
      id: 1,
      image_id: 1,
      category_id: 3, // car
      bbox: [x1, y1, x2 - x1, y2 - y1],
      area: (x2 - x1) * (y2 - y1),
      iscrowd: 0,
      attributes: first.attributes,
    });
    assert.deepEqual(
      coco.annotations.map((annotation: { id: number }) => annotation.id),
      Array.from({ length: 1171 }, (_, i) => i + 1),
    );
    // crowd regions of car: the two `other vehicle` boxes and the two cars flagged crowd in the sample
    const crowd = coco.annotations.filter((annotation: { iscrowd: number }) => annotation.iscrowd === 1);
    assert.deepEqual(
      crowd.map((annotation: { category_id: number }) => annotation.category_id),
      [3, 3, 3, 3],
    );
    assert.ok(
      coco.annotations.every((annotation: { attributes?: object }) => !annotation.attributes || !('crowd' in annotation.attributes)),
    );

    const loaded = await loadLabels(dir);
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.formats, { 'coco-instances': 1 });
    assert.deepEqual(
      loaded.frames.map((frame) => frame.name),
      sample.map((frame) => frame.name),
    );
    loaded.frames.forEach((frame, i) => {
      const original = sample[i]!;
      assert.equal(frame.labels.length, original.labels.length);
      assert.deepEqual(frame.attributes, original.attributes);
      assert.equal(frame.videoName, original.videoName);
      frame.labels.forEach((label, j) => {
        const before = original.labels[j]!;
        const resolution = resolveCategory(before.category, before.attributes?.crowd === true);
        assert.ok(resolution.kind !== 'unknown');
        assert.equal(label.category, resolution.category);
        assert.equal(label.attributes?.crowd === true, resolution.kind === 'crowd');
        assertSameBox(label, before);
      });
    });
  });

  test('2018 names are exported under their BDD class; box-less and unknown labels are counted, not written', async () => {
    const dir = await tempDir();
    const extra: Frame = {
      name: 'extra.jpg',
      labels: [
        {
          id: 'l1',
          category: 'lane',
          poly2d: [
            {
              vertices: [
                [0, 0],
                [10, 10],
              ],
              types: 'LL',
              closed: false,
            },
          ],
        },
        { id: 'd1', category: 'dog', box2d: { x1: 1, y1: 1, x2: 5, y2: 5 } },
        { id: 'd2', category: 'dog', box2d: { x1: 2, y1: 2, x2: 6, y2: 6 } },
        { id: 'c1', category: 'car', box2d: { x1: 3, y1: 3, x2: 9, y2: 7 }, attributes: { crowd: true } },
      ],
    };
    const frames = [...scenes, extra];
    const exported = await writeCocoExport(dir, { groundTruth: frames });
    const boxes = scenes.reduce((n, frame) => n + frame.labels.length, 0);
    assert.equal(exported.instances.written, boxes + 1);
    assert.equal(exported.instances.skippedNoBox, 1);
    assert.deepEqual(exported.instances.skippedUnknownCategory, { dog: 2 });

    const loaded = await loadLabels(exported.instancesFile);
    assert.deepEqual(loaded.problems, []);
    const person = scenes.flatMap((frame) => frame.labels).filter((label) => label.category === 'person').length;
    const pedestrian = loaded.frames.flatMap((frame) => frame.labels).filter((label) => label.category === 'pedestrian');
    assert.ok(person > 0);
    assert.equal(pedestrian.length, person);
    const extraBack = loaded.frames.at(-1)!;
    assert.equal(extraBack.name, 'extra.jpg');
    assert.deepEqual(extraBack.labels, [
      { id: String(boxes + 1), category: 'car', box2d: { x1: 3, y1: 3, x2: 9, y2: 7 }, area: 24, attributes: { crowd: true } },
    ]);
  });

  test('predictions: results.json refers to the ground-truth images and loads back in order', async () => {
    const dir = await tempDir();
    const groundTruth = sample.slice(0, 10);
    // Real boxes as predictions: scores decrease within each image, one label has no score.
    const predictions: Frame[] = [sample[3]!, sample[1]!, sample[42]!].map((frame) => ({
      name: frame.name,
      labels: frame.labels.map((label, j) => ({ ...label, score: 1 - j / 100 })),
    }));
    delete predictions[1]!.labels[0]!.score;
    const scored = predictions[0]!.labels.length + predictions[1]!.labels.length - 1;

    const exported = await writeCocoExport(dir, { groundTruth, predictions });
    assert.equal(exported.results?.written, scored);
    assert.equal(exported.results?.skippedNoScore, 1);
    assert.equal(exported.results?.skippedUnknownImage, predictions[2]!.labels.length);
    const results = JSON.parse(await fs.readFile(exported.resultsFile!, 'utf8'));
    assert.equal(results[0].image_id, 4);
    assert.equal(results.at(-1).image_id, 2);

    // The directory reads as the predictions: instances.json serves as their index.
    const loaded = await loadLabels(dir);
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.formats, { 'coco-instances': 1, 'coco-results': 1 });
    assert.deepEqual(loaded.indexFiles, [exported.instancesFile]);
    assert.deepEqual(
      loaded.frames.map((frame) => frame.name),
      [sample[1]!.name, sample[3]!.name],
    );
    const [fromSecond, fromFourth] = loaded.frames;
    assert.deepEqual(
      fromFourth!.labels.map((label) => label.score),
      predictions[0]!.labels.map((label) => label.score),
    );
    fromFourth!.labels.forEach((label, j) => assertSameBox(label, predictions[0]!.labels[j]!));
    assert.equal(fromSecond!.labels.length, predictions[1]!.labels.length - 1);

    // instances.json alone is the ground truth.
    const gt = await loadLabels(exported.instancesFile);
    assert.deepEqual(
      gt.frames.map((frame) => frame.name),
      groundTruth.map((frame) => frame.name),
    );
  });

  test('predictions without ground truth get an index-only instances file', async () => {
    const dir = await tempDir();
    const predictions: Frame[] = [
      { name: 'z.jpg', labels: [{ id: 'a', category: 'person', box2d: { x1: 0, y1: 0, x2: 4, y2: 8 }, score: 0.8 }] },
      { name: 'y.jpg', labels: [] },
    ];
    const exported = await writeCocoExport(dir, { predictions });
    const instances = JSON.parse(await fs.readFile(exported.instancesFile, 'utf8'));
    assert.deepEqual(instances.annotations, []);
    assert.deepEqual(instances.images, [
      { id: 1, file_name: 'z.jpg' },
      { id: 2, file_name: 'y.jpg' },
    ]);
    const loaded = await loadLabels(exported.resultsFile!);
    assert.deepEqual(loaded.frames, [
      { name: 'z.jpg', labels: [{ id: '1', category: 'pedestrian', box2d: { x1: 0, y1: 0, x2: 4, y2: 8 }, score: 0.8, area: 32 }] },
    ]);
  });

  test('duplicate frame names cannot be exported to COCO', () => {
    assert.throws(
      () =>
        framesToCocoInstances([
          { name: 'a.jpg', labels: [] },
          { name: 'a.jpg', labels: [] },
        ]),
      /frame name "a\.jpg" appears twice/,
    );
  });
});

describe('atomic writes', () => {
  test('writers leave no temp files behind and replace existing files whole', async () => {
    const dir = await tempDir();
    await writeScalabelFiles(path.join(dir, 'frames'), sample.slice(0, 5));
    await writeScalabelList(path.join(dir, 'list.json'), sample);
    await writeScalabelList(path.join(dir, 'list.json'), sample.slice(0, 2)); // shorter over longer
    await writeCocoExport(path.join(dir, 'coco'), { groundTruth: sample, predictions: sample });
    const files = await listTree(dir);
    assert.equal(files.filter((file) => file.endsWith('.tmp')).length, 0, files.join(', '));
    assert.equal(files.length, 5 + 1 + 2);
    assert.deepEqual((await loadLabels(path.join(dir, 'list.json'))).frames, sample.slice(0, 2));
  });

  test('a failed write removes its temp file and keeps the target as it was', async () => {
    const dir = await tempDir();
    const target = path.join(dir, 'target.json');
    await fs.mkdir(target); // renaming a file onto a directory fails
    await assert.rejects(writeFileAtomic(target, '{"name": "a.jpg", "labels": []}'));
    assert.deepEqual(await listTree(dir), []);
    assert.ok((await fs.stat(target)).isDirectory());
  });
});
