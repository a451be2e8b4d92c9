import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { sampleImagesDir, sampleLabelsDir, sharedDir } from './helpers/shared';
import { FrameSchema } from '../src/core/labels/schema';
import { LabelProvenanceSchema } from '../src/core/pipeline/provenance';
import { EvaluationReportSchema } from '../src/core/evaluation/report-schema';
import type { CliIo } from '../src/cli/io';
import { main } from '../src/cli/main';

const bin = path.resolve(__dirname, '..', 'bin', 'autolabel.js');
const modelsDir = path.join(sharedDir, 'models');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000 });

let work: string;
let imagesDir: string;
const realImages = fs.readdirSync(sampleImagesDir).sort().slice(0, 6);
const badImages = ['empty.jpg', 'notes.jpg', 'truncated.jpg', 'anim.gif'];

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'autolabel-label-'));
  imagesDir = path.join(work, 'images');
  fs.mkdirSync(path.join(imagesDir, 'nested'), { recursive: true });
  for (const [i, name] of realImages.entries()) {
    // Nested folders are walked; labels stay keyed by file name.
    fs.copyFileSync(path.join(sampleImagesDir, name), path.join(imagesDir, i % 2 ? 'nested' : '', name));
  }
  const jpeg = fs.readFileSync(path.join(sampleImagesDir, realImages[0]!));
  fs.writeFileSync(path.join(imagesDir, 'empty.jpg'), '');
  fs.writeFileSync(path.join(imagesDir, 'notes.jpg'), 'these are my notes, not a picture\n');
  fs.writeFileSync(path.join(imagesDir, 'truncated.jpg'), jpeg.subarray(0, jpeg.length >> 1));
  fs.writeFileSync(
    path.join(imagesDir, 'anim.gif'),
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } })
      .gif()
      .toBuffer(),
  );
  fs.writeFileSync(path.join(imagesDir, 'README.txt'), 'not an image file name');
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

const readJsonl = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

test('labels a folder offline: frames with provenance, overlays, COCO export, one error line per bad file (exit 1)', async () => {
  const out = path.join(work, 'out');
  const result = run('label', imagesDir, '--out', out, '--models-dir', modelsDir);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stdout, /10 images: 6 labeled, 0 reused .* 4 failed/);
  assert.match(result.stdout, /not labeled \(not an image file name\): 1 file/);

  for (const name of realImages) {
    const frame = FrameSchema.parse(JSON.parse(fs.readFileSync(path.join(out, 'labels', name.replace('.jpg', '.json')), 'utf8')));
    assert.equal(frame.name, name);
    assert.ok(frame.labels.length > 0, `${name} has boxes`);
    assert.ok(frame.labels.every((l) => typeof l.score === 'number' && l.score >= 0.3 && l.box2d));
    assert.ok(frame.attributes?.weather && frame.attributes.timeofday && frame.attributes.scene);
    const provenance = LabelProvenanceSchema.parse(frame.provenance);
    assert.equal(provenance.detector?.provider, 'onnx');
    assert.equal(provenance.scene?.provider, 'local');
    const overlay = await sharp(path.join(out, 'overlays', name)).metadata();
    assert.deepEqual([overlay.format, overlay.width, overlay.height], ['jpeg', 1280, 720]);
  }
  const errors = readJsonl(path.join(out, 'errors.jsonl'));
  assert.deepEqual(errors.map((e) => e.name).sort(), [...badImages].sort());
  for (const error of errors) {
    assert.equal(error.kind, 'invalid-image');
    assert.equal(error.retryable, false);
    assert.match(error.reason, new RegExp(`^${error.name.replace('.', '\\.')}: `));
  }
  assert.match(errors.find((e) => e.name === 'notes.jpg').reason, /text, not an image/);
  assert.match(errors.find((e) => e.name === 'anim.gif').reason, /GIF/);
  const all = JSON.parse(fs.readFileSync(path.join(out, 'labels.json'), 'utf8'));
  assert.deepEqual(
    all.map((f: { name: string }) => f.name),
    realImages,
  );
  const results = JSON.parse(fs.readFileSync(path.join(out, 'coco', 'results.json'), 'utf8'));
  assert.equal(
    results.length,
    all.reduce((n: number, f: { labels: unknown[] }) => n + f.labels.length, 0),
  );
  const runInfo = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
  assert.deepEqual([runInfo.total, runInfo.labeled, runInfo.failed, runInfo.interrupted], [10, 6, 4, false]);
});

