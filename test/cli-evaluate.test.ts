import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sampleLabelsDir } from './helpers/shared';
import { loadLabels } from '../src/adapters/files/load-labels';
import { writeCocoExport, writeScalabelFiles, writeScalabelList } from '../src/adapters/files/write-labels';
import { evaluate } from '../src/core/evaluation/evaluate';
import { EvaluationReportSchema } from '../src/core/evaluation/report-schema';
import { BDD_CLASSES } from '../src/core/taxonomy/categories';
import type { Frame } from '../src/core/labels/schema';
import { seededRandom, simulatePredictions } from '../bench/synthetic';
import type { CliIo } from '../src/cli/io';
import { main } from '../src/cli/main';

// The CLI as a user runs it: the compiled launcher (`npm test` builds first).
const bin = path.resolve(__dirname, '..', 'bin', 'autolabel.js');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

let work: string;
let gt: Frame[];
let predictions: Frame[];

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'autolabel-cli-'));
  gt = (await loadLabels(sampleLabelsDir)).frames;
  const random = seededRandom(11);
  predictions = gt.map((frame) => simulatePredictions(frame, random));
  await writeCocoExport(path.join(work, 'pred-coco'), { groundTruth: gt, predictions });
  await writeScalabelFiles(path.join(work, 'pred-frames'), predictions);
  await writeScalabelList(path.join(work, 'pred-list.json'), predictions);
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

const readReport = (out: string) => EvaluationReportSchema.parse(JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')));

test('evaluate writes report.json and report.html and prints the summary (exit 0)', () => {
  const out = path.join(work, 'out-coco');
  const result = run('evaluate', '--gt', sampleLabelsDir, '--pred', path.join(work, 'pred-coco'), '--out', out);
  assert.equal(result.status, 0, result.stderr);
  const report = readReport(out);
  assert.deepEqual(Object.keys(report.detection.stats), [
    'AP',
    'AP50',
    'AP75',
    'APs',
    'APm',
    'APl',
    'AR1',
    'AR10',
    'AR100',
    'ARs',
    'ARm',
    'ARl',
  ]);
  assert.deepEqual(Object.keys(report.detection.perClass), [...BDD_CLASSES]);
  for (const key of ['AP', 'AP50', 'AP75', 'AR100', 'precision', 'recall', 'f1', 'tp', 'fp', 'fn'])
    assert.ok(key in report.detection.perClass.car!, key);
  assert.deepEqual(Object.keys(report.attributes.accuracy), ['weather', 'timeofday', 'scene', 'overall']);
  assert.equal(report.images.evaluated, 60);
  assert.deepEqual(report.inputs?.gt.formats, { 'bdd-published': 60 });
  assert.deepEqual(report.inputs?.pred.formats, { 'coco-instances': 1, 'coco-results': 1 }); // instances: the id index
  assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /<svg[^>]+data-chart="pr-curve"/);
  assert.match(result.stdout, /AP50/);
  assert.match(result.stdout, /traffic sign/);
  assert.match(result.stdout, /attribute accuracy/);
});

test('the CLI gives the library numbers, whatever layout the predictions come in', () => {
  const expected = evaluate({ gt, predictions });
  for (const layout of ['pred-frames', 'pred-list.json', 'pred-coco']) {
    const out = path.join(work, `out-${layout}`);
    const result = run('evaluate', '--gt', sampleLabelsDir, '--pred', path.join(work, layout), '--out', out);
    assert.equal(result.status, 0, result.stderr);
    const report = readReport(out);
    if (layout === 'pred-coco') {
      // COCO stores [x, y, w, h]: x + (x2 - x1) can differ from x2 in the last bit, which may move a box that sits
      // exactly on an area-range border. Attributes do not travel in COCO results.
      for (const [name, value] of Object.entries(expected.detection.stats))
        assert.ok(Math.abs(report.detection.stats[name as keyof typeof expected.detection.stats] - value) < 1e-6, name);
    } else {
      assert.deepEqual(report.detection.stats, expected.detection.stats, layout);
      assert.deepEqual(report.attributes.accuracy, expected.attributes.accuracy, layout);
    }
  }
});

