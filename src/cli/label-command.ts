import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, type LabelingConfig } from '../core/config/labeling-config';
import { loadLabelingConfig } from '../adapters/config/load-config';
import { imageKey } from '../core/evaluation/dataset';
import { BoxModeSchema } from '../core/evaluation/report-schema';
import { labelFolder, OUTPUT_LAYOUT, outputFolders } from '../adapters/files/label-folder';
import { describeNoImages, describeSkipped, describeUnlistable, listImages, type ImageListing } from '../adapters/files/list-images';
import type { Detector, SceneClassifier } from '../core/pipeline/types';
import { createLabelingSetup, loadLocalModels } from '../adapters/providers/factory';
import { poolOf } from '../adapters/providers/local-workers';
import { createProgress } from './progress';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './usage-error';
import { processIo, type CliIo } from './io';

export const EXIT_INTERRUPTED = 130;

export const LABEL_USAGE = `  autolabel label <images dir> --out <dir> [--config <file>] [--gt <dir|file>] [--models-dir <dir>]
                  [--mode coco|bdd] [--workers <n>]
      Label every JPEG/PNG under <images dir> (recursively, following symbolic links) with scene attributes and
      scored boxes.
      Writes <out>/labels/<stem>.json (one Scalabel frame per image, with provenance), <out>/labels.json,
      <out>/coco/{instances,results}.json, <out>/overlays/<stem>.jpg, <out>/errors.jsonl and <out>/run.json.
      With no --config: the offline local providers (YOLOX-Nano + the local scene classifier).
      --models-dir  folder with the ONNX models (else AUTOLABEL_MODELS_DIR, else the download cache)
      --gt          ground truth: also writes <out>/report.json and <out>/report.html
      --workers     threads running the local models (default AUTOLABEL_LOCAL_WORKERS, else one per core; 0: in-process)
      Re-running skips images already labeled with the same config; Ctrl-C keeps finished images.
      Exit code: 0 all labeled, 1 some images failed (see errors.jsonl), 2 bad arguments or no image to label,
      130 interrupted.`;

async function readConfig(file: string | undefined): Promise<LabelingConfig> {
  if (!file) return loadLabelingConfig({});
  let value: unknown;
  try {
    value = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read config '${file}': ${(error as Error).message}`);
  }
  try {
    return loadLabelingConfig(value, file);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

function parseLabelArgs(argv: readonly string[]) {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: {
        out: { type: 'string' },
        config: { type: 'string' },
        gt: { type: 'string' },
        'models-dir': { type: 'string' },
        mode: { type: 'string' },
        workers: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
    const problems: string[] = [];
    if (positionals.length !== 1) problems.push('give exactly one <images dir>');
    if (!values.out) problems.push('--out <dir> is required');
    const mode = BoxModeSchema.safeParse(values.mode ?? 'coco');
    if (!mode.success) problems.push(`--mode must be coco or bdd, got '${values.mode}'`);
    const workers = values.workers === undefined ? undefined : Number(values.workers);
    if (workers !== undefined && !(/^\d+$/.test(values.workers!) && workers <= 256))
      problems.push(`--workers must be a whole number from 0 to 256, got '${values.workers}'`);
    if (problems.length) throw new UsageError(`${problems.join('\n')}\n\n${LABEL_USAGE}`);
    return {
      imagesDir: positionals[0]!,
      out: values.out!,
      config: values.config,
      gt: values.gt,
      modelsDir: values['models-dir'],
      mode: mode.data!,
      workers,
    };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${(error as Error).message}\n\n${LABEL_USAGE}`);
  }
}

/** How the local models run, for the start line. */
function localModels(setup: { scene?: SceneClassifier; detector?: Detector }): string {
  const local = setup.scene?.model.provider === 'local' || setup.detector?.model.provider === 'onnx';
  if (!local) return '';
  const pool = poolOf(setup.detector) ?? poolOf(setup.scene);
  return pool ? `, local models in ${pool.size} worker thread${pool.size === 1 ? '' : 's'}` : ', local models in-process';
}

/**
 * The images to label, listed before any model is loaded: a folder with nothing to label is refused at once, saying
 * what it holds instead, and links the walk could not follow are reported rather than silently dropped.
 */
async function listImagesToLabel(imagesDir: string, outDir: string, io: CliIo): Promise<ImageListing> {
  const listing = await listImages(imagesDir, { skipFolders: outputFolders(outDir) }).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(describeUnlistable(imagesDir, error));
  });
  if (listing.images.length === 0) throw new UsageError(describeNoImages(imagesDir, listing));
  for (const line of describeSkipped(listing)) io.stderr(`warning: ${line}\n`);
  return listing;
}

