/**
 * Drift without labels, the pure parts (src/core/drift): the tests against known values, the sample-size rule,
 * profiles (fixed bins that add up), thresholds, the reference of a batch, and the image statistics on real frames
 * with their cost.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  categoricalDrift,
  compareProfiles,
  DEFAULT_DRIFT_THRESHOLDS,
  DriftThresholdsSchema,
  imageStats,
  ksDrift,
  mergeProfiles,
  parseDriftReference,
  profileOf,
  referenceFor,
  shareDrift,
  thresholdFor,
  type DriftProfile,
  type ProfiledBatch,
} from '../src/core/drift';
import { chiSquareSurvival } from '../src/core/drift/statistics';
import type { Frame } from '../src/core/labels/schema';
import { readImage } from '../src/adapters/image/intake';
import { sampleImagesDir, sampleLabelsDir } from './helpers/shared';

const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);

test("Fisher's exact test: the lady tasting tea (3 of 4 right) has p = 0.486; 10/10 against 0/10 has p = 1.08e-5", () => {
  const tea = shareDrift(3, 4, 1, 4);
  close(tea.pValue, 34 / 70, 1e-9, 'p');
  assert.equal(tea.score, 0.5);
  const extreme = shareDrift(10, 10, 0, 10);
  close(extreme.pValue, 2 / 184756, 1e-12, 'p'); // 2 / C(20, 10)
  assert.equal(shareDrift(0, 0, 3, 10).pValue, 1, 'nothing to compare with');
});

test('chi-square survival matches the tables: 3.841 (1 df) and 5.991 (2 df) at 0.05, 21.666 (9 df) at 0.01', () => {
  close(chiSquareSurvival(3.841459, 1), 0.05, 1e-6, '1 df');
  close(chiSquareSurvival(5.991465, 2), 0.05, 1e-6, '2 df');
  close(chiSquareSurvival(21.66599, 9), 0.01, 1e-6, '9 df');
  close(chiSquareSurvival(0.5, 30), 1, 1e-12, 'far below the mean');
});

test('Jensen-Shannon distance: 0 for the same shares, 1 for disjoint histograms; the chi-square p follows the counts', () => {
  const same = categoricalDrift({ car: 10, person: 5 }, { car: 200, person: 100 });
  assert.equal(same.score, 0);
  close(same.pValue, 1, 1e-9, 'same shares');
  const disjoint = categoricalDrift({ car: 30 }, { person: 30 });
  close(disjoint.score, 1, 1e-12, 'disjoint');
  assert.ok(disjoint.pValue < 1e-10);
  // The same shift of shares, ten times the counts: the same distance, a far smaller p-value.
  const small = categoricalDrift({ a: 6, b: 4 }, { a: 4, b: 6 });
  const large = categoricalDrift({ a: 60, b: 40 }, { a: 40, b: 60 });
  close(small.score, large.score, 1e-12, 'distance does not depend on size');
  assert.ok(small.pValue > 0.3 && large.pValue < 0.01, `${small.pValue} ${large.pValue}`);
});

test('Kolmogorov-Smirnov on bins: D is the largest gap of the cumulative shares; p matches the asymptotic 0.046 at D = 0.061, n = m = 1000', () => {
  const same = ksDrift([5, 10, 5], [50, 100, 50]);
  assert.equal(same.score, 0);
  assert.equal(same.pValue, 1);
  const shifted = ksDrift([1000, 0], [939, 61]);
  close(shifted.score, 0.061, 1e-12, 'D');
  close(shifted.pValue, 0.0464, 0.002, 'p');
  const apart = ksDrift([30, 0, 0], [0, 0, 9]);
  assert.equal(apart.score, 1);
  assert.ok(apart.pValue < 1e-3, String(apart.pValue));
});

/** A labeled frame as the pipeline writes it, with the parts drift reads. */
function frame(i: number, options: { night?: boolean; boxes?: number; category?: string; latencyMs?: number; hash?: string } = {}): Frame {
  const brightness = options.night ? 0.1 + (i % 5) * 0.01 : 0.4 + (i % 7) * 0.02;
  return {
    name: `f${i}.jpg`,
    attributes: { weather: 'clear', timeofday: options.night ? 'night' : 'daytime', scene: 'city street' },
    labels: Array.from({ length: options.boxes ?? 3 }, (_, k) => ({
      id: String(k + 1),
      category: options.category ?? 'car',
      score: 0.3 + ((i + k) % 7) / 10,
      box2d: { x1: 0, y1: 0, x2: 10, y2: 10 },
    })),
    provenance: {
      schemaVersion: 1,
      configHash: options.hash ?? 'h1',
      image: {
        sha256: 'x',
        width: 1280,
        height: 720,
        format: 'jpeg',
        bytes: 1,
        stats: { brightness, contrast: 0.2, saturation: 0.3, skyBrightness: brightness, nightLike: options.night ?? false },
      },
      scene: { provider: 'local', model: 'm', raw: null, confidence: {}, latencyMs: 5 },
      detector: { provider: 'onnx', model: 'yolox-nano', latencyMs: 100, boxesBeforeThresholds: 3, attempts: i % 10 === 0 ? 2 : 1 },
      latencyMs: options.latencyMs ?? 120,
    },
  };
}

