/**
 * The work of the evaluateBatch orchestration's activities. Large data never goes through Durable history: the plan
 * and each chunk's inputs and match data are blobs in `evaluation-work/{batchId}/{runId}/`, and activities pass
 * their paths. Numbers come from the same evaluator as `autolabel evaluate` (matchChunk per chunk, aggregateMatches
 * at the end), which equals evaluate() on the same frames.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { redact } from '../../core/redaction';
import { aggregateMatches, matchChunk, parseChunkMatches, type ChunkMatches } from '../../core/evaluation/chunks';
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
import { BLOB_CONTAINERS } from '../store/names';
import { planGroundTruth, type PlanGroundTruth } from './plan-ground-truth';
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

/**
 * At most this many chunks per evaluation. The plan's answer (the chunk paths) and the report's input (the match
 * paths) are lists with one path per chunk, and both pass through Durable history: with the Azure Storage backend a
 * message over 64 KB (45 KB of payload) goes to a blob instead of the queue, and every chunk adds two history
 * events that each replay reads. 200 paths of a typical batch id stay near 10 KB (about 35 KB for a 128-character
 * id) and 400 events; a larger batch gets larger chunks instead (a 1M-image batch: 5000 images per chunk, the
 * largest EVALUATION_CHUNK_SIZE allows).
 */
export const MAX_EVALUATION_CHUNKS = 200;

/** Images per chunk: the configured size, or more when the batch would need more than MAX_EVALUATION_CHUNKS. */
export function chunkSizeFor(images: number, configured: number): number {
  return Math.max(configured, Math.ceil(images / MAX_EVALUATION_CHUNKS));
}

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

  const prefix = workPrefix(batchId, runId);
  const chunkPaths: string[] = [];
  const work = await mkdtemp(path.join(os.tmpdir(), 'autolabel-plan-'));
  let gt: PlanGroundTruth;
  const withGt = new Set<string>();
  try {
    gt = await planGroundTruth(app, { batchId, groundTruthPrefix: batch.manifest.groundTruthPrefix }, manifest.images, work);
    const size = chunkSizeFor(gt.count, app.settings.evaluation.chunkSize);
    let chunk: Frame[] = [];
    const flush = async () => {
      const chunkPath = `${prefix}/chunk-${chunkPaths.length}.json`;
      await app.blobs.writeJson(BLOB_CONTAINERS.evaluationWork, chunkPath, {
        index: chunkPaths.length,
        gt: chunk,
        names: chunk.map((f) => f.name),
      });
      chunkPaths.push(chunkPath);
      chunk = [];
    };
    for await (const frame of gt.frames) {
      withGt.add(imageKey(frame.name));
      chunk.push(frame);
      if (chunk.length === size) await flush();
    }
    if (chunk.length) await flush();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const missingGroundTruth = manifest.images.filter((name) => !withGt.has(imageKey(name))).sort();
  // Predictions of images without ground truth go last, in name order (as a folder load orders them).
  if (missingGroundTruth.length) {
    const chunkPath = `${prefix}/chunk-${chunkPaths.length}.json`;
    await app.blobs.writeJson(BLOB_CONTAINERS.evaluationWork, chunkPath, { index: chunkPaths.length, gt: [], names: missingGroundTruth });
    chunkPaths.push(chunkPath);
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
  return { ok: true, planPath, chunkPaths, images: gt.count };
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
  // One chunk at a time, each checked and kept in its parsed form only: a large batch's raw chunk data (about 1.4 KB
  // per image) is never all in memory at once, next to its parsed copy.
  const matches: ChunkMatches[] = [];
  for (const [i, matchPath] of input.matchPaths.entries()) {
    matches.push(parseChunkMatches(await app.blobs.readJson(BLOB_CONTAINERS.evaluationWork, matchPath), i));
  }
  const [labeled, failed] = await Promise.all([labeledCount(app, plan.batchId), app.labels.withStatus(plan.batchId, 'failed')]);
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
  const report: EvaluationReport = aggregateMatches(matches, {
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

/** The batch's labeled images: its progress document's count (a COUNT query for a batch that has none). */
async function labeledCount(app: AppRuntime, batchId: string): Promise<number> {
  return (await app.labels.progress.read(batchId))?.labeled ?? (await app.labels.count(batchId, 'labeled'));
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
