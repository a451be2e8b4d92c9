/**
 * The work of the evaluateBatch orchestration's activities. Large data never goes through Durable history: the plan
 * and each chunk's inputs and match data are blobs in `evaluation-work/{batchId}/{runId}/`, and activities pass
 * their paths. Numbers come from the same evaluator as `autolabel evaluate` (matchChunk per chunk, aggregateChunks
 * at the end), which equals evaluate() on the same frames.
 */
import { z } from 'zod';
import { redact } from '../../core/redaction';
import { aggregateChunks, matchChunk } from '../../core/evaluation/chunks';
import { imageKey } from '../../core/evaluation/dataset';
import type { EvaluationOptions, EvaluationReport, InputSummary, PredictionProvenance } from '../../core/evaluation/report-schema';
import { reviewAgreement } from '../../core/review/agreement';
import { FrameSchema, type Frame } from '../../core/labels/schema';
import { summarizeBatchReport } from '../../core/nightly';
import { renderReportHtml } from '../../adapters/report/html';
import { worstImageThumbnails } from '../../adapters/report/thumbnails';
import { summarizeProvenance, withTruePositives } from '../../core/evaluation/evaluate';
import type { AppRuntime } from '../runtime';
import type { BatchDocument } from '../store/documents';
import { sameEtag } from '../store/blob-store';
import { BLOB_CONTAINERS } from '../store/names';
import { loadGroundTruth } from './ground-truth';
import { manifestLostProblem, readAppliedManifest } from './applied-manifest';
import { storeReport } from './store-report';

export type ActivityResult<T> = ({ ok: true } & T) | { ok: false; error: string };

const PlanSchema = z.object({
  batchId: z.string(),
  runId: z.string(),
  options: z.object({ mode: z.enum(['coco', 'bdd']), iouThreshold: z.number(), scoreThreshold: z.number() }),
  groundTruth: z.custom<InputSummary>(),
  /** Manifest images without a ground-truth frame. */
  missingGroundTruth: z.array(z.string()),
  chunkPaths: z.array(z.string()),
});
type Plan = z.infer<typeof PlanSchema>;

const ChunkInputSchema = z.object({
  index: z.number().int().nonnegative(),
  gt: z.array(FrameSchema),
  /** Images whose predictions belong to this chunk. */
  names: z.array(z.string()),
});

const workPrefix = (batchId: string, runId: string) => `${batchId}/${runId}`;

/** Mark the batch as evaluating, split its ground truth into chunks and write the plan. */
export async function planEvaluation(
  app: AppRuntime,
  input: { batchId: string; runId: string },
): Promise<ActivityResult<{ planPath: string; chunkPaths: string[]; images: number }>> {
  const { batchId, runId } = input;
  const now = () => app.now().toISOString();
  const batch = await app.batches.get(batchId);
  if (!batch?.manifest) return { ok: false, error: `batch ${batchId} has no manifest: it was never declared complete` };
  const manifest = await readAppliedManifest(app, batch);
  if (!manifest) return { ok: false, error: manifestLostProblem(batchId) };
  await app.batches.update(batchId, now, (current) => ({
    ...current,
    status: 'evaluating',
    evaluation: { ...(current.evaluation ?? { instanceId: '', requestedAt: now(), reason: 'unknown' }), startedAt: now() },
  }));

  const gt = await loadGroundTruth(app.blobs, batch.manifest.groundTruthPrefix);
  const inBatch = new Set(manifest.images.map(imageKey));
  const uploaded = gt.frames.filter((f) => inBatch.has(imageKey(f.name)));
  const outside = gt.frames.length - uploaded.length;
  // A person's review of an image is its ground truth: it replaces the uploaded frame, or stands where none was.
  const reviewed = await reviewedGroundTruth(app, batchId, manifest.images);
  const reviewedKeys = new Set(reviewed.map((f) => imageKey(f.name)));
  const gtFrames = reviewed.length
    ? [...uploaded.filter((f) => !reviewedKeys.has(imageKey(f.name))), ...reviewed].sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      )
    : uploaded;
  if (reviewed.length) gt.summary.reviewed = reviewed.map((f) => f.name);
  if (outside > 0)
    gt.summary.problems.push({
      file: gt.summary.path,
      message: `${outside} ground-truth frame(s) name images that are not in this batch: not evaluated`,
    });
  const withGt = new Set(gtFrames.map((f) => imageKey(f.name)));
  const missingGroundTruth = manifest.images.filter((name) => !withGt.has(imageKey(name))).sort();

  const prefix = workPrefix(batchId, runId);
  const chunkPaths: string[] = [];
  const size = app.settings.evaluation.chunkSize;
  for (let start = 0, index = 0; start < gtFrames.length; start += size, index++) {
    const gtChunk = gtFrames.slice(start, start + size);
    const path = `${prefix}/chunk-${index}.json`;
    await app.blobs.writeJson(BLOB_CONTAINERS.evaluationWork, path, { index, gt: gtChunk, names: gtChunk.map((f) => f.name) });
    chunkPaths.push(path);
  }
  // Predictions of images without ground truth go last, in name order (as a folder load orders them).
  if (missingGroundTruth.length) {
    const path = `${prefix}/chunk-${chunkPaths.length}.json`;
    await app.blobs.writeJson(BLOB_CONTAINERS.evaluationWork, path, { index: chunkPaths.length, gt: [], names: missingGroundTruth });
    chunkPaths.push(path);
  }
  const plan: Plan = {
    batchId,
    runId,
    options: evaluationOptions(app),
    groundTruth: gt.summary,
    missingGroundTruth,
    chunkPaths,
  };
  const planPath = `${prefix}/plan.json`;
  await app.blobs.writeJson(BLOB_CONTAINERS.evaluationWork, planPath, plan);
  return { ok: true, planPath, chunkPaths, images: gtFrames.length };
}

