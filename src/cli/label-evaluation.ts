/**
 * `autolabel label --gt`: the labeled folder evaluated against its ground truth, report.json and report.html written
 * beside the labels, the summary printed. A module of its own, loaded only with --gt: the evaluation and the report's
 * writers are not needed to label.
 */
import type { z } from 'zod';
import type { BoxModeSchema } from '../core/evaluation/report-schema';
import { evaluate, summarizeProvenance, withTruePositives } from '../core/evaluation/evaluate';
import { imageKey } from '../core/evaluation/dataset';
import type { Frame } from '../core/labels/schema';
import { OUTPUT_LAYOUT, type LabelFolderResult } from '../adapters/files/label-folder';
import type { ImageListing } from '../adapters/files/list-images';
import type { LoadResult } from '../adapters/files/load-labels';
import { writeEvaluationReport } from '../adapters/report/write-report';
import { describeSkippedThumbnails, readFromFiles, worstImageThumbnails } from '../adapters/report/thumbnails';
import { summarizeInput } from './load-input';
import { formatSummary } from './summary-table';
import type { CliIo } from './io';

export async function evaluateLabeledFolder(options: {
  gt: LoadResult;
  gtPath: string;
  mode: z.infer<typeof BoxModeSchema>;
  outDir: string;
  result: LabelFolderResult;
  listing: ImageListing;
  io: CliIo;
}): Promise<void> {
  const { gt, result, io } = options;
  // Only the ground truth of the images in this folder: a full label file would otherwise count as misses.
  const inFolder = new Set<string>([...result.frames.map((f) => imageKey(f.name)), ...result.failed.map((f) => imageKey(f.name))]);
  const gtFrames: Frame[] = gt.frames.filter((f) => inFolder.has(imageKey(f.name)));
  const provenance = summarizeProvenance(result.frames);
  const evaluated = evaluate({
    gt: gtFrames,
    predictions: result.frames,
    options: { mode: options.mode },
    inputs: {
      gt: summarizeInput(options.gtPath, gt),
      pred: {
        path: options.outDir,
        files: result.frames.length,
        frames: result.frames.length,
        formats: { 'scalabel-frame': result.frames.length },
        problems: [],
        ...(provenance ? { provenance } : {}),
      },
    },
  });
  // The images are at hand: the report shows its worst ones, every box by outcome, linked to their overlays.
  const report = withTruePositives(evaluated, { gt: gtFrames, predictions: result.frames });
  const skipped: Array<{ name: string; reason: string }> = [];
  const thumbnails = await worstImageThumbnails(report, readFromFiles(options.listing.images), {
    onSkip: (name, reason) => skipped.push({ name, reason }),
  });
  const missing = describeSkippedThumbnails(skipped);
  if (missing) io.stderr(`warning: ${missing}\n`);
  const written = await writeEvaluationReport(options.outDir, report, { thumbnails, overlaysDir: OUTPUT_LAYOUT.overlays });
  io.stdout(`\n${formatSummary(report)}\nwrote ${written.json}\nwrote ${written.html}\n`);
}
