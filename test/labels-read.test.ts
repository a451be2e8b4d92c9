import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cocoIndexForFrames, resolveCocoResults } from '../src/core/labels/coco';
import { loadLabels } from '../src/adapters/files/load-labels';
import { LabelDocumentError, parseLabelText, parseLabelValue } from '../src/core/labels/read';
import type { Frame } from '../src/core/labels/schema';
import { sampleLabelsDir, scenesDir } from './helpers/shared';

const tally = (values: Iterable<string | undefined>) => {
  const counts: Record<string, number> = {};
  for (const value of values) if (value !== undefined) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
};
const names = (frames: readonly Frame[]) => frames.map((frame) => frame.name);
const isSorted = (values: readonly string[]) => values.every((value, i) => i === 0 || values[i - 1]! < value);

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'autolabel-read-'));
  tempDirs.push(dir);
  return dir;
}
after(() => Promise.all(tempDirs.map((dir) => fs.rm(dir, { recursive: true, force: true }))));

const writeJson = (file: string, value: unknown) => fs.writeFile(file, JSON.stringify(value, null, 2));

let sample: Frame[];
before(async () => {
  sample = (await loadLabels(sampleLabelsDir)).frames;
});

describe('loadLabels on the shared data', () => {
  test('the 60 sample files in the published variant load with their README counts', async () => {
    const loaded = await loadLabels(sampleLabelsDir);
    assert.deepEqual(loaded.problems, []);
    assert.equal(loaded.files, 60);
    assert.deepEqual(loaded.formats, { 'bdd-published': 60 });
    assert.equal(loaded.frames.length, 60);
    assert.ok(isSorted(names(loaded.frames)), 'frames sorted by name');

    const labels = loaded.frames.flatMap((frame) => frame.labels);
    assert.equal(labels.length, 1171);
    assert.deepEqual(tally(labels.map((label) => label.category)), {
      car: 710,
      'traffic sign': 245,
      'traffic light': 109,
      pedestrian: 55,
      truck: 35,
      bus: 4,
      rider: 4,
      bicycle: 4,
      train: 2,
      'other vehicle': 2,
      motorcycle: 1,
    });
    const attributes = loaded.frames.map((frame) => frame.attributes);
    assert.deepEqual(tally(attributes.map((a) => a?.weather)), {
      clear: 21,
      overcast: 14,
      'partly cloudy': 12,
      snowy: 8,
      rainy: 5,
    });
    assert.deepEqual(tally(attributes.map((a) => a?.scene)), {
      residential: 25,
      highway: 17,
      'city street': 17,
      'parking lot': 1,
    });
    assert.deepEqual(tally(attributes.map((a) => a?.timeofday)), { daytime: 53, night: 4, 'dawn/dusk': 3 });
  });

  test('a published file becomes a Scalabel frame: name, videoName, frameIndex, attributes, labels', async () => {
    const file = path.join(sampleLabelsDir, '0798a3a8-c4501e0f_label.json');
    const raw = JSON.parse(await fs.readFile(file, 'utf8'));
    const [frame] = (await loadLabels(file)).frames;
    assert.ok(frame);
    assert.equal(frame.name, raw.image_filename);
    assert.equal(frame.videoName, raw.video_name);
    assert.equal(frame.frameIndex, raw.frame_index);
    assert.deepEqual(frame.attributes, raw.metadata);
    assert.equal(frame.labels.length, raw.labels.length);
    assert.deepEqual(frame.labels[0]?.box2d, raw.labels[0].box2d);
    assert.equal('image_filename' in frame || 'metadata' in frame, false);
  });

  test('the 100 scenes label files (Scalabel, 2018 names, no attributes) load', async () => {
    const labelsDir = path.join(scenesDir, 'labels');
    const loaded = await loadLabels(labelsDir);
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.formats, { 'scalabel-frame': 100 });
    assert.equal(loaded.frames.length, 100);
    const expected = (await fs.readdir(labelsDir)).map((file) => file.replace(/\.json$/, '.jpg')).sort();
    assert.deepEqual(names(loaded.frames), expected);
    assert.equal(loaded.frames.filter((frame) => frame.attributes !== undefined).length, 0);
    const categories = new Set(loaded.frames.flatMap((frame) => frame.labels.map((label) => label.category)));
    for (const name of ['person', 'bike', 'motor']) assert.ok(categories.has(name), `2018 name ${name} kept as written`);
    assert.equal(categories.has('pedestrian'), false);
    assert.ok(loaded.frames.every((frame) => frame.labels.every((label) => label.box2d && typeof label.id === 'string')));
  });
});

