/**
 * Cosmos DB documents of the app: zod schemas are their single definition; every read parses through them.
 * Cosmos adds _etag/_ts/_rid/_self; the schemas keep unknown keys (looseObject) so a replace keeps them intact.
 */
import { z } from 'zod';
import { FrameSchema } from '../../core/labels/schema';
import { DriftProfileSchema } from '../../core/drift';

export const DOCUMENT_SCHEMA_VERSION = 1 as const;

const isoDate = z.string().datetime({ offset: true });
const batchId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'batch ids are 1-128 letters, digits, . _ -, starting with a letter or digit');
export const BatchIdSchema = batchId;

export const LabelErrorSchema = z.object({
  kind: z.string(),
  message: z.string(),
  retryable: z.boolean(),
});
export type LabelError = z.infer<typeof LabelErrorSchema>;

/**
 * One image of a batch. `labeled` and `failed` are final; `retrying` means a throttled or unavailable provider made
 * the last try fail and the host will try again. The blob's ETag and the setup's config hash say which version and
 * which labeling produced it (Event Grid delivers at least once: the same pair is never labeled twice).
 */
export const LabelDocumentSchema = z.looseObject({
  id: z.string(),
  batchId,
  name: z.string().min(1),
  kind: z.literal('label'),
  schemaVersion: z.literal(DOCUMENT_SCHEMA_VERSION),
  status: z.enum(['labeled', 'failed', 'retrying']),
  blob: z.object({ path: z.string(), etag: z.string(), bytes: z.number().int().nonnegative() }),
  configHash: z.string(),
  attempts: z.number().int().positive(),
  frame: FrameSchema.optional(),
  error: LabelErrorSchema.optional(),
  createdAt: isoDate,
  updatedAt: isoDate,
  _etag: z.string().optional(),
});
export type LabelDocument = z.infer<typeof LabelDocumentSchema>;
export const FINAL_LABEL_STATUSES = ['labeled', 'failed'] as const;

/** Label documents of a batch per status: what the progress document counts. */
export const ProgressCountsSchema = z.object({
  labeled: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  retrying: z.number().int().nonnegative(),
});
export type ProgressCounts = z.infer<typeof ProgressCountsSchema>;

/**
 * A batch's progress: how many of its label documents are in each status. It lives beside them (container `labels`,
 * the batch's partition, id PROGRESS_DOCUMENT_ID) because every write that changes a label document's status changes
 * these counts in the same transactional batch (store/label-store.ts): they are exact by construction, and an image
 * costs one small patch here instead of COUNT queries over the batch.
 */
export const ProgressDocumentSchema = z.looseObject({
  id: z.string(),
  batchId,
  kind: z.literal('batch-progress'),
  schemaVersion: z.literal(DOCUMENT_SCHEMA_VERSION),
  ...ProgressCountsSchema.shape,
  createdAt: isoDate,
  _etag: z.string().optional(),
  /** Last write, in seconds (Cosmos DB's own clock). */
  _ts: z.number().optional(),
});
export type ProgressDocument = z.infer<typeof ProgressDocumentSchema>;

/**
 * A person's correction of one image's labels (PUT .../labels/{name}/review): the frame they made from the automatic
 * one, who and when, and which version of the image (blob ETag) and which labeling (config hash) they looked at.
 * Evaluations use it as that image's ground truth while it describes the image's current version.
 */
export const ReviewDocumentSchema = z.looseObject({
  id: z.string(),
  batchId,
  name: z.string().min(1),
  kind: z.literal('review'),
  schemaVersion: z.literal(DOCUMENT_SCHEMA_VERSION),
  frame: FrameSchema,
  reviewer: z.string().min(1).max(200),
  reviewedAt: isoDate,
  image: z.object({ etag: z.string() }),
  /** The automatic labels' config hash at the time (what was corrected). */
  configHash: z.string(),
  /** 1 for the first review of the image, then one more per correction. */
  revision: z.number().int().positive(),
  _etag: z.string().optional(),
});
export type ReviewDocument = z.infer<typeof ReviewDocumentSchema>;

export const BatchStatusSchema = z.enum(['labeling', 'labeled', 'evaluating', 'evaluated']);
export type BatchStatus = z.infer<typeof BatchStatusSchema>;

