import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluate } from '../src/core/evaluation/evaluate';
import { EvaluationReportSchema, type EvaluationReport } from '../src/core/evaluation/report-schema';
import { FrameSchema, type Frame, type Label } from '../src/core/labels/schema';
import { ATTRIBUTE_VOCABULARIES, type AttributeName } from '../src/core/taxonomy/attributes';
import { renderReportHtml, summarizeBoxes } from '../src/adapters/report/html';
import { confusionHeatMap, horizontalBarChart, prCurveChart } from '../src/adapters/report/svg-charts';
import { escapeHtml, formatPercent } from '../src/adapters/report/format';
import { launchChromium, openOffline } from './helpers/browser';
import { sampleLabelsDir } from './helpers/shared';
import { seededRandom } from '../bench/synthetic';

const INJECTED = '<img src=x onerror=alert(1)>.jpg';
const INJECTED_CATEGORY = '<script>alert(2)</script>';
const INJECTED_PROBLEM = '<b onmouseover=alert(3)>bad</b>.json';
const OUTPUT_DIR = path.resolve(__dirname, '..', 'test-output');

// ---------------------------------------------------------------------------------------------------------------
// A real report: the 60-image BDD100K sample against deterministic, perturbed predictions.

function loadGt(): Frame[] {
  const files = readdirSync(sampleLabelsDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((file) => {
    const raw = JSON.parse(readFileSync(path.join(sampleLabelsDir, file), 'utf8')) as {
      image_filename: string;
      metadata?: Record<string, string>;
      labels?: unknown[];
    };
    return FrameSchema.parse({ name: raw.image_filename, attributes: raw.metadata, labels: raw.labels ?? [] });
  });
}

const FP_CATEGORIES = ['car', 'car', 'pedestrian', 'traffic sign', 'traffic light', 'truck'];

function predictionsFor(gt: Frame[]): Frame[] {
  const rand = seededRandom(20240601);
  const predictions: Frame[] = [];
  gt.forEach((frame, i) => {
    if (i === 5 || i === 17) return; // two GT images without any prediction
    const labels: Label[] = [];
    let id = 0;
    const push = (category: string, box: { x1: number; y1: number; x2: number; y2: number }, score: number) =>
      labels.push({ id: `p${i}-${id++}`, category, box2d: box, score });
    for (const label of frame.labels) {
      const b = label.box2d;
      if (!b) continue;
      const w = b.x2 - b.x1;
      const h = b.y2 - b.y1;
      const small = w * h < 32 * 32;
      if (rand() < 0.1 + (small ? 0.3 : 0)) continue; // missed
      const jitter = small ? 0.3 : 0.14;
      const x1 = b.x1 + (rand() - 0.5) * jitter * w;
      const y1 = b.y1 + (rand() - 0.5) * jitter * h;
      const x2 = Math.max(x1 + 1, b.x2 + (rand() - 0.5) * jitter * w);
      const y2 = Math.max(y1 + 1, b.y2 + (rand() - 0.5) * jitter * h);
      const score = rand() < 0.1 ? 0.05 + 0.2 * rand() : 0.35 + 0.65 * rand();
      push(label.category, { x1, y1, x2, y2 }, score);
    }
    const fps = Math.floor(rand() * 3) + (i === 3 ? 12 : 0);
    for (let k = 0; k < fps; k++) {
      const x1 = rand() * 1180;
      const y1 = 200 + rand() * 420;
      const size = 15 + rand() * 120;
      const category = FP_CATEGORIES[Math.floor(rand() * FP_CATEGORIES.length)]!;
      push(category, { x1, y1, x2: x1 + size, y2: y1 + size * (0.6 + rand()) }, 0.05 + 0.75 * rand());
    }
    if (i === 8) push('motorcycle', { x1: 100, y1: 400, x2: 180, y2: 470 }, 0.8); // a class without GT
    if (i === 9) push(INJECTED_CATEGORY, { x1: 10, y1: 10, x2: 50, y2: 50 }, 0.9); // outside the taxonomy

    const attributes: Record<string, string> = {};
    for (const name of ['weather', 'timeofday', 'scene'] as AttributeName[]) {
      const truth = frame.attributes?.[name] ?? 'undefined';
      const options = ATTRIBUTE_VOCABULARIES[name].filter((v) => v !== 'undefined' && v !== truth);
      attributes[name] = rand() < 0.22 ? options[Math.floor(rand() * options.length)]! : truth;
    }
    if (i === 11 && attributes.weather === 'clear') attributes.weather = 'sunny'; // a synonym
    if (i === 12) attributes.scene = 'a road somewhere'; // unrecognised
    predictions.push({ name: frame.name, attributes, labels });
  });
  predictions.push({ name: 'ghost "frame" & co.jpg', labels: [] }); // prediction without GT
  return predictions;
}

function buildReport(): EvaluationReport {
  const gt = loadGt();
  // One class with no ground truth at all (the sample has a single motorcycle), and a hostile image name.
  for (const frame of gt) frame.labels = frame.labels.filter((l) => l.category !== 'motorcycle');
  gt[3]!.name = INJECTED;
  const predictions = predictionsFor(gt);
  return evaluate({
    gt,
    predictions,
    options: { mode: 'coco', iouThreshold: 0.5, scoreThreshold: 0.3 },
    inputs: {
      gt: { path: sampleLabelsDir, files: gt.length, frames: gt.length, formats: { published: gt.length }, problems: [] },
      pred: {
        path: '/tmp/predictions',
        files: predictions.length,
        frames: predictions.length,
        formats: { scalabel: predictions.length },
        problems: [{ file: INJECTED_PROBLEM, message: 'Unexpected token < in JSON at position 0' }],
      },
    },
    now: new Date('2025-06-01T12:00:00Z'),
  });
}

const report = buildReport();
const html = renderReportHtml(report);

// ---------------------------------------------------------------------------------------------------------------

describe('report fixture', () => {
  test('is a valid, non-trivial report', () => {
    EvaluationReportSchema.parse(report);
    assert.equal(report.images.evaluated, 60);
    assert.equal(report.images.withoutPredictions, 2);
    assert.equal(report.detection.perClass.motorcycle.gt, 0);
    assert.ok(report.detection.stats.AP > 0.2 && report.detection.stats.AP < 0.95, `AP ${report.detection.stats.AP}`);
    assert.ok(report.attributes.accuracy.overall > 0.5 && report.attributes.accuracy.overall < 1);
    const rank = report.diagnostics.worstImages.findIndex((w) => w.name === INJECTED);
    assert.ok(rank >= 0 && rank < 20, `hostile image ranked ${rank}`);
  });
});

describe('renderReportHtml (static)', () => {
  test('is one self-contained document with nothing to fetch', () => {
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /<link[^>]+stylesheet/i);
    assert.doesNotMatch(html, /@import|url\(/i);
    assert.doesNotMatch(html, /<script[^>]+src=/i);
    assert.doesNotMatch(html, /<img\b/i);
    // The only absolute URL is the SVG namespace; the only href is the empty data: favicon.
    const urls = (html.match(/https?:\/\/[^\s"'<>)]+/g) ?? []).filter((u) => u !== 'http://www.w3.org/2000/svg');
    assert.deepEqual(urls, []);
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(refs, ['data:,']);
    assert.match(html, /Content-Security-Policy" content="default-src &#39;none&#39;/);
  });

  test('escapes every string from the report', () => {
    for (const hostile of [INJECTED, INJECTED_CATEGORY, INJECTED_PROBLEM]) {
      assert.ok(!html.includes(hostile), `raw ${hostile} in the page`);
    }
    assert.ok(html.includes(escapeHtml(INJECTED)));
    assert.ok(html.includes('ghost &quot;frame&quot; &amp; co.jpg'));
    assert.equal(html.match(/<script\b/g)?.length, 1);
  });

  test('sections come in the specified order', () => {
    const ids = ['header', 'warnings', 'summary', 'operating-point', 'classes', 'pr-curves', 'attributes', 'worst-images'];
    const positions = ids.map((id) => html.indexOf(`id="${id}"`));
    assert.ok(
      positions.every((p) => p > 0),
      JSON.stringify(positions),
    );
    assert.deepEqual(
      [...positions].sort((a, b) => a - b),
      positions,
    );
  });

  test('stat cards: percentages with one decimal, full COCO names as titles, n/a for -1', () => {
    const stats = report.detection.stats;
    assert.ok(html.includes(`title="AP @[IoU=0.50:0.95, area=all, maxDets=100]" data-stat="AP"`));
    assert.ok(html.includes(`>${formatPercent(stats.AP)}<`));
    assert.match(formatPercent(stats.AP), /^\d{1,3}\.\d%$/);
    const empty = renderReportHtml({ ...report, detection: { ...report.detection, stats: { ...stats, APs: -1 } } });
    assert.match(empty, /data-stat="APs">.*?<div class="stat-value na">n\/a<\/div>/);
  });
});

describe('svg helpers', () => {
  const thresholds = Array.from({ length: 101 }, (_, i) => i / 100);

  test('PR curve: axes, legend, one path per series, accessible', () => {
    const svg = prCurveChart({
      title: 'PR for car',
      recallThresholds: thresholds,
      series: [
        { label: 'IoU 0.50', values: thresholds.map((r) => (r < 0.8 ? 1 - r / 2 : 0)) },
        { label: 'IoU 0.75', values: thresholds.map((r) => (r < 0.5 ? 0.9 - r : 0)) },
      ],
    });
    assert.match(svg, /^<svg [^>]*class="chart chart-pr-curve" data-chart="pr-curve" role="img" aria-label="PR for car"/);
    assert.equal(svg.match(/class="series"/g)?.length, 2);
    assert.ok(svg.includes('>Recall<') && svg.includes('>Precision<') && svg.includes('>IoU 0.75<'));
    assert.ok(svg.includes('>0.4<'));
    assert.ok(!svg.includes('NaN'));
  });

  test('PR curve: empty and undefined curves say so', () => {
    const empty = prCurveChart({ title: 'empty', recallThresholds: [], series: [{ label: 'IoU 0.50', values: [] }] });
    assert.ok(empty.includes('No data'));
    assert.ok(!empty.includes('class="series"'));
    const noGt = prCurveChart({
      title: 'no gt',
      recallThresholds: thresholds,
      series: [{ label: 'IoU 0.50', values: thresholds.map(() => -1) }],
    });
    assert.ok(noGt.includes('No ground truth'));
    assert.ok(!noGt.includes('class="series"'));
    const gap = prCurveChart({ title: 'gap', recallThresholds: [0, 0.5, 1], series: [{ label: 's', values: [1, -1, 0.5] }] });
    assert.equal(gap.match(/class="series"/g)?.length, 2, 'an undefined point splits the line');
  });

  test('heat map: counts, row-normalised colour, diagonal, escaping', () => {
    const svg = confusionHeatMap({
      title: 'weather <b>',
      rowLabels: ['clear', '<i>x</i>'],
      columnLabels: ['clear', '<i>x</i>', '(no prediction)'],
      counts: [
        [8, 2, 0],
        [1, 0, 0],
      ],
    });
    assert.match(svg, /data-chart="confusion" role="img" aria-label="weather &lt;b&gt;"/);
    assert.equal(svg.match(/<g class="cell/g)?.length, 6);
    assert.equal(svg.match(/class="cell diagonal"/g)?.length, 2);
    assert.ok(!svg.includes('<i>') && svg.includes('&lt;i&gt;x&lt;/i&gt;'));
    assert.ok(svg.includes('>8<') && svg.includes('>10<'), 'cells and row totals');
    assert.ok(svg.includes('80.0% of row'));
    const rows = confusionHeatMap({ title: 'none', rowLabels: [], columnLabels: ['a'], counts: [] });
    assert.ok(rows.includes('No images with defined ground truth'));
  });

  test('bars: one bar per defined value, n/a otherwise', () => {
    const svg = horizontalBarChart({
      title: 'AP50',
      items: [
        { label: 'car', value: 0.75 },
        { label: 'train', value: -1 },
        { label: '<script>', value: 0 },
      ],
      undefinedNote: 'no ground truth',
    });
    assert.match(svg, /data-chart="ap-bars" role="img" aria-label="AP50"/);
    assert.equal(svg.match(/<g class="bar">/g)?.length, 2);
    assert.ok(svg.includes('n/a (no ground truth)'));
    assert.ok(svg.includes('>75.0%<') && svg.includes('>0.0%<'));
    assert.ok(!svg.includes('<script>'));
  });

  test('formatting and box summaries', () => {
    assert.equal(formatPercent(0.4234), '42.3%');
    assert.equal(formatPercent(1), '100.0%');
    assert.equal(formatPercent(0), '0.0%');
    assert.equal(formatPercent(-1), 'n/a');
    const box = { x1: 0, y1: 0, x2: 1, y2: 1 };
    const groups = summarizeBoxes([
      { category: 'car', box2d: box, bestIou: 0.42 },
      { category: 'car', box2d: box, bestIou: 0.1 },
      { category: 'bus', box2d: box, bestIou: 0 },
      { category: 'car', box2d: box, bestIou: 0 },
    ]);
    assert.deepEqual(
      groups.map((g) => g.text),
      ['car ×3 (best IoU 0.42)', 'bus ×1 (no overlap)'],
    );
  });
});

describe('report.html in headless Chromium', () => {
  test('renders offline, without errors, with every chart and table', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'report-html-'));
    const file = path.join(dir, 'report.html');
    writeFileSync(file, html);
    const browser = await launchChromium();
    try {
      const opened = await openOffline(browser, file);
      const { page } = opened;

      // Charts: one PR curve per class with GT, visible and sized.
      const classesWithGt = Object.values(report.detection.perClass).filter((c) => c.gt > 0).length;
      assert.equal(classesWithGt, 9);
      const prCurves = page.locator('svg.chart[data-chart="pr-curve"]');
      assert.equal(await prCurves.count(), classesWithGt);
      for (const svg of await prCurves.all()) {
        assert.ok(await svg.isVisible());
        const box = await svg.boundingBox();
        assert.ok(box && box.width > 100 && box.height > 80, JSON.stringify(box));
        assert.equal(await svg.getAttribute('role'), 'img');
        assert.ok((await svg.getAttribute('aria-label'))?.startsWith('Precision-recall curve for '));
        assert.equal(await svg.locator('path.series').count(), 2);
      }
      const confusions = page.locator('figure.confusion');
      assert.deepEqual(await confusions.evaluateAll((els) => els.map((e) => e.getAttribute('data-attribute'))), [
        'weather',
        'timeofday',
        'scene',
      ]);
      const matrices = page.locator('svg.chart[data-chart="confusion"]');
      assert.equal(await matrices.count(), 3);
      for (const svg of await matrices.all()) {
        const box = await svg.boundingBox();
        assert.ok(box && box.width > 100 && box.height > 80);
      }
      const bars = page.locator('svg.chart[data-chart="ap-bars"]');
      assert.equal(await bars.count(), 1);
      assert.ok(await bars.isVisible());
      assert.equal(await page.locator('svg.chart:not([role="img"]), svg.chart:not([aria-label])').count(), 0);

      // Tables.
      const classRows = page.locator('#per-class-table tbody tr');
      assert.equal(await classRows.count(), 10);
      assert.equal(await page.locator('#per-class-table tr.no-gt').getAttribute('data-class'), 'motorcycle');
      assert.match(
        (await page.locator('#per-class-table tr.no-gt').innerText()).replace(/\s+/g, ' '),
        /motorcycle no GT 0 1 n\/a n\/a n\/a n\/a/,
      );
      const worstRows = page.locator('#worst-images-table tbody tr');
      assert.equal(await worstRows.count(), Math.min(20, report.diagnostics.worstImages.length));
      assert.ok(await page.locator('#worst-images-table').isVisible());
      assert.match(await worstRows.first().innerText(), /×\d+ \((best IoU \d\.\d\d|no overlap)\)/);

      // Header, warnings and stat tooltips.
      assert.equal(await page.locator('h1').innerText(), 'Evaluation report');
      assert.ok((await page.locator('#warnings li').count()) >= 3);
      assert.equal(await page.locator('[data-stat]').count(), 12);
      assert.equal(await page.locator('[data-stat="AP"]').getAttribute('title'), 'AP @[IoU=0.50:0.95, area=all, maxDets=100]');

      // Hostile strings are text, never markup.
      const text = await page.locator('body').innerText();
      for (const hostile of [INJECTED, INJECTED_CATEGORY, INJECTED_PROBLEM]) assert.ok(text.includes(hostile), `${hostile} shown as text`);
      const names = await page.locator('#worst-images-table tbody th').allInnerTexts();
      assert.ok(names.includes(INJECTED), 'hostile name in the worst-images table');
      assert.equal(await page.locator('img, b, i, [onerror], [onmouseover]').count(), 0);
      assert.equal(await page.locator('script').count(), 1);

      // The optional sorting script works.
      await page.locator('#per-class-table thead th', { hasText: 'AP50' }).locator('button').click();
      const ap50 = await classRows.evaluateAll((rows) => rows.map((r) => Number(r.querySelectorAll('td')[3]!.getAttribute('data-sort'))));
      assert.deepEqual(
        ap50,
        [...ap50].sort((a, b) => b - a),
      );

      mkdirSync(OUTPUT_DIR, { recursive: true });
      writeFileSync(path.join(OUTPUT_DIR, 'report.html'), html);
      const screenshot = path.join(OUTPUT_DIR, 'report-html.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      assert.ok(statSync(screenshot).size > 100_000, `screenshot ${statSync(screenshot).size} bytes`);
      await page.emulateMedia({ media: 'print' });
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'report-html-print.png'), fullPage: true });

      assert.deepEqual(opened.consoleErrors, []);
      assert.deepEqual(opened.pageErrors, []);
      assert.deepEqual(opened.failedRequests, []);
      assert.deepEqual(opened.otherRequests, []);
      assert.deepEqual(opened.dialogs, []);
      await opened.context.close();
    } finally {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
