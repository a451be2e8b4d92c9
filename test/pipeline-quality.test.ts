import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadLabelingConfig } from '../src/adapters/config/load-config';
import { labelImage } from '../src/core/pipeline/label-image';
import { evaluate } from '../src/core/evaluation/evaluate';
import { loadLabels } from '../src/adapters/files/load-labels';
import { createLabelingSetup } from '../src/adapters/providers/factory';
import { createLimiter } from '../src/adapters/concurrency/limits';
import { sampleImagesDir, sampleLabelsDir, sharedDir } from './helpers/shared';

/**
 * Floors measured on the 60 real sample images with the offline default (YOLOX-Nano, 5 views; local scene
 * classifier; score threshold 0.3), set a little below the measurement so that a broken decoder, a wrong colour
 * order or a lost view fails them. Measured: AP50 car 0.474, pedestrian 0.475, traffic light 0.279, truck 0.117;
 * attributes (the local model abstains below its cross-validated minConfidence, so coverage and the accuracy on the
 * answered images are what is floored): weather coverage 0.583 / answered 1.000, timeofday 1.000 / 1.000, scene
 * 0.967 / 0.793 (the model before calibration and abstention: accuracy 0.883, 0.95, 0.65). The scene classifier saw 42 of these images in
 * training (its held-out figures are asserted in scene-local.test.ts), so attribute floors here guard plumbing, not
 * quality.
 */
const FLOORS = {
  AP50: { car: 0.42, pedestrian: 0.4, 'traffic light': 0.22, truck: 0.07 },
  answeredAccuracy: { weather: 0.9, timeofday: 0.9, scene: 0.7 },
  coverage: { weather: 0.5, timeofday: 0.95, scene: 0.9 },
} as const;

test('the offline default pipeline on the 60-image sample meets its measured quality floors', { timeout: 300_000 }, async (t) => {
  const setup = await createLabelingSetup(loadLabelingConfig({}), { modelsDir: path.join(sharedDir, 'models'), allowDownload: false });
  try {
    const names = fs.readdirSync(sampleImagesDir).sort();
    const limiter = createLimiter(setup.config.concurrency);
    const labeled = await Promise.all(
      names.map((name) =>
        limiter.run(async () => (await labelImage(fs.readFileSync(path.join(sampleImagesDir, name)), name, setup)).frame),
      ),
    );
    const gt = await loadLabels(sampleLabelsDir);
    const report = evaluate({ gt: gt.frames, predictions: labeled });
    assert.equal(report.images.withoutPredictions, 0);
    for (const [name, floor] of Object.entries(FLOORS.AP50)) {
      const value = report.detection.perClass[name as keyof typeof FLOORS.AP50]!.AP50;
      assert.ok(value >= floor, `AP50 ${name} ${value.toFixed(3)} < ${floor}`);
    }
    for (const [name, floor] of Object.entries(FLOORS.answeredAccuracy)) {
      const r = report.attributes.perAttribute[name]!;
      t.diagnostic(
        `${name}: accuracy ${r.accuracy.toFixed(3)}, coverage ${r.coverage?.toFixed(3)}, on answered ${r.answeredAccuracy?.toFixed(3)}`,
      );
      assert.ok(r.answeredAccuracy! >= floor, `${name} accuracy on answered ${r.answeredAccuracy?.toFixed(3)} < ${floor}`);
      assert.ok(r.coverage! >= FLOORS.coverage[name as keyof typeof FLOORS.coverage], `${name} coverage ${r.coverage?.toFixed(3)}`);
    }
  } finally {
    await Promise.allSettled([setup.scene?.close?.(), setup.detector?.close?.()]);
  }
});