/**
 * The reviews of the batch's listed images that correct the image's current version (a review of a version since
 * replaced is about another picture), as frames named like the image.
 */
async function reviewedGroundTruth(app: AppRuntime, batchId: string, images: readonly string[]): Promise<Frame[]> {
  const listed = new Set(images);
  const [reviews, versions] = await Promise.all([app.reviews.ofBatch(batchId), app.labels.versions(batchId)]);
  const current = new Map(versions.map((v) => [v.name, v.etag]));
  return reviews
    .filter((r) => listed.has(r.name) && current.has(r.name) && sameEtag(r.image.etag, current.get(r.name)!))
    .map((r) => ({ ...r.frame, name: r.name }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function evaluationOptions(app: AppRuntime): EvaluationOptions {
  return { mode: 'coco', iouThreshold: 0.5, scoreThreshold: app.settings.evaluation.scoreThreshold };
}

/** One chunk: its GT from the chunk blob, its predictions from Cosmos DB, match data to a blob. */
export async function matchEvaluationChunk(
  app: AppRuntime,
  input: { batchId: string; planPath: string; chunkPath: string },
): Promise<ActivityResult<{ matchPath: string; predictions: number }>> {
  try {
    const plan = PlanSchema.parse(await app.blobs.readJson(BLOB_CONTAINERS.evaluationWork, input.planPath));
    const chunk = ChunkInputSchema.parse(await app.blobs.readJson(BLOB_CONTAINERS.evaluationWork, input.chunkPath));
    const docs = await app.labels.getMany(input.batchId, chunk.names);
    const byName = new Map(docs.filter((d) => d.status === 'labeled' && d.frame).map((d) => [d.name, d.frame as Frame]));
    const predictions = chunk.names.flatMap((name) => (byName.has(name) ? [byName.get(name)!] : []));
    const matches = matchChunk(chunk.gt, predictions, plan.options);
    const matchPath = input.chunkPath.replace(/chunk-(\d+)\.json$/, 'match-$1.json');
    await app.blobs.writeJson(BLOB_CONTAINERS.evaluationWork, matchPath, matches);
    return { ok: true, matchPath, predictions: predictions.length };
  } catch (error) {
    return { ok: false, error: redact(`chunk ${input.chunkPath}: ${(error as Error).message}`) };
  }
}

export const reportIdFor = (batchId: string, runId: string) => `${batchId}-${runId}`;

/** Aggregate the chunks into the report, store it (blobs + Cosmos index document) and mark the batch evaluated. */
export async function writeEvaluationReport(
  app: AppRuntime,
  input: { batchId: string; planPath: string; matchPaths: string[]; createdAt: string },
): Promise<ActivityResult<{ reportId: string; stats: { AP: number; AP50: number } }>> {
  const plan = PlanSchema.parse(await app.blobs.readJson(BLOB_CONTAINERS.evaluationWork, input.planPath));
  const matches = await Promise.all(input.matchPaths.map((path) => app.blobs.readJson(BLOB_CONTAINERS.evaluationWork, path)));
  const [labeled, failed] = await Promise.all([app.labels.count(plan.batchId, 'labeled'), app.labels.withStatus(plan.batchId, 'failed')]);
  const groundTruth: InputSummary = {
    ...plan.groundTruth,
    problems: [
      ...plan.groundTruth.problems,
      ...plan.missingGroundTruth.map((name) => ({
        file: `${BLOB_CONTAINERS.images}/${plan.batchId}/${name}`,
        message: 'no ground truth for this image',
      })),
    ],
  };
  const predictions: InputSummary = {
    path: `cosmos:labels/${plan.batchId}`,
    files: labeled + failed.length,
    frames: labeled,
    formats: { 'label-document': labeled + failed.length },
    problems: failed.map((f) => ({
      file: `${BLOB_CONTAINERS.images}/${plan.batchId}/${f.name}`,
      message: `labeling failed: ${f.error?.message ?? 'unknown reason'}`,
    })),
  };
  const report: EvaluationReport = aggregateChunks(matches, {
    options: plan.options,
    inputs: { gt: groundTruth, pred: predictions },
    now: new Date(input.createdAt),
  });
  // The frames the page and the review agreement need (worst and reviewed images), read once: the automatic ones
  // in the same pass over the batch that summarizes its provenance, the ground truth from the plan's chunks.
  const worst = new Set(report.diagnostics.worstImages.map((w) => imageKey(w.name)));
  const reviewed = new Set((plan.groundTruth.reviewed ?? []).map(imageKey));
  const wanted = new Set([...worst, ...reviewed]);
  const automatic = await scanPredictions(app, plan.batchId, wanted);
  if (automatic.provenance && report.inputs) report.inputs.pred.provenance = automatic.provenance;
  const gt = await groundTruthOf(app, plan, wanted);
  const among = (frames: readonly Frame[], names: ReadonlySet<string>) => frames.filter((f) => names.has(imageKey(f.name)));
  const agreement = reviewAgreement(among(gt, reviewed), among(automatic.frames, reviewed), plan.options);
  if (agreement) report.reviewAgreement = agreement;
  const reportId = reportIdFor(plan.batchId, plan.runId);
  await storeReport(app, {
    id: reportId,
    kind: 'batch-report',
    batchId: plan.batchId,
    createdAt: report.createdAt,
    content: report,
    html: await batchReportHtml(app, plan.batchId, report, { gt: among(gt, worst), predictions: among(automatic.frames, worst) }),
    summary: summarizeBatchReport(report, { reportId, batchId: plan.batchId }),
  });
  const now = () => app.now().toISOString();
  await app.batches.update(plan.batchId, now, (current) => ({
    ...current,
    status: 'evaluated',
    reportId,
    evaluation: current.evaluation ? { ...current.evaluation, finishedAt: now() } : null,
  }));
  return { ok: true, reportId, stats: { AP: report.detection.stats.AP, AP50: report.detection.stats.AP50 } };
}

/**
 * One pass over the batch's labeled frames: the summary of their provenance (models, config hashes, when), keeping
 * only provenance, and the whole frames of the `wanted` images.
 */
async function scanPredictions(
  app: AppRuntime,
  batchId: string,
  wanted: ReadonlySet<string>,
): Promise<{ provenance: PredictionProvenance | undefined; frames: Frame[] }> {
  const provenanceOnly: Frame[] = [];
  const frames: Frame[] = [];
  for await (const page of app.labels.labeledFramePages(batchId)) {
    for (const frame of page) {
      provenanceOnly.push({ name: frame.name, labels: [], ...(frame.provenance ? { provenance: frame.provenance } : {}) });
      if (wanted.has(imageKey(frame.name))) frames.push(frame);
    }
  }
  return { provenance: summarizeProvenance(provenanceOnly), frames };
}

/** The ground truth the plan evaluated (reviews included) of the `wanted` images, from its chunk blobs. */
async function groundTruthOf(app: AppRuntime, plan: Plan, wanted: ReadonlySet<string>): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (const path of plan.chunkPaths) {
    const chunk = ChunkInputSchema.parse(await app.blobs.readJson(BLOB_CONTAINERS.evaluationWork, path));
    frames.push(...chunk.gt.filter((f) => wanted.has(imageKey(f.name))));
  }
  return frames;
}

/**
 * The page of a batch report: its worst images shown with their thumbnails (read from the images container) and
 * every predicted box by outcome. The true positives are added for the page only: the stored JSON stays exactly
 * what the chunked evaluation computed (the same as `autolabel evaluate`).
 */
async function batchReportHtml(
  app: AppRuntime,
  batchId: string,
  report: EvaluationReport,
  worst: { gt: readonly Frame[]; predictions: readonly Frame[] },
): Promise<string> {
  const shown = withTruePositives(report, worst);
  const thumbnails = await worstImageThumbnails(
    shown,
    async (name) => (await app.blobs.read(BLOB_CONTAINERS.images, `${batchId}/${name}`))?.data,
  );
  return renderReportHtml(shown, { thumbnails });
}

/** The evaluation failed: the batch goes back to `labeled` (the nightly timer tries again) with the reason. */
export async function recordEvaluationFailure(
  app: AppRuntime,
  input: { batchId: string; error: string },
): Promise<ActivityResult<{ status: BatchDocument['status'] }>> {
  const now = () => app.now().toISOString();
  const { doc } = await app.batches.update(input.batchId, now, (current) => ({
    ...current,
    status: current.status === 'evaluated' ? current.status : 'labeled',
    problems: [...current.problems, `evaluation failed at ${now()}: ${redact(input.error)}`].slice(-20),
  }));
  return { ok: true, status: doc.status };
}