const frames = (n: number, options: Parameters<typeof frame>[1] = {}, from = 0) =>
  Array.from({ length: n }, (_, i) => frame(from + i, options));

test('a profile counts images, stats, boxes, scores, attributes, retries and failures in fixed bins', () => {
  const profile = profileOf(
    [...frames(9), frame(9, { night: true })],
    [{ kind: 'timeout' }, { kind: 'invalid-image' }, { kind: 'timeout' }],
  );
  assert.equal(profile.images, 10);
  assert.equal(profile.failed, 3);
  assert.deepEqual(profile.software.failures, { timeout: 2, 'invalid-image': 1 });
  assert.deepEqual(profile.input.formats, { 'jpeg 1280x720': 10 });
  assert.equal(profile.input.nightLike, 1);
  assert.equal(
    profile.input.brightness.reduce((a, b) => a + b, 0),
    10,
  );
  assert.equal(profile.output.boxesPerImage[3], 10);
  assert.deepEqual(profile.output.classes, { car: 30 });
  assert.deepEqual(profile.output.attributes.timeofday, { daytime: 9, night: 1 });
  assert.equal(profile.software.retried, 1, 'frame 0 needed two detector requests');
  assert.deepEqual(profile.configHashes, ['h1']);
  assert.ok(JSON.stringify(profile).length < 4000, `small: ${JSON.stringify(profile).length} bytes`);
  // A frame without provenance still counts for its boxes and attributes.
  const bare = profileOf([{ name: 'x.jpg', labels: [{ id: '1', category: 'bus', box2d: { x1: 0, y1: 0, x2: 1, y2: 1 } }] }]);
  assert.equal(bare.input.measured, 0);
  assert.deepEqual(bare.output.classes, { bus: 1 });
});

test('profiles add up: the merge of two batches is the profile of their images together', () => {
  const a = frames(12);
  const b = [...frames(5, { night: true }, 12), ...frames(4, { boxes: 7, category: 'truck' }, 17)];
  assert.deepEqual(mergeProfiles([profileOf(a, [{ kind: 'timeout' }]), profileOf(b)]), profileOf([...a, ...b], [{ kind: 'timeout' }]));
});

