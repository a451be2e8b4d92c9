import type { Container } from '@azure/cosmos';
import { BatchDocumentSchema, DOCUMENT_SCHEMA_VERSION, type BatchDocument } from './documents';
import { isPreconditionFailed, readItem, readOrCreate } from './cosmos-errors';

/** How often a conditional update is retried after another writer changed the document first. */
const MAX_CONFLICT_RETRIES = 20;

export function newBatchDocument(batchId: string, now: string): BatchDocument {
  return {
    id: batchId,
    batchId,
    kind: 'batch',
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    status: 'labeling',
    expected: null,
    labeled: 0,
    failed: 0,
    manifest: null,
    evaluation: null,
    reportId: null,
    createdAt: now,
    updatedAt: now,
    completedAt: null,
    problems: [],
  };
}

/**
 * Batch documents (container `batches`, id = partition key = batchId). Every change is read-modify-write with
 * IfMatch on the ETag: a writer that lost the race re-reads and re-applies its change, so concurrent triggers never
 * lose an update.
 */
export class BatchStore {
  constructor(private readonly container: Container) {}

  get(batchId: string): Promise<BatchDocument | undefined> {
    return readItem(this.container, batchId, batchId, BatchDocumentSchema);
  }

  /** The batch's document, created (status labeling) if it does not exist yet. */
  getOrCreate(batchId: string, now: () => string): Promise<BatchDocument> {
    return readOrCreate(
      () => this.get(batchId),
      async () => BatchDocumentSchema.parse((await this.container.items.create(newBatchDocument(batchId, now()))).resource),
    );
  }

  /**
   * Apply `change` to the current document and write it if the document did not change meanwhile; on a conflict,
   * re-read and apply again. `change` returns undefined when nothing needs writing. Returns the document as stored
   * and whether this call wrote it (the winner of a transition acts on it, e.g. starts the evaluation).
   */
  async update(
    batchId: string,
    now: () => string,
    change: (current: BatchDocument) => Promise<BatchDocument | undefined> | BatchDocument | undefined,
  ): Promise<{ doc: BatchDocument; written: boolean; previous: BatchDocument }> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.getOrCreate(batchId, now);
      const next = await change(structuredClone(current));
      if (!next) return { doc: current, written: false, previous: current };
      try {
        const { resource } = await this.container.item(batchId, batchId).replace(BatchDocumentSchema.parse({ ...next, updatedAt: now() }), {
          accessCondition: { type: 'IfMatch', condition: current._etag! },
        });
        return { doc: BatchDocumentSchema.parse(resource), written: true, previous: current };
      } catch (error) {
        if (!isPreconditionFailed(error) || attempt >= MAX_CONFLICT_RETRIES) throw error;
        // Another trigger wrote first: back off a little (jitter spreads the writers apart) and re-apply.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));
      }
    }
  }

  async list(): Promise<BatchDocument[]> {
    const { resources } = await this.container.items.query('SELECT * FROM c ORDER BY c.createdAt DESC').fetchAll();
    return resources.map((r) => BatchDocumentSchema.parse(r));
  }

  /** Every batch's id and status (small: the sweep's list of what to visit). */
  async statuses(): Promise<Array<{ batchId: string; status: BatchDocument['status'] }>> {
    const { resources } = await this.container.items
      .query<{ batchId: string; status: BatchDocument['status'] }>('SELECT c.batchId, c.status FROM c')
      .fetchAll();
    return resources;
  }

  /** Batches whose images are all done and that have no report: what the nightly timer evaluates. */
  async listAwaitingEvaluation(): Promise<BatchDocument[]> {
    const { resources } = await this.container.items.query("SELECT * FROM c WHERE c.status = 'labeled'").fetchAll();
    return resources.map((r) => BatchDocumentSchema.parse(r));
  }
}
