import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { LabelingConfigSchema } from '../core/config/labeling-config';
import { matchChunk } from '../core/evaluation/chunks';
import {
  CalibrationTargetSchema,
  calibrateChunks,
  cocoIouIndex,
  MIN_GT_TO_CALIBRATE,
  type Calibration,
  type CurrentThresholds,
} from '../core/evaluation/calibration';
import { BoxModeSchema } from '../core/evaluation/report-schema';
import { BDD_CLASSES } from '../core/taxonomy/categories';
import { numberArg, parseCommandLine } from './args';
import { writeJsonAtomic } from '../adapters/files/write-labels';
import { loadInput } from './load-input';
import { EXIT_OK, UsageError } from './usage-error';
import type { CliIo } from './io';

export const CALIBRATE_USAGE = `  autolabel calibrate --gt <dir|file> --pred <dir|file> --out <file>
                      [--target f1|precision=0.9|recall=0.8] [--iou 0.5] [--min-gt ${MIN_GT_TO_CALIBRATE}]
                      [--config <file>] [--mode coco|bdd]
      Suggest per-class score thresholds from predictions made with a low threshold (e.g. a config with
      "thresholds": {"default": 0.05}) and their ground truth. Writes <out> as JSON: "thresholds" in the
      labeling config's shape, to paste into a config, with per-class details; prints a per-class table and
      the pooled F1 at the current thresholds and at the suggested ones.
      --target  f1: the highest F1 (default); precision=P: the lowest threshold with precision >= P;
                recall=R: the highest threshold with recall >= R
      --iou     IoU a prediction needs to match (one of 0.5, 0.55, ..., 0.95; default 0.5)
      --min-gt  classes with fewer GT boxes keep the default (default ${MIN_GT_TO_CALIBRATE})
      --config  labeling config whose thresholds are in force (default: the built-in thresholds)`;

const CalibrateArgsSchema = z.object({
  gt: z.string({ error: '--gt <dir|file> is required' }).min(1),
  pred: z.string({ error: '--pred <dir|file> is required' }).min(1),
  out: z.string({ error: '--out <file> is required' }).min(1),
  target: z.string().default('f1').pipe(CalibrationTargetSchema),
  iou: numberArg('iou')
    .pipe(z.number().refine((v) => cocoIouIndex(v) >= 0, '--iou must be one of 0.5, 0.55, ..., 0.95'))
    .default(0.5),
  'min-gt': numberArg('min-gt')
    .pipe(z.number().int('--min-gt must be a whole number').min(1, '--min-gt must be >= 1'))
    .default(MIN_GT_TO_CALIBRATE),
  config: z.string().min(1).optional(),
  mode: BoxModeSchema.default('coco'),
});

function parseCalibrateArgs(argv: readonly string[]) {
  return parseCommandLine(
    argv,
    {
      gt: { type: 'string' },
      pred: { type: 'string' },
      out: { type: 'string' },
      target: { type: 'string' },
      iou: { type: 'string' },
      'min-gt': { type: 'string' },
      config: { type: 'string' },
      mode: { type: 'string' },
    },
    CalibrateArgsSchema,
    CALIBRATE_USAGE,
  );
}

/** The thresholds in force: a config file's `thresholds` (nothing else of it is read), else the built-in ones. */
async function currentThresholds(file: string | undefined): Promise<CurrentThresholds> {
  const schema = LabelingConfigSchema.shape.thresholds;
  if (!file) return schema.parse(undefined);
  let value: unknown;
  try {
    value = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read config '${file}': ${(error as Error).message}`);
  }
  const parsed = schema.safeParse((value as { thresholds?: unknown } | null)?.thresholds);
  if (!parsed.success)
    throw new UsageError(`${file}: thresholds: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export async function runCalibrate(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCalibrateArgs(argv);
  const current = await currentThresholds(args.config);
  const gt = await loadInput('ground truth', args.gt);
  if (gt.frames.length === 0) throw new UsageError(`no ground-truth frames could be read from '${args.gt}'`);
  const pred = await loadInput('predictions', args.pred, gt.cocoIndex ? { cocoIndex: gt.cocoIndex } : {});
  if (pred.frames.length === 0) throw new UsageError(`no predictions could be read from '${args.pred}'`);
  for (const [role, loaded] of [
    ['ground truth', gt],
    ['predictions', pred],
  ] as const) {
    for (const p of loaded.problems) io.stderr(`warning: ${role}: ${p.file}: ${p.message}\n`);
  }

  // The evaluator's own matching: one chunk of every image, as `autolabel evaluate` makes it.
  const chunk = matchChunk(gt.frames, pred.frames, { mode: args.mode, iouThreshold: args.iou });
  const calibration = calibrateChunks([chunk], { target: args.target, iouThreshold: args.iou, current, minGt: args['min-gt'] });

  await fs.mkdir(path.dirname(path.resolve(args.out)), { recursive: true });
  // `thresholds` first: the part a config takes as is.
  const { thresholds, ...details } = calibration;
  await writeJsonAtomic(args.out, { thresholds, ...details }, { pretty: true });
  io.stdout(formatCalibration(calibration));
  io.stdout(`\nwrote ${args.out}\n`);
  return EXIT_OK;
}

const pct = (v: number) => (v < 0 ? 'n/a' : (v * 100).toFixed(1));

/** The per-class table and the pooled F1 before and after. */
export function formatCalibration(c: Calibration): string {
  const rows = [['class', 'GT', 'threshold', 'P', 'R', 'F1', 'now thr', 'now F1', 'note']];
  for (const name of BDD_CLASSES) {
    const r = c.perClass[name];
    if (!r) continue;
    rows.push([
      name,
      String(r.gt),
      String(r.threshold),
      pct(r.suggested.precision),
      pct(r.suggested.recall),
      pct(r.suggested.f1),
      String(r.current.threshold),
      pct(r.current.f1),
      r.note ?? '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows
    .map((row) =>
      row
        .map((cell, i) => (i === 0 || i === row.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  const { current, suggested } = c.overall;
  const line = (label: string, m: Calibration['overall']['current']) =>
    `${label} F1 ${pct(m.f1)} (precision ${pct(m.precision)}, recall ${pct(m.recall)}; TP ${m.tp}, FP ${m.fp}, FN ${m.fn})`;
  return [
    `Calibrated for ${c.target} at IoU ${c.iouThreshold}; classes with fewer than ${c.minGt} GT boxes keep the default ${c.thresholds.default}.`,
    table,
    '',
    `All classes pooled:`,
    line('  current thresholds:  ', current),
    line('  suggested thresholds:', suggested),
    ...c.notes.map((n) => `note: ${n}`),
    '',
  ].join('\n');
}
