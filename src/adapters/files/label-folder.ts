import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { labelImage, type LabelingSetup } from '../../core/pipeline/label-image';
import type { ImageInput } from '../../core/pipeline/types';
import { LabelProvenanceSchema } from '../../core/pipeline/provenance';
import { isLabelingError } from '../../core/pipeline/errors';
import { describeError } from '../../core/redaction';
import { FrameSchema, type Frame } from '../../core/labels/schema';
import { imageKey } from '../../core/evaluation/dataset';
import { writeCocoExport, writeJsonAtomic, writeFileAtomic, writeScalabelList } from './write-labels';
import { readImage } from '../image/intake';
import { renderOverlay } from '../image/overlay';
import { listImages, stemOf, type ImageListing, type SkippedFolder } from './list-images';
import { createLimiter, forEachConcurrently } from '../concurrency/limits';

export interface FailedImage {
  name: string;
  file: string;
  reason: string;
  kind: string;
  retryable: boolean;
  provider?: string;
  status?: number;
}

export interface LabelFolderOptions {
  imagesDir: string;
  outDir: string;
  setup: LabelingSetup;
  /** The listing of `imagesDir` when the caller already made it (to refuse an empty folder before loading models). */
  listing?: ImageListing;
  /** Ground truth by image name, drawn on overlays. */
  groundTruth?: ReadonlyMap<string, Frame>;
  signal?: AbortSignal;
  onProgress?: (event: { done: number; total: number; failed: number; reused: number }) => void;
}

export interface LabelFolderResult {
  total: number;
  labeled: number;
  reused: number;
  failed: FailedImage[];
  interrupted: boolean;
  /** Frames of every image that has a label now (this run's and reused), by name. */
  frames: Frame[];
  otherFiles: string[];
  duplicates: { name: string; file: string; firstFile: string }[];
  seconds: number;
}

export const OUTPUT_LAYOUT = {
  labels: 'labels',
  overlays: 'overlays',
  coco: 'coco',
  allFrames: 'labels.json',
  errors: 'errors.jsonl',
  run: 'run.json',
} as const;

/**
 * The folders labelFolder writes, to leave out of the images it lists: an output folder inside the images folder (or
 * the same folder) would otherwise have its overlays, JPEGs, taken for images on the next run.
 */
export function outputFolders(outDir: string): SkippedFolder[] {
  const reason = 'output of this labeling, not an input';
  const inside = [OUTPUT_LAYOUT.labels, OUTPUT_LAYOUT.overlays, OUTPUT_LAYOUT.coco].map((folder) => path.join(outDir, folder));
  return [outDir, ...inside].map((folder) => ({ path: folder, reason }));
}

/**
 * A previous output is reused only if the same config produced it from the same bytes. Read first, hashed only if
 * there is one: a first run hashes nothing here (intake hashes the bytes it labels).
 */
