/**
 * An estimate of what Azure Cosmos DB would charge, in request units, for a request the stand-in served: the stand-in
 * charges nothing, so benchmarks need a model to compare designs. The figures, and where they come from:
 *  - point reads and document writes by stored size: the tables of "Understand request units consumption"
 *    (learn.microsoft.com/azure/cosmos-db/understand-request-unit-consumption): 1 KB read 1.00 RU, write 4.95 RU,
 *    ..., 2 MB read 291.8 RU, write 1250 RU; linear between the listed sizes, the 1 KB figure below 1 KB;
 *  - indexing (default policy: every path): create + 0.2 RU per indexed term; replace = delete + insert
 *    (2 x the size figure) + 0.2 x 2 per modified term; patch = replace + 0.4 per patch operation; delete = the
 *    size figure + 0.2 per term (the same page's worked examples);
 *  - transactional batch: the sum of its operations (each is charged as the operation it is);
 *  - queries: the service gives no formula. Documented: the charge grows with the documents loaded and returned
 *    (a feed of five 1 KB documents costs about what five point reads cost) and with index lookups. Assumed here:
 *    QUERY_PAGE_RU per page (the charge of the smallest filtered query, as the portal shows it), plus a point read
 *    of every document loaded (every row of a document query, at the stored document's size), plus, for an
 *    aggregate answered from the index (COUNT over a filter), INDEX_ENTRY_RU per matching index entry: a
 *    third-party measurement (1290 RU for a count of 29,239 entries, about 0.044) rounded down, not a documented
 *    constant. Conclusions that rest on it are marked so by the benchmark;
 *  - metadata requests (database, container, partition key ranges): not charged to the container's throughput.
 */

/** One request as the stand-in served it, with what the model needs. */
export type CosmosRequestKind = 'read' | 'query' | 'create' | 'replace' | 'upsert' | 'patch' | 'delete' | 'batch' | 'metadata';

export interface DocumentWriteFacts {
  kind: 'create' | 'replace' | 'upsert' | 'patch' | 'delete' | 'read';
  /** Stored size of the document after the write (before it, for a delete or a read). */
  bytes: number;
  /** Scalar values in the document (indexed terms under the default policy). */
  terms: number;
  /** Terms that differ from the document it replaced (replace, upsert over an existing one, patch). */
  changedTerms: number;
  /** Whether there was a document before (an upsert over an existing one is a replace). */
  existed: boolean;
  patchOperations: number;
}

export interface QueryFacts {
  rows: number;
  /** Stored size of the documents the rows come from (what the engine loads). */
  loadedBytes: number;
  /** For an aggregate (SELECT VALUE COUNT...): how many index entries matched; undefined otherwise. */
  aggregatedEntries: number | undefined;
}

/** The RU charge of one page of the cheapest filtered query (the portal's 2.3-2.4 RU for a one-item answer). */
export const QUERY_PAGE_RU = 2.3;
/** RU per index entry an aggregate scans: an assumption (see the top of this file). */
export const INDEX_ENTRY_RU = 0.03;
const TERM_RU = 0.2;
const PATCH_OPERATION_RU = 0.4;

const KB = 1024;
/** [size in KB, point read RU, write RU] (understand-request-unit-consumption, session consistency). */
const SIZE_TABLE: ReadonlyArray<readonly [number, number, number]> = [
  [1, 1.0, 4.95],
  [2, 1.04, 6.29],
  [4, 1.14, 6.67],
  [8, 1.33, 7.04],
  [16, 1.67, 9.52],
  [32, 2.19, 11.23],
  [64, 4.76, 22.67],
  [128, 9.95, 48.19],
  [256, 20.28, 98.29],
  [512, 40.95, 184.57],
  [1024, 145.9, 625.0],
  [2048, 291.8, 1250.0],
];

function bySize(bytes: number, column: 1 | 2): number {
  const kb = Math.max(1, bytes / KB);
  for (let i = 1; i < SIZE_TABLE.length; i++) {
    const hi = SIZE_TABLE[i]!;
    if (kb <= hi[0]) {
      const lo = SIZE_TABLE[i - 1]!;
      return lo[column] + ((hi[column] - lo[column]) * (kb - lo[0])) / (hi[0] - lo[0]);
    }
  }
  // Beyond the 2 MB document limit nothing is stored; keep the slope of the last step.
  const [a, b] = [SIZE_TABLE.at(-2)!, SIZE_TABLE.at(-1)!];
  return b[column] + ((b[column] - a[column]) * (kb - b[0])) / (b[0] - a[0]);
}

export const pointReadRu = (bytes: number) => bySize(bytes, 1);
export const writeSizeRu = (bytes: number) => bySize(bytes, 2);

export function documentOperationRu(facts: DocumentWriteFacts): number {
  const size = writeSizeRu(facts.bytes);
  switch (facts.kind) {
    case 'read':
      return pointReadRu(facts.bytes);
    case 'create':
      return size + TERM_RU * facts.terms;
    case 'upsert':
      return facts.existed ? 2 * size + 2 * TERM_RU * facts.changedTerms : size + TERM_RU * facts.terms;
    case 'replace':
      return 2 * size + 2 * TERM_RU * facts.changedTerms;
    case 'patch':
      return 2 * size + 2 * TERM_RU * facts.changedTerms + PATCH_OPERATION_RU * facts.patchOperations;
    case 'delete':
      return size + TERM_RU * facts.terms;
  }
}

export function queryPageRu(facts: QueryFacts): number {
  if (facts.aggregatedEntries !== undefined) return QUERY_PAGE_RU + INDEX_ENTRY_RU * facts.aggregatedEntries;
  const perDocument = facts.rows > 0 ? pointReadRu(facts.loadedBytes / facts.rows) : 0;
  return QUERY_PAGE_RU + facts.rows * perDocument;
}

/** The model in one paragraph, for benchmark output. */
export const RU_MODEL_SUMMARY = [
  'RU model (an estimate: the stand-in charges nothing):',
  '  point read / write by stored size: learn.microsoft.com/azure/cosmos-db/understand-request-unit-consumption',
  '    (1 KB: read 1.00, write 4.95; 8 KB: 1.33 / 7.04; 64 KB: 4.76 / 22.67; linear between the listed sizes)',
  `  create + ${TERM_RU}/indexed term; replace = 2 x size + ${2 * TERM_RU}/changed term; patch = replace + ${PATCH_OPERATION_RU}/op; batch = sum of its operations`,
  `  query: ${QUERY_PAGE_RU} RU/page + a point read per document loaded; COUNT over a filter: + ${INDEX_ENTRY_RU} RU/index entry (assumed, not documented)`,
].join('\n');
