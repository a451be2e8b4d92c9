/**
 * Evaluation in chunks of images: `matchChunk` does the per-image work for one chunk (COCO matching at every IoU
 * threshold and area range, the operating point, attributes, box and warning tallies) and returns plain JSON;
 * `aggregateChunks` concatenates and sums the chunks in order and does the global work (COCO accumulation, rankings).
 * `evaluate()` is `aggregateChunks([matchChunk(...)])`, so a report built from chunks is the same report, number for
 * number, as long as the chunks follow the contract below.
 *
 * Contract for the caller that splits a batch (e.g. a Durable Functions orchestration):
 *  - Chunks partition the GT frames in their order: chunk i holds GT frames [start_i, end_i), and the chunks are
 *    passed to aggregateChunks in that order. Frames with the same file name (imageKey) must stay in one chunk.
 *  - Every prediction frame goes to the chunk holding its image's GT (all of them, in their original relative order).
 *  - Prediction frames whose image has no GT may go to any chunk, e.g. a chunk with `gt = []`; the report lists them
 *    in chunk order, so keep their original order (one extra chunk at the end does) to get evaluate()'s list.
 * aggregateChunks rejects what it can detect: a file name in two chunks, a prediction treated as "without GT" in
 * one chunk whose image is in another, chunks matched with other options.
 */
import { z } from 'zod';
import type { Frame } from '../labels/schema';
import { BDD_CLASSES } from '../taxonomy/categories';
import { ATTRIBUTE_NAMES, type AttributeName } from '../taxonomy/attributes';
import { buildEvalDataset, imageKey, type EvalDataset } from './dataset';
import { accumulate, concatClassMatches, matchClass, type ClassMatches } from './coco-eval';
import { classAp, precisionCurve, summarize } from './coco-summary';
import { AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, RECALL_THRESHOLDS } from './coco-params';
import { addCounts, evaluateOperatingPoint, precisionRecallF1, type Counts, type ImageDiagnostics } from './operating-point';
import { attributeLabels, countAttributes, finishAttributes } from './attributes-eval';
import { reportCalibration } from './calibration';
import {
  DiagnosticBoxSchema,
  EvaluationOptionsSchema,
  ImageCountsSchema,
  REPORT_SCHEMA_VERSION,
  type EvaluationOptions,
  type EvaluationReport,
  type InputSummary,
} from './report-schema';

/** How many of the worst images keep their boxes in the report (all images keep their counts). */
export const WORST_IMAGES_WITH_BOXES = 50;

export const CHUNK_SCHEMA_VERSION = 1;

/** Outcome characters per detection cell: false positive, true positive, ignored (coco-eval.ts's codes). */
const CELLS_PER_DETECTION = AREA_RANGES.length * IOU_THRESHOLDS.length;
const LARGEST_MAX_DET = MAX_DETS[MAX_DETS.length - 1]!;
const count = z.number().int().nonnegative();

const ClassChunkSchema = z
  .object({
    /** Non-crowd GT boxes and predicted boxes (any score) of the class: the report's per-class counts. */
    gt: count,
    predictions: count,
    /** Operating-point counts (score >= scoreThreshold, IoU >= iouThreshold). */
    tp: count,
    fp: count,
    fn: count,
    /** COCO: non-ignored GT per area range (all, small, medium, large). */
    nonIgnoredGt: z.array(count).length(AREA_RANGES.length),
    /**
     * COCO: the scores of the class's detections, images in chunk order, each image's detections by descending
     * score, at most 100 per image.
     */
    scores: z.array(z.number()),
    /** How many of `scores` belong to each image that has any (in order): gives each detection's rank in its image. */
    detectionsPerImage: z.array(z.number().int().min(1).max(LARGEST_MAX_DET)),
    /**
     * COCO: the outcome of every detection per area range and IoU threshold, one character each ('0' false
     * positive, '1' true positive, '2' ignored), area-major: for area a and threshold t, the characters
     * [(a * 10 + t) * n, (a * 10 + t + 1) * n) where n = scores.length.
     */
    outcomes: z.string().regex(/^[012]*$/, "outcomes may only hold the characters '0', '1' and '2'"),
  })
  .superRefine((c, ctx) => {
    const inImages = c.detectionsPerImage.reduce((n, d) => n + d, 0);
    if (inImages !== c.scores.length)
      ctx.addIssue({
        code: 'custom',
        path: ['detectionsPerImage'],
        message: `detectionsPerImage adds up to ${inImages}, but there are ${c.scores.length} scores`,
      });
    if (c.outcomes.length !== CELLS_PER_DETECTION * c.scores.length)
      ctx.addIssue({
        code: 'custom',
        path: ['outcomes'],
        message: `outcomes must have ${CELLS_PER_DETECTION} characters per score (${CELLS_PER_DETECTION * c.scores.length}), not ${c.outcomes.length}`,
      });
  });

