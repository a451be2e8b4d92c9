/**
 * The HTTP server of the Cosmos DB stand-in: @vercel/cosmosdb-server's own account and routes, put together here
 * rather than through its createHttpServer, for what that one cannot do:
 *  - transactional batches as Azure runs them, all or nothing and with Patch (cosmos-transactional-batch.ts);
 *  - a listener that sees every request with what an RU estimate needs (cosmos-request-log.ts, for benchmarks),
 *    and the estimate itself in `x-ms-request-charge` where the package answers a constant 1;
 *  - document queries narrowed by their equality conditions first, as an index would (cosmos-query.ts): the package
 *    reads every document of the container for each query, which a 20,000-image batch cannot afford;
 *  - keep-alive connections on request (`keepAlive`): the package closes each one, and a benchmark's tens of
 *    thousands of requests would run the client out of ephemeral ports (TIME_WAIT). Off by default, as the package
 *    has it: a pooled connection to a stand-in that was killed fails differently from a refused one.
 * Everything else is answered by the package's handlers exactly as its createHttpServer does (same headers, same
 * error bodies). It relies on the package's internal modules (lib/account, lib/routes, lib/handler/*), pinned by
 * package-lock.json: an upgrade must be checked against test/local-services.test.ts.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Account from '@vercel/cosmosdb-server/lib/account';
import routes from '@vercel/cosmosdb-server/lib/routes';
import { parsePartitionKey } from '@vercel/cosmosdb-server/lib/utils/get-partition-from-header';
import { queryDocuments } from './cosmos-query';
import { runTransactionalBatch, type BatchOperationInput, type TransactionalBatchOutcome } from './cosmos-transactional-batch';
import { describeRequest, type CosmosRequestRecord, type ServedRequest } from './cosmos-request-log';

export type CosmosRequestListener = (record: CosmosRequestRecord) => void;

export interface CosmosServer {
  server: http.Server;
  /** Calls `listener` after every request with what it did and its estimated charge; returns the unsubscribe. */
  onRequest(listener: CosmosRequestListener): () => void;
  /** Every database, container definition and document, copied in one synchronous pass (a consistent cut). */
  exportState(): ExportedDatabase[];
}

export interface ExportedDatabase {
  id: string;
  containers: Array<{ definition: Record<string, any> & { id: string }; items: Array<Record<string, unknown>> }>;
}

type Handler = (account: Account, req: http.IncomingMessage, res: http.ServerResponse, params: Record<string, string>) => Promise<any>;

const isTrue = (value: string | string[] | undefined) =>
  Array.isArray(value) ? value.some((v) => v.toLowerCase() === 'true') : String(value ?? '').toLowerCase() === 'true';

