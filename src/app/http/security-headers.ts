/**
 * Headers every HTTP answer of the app carries. `respond` adds them to whatever a handler returns, a plain
 * HttpResponseInit or an HttpResponse (Durable's check-status answer), so no handler can forget them:
 * - `X-Content-Type-Options: nosniff`: browsers keep to the declared Content-Type instead of guessing one, so a
 *   stored JSON document or an error text can never be sniffed into HTML and run;
 * - `Content-Security-Policy` on an HTML answer that does not bring its own: STRICT_PAGE_POLICY (nothing runs). A
 *   page that has a policy sends it itself (getReport sends the stored page's own).
 */
import type { HttpResponseInit } from '@azure/functions';
import { STRICT_PAGE_POLICY } from '../../adapters/report/page';

export const NOSNIFF: readonly [string, string] = ['x-content-type-options', 'nosniff'];
const CSP = 'content-security-policy';

type HeadersInitLike = NonNullable<HttpResponseInit['headers']>;
/** What handlers answer: a plain init, or an object with live `headers` (HttpResponse, from whichever library copy). */
type ResultLike = HttpResponseInit | { headers: Headers };

const isLiveHeaders = (headers: unknown): headers is Headers => typeof (headers as Headers | undefined)?.set === 'function';

/** The headers `headers` lacks: nosniff always, the strict policy when they declare HTML without a policy. */
function missingHeaders(headers: Headers): Array<[string, string]> {
  const missing: Array<[string, string]> = [];
  if (headers.get(NOSNIFF[0]) !== NOSNIFF[1]) missing.push([...NOSNIFF]);
  const isHtml = /^\s*text\/html\b/i.test(headers.get('content-type') ?? '');
  if (isHtml && !headers.has(CSP)) missing.push([CSP, STRICT_PAGE_POLICY]);
  return missing;
}

/** `init` with `extra` set (replacing any other value of those names), in the form it came in. */
function withHeaders(init: HeadersInitLike | undefined, extra: Array<[string, string]>): HeadersInitLike {
  const names = new Set(extra.map(([name]) => name));
  if (Array.isArray(init)) return [...init.filter(([name]) => !names.has(name.toLowerCase())), ...extra];
  const record = Object.entries((init ?? {}) as Record<string, string>).filter(([name]) => !names.has(name.toLowerCase()));
  return Object.fromEntries([...record, ...extra]);
}

/** The result with the security headers: set in place on live headers, else a copy of the init with them added. */
export function withSecurityHeaders<T extends ResultLike>(result: T): T {
  const headers = result.headers;
  if (isLiveHeaders(headers)) {
    for (const [name, value] of missingHeaders(headers)) headers.set(name, value);
    return result;
  }
  const missing = missingHeaders(new Headers(headers as HeadersInitLike | undefined));
  if (missing.length === 0) return result;
  return { ...result, headers: withHeaders(headers as HeadersInitLike | undefined, missing) };
}