export const BatchDocumentSchema = z.looseObject({
  id: batchId,
  batchId,
  kind: z.literal('batch'),
  schemaVersion: z.literal(DOCUMENT_SCHEMA_VERSION),
  status: BatchStatusSchema,
  /** Images the manifest lists; null until the batch is declared complete. */
  expected: z.number().int().nonnegative().nullable(),
  /**
   * Label documents labeled and failed when the batch became `labeled` (exact, from the documents). The live counts
   * are the batch's progress document's (ProgressDocumentSchema): views show those (services/batch-progress.ts).
   */
  labeled: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  /** `path`: the applied copy of the manifest in the evaluation-work container. */
  manifest: z.object({ path: z.string(), etag: z.string(), declaredAt: isoDate, groundTruthPrefix: z.string() }).nullable(),
  evaluation: z
    .object({
      instanceId: z.string(),
      requestedAt: isoDate,
      reason: z.string(),
      startedAt: isoDate.optional(),
      finishedAt: isoDate.optional(),
    })
    .nullable(),
  reportId: z.string().nullable(),
  createdAt: isoDate,
  updatedAt: isoDate,
  /** When every expected image became labeled or failed. */
  completedAt: isoDate.nullable(),
  /** What was wrong with the batch's declaration or evaluation (e.g. an invalid manifest), newest last. */
  problems: z.array(z.string()).default([]),
  /** The last manifest version that was invalid: the sweep does not apply (and report) it again. */
  rejectedManifestEtag: z.string().optional(),
  /** What the batch's images and labels looked like (drift without labels), recorded when it became `labeled`. */
  drift: DriftProfileSchema.optional(),
  _etag: z.string().optional(),
});
export type BatchDocument = z.infer<typeof BatchDocumentSchema>;

/** The API's view of a batch (GET /api/batches...). */
export const BatchViewSchema = z.object({
  batchId,
  expected: z.number().int().nonnegative().nullable(),
  labeled: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  status: BatchStatusSchema,
  reportId: z.string().optional(),
  createdAt: isoDate,
  updatedAt: isoDate,
  completedAt: isoDate.optional(),
  problems: z.array(z.string()).optional(),
  /** Single-batch view only: manifest images without a final document (the first 100), and how many in all. */
  missing: z.array(z.string()).optional(),
  missingCount: z.number().int().nonnegative().nullable().optional(),
  /** Single-batch view only: when images that never arrived are failed as `missing` (null: no manifest yet). */
  deadline: isoDate.nullable().optional(),
});
export type BatchView = z.infer<typeof BatchViewSchema>;

export function toBatchView(doc: BatchDocument): BatchView {
  return {
    batchId: doc.batchId,
    expected: doc.expected,
    labeled: doc.labeled,
    failed: doc.failed,
    status: doc.status,
    ...(doc.reportId ? { reportId: doc.reportId } : {}),
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    ...(doc.completedAt ? { completedAt: doc.completedAt } : {}),
    ...(doc.problems.length ? { problems: doc.problems } : {}),
  };
}

/** A stored report: the full JSON and HTML live in the `reports` blob container; this is the index entry. */
export const ReportDocumentSchema = z.looseObject({
  id: z.string(),
  kind: z.enum(['batch-report', 'nightly-report']),
  schemaVersion: z.literal(DOCUMENT_SCHEMA_VERSION),
  batchId: z.string().optional(),
  createdAt: isoDate,
  json: z.string(),
  html: z.string(),
  /** The numbers the nightly report and the batch list need without opening the blob. */
  summary: z.record(z.string(), z.unknown()),
});
export type ReportDocument = z.infer<typeof ReportDocumentSchema>;

/** The manifest blob `images/{batchId}/_batch.json` that declares a batch complete. */
export const BatchManifestSchema = z.strictObject({
  schemaVersion: z.literal(1).default(1),
  /** Image file names in the batch (the {name} of images/{batchId}/{name}). */
  images: z
    .array(
      z
        .string()
        .min(1)
        .regex(/^[^/\\]+$/, 'an image name is a file name without folders'),
    )
    .min(1)
    .refine((names) => new Set(names).size === names.length, 'image names must be unique'),
  /** Blob prefix of the ground truth in the groundtruth container; default `{batchId}/`. */
  groundTruthPrefix: z.string().optional(),
  /** Free-form description kept with the batch. */
  description: z.string().max(1000).optional(),
});
export type BatchManifest = z.infer<typeof BatchManifestSchema>;
