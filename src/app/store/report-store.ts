import type { Container } from '@azure/cosmos';
import { ReportDocumentSchema, type ReportDocument } from './documents';
import { readItem } from './cosmos-errors';

/** Report index documents (container `reports`, partition key /id). */
export class ReportStore {
  constructor(private readonly container: Container) {}

  get(reportId: string): Promise<ReportDocument | undefined> {
    return readItem(this.container, reportId, reportId, ReportDocumentSchema);
  }

  async upsert(doc: ReportDocument): Promise<void> {
    await this.container.items.upsert(ReportDocumentSchema.parse(doc));
  }

  /** Reports of one kind created in [from, to), oldest first. */
  async listCreated(kind: ReportDocument['kind'], from: string, to: string): Promise<ReportDocument[]> {
    const { resources } = await this.container.items
      .query({
        query: 'SELECT * FROM c WHERE c.kind = @kind AND c.createdAt >= @from AND c.createdAt < @to ORDER BY c.createdAt',
        parameters: [
          { name: '@kind', value: kind },
          { name: '@from', value: from },
          { name: '@to', value: to },
        ],
      })
      .fetchAll();
    return resources.map((r) => ReportDocumentSchema.parse(r));
  }

  /** The newest reports of a kind, newest first. */
  async latest(kind: ReportDocument['kind'], count: number): Promise<ReportDocument[]> {
    const { resources } = await this.container.items
      .query({
        query: 'SELECT TOP @n * FROM c WHERE c.kind = @kind ORDER BY c.createdAt DESC',
        parameters: [
          { name: '@n', value: count },
          { name: '@kind', value: kind },
        ],
      })
      .fetchAll();
    return resources.map((r) => ReportDocumentSchema.parse(r));
  }
}
