import path from 'node:path';
import { z } from 'zod';
import { evaluate } from '../core/evaluation/evaluate';
import { imageKey } from '../core/evaluation/dataset';
import { queueAdvantage, reviewQueue, type QueueAdvantage, type ReviewItem } from '../core/review/queue';
import { writeJsonAtomic } from '../adapters/files/write-labels';
import { numberArg, parseCommandLine } from './args';
import type { CliIo } from './io';
import { loadInput } from './load-input';
import { EXIT_OK, UsageError } from './usage-error';

export const REVIEW_USAGE = `  autolabel review <labels dir|file> --out <file> [--limit N] [--gt <dir|file>] [--compare <labels dir|file>]
      The review queue: the labeled images most worth a person's look first, each with its reasons (boxes scored
      near the threshold, detections the thresholds dropped, small boxes, an unusual box count, low attribute
      confidence; with --compare, disagreement with a second labeling of the same images, e.g. another provider).
      Writes <file> as JSON {items: [{name, priority, reasons, signals}]} and prints the head of the queue.
      --limit  at most N images in the queue (default: all)
      --gt     also measure the queue: label errors (FP + FN at IoU 0.5, score 0.3) per image at its head
               against the average image`;

const ReviewArgsSchema = z.object({
  positionals: z.array(z.string()).length(1, { message: 'give one labels folder or file' }),
  out: z.string({ error: '--out <file> is required' }).min(1),
  limit: numberArg('limit').pipe(z.number().int('--limit must be a whole number').min(1, '--limit must be at least 1')).optional(),
  gt: z.string().min(1).optional(),
  compare: z.string().min(1).optional(),
});

/** The head the measurement looks at: the limit, else a tenth of the set (at least 5 images). */
const measuredHead = (items: number, limit: number | undefined) => Math.min(items, limit ?? Math.max(5, Math.round(items / 10)));

export async function runReview(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandLine(
    argv,
    { out: { type: 'string' }, limit: { type: 'string' }, gt: { type: 'string' }, compare: { type: 'string' } },
    ReviewArgsSchema,
    REVIEW_USAGE,
    { positionals: true },
  );
  const source = args.positionals[0]!;
  const labels = await loadInput('predictions', source);
  for (const p of labels.problems) io.stderr(`warning: ${p.file}: ${p.message}\n`);
  if (labels.frames.length === 0) throw new UsageError(`no labeled frames could be read from '${source}'`);
  const compare = args.compare ? (await loadInput('predictions', args.compare)).frames : undefined;

  const queue = reviewQueue(labels.frames, compare ? { compare } : {});
  const items = args.limit === undefined ? queue : queue.slice(0, args.limit);
  let measured: QueueAdvantage | undefined;
  if (args.gt) {
    const gt = await loadInput('ground truth', args.gt);
    const labeled = new Set(labels.frames.map((f) => imageKey(f.name)));
    const report = evaluate({ gt: gt.frames.filter((f) => labeled.has(imageKey(f.name))), predictions: labels.frames });
    const errors = new Map(report.diagnostics.perImage.map((i) => [i.name, i.fp + i.fn]));
    measured = queueAdvantage(queue, errors, measuredHead(queue.length, args.limit));
  }

  await writeJsonAtomic(
    path.resolve(args.out),
    {
      source,
      images: labels.frames.length,
      ...(args.compare ? { compare: args.compare } : {}),
      ...(measured ? { measured } : {}),
      items: items.map((item) => ({ ...item, priority: Number(item.priority.toFixed(4)) })),
    },
    { pretty: true },
  );
  io.stdout(headOfQueue(items));
  if (measured) {
    io.stdout(
      `\nlabel errors (FP + FN) per image: first ${measured.top} of the queue ${measured.topErrorsPerImage.toFixed(1)}, ` +
        `all ${queue.length} images ${measured.allErrorsPerImage.toFixed(1)} (${measured.ratio.toFixed(2)}x)\n`,
    );
  }
  io.stdout(`wrote ${args.out} (${items.length} of ${queue.length} images)\n`);
  return EXIT_OK;
}

function headOfQueue(items: readonly ReviewItem[], shown = 10): string {
  const rows = items
    .slice(0, shown)
    .map((item, i) => `${String(i + 1).padStart(3)}  ${item.priority.toFixed(2).padStart(8)}  ${item.name}  ${item.reasons[0] ?? ''}`);
  return (
    [`  #  priority  image  first reason`, ...rows, ...(items.length > shown ? [`  ... ${items.length - shown} more`] : [])].join('\n') +
    '\n'
  );
}
