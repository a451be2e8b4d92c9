/**
 * Transactional batch (POST .../docs with x-ms-cosmos-batch-atomic) as Azure Cosmos DB runs it, for the stand-in:
 * the operations of one logical partition apply in order, all or nothing. The first that fails leaves every document
 * as it was before the batch (earlier operations are rolled back) and the answer lists its status, with 424 (failed
 * dependency) for all the others; the HTTP status is 207 and the JS SDK returns the per-operation results rather than
 * throwing (its own tests: "rolls back prior operations when one fails"). Patch is accepted, as in Azure.
 *
 * @vercel/cosmosdb-server's own batch handler applies operations one by one, never rolls back and refuses Patch; this
 * replaces it for atomic batches. It runs synchronously (no await between the first operation and the answer), so no
 * other request of this single-threaded server can see or change a half-applied batch.
 */
import { patchOperation } from '@vercel/cosmosdb-server/lib/handler/_patch-operations';
import {
  createOperation,
  deleteOperation,
  readOperation,
  replaceOperation,
  upsertOperation,
  type OperationResult,
} from '@vercel/cosmosdb-server/lib/handler/_document-operations';
import type Collection from '@vercel/cosmosdb-server/lib/account/collection';
import { parsePartitionKey } from '@vercel/cosmosdb-server/lib/utils/get-partition-from-header';

type JsonObject = Record<string, any>;

/** One operation as the SDK sends it in a batch body. */
export interface BatchOperationInput {
  operationType: string;
  id?: string;
  partitionKey?: string;
  ifMatch?: string;
  resourceBody?: JsonObject;
}

export interface BatchOperationResult {
  statusCode: number;
  requestCharge: number;
  eTag?: string;
  resourceBody?: JsonObject;
}

/** What one applied operation changed: the document before and after (undefined: absent). */
export interface BatchDocumentChange {
  operationType: string;
  before: JsonObject | undefined;
  after: JsonObject | undefined;
  patchOperations: number;
}

export interface TransactionalBatchOutcome {
  httpStatus: 200 | 207;
  results: BatchOperationResult[];
  /** The changes that stay (none when the batch failed). */
  changes: BatchDocumentChange[];
}

/**
 * Runs `operations` atomically in `collection`. `batchPartitionKey` is the request's partition key header (the JSON
 * array the SDK sends), used for operations that carry none.
 */
export function runTransactionalBatch(
  collection: Collection,
  operations: readonly BatchOperationInput[],
  batchPartitionKey: string | undefined,
): TransactionalBatchOutcome {
  const applied: Array<{ id: string; partition: unknown; before: JsonObject | undefined; change: BatchDocumentChange }> = [];
  const results: BatchOperationResult[] = [];
  for (const [index, op] of operations.entries()) {
    const partitionKey = op.partitionKey ?? batchPartitionKey;
    const target = targetOf(collection, op, partitionKey);
    const before = target ? copy(collection.document(target.id, target.partition).read()) : undefined;
    const result = apply(collection, op, partitionKey);
    if (result.statusCode >= 400) {
      // Undo in reverse order: each document gets back exactly what it held (same _etag, _ts and _rid).
      for (const done of applied.reverse()) restore(collection, done.id, done.partition, done.before);
      const failed: BatchOperationResult[] = operations.map((_, i) =>
        i === index ? { statusCode: result.statusCode, requestCharge: 0 } : { statusCode: 424, requestCharge: 0 },
      );
      return { httpStatus: 207, results: failed, changes: [] };
    }
    const after = target ? copy(collection.document(target.id, target.partition).read()) : undefined;
    if (target && op.operationType !== 'Read') {
      applied.push({
        ...target,
        before,
        change: { operationType: op.operationType, before, after, patchOperations: patchCount(op) },
      });
    }
    results.push({
      statusCode: result.statusCode,
      requestCharge: 0,
      ...(result.body?._etag ? { eTag: String(result.body._etag) } : {}),
      ...(result.body ? { resourceBody: result.body as JsonObject } : {}),
    });
  }
  return { httpStatus: 200, results, changes: applied.map((a) => a.change) };
}

function apply(collection: Collection, op: BatchOperationInput, partitionKey: string | undefined): OperationResult {
  const common = { ...(partitionKey !== undefined ? { partitionKey } : {}), ...(op.ifMatch ? { ifMatch: op.ifMatch } : {}) };
  try {
    switch (op.operationType) {
      case 'Create':
        return createOperation(collection, { resourceBody: op.resourceBody! as never });
      case 'Upsert':
        return upsertOperation(collection, { ...common, resourceBody: op.resourceBody! as never });
      case 'Replace':
        return replaceOperation(collection, { ...common, resourceBody: op.resourceBody! as never });
      case 'Read':
        return readOperation(collection, { ...common, id: op.id! });
      case 'Delete':
        return deleteOperation(collection, { ...common, id: op.id! });
      case 'Patch':
        return patchOperation(collection, {
          ...common,
          id: op.id!,
          operations: (op.resourceBody?.operations ?? []) as never,
          ...(op.resourceBody?.condition ? { condition: String(op.resourceBody.condition) } : {}),
        });
      default:
        return { statusCode: 400, body: { message: `Operation type '${op.operationType}' is not supported in Batch.` } };
    }
  } catch (error) {
    // A body the operation cannot work with (no id, an unparsable partition key): a bad request, as Azure answers.
    return { statusCode: 400, body: { message: (error as Error).message } };
  }
}

/** The document an operation works on: its id and partition value as the store indexes them. */
function targetOf(
  collection: Collection,
  op: BatchOperationInput,
  partitionKey: string | undefined,
): { id: string; partition: unknown } | undefined {
  try {
    if (op.resourceBody && (op.operationType === 'Create' || op.operationType === 'Upsert' || op.operationType === 'Replace')) {
      const id = op.resourceBody.id;
      return typeof id === 'string' ? { id, partition: collection.documents._getPartition(op.resourceBody) } : undefined;
    }
    if (!op.id || partitionKey === undefined) return undefined;
    return { id: op.id, partition: parsePartitionKey(partitionKey, op.id) };
  } catch {
    return undefined;
  }
}

function restore(collection: Collection, id: string, partition: unknown, before: JsonObject | undefined): void {
  if (collection.document(id, partition).read()) collection.documents.delete(id, partition);
  if (before) collection.documents._set(before as never);
}

function patchCount(op: BatchOperationInput): number {
  return op.operationType === 'Patch' && Array.isArray(op.resourceBody?.operations) ? op.resourceBody.operations.length : 0;
}

const copy = (value: unknown): JsonObject | undefined => (value ? (structuredClone(value) as JsonObject) : undefined);
