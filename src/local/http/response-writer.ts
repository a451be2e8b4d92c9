/**
 * Turns what an HTTP handler returned into bytes on the wire, the way the library hands it to the host when HTTP
 * streaming is off (the default): a plain `HttpResponseInit` goes through `new HttpResponse(...)` (so `jsonBody`,
 * body types and default content types behave exactly as on Azure), then the whole body is read before the status
 * line is written. A body that fails while being read therefore still becomes a 500, as on Azure.
 */
import { HttpResponse } from '@azure/functions';
import type { ServerResponse } from 'node:http';
import { formatSetCookie } from './set-cookie';

/** The handler returned something the host cannot send (the library raises the same complaint on Azure). */
export class InvalidHandlerResultError extends Error {
  constructor(kind: string) {
    super(
      `the HTTP response must be an object with optional properties "body", "status", "headers", and "cookies" (got ${kind})`,
    );
    this.name = 'InvalidHandlerResultError';
  }
}

/** What goes on the wire: everything resolved, so writing it cannot fail halfway because of the handler. */
export interface ResolvedResponse {
  status: number;
  headers: Array<[string, string]>;
  body: Buffer;
}

// Framing is ours to decide from the bytes we actually send, whatever the handler claimed.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
const NO_BODY_STATUSES = new Set([204, 304]);

/** Resolves a handler result; throws (→ 500) for non-objects, invalid statuses, or a body stream that fails. */
export async function resolveHandlerResult(result: unknown): Promise<ResolvedResponse> {
  // Returning nothing: no output binding value, which the host answers with 204 No Content.
  if (result === undefined || result === null) return { status: 204, headers: [], body: Buffer.alloc(0) };
  if (typeof result !== 'object') throw new InvalidHandlerResultError(typeof result);

  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const headers: Array<[string, string]> = [];
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie' || FRAMING_HEADERS.has(name)) continue;
    headers.push([name, value]);
  }
  for (const value of response.headers.getSetCookie()) headers.push(['set-cookie', value]);
  for (const cookie of response.cookies) headers.push(['set-cookie', formatSetCookie(cookie)]);

  const body = NO_BODY_STATUSES.has(response.status) ? Buffer.alloc(0) : Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers, body };
}

/** Writes a resolved response; for HEAD, the headers (Content-Length included) without the body. */
export function writeResolvedResponse(res: ServerResponse, response: ResolvedResponse, method: string): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = response.status;
  const multi = new Map<string, string[]>();
  for (const [name, value] of response.headers) multi.set(name, [...(multi.get(name) ?? []), value]);
  for (const [name, values] of multi) res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
  if (NO_BODY_STATUSES.has(response.status)) {
    res.end();
    return;
  }
  res.setHeader('content-length', response.body.length);
  res.end(method === 'HEAD' ? undefined : response.body);
}

/** The host's own answers (404, 405, 413, 500): a small JSON object with an `error` message. */
export function writeJsonError(
  res: ServerResponse,
  status: number,
  payload: { error: string } & Record<string, unknown>,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(JSON.stringify(payload));
  res.writeHead(status, {
    ...extraHeaders,
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
