import { byCreation, poolNight } from './pool-night';
import { findRegressions } from './regressions';
import {
  BatchReportSummarySchema,
  NIGHTLY_SCHEMA_VERSION,
  NightlyReportSchema,
  NightlySummarySchema,
  type BatchReportSummary,
  type NightlyReport,
  type NightlySummary,
} from './schemas';
import type { NightlyDrift } from './drift';

/** An absolute drop of 2 points (0.02) in a fraction is the smallest change flagged by default. */
export const DEFAULT_TOLERANCE = 0.02;
export const DEFAULT_MIN_HISTORY = 1;
/** A month of nights: enough for a stable baseline, small enough to store in one document. */
export const DEFAULT_HISTORY_LIMIT = 30;

/** A Date, or an ISO 8601 string with a time zone. */
export type Instant = Date | string;

export interface BuildNightlyReportArgs {
  /** Summaries of the batch reports created in [windowStart, windowEnd) (summarizeBatchReport). */
  summaries: readonly BatchReportSummary[];
  /** Earlier nights, any order; historyAfter(previousReport) gives them. Nights on or after tonight are ignored. */
  history: readonly NightlySummary[];
  windowStart: Instant;
  windowEnd: Instant;
  /** The run's time: the report's createdAt, and its UTC date names the night. Injected, never read from a clock. */
  now: Instant;
  /** Default DEFAULT_TOLERANCE. */
  tolerance?: number;
  /** Default DEFAULT_MIN_HISTORY. */
  minHistory?: number;
  /** Default DEFAULT_HISTORY_LIMIT. */
  historyLimit?: number;
  /** The drift section (buildDriftSection), when the run computed one. */
  drift?: NightlyDrift;
}

/**
 * Tonight's report: last night's batches pooled (poolNight), compared with the earlier nights (findRegressions).
 * Pure and deterministic: the same arguments give the same report. Throws on arguments that are a caller's bug
 * (invalid dates, a window that ends before it starts, invalid settings or documents); everything that can simply
 * happen on a night (no batch, no history, a duplicate) becomes a note instead.
 */
export function buildNightlyReport(args: BuildNightlyReportArgs): NightlyReport {
  const now = toIso(args.now, 'now');
  const windowStart = toIso(args.windowStart, 'windowStart');
  const windowEnd = toIso(args.windowEnd, 'windowEnd');
  if (Date.parse(windowEnd) < Date.parse(windowStart))
    throw new RangeError(`the window ends (${windowEnd}) before it starts (${windowStart})`);
  const settings = {
    tolerance: args.tolerance ?? DEFAULT_TOLERANCE,
    minHistory: args.minHistory ?? DEFAULT_MIN_HISTORY,
    historyLimit: args.historyLimit ?? DEFAULT_HISTORY_LIMIT,
  };
  const nightDate = now.slice(0, 10);
  const notes: string[] = [];

  const summaries = distinctReports(BatchReportSummarySchema.array().parse(args.summaries), notes);
  for (const s of summaries) {
    const t = Date.parse(s.createdAt);
    if (t < Date.parse(windowStart) || t >= Date.parse(windowEnd))
      notes.push(
        `Batch report ${s.reportId} (batch ${s.batchId}) was created at ${s.createdAt}, outside the window; it is included as given.`,
      );
  }
  const night = poolNight(summaries, { night: nightDate, windowStart, windowEnd });
  const history = earlierNights(NightlySummarySchema.array().parse(args.history), nightDate, settings.historyLimit, notes);
  const regressions = findRegressions(night, history, settings);

  if (summaries.length === 0)
    notes.unshift(`No batch was evaluated last night: no batch report was created between ${windowStart} and ${windowEnd}.`);
  else if (night.images === 0) notes.unshift('Last night’s batch reports evaluated no image.');
  if (history.length === 0) notes.push('No earlier nights to compare with: no regression can be flagged yet.');
  else if (history.length < settings.minHistory)
    notes.push(
      `Only ${history.length} earlier night${history.length === 1 ? '' : 's'}: a metric needs ${settings.minHistory} with data before it can be flagged.`,
    );

  return NightlyReportSchema.parse({
    kind: 'autolabel.nightly',
    schemaVersion: NIGHTLY_SCHEMA_VERSION,
    createdAt: now,
    settings,
    night,
    history,
    regressions,
    notes,
    ...(args.drift ? { drift: args.drift } : {}),
  });
}

/** The history the next run compares with: this report's earlier nights and its own night (capped there). */
export function historyAfter(report: NightlyReport): NightlySummary[] {
  return [...report.history, report.night];
}

function toIso(value: Instant, name: string): string {
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime()) || (typeof value === 'string' && !/(Z|[+-]\d{2}:?\d{2})$/i.test(value)))
    throw new RangeError(`${name} must be a valid Date or ISO 8601 string with a time zone, got ${String(value)}`);
  return date.toISOString();
}

/** A report listed twice (the timer's query overlapping a retry) must count once. */
function distinctReports(summaries: readonly BatchReportSummary[], notes: string[]): BatchReportSummary[] {
  const seen = new Set<string>();
  const kept: BatchReportSummary[] = [];
  for (const s of [...summaries].sort(byCreation)) {
    if (seen.has(s.reportId)) {
      notes.push(`Batch report ${s.reportId} was listed more than once; it is counted once.`);
      continue;
    }
    seen.add(s.reportId);
    kept.push(s);
  }
  return kept;
}

/** Nights before tonight, one per date (the latest window wins: a re-run replaces its night), oldest first, capped. */
function earlierNights(history: readonly NightlySummary[], tonight: string, limit: number, notes: string[]): NightlySummary[] {
  const byNight = new Map<string, NightlySummary>();
  let ignored = 0;
  for (const night of history) {
    if (night.night >= tonight) {
      ignored++;
      continue;
    }
    const other = byNight.get(night.night);
    if (!other || Date.parse(night.windowEnd) > Date.parse(other.windowEnd)) byNight.set(night.night, night);
  }
  if (ignored > 0)
    notes.push(
      `${ignored} history entr${ignored === 1 ? 'y is' : 'ies are'} not earlier than ${tonight} and ${ignored === 1 ? 'was' : 'were'} left out.`,
    );
  const nights = [...byNight.values()].sort((a, b) => (a.night < b.night ? -1 : 1));
  if (nights.length > limit)
    notes.push(`History holds ${nights.length} earlier nights; the oldest ${nights.length - limit} were dropped (limit ${limit}).`);
  return nights.slice(-limit);
}
