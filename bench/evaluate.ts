/**
 * bench/evaluate: `autolabel evaluate` end to end versus pycocotools, on a synthetic set written two ways
 * (bench/evaluate-set.ts): one COCO file per side, and one Scalabel file per image and side as `autolabel label`
 * writes them. Both tools run as whole processes (autolabel: the built CLI, bin/autolabel.js; pycocotools: load of
 * the COCO files, evaluate, accumulate, summarize); the 12 COCO stats of each autolabel case must agree with
 * pycocotools' to 1e-9. Wall time on a shared machine depends on its load, so CPU time (user + system, the whole
 * process) is given beside it.
 *
 *   npm run build && npm run bench -- [--images 2000] [--runs 3] [--case both|coco|files] [--low-score-boxes 33]
 *
 * --runs: autolabel runs per case, median taken (default 3, 1 from 10,000 images); pycocotools runs once (it takes
 * 8 s per 1,000 images here). --low-score-boxes: extra predictions per image scored under 0.3, as a detector returns
 * at a low score threshold (0 gives the old, sparser set).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildEvaluationSet, type EvaluationSet } from './evaluate-set';

const repo = path.resolve(__dirname, '..');
const shared = process.env.AUTOLABEL_SHARED_DIR ?? path.resolve(repo, '../shared');
const python = process.env.AUTOLABEL_PYTHON ?? path.join(repo, '.venv/bin/python');
const cli = path.join(repo, 'bin/autolabel.js');

const CASES = { coco: 'COCO files', files: 'per-image files' } as const;
type Case = keyof typeof CASES;
const STAT_TOLERANCE = 1e-9;

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '2000' },
    runs: { type: 'string' },
    case: { type: 'string', default: 'both' },
    'low-score-boxes': { type: 'string', default: '33' },
  },
});
const imageCount = Number(values.images);
if (!Number.isInteger(imageCount) || imageCount < 2) throw new Error('--images must be an integer >= 2');
const runs = Number(values.runs ?? (imageCount >= 10_000 ? 1 : 3));
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
const lowScoreBoxes = Number(values['low-score-boxes']);
if (!Number.isInteger(lowScoreBoxes) || lowScoreBoxes < 0) throw new Error('--low-score-boxes must be an integer >= 0');
if (values.case !== 'both' && !(values.case in CASES)) throw new Error('--case must be both, coco or files');
const cases: Case[] = values.case === 'both' ? ['coco', 'files'] : [values.case as Case];

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

function timed(command: string, args: string[]) {
  const start = process.hrtime.bigint();
  const child = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (child.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${child.status}):\n${child.stderr}`);
  return { seconds, stdout: child.stdout, stderr: child.stderr };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
type Stats = Record<string, number>;

interface Timing {
  seconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
  stats: Stats;
}

/** One run of `autolabel evaluate` on one layout: wall and CPU time, peak RSS and the report's 12 stats. */
function measureAutolabel(set: EvaluationSet, which: Case, dir: string, run: number): Timing {
  const input = set[which];
  const out = path.join(dir, `out-${which}-${run}`);
  const result = timed(process.execPath, [
    '-r',
    path.join(repo, 'bench/peak-rss.js'),
    cli,
    'evaluate',
    '--gt',
    input.gt,
    '--pred',
    input.pred,
    '--out',
    out,
  ]);
  const usage = /peak-rss-kb (\d+) cpu-us (\d+)/.exec(result.stderr);
  if (!usage) throw new Error(`no peak-rss line from autolabel:\n${result.stderr}`);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { detection: { stats: Stats } };
  fs.rmSync(out, { recursive: true, force: true });
  return {
    seconds: result.seconds,
    cpuSeconds: Number(usage[2]) / 1e6,
    peakRssBytes: Number(usage[1]) * 1024,
    stats: report.detection.stats,
  };
}

