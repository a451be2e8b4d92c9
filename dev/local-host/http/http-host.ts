/**
 * A local stand-in for the Functions host's HTTP front end (`func start`), for machines without Core Tools: it
 * serves the app's HTTP functions on http://127.0.0.1:7071/api/... (plain `{param}` routes, which is all the app
 * uses) and calls each with a real `HttpRequest` and the InvocationContext the worker would build.
 *
 * authLevel is ignored, as `func start` ignores it: every function is callable without a key locally. The options
 * keep their `authLevel` (e.g. 'function') for Azure, where keys are enforced.
 *
 * The host's own answers (no such function 404, 405, 413, a request it cannot read 400, a failed function 500) use
 * the app's error shape `{"error": {"code", "message", ...details}}`, and every answer carries
 * `X-Content-Type-Options: nosniff`.
 *
 * Not emulated: keys and the admin API, CORS (Host.CORS in local.settings.json), `enableContentNegotiation`,
 * response streaming (bodies are read whole before sending, as the host does when `enableHttpStream` is off), and
 * function timeouts.
 */
import { describeError, redact } from '../../../src/core/redaction';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invokeHttpFunction, type RouteHandler } from './invoke-function';
import { declaresTooLarge, readRequestBody, RequestTooLargeError } from './request-body';
import { writeJsonError, writeResolvedResponse, type HostError } from './response-writer';
import { buildRouteTable, type RouteTable } from './route-table';
import { requestUrl, toFunctionRequest } from './to-function-request';

export type { RouteHandler };

export interface HttpRoute {
  name: string;
  /** Upper-case methods. */
  methods: string[];
  /** `{param}` template, e.g. `batches/{batchId}`. */
  route: string;
  handler: RouteHandler;
}

export interface HttpHostOptions {
  /** The HTTP functions, served under the route prefix. */
  functions: HttpRoute[];
  /** Default 7071 (as `func start`); 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** host.json `extensions.http.routePrefix`; default 'api', '' for none. */
  routePrefix?: string;
  /** Larger request bodies get 413; default 100 MiB, the Functions HTTP request limit. */
  maxRequestBytes?: number;
  /** Routes at the root, such as the Durable API the host itself serves. */
  extraRoutes?: HttpRoute[];
  /** Host and invocation log lines; default console.log. */
  log?: (line: string) => void;
}

export interface HttpHost {
  /** e.g. http://127.0.0.1:7071 (no prefix, no trailing slash). */
  url: string;
  port: number;
  /** Stops listening and releases the port; open connections get a short grace time to finish. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_REQUEST_BYTES = 100 * 1024 * 1024;
/** How long an oversized upload may keep sending after its 413, and how long close() waits for busy connections. */
const GRACE_MS = 2000;

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The 413 body: the limit in the message for people and in `limitBytes` for clients. */
function tooLarge(limitBytes: number): HostError {
  return { code: 'payload-too-large', message: `Request body too large: the limit is ${limitBytes} bytes`, details: { limitBytes } };
}

/**
 * The 413. It is sent with `Connection: close`, and the rest of the upload is read and thrown away for a grace time
 * rather than cut off at once: closing a socket with unread data resets it, and the client would see a reset
 * instead of the 413.
 */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse, limitBytes: number): void {
  res.setHeader('connection', 'close');
  writeJsonError(res, 413, tooLarge(limitBytes));
  if (req.complete) return;
  const giveUp = setTimeout(() => req.socket.destroy(), GRACE_MS);
  giveUp.unref();
  req.once('close', () => clearTimeout(giveUp));
  req.resume();
}

async function serveRequest(
  req: IncomingMessage,
  res: ServerResponse,
  table: RouteTable<RouteHandler>,
  origin: string,
  maxRequestBytes: number,
  log: (line: string) => void,
): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = requestUrl(req, origin);
  const lookup = table.lookup(method, url.pathname);
  if (lookup.kind === 'not-found') {
    writeJsonError(res, 404, { code: 'not-found', message: `No function serves ${url.pathname}` });
    return;
  }
  if (lookup.kind === 'method-not-allowed') {
    const allow = lookup.allow.join(', ');
    const message = `Method ${method} is not allowed on ${url.pathname}`;
    writeJsonError(res, 405, { code: 'method-not-allowed', message, details: { allow: lookup.allow }, headers: { allow } });
    return;
  }

  let body: Buffer;
  try {
    body = await readRequestBody(req, maxRequestBytes);
  } catch (error) {
    if (error instanceof RequestTooLargeError) refuseTooLarge(req, res, maxRequestBytes);
    // Otherwise the client went away mid-upload: there is no one to answer.
    return;
  }

  let request;
  try {
    request = toFunctionRequest(req, url, lookup.params, body);
  } catch (error) {
    writeJsonError(res, 400, { code: 'bad-request', message: `Bad request: ${(error as Error).message}` });
    return;
  }
  const outcome = await invokeHttpFunction(lookup.entry, request, log);
  if (outcome.ok) {
    writeResolvedResponse(res, outcome.response, method);
  } else {
    writeJsonError(res, 500, {
      code: 'internal-error',
      message: `Function '${lookup.entry.name}' failed; details are in the host log under invocation ${outcome.invocationId}`,
      details: { invocationId: outcome.invocationId },
    });
  }
}

export async function startHttpHost(options: HttpHostOptions): Promise<HttpHost> {
  const host = options.host ?? '127.0.0.1';
  const routePrefix = (options.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const log = options.log ?? ((line: string) => console.log(line));

  const table = buildRouteTable(
    [
      ...options.functions.map((f) => ({ ...f, underPrefix: true })),
      ...(options.extraRoutes ?? []).map((r) => ({ ...r, underPrefix: false })),
    ],
    routePrefix,
  );

  let origin = '';
  const server = http.createServer((req, res) => {
    serveRequest(req, res, table, origin, maxRequestBytes, log).catch((error: unknown) => {
      log(`host error on ${req.method} ${redact(req.url ?? '')}: ${describeError(error, { stack: true })}`);
      writeJsonError(res, 500, { code: 'internal-error', message: 'Internal host error; details are in the host log' });
    });
  });
  // `Expect: 100-continue` (curl sends it for bodies over 1 MiB): refuse an oversized body before it is sent.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (declaresTooLarge(req, maxRequestBytes)) {
      res.setHeader('connection', 'close');
      writeJsonError(res, 413, tooLarge(maxRequestBytes));
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://${displayHost(host)}:${port}`;

  const prefixPath = routePrefix === '' ? '' : `/${routePrefix}`;
  log('Functions:');
  for (const entry of table.entries.filter((e) => e.underPrefix)) {
    log(`\t${entry.name}: [${entry.methods.join(',')}] ${origin}${prefixPath}/${entry.template}`);
  }

  let closing: Promise<void> | undefined;
  return {
    url: origin,
    port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        const forceClose = setTimeout(() => server.closeAllConnections(), GRACE_MS);
        server.close((error) => {
          clearTimeout(forceClose);
          if (error) reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
