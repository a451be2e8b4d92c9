/**
 * Sums what the Cosmos DB stand-in served during one phase of the benchmark (its request log): requests, estimated
 * RU, 412 answers, queries and the index entries their COUNTs scanned, split between the images' own label documents
 * and everything that keeps the batch's progress (batch document, progress counters, COUNT queries, completion checks).
 */
import type { CosmosEmulatorHandle } from '../../dev/local-host/cosmos-emulator';
import type { CosmosRequestRecord } from '../../dev/local-host/cosmos-request-log';

export interface Tally {
  requests: number;
  ru: number;
  /** RU of reads and writes of label documents (what labeling an image costs whatever tracks progress). */
  labelRu: number;
  /** Everything else: the progress mechanism. */
  progressRu: number;
  /** 412 Precondition Failed answers (IfMatch lost a race; the writer re-reads and tries again). */
  conflicts: number;
  queries: number;
  /** Index entries the COUNT queries counted (what their cost grows with). */
  countedEntries: number;
  /** Documents the queries returned (loaded). */
  queryRows: number;
}

/** Records the stand-in's requests until the returned function is called, which answers their tally. */
export function recordRequests(cosmos: CosmosEmulatorHandle, database: string): () => Tally {
  const records: CosmosRequestRecord[] = [];
  const stop = cosmos.onRequest((record) => {
    if (record.database === database) records.push(record);
  });
  return () => {
    stop();
    return tally(records);
  };
}

export function tally(records: readonly CosmosRequestRecord[]): Tally {
  const t: Tally = { requests: 0, ru: 0, labelRu: 0, progressRu: 0, conflicts: 0, queries: 0, countedEntries: 0, queryRows: 0 };
  for (const r of records) {
    if (r.kind === 'metadata') continue;
    t.requests++;
    t.ru += r.ru;
    if (r.status === 412) t.conflicts++;
    if (r.kind === 'query') {
      t.queries++;
      t.queryRows += r.rows ?? 0;
      t.countedEntries += r.aggregatedEntries ?? 0;
    }
    const label = r.documents.filter((d) => d.kind === 'label').reduce((sum, d) => sum + d.ru, 0);
    // A failed write to the labels container is a label document's race (the same image twice); elsewhere progress.
    const failedLabelWrite = r.status >= 400 && r.documents.length === 0 && r.container === 'labels' && r.kind !== 'query';
    const labelPart = failedLabelWrite ? r.ru : label;
    t.labelRu += labelPart;
    t.progressRu += r.ru - labelPart;
  }
  return t;
}

export const perImage = (t: Tally, images: number) => ({
  requests: t.requests / images,
  ru: t.ru / images,
  labelRu: t.labelRu / images,
  progressRu: t.progressRu / images,
  conflicts: t.conflicts / images,
  queries: t.queries / images,
  countedEntries: t.countedEntries / images,
});
