/**
 * labelFolder's two stages (labeling, then overlay and label file beside it) with scripted providers: every image
 * ends complete or failed, a write that fails fails its image only, and the labeling does not wait for the writes.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { loadLabelingConfig } from '../src/adapters/config/load-config';
import { labelFolder } from '../src/adapters/files/label-folder';
import { readImage } from '../src/adapters/image/intake';
import type { LabelingSetup } from '../src/core/pipeline/label-image';
import type { Detector, SceneClassifier } from '../src/core/pipeline/types';
import { FrameSchema } from '../src/core/labels/schema';
import { sampleImagesDir } from './helpers/shared';

let work: string;
let imagesDir: string;
let names: string[];

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'autolabel-folder-'));
  imagesDir = path.join(work, 'images');
  await fs.mkdir(imagesDir);
  names = (await fs.readdir(sampleImagesDir))
    .filter((n) => n.endsWith('.jpg'))
    .sort()
    .slice(0, 6);
  for (const name of names) await fs.copyFile(path.join(sampleImagesDir, name), path.join(imagesDir, name));
});

after(() => fs.rm(work, { recursive: true, force: true }));

/** Scripted providers that record when each image's labeling starts. */
function scriptedSetup(concurrency: number, started: string[]): LabelingSetup {
  const config = loadLabelingConfig({ concurrency });
  const detector: Detector = {
    model: { provider: 'scripted', model: 'one-box' },
    async detect(image) {
      started.push(image.name);
      return { boxes: [{ category: 'car', score: 0.9, sourceCategory: 'car', box2d: { x1: 100, y1: 200, x2: 300, y2: 400 } }] };
    },
  };
  const scene: SceneClassifier = {
    model: { provider: 'scripted', model: 'clear-day' },
    async classify() {
      return {
        attributes: { weather: 'clear', timeofday: 'daytime', scene: 'highway' },
        confidence: { weather: 1, timeofday: 1, scene: 1 },
        raw: null,
      };
    },
  };
  return { config, configHash: `scripted-${concurrency}`, decodeImage: readImage, detector, scene };
}

test('every image gets its overlay and its label file; a write that fails fails that image only', async () => {
  const out = path.join(work, 'out');
  // The overlay of the second image cannot be written: a folder stands where the file would go.
  const blocked = names[1]!.replace(/\.jpg$/, '');
  await fs.mkdir(path.join(out, 'overlays', `${blocked}.jpg`), { recursive: true });
  const progress: number[] = [];
  const result = await labelFolder({
    imagesDir,
    outDir: out,
    setup: scriptedSetup(2, []),
    onProgress: ({ done }) => progress.push(done),
  });
  assert.equal(result.total, names.length);
  assert.equal(result.labeled, names.length - 1);
  assert.deepEqual(
    result.failed.map((f) => f.name),
    [names[1]],
  );
  assert.equal(result.failed[0]!.kind, 'internal');
  assert.deepEqual(progress, [1, 2, 3, 4, 5, 6], 'each image counted once, when complete or failed');
  assert.deepEqual(
    result.frames.map((f) => f.name),
    names.filter((n) => n !== names[1]),
  );
  for (const name of names) {
    const stem = name.replace(/\.jpg$/, '');
    const labelFile = path.join(out, 'labels', `${stem}.json`);
    if (name === names[1]) {
      await assert.rejects(fs.access(labelFile), 'no label file: the image is not complete');
      continue;
    }
    const frame = FrameSchema.parse(JSON.parse(await fs.readFile(labelFile, 'utf8')));
    assert.equal(frame.labels.length, 1);
    const overlay = await sharp(path.join(out, 'overlays', `${stem}.jpg`)).metadata();
    assert.deepEqual([overlay.format, overlay.width, overlay.height], ['jpeg', 1280, 720]);
  }
  const errors = (await fs.readFile(path.join(out, 'errors.jsonl'), 'utf8')).trim().split('\n');
  assert.equal(errors.length, 1);
  assert.equal(JSON.parse(errors[0]!).name, names[1]);
});

test('an output folder inside the images folder, or the same folder, is not listed: a second run reuses every label', async () => {
  for (const layout of ['inside', 'same'] as const) {
    const images = path.join(work, `images-${layout}`);
    await fs.mkdir(images);
    for (const name of names.slice(0, 3)) await fs.copyFile(path.join(imagesDir, name), path.join(images, name));
    const out = layout === 'inside' ? path.join(images, 'out') : images;
    const first = await labelFolder({ imagesDir: images, outDir: out, setup: scriptedSetup(2, []) });
    assert.deepEqual([first.labeled, first.failed.length], [3, 0], layout);
    // The overlays are JPEGs named like the images: listed, they would fail as duplicates or be labeled themselves.
    const started: string[] = [];
    const second = await labelFolder({ imagesDir: images, outDir: out, setup: scriptedSetup(2, started) });
    assert.deepEqual([second.total, second.reused, second.labeled, second.failed.length], [3, 3, 0, 0], layout);
    assert.deepEqual(started, [], `${layout}: nothing labeled again`);
  }
});

test('the labeling does not wait for the writes: one image at a time, all are labeled before the last is written', async () => {
  // Whether a write is still pending when the next image starts depends on the scheduler: a fast disk may finish one
  // in time. With the writes in the labeling slot it never happens, so three tries that all show none fail the test.
  const tries: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const out = path.join(work, `out-order-${attempt}`);
    const started: string[] = [];
    const doneWhenStarted: number[] = [];
    let done = 0;
    const setup = scriptedSetup(1, started);
    const detect = setup.detector!.detect.bind(setup.detector);
    setup.detector = {
      ...setup.detector!,
      detect: (image, options) => {
        doneWhenStarted.push(done);
        return detect(image, options);
      },
    };
    const result = await labelFolder({ imagesDir, outDir: out, setup, onProgress: (event) => (done = event.done) });
    assert.equal(result.labeled, names.length);
    assert.deepEqual(started, names, 'one at a time, in order');
    // With the writes in the labeling slot, image k would start only once k images were done.
    if (doneWhenStarted.some((d, k) => d < k)) return;
    tries.push(doneWhenStarted.join(', '));
  }
  assert.fail(`images done when each labeling started, in three runs: ${tries.join(' | ')}`);
});