export async function runLabel(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseLabelArgs(argv);
  const listing = await listImagesToLabel(args.imagesDir, args.out, io);
  const config = await readConfig(args.config);
  const gt = args.gt ? await (await import('./load-input')).loadInput('ground truth', args.gt) : undefined;
  for (const problem of gt?.problems ?? []) io.stderr(`warning: ground truth: ${problem.file}: ${problem.message}\n`);

  let setup;
  try {
    setup = await createLabelingSetup(config, {
      ...(args.modelsDir ? { modelsDir: args.modelsDir } : {}),
      ...(args.workers !== undefined ? { localWorkers: args.workers } : {}),
      warn: (line) => io.stderr(`warning: ${line}\n`),
    });
  } catch (error) {
    throw new UsageError(`cannot set up the providers: ${(error as Error).message}`);
  }
  io.stderr(
    `labeling with scene=${setup.scene?.model.provider ?? 'none'}:${setup.scene?.model.model ?? '-'} ` +
      `detector=${setup.detector?.model.provider ?? 'none'}:${setup.detector?.model.model ?? '-'} (config ${setup.configHash})` +
      `${localModels(setup)}\n`,
  );
  // Loaded before the clock starts: the rate printed at the end is the labeling's, the loading is reported here.
  if (localModels(setup)) {
    const loading = performance.now();
    await loadLocalModels(setup);
    io.stderr(`local models loaded in ${((performance.now() - loading) / 1000).toFixed(1)} s\n`);
  }

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      // Quit at once by the default SIGINT action (exit status 130). Not process.exit(): it tears down the local-model
      // worker threads, and onnxruntime-node aborts the process (an uncaught C++ exception) if one is mid-run.
      process.off('SIGINT', onSigint);
      process.kill(process.pid, 'SIGINT');
      return;
    }
    io.stderr('\ninterrupting: finishing writes; press Ctrl-C again to quit at once\n');
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  let progress: ReturnType<typeof createProgress> | undefined;
  // The command's own error stream (a caller running it in-process sees its progress there, not on the terminal).
  const progressStream = io === processIo ? process.stderr : { isTTY: false, write: (text: string) => io.stderr(text) };
  const groundTruth = gt ? new Map(gt.frames.map((f) => [imageKey(f.name), f] as const)) : undefined;
  try {
    const result = await labelFolder({
      imagesDir: args.imagesDir,
      listing,
      outDir: args.out,
      setup,
      ...(groundTruth ? { groundTruth } : {}),
      signal: controller.signal,
      onProgress: ({ done, total, failed }) => {
        progress ??= createProgress({ label: 'labeling', total, stream: progressStream });
        progress.update(done, failed);
      },
    });
    progress?.finish();

    io.stdout(
      `${result.total} images: ${result.labeled} labeled, ${result.reused} reused from an earlier run with the same config, ` +
        `${result.failed.length} failed (${(result.total / Math.max(result.seconds, 1e-9)).toFixed(2)} images/s over ${result.seconds.toFixed(1)} s)\n`,
    );
    if (result.otherFiles.length) {
      io.stdout(
        `not labeled (not an image file name): ${result.otherFiles.length} file(s), e.g. ${result.otherFiles.slice(0, 3).join(', ')}\n`,
      );
    }
    for (const failure of result.failed.slice(0, 10)) io.stderr(`failed: ${failure.name}: ${failure.reason}\n`);
    if (result.failed.length > 10) io.stderr(`... ${result.failed.length - 10} more in ${path.join(args.out, OUTPUT_LAYOUT.errors)}\n`);
    if (result.interrupted) {
      io.stderr(`interrupted: finished images are kept in ${args.out}; run the same command again to continue\n`);
      return EXIT_INTERRUPTED;
    }

    if (gt) {
      // Loaded only now: evaluation and the report's writers are not needed to label.
      const { evaluateLabeledFolder } = await import('./label-evaluation');
      await evaluateLabeledFolder({ gt, gtPath: args.gt!, mode: args.mode, outDir: args.out, result, listing, io });
    }
    io.stdout(`outputs in ${args.out} (config ${setup.configHash})\n`);
    return result.failed.length ? EXIT_FAILURE : EXIT_OK;
  } finally {
    process.off('SIGINT', onSigint);
    await Promise.allSettled([setup.scene?.close?.(), setup.detector?.close?.()]);
  }
}