test('the sample-size rule: the same change is no alarm on 8 images a side and an alarm on 80', () => {
  // A fifth of the images night-like against none: the share differs by 0.2 (the default threshold) either way.
  const mixed = (n: number) => [...frames((n * 4) / 5), ...frames(n / 5, { night: true }, n)];
  const small = compareProfiles(profileOf(frames(10)), profileOf(mixed(10)), DEFAULT_DRIFT_THRESHOLDS);
  const large = compareProfiles(profileOf(frames(100)), profileOf(mixed(100)), DEFAULT_DRIFT_THRESHOLDS);
  const night = (r: typeof small) => r.metrics.find((m) => m.name === 'input.nightLike')!;
  assert.equal(night(small).score, night(large).score);
  assert.equal(night(small).drift, false, JSON.stringify(night(small)));
  assert.equal(night(large).drift, true, JSON.stringify(night(large)));
  // Too few images on a side: not judged at all.
  const tiny = compareProfiles(profileOf(frames(30)), profileOf(frames(3, { night: true })), DEFAULT_DRIFT_THRESHOLDS);
  assert.match(tiny.metrics.find((m) => m.name === 'input.nightLike')!.note ?? '', /fewer than 5 samples/);
  assert.equal(tiny.drift, false);
});

test('identical batches never drift; flagged metrics come first; latency needs a gross change', () => {
  const same = compareProfiles(profileOf(frames(50)), profileOf(frames(50, {}, 0)), DEFAULT_DRIFT_THRESHOLDS);
  assert.equal(same.drift, false);
  assert.ok(same.metrics.every((m) => m.score === 0));
  const slower = compareProfiles(profileOf(frames(50)), profileOf(frames(50, { night: true, latencyMs: 400 })), DEFAULT_DRIFT_THRESHOLDS);
  assert.ok(slower.metrics[0]!.drift);
  const firstQuiet = slower.metrics.findIndex((m) => !m.drift);
  assert.ok(
    slower.metrics.slice(firstQuiet).every((m) => !m.drift),
    'drifted first',
  );
  assert.equal(slower.metrics.find((m) => m.name === 'software.latencyMs')!.threshold, 0.5);
  assert.equal(slower.metrics.find((m) => m.name === 'software.latencyMs')!.drift, true);
});

test('thresholds: defaults, a metric, a prefix for every class; unknown keys are refused', () => {
  assert.equal(thresholdFor(DEFAULT_DRIFT_THRESHOLDS, 'input.brightness', 'ks'), 0.3);
  assert.equal(thresholdFor(DEFAULT_DRIFT_THRESHOLDS, 'software.latencyMs', 'ks'), 0.5);
  const custom = DriftThresholdsSchema.parse({ byTest: { ks: 0.4 }, metrics: { 'output.score': 0.5, 'output.score.car': 0.2 } });
  assert.equal(custom.byTest.js, 0.25, 'the other defaults stay');
  assert.equal(thresholdFor(custom, 'input.brightness', 'ks'), 0.4);
  assert.equal(thresholdFor(custom, 'output.score.bus', 'ks'), 0.5);
  assert.equal(thresholdFor(custom, 'output.score.car', 'ks'), 0.2);
  assert.equal(DriftThresholdsSchema.safeParse({ alfa: 0.01 }).success, false);
  assert.equal(DriftThresholdsSchema.safeParse({ alpha: 0 }).success, false);
});

const profiled = (batchId: string, completedAt: string, images: number, hash = 'h1'): ProfiledBatch => ({
  batchId,
  completedAt,
  profile: profileOf(frames(images, { hash })),
});

test('reference: the first batches after a deployment (same config hash) until enough images; pinned batches; a period', () => {
  const all = [
    profiled('b1', '2026-12-01T01:00:00Z', 30),
    profiled('b2', '2026-12-01T02:00:00Z', 30),
    profiled('b3', '2026-12-01T03:00:00Z', 30),
    profiled('c1', '2026-12-02T01:00:00Z', 30, 'h2'),
    profiled('b4', '2026-12-02T02:00:00Z', 30),
  ];
  const first = parseDriftReference('', 50);
  assert.deepEqual(referenceFor(all[0]!, all, first), { status: 'reference', batchIds: ['b1', 'b2'] });
  const b3 = referenceFor(all[2]!, all, first);
  assert.equal(b3.status, 'compared');
  assert.deepEqual(b3.batchIds, ['b1', 'b2']);
  assert.equal(b3.status === 'compared' && b3.profile.images, 60);
  assert.deepEqual(referenceFor(all[3]!, all, first), { status: 'reference', batchIds: ['c1'] }, 'a new deployment starts its own');
  const pinned = parseDriftReference(' b2 , b3 ', 50);
  assert.deepEqual(pinned, { kind: 'batches', batchIds: ['b2', 'b3'] });
  assert.deepEqual(referenceFor(all[4]!, all, pinned).batchIds, ['b2', 'b3']);
  assert.equal(referenceFor(all[1]!, all, pinned).status, 'reference');
  const period = parseDriftReference('2026-12-01T00:00:00Z/2026-12-01T02:30:00Z', 50);
  assert.deepEqual(referenceFor(all[4]!, all, period).batchIds, ['b1', 'b2']);
  assert.equal(referenceFor(all[4]!, [all[4]!], pinned).status, 'no-reference');
  assert.throws(() => parseDriftReference('2026-12-02T00:00:00Z/2026-12-01T00:00:00Z', 50), /ends before it starts/);
});

