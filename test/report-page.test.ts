/**
 * report.html as people look at it: the worst images shown as thumbnails with their boxes by outcome, the class
 * filter, the header naming what made the predictions, and the layout on a desktop (1280x800) and a phone
 * (390x844), checked in headless Chromium on the real BDD100K sample. Screenshots go to test-output/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser } from 'playwright-core';
import { evaluate, summarizeProvenance, withTruePositives } from '../src/core/evaluation/evaluate';
import { EvaluationReportSchema, type EvaluationReport } from '../src/core/evaluation/report-schema';
import type { Frame, Label } from '../src/core/labels/schema';
import { loadLabels } from '../src/adapters/files/load-labels';
import { listImages } from '../src/adapters/files/list-images';
import { renderReportHtml, WORST_IMAGES_SHOWN } from '../src/adapters/report/html';
import { classKey } from '../src/adapters/report/class-filter';
import { readFromFiles, THUMBNAIL_WIDTH, worstImageThumbnails, type WorstImageThumbnail } from '../src/adapters/report/thumbnails';
import { writeEvaluationReport } from '../src/adapters/report/write-report';
import { launchChromium, openOffline } from './helpers/browser';
import { sampleImagesDir, sampleLabelsDir } from './helpers/shared';
import { seededRandom } from '../bench/synthetic';

const OUTPUT_DIR = path.resolve(__dirname, '..', 'test-output');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const FP_CATEGORIES = ['car', 'pedestrian', 'traffic sign', 'traffic light', 'truck'];
const PROVENANCE_TIMES = ['2025-05-30T08:00:00.000Z', '2025-05-30T09:30:00.000Z'];

/** Predictions made from the GT: jittered boxes, some misses, some false positives, with provenance. */
function predictionsFor(gt: readonly Frame[]): Frame[] {
  const rand = seededRandom(777);
  return gt.map((frame, i) => {
    const labels: Label[] = [];
    for (const label of frame.labels) {
      const b = label.box2d;
      if (!b || rand() < 0.2) continue;
      const w = b.x2 - b.x1;
      const h = b.y2 - b.y1;
      const dx = (rand() - 0.5) * 0.3 * w;
      const dy = (rand() - 0.5) * 0.3 * h;
      labels.push({
        id: `p${labels.length}`,
        category: label.category,
        score: 0.3 + 0.7 * rand(),
        box2d: { x1: b.x1 + dx, y1: b.y1 + dy, x2: b.x2 + dx, y2: b.y2 + dy },
      });
    }
    for (let k = Math.floor(rand() * 4); k > 0; k--) {
      const x1 = rand() * 1100;
      const y1 = 200 + rand() * 400;
      const category = FP_CATEGORIES[Math.floor(rand() * FP_CATEGORIES.length)]!;
      labels.push({
        id: `p${labels.length}`,
        category,
        score: 0.4 + 0.5 * rand(),
        box2d: { x1, y1, x2: x1 + 30 + rand() * 120, y2: y1 + 30 + rand() * 90 },
      });
    }
    const provenance = {
      schemaVersion: 1,
      createdAt: PROVENANCE_TIMES[i % 2]!,
      configHash: i < 40 ? 'cfg-aaaa1111' : 'cfg-bbbb2222',
      detector: { provider: 'onnx', model: 'yolox_nano.onnx' },
      scene: { provider: 'local', model: 'scene-mobilenetv2-int8' },
    };
    return { name: frame.name, attributes: frame.attributes ?? {}, labels, provenance };
  });
}

let workDir: string;
let gt: Frame[];
let predictions: Frame[];
let report: EvaluationReport;
let thumbnails: WorstImageThumbnail[];
let reportFile: string;
let html: string;
let withOverlay: string;
let browser: Browser;

