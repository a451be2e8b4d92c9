/**
 * Shared by the golden and the parity tests of the COCO evaluator: the metrics compared with pycocotools, the
 * comparison itself, a seeded generator that Python mirrors bit for bit, and the shared BDD100K sample as frames.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EvaluationReport } from '../../src/core/evaluation/report-schema';
import { COCO_STAT_NAMES } from '../../src/core/evaluation/coco-summary';
import { FrameSchema, type Frame } from '../../src/core/labels/schema';
import { BDD_CLASSES } from '../../src/core/taxonomy/categories';
import { sampleLabelsDir } from '../helpers/shared';

/** Agreement required with pycocotools, on every stat and per-class value. */
export const TOLERANCE = 1e-9;

export const PER_CLASS_KEYS = ['perClassAP', 'perClassAP50', 'perClassAP75', 'perClassAR100'] as const;
type PerClassKey = (typeof PER_CLASS_KEYS)[number];

/** What pycoco_reference.py reports for one case (and what the golden fixtures store as `expected`). */
export type CocoMetrics = { stats: Record<string, number> } & Record<PerClassKey, Record<string, number>>;

export function metricsOf(report: EvaluationReport): CocoMetrics {
  const perClass = report.detection.perClass;
  const pick = (field: 'AP' | 'AP50' | 'AP75' | 'AR100') => Object.fromEntries(BDD_CLASSES.map((name) => [name, perClass[name]![field]]));
  return {
    stats: { ...report.detection.stats },
    perClassAP: pick('AP'),
    perClassAP50: pick('AP50'),
    perClassAP75: pick('AP75'),
    perClassAR100: pick('AR100'),
  };
}

export interface Mismatch {
  /** e.g. `stats.APs` or `perClassAP.traffic light` */
  path: string;
  actual: unknown;
  expected: unknown;
}

export interface Comparison {
  /** Largest |actual - expected| over the compared values (finite ones). */
  maxDiff: number;
  /** Where that largest difference is. */
  maxDiffAt: string;
  mismatches: Mismatch[];
}

/**
 * Compare the 12 stats and the 4 per-class values of the 10 classes. A value is a mismatch when it is missing or not
 * a finite number on either side, or when the two differ by more than `tolerance` (so -1 against 0 fails).
 */
export function compareMetrics(actual: CocoMetrics, expected: CocoMetrics, tolerance = TOLERANCE): Comparison {
  const out: Comparison = { maxDiff: 0, maxDiffAt: '', mismatches: [] };
  const check = (where: string, a: unknown, e: unknown) => {
    if (typeof a !== 'number' || typeof e !== 'number' || !Number.isFinite(a) || !Number.isFinite(e)) {
      out.mismatches.push({ path: where, actual: a, expected: e });
      return;
    }
    const diff = Math.abs(a - e);
    if (diff > out.maxDiff) {
      out.maxDiff = diff;
      out.maxDiffAt = where;
    }
    if (!(diff <= tolerance)) out.mismatches.push({ path: where, actual: a, expected: e });
  };
  for (const name of COCO_STAT_NAMES) check(`stats.${name}`, actual.stats?.[name], expected.stats?.[name]);
  for (const key of PER_CLASS_KEYS) for (const name of BDD_CLASSES) check(`${key}.${name}`, actual[key]?.[name], expected[key]?.[name]);
  return out;
}

const show = (v: unknown) => (typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? 'undefined'));

/** A one-paragraph account of a comparison's mismatches, the first one named in full; '' when there are none. */
export function describeMismatches(comparison: Comparison, context: string): string {
  const [first, ...rest] = comparison.mismatches;
  if (!first) return '';
  const diff =
    typeof first.actual === 'number' && typeof first.expected === 'number' ? ` (|diff| ${Math.abs(first.actual - first.expected)})` : '';
  const others = rest.length ? `; ${rest.length} more: ${rest.map((m) => m.path).join(', ')}` : '';
  return `${context}: ${first.path} is ${show(first.actual)}, pycocotools says ${show(first.expected)}${diff}${others}`;
}

/** Throws, naming the first mismatch, unless every value agrees within `tolerance`. Returns the comparison. */
export function assertMetricsAgree(actual: CocoMetrics, expected: CocoMetrics, context: string, tolerance = TOLERANCE): Comparison {
  const comparison = compareMetrics(actual, expected, tolerance);
  if (comparison.mismatches.length > 0) throw new Error(describeMismatches(comparison, context));
  return comparison;
}

/**
 * mulberry32: a small 32-bit generator in [0, 1). make_golden.py has the same function written with Python integers;
 * both give the same doubles for the same seed.
 */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One file of the shared BDD100K sample ({image_filename, metadata, labels}) as a frame. */
export function readSampleFrame(file: string, dir = sampleLabelsDir): Frame {
  const full = path.join(dir, file);
  let raw: { image_filename: string; metadata?: unknown; labels?: unknown };
  try {
    raw = JSON.parse(readFileSync(full, 'utf8'));
  } catch (error) {
    throw new Error(
      `cannot read the shared BDD100K sample label ${full} (set AUTOLABEL_SHARED_DIR to the shared folder): ${(error as Error).message}`,
      { cause: error },
    );
  }
  return FrameSchema.parse({ name: raw.image_filename, attributes: raw.metadata, labels: raw.labels });
}