describe('list layouts', () => {
  test('a list of frames (official layout) keeps null labels and box-less lane labels', async () => {
    const dir = await tempDir();
    const scenes = (await loadLabels(path.join(scenesDir, 'labels'))).frames.slice(0, 3);
    const lane = {
      id: 9001,
      category: 'lane',
      attributes: { laneDirection: 'parallel' },
      poly2d: [
        {
          vertices: [
            [0, 700],
            [640, 400],
          ],
          types: 'LL',
          closed: false,
        },
      ],
    };
    const official = [
      { ...scenes[0], timestamp: 10000, labels: [...scenes[0]!.labels, lane] },
      { name: 'no-labels.jpg', attributes: { weather: 'clear', scene: 'highway', timeofday: 'night' }, labels: null },
      scenes[2],
    ];
    const file = path.join(dir, 'bdd100k_labels_images_val.json');
    await writeJson(file, official);

    const loaded = await loadLabels(file);
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.formats, { 'scalabel-list': 1 });
    assert.deepEqual(names(loaded.frames), [scenes[0]!.name, scenes[2]!.name, 'no-labels.jpg'].sort());
    const first = loaded.frames.find((frame) => frame.name === scenes[0]!.name)!;
    assert.equal(first.labels.length, scenes[0]!.labels.length + 1);
    const loadedLane = first.labels.at(-1)!;
    assert.equal(loadedLane.id, '9001');
    assert.equal(loadedLane.box2d, undefined);
    assert.deepEqual(loadedLane.poly2d, lane.poly2d);
    assert.equal(first.timestamp, 10000);
    assert.deepEqual(loaded.frames.find((frame) => frame.name === 'no-labels.jpg')!.labels, []);
  });

  test('a list in the published variant and a Scalabel {frames} dataset are read too', () => {
    const published = parseLabelValue(
      [
        { image_filename: 'b.jpg', metadata: { weather: 'rainy' }, labels: [] },
        { image_filename: 'a.jpg', labels: null },
      ],
      'published-list.json',
    );
    assert.equal(published.format, 'bdd-published');
    assert.ok('frames' in published);
    assert.deepEqual(published.frames, [
      { name: 'b.jpg', attributes: { weather: 'rainy' }, labels: [] },
      { name: 'a.jpg', labels: [] },
    ]);
    const dataset = parseLabelValue({ frames: [{ name: 'c.jpg', labels: [] }], config: {} }, 'dataset.json');
    assert.equal(dataset.format, 'scalabel-list');
    assert.ok('frames' in dataset);
    assert.deepEqual(names(dataset.frames), ['c.jpg']);
  });
});

/**
 * COCO ground truth for three real sample frames, written by hand (not by our writer), with image ids in
 * descending order in the file and an extra image without annotations.
 */
function cocoGroundTruth(frames: readonly Frame[]) {
  const categoryIds = new Map<string, number>();
  const images = frames.map((frame, i) => ({ id: 30 - 10 * i, file_name: frame.name, width: 1280, height: 720 }));
  images.push({ id: 25, file_name: 'empty.jpg', width: 1280, height: 720 });
  const annotations = frames.flatMap((frame, i) =>
    frame.labels.map((label, j) => {
      if (!categoryIds.has(label.category)) categoryIds.set(label.category, categoryIds.size + 1);
      const { x1, y1, x2, y2 } = label.box2d!;
      return {
        id: 1000 * (i + 1) + j,
        image_id: 30 - 10 * i,
        category_id: categoryIds.get(label.category)!,
        bbox: [x1, y1, x2 - x1, y2 - y1],
        area: 7 + j, // deliberately not w*h: the reader must keep the file's area
        iscrowd: j === 0 ? 1 : 0,
      };
    }),
  );
  const categories = [...categoryIds].map(([name, id]) => ({ id, name }));
  return { images, annotations, categories };
}

