import { z } from 'zod';
import { evaluate, summarizeProvenance, withTruePositives } from '../core/evaluation/evaluate';
import { BoxModeSchema } from '../core/evaluation/report-schema';
import { loadInput, summarizeInput } from './load-input';
import { writeEvaluationReport } from '../adapters/report/write-report';
import type { WorstImageThumbnail } from '../adapters/report/thumbnails';
import { describeUnlistable, listImages } from '../adapters/files/list-images';
import { formatSummary } from './summary-table';
import { numberArg, parseCommandLine } from './args';
import { EXIT_OK, UsageError } from './usage-error';
import type { CliIo } from './io';

export const EVALUATE_USAGE = `  autolabel evaluate --gt <dir|file> --pred <dir|file> --out <dir>
                     [--mode coco|bdd] [--iou 0.5] [--score 0.3] [--images <dir>]
      Compare predictions with ground truth (Scalabel/BDD frames, lists of frames, COCO instances or results).
      Writes <out>/report.json and <out>/report.html and prints a summary.
      --mode   coco: w = x2 - x1 (pycocotools, default); bdd: w = x2 - x1 + 1 (Scalabel)
      --iou    IoU threshold of the precision/recall/F1 operating point (default 0.5)
      --score  score threshold of the operating point (default 0.3)
      --images the images (any depth, matched by file name): report.html then shows the worst ones with their boxes`;

const EvaluateArgsSchema = z.object({
  gt: z.string({ error: '--gt <dir|file> is required' }).min(1),
  pred: z.string({ error: '--pred <dir|file> is required' }).min(1),
  out: z.string({ error: '--out <dir> is required' }).min(1),
  mode: BoxModeSchema.default('coco'),
  iou: numberArg('iou').pipe(z.number().gt(0, '--iou must be in (0, 1]').lte(1, '--iou must be in (0, 1]')).default(0.5),
  score: numberArg('score').pipe(z.number().min(0, '--score must be >= 0')).default(0.3),
  images: z.string().min(1, '--images needs a folder').optional(),
});

function parseEvaluateArgs(argv: readonly string[]) {
  return parseCommandLine(
    argv,
    {
      gt: { type: 'string' },
      pred: { type: 'string' },
      out: { type: 'string' },
      mode: { type: 'string' },
      iou: { type: 'string' },
      score: { type: 'string' },
      images: { type: 'string' },
    },
    EvaluateArgsSchema,
    EVALUATE_USAGE,
  );
}

export async function runEvaluate(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseEvaluateArgs(argv);
  const gt = await loadInput('ground truth', args.gt);
  if (gt.frames.length === 0) {
    const why = gt.problems.map((p) => `  ${p.file}: ${p.message}`).join('\n');
    throw new UsageError(`no ground-truth frames could be read from '${args.gt}'${why ? `:\n${why}` : ''}`);
  }
  const pred = await loadInput('predictions', args.pred, gt.cocoIndex ? { cocoIndex: gt.cocoIndex } : {});
  if (pred.frames.length === 0 && pred.problems.length > 0) {
    const why = pred.problems.map((p) => `  ${p.file}: ${p.message}`).join('\n');
    throw new UsageError(`no predictions could be read from '${args.pred}':\n${why}`);
  }
  for (const [role, loaded] of [
    ['ground truth', gt],
    ['predictions', pred],
  ] as const) {
    for (const p of loaded.problems) io.stderr(`warning: ${role}: ${p.file}: ${p.message}\n`);
  }

  const provenance = summarizeProvenance(pred.frames);
  const evaluated = evaluate({
    gt: gt.frames,
    predictions: pred.frames,
    options: { mode: args.mode, iouThreshold: args.iou, scoreThreshold: args.score },
    inputs: { gt: summarizeInput(args.gt, gt), pred: { ...summarizeInput(args.pred, pred), ...(provenance ? { provenance } : {}) } },
  });

  // Pictures of the worst images only where the images were given: the labels alone do not hold them.
  let report = evaluated;
  let thumbnails: WorstImageThumbnail[] | undefined;
  if (args.images) {
    // Loaded here: thumbnails bring in sharp (libvips), which a plain evaluation does not need.
    const { describeSkippedThumbnails, readFromFiles, worstImageThumbnails } = await import('../adapters/report/thumbnails');
    const listing = await listImages(args.images).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(describeUnlistable(args.images!, error));
    });
    report = withTruePositives(evaluated, { gt: gt.frames, predictions: pred.frames });
    const skipped: Array<{ name: string; reason: string }> = [];
    thumbnails = await worstImageThumbnails(report, readFromFiles(listing.images), {
      onSkip: (name, reason) => skipped.push({ name, reason }),
    });
    const missing = describeSkippedThumbnails(skipped);
    if (missing) io.stderr(`warning: ${missing}\n`);
  }
  const written = await writeEvaluationReport(args.out, report, thumbnails ? { thumbnails } : {});
  io.stdout(formatSummary(report));
  io.stdout(`\nwrote ${written.json}\nwrote ${written.html}\n`);
  return EXIT_OK;
}
