/**
 * Small, pure SVG chart builders for the HTML report. Each returns one `<svg class="chart" data-chart=...
 * role="img" aria-label=...>` string, rendered server-side: no script is needed to see it. Every piece of text
 * that comes from a caller is escaped.
 */
import { escapeHtml, formatPercent, isDefined, num, textWidth } from './format';

export type ChartKind = 'pr-curve' | 'confusion' | 'ap-bars' | 'trend' | 'drift-histogram' | 'drift-score';

export const CHART_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

const INK = '#1f2937';
const MUTED = '#6b7280';
const GRID = '#e5e7eb';
const AXIS = '#9ca3af';

/** Colours of the PR-curve series, in order (IoU .50, IoU .75, ...). */
export const SERIES_COLORS = ['#2563eb', '#d97706', '#059669', '#7c3aed'] as const;

function svgOpen(kind: ChartKind, label: string, width: number, height: number): string {
  const w = num(width);
  const h = num(height);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-${kind}" data-chart="${kind}" role="img"` +
    ` aria-label="${escapeHtml(label)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}"` +
    ` font-family="${escapeHtml(CHART_FONT)}" font-size="11"><title>${escapeHtml(label)}</title>`
  );
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${num(x)}" y="${num(y)}"${attrs ? ' ' + attrs : ''}>${escapeHtml(content)}</text>`;
}

// ---------------------------------------------------------------------------------------------------------------
// Line chart: precision-recall curves

export interface ChartSeries {
  label: string;
  /** One value per x position; -1 (undefined) leaves a gap. */
  values: readonly number[];
  color?: string;
}

export interface PrCurveChartOptions {
  /** Accessible name of the chart (aria-label and <title>). */
  title: string;
  /** x positions, in [0, 1] (COCO's 101 recall thresholds). */
  recallThresholds: readonly number[];
  series: readonly ChartSeries[];
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
  /** Shade the area under the first series (its AP); default true. */
  shadeFirst?: boolean;
}

const TICKS = [0, 0.2, 0.4, 0.6, 0.8, 1];

/**
 * Line chart of precision (y, 0..1) against recall (x, 0..1), one line per series with a legend. A chart whose
 * series are all undefined (-1) says "No ground truth"; one with no points at all says "No data".
 */