test('a re-run reuses outputs made with the same config; another config labels again', () => {
  const out = path.join(work, 'out');
  const labelFile = path.join(out, 'labels', realImages[0]!.replace('.jpg', '.json'));
  const before = fs.readFileSync(labelFile, 'utf8');
  const again = run('label', imagesDir, '--out', out, '--models-dir', modelsDir);
  assert.equal(again.status, 1);
  assert.match(again.stdout, /10 images: 0 labeled, 6 reused .* 4 failed/);
  assert.equal(fs.readFileSync(labelFile, 'utf8'), before, 'reused output untouched');

  const config = path.join(work, 'strict.json');
  fs.writeFileSync(config, JSON.stringify({ thresholds: { default: 0.6 } }));
  const strict = run('label', imagesDir, '--out', out, '--models-dir', modelsDir, '--config', config);
  assert.match(strict.stdout, /10 images: 6 labeled, 0 reused/);
  const frame = FrameSchema.parse(JSON.parse(fs.readFileSync(labelFile, 'utf8')));
  assert.ok(frame.labels.every((l) => l.score! >= 0.6));
});

test('`label . --out out` from inside the images folder: the second run lists no overlay as an image', () => {
  const images = path.join(work, 'images-with-out');
  fs.mkdirSync(images);
  for (const name of realImages.slice(0, 2)) fs.copyFileSync(path.join(sampleImagesDir, name), path.join(images, name));
  const out = path.join(images, 'out');
  assert.equal(run('label', images, '--out', out, '--models-dir', modelsDir).status, 0);
  const again = run('label', images, '--out', out, '--models-dir', modelsDir);
  assert.equal(again.status, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /2 images: 0 labeled, 2 reused .* 0 failed/);
  assert.match(again.stderr, new RegExp(`warning: not listed: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: output of this labeling`));
});

test('--gt evaluates against the ground truth of the labeled folder only', () => {
  const out = path.join(work, 'out-gt');
  const result = run('label', imagesDir, '--out', out, '--models-dir', modelsDir, '--gt', sampleLabelsDir);
  assert.equal(result.status, 1, result.stderr);
  const report = EvaluationReportSchema.parse(JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')));
  assert.equal(report.images.evaluated, 6, 'the 54 sample images not in the folder are not counted as misses');
  assert.ok(report.detection.perClass.car!.AP50 > 0.2);
  assert.ok(fs.statSync(path.join(out, 'report.html')).size > 10_000);
  assert.match(result.stdout, /AP50/);
});

test('bad configs are reported all at once and exit 2; a missing models folder is named', () => {
  const config = path.join(work, 'bad.json');
  fs.writeFileSync(config, JSON.stringify({ detector: { provider: 'yolo9000' }, thresholds: { default: 3 }, concurrency: 0 }));
  const bad = run('label', imagesDir, '--out', path.join(work, 'never'), '--config', config);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /3 problem\(s\)/);
  assert.match(bad.stderr, /detector\.provider/);
  assert.match(bad.stderr, /thresholds\.default/);
  assert.match(bad.stderr, /concurrency/);

  const noModels = spawnSync(
    process.execPath,
    [bin, 'label', imagesDir, '--out', path.join(work, 'never'), '--models-dir', path.join(work, 'nowhere')],
    {
      encoding: 'utf8',
      env: { ...process.env, AUTOLABEL_CACHE_DIR: path.join(work, 'empty-cache'), AUTOLABEL_OFFLINE: '1' },
    },
  );
  assert.equal(noModels.status, 2);
  assert.match(noModels.stderr, /nowhere/);
  assert.equal(run('label', '--out', 'x').status, 2);
  assert.equal(run('label', path.join(work, 'missing-dir'), '--out', 'x').status, 2);
});

test('Ctrl-C keeps finished images intact and a re-run completes the rest', async () => {
  const many = path.join(work, 'many');
  fs.mkdirSync(many);
  for (const name of fs.readdirSync(sampleImagesDir).sort().slice(0, 24))
    fs.copyFileSync(path.join(sampleImagesDir, name), path.join(many, name));
  const out = path.join(work, 'out-int');
  const child = spawn(process.execPath, [bin, 'label', many, '--out', out, '--models-dir', modelsDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const labels = path.join(out, 'labels');
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (fs.existsSync(labels) && fs.readdirSync(labels).filter((f) => f.endsWith('.json')).length >= 3) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted/);
  const finished = fs.readdirSync(labels);
  assert.ok(finished.length < 24, 'stopped before the end');
  assert.ok(
    finished.every((f) => !f.endsWith('.tmp') && !f.startsWith('.')),
    'no half-written files',
  );
  for (const f of finished) FrameSchema.parse(JSON.parse(fs.readFileSync(path.join(labels, f), 'utf8')));

  const resumed = run('label', many, '--out', out, '--models-dir', modelsDir);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`24 images: ${24 - finished.length} labeled, ${finished.length} reused`));
});

