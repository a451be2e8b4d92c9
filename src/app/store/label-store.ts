import type { Container, JSONObject, OperationInput, OperationResponse } from '@azure/cosmos';
import { FrameSchema, type Frame } from '../../core/labels/schema';
import { LabelDocumentSchema, ProgressDocumentSchema, type LabelDocument, type ProgressCounts } from './documents';
import { isConflict, isNotFound, isPreconditionFailed, readItem } from './cosmos-errors';
import { labelDocumentId, PROGRESS_DOCUMENT_ID } from './names';
import { countsOf, countWithStatus, progressPatch, ProgressStore, statusDelta } from './progress-store';

export interface LabelVersion {
  name: string;
  status: LabelDocument['status'];
  etag: string;
  updatedAt: string;
}

/** What the stored document was when it was read: a write applies only if it still is. */
export type StoredVersion = { etag: string; status: LabelDocument['status'] } | 'absent';

export interface LabelWrite {
  doc: LabelDocument;
  /** The batch's counts right after this write, when it changed them (undefined: the status did not change). */
  progress: ProgressCounts | undefined;
}

/** Status codes of a batch operation that mean another writer came first: re-read and decide again. */
const LOST_RACE = new Set([404, 409, 412]);
/** Image names per getMany query (see there). */
const NAMES_PER_QUERY = 1000;
/** A write that finds no progress document creates it and tries again; more rounds than this mean something else. */
const MAX_PROGRESS_ROUNDS = 3;

/** Cosmos adds these on every read; a write sends the document without them. */
function withoutSystemFields(doc: LabelDocument): LabelDocument {
  const { _etag, _rid, _self, _ts, _attachments, ...rest } = doc as LabelDocument & Record<string, unknown>;
  return rest as LabelDocument;
}

/**
 * Label documents (container `labels`, partition key /batchId), and beside them each batch's progress document
 * (`progress`). Every query filters on batchId, so each stays in one partition, and on kind where the progress
 * document could match; all use only what both Azure Cosmos DB and the local stand-in accept (no GROUP BY, DISTINCT,
 * OFFSET LIMIT or multi-aggregate objects).
 */
export class LabelStore {
  readonly progress: ProgressStore;

  constructor(private readonly container: Container) {
    this.progress = new ProgressStore(container);
  }

  get(batchId: string, name: string): Promise<LabelDocument | undefined> {
    return readItem(this.container, labelDocumentId(name), batchId, LabelDocumentSchema);
  }

  /**
   * Unconditional write, for seeding and tools (the app writes through `write`, which never loses a race): it still
   * goes through `write`, so the batch's progress counts stay exact.
   */
  async upsert(doc: LabelDocument): Promise<LabelDocument> {
    for (;;) {
      const stored = await this.get(doc.batchId, doc.name);
      const written = await this.write(doc, stored?._etag ? { etag: stored._etag, status: stored.status } : 'absent');
      if (written) return written.doc;
    }
  }

  /**
   * Writes `doc` only if the stored document is still the one read (`expected`: its `_etag` and status, or `absent`
   * when there was none). Returns undefined when another writer came first (Cosmos answered 412, 409 or 404): re-read
   * and decide again. A write that changes the image's status changes the batch's progress counts in the same
   * transactional batch (one logical partition: both or neither), and answers the counts as they are after it.
   */
  async write(doc: LabelDocument, expected: StoredVersion): Promise<LabelWrite | undefined> {
    const body = LabelDocumentSchema.parse(withoutSystemFields(doc));
    const patch = progressPatch(statusDelta(expected === 'absent' ? undefined : expected.status, body.status));
    if (patch.length === 0) {
      const written = await this.writeAlone(body, expected);
      return written && { doc: written, progress: undefined };
    }
    const write: OperationInput =
      expected === 'absent'
        ? { operationType: 'Create', resourceBody: body as JSONObject }
        : { operationType: 'Replace', id: body.id, ifMatch: expected.etag, resourceBody: body as JSONObject };
    const operations: OperationInput[] = [write, { operationType: 'Patch', id: PROGRESS_DOCUMENT_ID, resourceBody: { operations: patch } }];
    for (let round = 0; round < MAX_PROGRESS_ROUNDS; round++) {
      const { result = [] } = await this.container.items.batch(operations, body.batchId);
      const [written, counted] = result as Array<OperationResponse | undefined>;
      if (written && counted && written.statusCode < 400 && counted.statusCode < 400) {
        const progress = counted.resourceBody
          ? countsOf(ProgressDocumentSchema.parse(counted.resourceBody))
          : countsOf((await this.progress.read(body.batchId))!);
        return { doc: LabelDocumentSchema.parse(written.resourceBody), progress };
      }
      if (written && LOST_RACE.has(written.statusCode)) return undefined;
      if (counted?.statusCode !== 404) {
        throw new Error(
          `writing the label document of ${body.batchId}/${body.name}: the batch answered ${written?.statusCode} and ${counted?.statusCode}`,
        );
      }
      // The batch has no progress document yet (its first status, or a batch from before they existed).
      await this.progress.ensure(body.batchId, () => body.updatedAt);
    }
    throw new Error(`the progress document of batch ${body.batchId} could not be created`);
  }

  /** A write that leaves the status as it was: the document alone, conditional as `write` describes. */
  private async writeAlone(body: LabelDocument, expected: StoredVersion): Promise<LabelDocument | undefined> {
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

  /** A COUNT query (cost grows with the batch): the live counts are the progress document's (`progress`). */
  count(batchId: string, status: LabelDocument['status']): Promise<number> {
    return countWithStatus(this.container, batchId, status);
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
        query: "SELECT c.name, c.status, c.blob.etag AS etag, c.updatedAt FROM c WHERE c.batchId = @batchId AND c.kind = 'label'",
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

  /**
   * The documents of the named images (those that exist). The names travel as a query parameter: they go in groups
   * of NAMES_PER_QUERY, far below Cosmos DB's limits on a query's text and parameters (256 KB) and on an IN list
   * (16,000 items), whatever chunk size the evaluation uses.
   */
  async getMany(batchId: string, names: readonly string[]): Promise<LabelDocument[]> {
    const docs: LabelDocument[] = [];
    for (let start = 0; start < names.length; start += NAMES_PER_QUERY) {
      const { resources } = await this.container.items
        .query({
          query: 'SELECT * FROM c WHERE c.batchId = @batchId AND ARRAY_CONTAINS(@names, c.name)',
          parameters: [
            { name: '@batchId', value: batchId },
            { name: '@names', value: names.slice(start, start + NAMES_PER_QUERY) },
          ],
        })
        .fetchAll();
      docs.push(...resources.map((r) => LabelDocumentSchema.parse(r)));
    }
    return docs;
  }

  /** Every document of a batch, page by page (continuation tokens), for exports. */
  async *listBatch(batchId: string, pageSize = 200): AsyncGenerator<LabelDocument[]> {
    const iterator = this.container.items.query(
      {
        query: "SELECT * FROM c WHERE c.batchId = @batchId AND c.kind = 'label' ORDER BY c.name",
        parameters: [{ name: '@batchId', value: batchId }],
      },
      { maxItemCount: pageSize },
    );
    while (iterator.hasMoreResults()) {
      const { resources } = await iterator.fetchNext();
      if (resources.length) yield resources.map((r) => LabelDocumentSchema.parse(r));
    }
  }
}
