/**
 * What one request to the Cosmos DB stand-in did, described for a benchmark: which container and documents it
 * touched, what kind of operation it was, and its estimated charge under cosmos-ru-model.ts. Built by
 * cosmos-server.ts from the request, its answer and the stored documents before and after.
 */
import type http from 'node:http';
import { documentOperationRu, queryPageRu, type CosmosRequestKind, type DocumentWriteFacts, type QueryFacts } from './cosmos-ru-model';
import type { BatchDocumentChange } from './cosmos-transactional-batch';

export interface TouchedDocument {
  id: string;
  /** The document's own `kind` field (the app's documents say what they are: label, batch, batch-progress...). */
  kind: string | undefined;
  operation: DocumentWriteFacts['kind'];
  bytes: number;
  ru: number;
}

export interface CosmosRequestRecord {
  /** Date.now() when it was answered. */
  at: number;
  kind: CosmosRequestKind;
  method: string;
  database: string | undefined;
  container: string | undefined;
  status: number;
  /** Estimated request units (cosmos-ru-model.ts). */
  ru: number;
  /** Point operations and batches: the documents read or written. */
  documents: TouchedDocument[];
  /** Queries: the text, the rows of this page, and for COUNT the entries it counted. */
  query?: string;
  rows?: number;
  aggregatedEntries?: number;
}

/** The request as the server saw it. */
export interface ServedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  status: number;
  requestBody: unknown;
  responseBody: unknown;
  /** The stored document the request targeted, before it acted (point operations). */
  before: Record<string, unknown> | undefined;
  batchChanges?: BatchDocumentChange[];
  meanDocumentBytes(database: string, container: string): number;
}

/** A failed point operation or batch (404, 409, 412...): charged like a small read; Azure does not document it. */
const FAILED_REQUEST_RU = 1;
const SYSTEM_FIELDS = new Set(['_rid', '_self', '_etag', '_ts', '_attachments', '_lsn']);
const AGGREGATE = /^\s*SELECT\s+VALUE\s+(COUNT|SUM|MIN|MAX|AVG)\s*\(/i;

const isTrue = (value: string | string[] | undefined) =>
  Array.isArray(value) ? value.some((v) => v.toLowerCase() === 'true') : String(value ?? '').toLowerCase() === 'true';

export function describeRequest(served: ServedRequest): CosmosRequestRecord {
  const path = served.url.split('?')[0] ?? '';
  const match = /^\/+dbs\/([^/]+)(?:\/colls\/([^/]+))?(\/docs)?(?:\/([^/]+))?\/?$/.exec(path);
  const database = match?.[1] && decodeURIComponent(match[1]);
  const container = match?.[2] && decodeURIComponent(match[2]);
  const onDocuments = Boolean(match?.[3]);
  const docId = match?.[4] && decodeURIComponent(match[4]);
  const kind = kindOf(served, onDocuments, docId);
  const base = { at: Date.now(), kind, method: served.method, database, container, status: served.status };
  if (kind === 'metadata') return { ...base, ru: 0, documents: [] };
  const failed = served.status >= 400;

  if (kind === 'query') {
    const text = (served.requestBody as { query?: unknown } | undefined)?.query;
    const query = typeof text === 'string' ? text : '';
    const rows = ((served.responseBody as { Documents?: unknown[] } | undefined)?.Documents ?? []) as unknown[];
    const aggregate = AGGREGATE.test(query);
    const facts: QueryFacts = {
      rows: rows.length,
      loadedBytes: rows.every(isStoredDocument)
        ? rows.reduce<number>((sum, row) => sum + sizeOf(row), 0)
        : rows.length * served.meanDocumentBytes(database!, container!),
      aggregatedEntries: aggregate ? rows.reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0) : undefined,
    };
    return {
      ...base,
      ru: failed ? FAILED_REQUEST_RU : queryPageRu(facts),
      documents: [],
      query,
      rows: rows.length,
      ...(facts.aggregatedEntries !== undefined ? { aggregatedEntries: facts.aggregatedEntries } : {}),
    };
  }

  if (kind === 'batch') {
    const documents = (served.batchChanges ?? []).map((change) =>
      touched(batchOperationKind(change), change.before, change.after, change.patchOperations),
    );
    return { ...base, ru: failed || documents.length === 0 ? FAILED_REQUEST_RU : sum(documents.map((d) => d.ru)), documents };
  }

  if (failed) return { ...base, ru: FAILED_REQUEST_RU, documents: [] };
  const after = isStoredDocument(served.responseBody) ? (served.responseBody as Record<string, unknown>) : undefined;
  const operation = kind as DocumentWriteFacts['kind'];
  const patchOperations = kind === 'patch' ? patchCount(served.requestBody) : 0;
  const document =
    kind === 'read' || kind === 'delete'
      ? touched(operation, undefined, kind === 'read' ? after : served.before, 0)
      : touched(operation, served.before, after, patchOperations);
  return { ...base, ru: document.ru, documents: [document] };
}

