import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sampleImagesDir, sampleLabelsDir, scenesDir, sharedDir } from './helpers/shared';
import { loadLabels } from '../src/adapters/files/load-labels';
import { writeScalabelList } from '../src/adapters/files/write-labels';
import { LabelingConfigSchema } from '../src/core/config/labeling-config';
import {
  calibrateChunks,
  CalibrationSchema,
  SuggestedThresholdsSchema,
  type SuggestedThresholds,
} from '../src/core/evaluation/calibration';
import { imageKey } from '../src/core/evaluation/dataset';
import { matchChunk } from '../src/core/evaluation/chunks';
import { evaluate } from '../src/core/evaluation/evaluate';
import { FrameSchema, type Frame } from '../src/core/labels/schema';
import { BDD_CLASSES, type BddClass } from '../src/core/taxonomy/categories';
import { runCalibrate } from '../src/cli/calibrate-command';
import { main } from '../src/cli/main';
import { UsageError } from '../src/cli/usage-error';
import type { CliIo } from '../src/cli/io';

const modelsDir = path.join(sharedDir, 'models');
/** The thresholds a config without any gets (labeling-config.ts): what "the default" means below. */
const builtInThresholds = LabelingConfigSchema.shape.thresholds.parse(undefined);
/** Out-of-sample, the calibrated thresholds may lose at most this much pooled F1 to the built-in ones. */
const F1_MARGIN = 0.02;

let work: string;
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'autolabel-calibrate-'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

function recorder() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}

async function calibrateInProcess(...args: string[]) {
  const r = recorder();
  const status = await runCalibrate(args, r.io);
  return { status, stdout: r.stdout(), stderr: r.stderr() };
}

// ---------------------------------------------------------------------------------------------------------------
// Arguments

test('a bad --target, --iou or --min-gt is a usage error (main turns it into exit 2), before any input is read', async () => {
  const base = ['--gt', path.join(work, 'missing-gt'), '--pred', path.join(work, 'missing-pred'), '--out', path.join(work, 'never.json')];
  for (const [extra, message] of [
    [['--target', 'accuracy=0.9'], /--target: must be f1, precision=<p> or recall=<r>/],
    [['--target', 'precision=1.5'], /--target: must be f1/],
    [['--iou', '0.52'], /--iou must be one of 0.5, 0.55, \.\.\., 0.95/],
    [['--min-gt', '0'], /--min-gt must be >= 1/],
    [['--bogus'], /Unknown option '--bogus'/],
  ] as const) {
    await assert.rejects(calibrateInProcess(...base, ...extra), (error: Error) => {
      assert.ok(error instanceof UsageError, `${extra.join(' ')}: ${error.name}`);
      assert.match(error.message, message);
      assert.match(error.message, /autolabel calibrate --gt/, 'the usage follows the problem');
      return true;
    });
  }
  await assert.rejects(calibrateInProcess('--pred', 'p', '--out', 'o'), /--gt <dir\|file> is required/);
  assert.ok(!fs.existsSync(path.join(work, 'never.json')));
});

test('main maps a usage error to exit 2 (the code every command shares)', async () => {
  const r = recorder();
  assert.equal(await main(['evaluate', '--iou', 'x'], r.io), 2);
});

// ---------------------------------------------------------------------------------------------------------------
// Real data

/** `autolabel label` in-process with a config that keeps boxes down to 0.05; returns the labels folder. */
async function labelLow(images: string, name: string): Promise<string> {
  const config = path.join(work, 'low-threshold.json');
  fs.writeFileSync(config, JSON.stringify({ thresholds: { default: 0.05 } }));
  const out = path.join(work, name);
  const r = recorder();
  const status = await main(['label', images, '--out', out, '--models-dir', modelsDir, '--config', config], r.io);
  assert.equal(status, 0, r.stderr());
  return path.join(out, 'labels');
}

/** Keep the boxes a labeling config with these thresholds would have written (label-image.ts: score >= threshold). */
function applyThresholds(frames: readonly Frame[], t: { default: number; perClass: Partial<Record<BddClass, number>> }): Frame[] {
  const thresholdOf = (category: string) => t.perClass[category as BddClass] ?? t.default;
  return frames.map((f) => FrameSchema.parse({ ...f, labels: f.labels.filter((l) => (l.score ?? 0) >= thresholdOf(l.category)) }));
}

/** Pooled F1 of the evaluator's operating point (IoU 0.5, every kept box) at the given thresholds. */
const f1At = (gt: readonly Frame[], predictions: readonly Frame[], t: SuggestedThresholds | typeof builtInThresholds) =>
  evaluate({ gt, predictions: applyThresholds(predictions, t), options: { scoreThreshold: 0 } }).detection.overall;

const fmt = (o: { f1: number; precision: number; recall: number }) =>
  `F1 ${o.f1.toFixed(4)} (P ${o.precision.toFixed(3)}, R ${o.recall.toFixed(3)})`;