test('--mode bdd and the operating-point flags reach the evaluator', () => {
  const out = path.join(work, 'out-bdd');
  const result = run(
    'evaluate',
    '--gt',
    sampleLabelsDir,
    '--pred',
    path.join(work, 'pred-list.json'),
    '--out',
    out,
    '--mode',
    'bdd',
    '--iou',
    '0.7',
    '--score',
    '0.5',
  );
  assert.equal(result.status, 0, result.stderr);
  const report = readReport(out);
  assert.deepEqual(report.options, { mode: 'bdd', iouThreshold: 0.7, scoreThreshold: 0.5 });
  assert.deepEqual(report.detection.stats, evaluate({ gt, predictions, options: report.options }).detection.stats);
  assert.notDeepEqual(report.detection.stats, readReport(path.join(work, 'out-coco')).detection.stats);
});

test('one bad prediction file is reported and the rest are evaluated', () => {
  const dir = path.join(work, 'pred-with-bad');
  fs.cpSync(path.join(work, 'pred-frames'), dir, { recursive: true });
  const bad = path.join(dir, fs.readdirSync(dir).sort()[0]!);
  const frame = JSON.parse(fs.readFileSync(bad, 'utf8'));
  frame.labels[0].box2d.x2 = 'wide';
  fs.writeFileSync(bad, JSON.stringify(frame));
  const out = path.join(work, 'out-bad');
  const result = run('evaluate', '--gt', sampleLabelsDir, '--pred', dir, '--out', out);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, new RegExp(`warning: predictions: .*${path.basename(bad)}.*labels\\[0\\]\\.box2d\\.x2`));
  const report = readReport(out);
  assert.equal(report.inputs?.pred.problems.length, 1);
  assert.equal(report.images.withPredictions, 59);
  assert.equal(report.images.withoutPredictions, 1);
});

test('bad arguments and unreadable input exit with 2 and a clear message', () => {
  const cases: [string[], RegExp][] = [
    [['evaluate', '--pred', 'p', '--out', 'o'], /--gt <dir\|file> is required/],
    [['evaluate', '--gt', 'g', '--pred', 'p', '--out', 'o', '--mode', 'voc'], /--mode: .*"coco"\|"bdd"/],
    [['evaluate', '--gt', 'g', '--pred', 'p', '--out', 'o', '--iou', '1.5'], /--iou must be in \(0, 1\]/],
    [['evaluate', '--gt', 'g', '--pred', 'p', '--out', 'o', '--score', 'high'], /--score must be a number/],
    [['evaluate', '--gt', 'g', '--pred', 'p', '--out', 'o', '--bogus'], /Unknown option '--bogus'/],
    [['evaluate', '--gt', path.join(work, 'missing'), '--pred', 'p', '--out', 'o'], /cannot read ground truth .*missing.*not found/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const result = run(...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});

test('an output path the file system refuses (a file where a folder goes) exits 1 with the path and why, no stack', () => {
  const blocker = path.join(work, 'a-file');
  fs.writeFileSync(blocker, 'in the way');
  for (const out of [blocker, path.join(blocker, 'report')]) {
    const result = run('evaluate', '--gt', sampleLabelsDir, '--pred', path.join(work, 'pred-frames'), '--out', out);
    assert.equal(result.status, 1, result.stderr);
    assert.match(
      result.stderr,
      /^autolabel: cannot mkdir '.*a-file.*': (a file is in the way \(EEXIST\)|a part of the path is a file, not a folder \(ENOTDIR\))\n$/,
    );
  }
});

test('ground truth with no readable frame exits 2 naming each bad file', () => {
  const dir = path.join(work, 'gt-bad');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'one.json'), '{"name": "a.jpg", "labels": [');
  fs.writeFileSync(path.join(dir, 'two.json'), '{"hello": "world"}');
  const result = run('evaluate', '--gt', dir, '--pred', path.join(work, 'pred-list.json'), '--out', path.join(work, 'never'));
  assert.equal(result.status, 2);
  assert.match(result.stderr, /no ground-truth frames could be read/);
  assert.match(result.stderr, /one\.json: .*invalid JSON/);
  assert.match(result.stderr, /two\.json: .*unrecognised label document/);
  assert.equal(fs.existsSync(path.join(work, 'never', 'report.json')), false);
});

test('reading thousands of files shows progress lines when not on a terminal', async () => {
  const dir = path.join(work, 'many');
  const many = Array.from({ length: 600 }, (_, i) => ({ ...gt[i % gt.length]!, name: `img-${i}.jpg` }));
  await writeScalabelFiles(dir, many);
  const result = run('evaluate', '--gt', dir, '--pred', dir, '--out', path.join(work, 'out-many'));
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /reading ground truth: 600\/600 \(100%\)/);
  assert.match(result.stderr, /reading ground truth: 60\/600 \(10%\)/);
});