function measurePycocotools(set: EvaluationSet): Timing {
  const result = timed(python, [path.join(repo, 'bench/pycoco_time.py'), set.coco.gt, set.coco.pred]);
  const out = JSON.parse(result.stdout) as { cpuSeconds: number; peakRssKb: number; stats: Stats };
  return { seconds: result.seconds, cpuSeconds: out.cpuSeconds, peakRssBytes: out.peakRssKb * 1024, stats: out.stats };
}

const maxDifference = (a: Stats, b: Stats) => Math.max(...Object.entries(b).map(([name, value]) => Math.abs(a[name]! - value)));

async function main() {
  if (!fs.existsSync(path.join(repo, 'dist/src/cli/main.js'))) throw new Error('build the CLI first: npm run build');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autolabel-bench-'));
  try {
    progress(`building ${imageCount} synthetic images from ${shared} (${lowScoreBoxes} low-score boxes per image)`);
    const set = await buildEvaluationSet(dir, { images: imageCount, lowScoreBoxes, shared });
    progress(`${set.gtBoxes} GT boxes, ${set.predBoxes} predicted boxes`);

    // Cases alternate run by run, so that a change in the machine's load falls on both.
    const timings: Record<Case, Timing[]> = { coco: [], files: [] };
    for (let run = 1; run <= runs; run++) {
      for (const which of cases) {
        progress(`autolabel evaluate, ${CASES[which]}, run ${run}/${runs}`);
        timings[which].push(measureAutolabel(set, which, dir, run));
      }
    }
    progress(`pycocotools on the COCO files (load, evaluate, accumulate, summarize)`);
    const reference = measurePycocotools(set);

    const summary = (which: Case): Timing => ({
      seconds: median(timings[which].map((t) => t.seconds)),
      cpuSeconds: median(timings[which].map((t) => t.cpuSeconds)),
      peakRssBytes: Math.max(...timings[which].map((t) => t.peakRssBytes)),
      stats: timings[which][0]!.stats,
    });
    const rows: string[][] = [['', ...cases.map((c) => CASES[c])]];
    const row = (label: string, cell: (which: Case, ours: Timing) => string) =>
      rows.push([label, ...cases.map((c) => cell(c, summary(c)))]);
    row('input JSON (GT + predictions)', (which) => mb(set[which].bytes));
    row(`autolabel evaluate, wall / CPU (median of ${runs})`, (_, o) => `${o.seconds.toFixed(2)} s / ${o.cpuSeconds.toFixed(2)} s`);
    row('pycocotools (COCO files), wall / CPU', () => `${reference.seconds.toFixed(2)} s / ${reference.cpuSeconds.toFixed(2)} s`);
    row(
      'speed-up, wall / CPU (pycocotools / autolabel)',
      (_, o) => `${(reference.seconds / o.seconds).toFixed(1)}x / ${(reference.cpuSeconds / o.cpuSeconds).toFixed(1)}x`,
    );
    row('peak RSS autolabel / pycocotools', (_, o) => `${mb(o.peakRssBytes)} / ${mb(reference.peakRssBytes)}`);
    row('max |difference| over the 12 stats', (_, o) => maxDifference(o.stats, reference.stats).toExponential(2));
    row('AP / AP50 (autolabel)', (_, o) => `${o.stats.AP!.toFixed(4)} / ${o.stats.AP50!.toFixed(4)}`);

    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log(`${imageCount} images, ${set.gtBoxes} GT boxes, ${set.predBoxes} predicted boxes`);
    console.log(
      rows
        .map((r) =>
          r
            .map((cell, i) => cell.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        )
        .join('\n'),
    );

    const disagreeing = cases.filter((which) => timings[which].some((t) => maxDifference(t.stats, reference.stats) > STAT_TOLERANCE));
    if (disagreeing.length) {
      console.error(`numbers differ from pycocotools by more than ${STAT_TOLERANCE}: ${disagreeing.map((c) => CASES[c]).join(', ')}`);
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