async function reusableFrame(labelFile: string, bytes: Uint8Array, configHash: string): Promise<Frame | undefined> {
  let text: string;
  try {
    text = await fs.readFile(labelFile, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const frame = FrameSchema.parse(JSON.parse(text));
    const provenance = LabelProvenanceSchema.parse(frame.provenance);
    if (provenance.configHash !== configHash) return undefined;
    return provenance.image.sha256 === createHash('sha256').update(bytes).digest('hex') ? frame : undefined;
  } catch {
    return undefined; // unreadable or foreign: label again
  }
}

function describeFailure(name: string, file: string, error: unknown): FailedImage {
  if (isLabelingError(error)) {
    return {
      name,
      file,
      reason: error.message,
      kind: error.kind,
      retryable: error.retryable,
      ...(error.provider ? { provider: error.provider } : {}),
      ...(error.status !== undefined ? { status: error.status } : {}),
    };
  }
  return { name, file, reason: `unexpected error: ${describeError(error)}`, kind: 'internal', retryable: false };
}

/**
 * Images labeled whose overlay and label file are still being written, at most: the labeling goes on while they are
 * written (encoding an overlay and syncing two files to disk take the labeling no model time), and each one holds its
 * decoded pixels until then, so the queue is bounded. Two per image in flight keeps the writers busy without letting
 * a slow disk fill memory.
 */
const FINISHING_PER_IMAGE_IN_FLIGHT = 2;
/** Overlays encoded and files written at once. */
const FINISH_CONCURRENCY = 2;

/**
 * Label every image of a folder into `outDir`. One failing image never stops the run (it gets a line in
 * errors.jsonl); every output is written atomically, so an interrupted run leaves finished images intact; a re-run
 * reuses outputs made with the same config hash from the same bytes and redoes the rest.
 *
 * Two stages: labeling (config.concurrency images at a time) hands each labeled image to finishing (its overlay,
 * then its label file, written last so that its presence means the image is complete), which runs beside it.
 */
export async function labelFolder(options: LabelFolderOptions): Promise<LabelFolderResult> {
  const started = performance.now();
  const { setup, outDir, signal } = options;
  const listing = options.listing ?? (await listImages(options.imagesDir, { skipFolders: outputFolders(outDir) }));
  const labelsDir = path.join(outDir, OUTPUT_LAYOUT.labels);
  const overlaysDir = path.join(outDir, OUTPUT_LAYOUT.overlays);
  await fs.mkdir(labelsDir, { recursive: true });
  await fs.mkdir(overlaysDir, { recursive: true });
  const errorsFile = path.join(outDir, OUTPUT_LAYOUT.errors);
  await fs.writeFile(errorsFile, '');

  const framesByName = new Map<string, Frame>();
  const failed: FailedImage[] = [];
  let labeled = 0;
  let reused = 0;
  let done = 0;
  const report = () => options.onProgress?.({ done, total: listing.images.length, failed: failed.length, reused });
  const fail = async (failure: FailedImage) => {
    failed.push(failure);
    await fs.appendFile(errorsFile, JSON.stringify(failure) + '\n');
  };
  const count = () => {
    done++;
    report();
  };

  for (const duplicate of listing.duplicates) {
    await fail({
      name: duplicate.name,
      file: duplicate.file,
      reason: `another image with the file name ${duplicate.name} was labeled (${duplicate.firstFile}); labels are keyed by file name`,
      kind: 'duplicate-name',
      retryable: false,
    });
  }

  const concurrency = Math.max(1, setup.config.concurrency);
  const finishing = createLimiter(FINISH_CONCURRENCY);
  const maxFinishing = FINISHING_PER_IMAGE_IN_FLIGHT * concurrency;
  const unfinished = new Set<Promise<void>>();

  /** Overlay then label file; an image counts as done (labeled, reused or failed) once this is over. */
  const finish = (item: { name: string; file: string }, work: () => Promise<void>) => {
    const task = finishing
      .run(work)
      .catch((error) => fail(describeFailure(item.name, item.file, error)))
      .finally(() => {
        unfinished.delete(task);
        count();
      });
    unfinished.add(task);
  };
  const roomToFinish = async () => {
    while (unfinished.size >= maxFinishing) await Promise.race(unfinished);
  };

  const labelOne = async ({ name, file }: { name: string; file: string }) => {
    const stem = stemOf(name);
    const labelFile = path.join(labelsDir, `${stem}.json`);
    const overlayFile = path.join(overlaysDir, `${stem}.jpg`);
    const groundTruth = options.groundTruth?.get(imageKey(name));
    try {
      const bytes = await fs.readFile(file);
      const previous = await reusableFrame(labelFile, bytes, setup.configHash);
      if (previous) {
        framesByName.set(name, previous);
        reused++;
        const hasOverlay = await fs.access(overlayFile).then(
          () => true,
          () => false,
        );
        if (hasOverlay) return count();
        await roomToFinish();
        return finish({ name, file }, async () => {
          const image = await readImage(bytes, name, setup.config.limits);
          await writeOverlay(overlayFile, image, previous, groundTruth);
        });
      }
      const { frame, image } = await labelImage(bytes, name, setup, signal ? { signal } : {});
      // Waiting for room here, not before labeling, keeps the models busy while the queue drains.
      await roomToFinish();
      finish({ name, file }, async () => {
        await writeOverlay(overlayFile, image, frame, groundTruth);
        await writeJsonAtomic(labelFile, frame, { pretty: true });
        framesByName.set(name, frame);
        labeled++;
      });
    } catch (error) {
      if (signal?.aborted) return;
      await fail(describeFailure(name, file, error));
      count();
    }
  };

  // Once the signal aborts no further image starts; labelOne leaves the ones it interrupts uncounted. Images already
  // labeled are still finished: they are complete results.
  try {
    await forEachConcurrently(listing.images, concurrency, labelOne, { signal });
  } finally {
    while (unfinished.size > 0) await Promise.all(unfinished);
  }

  const frames = listing.images.map((i) => framesByName.get(i.name)).filter((f): f is Frame => f !== undefined);
  const interrupted = signal?.aborted === true;
  if (!interrupted) {
    await writeScalabelList(path.join(outDir, OUTPUT_LAYOUT.allFrames), frames);
    await writeCocoExport(path.join(outDir, OUTPUT_LAYOUT.coco), { predictions: frames });
  }
  const seconds = (performance.now() - started) / 1000;
  await writeJsonAtomic(
    path.join(outDir, OUTPUT_LAYOUT.run),
    {
      configHash: setup.configHash,
      config: setup.config,
      scene: setup.scene?.model ?? null,
      detector: setup.detector?.model ?? null,
      imagesDir: options.imagesDir,
      total: listing.images.length,
      labeled,
      reused,
      failed: failed.length,
      interrupted,
      seconds: Math.round(seconds * 1000) / 1000,
      finishedAt: new Date().toISOString(),
    },
    { pretty: true },
  );
  return {
    total: listing.images.length,
    labeled,
    reused,
    failed,
    interrupted,
    frames,
    otherFiles: listing.otherFiles,
    duplicates: listing.duplicates,
    seconds,
  };
}

/** The pixels are drawn on in place: this image is labeled and nothing reads them after its overlay. */
async function writeOverlay(file: string, image: ImageInput, frame: Frame, groundTruth?: Frame) {
  const overlay = await renderOverlay({ image, predictions: frame, ...(groundTruth ? { groundTruth } : {}), drawOnInput: true });
  await writeFileAtomic(file, overlay);
}