export function prCurveChart(options: PrCurveChartOptions): string {
  const width = options.width ?? 300;
  const height = options.height ?? 236;
  const m = { left: 44, right: 14, top: 30, bottom: 40 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const x = (v: number) => m.left + clamp01(v) * pw;
  const y = (v: number) => m.top + (1 - clamp01(v)) * ph;
  const out: string[] = [svgOpen('pr-curve', options.title, width, height)];

  // Grid, ticks and axis labels.
  for (const t of TICKS) {
    out.push(`<line x1="${num(x(t))}" y1="${num(m.top)}" x2="${num(x(t))}" y2="${num(m.top + ph)}" stroke="${GRID}"/>`);
    out.push(`<line x1="${num(m.left)}" y1="${num(y(t))}" x2="${num(m.left + pw)}" y2="${num(y(t))}" stroke="${GRID}"/>`);
    out.push(text(x(t), m.top + ph + 14, tickLabel(t), `text-anchor="middle" fill="${MUTED}"`));
    out.push(text(m.left - 6, y(t) + 3.5, tickLabel(t), `text-anchor="end" fill="${MUTED}"`));
  }
  out.push(
    `<path d="M${num(m.left)} ${num(m.top)}V${num(m.top + ph)}H${num(m.left + pw)}" fill="none" stroke="${AXIS}"/>`,
    text(m.left + pw / 2, height - 6, options.xLabel ?? 'Recall', `text-anchor="middle" fill="${INK}"`),
    text(
      12,
      m.top + ph / 2,
      options.yLabel ?? 'Precision',
      `text-anchor="middle" fill="${INK}" transform="rotate(-90 12 ${num(m.top + ph / 2)})"`,
    ),
  );

  const n = options.recallThresholds.length;
  const hasPoints = n > 0 && options.series.some((s) => s.values.length > 0);
  const hasDefined = options.series.some((s) => s.values.slice(0, n).some(isDefined));
  if (!hasPoints || !hasDefined) {
    const note = hasPoints ? 'No ground truth' : 'No data';
    out.push(
      `<g class="chart-note">`,
      `<rect x="${num(m.left + pw / 2 - 62)}" y="${num(m.top + ph / 2 - 14)}" width="124" height="24" rx="4" fill="#f9fafb" stroke="${GRID}"/>`,
      text(m.left + pw / 2, m.top + ph / 2 + 2, note, `text-anchor="middle" fill="${MUTED}" font-size="12"`),
      `</g>`,
    );
  } else {
    options.series.forEach((s, i) => {
      const color = s.color ?? SERIES_COLORS[i % SERIES_COLORS.length]!;
      for (const segment of segments(options.recallThresholds, s.values)) {
        const pts = segment.map(([rx, p]) => `${num(x(rx))} ${num(y(p))}`);
        const first = segment[0]!;
        const last = segment[segment.length - 1]!;
        if (i === 0 && options.shadeFirst !== false)
          out.push(
            `<path class="area" d="M${pts.join('L')}L${num(x(last[0]))} ${num(y(0))}L${num(x(first[0]))} ${num(y(0))}Z" fill="${color}" fill-opacity="0.08" stroke="none"/>`,
          );
        out.push(
          `<path class="series" data-series="${escapeHtml(s.label)}" d="M${pts.join('L')}" fill="none" stroke="${color}" stroke-width="1.8" stroke-linejoin="round"/>`,
        );
      }
    });
  }

  // Legend, top right.
  let lx = m.left + pw;
  const legend: string[] = [];
  for (let i = options.series.length - 1; i >= 0; i--) {
    const s = options.series[i]!;
    const color = s.color ?? SERIES_COLORS[i % SERIES_COLORS.length]!;
    const w = textWidth(s.label, 11);
    lx -= w;
    legend.unshift(
      `<line x1="${num(lx - 20)}" y1="${num(m.top - 13)}" x2="${num(lx - 5)}" y2="${num(m.top - 13)}" stroke="${color}" stroke-width="2.5"/>` +
        text(lx, m.top - 9.5, s.label, `fill="${INK}"`),
    );
    lx -= 32;
  }
  out.push(`<g class="legend">${legend.join('')}</g>`, '</svg>');
  return out.join('');
}

function tickLabel(t: number): string {
  return t === 0 ? '0' : t === 1 ? '1' : t.toFixed(1);
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

/** Runs of consecutive defined points, as [x, y] pairs. */
function segments(xs: readonly number[], ys: readonly number[]): Array<Array<[number, number]>> {
  const runs: Array<Array<[number, number]>> = [];
  let run: Array<[number, number]> = [];
  const n = Math.min(xs.length, ys.length);
  for (let i = 0; i < n; i++) {
    const v = ys[i]!;
    if (isDefined(v) && Number.isFinite(xs[i]!)) run.push([xs[i]!, v]);
    else if (run.length > 0) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

// ---------------------------------------------------------------------------------------------------------------
// Heat map: confusion matrices

export interface HeatMapOptions {
  title: string;
  rowLabels: readonly string[];
  columnLabels: readonly string[];
  /** counts[row][column]. */
  counts: readonly (readonly number[])[];
  rowAxisLabel?: string;
  columnAxisLabel?: string;
}

/**
 * Confusion-matrix heat map: rows = ground truth, columns = predictions, the count in every cell, colour
 * normalised per row (share of that GT value), cells where the row and column label agree outlined.
 */
export function confusionHeatMap(options: HeatMapOptions): string {
  const cellW = 46;
  const cellH = 30;
  const rows = options.rowLabels;
  const cols = options.columnLabels;
  const rowLabelW = Math.max(40, ...rows.map((r) => textWidth(r, 12))) + 12;
  const angle = 40;
  const sin = Math.sin((angle * Math.PI) / 180);
  const cos = Math.cos((angle * Math.PI) / 180);
  const colLabelWs = cols.map((c) => textWidth(c, 11.5));
  const headerH = Math.max(24, ...colLabelWs.map((w) => w * sin)) + 34;
  const totalW = 48;
  const left = 22 + rowLabelW;
  const gridW = cols.length * cellW;
  const lastOverhang = colLabelWs.length ? colLabelWs[colLabelWs.length - 1]! * cos - cellW / 2 : 0;
  const width = left + gridW + Math.max(totalW, lastOverhang + 8) + 6;
  const height = headerH + Math.max(rows.length, 1) * cellH + 10;
  const out: string[] = [svgOpen('confusion', options.title, width, height)];

  const rowAxis = options.rowAxisLabel ?? 'Ground truth';
  const colAxis = options.columnAxisLabel ?? 'Predicted';
  out.push(text(left + gridW / 2, 13, colAxis, `text-anchor="middle" fill="${INK}" font-weight="600"`));
  const midY = headerH + (Math.max(rows.length, 1) * cellH) / 2;
  out.push(text(12, midY, rowAxis, `text-anchor="middle" fill="${INK}" font-weight="600" transform="rotate(-90 12 ${num(midY)})"`));

  cols.forEach((c, j) => {
    const cx = left + j * cellW + cellW / 2;
    const cy = headerH - 8;
    out.push(text(cx - 3, cy, c, `fill="${INK}" font-size="11.5" transform="rotate(-${angle} ${num(cx - 3)} ${num(cy)})"`));
  });
  if (rows.length > 0) out.push(text(left + gridW + totalW / 2 + 2, headerH - 8, 'total', `text-anchor="middle" fill="${MUTED}"`));

  if (rows.length === 0 || cols.length === 0) {
    out.push(
      text(
        left + Math.max(gridW, 160) / 2,
        headerH + cellH / 2 + 4,
        'No images with defined ground truth',
        `text-anchor="middle" fill="${MUTED}" font-size="12"`,
      ),
    );
  }

  rows.forEach((r, i) => {
    const line = options.counts[i] ?? [];
    const total = line.reduce((a, b) => a + (b ?? 0), 0);
    const y0 = headerH + i * cellH;
    out.push(text(left - 8, y0 + cellH / 2 + 4, r, `text-anchor="end" fill="${INK}" font-size="12"`));
    cols.forEach((c, j) => {
      const count = line[j] ?? 0;
      const share = total > 0 ? count / total : 0;
      const x0 = left + j * cellW;
      const diagonal = r === c;
      const tip = `${rowAxis} ${r}, ${colAxis.toLowerCase()} ${c}: ${count}${total > 0 ? ` (${formatPercent(share)} of row)` : ''}`;
      out.push(
        `<g class="cell${diagonal ? ' diagonal' : ''}"><title>${escapeHtml(tip)}</title>` +
          `<rect x="${num(x0 + 1)}" y="${num(y0 + 1)}" width="${cellW - 2}" height="${cellH - 2}" rx="2" fill="${heatColor(share, total > 0)}"` +
          (diagonal ? ` stroke="${INK}" stroke-width="1.5"` : '') +
          `/>` +
          text(
            x0 + cellW / 2,
            y0 + cellH / 2 + 4,
            String(count),
            `text-anchor="middle" font-size="12" fill="${count === 0 ? '#9ca3af' : share > 0.5 ? '#ffffff' : INK}"${diagonal ? ' font-weight="600"' : ''}`,
          ) +
          `</g>`,
      );
    });
    out.push(text(left + gridW + totalW / 2 + 2, y0 + cellH / 2 + 4, String(total), `text-anchor="middle" fill="${MUTED}" font-size="12"`));
  });
  out.push('</svg>');
  return out.join('');
}

/** White-to-blue ramp on the share of the row; empty rows are light grey. */
export function heatColor(share: number, rowHasData = true): string {
  if (!rowHasData) return '#f3f4f6';
  const from = [248, 250, 252];
  const to = [30, 64, 175];
  const t = Math.sqrt(clamp01(share));
  const c = from.map((f, i) => Math.round(f + (to[i]! - f) * t));
  return `rgb(${c.join(',')})`;
}

// ---------------------------------------------------------------------------------------------------------------
// Horizontal bars: per-class AP

export interface BarItem {
  label: string;
  /** A fraction in [0, 1]; -1 (undefined) draws no bar and says "n/a". */
  value: number;
}

export interface BarChartOptions {
  title: string;
  items: readonly BarItem[];
  /** Text after "n/a" for undefined values. */
  undefinedNote?: string;
  color?: string;
  barWidth?: number;
}

/** Horizontal bar chart of fractions on a 0..100% axis, value printed after each bar. */
export function horizontalBarChart(options: BarChartOptions): string {
  const rowH = 24;
  const labelW = Math.max(60, ...options.items.map((i) => textWidth(i.label, 12))) + 14;
  const barW = options.barWidth ?? 440;
  const top = 22;
  const valueW = 130;
  const width = labelW + barW + valueW;
  const height = top + Math.max(options.items.length, 1) * rowH + 8;
  const color = options.color ?? SERIES_COLORS[0];
  const out: string[] = [svgOpen('ap-bars', options.title, width, height)];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const gx = labelW + t * barW;
    out.push(
      `<line x1="${num(gx)}" y1="${top - 4}" x2="${num(gx)}" y2="${num(height - 6)}" stroke="${t === 0 ? AXIS : GRID}"/>`,
      text(gx, top - 8, `${t * 100}%`, `text-anchor="middle" fill="${MUTED}"`),
    );
  }
  if (options.items.length === 0) out.push(text(labelW + barW / 2, top + 16, 'No classes', `text-anchor="middle" fill="${MUTED}"`));
  options.items.forEach((item, i) => {
    const y0 = top + i * rowH;
    const defined = isDefined(item.value);
    out.push(`<g class="bar${defined ? '' : ' undefined'}">`);
    out.push(text(labelW - 8, y0 + rowH / 2 + 4, item.label, `text-anchor="end" fill="${defined ? INK : MUTED}" font-size="12"`));
    if (defined) {
      const w = Math.max(clamp01(item.value) * barW, item.value > 0 ? 1.5 : 0);
      out.push(
        `<rect x="${num(labelW)}" y="${num(y0 + 4)}" width="${num(w)}" height="${rowH - 8}" rx="2" fill="${color}"/>`,
        text(labelW + w + 6, y0 + rowH / 2 + 4, formatPercent(item.value), `fill="${INK}" font-size="12"`),
      );
    } else {
      const note = options.undefinedNote ? `n/a (${options.undefinedNote})` : 'n/a';
      out.push(text(labelW + 6, y0 + rowH / 2 + 4, note, `fill="${MUTED}" font-size="12" font-style="italic"`));
    }
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('');
}

// ---------------------------------------------------------------------------------------------------------------
// Line chart over time: nightly trends

/** Flagged points (regressions) and their marks. */
export const FLAG_COLOR = '#b91c1c';

export interface TrendSeries extends ChartSeries {
  /** Indexes of points to flag, e.g. the last night of a metric that regressed: drawn larger and red. */
  flagged?: readonly number[];
  /** A reference level (e.g. the mean of earlier nights), drawn as a dashed line in the series colour. */
  baseline?: number;
}

export interface TrendChartOptions {
  title: string;
  /** One label per x position, oldest first (nights as YYYY-MM-DD are shown as MM-DD). */
  labels: readonly string[];
  series: readonly TrendSeries[];
  width?: number;
  height?: number;
  /** Default: a legend when there is more than one series. */
  legend?: boolean;
}

/**
 * Fractions over evenly spaced positions (nights): one line per series, a dot per defined value (gaps at -1), a
 * tooltip on every dot. The y axis zooms to the data (at least 5 points of range) so that a drop of a few points
 * is visible; its tick labels say where it starts.
 */
export function trendChart(options: TrendChartOptions): string {
  const width = options.width ?? 320;
  const height = options.height ?? 190;
  const legend = options.legend ?? options.series.length > 1;
  const m = { left: 44, right: 24, top: legend ? 30 : 14, bottom: 30 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const n = options.labels.length;
  const out: string[] = [svgOpen('trend', options.title, width, height)];

  const defined = options.series.flatMap((s) => [...s.values.slice(0, n), s.baseline ?? -1]).filter(isDefined);
  const [lo, hi, step] = trendRange(defined);
  const x = (i: number) => (n <= 1 ? m.left + pw / 2 : m.left + (i * pw) / (n - 1));
  const y = (v: number) => m.top + (1 - (Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * ph;

  for (let t = lo; t <= hi + 1e-9; t += step) {
    out.push(`<line x1="${num(m.left)}" y1="${num(y(t))}" x2="${num(m.left + pw)}" y2="${num(y(t))}" stroke="${GRID}"/>`);
    out.push(text(m.left - 6, y(t) + 3.5, `${Math.round(t * 100)}%`, `text-anchor="end" fill="${MUTED}"`));
  }
  out.push(`<path d="M${num(m.left)} ${num(m.top)}V${num(m.top + ph)}H${num(m.left + pw)}" fill="none" stroke="${AXIS}"/>`);
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(pw / 46))));
  options.labels.forEach((label, i) => {
    if (i % every !== 0 && i !== n - 1) return;
    if (i !== n - 1 && n - 1 - i < every) return; // keep the last label clear of its neighbour
    out.push(
      text(x(i), m.top + ph + 15, /^\d{4}-\d{2}-\d{2}$/.test(label) ? label.slice(5) : label, `text-anchor="middle" fill="${MUTED}"`),
    );
  });

  if (defined.length === 0) {
    out.push(
      text(
        m.left + pw / 2,
        m.top + ph / 2 + 4,
        n === 0 ? 'No data' : 'No defined values',
        `class="chart-note" text-anchor="middle" fill="${MUTED}" font-size="12"`,
      ),
    );
  }
  options.series.forEach((s, k) => {
    const color = s.color ?? SERIES_COLORS[k % SERIES_COLORS.length]!;
    const label = escapeHtml(s.label);
    if (s.baseline !== undefined && isDefined(s.baseline))
      out.push(
        `<line class="baseline" data-series="${label}" x1="${num(m.left)}" y1="${num(y(s.baseline))}" x2="${num(m.left + pw)}" y2="${num(y(s.baseline))}" stroke="${color}" stroke-dasharray="4 3" stroke-opacity="0.7">` +
          `<title>${label}: mean of earlier nights ${escapeHtml(formatPercent(s.baseline))}</title></line>`,
      );
    const positions = options.labels.map((_, i) => i);
    for (const run of segments(positions, s.values)) {
      if (run.length < 2) continue;
      out.push(
        `<path class="series" data-series="${label}" d="M${run.map(([i, v]) => `${num(x(i))} ${num(y(v))}`).join('L')}" fill="none" stroke="${color}" stroke-width="1.8" stroke-linejoin="round"/>`,
      );
    }
    s.values.slice(0, n).forEach((v, i) => {
      if (!isDefined(v)) return;
      const flagged = s.flagged?.includes(i) ?? false;
      const tip = `${options.labels[i]} · ${s.label}: ${formatPercent(v)}${flagged ? ' (regression)' : ''}`;
      out.push(
        `<circle class="point${flagged ? ' flagged' : ''}" data-series="${label}" data-index="${i}" cx="${num(x(i))}" cy="${num(y(v))}"` +
          (flagged ? ` r="5" fill="${FLAG_COLOR}" stroke="#ffffff" stroke-width="1.5"` : ` r="2.8" fill="${color}"`) +
          `><title>${escapeHtml(tip)}</title></circle>`,
      );
    });
  });

  if (legend) {
    let lx = m.left + pw;
    const items: string[] = [];
    for (let k = options.series.length - 1; k >= 0; k--) {
      const s = options.series[k]!;
      const color = s.color ?? SERIES_COLORS[k % SERIES_COLORS.length]!;
      lx -= textWidth(s.label, 11);
      items.unshift(
        `<line x1="${num(lx - 20)}" y1="${num(m.top - 15)}" x2="${num(lx - 5)}" y2="${num(m.top - 15)}" stroke="${color}" stroke-width="2.5"/>` +
          text(lx, m.top - 11.5, s.label, `fill="${INK}"`),
      );
      lx -= 32;
    }
    out.push(`<g class="legend">${items.join('')}</g>`);
  }
  out.push('</svg>');
  return out.join('');
}

/** [low, high, tick step] of the y axis: round steps, at most 5 of them, at least 5 points of range, within [0, 1]. */
function trendRange(values: readonly number[]): [number, number, number] {
  if (values.length === 0) return [0, 1, 0.25];
  let min = Math.min(...values);
  let max = Math.max(...values);
  const pad = Math.max(0, (0.05 - (max - min)) / 2);
  min -= pad;
  max += pad;
  for (const step of [0.01, 0.02, 0.05, 0.1, 0.2, 0.25]) {
    const lo = Math.max(0, Math.floor((min - step / 4) / step + 1e-9) * step);
    const hi = Math.min(1, Math.ceil((max + step / 4) / step - 1e-9) * step);
    if ((hi - lo) / step <= 5 + 1e-9) return [lo, hi, step];
  }
  return [0, 1, 0.25];
}

// ---------------------------------------------------------------------------------------------------------------
// Drift: two histograms side by side, and a score against its threshold

/** Reference and current shares per bin (each summing to 1 or all 0), as paired bars: the nightly drift table. */
export function pairedHistogram(options: {
  title: string;
  reference: readonly number[];
  current: readonly number[];
  flagged?: boolean;
}): string {
  const bins = Math.max(options.reference.length, options.current.length, 1);
  const width = 160;
  const height = 44;
  const slot = width / bins;
  const peak = Math.max(0.01, ...options.reference, ...options.current);
  const bar = (share: number, i: number, offset: number, color: string) => {
    const h = (clamp01(share) / peak) * (height - 6);
    return `<rect x="${num(i * slot + offset)}" y="${num(height - 2 - h)}" width="${num(slot / 2 - 1)}" height="${num(h)}" fill="${color}"/>`;
  };
  const out = [svgOpen('drift-histogram', options.title, width, height)];
  out.push(`<line x1="0" y1="${height - 2}" x2="${width}" y2="${height - 2}" stroke="${AXIS}"/>`);
  for (let i = 0; i < bins; i++) {
    out.push(
      bar(options.reference[i] ?? 0, i, 0.5, AXIS),
      bar(options.current[i] ?? 0, i, slot / 2, options.flagged ? FLAG_COLOR : SERIES_COLORS[0]),
    );
  }
  out.push('</svg>');
  return out.join('');
}

/** A score (0..1) as a bar with its threshold as a tick: red when the metric drifted. */
export function scoreBar(options: { title: string; score: number; threshold: number; drift: boolean }): string {
  const width = 120;
  const height = 14;
  const out = [svgOpen('drift-score', options.title, width, height)];
  out.push(`<rect x="0" y="3" width="${width}" height="8" rx="2" fill="${GRID}"/>`);
  out.push(
    `<rect x="0" y="3" width="${num(clamp01(options.score) * width)}" height="8" rx="2" fill="${options.drift ? FLAG_COLOR : SERIES_COLORS[0]}"/>`,
  );
  const t = num(clamp01(options.threshold) * width);
  out.push(`<line x1="${t}" y1="0" x2="${t}" y2="${height}" stroke="${INK}" stroke-width="1.5"/>`);
  out.push('</svg>');
  return out.join('');
}
