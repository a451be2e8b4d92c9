/**
 * Progress documents (container `labels`, one per batch, id PROGRESS_DOCUMENT_ID): how many of the batch's label
 * documents are labeled, failed and retrying. LabelStore.write changes them in the same transactional batch as the
 * label document whose status changes, so they equal COUNT queries over the batch at every moment, at the cost of a
 * patch per status change; this store reads them, creates them, and repairs them.
 */
import type { Container, PatchOperation } from '@azure/cosmos';
import {
  DOCUMENT_SCHEMA_VERSION,
  ProgressDocumentSchema,
  type LabelDocument,
  type ProgressCounts,
  type ProgressDocument,
} from './documents';
import { isNotFound, isPreconditionFailed, readItem, readOrCreate } from './cosmos-errors';
import { PROGRESS_DOCUMENT_ID } from './names';

const STATUSES = ['labeled', 'failed', 'retrying'] as const satisfies ReadonlyArray<LabelDocument['status']>;

export const ZERO_COUNTS: ProgressCounts = { labeled: 0, failed: 0, retrying: 0 };

/** How the counts change when a label document goes from `before` (absent: undefined) to `after`. */
export function statusDelta(before: LabelDocument['status'] | undefined, after: LabelDocument['status']): Partial<ProgressCounts> {
  if (before === after) return {};
  return before === undefined ? { [after]: 1 } : { [before]: -1, [after]: 1 };
}

/** The patch that applies `delta` (at most two increments: Cosmos DB allows ten operations per patch). */
export function progressPatch(delta: Partial<ProgressCounts>): PatchOperation[] {
  return STATUSES.flatMap((status) => (delta[status] ? [{ op: 'incr' as const, path: `/${status}`, value: delta[status]! }] : []));
}

export const countsOf = (doc: ProgressCounts): ProgressCounts => ({ labeled: doc.labeled, failed: doc.failed, retrying: doc.retrying });

export const sameCounts = (a: ProgressCounts, b: ProgressCounts) => STATUSES.every((s) => a[s] === b[s]);

/** A COUNT query over the batch's label documents in one status (the progress document has no status). */
export async function countWithStatus(container: Container, batchId: string, status: LabelDocument['status']): Promise<number> {
  const { resources } = await container.items
    .query<number>({
      query: 'SELECT VALUE COUNT(1) FROM c WHERE c.batchId = @batchId AND c.status = @status',
      parameters: [
        { name: '@batchId', value: batchId },
        { name: '@status', value: status },
      ],
    })
    .fetchAll();
  return resources.reduce((sum, n) => sum + n, 0);
}

export class ProgressStore {
  constructor(private readonly container: Container) {}

  /** The batch's progress document; undefined until a label write (or ensure) has created it. */
  read(batchId: string): Promise<ProgressDocument | undefined> {
    return readItem(this.container, PROGRESS_DOCUMENT_ID, batchId, ProgressDocumentSchema);
  }

  /**
   * The progress document, created if missing with the counts of the label documents stored now. No write that
   * changes a status can land meanwhile: each one patches this document in its own batch, and fails while it does not
   * exist. So the counts taken here stay exact; of two creators the second gets 409 and reads the first one's.
   */
  ensure(batchId: string, now: () => string): Promise<ProgressDocument> {
    return readOrCreate(
      () => this.read(batchId),
      async () => {
        const counts = await this.countLabels(batchId);
        const { resource } = await this.container.items.create({
          id: PROGRESS_DOCUMENT_ID,
          batchId,
          kind: 'batch-progress',
          schemaVersion: DOCUMENT_SCHEMA_VERSION,
          ...counts,
          createdAt: now(),
        });
        return ProgressDocumentSchema.parse(resource);
      },
    );
  }

  /**
   * COUNT queries over the batch's label documents, one per status: the cost grows with the batch. Only for creating
   * a progress document (once per batch) and for checking one (the reconcile sweep).
   */
  async countLabels(batchId: string): Promise<ProgressCounts> {
    const [labeled, failed, retrying] = await Promise.all(STATUSES.map((status) => countWithStatus(this.container, batchId, status)));
    return { labeled: labeled!, failed: failed!, retrying: retrying! };
  }

  /** Sets the counts if the document is still the one read (`current`); false when a label write came first. */
  async repair(current: ProgressDocument, counts: ProgressCounts): Promise<boolean> {
    try {
      const { _etag, _rid, _self, _ts, _attachments, ...body } = current as ProgressDocument & Record<string, unknown>;
      await this.container
        .item(PROGRESS_DOCUMENT_ID, current.batchId)
        .replace({ ...body, ...counts }, { accessCondition: { type: 'IfMatch', condition: _etag! } });
      return true;
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return false;
      throw error;
    }
  }
}
