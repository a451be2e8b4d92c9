import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadLabels } from '../src/adapters/files/load-labels';
import { writeScalabelFiles } from '../src/adapters/files/write-labels';
import { parseLabelText } from '../src/core/labels/read';
import { FrameSchema, type Frame } from '../src/core/labels/schema';
import { seededRandom, simulatePredictions } from '../bench/synthetic';

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'autolabel-load-'));
  tempDirs.push(dir);
  return dir;
}
after(() => Promise.all(tempDirs.map((dir) => fs.rm(dir, { recursive: true, force: true }))));

/** Frames whose names sort in another order than the files they are written to. */
function shuffledFrames(count: number): Frame[] {
  const random = seededRandom(5);
  const gt: Frame = {
    name: 'source.jpg',
    attributes: { weather: 'clear', scene: 'highway', timeofday: 'daytime' },
    labels: [
      { id: '1', category: 'car', box2d: { x1: 10, y1: 20, x2: 200.5, y2: 120.25 } },
      { id: '2', category: 'pedestrian', box2d: { x1: 400, y1: 300, x2: 430, y2: 380 } },
    ],
  };
  return Array.from({ length: count }, (_, i) => simulatePredictions(gt, random, `img-${String((i * 7919) % count).padStart(5, '0')}.jpg`));
}

test('a folder of per-image files gives the frames sorted by name, equal to reading each file alone', async () => {
  const dir = await tempDir();
  const frames = shuffledFrames(300);
  // Spread over nested folders whose order differs from the frame names' order.
  for (const [i, frame] of frames.entries()) {
    await writeScalabelFiles(path.join(dir, `part-${(i * 37) % 10}`), [frame]);
  }
  const loaded = await loadLabels(dir);
  assert.deepEqual(loaded.problems, []);
  assert.equal(loaded.files, 300);
  assert.deepEqual(loaded.formats, { 'scalabel-frame': 300 });
  const names = loaded.frames.map((f) => f.name);
  assert.deepEqual(names, [...names].sort());
  const expected = frames.map((frame) => FrameSchema.parse(JSON.parse(JSON.stringify(frame))));
  expected.sort((a, b) => (a.name < b.name ? -1 : 1));
  assert.deepStrictEqual(loaded.frames, expected);
  assert.equal(JSON.stringify(loaded.frames), JSON.stringify(expected));

  const again = await loadLabels(dir);
  assert.equal(JSON.stringify(again.frames), JSON.stringify(loaded.frames), 'the same on every load');
});

test('bad files among many are reported with their paths, in file order; the rest load', async () => {
  const dir = await tempDir();
  const frames = shuffledFrames(50);
  const files = await writeScalabelFiles(dir, frames);
  const sorted = [...files].sort();
  const [brokenJson, badBox, wrongShape] = [sorted[3]!, sorted[20]!, sorted[41]!];
  await fs.writeFile(brokenJson, '{"name": "x.jpg", "labels": [');
  const frame = JSON.parse(await fs.readFile(badBox, 'utf8'));
  frame.labels[1].box2d.y2 = frame.labels[1].box2d.y1 - 1;
  await fs.writeFile(badBox, JSON.stringify(frame, null, 2));
  await fs.writeFile(wrongShape, JSON.stringify({ name: 'y.jpg', labels: [{ id: 'a', category: 'car', score: 'high' }] }));

  const progress: [number, number, number][] = [];
  const loaded = await loadLabels(dir, { onProgress: (read, total, failed) => progress.push([read, total, failed]) });
  assert.equal(loaded.frames.length, 47);
  assert.deepEqual(
    loaded.problems.map((p) => p.file),
    [brokenJson, badBox, wrongShape],
  );
  assert.match(loaded.problems[0]!.message, /^invalid JSON at line 1, column 30 \(offset 29\): /);
  assert.equal(loaded.problems[1]!.message, 'not a valid Scalabel frame: labels[1].box2d: box2d needs x2 >= x1 and y2 >= y1');
  assert.equal(loaded.problems[2]!.message, 'not a valid Scalabel frame: labels[0].score: Invalid input: expected number, received string');
  assert.deepEqual(
    progress.map(([read]) => read),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  assert.ok(progress.every(([, total]) => total === 50));
  assert.deepEqual(progress[49], [50, 50, 3]);
});

test('valid files that only zod can copy (a __proto__ key) load as zod parses them', async () => {
  const dir = await tempDir();
  const text = '{"name": "p.jpg", "labels": [{"id": 1, "category": "car", "attributes": {"__proto__": {"polluted": true}}}]}';
  await fs.writeFile(path.join(dir, 'p.json'), text);
  const loaded = await loadLabels(dir);
  assert.deepEqual(loaded.problems, []);
  assert.deepStrictEqual(loaded.frames, [FrameSchema.parse(JSON.parse(text))]);
  const parsed = parseLabelText(text, 'p.json');
  assert.deepStrictEqual(parsed.format === 'scalabel-frame' && parsed.frames, loaded.frames);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('a long load lets the event loop run between slices of files', async () => {
  const dir = await tempDir();
  await writeScalabelFiles(dir, shuffledFrames(6));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const ticksSeen: number[] = [];
  try {
    await loadLabels(dir, {
      onProgress: () => {
        // Each file "takes" 40 ms of the main thread: longer than a slice, so the loader yields after each.
        const until = performance.now() + 40;
        while (performance.now() < until);
        ticksSeen.push(ticks);
      },
    });
  } finally {
    clearInterval(timer);
  }
  assert.equal(ticksSeen.length, 6);
  assert.ok(ticksSeen[5]! > ticksSeen[0]!, `timers ran while files were read (ticks seen ${ticksSeen.join(', ')})`);
});