export function createCosmosServer(options: { keepAlive?: boolean } = {}): CosmosServer {
  let account: Account | undefined;
  const listeners = new Set<CosmosRequestListener>();
  const keepAlive = options.keepAlive === true;
  const server = http.createServer({ keepAlive }, (req, res) => {
    void serve(account!, req, res, listeners, keepAlive);
  });
  // Longer than any client keeps an idle connection here: the server never closes one a client is about to reuse.
  if (keepAlive) server.keepAliveTimeout = 10 * 60_000;
  server.on('listening', () => {
    const { address, port } = server.address() as AddressInfo;
    account = new Account(address === '0.0.0.0' || address === '::' ? 'localhost' : address, port);
  });
  return {
    server,
    onRequest(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    exportState() {
      if (!account) return [];
      return [...account.databases._data.values()].map((database) => ({
        id: String(database.read()!.id),
        containers: [...database.collections._data.values()].map((collection) => ({
          definition: structuredClone(collection.read()) as ExportedDatabase['containers'][number]['definition'],
          items: [...collection.documents._data.values()].map((doc) => structuredClone(doc.read()) as Record<string, unknown>),
        })),
      }));
    },
  };
}

async function serve(
  account: Account,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  listeners: ReadonlySet<CosmosRequestListener>,
  keepAlive: boolean,
) {
  const observed = listeners.size > 0 ? observe(account, req) : undefined;
  const route = routes(req) as [Record<string, string>, Handler] | undefined;
  let body: any;
  let batch: Awaited<ReturnType<typeof atomicBatch>> | undefined;
  try {
    if (route && isTrue(req.headers['x-ms-cosmos-is-batch-request']) && isTrue(req.headers['x-ms-cosmos-batch-atomic'])) {
      batch = await atomicBatch(account, req, route[0]);
      res.statusCode = batch.status;
      body = batch.body;
    } else if (route && isDocumentQuery(req, route[0])) {
      body = await documentQuery(account, req, res, route[0]);
    } else if (route) {
      body = await route[1](account, req, res, route[0]);
    } else {
      res.statusCode = 400;
      body = { message: 'no route' };
    }
  } catch (error) {
    console.error(error);
    res.statusCode = 500;
    body = { message: (error as Error).message };
  }
  if (res.statusCode > 399 && body && !body.message) body.message = '';
  const record = observed?.finish(res.statusCode, body, batch?.outcome);
  if (body && body._etag) res.setHeader('etag', body._etag);
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-location', `https://${req.headers.host}${req.url}`);
  res.setHeader('connection', keepAlive ? 'keep-alive' : 'close');
  res.setHeader('x-ms-activity-id', randomUUID());
  res.setHeader('x-ms-request-charge', record ? record.ru.toFixed(2) : '1');
  if (req.headers['x-ms-documentdb-populatequerymetrics']) {
    res.setHeader(
      'x-ms-documentdb-query-metrics',
      'totalExecutionTimeInMs=0.00;queryCompileTimeInMs=0.00;queryLogicalPlanBuildTimeInMs=0.00;queryPhysicalPlanBuildTimeInMs=0.00;queryOptimizationTimeInMs=0.00;VMExecutionTimeInMs=0.00;indexLookupTimeInMs=0.00;documentLoadTimeInMs=0.00;systemFunctionExecuteTimeInMs=0.00;userFunctionExecuteTimeInMs=0.00;retrievedDocumentCount=0;retrievedDocumentSize=0;outputDocumentCount=1;outputDocumentSize=0;writeOutputTimeInMs=0.00;indexUtilizationRatio=0.00',
    );
  }
  if (req.headers['a-im'] && res.statusCode === 200) {
    if (req.headers['if-none-match']) res.statusCode = 304;
    res.setHeader('etag', '1');
  }
  res.end(JSON.stringify(body));
  if (record) for (const listener of listeners) listener(record);
}

const isDocumentQuery = (req: http.IncomingMessage, params: Record<string, string>) =>
  req.method === 'POST' &&
  params.collId !== undefined &&
  params.docId === undefined &&
  /\/docs\/?(\?|$)/.test(req.url ?? '') &&
  (isTrue(req.headers['x-ms-documentdb-isquery']) || req.headers['content-type'] === 'application/query+json');

/** The client's continuation header; a malformed one starts over, as the package's own handler does. */
function parseContinuation(value: string | undefined): { token: string } | null {
  if (!value) return null;
  try {
    return JSON.parse(value) as { token: string };
  } catch {
    return null;
  }
}

/** A document query (cosmos-query.ts), answered as the package's query handler answers it. */
async function documentQuery(account: Account, req: http.IncomingMessage, res: http.ServerResponse, params: Record<string, string>) {
  const body = JSON.parse((await readBody(req)).toString('utf8')) as {
    query?: string;
    parameters?: Array<{ name: string; value: unknown }>;
  };
  if (!body.query) {
    res.statusCode = 400;
    return { message: 'missing query' };
  }
  const collection = account.database(params.dbId!).collection(params.collId!);
  if (!isTrue(req.headers['x-ms-documentdb-query-enablecrosspartition'])) {
    const paths: string[] = (collection.read() as { partitionKey?: { paths?: string[] } } | undefined)?.partitionKey?.paths ?? [];
    const compiled = parsed(collection, body.query);
    if (compiled && paths.length && !compiled.containsPartitionKeys(paths)) {
      res.statusCode = 400;
      return { message: 'missing partition keys' };
    }
  }
  const header = (name: string) => (Array.isArray(req.headers[name]) ? req.headers[name][0] : (req.headers[name] as string | undefined));
  const maxItemCount = header('x-ms-max-item-count') ? parseInt(header('x-ms-max-item-count')!, 10) : null;
  const continuation = parseContinuation(header('x-ms-continuation'));
  let result: ReturnType<typeof queryDocuments>;
  try {
    result = queryDocuments(
      collection,
      { query: body.query, ...(body.parameters ? { parameters: body.parameters } : {}) },
      { maxItemCount, continuation },
    );
  } catch (error) {
    // The query engine's SyntaxError, or what the store marks as the query's fault.
    if ((error as Error).name === 'SyntaxError' || (error as { badRequest?: boolean }).badRequest) {
      res.statusCode = 400;
      return { code: 'BadRequest', message: (error as Error).message };
    }
    throw error;
  }
  if (!result) {
    res.statusCode = 404;
    return {};
  }
  if (result.continuation) res.setHeader('x-ms-continuation', JSON.stringify(result.continuation));
  res.setHeader('x-ms-item-count', String(result.result.length));
  return { Documents: result.result, _count: result.result.length };
}

/** The package's compiled (and cached) query; undefined when it does not parse (the query answers 400 then). */
function parsed(collection: ReturnType<ReturnType<Account['database']>['collection']>, query: string) {
  try {
    return collection.documents._getQuery(query);
  } catch {
    return undefined;
  }
}

async function atomicBatch(
  account: Account,
  req: http.IncomingMessage,
  params: Record<string, string>,
): Promise<{ status: number; body: unknown; outcome?: TransactionalBatchOutcome }> {
  const operations = JSON.parse((await readBody(req)).toString('utf8')) as unknown;
  const collection = account.database(params.dbId!).collection(params.collId!);
  if (!collection.read()) return { status: 404, body: { message: '' } };
  if (!Array.isArray(operations)) return { status: 400, body: { message: 'Invalid request body' } };
  const header = req.headers['x-ms-documentdb-partitionkey'];
  const outcome = runTransactionalBatch(collection, operations as BatchOperationInput[], Array.isArray(header) ? header[0] : header);
  return { status: outcome.httpStatus, body: outcome.results, outcome };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Watches one request for the log: its body (a copy of what the handler reads), and the stored document it targets
 * as it was when the body was complete, just before the handler (which reads the same body) acts on it.
 */
function observe(account: Account, req: http.IncomingMessage) {
  const chunks: Buffer[] = [];
  let before: Record<string, unknown> | undefined;
  let requestBody: unknown;
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      requestBody = text ? JSON.parse(text) : undefined;
    } catch {
      requestBody = undefined;
    }
    before = storedTarget(account, req, requestBody);
  });
  return {
    finish(status: number, body: unknown, batch: TransactionalBatchOutcome | undefined): CosmosRequestRecord {
      const served: ServedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        status,
        requestBody,
        responseBody: body,
        before,
        ...(batch ? { batchChanges: batch.changes } : {}),
        meanDocumentBytes: (dbId, collId) => meanDocumentBytes(account, dbId, collId),
      };
      return describeRequest(served);
    },
  };
}