before(async () => {
  gt = (await loadLabels(sampleLabelsDir)).frames;
  assert.equal(gt.length, 60);
  predictions = predictionsFor(gt);
  const provenance = summarizeProvenance(predictions);
  const summary = (p: string, n: number) => ({ path: p, files: n, frames: n, formats: { scalabel: n }, problems: [] });
  const evaluated = evaluate({
    gt,
    predictions,
    inputs: {
      gt: summary(sampleLabelsDir, gt.length),
      pred: { ...summary('/tmp/pred', predictions.length), ...(provenance ? { provenance } : {}) },
    },
    now: new Date('2025-06-01T12:00:00Z'),
  });
  report = withTruePositives(evaluated, { gt, predictions });
  thumbnails = await worstImageThumbnails(report, readFromFiles((await listImages(sampleImagesDir)).images));

  // The report beside an overlays/ folder holding the overlay of one worst image only: it alone gets a link.
  workDir = mkdtempSync(path.join(os.tmpdir(), 'report-page-'));
  withOverlay = report.diagnostics.worstImages[1]!.name;
  mkdirSync(path.join(workDir, 'overlays'));
  writeFileSync(path.join(workDir, 'overlays', withOverlay.replace(/\.jpg$/, '.jpg')), 'jpeg');
  reportFile = (await writeEvaluationReport(workDir, report, { thumbnails, overlaysDir: 'overlays' })).html;
  html = renderReportHtml(report, { thumbnails, overlayHref: (name) => (name === withOverlay ? `overlays/${name}` : undefined) });
  mkdirSync(OUTPUT_DIR, { recursive: true });
  writeFileSync(path.join(OUTPUT_DIR, 'report-page.html'), readFileSync(reportFile));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/**
 * In-page script (a string: the test's TypeScript transform would wrap named functions in a helper the page lacks):
 * the elements that reach past the viewport's right edge without a scrolling container, itself inside the
 * viewport, to hold them.
 */
const OUTSIDE_THE_VIEWPORT = `(() => {
  const vw = window.innerWidth;
  const heldByScroller = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const s = getComputedStyle(e);
      if ((s.overflowX === 'auto' || s.overflowX === 'scroll') && e.getBoundingClientRect().right <= vw + 0.5) return true;
    }
    return false;
  };
  return [...document.querySelectorAll('main *')]
    .filter((e) => e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().right > vw + 0.5 && !heldByScroller(e.parentElement))
    .map((e) => e.tagName.toLowerCase() + '.' + e.getAttribute('class'));
})()`;

/** In-page script: per chart, its smallest text's rendered size in CSS pixels (font size times the SVG's scale). */
const SMALLEST_CHART_TEXT = `[...document.querySelectorAll('svg.chart')].map((s) => ({
  chart: s.getAttribute('data-chart'),
  px: (Math.min(...[...s.querySelectorAll('text')].map((t) => parseFloat(getComputedStyle(t).fontSize))) * s.getBoundingClientRect().width) /
    s.viewBox.baseVal.width,
}))`;

const shown = () => report.diagnostics.worstImages.slice(0, WORST_IMAGES_SHOWN);
const hasErrorOf = (image: EvaluationReport['diagnostics']['worstImages'][number], key: string) =>
  [...image.missed, ...image.falsePositives].some((b) => classKey(b.category) === key);

describe('what the report carries for its pictures and header', () => {
  test('every worst image gets its true positives, one per TP counted, each a prediction above the score threshold', () => {
    EvaluationReportSchema.parse(report);
    const byName = new Map(predictions.map((f) => [f.name, f]));
    for (const image of report.diagnostics.worstImages) {
      assert.equal(image.truePositives?.length, image.tp, image.name);
      const predicted = byName.get(image.name)!.labels;
      for (const box of image.truePositives!) {
        assert.ok(box.score! >= report.options.scoreThreshold);
        assert.ok(box.bestIou >= report.options.iouThreshold, `matched at IoU ${box.bestIou}`);
        assert.ok(predicted.some((l) => l.box2d!.x1 === box.box2d.x1 && l.box2d!.y2 === box.box2d.y2 && l.category === box.category));
      }
    }
    assert.ok(report.diagnostics.worstImages.some((w) => w.tp > 0));
    // evaluate() itself stays as it was: the chunked evaluation must give the very same report.
    assert.equal(evaluate({ gt, predictions }).diagnostics.worstImages[0]!.truePositives, undefined);
  });

  test('provenance: models, config hashes with their frame counts, and the time span', () => {
    const p = report.inputs!.pred.provenance!;
    assert.equal(p.frames, 60);
    assert.deepEqual(p.models, [
      { role: 'detector', provider: 'onnx', model: 'yolox_nano.onnx', frames: 60 },
      { role: 'scene', provider: 'local', model: 'scene-mobilenetv2-int8', frames: 60 },
    ]);
    assert.deepEqual(p.configHashes, [
      { hash: 'cfg-aaaa1111', frames: 40 },
      { hash: 'cfg-bbbb2222', frames: 20 },
    ]);
    assert.deepEqual([p.firstCreatedAt, p.lastCreatedAt], PROVENANCE_TIMES);
    assert.equal(summarizeProvenance(gt), undefined, 'frames without provenance');
  });

  test('thumbnails: one small JPEG per shown worst image, as a data: URI, in the report order', async () => {
    assert.deepEqual(
      thumbnails.map((t) => t.name),
      shown().map((w) => w.name),
    );
    for (const t of thumbnails) {
      assert.match(t.src, /^data:image\/jpeg;base64,[A-Za-z0-9+/]+=*$/);
      const bytes = Buffer.from(t.src.slice(t.src.indexOf(',') + 1), 'base64');
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', THUMBNAIL_WIDTH, 180]);
      assert.deepEqual([t.width, t.height, t.imageWidth, t.imageHeight], [320, 180, 1280, 720]);
      assert.ok(bytes.length < 40_000, `${t.name}: ${bytes.length} bytes`);
    }
  });

  test('an image that is missing or does not decode is skipped and told, never fatal', async () => {
    const skipped: string[] = [];
    const [first, second] = shown();
    const some = await worstImageThumbnails(
      report,
      async (name) => (name === first!.name ? undefined : name === second!.name ? Buffer.from('not a jpeg') : Buffer.alloc(0)),
      { onSkip: (name) => skipped.push(name) },
    );
    assert.deepEqual(some, []);
    assert.equal(skipped.length, shown().length);
    assert.ok(skipped.includes(first!.name) && skipped.includes(second!.name));
  });
});

describe('report.html markup', () => {
  test('pictures as data: URIs only, boxes by outcome, an overlay link only where the overlay exists', () => {
    const srcs = [...html.matchAll(/<img\b[^>]*\bsrc="([^"]*)"/g)].map((m) => m[1]!);
    assert.equal(srcs.length, thumbnails.length);
    assert.ok(srcs.every((s) => s.startsWith('data:image/jpeg;base64,')));
    const hrefs = [...html.matchAll(/\bhref="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(hrefs)], ['data:,', `overlays/${withOverlay}`]);
    const boxes = (outcome: string) => html.match(new RegExp(`<g class="box ${outcome}"`, 'g'))?.length ?? 0;
    const sum = (f: (w: EvaluationReport['diagnostics']['worstImages'][number]) => number) => shown().reduce((n, w) => n + f(w), 0);
    // Boxes lying inside the image: all of them in this sample.
    assert.equal(
      boxes('tp'),
      sum((w) => w.tp),
    );
    assert.equal(
      boxes('fp'),
      sum((w) => w.fp),
    );
    assert.equal(
      boxes('missed'),
      sum((w) => w.fn),
    );
    assert.match(html, /<ul class="legend"[^>]*>.*true positive.*false positive.*missed ground truth/);
    // Without pictures the page says how to get them and holds no <img>.
    const plain = renderReportHtml(report);
    assert.doesNotMatch(plain, /<img\b/);
    assert.match(plain, /class="note no-pictures"/);
  });

  test('no two tags of a thumbnail overlap, and every tag lies inside its picture', () => {
    const shots = html.split('<figure class="shot"').slice(1);
    assert.equal(shots.length, thumbnails.length);
    let tags = 0;
    for (const shot of shots) {
      const [w, h] = /viewBox="0 0 (\d+) (\d+)"/.exec(shot)!.slice(1).map(Number) as [number, number];
      const rects = [...shot.matchAll(/<g class="tag \w+"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/g)].map((m) =>
        m.slice(1).map(Number),
      ) as Array<[number, number, number, number]>;
      tags += rects.length;
      for (const [x, y, rw, rh] of rects) assert.ok(x >= 0 && y >= 0 && x + rw <= w + 1e-9 && y + rh <= h + 1e-9, 'inside');
      rects.forEach((a, i) =>
        rects.slice(i + 1).forEach((b) => {
          const apart = a[0] + a[2] <= b[0] || b[0] + b[2] <= a[0] || a[1] + a[3] <= b[1] || b[1] + b[3] <= a[1];
          assert.ok(apart, `tags ${JSON.stringify(a)} and ${JSON.stringify(b)} overlap`);
        }),
      );
    }
    assert.ok(tags > thumbnails.length, `${tags} tags drawn`);
  });

  test('the header names what made the predictions and when', () => {
    const header = html.slice(html.indexOf('id="header"'), html.indexOf('</header>'));
    for (const text of [
      'yolox_nano.onnx',
      'scene-mobilenetv2-int8',
      'cfg-aaaa1111',
      'cfg-bbbb2222',
      '(40 frames)',
      '2025-05-30 08:00 UTC',
      '2025-05-30 09:30 UTC',
    ])
      assert.ok(header.includes(text), `${text} in the header`);
  });
});

describe('report.html in Chromium', () => {
  test('desktop 1280x800: pictures decoded under the policy, filter works, nothing leaves the page', { timeout: 120_000 }, async () => {
    const opened = await openOffline(browser, reportFile, DESKTOP);
    const { page } = opened;
    try {
      const images = page.locator('#worst-gallery img');
      assert.equal(await images.count(), thumbnails.length);
      const natural = await images.evaluateAll((els) => els.map((e) => (e as unknown as { naturalWidth: number }).naturalWidth));
      assert.deepEqual(
        natural,
        thumbnails.map(() => THUMBNAIL_WIDTH),
        'every data: image decoded (the policy allows them)',
      );
      assert.equal(await page.locator(`#worst-gallery a[href="overlays/${withOverlay}"]`).count(), 2, 'picture and caption link');

      // Filter on one class: the per-class table keeps its row, the curves theirs, the worst images those with its errors.
      const chosen = 'pedestrian';
      const expected = shown().filter((w) => hasErrorOf(w, chosen));
      assert.ok(expected.length > 0 && expected.length < shown().length, `${expected.length} images with ${chosen} errors`);
      await page.locator('#classes label.filter-button[for="cf-pedestrian"]').click();
      const visibleClasses = await page
        .locator('#per-class-table tbody tr:visible')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-class')));
      assert.deepEqual(visibleClasses, [chosen]);
      assert.deepEqual(await page.locator('#pr-curves figure:visible').evaluateAll((f) => f.map((e) => e.getAttribute('data-class'))), [
        chosen,
      ]);
      const visibleShots = await page
        .locator('#worst-gallery figure.shot:visible')
        .evaluateAll((f) => f.map((e) => e.getAttribute('data-image')));
      assert.deepEqual(
        visibleShots,
        expected.map((w) => w.name),
      );
      assert.equal(await page.locator('#worst-images-table tbody tr:visible').count(), expected.length);
      mkdirSync(OUTPUT_DIR, { recursive: true });
      await page.locator('#worst-images').screenshot({ path: path.join(OUTPUT_DIR, 'report-page-filtered.png') });

      // The second bar (over the worst images) drives the same choice; "All" shows everything again.
      await page.locator('#worst-images label.filter-button[for="cf-all"]').click();
      assert.equal(await page.locator('#per-class-table tbody tr:visible').count(), report.detection.classes.length);
      assert.equal(await page.locator('#worst-gallery figure.shot:visible').count(), thumbnails.length);
      // A class without errors in the shown images says so instead of showing an empty gallery.
      const absent = report.detection.classes.map(classKey).find((key) => !shown().some((w) => hasErrorOf(w, key)));
      assert.ok(absent, 'some class has no error among the shown images');
      assert.equal(await page.locator('.filter-empty:visible').count(), 0);
      await page.locator(`#worst-images label.filter-button[for="cf-${absent}"]`).click();
      assert.equal(await page.locator('#worst-gallery figure.shot:visible').count(), 0);
      assert.ok(await page.locator(`#worst-images .filter-empty[data-empty-for="${absent}"]`).isVisible());
      await page.locator('#worst-images label.filter-button[for="cf-all"]').click();

      const shot = path.join(OUTPUT_DIR, 'report-page-desktop.png');
      await page.screenshot({ path: shot, fullPage: true });
      const meta = await sharp(shot).metadata();
      assert.equal(meta.width, DESKTOP.width);
      assert.ok(meta.height! > 3 * DESKTOP.height, `full page ${meta.height} px tall`);

      assert.deepEqual(opened.consoleErrors, []);
      assert.deepEqual(opened.pageErrors, []);
      assert.deepEqual(opened.failedRequests, []);
      assert.deepEqual(opened.otherRequests, []);
    } finally {
      await opened.context.close();
    }
  });

  test('phone 390x844: no horizontal overflow, readable charts, tables scroll in their own box', { timeout: 120_000 }, async () => {
    const opened = await openOffline(browser, reportFile, PHONE);
    const { page } = opened;
    try {
      const widths = await page.evaluate<{ document: number; body: number; viewport: number }>(
        '({ document: document.documentElement.scrollWidth, body: document.body.scrollWidth, viewport: window.innerWidth })',
      );
      assert.equal(widths.viewport, PHONE.width);
      assert.ok(widths.document <= PHONE.width && widths.body <= PHONE.width, JSON.stringify(widths));

      // Nothing sticks out of the viewport, except inside a container that scrolls on its own.
      const cutOff = await page.evaluate<string[]>(OUTSIDE_THE_VIEWPORT);
      assert.deepEqual(cutOff, []);

      // Chart text at 9 px or more once scaled: charts shrink only a little, wide ones scroll inside their figure.
      const smallest = await page.evaluate<Array<{ chart: string; px: number }>>(SMALLEST_CHART_TEXT);
      assert.equal(smallest.length, await page.locator('svg.chart').count());
      for (const { chart, px } of smallest) assert.ok(px >= 9, `${chart} text at ${px.toFixed(1)} px`);

      const wrap = page.locator('#classes .table-wrap');
      const box = await wrap.evaluate((e) => ({ client: e.clientWidth, scroll: e.scrollWidth, right: e.getBoundingClientRect().right }));
      assert.ok(box.scroll > box.client, 'the per-class table is wider than the phone and scrolls in its box');
      assert.ok(box.right <= PHONE.width);

      const pictures = await page.locator('#worst-gallery img').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
      assert.equal(pictures.length, thumbnails.length);
      assert.ok(
        pictures.every((w) => w > 250 && w <= PHONE.width - 20),
        JSON.stringify(pictures),
      );

      mkdirSync(OUTPUT_DIR, { recursive: true });
      const shot = path.join(OUTPUT_DIR, 'report-page-phone.png');
      await page.screenshot({ path: shot, fullPage: true });
      const meta = await sharp(shot).metadata();
      assert.equal(meta.width, PHONE.width, 'the full-page screenshot is no wider than the phone');
      assert.ok(meta.height! > 5 * PHONE.height, `full page ${meta.height} px tall`);
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'report-page-phone-top.png') });

      assert.deepEqual(opened.consoleErrors, []);
      assert.deepEqual(opened.pageErrors, []);
      assert.deepEqual(opened.otherRequests, []);
    } finally {
      await opened.context.close();
    }
  });
});
