import type { Container } from '@azure/cosmos';
import { readItem } from './cosmos-errors';
import { ReviewDocumentSchema, type ReviewDocument } from './documents';
import { labelDocumentId } from './names';

/** People's corrections (container `reviews`, partition key /batchId): one document per image, the latest review. */
export class ReviewStore {
  constructor(private readonly container: Container) {}

  get(batchId: string, name: string): Promise<ReviewDocument | undefined> {
    return readItem(this.container, labelDocumentId(name), batchId, ReviewDocumentSchema);
  }

  async upsert(doc: ReviewDocument): Promise<ReviewDocument> {
    const { _etag, ...body } = doc;
    void _etag;
    const { resource } = await this.container.items.upsert(ReviewDocumentSchema.parse(body));
    return ReviewDocumentSchema.parse(resource);
  }

  /** Every review of a batch. */
  async ofBatch(batchId: string): Promise<ReviewDocument[]> {
    const { resources } = await this.container.items
      .query({ query: 'SELECT * FROM c WHERE c.batchId = @batchId', parameters: [{ name: '@batchId', value: batchId }] })
      .fetchAll();
    return resources.map((r) => ReviewDocumentSchema.parse(r));
  }
}
