/**
 * bench/evaluate: `autolabel evaluate` end to end versus pycocotools on the same COCO files.
 * Builds a synthetic set of several thousand images from the real shared labels (GT copied under new names,
 * predictions from the simulated detector in bench/synthetic.ts), then times both tools as whole processes,
 * checks that their 12 stats agree, and reports peak memory against the size of the inputs.
 *
 *   npm run bench -- [--images 5000] [--runs 3]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadLabels } from '../src/adapters/files/load-labels';
import { writeCocoExport } from '../src/adapters/files/write-labels';
import type { Frame } from '../src/core/labels/schema';
import { seededRandom, simulatePredictions } from './synthetic';

const repo = path.resolve(__dirname, '..');
const shared = process.env.AUTOLABEL_SHARED_DIR ?? path.resolve(repo, '../shared');
const python = process.env.AUTOLABEL_PYTHON ?? path.join(repo, '.venv/bin/python');

const { values } = parseArgs({
  options: { images: { type: 'string', default: '5000' }, runs: { type: 'string', default: '3' } },
});
const imageCount = Number(values.images);
if (!Number.isInteger(imageCount) || imageCount < 2) throw new Error('--images must be an integer >= 2');
const runs = Number(values.runs);

function progress(message: string) {
  process.stderr.write(`[bench] ${message}\n`);
}

async function buildSet(dir: string, imageCount: number) {
  const sources: Frame[] = [];
  for (const labels of [path.join(shared, 'bdd100k-sample/labels'), path.join(shared, 'bdd100k-scenes/labels')]) {
    const loaded = await loadLabels(labels);
    sources.push(...loaded.frames);
  }
  const random = seededRandom(20261123);
  const gt: Frame[] = [];
  const predictions: Frame[] = [];
  for (let i = 0; i < imageCount; i++) {
    const source = sources[i % sources.length]!;
    const name = `bench-${String(i).padStart(6, '0')}.jpg`;
    gt.push({ ...source, name });
    predictions.push(simulatePredictions(source, random, name));
  }
  const gtExport = await writeCocoExport(path.join(dir, 'gt'), { groundTruth: gt });
  const predExport = await writeCocoExport(path.join(dir, 'pred'), { groundTruth: gt, predictions });
  return {
    gtFile: gtExport.instancesFile,
    resultsFile: predExport.resultsFile!,
    gtBoxes: gtExport.instances.written,
    predBoxes: predExport.results!.written,
  };
}

function timed(command: string, args: string[]) {
  const start = process.hrtime.bigint();
  const child = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (child.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${child.status}):\n${child.stderr}`);
  return { seconds, stdout: child.stdout, stderr: child.stderr };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

interface Measurement {
  images: number;
  inputBytes: number;
  gtBoxes: number;
  predBoxes: number;
  oursSeconds: number;
  oursRssBytes: number;
  report: { detection: { stats: Record<string, number> } };
}

async function measureOurs(
  dir: string,
  images: number,
  repeat: number,
): Promise<Measurement & { set: Awaited<ReturnType<typeof buildSet>> }> {
  progress(`building ${images} synthetic images from ${shared}`);
  const set = await buildSet(path.join(dir, String(images)), images);
  const inputBytes = fs.statSync(set.gtFile).size + fs.statSync(set.resultsFile).size;
  progress(`${set.gtBoxes} GT boxes, ${set.predBoxes} predicted boxes, ${mb(inputBytes)} MB of JSON`);
  const ours: { seconds: number; rssKb: number }[] = [];
  for (let run = 1; run <= repeat; run++) {
    progress(`autolabel evaluate on ${images} images, run ${run}/${repeat}`);
    const out = path.join(dir, `out-${images}-${run}`);
    const result = timed(process.execPath, [
      '-r',
      path.join(repo, 'bench/peak-rss.js'),
      path.join(repo, 'bin/autolabel.js'),
      'evaluate',
      '--gt',
      set.gtFile,
      '--pred',
      set.resultsFile,
      '--out',
      out,
    ]);
    ours.push({ seconds: result.seconds, rssKb: Number(/peak-rss-kb (\d+)/.exec(result.stderr)?.[1] ?? NaN) });
  }
  return {
    set,
    images,
    inputBytes,
    gtBoxes: set.gtBoxes,
    predBoxes: set.predBoxes,
    oursSeconds: median(ours.map((o) => o.seconds)),
    oursRssBytes: Math.max(...ours.map((o) => o.rssKb)) * 1024,
    report: JSON.parse(fs.readFileSync(path.join(dir, `out-${images}-1`, 'report.json'), 'utf8')),
  };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autolabel-bench-'));
  try {
    const half = await measureOurs(dir, Math.ceil(imageCount / 2), 1);
    const full = await measureOurs(dir, imageCount, runs);

    progress(`pycocotools on ${imageCount} images (load, evaluate, accumulate, summarize)`);
    const reference = timed(python, [path.join(repo, 'bench/pycoco_time.py'), full.set.gtFile, full.set.resultsFile]);
    const pycoco = JSON.parse(reference.stdout) as { stats: Record<string, number>; peakRssKb: number; seconds: number };

    const maxDiff = Math.max(...Object.entries(pycoco.stats).map(([name, value]) => Math.abs(full.report.detection.stats[name]! - value)));
    const perInputMb = (m: Measurement) => `${(m.oursRssBytes / m.inputBytes).toFixed(1)}x`;
    const rows = [
      ['images', String(imageCount)],
      ['GT boxes / predicted boxes', `${full.gtBoxes} / ${full.predBoxes}`],
      ['input JSON (GT + results)', `${mb(full.inputBytes)} MB`],
      [`autolabel evaluate, whole process (median of ${runs})`, `${full.oursSeconds.toFixed(2)} s`],
      ['pycocotools, whole process', `${reference.seconds.toFixed(2)} s`],
      ['speed-up (pycocotools / autolabel)', `${(reference.seconds / full.oursSeconds).toFixed(1)}x`],
      ['max |difference| over the 12 stats', maxDiff.toExponential(2)],
      ['AP / AP50 (autolabel)', `${full.report.detection.stats.AP!.toFixed(4)} / ${full.report.detection.stats.AP50!.toFixed(4)}`],
      ['peak RSS autolabel / pycocotools', `${mb(full.oursRssBytes)} MB / ${mb(pycoco.peakRssKb * 1024)} MB`],
      [`peak RSS / input size at ${half.images} and ${full.images} images`, `${perInputMb(half)} and ${perInputMb(full)}`],
    ];
    const width = Math.max(...rows.map(([k]) => k!.length));
    console.log(rows.map(([k, v]) => `${k!.padEnd(width)}  ${v}`).join('\n'));
    if (maxDiff > 1e-9) {
      console.error('numbers differ from pycocotools by more than 1e-9');
      process.exitCode = 1;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
