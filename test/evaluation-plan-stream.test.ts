/**
 * The evaluation plan reads a batch's ground truth file by file (services/ground-truth-stream.ts, sorted-runs.ts)
 * so its memory does not grow with the batch: checked here to give what loading the whole folder gives (the loader
 * `autolabel evaluate` uses), on real Azurite, with the awkward cases: a frame list beside per-image files, a name
 * found twice, an unreadable file, names out of file order, and enough frames to spill several sorted runs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Frame } from '../src/core/labels/schema';
import { loadGroundTruth } from '../src/app/services/ground-truth';
import { streamGroundTruth } from '../src/app/services/ground-truth-stream';
import { SortedFrameRuns } from '../src/app/services/sorted-runs';
import { BLOB_CONTAINERS } from '../src/app/store/names';
import { useAppRuntime } from './helpers/app';
import { sampleLabelsDir, scenesDir } from './helpers/shared';

const app = useAppRuntime();

async function collect(frames: AsyncIterable<Frame>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const frame of frames) out.push(frame);
  return out;
}

test('sorted runs give every frame back in name order, however many runs were spilled', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'autolabel-runs-'));
  try {
    const runs = new SortedFrameRuns(dir, 3);
    const names = ['m', 'b', 'z', 'a', 'q', 'c', 'b2', 'y', 'd', 'k'];
    for (const name of names) await runs.add({ name, labels: [] });
    assert.ok((await readdir(dir)).length >= 3, 'several runs on disk');
    const sorted = await collect(runs.sorted([{ name: 'n', labels: [] }]));
    assert.deepEqual(
      sorted.map((f) => f.name),
      [...names, 'n'].sort(),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the streamed ground truth is the whole-folder load: same frames in the same order, same counts and problems', async () => {
  const runtime = app.runtime();
  const prefix = 'stream/';
  const upload = (name: string, text: string) =>
    runtime.clients.blobs
      .getContainerClient(BLOB_CONTAINERS.groundTruth)
      .getBlockBlobClient(`${prefix}${name}`)
      .uploadData(Buffer.from(text));
  // Per-image files of both shared variants, uploaded under names that do not sort like their frames.
  const published = (await readdir(sampleLabelsDir)).sort().slice(0, 12);
  for (const [i, file] of published.entries())
    await upload(`p/${String(99 - i).padStart(3, '0')}.json`, await readFile(path.join(sampleLabelsDir, file), 'utf8'));
  const scalabel = (await readdir(path.join(scenesDir, 'labels'))).sort().slice(0, 12);
  const frames: Frame[] = [];
  for (const file of scalabel) frames.push(JSON.parse(await readFile(path.join(scenesDir, 'labels', file), 'utf8')) as Frame);
  for (const [i, frame] of frames.slice(0, 8).entries()) await upload(`s/${i}.json`, JSON.stringify(frame));
  // A frame list holding the other four, and again one of the per-image frames (a duplicate, found later).
  await upload('s/list.json', JSON.stringify([...frames.slice(8), { ...frames[0]!, labels: [] }]));
  await upload('broken.json', '{"name": ');

  const whole = await loadGroundTruth(runtime.blobs, prefix);
  const work = await mkdtemp(path.join(os.tmpdir(), 'autolabel-stream-'));
  try {
    const kept: string[] = [];
    const streamed = await streamGroundTruth(runtime.blobs, prefix, (f) => (kept.push(f.name), true), work);
    assert.ok(streamed, 'not COCO: streamed');
    const frames = await collect(streamed.kept.sorted());
    assert.equal(frames.length, whole.frames.length);
    assert.deepEqual(frames, whole.frames, 'the same frames in the same order');
    assert.deepEqual(
      [streamed.summary.files, streamed.summary.frames, streamed.summary.formats],
      [whole.summary.files, whole.summary.frames, whole.summary.formats],
    );
    const messages = (problems: { file: string; message: string }[]) =>
      problems.map((p) => `${p.file}: ${p.message.replace(/\(first .*\)/, '')}`).sort();
    assert.deepEqual(messages(streamed.summary.problems), messages(whole.summary.problems));
    assert.ok(streamed.summary.problems.some((p) => /duplicate frame name/.test(p.message)));
    assert.equal(kept.length, whole.frames.length, 'keep sees each unique frame once');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test('COCO ground truth is not streamed: it needs the folder as a whole', async () => {
  const runtime = app.runtime();
  const coco = { images: [{ id: 1, file_name: 'a.jpg', width: 10, height: 10 }], annotations: [], categories: [{ id: 1, name: 'car' }] };
  await runtime.clients.blobs
    .getContainerClient(BLOB_CONTAINERS.groundTruth)
    .getBlockBlobClient('coco/instances.json')
    .uploadData(Buffer.from(JSON.stringify(coco)));
  const work = await mkdtemp(path.join(os.tmpdir(), 'autolabel-stream-'));
  try {
    assert.equal(await streamGroundTruth(runtime.blobs, 'coco/', () => true, work), undefined);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
