import type { Frame } from '../labels/schema';
import { aggregateMatches, matchChunk } from './chunks';
import { buildEvalDataset, imageKey, type EvalBox, type EvalImage } from './dataset';
import { collectImageClass, matchAtThreshold, matchingOrder } from './matching';
import {
  EvaluationOptionsSchema,
  type EvaluationOptions,
  type EvaluationReport,
  type InputSummary,
  type PredictionProvenance,
} from './report-schema';

export { WORST_IMAGES_WITH_BOXES } from './chunks';

export interface EvaluateArgs {
  gt: readonly Frame[];
  predictions: readonly Frame[];
  options?: Partial<EvaluationOptions>;
  inputs?: { gt: InputSummary; pred: InputSummary };
  /** Injected for reproducible reports. */
  now?: Date;
}

/**
 * Evaluate predictions against ground truth: COCO detection metrics, operating point, attributes, diagnostics.
 * The whole batch is one chunk (chunks.ts): evaluating in chunks and aggregating goes through the same code.
 */
export function evaluate(args: EvaluateArgs): EvaluationReport {
  const options = EvaluationOptionsSchema.parse(args.options ?? {});
  return aggregateMatches([matchChunk(args.gt, args.predictions, options)], {
    options,
    ...(args.inputs ? { inputs: args.inputs } : {}),
    ...(args.now ? { now: args.now } : {}),
  });
}

/**
 * The report with the true positives of its worst images (`diagnostics.worstImages[].truePositives`), so that
 * pictures of those images can draw every predicted box by outcome. Kept out of evaluate() itself: the report
 * evaluate() makes must equal the one aggregated from chunks, which do not carry these boxes. Pure; matches with
 * the operating point's rule (operating-point.ts), re-run on the worst images only.
 */
export function withTruePositives(
  report: EvaluationReport,
  frames: { gt: readonly Frame[]; predictions: readonly Frame[] },
): EvaluationReport {
  const worst = new Set(report.diagnostics.worstImages.map((w) => imageKey(w.name)));
  const gt = frames.gt.filter((f) => worst.has(imageKey(f.name)));
  const predictions = frames.predictions.filter((f) => worst.has(imageKey(f.name)));
  const dataset = buildEvalDataset(gt, predictions, report.options.mode);
  const matched = new Map(dataset.images.map((image) => [image.name, truePositivesOf(image, report.options)] as const));
  return {
    ...report,
    diagnostics: {
      ...report.diagnostics,
      worstImages: report.diagnostics.worstImages.map((w) => ({ ...w, truePositives: matched.get(w.name) ?? [] })),
    },
  };
}

type DiagnosticBox = EvaluationReport['diagnostics']['worstImages'][number]['missed'][number];

function truePositivesOf(image: EvalImage, point: EvaluationOptions): DiagnosticBox[] {
  const keep = (d: EvalBox) => d.score >= point.scoreThreshold;
  const found: DiagnosticBox[] = [];
  for (let k = 0; k < image.gtByClass.length; k++) {
    const boxes = collectImageClass(image, k, Number.POSITIVE_INFINITY, keep);
    if (!boxes) continue;
    const G = boxes.gt.length;
    const gtIgnored = Uint8Array.from(boxes.gt, (g) => (g.crowd ? 1 : 0));
    const matchedGt = new Int32Array(boxes.dt.length);
    matchAtThreshold(boxes, gtIgnored, matchingOrder(gtIgnored), point.iouThreshold, matchedGt);
    boxes.dt.forEach((d, i) => {
      const m = matchedGt[i]!;
      // A detection absorbed by a crowd region is neither right nor wrong: only real matches are drawn as TP.
      if (m < 0 || gtIgnored[m]) return;
      const { x1, y1, x2, y2 } = d.label.box2d!;
      found.push({ category: d.label.category, box2d: { x1, y1, x2, y2 }, score: d.score, bestIou: boxes.iou[i * G + m]! });
    });
  }
  return found;
}

/**
 * What made the predictions, read from the frames' provenance (pipeline/provenance.ts; any other shape is
 * skipped): each detector and scene model with its frame count, the config hashes, the time span. Undefined when no
 * frame carries provenance, e.g. predictions from another tool.
 */
export function summarizeProvenance(frames: readonly Frame[]): PredictionProvenance | undefined {
  const models = new Map<string, PredictionProvenance['models'][number]>();
  const hashes = new Map<string, number>();
  const times: string[] = [];
  let withProvenance = 0;
  for (const frame of frames) {
    const p = frame.provenance as Record<string, unknown> | undefined;
    if (!p) continue;
    withProvenance++;
    if (typeof p['configHash'] === 'string') hashes.set(p['configHash'], (hashes.get(p['configHash']) ?? 0) + 1);
    if (typeof p['createdAt'] === 'string' && !Number.isNaN(Date.parse(p['createdAt']))) times.push(p['createdAt']);
    for (const role of ['detector', 'scene'] as const) {
      const info = p[role] as { provider?: unknown; model?: unknown } | null | undefined;
      if (typeof info?.provider !== 'string' || typeof info.model !== 'string') continue;
      const key = JSON.stringify([role, info.provider, info.model]);
      const entry = models.get(key) ?? { role, provider: info.provider, model: info.model, frames: 0 };
      entry.frames++;
      models.set(key, entry);
    }
  }
  if (withProvenance === 0) return undefined;
  times.sort((a, b) => Date.parse(a) - Date.parse(b));
  const byCount = <T extends { frames: number }>(a: T, b: T) => b.frames - a.frames;
  return {
    frames: withProvenance,
    models: [...models.values()].sort((a, b) => (a.role === b.role ? byCount(a, b) : a.role === 'detector' ? -1 : 1)),
    configHashes: [...hashes].map(([hash, n]) => ({ hash, frames: n })).sort(byCount),
    ...(times.length ? { firstCreatedAt: times[0]!, lastCreatedAt: times[times.length - 1]! } : {}),
  };
}