test('a plain evaluate loads no image library; --images brings in sharp for the thumbnails', () => {
  // Preloaded into the CLI's process: which of the native image modules were required by the end.
  const probe = path.join(work, 'probe-modules.js');
  fs.writeFileSync(
    probe,
    `const { sep } = require('node:path');
process.on('exit', () => {
  const images = Object.keys(require.cache).filter((f) => ['sharp', 'jimp'].some((m) => f.includes(sep + 'node_modules' + sep + m + sep)));
  process.stderr.write('loaded: ' + images.length + '\\n');
});
`,
  );
  const evaluateWith = (...extra: string[]) =>
    spawnSync(
      process.execPath,
      ['-r', probe, bin, 'evaluate', '--gt', sampleLabelsDir, '--pred', path.join(work, 'pred-frames'), ...extra],
      {
        encoding: 'utf8',
      },
    );
  const plain = evaluateWith('--out', path.join(work, 'out-plain'));
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stderr, /^loaded: 0$/m);
  const withImages = evaluateWith('--out', path.join(work, 'out-images'), '--images', path.join(sampleLabelsDir, '..', 'images'));
  assert.equal(withImages.status, 0, withImages.stderr);
  assert.match(withImages.stderr, /^loaded: [1-9]\d*$/m);
});

test('the launcher turns on the compile cache where Node has one (22.1+), and runs without it elsewhere', () => {
  const stub = path.join(work, 'stub-compile-cache.js');
  fs.writeFileSync(stub, "require('node:module').enableCompileCache = () => process.stderr.write('compile cache on\\n');\n");
  const withCache = spawnSync(process.execPath, ['-r', stub, bin, '--version'], { encoding: 'utf8' });
  assert.equal(withCache.status, 0, withCache.stderr);
  assert.equal(withCache.stderr, 'compile cache on\n');
  const without = path.join(work, 'stub-no-compile-cache.js');
  fs.writeFileSync(without, "delete require('node:module').enableCompileCache;\n");
  const plain = spawnSync(process.execPath, ['-r', without, bin, '--version'], { encoding: 'utf8' });
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(plain.stderr, '');
});

test('--version and --help answer without work', () => {
  const version = run('--version');
  assert.equal(version.status, 0);
  assert.equal(version.stdout.trim(), JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'package.json'), 'utf8')).version);
  const help = run('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /autolabel evaluate --gt <dir\|file> --pred <dir\|file> --out <dir>/);
});

/** The CLI in-process, keeping what it wrote. */
async function runInProcess(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) };
  const status = await main(args, io);
  return { status, stdout: out.join(''), stderr: err.join('') };
}

test("<command> --help, <command> -h and help <command> print that command's usage and exit 0", async () => {
  const usageLine: Record<string, RegExp> = {
    label: /^ {2}autolabel label <images dir> --out <dir>/m,
    evaluate: /^ {2}autolabel evaluate --gt <dir\|file> --pred <dir\|file> --out <dir>/m,
    upload: /^ {2}autolabel upload <images dir> --batch <id>/m,
  };
  for (const [command, usage] of Object.entries(usageLine)) {
    // With other (even wrong) arguments around it: asking for help wins over checking them.
    for (const args of [
      [command, '--help'],
      [command, '-h'],
      ['help', command],
      [command, 'some-dir', '--bogus', '-h'],
    ]) {
      const result = await runInProcess(...args);
      assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stdout, usage, args.join(' '));
      for (const [other, otherUsage] of Object.entries(usageLine)) {
        if (other !== command) assert.doesNotMatch(result.stdout, otherUsage, `${args.join(' ')} prints only its own usage`);
      }
      assert.equal(result.stderr, '', args.join(' '));
    }
  }
  const unknown = await runInProcess('help', 'frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(
    unknown.stderr,
    /no command 'frobnicate'; the commands are label, evaluate, review, calibrate, export, import, train-scene, upload, drift$/m,
  );
  const all = await runInProcess('help');
  assert.equal(all.status, 0);
  assert.match(all.stdout, /autolabel label .*\n[\s\S]*autolabel evaluate [\s\S]*autolabel upload /);
  const afterDashes = await runInProcess('evaluate', '--', '--help');
  assert.equal(afterDashes.status, 2, 'after --, --help is an argument, not a request for help');
});
