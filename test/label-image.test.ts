import { readImage } from '../src/adapters/image/intake';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { labelImage, toLabels, type LabelingSetup } from '../src/core/pipeline/label-image';
import { imageStats } from '../src/core/drift';
import { LabelProvenanceSchema } from '../src/core/pipeline/provenance';
import { configHash } from '../src/core/config/labeling-config';
import { loadLabelingConfig } from '../src/adapters/config/load-config';
import { InvalidImageError, ThrottledError } from '../src/core/pipeline/errors';
import type { DetectedBox, Detector, SceneClassifier } from '../src/core/pipeline/types';
import { FrameSchema } from '../src/core/labels/schema';
import { sampleImagesDir } from './helpers/shared';

const imageName = '0a0a0b1a-7c39d841.jpg';
const imageBytes = () => fs.readFileSync(path.join(sampleImagesDir, fs.readdirSync(sampleImagesDir).sort()[0]!));

const box = (category: DetectedBox['category'], score: number, x1: number): DetectedBox => ({
  category,
  score,
  box2d: { x1, y1: 10, x2: x1 + 20.123456, y2: 40 },
  sourceCategory: category,
});

// Interface-level stand-ins: these tests are about the pipeline's own logic, not about any model.
function scriptedDetector(boxes: DetectedBox[], delayMs = 0): Detector & { calls: number } {
  return {
    calls: 0,
    model: { provider: 'scripted', model: 'boxes-v1' },
    async detect(image) {
      this.calls++;
      assert.equal(image.rgb.length, image.width * image.height * 3);
      await new Promise((r) => setTimeout(r, delayMs));
      return { boxes, attempts: 2, details: { views: 1 } };
    },
  };
}

const scriptedScene = (delayMs = 0): SceneClassifier => ({
  model: { provider: 'scripted', model: 'scene-v1', apiVersion: '2024-10-21' },
  async classify() {
    await new Promise((r) => setTimeout(r, delayMs));
    return {
      attributes: { weather: 'clear', timeofday: 'daytime', scene: 'city street' },
      confidence: { weather: 0.9, timeofday: 0.8, scene: 0.7 },
      raw: '{"weather":"sunny","timeofday":"day","scene":"urban street"}',
      usage: { promptTokens: 100, completionTokens: 20 },
      prompt: { version: 'scene-v1', sha256: 'abc' },
      attempts: 1,
    };
  },
});

test('per-class thresholds, score order with position tie-break, ids 1..n, rounding', () => {
  const config = loadLabelingConfig({ thresholds: { default: 0.5, perClass: { 'traffic light': 0.2 } } });
  const labels = toLabels(
    [box('car', 0.4, 0), box('car', 0.9, 50), box('traffic light', 0.25, 5), box('car', 0.9, 10), box('bus', 0.5, 3)],
    config,
  );
  assert.deepEqual(
    labels.map((l) => [l.id, l.category, l.score, l.box2d?.x1]),
    [
      ['1', 'car', 0.9, 10],
      ['2', 'car', 0.9, 50],
      ['3', 'bus', 0.5, 3],
      ['4', 'traffic light', 0.25, 5],
    ],
  );
  assert.equal(labels[0]!.box2d!.x2, 30.12);
});

test('labelImage: a frame with attributes, scored boxes and full provenance', async () => {
  const config = loadLabelingConfig({});
  const setup: LabelingSetup = {
    config,
    configHash: configHash(config),
    decodeImage: readImage,
    scene: scriptedScene(),
    detector: scriptedDetector([box('car', 0.8, 100), box('car', 0.1, 0)]),
  };
  const { frame, image } = await labelImage(imageBytes(), imageName, setup, { now: () => new Date('2026-11-23T00:00:00Z') });
  assert.doesNotThrow(() => FrameSchema.parse(frame));
  assert.equal(frame.name, imageName);
  assert.deepEqual(frame.attributes, { weather: 'clear', timeofday: 'daytime', scene: 'city street' });
  assert.equal(frame.labels.length, 1, 'the 0.1 box is below the default 0.3');
  assert.ok(frame.labels.every((l) => typeof l.score === 'number'));
  const provenance = LabelProvenanceSchema.parse(frame.provenance);
  assert.equal(provenance.configHash, setup.configHash);
  assert.equal(provenance.createdAt, '2026-11-23T00:00:00.000Z');
  const stats = imageStats(image.rgb, image.width, image.height);
  assert.deepEqual(provenance.image, { sha256: image.sha256, width: 1280, height: 720, format: 'jpeg', bytes: imageBytes().length, stats });
  assert.ok(stats.brightness > 0.2 && stats.brightness < 0.7 && !stats.nightLike, 'a daytime frame: mid brightness, not night-like');
  assert.equal(provenance.scene?.raw, '{"weather":"sunny","timeofday":"day","scene":"urban street"}');
  assert.deepEqual(provenance.scene?.usage, { promptTokens: 100, completionTokens: 20 });
  assert.equal(provenance.scene?.apiVersion, '2024-10-21');
  assert.deepEqual(provenance.scene?.prompt, { version: 'scene-v1', sha256: 'abc' });
  assert.equal(provenance.detector?.boxesBeforeThresholds, 2);
  assert.equal(provenance.detector?.attempts, 2);
  assert.deepEqual(provenance.thresholds, { default: 0.3, perClass: {} });
});

test('scene and detector run concurrently', async () => {
  const config = loadLabelingConfig({});
  const setup: LabelingSetup = {
    config,
    configHash: 'x',
    decodeImage: readImage,
    scene: scriptedScene(300),
    detector: scriptedDetector([], 300),
  };
  const started = performance.now();
  await labelImage(imageBytes(), imageName, setup);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 550, `took ${elapsed.toFixed(0)} ms: the providers ran one after the other`);
});

test('bad bytes fail as InvalidImageError before any provider is called', async () => {
  const config = loadLabelingConfig({});
  const detector = scriptedDetector([]);
  await assert.rejects(
    labelImage(Buffer.from('not an image at all'), 'x.jpg', { config, configHash: 'x', decodeImage: readImage, detector }),
    (error: unknown) => error instanceof InvalidImageError && /x\.jpg: text, not an image/.test(error.message),
  );
  assert.equal(detector.calls, 0);
});

test('provider failures keep their type (retryable throttling reaches the caller)', async () => {
  const config = loadLabelingConfig({});
  const detector: Detector = {
    model: { provider: 'scripted', model: 'busy' },
    detect: async () => {
      throw new ThrottledError('busy', { provider: 'scripted', retryAfterMs: 1000 });
    },
  };
  await assert.rejects(
    labelImage(imageBytes(), imageName, { config, configHash: 'x', decodeImage: readImage, detector }),
    (e: unknown) => e instanceof ThrottledError && e.retryable,
  );
});

test('config: defaults are the offline local providers; the hash follows every setting', () => {
  const defaults = loadLabelingConfig({});
  assert.equal(defaults.scene.provider, 'local');
  assert.equal(defaults.detector.provider, 'onnx');
  assert.notEqual(configHash(defaults), configHash(loadLabelingConfig({ thresholds: { default: 0.31 } })));
  assert.equal(configHash(defaults), configHash(loadLabelingConfig({ concurrency: 2 })), 'explicit defaults hash the same');
  assert.equal(configHash(defaults), configHash(loadLabelingConfig({ concurrency: 8 })), 'pacing does not change outputs');
  assert.notEqual(configHash(defaults), configHash(loadLabelingConfig({ detector: { provider: 'onnx', tiling: false } })));
});
