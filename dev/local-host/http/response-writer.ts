/**
 * Turns what an HTTP handler returned into bytes on the wire, the way the library hands it to the host when HTTP
 * streaming is off (the default): a plain `HttpResponseInit` goes through `new HttpResponse(...)` (so `jsonBody`,
 * body types and default content types behave exactly as on Azure), then the whole body is read before the status
 * line is written. A body that fails while being read therefore still becomes a 500, as on Azure.
 */
import { HttpResponse } from '@azure/functions';
import type { ServerResponse } from 'node:http';

/** The handler returned something the host cannot send (the library raises the same complaint on Azure). */
export class InvalidHandlerResultError extends Error {
  constructor(kind: string) {
    super(`the HTTP response must be an object with optional properties "body", "status", "headers", and "cookies" (got ${kind})`);
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

  const body = NO_BODY_STATUSES.has(response.status) ? Buffer.alloc(0) : Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers, body };
}

/**
 * Sent with every answer of this host, its own and the functions' (the app's handlers set it too; routes such as
 * the Durable status endpoint do not): browsers keep to the declared Content-Type instead of guessing one.
 */
export const NOSNIFF_HEADER = ['x-content-type-options', 'nosniff'] as const;

/** Writes a resolved response; for HEAD, the headers (Content-Length included) without the body. */
export function writeResolvedResponse(res: ServerResponse, response: ResolvedResponse, method: string): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = response.status;
  const multi = new Map<string, string[]>();
  for (const [name, value] of response.headers) multi.set(name, [...(multi.get(name) ?? []), value]);
  for (const [name, values] of multi) res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
  res.setHeader(...NOSNIFF_HEADER);
  if (NO_BODY_STATUSES.has(response.status)) {
    res.end();
    return;
  }
  res.setHeader('content-length', response.body.length);
  res.end(method === 'HEAD' ? undefined : response.body);
}

/** The stable codes of the host's own answers (clients branch on them; messages are for people). */
export type HostErrorCode = 'not-found' | 'method-not-allowed' | 'payload-too-large' | 'bad-request' | 'internal-error';

/** One of the host's own answers, in the app's error shape. */
export interface HostError {
  code: HostErrorCode;
  message: string;
  /** More about it (limitBytes, allow, invocationId), next to code and message. */
  details?: Record<string, unknown>;
  headers?: Record<string, string>;
}

/**
 * The host's own answers (400, 404, 405, 413, 500) in the shape of the app's errors,
 * `{"error": {"code", "message", ...details}}`, so that a client reads every error the same way.
 */
export function writeJsonError(res: ServerResponse, status: number, error: HostError): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(JSON.stringify({ error: { ...error.details, code: error.code, message: error.message } }));
  res.writeHead(status, {
    ...error.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
    [NOSNIFF_HEADER[0]]: NOSNIFF_HEADER[1],
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