test('image statistics on the real sample: night frames are dark and night-like, daytime ones are not; under 2 ms a frame', async () => {
  const byName = new Map<string, string>();
  for (const file of readdirSync(sampleLabelsDir)) {
    const label = JSON.parse(readFileSync(path.join(sampleLabelsDir, file), 'utf8')) as {
      image_filename: string;
      metadata: { timeofday: string };
    };
    byName.set(label.image_filename, label.metadata.timeofday);
  }
  const night: number[] = [];
  const day: number[] = [];
  let nightLike = 0;
  let dayNightLike = 0;
  let elapsed = 0;
  let measured = 0;
  for (const [name, timeofday] of byName) {
    if (timeofday !== 'night' && timeofday !== 'daytime') continue;
    const image = await readImage(readFileSync(path.join(sampleImagesDir, name)), name, { maxBytes: 2e7, maxPixels: 4e7, minSide: 32 });
    const started = performance.now();
    const stats = imageStats(image.rgb, image.width, image.height);
    elapsed += performance.now() - started;
    measured++;
    (timeofday === 'night' ? night : day).push(stats.brightness);
    if (stats.nightLike && timeofday === 'night') nightLike++;
    if (stats.nightLike && timeofday !== 'night') dayNightLike++;
  }
  assert.equal(night.length, 4);
  assert.equal(nightLike, 4, 'every night frame of the sample is night-like');
  assert.equal(dayNightLike, 0, 'no daytime frame is');
  assert.ok(Math.max(...night) < Math.min(...day), `night ${night} below day ${Math.min(...day)}`);
  // Measured about 0.07 ms on a 1280x720 frame here; the bound catches a full-resolution pass (~100 times more).
  assert.ok(elapsed / measured < 2, `${(elapsed / measured).toFixed(3)} ms per frame`);
});

test('image statistics: grey is unsaturated without contrast, a half-black half-white frame has contrast 0.5', () => {
  const width = 64;
  const height = 48;
  const grey = new Uint8Array(width * height * 3).fill(128);
  const g = imageStats(grey, width, height);
  close(g.brightness, 128 / 255, 1e-3, 'brightness');
  assert.equal(g.contrast, 0);
  assert.equal(g.saturation, 0);
  const split = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = width / 2; x < width; x++) split.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  const s = imageStats(split, width, height);
  close(s.contrast, 0.5, 0.02, 'contrast');
  const red = new Uint8Array(width * height * 3);
  for (let i = 0; i < red.length; i += 3) red[i] = 200;
  assert.equal(imageStats(red, width, height).saturation, 1);
  assert.equal(imageStats(new Uint8Array(width * height * 3), width, height).nightLike, true, 'black is night-like');
});

test('stored profiles parse with their schema (what the batch documents keep)', async () => {
  const { DriftProfileSchema } = await import('../src/core/drift');
  const p: DriftProfile = profileOf(frames(3));
  assert.deepEqual(DriftProfileSchema.parse(JSON.parse(JSON.stringify(p))), p);
  assert.equal(DriftProfileSchema.safeParse({ ...p, input: { ...p.input, brightness: [1, 2] } }).success, false, 'bins are fixed');
});
