/**
 * The shell every report page shares: a self-contained document (no network: the Content-Security-Policy allows
 * inline styles, data: images and, when given, only the one inline script by its hash), opened offline from a
 * file or served by the HTTP API.
 *
 * The policy lives in a <meta> tag, so that a page opened from a file is protected too; the HTTP API sends the same
 * policy as a header (`pagePolicy` reads it back from the stored page), where it also covers what comes before
 * the tag is parsed.
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

/** What an HTML answer without a policy of its own gets: nothing loads and nothing runs. */
export const STRICT_PAGE_POLICY = "default-src 'none'";

/** The policy of a page with `script` (or none) as its one inline script. */
function policyFor(script: string | undefined): string {
  return [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    ...(script === undefined ? [] : [`script-src 'sha256-${createHash('sha256').update(script).digest('base64')}'`]),
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function renderPage({ title, css, sections, script }: PageParts): string {
  const csp = policyFor(script);
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

/** The policy's <meta> as renderPage writes it; it comes right after the charset, far inside the first bytes. */
const POLICY_META = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/i;
/** Where the tag is looked for: the head's start (the page's CSS and sections come after it). */
const POLICY_SEARCH_CHARS = 4096;
const HTML_ENTITIES: Readonly<Record<string, string>> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
/** A header value: one line of visible ASCII (a policy never needs more; anything else cannot go in a header). */
const HEADER_SAFE = /^[\x20-\x7e]+$/;

/**
 * The Content-Security-Policy a stored page declares in its <meta> tag, unescaped, to send as the header of the
 * same page: the header then equals the page's own policy, inline script hash included. A page without one (or
 * with one that cannot be a header value) gets STRICT_PAGE_POLICY: nothing on it runs, which fails safe.
 */
export function pagePolicy(html: string): string {
  const match = POLICY_META.exec(html.slice(0, POLICY_SEARCH_CHARS));
  const policy = match?.[1]?.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => HTML_ENTITIES[entity]!).trim();
  return policy && HEADER_SAFE.test(policy) ? policy : STRICT_PAGE_POLICY;
}
