/**
 * `autolabel drift` on real shared images labeled by the local default (YOLOX-Nano with tiling and the local scene
 * classifier), sets chosen by their ground-truth attributes (test/helpers/drift-sets.ts): a reference of 30 ordinary
 * daytime images against 30 other ordinary daytime images (no alarm), the 9 night images, the 27 daytime rain and
 * snow images, and the same 30 daytime images labeled by a swapped detector (YOLOX-Nano without tiling: one 416-px
 * view of the frame instead of the frame plus overlapping crops). Each set is labeled once for the file.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { DriftResultSchema, type DriftResult } from '../src/core/drift';
import { main } from '../src/cli/main';
import type { CliIo } from '../src/cli/io';
import { driftSets, type DriftSets } from './helpers/drift-sets';
import { modelsDir } from './helpers/shared';

let work: string;
let sets: DriftSets;

function recordingIo(): CliIo & { out: string; err: string } {
  const io = { out: '', err: '', stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'drift-real-'));
  sets = await driftSets();
  // One labeling run for every set (links to the shared images, one folder per set), then each set's label files
  // copied into its own folder, as `label` would have written them for that set alone.
  for (const [set, files] of Object.entries(sets) as Array<[keyof DriftSets, string[]]>) {
    await fs.mkdir(path.join(work, 'images', set), { recursive: true });
    for (const file of files) await fs.symlink(file, path.join(work, 'images', set, path.basename(file)));
  }
  const io = recordingIo();
  const code = await main(['label', path.join(work, 'images'), '--out', path.join(work, 'all'), '--models-dir', modelsDir], io);
  assert.equal(code, 0, io.err);
  for (const [set, files] of Object.entries(sets)) {
    await fs.mkdir(path.join(work, set, 'labels'), { recursive: true });
    for (const file of files) {
      const stem = path.basename(file, path.extname(file));
      await fs.copyFile(path.join(work, 'all', 'labels', `${stem}.json`), path.join(work, set, 'labels', `${stem}.json`));
    }
  }
  await fs.writeFile(path.join(work, 'swapped.json'), JSON.stringify({ detector: { provider: 'onnx', tiling: false } }));
  const swapped = await main(
    [
      'label',
      path.join(work, 'images', 'day'),
      '--out',
      path.join(work, 'swapped'),
      '--models-dir',
      modelsDir,
      '--config',
      path.join(work, 'swapped.json'),
    ],
    io,
  );
  assert.equal(swapped, 0, io.err);
});

after(() => fs.rm(work, { recursive: true, force: true }));

async function drift(t: TestContext, current: string): Promise<DriftResult & { table: string }> {
  const io = recordingIo();
  const out = path.join(work, `${current}-drift.json`);
  const code = await main(['drift', '--reference', path.join(work, 'reference'), '--current', path.join(work, current), '--out', out], io);
  assert.equal(code, 0, io.err);
  const result = DriftResultSchema.parse(JSON.parse(await fs.readFile(out, 'utf8')));
  // The measured scores, for the record (node --test prints diagnostics).
  t.diagnostic(`reference (30 daytime) vs ${current}:\n${io.out}`);
  return { ...result, table: io.out };
}

const flagged = (result: DriftResult) => result.metrics.filter((m) => m.drift).map((m) => m.name);

test('the sets are what the ground truth says: 30 + 30 ordinary daytime, 9 night, 27 daytime rain or snow', () => {
  assert.deepEqual(Object.fromEntries(Object.entries(sets).map(([k, v]) => [k, v.length])), {
    reference: 30,
    day: 30,
    night: 9,
    weather: 27,
  });
  assert.equal(new Set([...sets.reference, ...sets.day]).size, 60, 'reference and day share no image');
});

test('two ordinary daytime sets of 30 images: no alarm, although several scores differ by chance', async (t) => {
  const result = await drift(t, 'day');
  assert.equal(result.drift, false, result.table);
  assert.deepEqual(flagged(result), []);
  // What the sample-size rule is for: some scores reach their threshold by chance and are not significant.
  const brightness = result.metrics.find((m) => m.name === 'input.brightness')!;
  assert.ok(brightness.pValue > result.alpha, result.table);
  assert.match(result.table, /no drift/);
});

test('night images: alarms on the input (night-like share, brightness) and on the answered time of day', async (t) => {
  const result = await drift(t, 'night');
  assert.equal(result.drift, true, result.table);
  for (const name of ['input.nightLike', 'input.brightness', 'output.attributes.timeofday'])
    assert.ok(flagged(result).includes(name), `${name} drifted\n${result.table}`);
  const night = result.metrics.find((m) => m.name === 'input.nightLike')!;
  assert.equal(night.score, 1, 'every night image is night-like, no reference image is');
  assert.ok(!flagged(result).includes('input.format'), 'same camera, same format');
});

test('rain and snow by day: an alarm on the weather answers, none on night-likeness or time of day', async (t) => {
  const result = await drift(t, 'weather');
  assert.equal(result.drift, true, result.table);
  assert.ok(flagged(result).includes('output.attributes.weather'), result.table);
  for (const name of ['input.nightLike', 'output.attributes.timeofday', 'input.format'])
    assert.ok(!flagged(result).includes(name), `${name} did not drift\n${result.table}`);
});

test('a swapped detector on daytime images: alarms on the detector output and its latency, none on the input', async (t) => {
  const result = await drift(t, 'swapped');
  assert.equal(result.drift, true, result.table);
  assert.ok(flagged(result).includes('output.classes'), result.table);
  assert.ok(flagged(result).includes('software.latencyMs'), result.table);
  assert.deepEqual(
    flagged(result).filter((name) => name.startsWith('input.') || name.startsWith('output.attributes.')),
    [],
    'the images and the scene model did not change',
  );
});

test('bad arguments: a missing folder or invalid thresholds exit with 2 and say why', async () => {
  const io = recordingIo();
  const missing = await main(
    ['drift', '--reference', path.join(work, 'nope'), '--current', path.join(work, 'day'), '--out', path.join(work, 'x.json')],
    io,
  );
  assert.equal(missing, 2);
  assert.match(io.err, /--reference '.*nope' is not a folder/);
  const thresholds = path.join(work, 'thresholds.json');
  await fs.writeFile(thresholds, JSON.stringify({ alpha: 2, byTest: { ks: 0.3, chi: 1 } }));
  const bad = recordingIo();
  const code = await main(
    [
      'drift',
      '--reference',
      path.join(work, 'reference'),
      '--current',
      path.join(work, 'day'),
      '--out',
      path.join(work, 'x.json'),
      '--thresholds',
      thresholds,
    ],
    bad,
  );
  assert.equal(code, 2);
  assert.match(bad.err, /alpha/);
  assert.match(bad.err, /chi/);
});

test('--thresholds moves the line: with alpha 0.05 and a KS threshold of 0.35 the daytime brightness is flagged', async () => {
  const thresholds = path.join(work, 'loose.json');
  await fs.writeFile(thresholds, JSON.stringify({ alpha: 0.05, metrics: { 'input.brightness': 0.35 } }));
  const io = recordingIo();
  const out = path.join(work, 'loose-drift.json');
  const code = await main(
    ['drift', '--reference', path.join(work, 'reference'), '--current', path.join(work, 'day'), '--out', out, '--thresholds', thresholds],
    io,
  );
  assert.equal(code, 0, io.err);
  const result = DriftResultSchema.parse(JSON.parse(await fs.readFile(out, 'utf8')));
  const brightness = result.metrics.find((m) => m.name === 'input.brightness')!;
  assert.equal(brightness.threshold, 0.35);
  // Measured: D = 0.367 with p = 0.026 between the two daytime sets: above the looser line, below the default alpha.
  assert.ok(brightness.score >= 0.35 && brightness.pValue < 0.05, io.out);
  assert.equal(brightness.drift, true, io.out);
  assert.equal(result.drift, true);
});