function kindOf(served: ServedRequest, onDocuments: boolean, docId: string | undefined): CosmosRequestKind {
  const { method, headers } = served;
  if (!onDocuments || isTrue(headers['x-ms-cosmos-is-query-plan-request'])) return 'metadata';
  if (docId) {
    if (method === 'GET') return 'read';
    if (method === 'PUT') return 'replace';
    if (method === 'PATCH') return 'patch';
    if (method === 'DELETE') return 'delete';
    return 'metadata';
  }
  if (method !== 'POST') return 'metadata';
  if (isTrue(headers['x-ms-documentdb-isquery']) || headers['content-type'] === 'application/query+json') return 'query';
  if (isTrue(headers['x-ms-documentdb-is-upsert'])) return 'upsert';
  if (isTrue(headers['x-ms-cosmos-is-batch-request'])) return 'batch';
  return 'create';
}

function batchOperationKind(change: BatchDocumentChange): DocumentWriteFacts['kind'] {
  switch (change.operationType) {
    case 'Create':
      return 'create';
    case 'Replace':
      return 'replace';
    case 'Upsert':
      return 'upsert';
    case 'Patch':
      return 'patch';
    case 'Delete':
      return 'delete';
    default:
      return 'read';
  }
}

/** One document's operation with its facts and charge; `after` is the stored result (or the document read). */
function touched(
  operation: DocumentWriteFacts['kind'],
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
  patchOperations: number,
): TouchedDocument {
  const subject = after ?? before ?? {};
  const terms = leaves(subject);
  const facts: DocumentWriteFacts = {
    kind: operation,
    bytes: sizeOf(subject),
    terms: terms.size,
    changedTerms: before && after ? changed(leaves(before), terms) : terms.size,
    existed: before !== undefined,
    patchOperations,
  };
  return {
    id: String(subject.id ?? ''),
    kind: typeof subject.kind === 'string' ? subject.kind : undefined,
    operation,
    bytes: facts.bytes,
    ru: documentOperationRu(facts),
  };
}

/** Scalar values by JSON path (the terms the default indexing policy indexes). */
function leaves(value: unknown, path = '', into = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(value)) value.forEach((item, i) => leaves(item, `${path}/${i}`, into));
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) if (!(path === '' && SYSTEM_FIELDS.has(key))) leaves(item, `${path}/${key}`, into);
  } else into.set(path, value);
  return into;
}

function changed(before: Map<string, unknown>, after: Map<string, unknown>): number {
  let n = 0;
  for (const [path, value] of after) if (before.get(path) !== value) n++;
  for (const path of before.keys()) if (!after.has(path)) n++;
  return n;
}

function patchCount(body: unknown): number {
  if (Array.isArray(body)) return body.length;
  const operations = (body as { operations?: unknown } | undefined)?.operations;
  return Array.isArray(operations) ? operations.length : 0;
}

const isStoredDocument = (value: unknown): boolean => Boolean(value && typeof value === 'object' && '_rid' in (value as object));
const sizeOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? null));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
