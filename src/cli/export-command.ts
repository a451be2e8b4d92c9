import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadLabels } from '../adapters/files/load-labels';
import { resolveImageSizes } from '../adapters/interchange/image-sizes';
import {
  writeCocoInterchangeExport,
  writeCvatExport,
  writeLabelStudioExport,
  writeYoloExport,
} from '../adapters/interchange/write-interchange';
import { describeExportSummary, type ExportSummary } from '../core/interchange/export-items';
import { MissingImageSizeError, type ImageSizeOf } from '../core/interchange/image-size';
import type { Frame } from '../core/labels/schema';
import { argumentProblems, EXIT_OK, UsageError } from './usage-error';
import type { CliIo } from './io';

export const EXPORT_FORMATS = ['labelstudio', 'cvat', 'yolo', 'coco'] as const;

export const EXPORT_USAGE = `  autolabel export <labels dir|file> --format labelstudio|cvat|yolo|coco --out <path>
                   [--images-url <prefix>] [--images <dir>]
      Convert labels (Scalabel/BDD frames, lists of frames, COCO) for a labeling tool.
      labelstudio  <out>: Label Studio tasks JSON, the labels as predictions (boxes in percent of the image, scene
                   attributes as choices); the matching labeling config goes beside it: <out without .json>.config.xml
      cvat         <out>: CVAT for images 1.1 XML (boxes with a score attribute, scene attributes as tags)
      yolo         <out> is a directory: labels/<stem>.txt, classes.txt and data.yaml (BDD class order)
      coco         <out> is a directory: instances.json (with image sizes), results.json when labels have scores
      --images-url  prefix of the image URL in Label Studio tasks (default: the bare image name)
      --images      images folder: sizes of frames without provenance.image are read from the image headers
      Crowd regions and labels outside the BDD classes are skipped and counted.
      Exit code: 0 written, 2 bad arguments, unreadable labels or image sizes not found.`;

const ExportArgsSchema = z.object({
  labels: z.string({ error: 'give one <labels dir|file>' }).min(1),
  format: z.enum(EXPORT_FORMATS, { error: `--format must be one of ${EXPORT_FORMATS.join(', ')}` }),
  out: z.string({ error: '--out <path> is required' }).min(1),
  'images-url': z.string().optional(),
  images: z.string().min(1).optional(),
});
type ExportArgs = z.infer<typeof ExportArgsSchema>;

function parseExportArgs(argv: readonly string[]): ExportArgs {
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: {
        format: { type: 'string' },
        out: { type: 'string' },
        'images-url': { type: 'string' },
        images: { type: 'string' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${EXPORT_USAGE}`);
  }
  const problems: string[] = [];
  if (positionals.length > 1) problems.push(`give exactly one <labels dir|file>, got ${positionals.length}`);
  const parsed = ExportArgsSchema.safeParse({ ...values, labels: positionals[0] });
  if (!parsed.success) problems.push(argumentProblems(parsed.error));
  if (parsed.success && parsed.data['images-url'] !== undefined && parsed.data.format !== 'labelstudio') {
    problems.push('--images-url applies to --format labelstudio only');
  }
  if (problems.length || !parsed.success) throw new UsageError(`${problems.join('\n')}\n\n${EXPORT_USAGE}`);
  return parsed.data;
}

async function readFrames(target: string, io: CliIo): Promise<Frame[]> {
  let loaded;
  try {
    loaded = await loadLabels(target);
  } catch (error) {
    throw new UsageError(`cannot read labels '${target}': ${(error as Error).message}`);
  }
  for (const problem of loaded.problems) io.stderr(`warning: ${problem.file}: ${problem.message}\n`);
  if (!loaded.frames.length) throw new UsageError(`no frames could be read from '${target}'`);
  return loaded.frames;
}

/** Writes the chosen format; returns the paths written and the export summary. */
async function writeFormat(args: ExportArgs, frames: Frame[], sizeOf: ImageSizeOf): Promise<{ files: string[]; summary?: ExportSummary }> {
  switch (args.format) {
    case 'labelstudio': {
      const imagesUrl = args['images-url'];
      const written = await writeLabelStudioExport(args.out, frames, { sizeOf, ...(imagesUrl === undefined ? {} : { imagesUrl }) });
      return { files: [written.tasksFile, written.configFile], summary: written.summary };
    }
    case 'cvat':
      return { files: [args.out], summary: await writeCvatExport(args.out, frames, { sizeOf, imageCount: frames.length }) };
    case 'yolo': {
      const written = await writeYoloExport(args.out, frames, { sizeOf });
      return {
        files: [`${written.labelsDir} (${written.labelFiles.length} files)`, written.classesFile, written.dataFile],
        summary: written.summary,
      };
    }
    case 'coco': {
      const written = await writeCocoInterchangeExport(args.out, frames, { sizeOf });
      return { files: [written.instancesFile, ...(written.resultsFile ? [written.resultsFile] : [])] };
    }
  }
}

export async function runExport(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseExportArgs(argv);
  const frames = await readFrames(args.labels, io);
  let sizeOf: ImageSizeOf;
  try {
    sizeOf = await resolveImageSizes(frames, args.images);
  } catch (error) {
    if (error instanceof MissingImageSizeError) throw new UsageError(error.message);
    throw error;
  }
  const { files, summary } = await writeFormat(args, frames, sizeOf);
  if (summary) {
    io.stdout(`${args.format}: ${summary.frames} image(s), ${summary.boxes} box(es), ${summary.attributes} scene attribute(s)\n`);
    for (const line of describeExportSummary(summary)) io.stdout(`  ${line}\n`);
  } else {
    io.stdout(`${args.format}: ${frames.length} image(s)\n`);
  }
  for (const file of files) io.stdout(`wrote ${file}\n`);
  return EXIT_OK;
}
