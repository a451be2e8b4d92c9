import type { Container } from '@azure/cosmos';
import { FrameSchema, type Frame } from '../../core/labels/schema';
import { LabelDocumentSchema, type LabelDocument } from './documents';
import { isConflict, isNotFound, isPreconditionFailed, readItem } from './cosmos-errors';
import { labelDocumentId } from './names';

export interface LabelVersion {
  name: string;
  status: LabelDocument['status'];
  etag: string;
  updatedAt: string;
}

/** Cosmos adds these on every read; a write sends the document without them. */
function withoutSystemFields(doc: LabelDocument): LabelDocument {
  const { _etag, _rid, _self, _ts, _attachments, ...rest } = doc as LabelDocument & Record<string, unknown>;
  return rest as LabelDocument;
}

/**
 * Label documents (container `labels`, partition key /batchId). Every query filters on batchId, so each stays in one
 * partition, and uses only what both Azure Cosmos DB and the local stand-in accept (no GROUP BY, DISTINCT,
 * OFFSET LIMIT or multi-aggregate objects).
 */
export class LabelStore {
  constructor(private readonly container: Container) {}

  get(batchId: string, name: string): Promise<LabelDocument | undefined> {
    return readItem(this.container, labelDocumentId(name), batchId, LabelDocumentSchema);
  }

  /** Unconditional write: for seeding and tools. The app writes through `write`, which never loses a race. */
  async upsert(doc: LabelDocument): Promise<LabelDocument> {
    const { resource } = await this.container.items.upsert(LabelDocumentSchema.parse(withoutSystemFields(doc)));
    return LabelDocumentSchema.parse(resource);
  }

  /**
   * Writes `doc` only if the stored document is still the one read (`expected`: its `_etag`, or `absent` when there
   * was none). Returns undefined when another writer came first (Cosmos answered 412 or 409): re-read and decide again.
   */
  async write(doc: LabelDocument, expected: { etag: string } | 'absent'): Promise<LabelDocument | undefined> {
    const body = LabelDocumentSchema.parse(withoutSystemFields(doc));
    try {
      const { resource } =
        expected === 'absent'
          ? await this.container.items.create(body)
          : await this.container
              .item(body.id, body.batchId)
              .replace(body, { accessCondition: { type: 'IfMatch', condition: expected.etag } });
      return LabelDocumentSchema.parse(resource);
    } catch (error) {
      if (isPreconditionFailed(error) || isConflict(error) || (expected !== 'absent' && isNotFound(error))) return undefined;
      throw error;
    }
  }

  async count(batchId: string, status: LabelDocument['status']): Promise<number> {
    const { resources } = await this.container.items
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

  /** Names and errors of the batch's images in one status (e.g. the failed ones, for a report). */
  async withStatus(batchId: string, status: LabelDocument['status']): Promise<Array<{ name: string; error?: LabelDocument['error'] }>> {
    const { resources } = await this.container.items
      .query<{ name: string; error?: LabelDocument['error'] }>({
        query: 'SELECT c.name, c.error FROM c WHERE c.batchId = @batchId AND c.status = @status',
        parameters: [
          { name: '@batchId', value: batchId },
          { name: '@status', value: status },
        ],
      })
      .fetchAll();
    return resources;
  }

  /** Per image of a batch: its status, the blob version it describes and when it was last written (the sweep). */
  async versions(batchId: string): Promise<LabelVersion[]> {
    const { resources } = await this.container.items
      .query<LabelVersion>({
        query: 'SELECT c.name, c.status, c.blob.etag AS etag, c.updatedAt FROM c WHERE c.batchId = @batchId',
        parameters: [{ name: '@batchId', value: batchId }],
      })
      .fetchAll();
    return resources;
  }

  /** The frames of the batch's labeled images (the review queue reads them all). */
  async labeledFrames(batchId: string): Promise<Frame[]> {
    const frames: Frame[] = [];
    for await (const page of this.labeledFramePages(batchId)) frames.push(...page);
    return frames;
  }

  /** The same frames, a page at a time in name order (an export streams a batch of any size). */
  async *labeledFramePages(batchId: string, pageSize = 100): AsyncGenerator<Frame[]> {
    const query = this.container.items.query<{ frame: unknown }>(
      {
        query: "SELECT c.frame FROM c WHERE c.batchId = @batchId AND c.status = 'labeled' ORDER BY c.name",
        parameters: [{ name: '@batchId', value: batchId }],
      },
      { maxItemCount: pageSize },
    );
    while (query.hasMoreResults()) {
      const { resources } = await query.fetchNext();
      const frames = resources.flatMap((r) => {
        const frame = FrameSchema.safeParse(r.frame);
        return frame.success ? [frame.data] : [];
      });
      if (frames.length) yield frames;
    }
  }

  /** The documents of the named images (those that exist). */
  async getMany(batchId: string, names: readonly string[]): Promise<LabelDocument[]> {
    if (names.length === 0) return [];
    const { resources } = await this.container.items
      .query({
        query: 'SELECT * FROM c WHERE c.batchId = @batchId AND ARRAY_CONTAINS(@names, c.name)',
        parameters: [
          { name: '@batchId', value: batchId },
          { name: '@names', value: [...names] },
        ],
      })
      .fetchAll();
    return resources.map((r) => LabelDocumentSchema.parse(r));
  }

  /** Every document of a batch, page by page (continuation tokens), for exports. */
  async *listBatch(batchId: string, pageSize = 200): AsyncGenerator<LabelDocument[]> {
    const iterator = this.container.items.query(
      { query: 'SELECT * FROM c WHERE c.batchId = @batchId ORDER BY c.name', parameters: [{ name: '@batchId', value: batchId }] },
      { maxItemCount: pageSize },
    );
    while (iterator.hasMoreResults()) {
      const { resources } = await iterator.fetchNext();
      if (resources.length) yield resources.map((r) => LabelDocumentSchema.parse(r));
    }
  }
}