describe('COCO', () => {
  test('COCO instances become frames in image-id order with boxes, area, crowd and ids', async () => {
    const dir = await tempDir();
    const picked = sample.slice(0, 3);
    const gt = cocoGroundTruth(picked);
    const file = path.join(dir, 'instances.json');
    await writeJson(file, gt);

    const loaded = await loadLabels(file);
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.formats, { 'coco-instances': 1 });
    // ids 10 (picked[2]), 20 (picked[1]), 25 (empty), 30 (picked[0]): numeric order, not file or name order
    assert.deepEqual(names(loaded.frames), [picked[2]!.name, picked[1]!.name, 'empty.jpg', picked[0]!.name]);
    assert.deepEqual(loaded.frames[2]!.labels, []);

    const original = picked[0]!;
    const frame = loaded.frames[3]!;
    assert.deepEqual(
      frame.labels.map((label) => label.category),
      original.labels.map((label) => label.category),
    );
    frame.labels.forEach((label, j) => {
      const box = original.labels[j]!.box2d!;
      for (const key of ['x1', 'y1', 'x2', 'y2'] as const) assert.ok(Math.abs(label.box2d![key] - box[key]) < 1e-9);
      assert.equal(label.id, String(1000 + j));
      assert.equal(label.area, 7 + j);
      assert.equal(label.attributes?.crowd, j === 0 ? true : undefined);
    });
    assert.ok(loaded.cocoIndex);
    assert.equal(loaded.cocoIndex.imageNames.get('25'), 'empty.jpg');
  });

  test('COCO instances with string ids sort as strings; annotations on missing images or categories are reported', () => {
    const parsed = parseLabelValue(
      {
        images: [
          { id: 'b', file_name: 'b.jpg' },
          { id: 'a', file_name: 'a.jpg' },
        ],
        categories: [{ id: 1, name: 'car' }],
        annotations: [
          { id: 1, image_id: 'b', category_id: 1, bbox: [1, 2, 3, 4] },
          { id: 2, image_id: 'zzz', category_id: 1, bbox: [1, 2, 3, 4] },
          { id: 3, image_id: 'a', category_id: 9, bbox: [1, 2, 3, 4] },
        ],
      },
      'strings.json',
    );
    assert.equal(parsed.format, 'coco-instances');
    assert.ok('frames' in parsed);
    assert.deepEqual(names(parsed.frames), ['a.jpg', 'b.jpg']);
    assert.deepEqual(parsed.frames[1]!.labels, [{ id: '1', category: 'car', box2d: { x1: 1, y1: 2, x2: 4, y2: 6 } }]);
    assert.equal(parsed.problems.length, 2);
    assert.match(parsed.problems[0]!, /image_id missing from images: 1 \(e\.g\. "zzz"\)/);
    assert.match(parsed.problems[1]!, /category_id missing from categories: 1 \(e\.g\. 9\)/);
  });

  test('COCO results resolve against the instances beside them, keeping result order per image', async () => {
    const dir = await tempDir();
    const picked = sample.slice(0, 3);
    await writeJson(path.join(dir, 'instances.json'), cocoGroundTruth(picked));
    const stem = picked[1]!.name.replace(/\.jpg$/, '');
    const results = [
      { image_id: 30, category_id: 1, bbox: [10, 20, 30, 40], score: 0.5 },
      { image_id: 20, category_id: 1, bbox: [0, 0, 5, 5], score: 0.7 },
      { image_id: 30, category_id: 1, bbox: [11, 21, 30, 40], score: 0.9 },
      { image_id: stem, category_id: 1, bbox: [1, 1, 2, 2], score: 0.5 }, // a string id naming the image
      { image_id: 30, category_id: 1, bbox: [12, 22, 30, 40], score: 0.5 },
      { image_id: 999, category_id: 1, bbox: [0, 0, 1, 1], score: 0.1 },
      { image_id: 10, category_id: 77, bbox: [0, 0, 1, 1], score: 0.1 },
    ];
    const resultsFile = path.join(dir, 'results.json');
    await writeJson(resultsFile, results);

    for (const target of [resultsFile, dir]) {
      const loaded = await loadLabels(target);
      assert.deepEqual(loaded.indexFiles, [path.join(dir, 'instances.json')], target);
      assert.deepEqual(names(loaded.frames), [picked[1]!.name, picked[0]!.name], 'COCO image-id order: 20, 30');
      const [second, first] = loaded.frames;
      assert.deepEqual(
        first!.labels.map((label) => [label.id, label.score, label.box2d!.x1]),
        [
          ['1', 0.5, 10],
          ['3', 0.9, 11],
          ['5', 0.5, 12],
        ],
      );
      assert.deepEqual(
        second!.labels.map((label) => label.id),
        ['2', '4'],
      );
      assert.equal(first!.labels[0]!.category, picked[0]!.labels[0]!.category);
      assert.deepEqual(first!.labels[0]!.box2d, { x1: 10, y1: 20, x2: 40, y2: 60 });
      const messages = loaded.problems.map((problem) => `${path.basename(problem.file)}: ${problem.message}`);
      assert.equal(messages.length, 2, messages.join('\n'));
      assert.match(messages[0]!, /^results\.json: results with an image_id that matches no image: 1 \(e\.g\. 999\)/);
      assert.match(messages[1]!, /^results\.json: results with a category_id missing from categories: 1 \(e\.g\. 77\)/);
    }
  });

  test('COCO results elsewhere resolve with the ground truth index, and stay unresolved without one', async () => {
    const gtDir = await tempDir();
    const predDir = await tempDir();
    await writeJson(path.join(gtDir, 'gt.json'), cocoGroundTruth(sample.slice(0, 2)));
    const predFile = path.join(predDir, 'detections.json');
    await writeJson(predFile, [{ image_id: 20, category_id: 1, bbox: [1, 2, 3, 4], score: 0.25 }]);

    const gt = await loadLabels(gtDir);
    const pred = await loadLabels(predFile, { cocoIndex: gt.cocoIndex });
    assert.deepEqual(pred.problems, []);
    assert.deepEqual(pred.formats, { 'coco-results': 1 });
    assert.deepEqual(names(pred.frames), [sample[1]!.name]);

    const alone = await loadLabels(predFile);
    assert.deepEqual(alone.frames, []);
    assert.equal(alone.problems.length, 1);
    assert.match(alone.problems[0]!.message, /COCO results not resolved \(1 entries\)/);
    assert.equal(alone.unresolvedCocoResults?.[0]?.file, predFile);
    // The unresolved block can be resolved later, e.g. against the index our own export would write.
    const later = resolveCocoResults(alone.unresolvedCocoResults![0]!.results, cocoIndexForFrames(sample.slice(0, 20)));
    assert.deepEqual(names(later.frames), [sample[19]!.name]);
  });
});

