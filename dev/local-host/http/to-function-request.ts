/**
 * Builds the `HttpRequest` a handler receives from a node request, with what the host would put in it: the full URL
 * (so `request.query` is read from it and keeps repeated keys), all headers, route params, and the body as bytes
 * (GET and HEAD bodies are dropped, as the library itself does on Azure).
 */
import { HttpRequest } from '@azure/functions';
import type { IncomingMessage } from 'node:http';

/**
 * The request's absolute URL. The origin comes from the Host header when it is usable (so links a handler builds
 * point where the client connected), else from the listening address. The path is appended as sent, never resolved
 * as a URL reference: a path starting with `//` must not become a host name.
 */
export function requestUrl(req: IncomingMessage, listeningOrigin: string): URL {
  const target = req.url ?? '/';
  if (/^https?:\/\//i.test(target)) {
    try {
      return new URL(target); // absolute-form request target (as a proxy would send)
    } catch {
      // fall through to origin + path
    }
  }
  const path = target.startsWith('/') ? target : `/${target}`;
  const host = req.headers.host;
  if (host) {
    try {
      return new URL(`http://${host}${path}`);
    } catch {
      // a Host header that is not a valid authority: use ours
    }
  }
  return new URL(`${listeningOrigin}${path}`);
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

export function toFunctionRequest(req: IncomingMessage, url: URL, params: Record<string, string>, body: Buffer): HttpRequest {
  const method = (req.method ?? 'GET').toUpperCase();
  const canHaveBody = method !== 'GET' && method !== 'HEAD';
  return new HttpRequest({
    method,
    url: url.href,
    headers: headerRecord(req),
    params,
    ...(canHaveBody ? { body: { bytes: body } } : {}),
  });
}
