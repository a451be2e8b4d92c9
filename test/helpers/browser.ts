/**
 * Headless Chromium for browser tests (playwright-core, the system Chromium; no browser download). CHROMIUM_PATH
 * overrides the executable. `openOffline` opens a local file and records anything the page does wrong: console
 * errors, uncaught errors, dialogs, failed requests, and every request other than the file itself (aborted).
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Browser tests fail (never skip) without Chromium: a page people look at must be checked in a browser. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: run .ci/run, or apt-get install -y chromium, or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
}

export interface OfflinePage {
  context: BrowserContext;
  page: Page;
  consoleErrors: string[];
  pageErrors: string[];
  failedRequests: string[];
  /** Every request whose URL is not the opened file; all of them were aborted. */
  otherRequests: string[];
  dialogs: string[];
}

/** Open a local HTML file with every other request blocked and recorded. */
export async function openOffline(browser: Browser, file: string, viewport = { width: 1280, height: 900 }): Promise<OfflinePage> {
  const url = pathToFileURL(file).href;
  const context = await browser.newContext({ viewport, offline: true, javaScriptEnabled: true });
  const page = await context.newPage();
  const result: OfflinePage = { context, page, consoleErrors: [], pageErrors: [], failedRequests: [], otherRequests: [], dialogs: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') result.consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => result.failedRequests.push(`${r.url()}: ${r.failure()?.errorText ?? 'failed'}`));
  page.on('request', (r) => {
    if (r.url() !== url) result.otherRequests.push(r.url());
  });
  page.on('dialog', (d) => {
    result.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  // Routing does not see file:// loads, which the 'request' listener above records; everything else is aborted.
  await context.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort('blockedbyclient')));
  await page.goto(url, { waitUntil: 'load' });
  return result;
}
