/**
 * The nightly page's drift section: one row per batch that finished labeling in the window (with or without ground
 * truth), its drifted metrics and a sketch of its brightness against the reference's, then per compared batch every
 * metric with its score against its threshold. Every string from the report is escaped.
 */
import type { BatchDrift, NightlyDrift } from '../../core/nightly/drift';
import { escapeHtml, formatCount } from './format';
import { timeHtml } from './shared-markup';
import { pairedHistogram, scoreBar } from './svg-charts';

const STATUS_TEXT: Record<BatchDrift['status'], string> = {
  compared: 'compared',
  reference: 'part of the reference',
  'no-reference': 'no reference yet',
  'no-profile': 'no profile',
};

const fixed = (v: number) => v.toFixed(3);
const latency = (p: { p50: number | null; p95: number | null }) => (p.p50 === null ? 'n/a' : `${p.p50} / ${p.p95} ms`);
const pValue = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));

export function renderDriftSection(drift: NightlyDrift | undefined): string {
  if (!drift) return '';
  const flagged = drift.batches.filter((b) => b.drift);
  const t = drift.thresholds;
  const rule =
    `a metric drifts when its score reaches its threshold (KS ${t.byTest.ks}, Jensen-Shannon ${t.byTest.js}, share difference ` +
    `${t.byTest.share} unless set per metric) and samples of these sizes would differ that much by chance with p < ${t.alpha}`;
  const rows = drift.batches.map((b) => {
    const drifted = b.metrics.filter((m) => m.drift);
    return (
      `<tr class="${b.drift ? 'regression' : ''}" data-batch="${escapeHtml(b.batchId)}" data-drift="${b.drift}">` +
      `<th scope="row" class="path">${escapeHtml(b.batchId)}</th><td>${timeHtml(b.completedAt, 'minutes')}</td>` +
      `<td class="num">${formatCount(b.images)}</td><td class="num">${formatCount(b.failed)}</td>` +
      `<td>${b.groundTruth ? 'yes' : 'no'}</td><td>${escapeHtml(STATUS_TEXT[b.status])}` +
      (b.reference
        ? ` <span class="muted">(${formatCount(b.reference.images)} images in ${formatCount(b.reference.batches)} batches)</span>`
        : '') +
      `</td><td>${drifted.length ? drifted.map((m) => `<span class="tag bad">${escapeHtml(m.name)}</span>`).join(' ') : b.status === 'compared' ? 'none' : ''}</td>` +
      `<td class="num">${b.latencyMs ? escapeHtml(latency(b.latencyMs.current)) + ` <span class="muted">(ref ${escapeHtml(latency(b.latencyMs.reference))})</span>` : ''}</td>` +
      `<td>${b.brightness ? pairedHistogram({ title: `Brightness of ${b.batchId} (colour) against the reference (grey)`, ...b.brightness, flagged: drifted.some((m) => m.name === 'input.brightness') }) : ''}</td></tr>`
    );
  });
  const details = drift.batches.filter((b) => b.status === 'compared').map(renderBatchMetrics);
  return [
    `<section id="drift" class="${flagged.length ? 'regressions bad' : ''}" aria-labelledby="drift-title">`,
    `<h2 id="drift-title">Drift without labels${flagged.length ? ` · ${formatCount(flagged.length)} batch${flagged.length === 1 ? '' : 'es'} drifted` : ''}</h2>`,
    `<p class="note">Batches that finished labeling in the window, judged against ${escapeHtml(drift.reference)}: ${escapeHtml(rule)}. Brightness: share of images per tenth, reference grey, batch in colour.</p>`,
    rows.length
      ? [
          '<div class="table-wrap"><table class="data" id="drift-table">',
          '<thead><tr><th scope="col">Batch</th><th scope="col">Labeled</th><th scope="col" class="num">Images</th><th scope="col" class="num">Failed</th><th scope="col">Ground truth</th><th scope="col">Compared</th><th scope="col">Drifted metrics</th><th scope="col">Latency p50 / p95</th><th scope="col">Brightness</th></tr></thead>',
          `<tbody>${rows.join('')}</tbody>`,
          '</table></div>',
          ...details,
        ].join('\n')
      : '<p class="empty">No batch finished labeling in the window.</p>',
    '</section>',
  ].join('\n');
}

function renderBatchMetrics(b: BatchDrift): string {
  const rows = b.metrics.map(
    (m) =>
      `<tr class="${m.drift ? 'regression' : ''}" data-metric="${escapeHtml(m.name)}"><th scope="row">${escapeHtml(m.name)}</th>` +
      `<td class="num${m.drift ? ' bad' : ''}">${fixed(m.score)}</td><td class="num">${fixed(m.threshold)}</td><td class="num">${escapeHtml(pValue(m.pValue))}</td>` +
      `<td class="num">${formatCount(m.samples.reference)} / ${formatCount(m.samples.current)}</td>` +
      `<td>${scoreBar({ title: `${m.name}: score ${fixed(m.score)}, threshold ${fixed(m.threshold)}`, score: m.score, threshold: m.threshold, drift: m.drift })}</td>` +
      `<td>${m.drift ? '<span class="tag bad">drift</span>' : escapeHtml(m.note ?? '')}</td></tr>`,
  );
  return [
    `<details class="drift-metrics" data-batch="${escapeHtml(b.batchId)}"${b.drift ? ' open' : ''}><summary>${escapeHtml(b.batchId)}: every metric</summary>`,
    '<div class="table-wrap"><table class="data">',
    '<thead><tr><th scope="col">Metric</th><th scope="col" class="num">Score</th><th scope="col" class="num">Threshold</th><th scope="col" class="num">p</th><th scope="col" class="num">Samples (ref / batch)</th><th scope="col">Score and threshold</th><th scope="col"></th></tr></thead>',
    `<tbody>${rows.join('')}</tbody>`,
    '</table></div></details>',
  ].join('\n');
}
