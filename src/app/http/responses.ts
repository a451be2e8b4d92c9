/**
 * Small typed HTTP helpers: every handler answers through these, so success reads as `return ok(view)` and every
 * error has the same shape, `{error: {code, message, ...details}}`, with the status that says what went wrong.
 */
import type { HttpResponseInit } from '@azure/functions';

/** The body of every error answer. `code` is stable (clients branch on it); `message` is for people. */
export interface ErrorBody {
  error: { code: string; message: string; [detail: string]: unknown };
}

type Headers = Record<string, string>;

export function json(status: number, body: unknown, headers: Headers = {}): HttpResponseInit {
  // jsonBody sets content-type application/json itself; the explicit charset keeps browsers and curl in agreement.
  return { status, jsonBody: body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } };
}

export const ok = (body: unknown, headers?: Headers) => json(200, body, headers);

/** Raw bytes (an image, a stored JSON or HTML document) with their content type. */
export function bytes(data: Uint8Array, contentType: string, headers: Headers = {}, status = 200): HttpResponseInit {
  return { status, body: data, headers: { 'content-type': contentType, 'content-length': String(data.byteLength), ...headers } };
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  details: Record<string, unknown> = {},
  headers: Headers = {},
): HttpResponseInit {
  const body: ErrorBody = { error: { ...details, code, message } };
  return json(status, body, headers);
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) => errorResponse(400, code, message, details);
export const notFound = (code: string, message: string, details?: Record<string, unknown>) => errorResponse(404, code, message, details);
export const notAcceptable = (message: string, details?: Record<string, unknown>) => errorResponse(406, 'not-acceptable', message, details);
export const conflict = (code: string, message: string, details?: Record<string, unknown>, headers?: Headers) =>
  errorResponse(409, code, message, details, headers);
export const payloadTooLarge = (message: string, limitBytes: number) => errorResponse(413, 'payload-too-large', message, { limitBytes });
export const unsupportedMediaType = (message: string, details?: Record<string, unknown>) =>
  errorResponse(415, 'unsupported-media-type', message, details);
export const unprocessable = (code: string, message: string, details?: Record<string, unknown>) =>
  errorResponse(422, code, message, details);

/** 429 with Retry-After in whole seconds (at least 1: `Retry-After: 0` invites an immediate retry storm). */
export function tooManyRequests(
  code: string,
  message: string,
  retryAfterSeconds: number,
  details?: Record<string, unknown>,
): HttpResponseInit {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return errorResponse(429, code, message, { ...details, retryAfterSeconds: seconds }, { 'retry-after': String(seconds) });
}

export function serviceUnavailable(
  code: string,
  message: string,
  details?: Record<string, unknown>,
  retryAfterSeconds?: number,
): HttpResponseInit {
  const headers: Headers = retryAfterSeconds === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) };
  return errorResponse(503, code, message, details, headers);
}

/** 500 without internals: the invocation id finds the logged details. */
export const internalError = (invocationId: string) =>
  errorResponse(500, 'internal-error', `the request failed on the server; its log has the details (invocation ${invocationId})`, {
    invocationId,
  });
