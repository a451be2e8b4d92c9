import { parseArgs } from 'node:util';
import { z } from 'zod';
import { writeScalabelFiles } from '../adapters/files/write-labels';
import { IMPORT_SOURCES, readInterchangeExport } from '../adapters/interchange/read-interchange';
import { InterchangeDocumentError } from '../core/interchange/import-result';
import { argumentProblems, EXIT_OK, UsageError } from './usage-error';
import type { CliIo } from './io';

export const IMPORT_USAGE = `  autolabel import <file> --from labelstudio|cvat --out <dir> [--images-url <prefix>]
      Read a labeling tool's export back into Scalabel frames: <out>/<image stem>.json, one per image, with the
      image size in provenance.image (so the frames can be exported again without the images).
      labelstudio  JSON export (list of tasks): the latest non-cancelled annotation wins over predictions;
                   boxes from percent to pixels with original_width/original_height
      cvat         CVAT for images 1.1 XML, as written by autolabel export --format cvat
      Tasks and images with no annotation and no prediction are listed as skipped, never imported empty.
      --images-url  labelstudio: the prefix given at export, removed from data.image to get the image name
                    (default: the file name at the end of the URL)
      Exit code: 0 imported (even if some were skipped), 2 bad arguments or a file that is not that format.`;

const ImportArgsSchema = z.object({
  file: z.string({ error: 'give one <file>' }).min(1),
  from: z.enum(IMPORT_SOURCES, { error: `--from must be one of ${IMPORT_SOURCES.join(', ')}` }),
  out: z.string({ error: '--out <dir> is required' }).min(1),
  'images-url': z.string().optional(),
});

function parseImportArgs(argv: readonly string[]) {
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: { from: { type: 'string' }, out: { type: 'string' }, 'images-url': { type: 'string' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${IMPORT_USAGE}`);
  }
  const problems: string[] = [];
  if (positionals.length > 1) problems.push(`give exactly one <file>, got ${positionals.length}`);
  const parsed = ImportArgsSchema.safeParse({ ...values, file: positionals[0] });
  if (!parsed.success) problems.push(argumentProblems(parsed.error));
  if (parsed.success && parsed.data['images-url'] !== undefined && parsed.data.from !== 'labelstudio') {
    problems.push('--images-url applies to --from labelstudio only');
  }
  if (problems.length || !parsed.success) throw new UsageError(`${problems.join('\n')}\n\n${IMPORT_USAGE}`);
  return parsed.data;
}

export async function runImport(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseImportArgs(argv);
  const imagesUrl = args['images-url'];
  let imported;
  try {
    imported = await readInterchangeExport(args.from, args.file, imagesUrl === undefined ? {} : { imagesUrl });
  } catch (error) {
    if (error instanceof InterchangeDocumentError) throw new UsageError(error.message);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`file not found: ${args.file}`);
    throw error;
  }
  for (const problem of imported.problems) io.stderr(`warning: ${problem}\n`);
  const written = await writeScalabelFiles(args.out, imported.frames);
  io.stdout(`imported ${written.length} image(s) from ${args.file} into ${args.out}\n`);
  if (imported.skipped.length) {
    io.stdout(`skipped ${imported.skipped.length}, not imported:\n`);
    for (const { image, reason } of imported.skipped) io.stdout(`  ${image}: ${reason}\n`);
  }
  return EXIT_OK;
}