const ChunkImageSchema = ImageCountsSchema.extend({
  hasPrediction: z.boolean(),
  /** Boxes of the operating point's errors: only on the chunk's images that can rank among the report's worst. */
  missed: z.array(DiagnosticBoxSchema).optional(),
  falsePositives: z.array(DiagnosticBoxSchema).optional(),
});

const attributeCounts = (name: AttributeName) => {
  const { gtLabels, predictedLabels } = attributeLabels(name);
  return z.object({
    evaluated: count,
    correct: count,
    undefinedGt: count,
    missingPrediction: count,
    unrecognizedPredictions: count,
    confusion: z.array(z.array(count).length(predictedLabels.length)).length(gtLabels.length),
  });
};

/** One chunk's match data: what aggregateChunks needs of its images, as plain JSON. */
export const ChunkMatchesSchema = z.object({
  kind: z.literal('autolabel.evaluation-chunk'),
  schemaVersion: z.literal(CHUNK_SCHEMA_VERSION),
  options: EvaluationOptionsSchema,
  /** The chunk's GT images in order, with their operating-point counts. */
  images: z.array(ChunkImageSchema),
  /** The chunk's prediction frames whose image is not among its GT frames (names as given). */
  predictionsWithoutGt: z.array(z.string()),
  unknownGtCategories: z.record(z.string(), count),
  unknownPredictionCategories: z.record(z.string(), count),
  predictionsNotEvaluated: z.object({ ignoredClass: count, withoutScore: count, withoutBox: count }),
  detection: z.object(
    Object.fromEntries(BDD_CLASSES.map((c) => [c, ClassChunkSchema])) as Record<(typeof BDD_CLASSES)[number], typeof ClassChunkSchema>,
  ),
  attributes: z.object({
    weather: attributeCounts('weather'),
    timeofday: attributeCounts('timeofday'),
    scene: attributeCounts('scene'),
  }),
});
export type ChunkMatches = z.infer<typeof ChunkMatchesSchema>;
type ClassChunk = z.infer<typeof ClassChunkSchema>;
type ChunkImage = z.infer<typeof ChunkImageSchema>;

// The schema spells the attributes out; keep it in step with the taxonomy.
if (ATTRIBUTE_NAMES.join() !== 'weather,timeofday,scene') throw new Error('chunks.ts: attribute names changed');

const errorCount = (i: { fp: number; fn: number }) => i.fp + i.fn;
/** The report's ranking: most errors first, then by name; stable, so equal entries keep image order. */
const worstFirst = (a: { name: string; fp: number; fn: number }, b: { name: string; fp: number; fn: number }) =>
  errorCount(b) - errorCount(a) || a.name.localeCompare(b.name);

const outcomeText = new TextDecoder();
const outcomeBytes = new TextEncoder();

/**
 * Match one chunk: `gt` is the chunk's GT frames in batch order, `predictions` the prediction frames of those
 * images (plus, optionally, prediction frames without GT). Pure; the result is plain JSON (ChunkMatchesSchema).
 */