/** The CLI in-process (the sources, not dist/), keeping what it wrote. */
async function labelInProcess(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) };
  const status = await main(['label', ...args], io);
  return { status, stdout: out.join(''), stderr: err.join('') };
}

test('symbolic links are followed: linked images and a linked sub-folder are labeled, a cycle and a broken link reported', async () => {
  const elsewhere = path.join(work, 'elsewhere');
  fs.mkdirSync(elsewhere);
  fs.copyFileSync(path.join(sampleImagesDir, realImages[2]!), path.join(elsewhere, realImages[2]!));
  const linked = path.join(work, 'linked');
  fs.mkdirSync(linked);
  for (const name of realImages.slice(0, 2)) fs.symlinkSync(path.join(sampleImagesDir, name), path.join(linked, name));
  fs.symlinkSync(elsewhere, path.join(linked, 'more'));
  fs.symlinkSync(linked, path.join(linked, 'loop'));
  fs.symlinkSync(path.join(work, 'moved-away.jpg'), path.join(linked, 'gone.jpg'));

  const out = path.join(work, 'out-linked');
  const result = await labelInProcess(linked, '--out', out, '--models-dir', modelsDir, '--workers', '1');
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^3 images: 3 labeled/m);
  const labeled = fs.readdirSync(path.join(out, 'labels')).sort();
  assert.deepEqual(
    labeled,
    realImages
      .slice(0, 3)
      .map((n) => n.replace('.jpg', '.json'))
      .sort(),
  );
  assert.match(result.stderr, new RegExp(`warning: not followed: ${path.join(linked, 'loop')} -> .*: .*link cycle`));
  assert.match(result.stderr, /warning: 1 symbolic link points nowhere: .*gone\.jpg/);
});

test('a folder with nothing to label exits 2 saying what it holds, before any model is loaded', async () => {
  // Models that cannot be found: had the providers been set up, the command would fail on them instead.
  const noModels = path.join(work, 'no-models');
  fs.mkdirSync(noModels);
  const saved = { cache: process.env.AUTOLABEL_CACHE_DIR, offline: process.env.AUTOLABEL_OFFLINE };
  process.env.AUTOLABEL_CACHE_DIR = noModels;
  process.env.AUTOLABEL_OFFLINE = '1';
  const folder = (name: string, fill: (dir: string) => void) => {
    const dir = path.join(work, name);
    fs.mkdirSync(dir);
    fill(dir);
    return dir;
  };
  try {
    const image = realImages[0]!;
    const oneImage = folder('one-image', (dir) => fs.copyFileSync(path.join(sampleImagesDir, image), path.join(dir, image)));
    const control = await labelInProcess(oneImage, '--out', path.join(work, 'never-control'), '--models-dir', noModels);
    assert.equal(control.status, 2, 'the control: an image to label reaches the model setup, which fails here');
    assert.match(control.stderr, /cannot set up the providers/);

    const cases: [string, RegExp][] = [
      [folder('empty', () => undefined), /: the folder is empty$/m],
      [
        folder('texts', (dir) => ['a.txt', 'b.txt', 'c.json'].forEach((n) => fs.writeFileSync(path.join(dir, n), 'x'))),
        /: 3 files, none an image \(\.txt x2, \.json x1\)$/m,
      ],
      [
        folder('dangling', (dir) => ['a.jpg', 'b.jpg'].forEach((n) => fs.symlinkSync(path.join(work, 'moved', n), path.join(dir, n)))),
        /: 2 symbolic links that point nowhere/,
      ],
    ];
    for (const [dir, what] of cases) {
      const out = path.join(work, `never-${path.basename(dir)}`);
      const result = await labelInProcess(dir, '--out', out, '--models-dir', noModels);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`autolabel: no images in ${dir}`));
      assert.match(result.stderr, what);
      assert.doesNotMatch(result.stderr, /cannot set up the providers|labeling with/, 'refused before the providers');
      assert.equal(fs.existsSync(out), false, 'no output folder made');
    }

    // A single image instead of its folder, and a folder that is not there: named for what they are.
    const file = path.join(oneImage, image);
    const given = await labelInProcess(file, '--out', path.join(work, 'never-file'), '--models-dir', noModels);
    assert.equal(given.status, 2, given.stderr);
    assert.match(given.stderr, new RegExp(`autolabel: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a file, not a folder`));
    const missing = path.join(work, 'not-there');
    const absent = await labelInProcess(missing, '--out', path.join(work, 'never-missing'), '--models-dir', noModels);
    assert.equal(absent.status, 2, absent.stderr);
    assert.match(absent.stderr, /autolabel: images folder not found: .*not-there$/m);
  } finally {
    for (const [name, value] of [
      ['AUTOLABEL_CACHE_DIR', saved.cache],
      ['AUTOLABEL_OFFLINE', saved.offline],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});
