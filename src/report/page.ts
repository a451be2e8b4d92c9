/**
 * The shell every report page shares: a self-contained document (no network: the Content-Security-Policy allows
 * inline styles, data: images and, when given, only the one inline script by its hash), opened offline from a
 * file or served by the HTTP API.
 */
import { createHash } from 'node:crypto';
import { escapeHtml } from './format';

export interface PageParts {
  title: string;
  css: string;
  /** The sections inside <main>, in order. */
  sections: string[];
  /** One inline script, allowed by its sha256 and nothing else. */
  script?: string;
}

export function renderPage({ title, css, sections, script }: PageParts): string {
  const csp = [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    ...(script === undefined ? [] : [`script-src 'sha256-${createHash('sha256').update(script).digest('base64')}'`]),
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light">',
    '<link rel="icon" href="data:,">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${css}</style>`,
    '</head>',
    '<body>',
    '<main class="page">',
    ...sections,
    '</main>',
    ...(script === undefined ? [] : [`<script>${script}</script>`]),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