export function matchChunk(gt: readonly Frame[], predictions: readonly Frame[], options?: Partial<EvaluationOptions>): ChunkMatches {
  const parsed = EvaluationOptionsSchema.parse(options ?? {});
  const dataset = buildEvalDataset(gt, predictions, parsed.mode);
  const point = evaluateOperatingPoint(dataset, parsed);

  // Boxes only for the images that can be among the report's worst: the chunk's own worst, by the same ranking.
  const withBoxes = new Set(
    point.images
      .map((diagnostics, index) => ({ diagnostics, index }))
      .sort((a, b) => worstFirst(a.diagnostics, b.diagnostics) || a.index - b.index)
      .filter(({ diagnostics }) => errorCount(diagnostics) > 0)
      .slice(0, WORST_IMAGES_WITH_BOXES)
      .map(({ index }) => index),
  );
  const images = point.images.map((d, index): ChunkImage => {
    const image: ChunkImage = {
      name: d.name,
      gt: d.gt,
      predictions: d.predictions,
      tp: d.tp,
      fp: d.fp,
      fn: d.fn,
      hasPrediction: dataset.images[index]!.hasPrediction,
    };
    if (withBoxes.has(index)) {
      image.missed = d.missed;
      image.falsePositives = d.falsePositives;
    }
    return image;
  });

  const detection = {} as ChunkMatches['detection'];
  dataset.classes.forEach((name, k) => {
    const matches = matchClass(dataset.images, k);
    const counts = point.perClass[k]!;
    detection[name] = {
      gt: countBoxes(dataset, 'gt', k),
      predictions: countBoxes(dataset, 'dt', k),
      tp: counts.tp,
      fp: counts.fp,
      fn: counts.fn,
      nonIgnoredGt: Array.from(matches.nonIgnoredGt),
      scores: Array.from(matches.scores),
      detectionsPerImage: matches.detectionsPerImage,
      outcomes: outcomeText.decode(matches.outcomes),
    };
  });

  return {
    kind: 'autolabel.evaluation-chunk',
    schemaVersion: CHUNK_SCHEMA_VERSION,
    options: parsed,
    images,
    predictionsWithoutGt: dataset.predictionsWithoutGt,
    unknownGtCategories: dataset.unknownGtCategories,
    unknownPredictionCategories: dataset.unknownPredictionCategories,
    predictionsNotEvaluated: dataset.predictionsNotEvaluated,
    detection,
    attributes: countAttributes(gt, predictions),
  };
}

export interface AggregateArgs {
  /** The options the chunks were matched with; when left out, the chunks' (which must agree). */
  options?: Partial<EvaluationOptions>;
  inputs?: { gt: InputSummary; pred: InputSummary };
  /** Injected for reproducible reports. */
  now?: Date;
}

/** Thrown for chunks that do not fit together (bad JSON, other options, images split across chunks). */
export class ChunkError extends Error {
  override name = 'ChunkError';
}