/** The stored document a point operation targets (id from the URL or the body, partition from the header). */
function storedTarget(account: Account, req: http.IncomingMessage, body: unknown): Record<string, unknown> | undefined {
  const match = /^\/+dbs\/([^/]+)\/colls\/([^/]+)\/docs(?:\/([^/?]+))?/.exec(req.url ?? '');
  if (!match) return undefined;
  const [, dbId, collId, docId] = match.map((p) => (p === undefined ? p : decodeURIComponent(p)));
  const id = docId ?? (body && typeof body === 'object' && !Array.isArray(body) ? (body as { id?: unknown }).id : undefined);
  if (typeof id !== 'string') return undefined;
  try {
    const collection = account.database(dbId!).collection(collId!);
    const header = req.headers['x-ms-documentdb-partitionkey'];
    const partition = header
      ? parsePartitionKey(Array.isArray(header) ? header[0]! : header, id)
      : collection.documents._getPartition(body as Record<string, unknown>);
    const stored = collection.document(id, partition).read();
    return stored ? structuredClone(stored) : undefined;
  } catch {
    return undefined;
  }
}

/** Mean stored size of a container's documents (what a projection query loads per row); cached for a second. */
const meanCache = new WeakMap<object, { at: number; bytes: number }>();
function meanDocumentBytes(account: Account, dbId: string, collId: string): number {
  const collection = account.database(dbId).collection(collId);
  const cached = meanCache.get(collection);
  if (cached && Date.now() - cached.at < 1000) return cached.bytes;
  let total = 0;
  let n = 0;
  for (const item of collection.documents._data.values()) {
    total += Buffer.byteLength(JSON.stringify(item.read()));
    n++;
  }
  const bytes = n ? total / n : 0;
  meanCache.set(collection, { at: Date.now(), bytes });
  return bytes;
}