test(
  'real data: calibrate on the 60-image sample through the CLI, measure out of sample on 100 other images',
  { timeout: 300_000 },
  async (t) => {
    const samplePred = await labelLow(sampleImagesDir, 'sample');
    const scenesPred = await labelLow(path.join(scenesDir, 'images'), 'scenes');

    const out = path.join(work, 'calibration', 'sample.json');
    const result = await calibrateInProcess('--gt', sampleLabelsDir, '--pred', samplePred, '--out', out);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^car +708 /m, 'a per-class table');
    assert.match(result.stdout, /current thresholds: +F1 [0-9.]+ .*\n.*suggested thresholds: F1 [0-9.]+/);
    const written = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>;
    assert.equal(Object.keys(written)[0], 'thresholds', 'the part a config takes comes first');
    const calibration = CalibrationSchema.parse(written);
    const thresholds = SuggestedThresholdsSchema.parse(written['thresholds']);
    assert.deepEqual(LabelingConfigSchema.parse({ thresholds }).thresholds, thresholds);
    assert.ok(calibration.perClass.train!.note?.includes('fewer than 10'), 'train has 2 GT boxes in the sample');
    t.diagnostic(`calibrated on the sample: ${JSON.stringify(thresholds)}`);
    t.diagnostic(`in sample (60 images): built-in ${fmt(calibration.overall.current)} -> calibrated ${fmt(calibration.overall.suggested)}`);

    // Out of sample: 100 other BDD100K images (2018 labels, mapped to the 2020 names by the loader).
    const scenesGt = (await loadLabels(path.join(scenesDir, 'labels'))).frames;
    const scenesFrames = (await loadLabels(scenesPred)).frames;
    const before = f1At(scenesGt, scenesFrames, builtInThresholds);
    const after = f1At(scenesGt, scenesFrames, thresholds);
    t.diagnostic(`out of sample (bdd100k-scenes, 100 images): built-in ${fmt(before)} -> calibrated ${fmt(after)}`);

    // Two-fold within the sample: calibrate on one half, measure on the other (by name, so the halves are fixed).
    const sampleGt = (await loadLabels(sampleLabelsDir)).frames;
    const sampleFrames = (await loadLabels(samplePred)).frames;
    const names = sampleGt.map((f) => imageKey(f.name)).sort();
    const half = new Set(names.slice(0, names.length / 2));
    const split = <T extends Frame>(frames: readonly T[], first: boolean) => frames.filter((f) => half.has(imageKey(f.name)) === first);
    for (const first of [true, false]) {
      const fit = calibrateChunks([matchChunk(split(sampleGt, first), split(sampleFrames, first))], {
        target: { kind: 'f1' },
        iouThreshold: 0.5,
        current: builtInThresholds,
      });
      const gtOut = split(sampleGt, !first);
      const predOut = split(sampleFrames, !first);
      t.diagnostic(
        `sample half ${first ? 'A->B' : 'B->A'} (30 -> 30 images): built-in ${fmt(f1At(gtOut, predOut, builtInThresholds))} -> calibrated ${fmt(f1At(gtOut, predOut, fit.thresholds))}`,
      );
    }

    assert.ok(
      after.f1 >= before.f1 - F1_MARGIN,
      `out of sample the calibrated thresholds lose more than ${F1_MARGIN} F1: ${after.f1} vs ${before.f1}`,
    );
  },
);

test('the report of `autolabel evaluate` carries the same suggestion as `autolabel calibrate`', async () => {
  // Small and fast: 6 sample images with GT-derived predictions, through files as a user would pass them.
  const gt = (await loadLabels(sampleLabelsDir)).frames.slice(0, 6);
  const predictions = gt.map((f) =>
    FrameSchema.parse({ name: f.name, labels: f.labels.map((l, i) => ({ ...l, score: ((i * 37) % 100) / 100 })) }),
  );
  const gtFile = path.join(work, 'gt6.json');
  const predFile = path.join(work, 'pred6.json');
  await writeScalabelList(gtFile, gt);
  await writeScalabelList(predFile, predictions);
  const out = path.join(work, 'six.json');
  const calibrated = await calibrateInProcess('--gt', gtFile, '--pred', predFile, '--out', out, '--min-gt', '3');
  assert.equal(calibrated.status, 0, calibrated.stderr);
  const fromCli = CalibrationSchema.parse(JSON.parse(fs.readFileSync(out, 'utf8')));

  const evaluated = path.join(work, 'report6');
  const r = recorder();
  assert.equal(await main(['evaluate', '--gt', gtFile, '--pred', predFile, '--out', evaluated], r.io), 0, r.stderr());
  const report = JSON.parse(fs.readFileSync(path.join(evaluated, 'report.json'), 'utf8')) as { calibration: unknown };
  const fromReport = CalibrationSchema.parse(report.calibration);
  // Same matches and target; only the minimum GT differs, so compare the classes both calibrated.
  assert.ok(
    BDD_CLASSES.some((name) => fromReport.perClass[name]!.calibrated),
    'some class has 10 GT boxes in 6 images',
  );
  for (const name of BDD_CLASSES) {
    if (fromReport.perClass[name]!.calibrated) assert.equal(fromCli.thresholds.perClass[name], fromReport.thresholds.perClass[name], name);
  }
  assert.equal(fromCli.thresholds.default, fromReport.thresholds.default);
  const html = fs.readFileSync(path.join(evaluated, 'report.html'), 'utf8');
  assert.match(html, /<h2 id="suggested-title">Suggested thresholds<\/h2>/);
  assert.match(html, /<tr data-class="car"><th scope="row">car<\/th><td class="num">/);
});