/** Parse one chunk's JSON value (e.g. read back from blob storage), with a message that says what is wrong. */
export function parseChunkMatches(value: unknown, index = 0): ChunkMatches {
  const result = ChunkMatchesSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`);
  const more = result.error.issues.length > 5 ? `; and ${result.error.issues.length - 5} more` : '';
  throw new ChunkError(`chunk ${index} is not valid evaluation chunk data: ${problems.join('; ')}${more}`);
}

/**
 * The evaluation report of all chunks' images together, in chunk order: equal to evaluate() on the concatenated
 * frames when the chunks follow the contract at the top of this file. Each chunk is validated with
 * ChunkMatchesSchema first (chunk data read back from storage is untrusted).
 */
export function aggregateChunks(chunks: readonly unknown[], args: AggregateArgs = {}): EvaluationReport {
  return aggregateMatches(
    chunks.map((chunk, i) => parseChunkMatches(chunk, i)),
    args,
  );
}

/** aggregateChunks for chunks already known to be valid (just made by matchChunk, or parsed). */
export function aggregateMatches(chunks: readonly ChunkMatches[], args: AggregateArgs = {}): EvaluationReport {
  const options = resolveOptions(chunks, args.options);
  checkImagesAreNotSplit(chunks);

  const images = chunks.flatMap((c) => c.images);
  const predictionsWithoutGt = chunks.flatMap((c) => c.predictionsWithoutGt);
  const withPredictions = images.filter((i) => i.hasPrediction).length;

  const arrays = accumulate(BDD_CLASSES.map((name) => concatClassMatches(chunks.map((c) => decodeClass(c.detection[name])))));
  const perClass = {} as EvaluationReport['detection']['perClass'];
  const curves = {} as EvaluationReport['detection']['prCurves']['perClass'];
  const total: Counts = { tp: 0, fp: 0, fn: 0 };
  BDD_CLASSES.forEach((name, k) => {
    const counts: Counts = { tp: 0, fp: 0, fn: 0 };
    let gt = 0;
    let predictions = 0;
    for (const chunk of chunks) {
      const c = chunk.detection[name];
      addCounts(counts, c);
      gt += c.gt;
      predictions += c.predictions;
    }
    addCounts(total, counts);
    perClass[name] = { ...classAp(arrays, k), ...precisionRecallF1(counts), gt, predictions };
    curves[name] = { iou50: precisionCurve(arrays, k, 'iou50'), iou75: precisionCurve(arrays, k, 'iou75') };
  });

  const ranked = [...images].sort(worstFirst);
  const worstImages = ranked
    .filter((i) => errorCount(i) > 0)
    .slice(0, WORST_IMAGES_WITH_BOXES)
    .map(({ name, gt, predictions, tp, fp, fn, missed, falsePositives }): ImageDiagnostics => {
      // matchChunk keeps the boxes of each chunk's worst images, a superset of the report's worst.
      if (!missed || !falsePositives) throw new ChunkError(`image ${name} ranks among the worst but its chunk has no boxes for it`);
      return { name, gt, predictions, tp, fp, fn, missed, falsePositives };
    });

  return {
    kind: 'autolabel.evaluation',
    schemaVersion: REPORT_SCHEMA_VERSION,
    createdAt: (args.now ?? new Date()).toISOString(),
    options,
    ...(args.inputs ? { inputs: args.inputs } : {}),
    images: {
      evaluated: images.length,
      withPredictions,
      withoutPredictions: images.length - withPredictions,
      predictionsWithoutGt,
    },
    warnings: warningsOf({
      predictionsWithoutGt,
      withoutPredictions: images.length - withPredictions,
      unknownGtCategories: mergeTallies(chunks.map((c) => c.unknownGtCategories)),
      unknownPredictionCategories: mergeTallies(chunks.map((c) => c.unknownPredictionCategories)),
      predictionsNotEvaluated: {
        ignoredClass: chunks.reduce((n, c) => n + c.predictionsNotEvaluated.ignoredClass, 0),
        withoutScore: chunks.reduce((n, c) => n + c.predictionsNotEvaluated.withoutScore, 0),
        withoutBox: chunks.reduce((n, c) => n + c.predictionsNotEvaluated.withoutBox, 0),
      },
    }),
    detection: {
      classes: [...BDD_CLASSES],
      stats: summarize(arrays),
      perClass,
      overall: precisionRecallF1(total),
      prCurves: { recallThresholds: [...RECALL_THRESHOLDS], perClass: curves },
    },
    attributes: finishAttributes(chunks.map((c) => c.attributes)),
    diagnostics: {
      worstImages,
      perImage: ranked.map(({ name, gt, predictions, tp, fp, fn }) => ({ name, gt, predictions, tp, fp, fn })),
    },
    calibration: reportCalibration(chunks, options),
  };
}

function resolveOptions(chunks: readonly ChunkMatches[], requested: Partial<EvaluationOptions> | undefined): EvaluationOptions {
  const options = EvaluationOptionsSchema.parse(requested ?? chunks[0]?.options ?? {});
  const same = (o: EvaluationOptions) =>
    o.mode === options.mode && o.iouThreshold === options.iouThreshold && o.scoreThreshold === options.scoreThreshold;
  chunks.forEach((chunk, i) => {
    if (!same(chunk.options))
      throw new ChunkError(
        `chunk ${i} was matched with options ${JSON.stringify(chunk.options)}, not ${JSON.stringify(options)}: match every chunk with the report's options`,
      );
  });
  return options;
}

