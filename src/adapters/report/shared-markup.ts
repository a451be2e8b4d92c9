/**
 * Markup both report pages (report.html and nightly.html) draw the same way: the header with its facts, timestamps,
 * frame-attribute titles and a stat card's percentage. One copy, so the two pages cannot drift apart.
 */
import type { AttributeKey } from '../../core/nightly/schemas';
import { escapeHtml, formatPercent, isDefined } from './format';

const ATTRIBUTE_TITLES: Readonly<Record<AttributeKey, string>> = {
  weather: 'Weather',
  timeofday: 'Time of day',
  scene: 'Scene',
  overall: 'Overall',
};

/** The heading of a frame attribute ('timeofday' -> 'Time of day'); a key the pages do not know, as it is. */
export function attributeTitle(key: string): string {
  return (ATTRIBUTE_TITLES as Readonly<Record<string, string | undefined>>)[key] ?? key;
}

/**
 * An ISO timestamp as a <time> reading "YYYY-MM-DD HH:MM UTC", with the seconds when `shown` is 'seconds' (the
 * full value in its tooltip); a value that is not a date is shown as it is.
 */
export function timeHtml(iso: string, shown: 'minutes' | 'seconds'): string {
  const date = new Date(iso);
  const readable = Number.isNaN(date.getTime())
    ? iso
    : `${date.toISOString().slice(0, 10)} ${date.toISOString().slice(11, shown === 'seconds' ? 19 : 16)} UTC`;
  return `<time datetime="${escapeHtml(iso)}" title="${escapeHtml(iso)}">${escapeHtml(readable)}</time>`;
}

export interface ReportHeader {
  /** Text of the <h1> and the line under it. */
  title: string;
  subtitle: string;
  /** Name (text) and value (HTML) of each fact, in order. */
  facts: ReadonlyArray<readonly [string, string]>;
  /** HTML after the facts (the evaluation report's inputs), on a line of its own even when empty. */
  after?: string;
}

/** The page's header card: title, subtitle and a list of facts. */
export function reportHeaderHtml({ title, subtitle, facts, after }: ReportHeader): string {
  return [
    '<header class="report-header" id="header">',
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="subtitle">${escapeHtml(subtitle)}</p>`,
    '<dl class="facts">',
    ...facts.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${v}</dd></div>`),
    '</dl>',
    ...(after === undefined ? [] : [after]),
    '</header>',
  ].join('\n');
}

/** A stat card's big number: a fraction as a percentage, greyed when undefined ("n/a"). */
export function percentStatValue(value: number): string {
  return `<div class="stat-value${isDefined(value) ? '' : ' na'}">${escapeHtml(formatPercent(value))}</div>`;
}
