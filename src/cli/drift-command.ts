import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { compareProfiles, DriftThresholdsSchema, profileOf, type DriftProfile, type DriftResult } from '../core/drift';
import { formatZodError } from '../core/labels/read';
import { loadLabels } from '../adapters/files/load-labels';
import { OUTPUT_LAYOUT } from '../adapters/files/label-folder';
import { writeJsonAtomic } from '../adapters/files/write-labels';
import { parseCommandLine } from './args';
import type { CliIo } from './io';
import { EXIT_OK, UsageError } from './usage-error';

export const DRIFT_USAGE = `  autolabel drift --reference <labels dir> --current <labels dir> --out <file> [--thresholds <file>]
      Drift without ground truth: compares what the images look like (size and format, brightness, contrast,
      saturation, night-like share), what the model answered (boxes per image, classes, scores per class,
      attributes, abstentions) and how the labeling ran (latency, retries, failures, tokens) between two folders
      that \`autolabel label\` wrote (its <out> folder or its labels/ folder; errors.jsonl beside it counts failures).
      Writes <file> as JSON {drift, metrics: [{name, score, threshold, drift, pValue, ...}]} and prints a table.
      --thresholds  JSON file overriding the defaults: {alpha, minSamples, minBoxes, byTest: {ks, js, share},
                    metrics: {"<metric or prefix>": threshold}} (README, "Monitoring in production")`;

const DriftArgsSchema = z.object({
  reference: z.string({ error: '--reference <labels dir> is required' }).min(1),
  current: z.string({ error: '--current <labels dir> is required' }).min(1),
  out: z.string({ error: '--out <file> is required' }).min(1),
  thresholds: z.string().min(1, '--thresholds needs a file').optional(),
});

export async function runDrift(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandLine(
    argv,
    { reference: { type: 'string' }, current: { type: 'string' }, out: { type: 'string' }, thresholds: { type: 'string' } },
    DriftArgsSchema,
    DRIFT_USAGE,
  );
  const thresholds = DriftThresholdsSchema.safeParse(args.thresholds ? await readJson(args.thresholds, '--thresholds') : {});
  if (!thresholds.success) throw new UsageError(`--thresholds '${args.thresholds}': ${formatZodError(thresholds.error)}`);
  const reference = await folderProfile('reference', args.reference, io);
  const current = await folderProfile('current', args.current, io);
  const result = compareProfiles(reference, current, thresholds.data);
  await writeJsonAtomic(args.out, result, { pretty: true });
  io.stdout(formatDriftTable(result));
  io.stdout(`\nwrote ${args.out}\n`);
  return EXIT_OK;
}

/** The labels of a `label` output folder (or its labels/ folder) and the failures in errors.jsonl beside them. */
async function folderProfile(role: string, dir: string, io: CliIo): Promise<DriftProfile> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new UsageError(`--${role} '${dir}' is not a folder`);
  const nested = path.join(dir, OUTPUT_LAYOUT.labels);
  const labelsDir = (await fs.stat(nested).catch(() => undefined))?.isDirectory() ? nested : dir;
  const loaded = await loadLabels(labelsDir).catch((error: Error) => {
    throw new UsageError(`cannot read --${role} '${dir}': ${error.message}`);
  });
  for (const p of loaded.problems) io.stderr(`warning: ${role}: ${p.file}: ${p.message}\n`);
  if (loaded.frames.length === 0) throw new UsageError(`no label frames in --${role} '${dir}'`);
  const failures = await readFailures(path.join(path.dirname(labelsDir), OUTPUT_LAYOUT.errors), io);
  return profileOf(loaded.frames, failures);
}

const FailureLineSchema = z.looseObject({ kind: z.string().min(1) });

async function readFailures(file: string, io: CliIo): Promise<Array<{ kind: string }>> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim())
    .flatMap((line, i) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        value = undefined;
      }
      const parsed = FailureLineSchema.safeParse(value);
      if (!parsed.success) io.stderr(`warning: ${file}:${i + 1}: not a failure line, skipped\n`);
      return parsed.success ? [parsed.data] : [];
    });
}

async function readJson(file: string, option: string): Promise<unknown> {
  const text = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${option} '${file}': ${error.code ?? error.message}`);
  });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${option} '${file}' is not valid JSON: ${(error as Error).message}`);
  }
}

const fmt = (v: number) => v.toFixed(3);
const fmtP = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));

/** One line per metric: name, score, threshold, p-value, samples either side, DRIFT where flagged. */
export function formatDriftTable(result: DriftResult): string {
  const rows = [
    ['metric', 'score', 'threshold', 'p', 'n ref', 'n cur', ''],
    ...result.metrics.map((m) => [
      m.name,
      fmt(m.score),
      fmt(m.threshold),
      fmtP(m.pValue),
      String(m.samples.reference),
      String(m.samples.current),
      m.drift ? 'DRIFT' : (m.note ?? ''),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, c) => (c === 0 || c === row.length - 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  const flagged = result.metrics.filter((m) => m.drift).length;
  const head =
    `Drift of ${result.current.images} images (${result.current.failed} failed) against a reference of ` +
    `${result.reference.images} (${result.reference.failed} failed), alpha ${result.alpha}: ` +
    (flagged ? `${flagged} metric${flagged === 1 ? '' : 's'} drifted` : 'no drift');
  const ms = (p: { p50: number | null; p95: number | null }) => (p.p50 === null ? 'n/a' : `${p.p50}/${p.p95} ms`);
  const latency = `latency p50/p95 (from bins, within 19%): reference ${ms(result.latencyMs.reference)}, current ${ms(result.latencyMs.current)}`;
  return [head, latency, '', ...lines].join('\n') + '\n';
}