/** A file name's frames and predictions must live in one chunk, or the chunks cannot reproduce evaluate(). */
function checkImagesAreNotSplit(chunks: readonly ChunkMatches[]): void {
  if (chunks.length < 2) return;
  const chunkOf = new Map<string, number>();
  chunks.forEach((chunk, i) => {
    for (const image of chunk.images) {
      const key = imageKey(image.name);
      const seen = chunkOf.get(key);
      if (seen !== undefined && seen !== i)
        throw new ChunkError(`image ${key} is in chunks ${seen} and ${i}: keep the frames of one file name in one chunk`);
      chunkOf.set(key, i);
    }
  });
  chunks.forEach((chunk, i) => {
    for (const name of chunk.predictionsWithoutGt) {
      const seen = chunkOf.get(imageKey(name));
      if (seen !== undefined)
        throw new ChunkError(
          `chunk ${i} has a prediction for ${name}, whose ground truth is in chunk ${seen}: pass predictions to the chunk of their image`,
        );
    }
  });
}

function decodeClass(c: ClassChunk): ClassMatches {
  return {
    count: c.scores.length,
    scores: Float64Array.from(c.scores),
    detectionsPerImage: c.detectionsPerImage,
    outcomes: outcomeBytes.encode(c.outcomes),
    nonIgnoredGt: Int32Array.from(c.nonIgnoredGt),
  };
}

/** Sum tallies (a Map: category names are data, `__proto__` included). */
function mergeTallies(tallies: readonly Record<string, number>[]): Map<string, number> {
  const merged = new Map<string, number>();
  for (const tally of tallies) for (const [key, n] of Object.entries(tally)) merged.set(key, (merged.get(key) ?? 0) + n);
  return merged;
}

function countBoxes(dataset: EvalDataset, side: 'gt' | 'dt', classIndex: number): number {
  let n = 0;
  for (const image of dataset.images) for (const box of image[side]) if (box.classIndex === classIndex && !box.crowd) n++;
  return n;
}

interface WarningInputs {
  predictionsWithoutGt: readonly string[];
  withoutPredictions: number;
  unknownGtCategories: Map<string, number>;
  unknownPredictionCategories: Map<string, number>;
  predictionsNotEvaluated: EvalDataset['predictionsNotEvaluated'];
}

function warningsOf(w: WarningInputs): string[] {
  const warnings: string[] = [];
  // Sorted by name: the text must not depend on the order the frames came in (or the chunks were cut).
  const tally = (t: Map<string, number>) =>
    [...t]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, n]) => `${name} (${n})`)
      .join(', ');
  if (w.predictionsWithoutGt.length > 0) {
    const names = w.predictionsWithoutGt;
    warnings.push(
      `${names.length} predicted image(s) have no ground truth and were not evaluated: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}`,
    );
  }
  if (w.withoutPredictions > 0)
    warnings.push(`${w.withoutPredictions} ground-truth image(s) have no prediction: all their boxes count as misses`);
  if (w.unknownGtCategories.size > 0)
    warnings.push(`ground-truth boxes with categories outside the taxonomy were not evaluated: ${tally(w.unknownGtCategories)}`);
  if (w.unknownPredictionCategories.size > 0)
    warnings.push(`predicted boxes with categories outside the taxonomy were not evaluated: ${tally(w.unknownPredictionCategories)}`);
  const skipped = w.predictionsNotEvaluated;
  if (skipped.withoutScore > 0) warnings.push(`${skipped.withoutScore} predicted box(es) have no score and were not evaluated`);
  if (skipped.ignoredClass > 0)
    warnings.push(`${skipped.ignoredClass} predicted box(es) name a class BDD does not evaluate (other person/vehicle, trailer)`);
  if (skipped.withoutBox > 0) warnings.push(`${skipped.withoutBox} predicted label(s) have no box2d`);
  return warnings;
}
