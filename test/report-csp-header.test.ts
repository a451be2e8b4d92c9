/**
 * A report page served over HTTP with its Content-Security-Policy as a header (what GET /api/reports/{id}
 * ?format=html sends: `pagePolicy` of the stored page), loaded in headless Chromium: under the header the page's
 * inline sorting script still runs, nothing else does, and the browser reports no violation. A control served
 * with the strict default header shows that the browser does apply the header (the same script is blocked).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { evaluate } from '../src/core/evaluation/evaluate';
import { FrameSchema, type Frame } from '../src/core/labels/schema';
import { renderReportHtml } from '../src/adapters/report/html';
import { pagePolicy, renderPage, STRICT_PAGE_POLICY } from '../src/adapters/report/page';
import { launchChromium } from './helpers/browser';
import { sampleLabelsDir } from './helpers/shared';

/** Five sample frames as ground truth, and predictions that shift their boxes a little. */
function smallReportPage(): string {
  const gt: Frame[] = readdirSync(sampleLabelsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .slice(0, 5)
    .map((file) => {
      const text = readFileSync(path.join(sampleLabelsDir, file), 'utf8');
      const raw = JSON.parse(text) as { image_filename: string; metadata?: unknown; labels?: unknown[] };
      return FrameSchema.parse({ name: raw.image_filename, attributes: raw.metadata, labels: raw.labels ?? [] });
    });
  const predictions = gt.map((frame) => ({
    name: frame.name,
    labels: frame.labels
      .filter((l) => l.box2d)
      .map((l, i) => ({ ...l, id: `p${i}`, score: 0.5 + (i % 5) / 10, box2d: { ...l.box2d!, x2: l.box2d!.x2 + 3 } })),
  }));
  return renderReportHtml(evaluate({ gt, predictions, now: new Date('2025-06-01T12:00:00Z') }));
}

interface PageServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `html` at / with `policy` as its Content-Security-Policy header, as the API sends a stored page. */
async function servePage(html: string, policy: string): Promise<PageServer> {
  const server = http.createServer((_req, res) => {
    const headers = { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': policy, 'x-content-type-options': 'nosniff' };
    res.writeHead(200, headers);
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Opens the served page, clicks the AP50 sort button, and says whether the script sorted and what was reported. */
async function sortInBrowser(browser: Browser, html: string, policy: string) {
  const server = await servePage(html, policy);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));
    const response = await page.goto(server.url, { waitUntil: 'load' });
    const header = response?.headers()['content-security-policy'];
    const th = page.locator('#per-class-table thead th', { hasText: 'AP50' });
    await th.locator('button').click();
    return { header, sorted: (await th.getAttribute('aria-sort')) !== null, problems };
  } finally {
    await context.close();
    await server.close();
  }
}

describe('report page policy as a header', () => {
  const html = smallReportPage();
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  test("pagePolicy reads the page's own <meta> policy back, unescaped, with the script's hash", () => {
    const policy = pagePolicy(html);
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1];
    assert.equal(policy, meta?.replaceAll('&#39;', "'"));
    assert.match(policy, /^default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-[A-Za-z0-9+/]+=*'; img-src data:/);
    assert.equal(pagePolicy('<!doctype html><p>no policy</p>'), STRICT_PAGE_POLICY);
    const withoutScript = renderPage({ title: 't', css: '', sections: [] });
    const noScriptPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";
    assert.equal(pagePolicy(withoutScript), noScriptPolicy);
    // A policy that cannot be a header value (a line break) is not sent as one: the strict default goes instead.
    assert.equal(pagePolicy('<meta http-equiv="Content-Security-Policy" content="default-src *;\nscript-src *">'), STRICT_PAGE_POLICY);
  });

  test('served with its own policy as the header: the sorting script runs, with no violation reported', { timeout: 60_000 }, async () => {
    const policy = pagePolicy(html);
    const result = await sortInBrowser(browser, html, policy);
    assert.equal(result.header, policy, 'the browser got the header');
    assert.equal(result.sorted, true, 'the inline script ran under the header');
    assert.deepEqual(result.problems, []);
  });

  const control = 'control: under the strict default header the same script is blocked (the browser applies the header)';
  test(control, { timeout: 60_000 }, async () => {
    const result = await sortInBrowser(browser, html, STRICT_PAGE_POLICY);
    assert.equal(result.sorted, false);
    assert.ok(
      result.problems.some((p) => /Content Security Policy/i.test(p)),
      result.problems.join('\n'),
    );
  });
});