describe('problems', () => {
  test('one bad file among good ones is reported with its JSON path; the others load', async () => {
    const dir = await tempDir();
    const files = (await fs.readdir(sampleLabelsDir)).sort().slice(0, 4);
    for (const file of files.slice(0, 3)) await fs.copyFile(path.join(sampleLabelsDir, file), path.join(dir, file));
    const bad = JSON.parse(await fs.readFile(path.join(sampleLabelsDir, files[3]!), 'utf8'));
    bad.labels[3].box2d.x2 = 'oops';
    await fs.mkdir(path.join(dir, 'nested')); // directories are read recursively
    await writeJson(path.join(dir, 'nested', files[3]!), bad);

    const loaded = await loadLabels(dir);
    assert.equal(loaded.files, 4);
    assert.equal(loaded.frames.length, 3);
    assert.deepEqual(loaded.formats, { 'bdd-published': 3 });
    assert.equal(loaded.problems.length, 1);
    const [problem] = loaded.problems;
    assert.equal(problem!.file, path.join(dir, 'nested', files[3]!));
    assert.match(problem!.message, /labels\[3\]\.box2d\.x2: Invalid input: expected number, received string/);
  });

  test('invalid JSON names the file and where it broke', async () => {
    const dir = await tempDir();
    await fs.writeFile(path.join(dir, 'broken.json'), '{\n  "name": "a.jpg",\n  "labels": [}\n');
    await writeJson(path.join(dir, 'good.json'), { name: 'b.jpg', labels: [] });
    const loaded = await loadLabels(dir);
    assert.deepEqual(names(loaded.frames), ['b.jpg']);
    assert.equal(loaded.problems.length, 1);
    assert.equal(loaded.problems[0]!.file, path.join(dir, 'broken.json'));
    assert.match(loaded.problems[0]!.message, /^invalid JSON at line 3, column 14 \(offset 34\): [^\n]+$/);

    assert.throws(
      () => parseLabelText('[{"name": "a.jpg", "labels": [1 2]}]', 'x.json'),
      (error: unknown) =>
        error instanceof LabelDocumentError && /^x\.json: invalid JSON at line 1, column 33 \(offset 32\)/.test(error.message),
    );
  });

  test('an unrecognised document says what was expected', async () => {
    const dir = await tempDir();
    await writeJson(path.join(dir, 'package.json'), { name: 'not-labels', version: '1.0.0' });
    await writeJson(path.join(dir, 'numbers.json'), [1, 2, 3]);
    const loaded = await loadLabels(dir);
    assert.deepEqual(loaded.frames, []);
    assert.deepEqual(loaded.formats, {});
    assert.deepEqual(
      loaded.problems.map((problem) => path.basename(problem.file)),
      ['numbers.json', 'package.json'],
    );
    for (const problem of loaded.problems) {
      assert.match(problem.message, /^unrecognised label document: expected a Scalabel frame/);
      assert.match(problem.message, /COCO instances \{images, annotations, categories\}/);
    }
    assert.match(loaded.problems[1]!.message, /got an object with keys name, version$/);
  });

  test('duplicate frame names keep the first file and report the later one', async () => {
    const dir = await tempDir();
    await writeJson(path.join(dir, 'a.json'), { name: 'same.jpg', labels: [{ id: 1, category: 'car' }] });
    await writeJson(path.join(dir, 'b.json'), { name: 'same.jpg', labels: [] });
    await writeJson(path.join(dir, 'c.json'), [
      { name: 'other.jpg', labels: [] },
      { name: 'other.jpg', labels: [] },
    ]);
    const loaded = await loadLabels(dir);
    assert.deepEqual(names(loaded.frames), ['other.jpg', 'same.jpg']);
    assert.deepEqual(
      loaded.frames[1]!.labels.map((label) => label.id),
      ['1'],
    );
    assert.deepEqual(
      loaded.problems.map((problem) => [path.basename(problem.file), problem.message]),
      [
        ['b.json', `duplicate frame name "same.jpg" (first in ${path.join(dir, 'a.json')}): kept the first`],
        ['c.json', 'duplicate frame name "other.jpg" (first earlier in this file): kept the first'],
      ],
    );
  });

  test('a missing path throws; an empty directory is a problem', async () => {
    const dir = await tempDir();
    await assert.rejects(loadLabels(path.join(dir, 'nope')), /label path not found: .*nope/);
    const empty = await loadLabels(dir);
    assert.deepEqual(empty.frames, []);
    assert.deepEqual(empty.problems, [{ file: dir, message: 'no *.json label files in this directory' }]);
  });
});
