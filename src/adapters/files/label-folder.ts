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
import { listImages, stemOf, type ImageListing } from './list-images';
import { forEachConcurrently } from '../concurrency/limits';

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

/** A previous output is reused only if the same config produced it from the same bytes. */
async function reusableFrame(labelFile: string, sha256: string, configHash: string): Promise<Frame | undefined> {
  let text: string;
  try {
    text = await fs.readFile(labelFile, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const frame = FrameSchema.parse(JSON.parse(text));
    const provenance = LabelProvenanceSchema.parse(frame.provenance);
    return provenance.configHash === configHash && provenance.image.sha256 === sha256 ? frame : undefined;
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
 * Label every image of a folder into `outDir`. One failing image never stops the run (it gets a line in
 * errors.jsonl); every output is written atomically, so an interrupted run leaves finished images intact; a re-run
 * reuses outputs made with the same config hash from the same bytes and redoes the rest.
 */
export async function labelFolder(options: LabelFolderOptions): Promise<LabelFolderResult> {
  const started = performance.now();
  const { setup, outDir, signal } = options;
  const listing = options.listing ?? (await listImages(options.imagesDir));
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

  for (const duplicate of listing.duplicates) {
    const failure: FailedImage = {
      name: duplicate.name,
      file: duplicate.file,
      reason: `another image with the file name ${duplicate.name} was labeled (${duplicate.firstFile}); labels are keyed by file name`,
      kind: 'duplicate-name',
      retryable: false,
    };
    failed.push(failure);
    await fs.appendFile(errorsFile, JSON.stringify(failure) + '\n');
  }

  const labelOne = async ({ name, file }: { name: string; file: string }) => {
    const stem = stemOf(name);
    const labelFile = path.join(labelsDir, `${stem}.json`);
    const overlayFile = path.join(overlaysDir, `${stem}.jpg`);
    try {
      const bytes = await fs.readFile(file);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const previous = await reusableFrame(labelFile, sha256, setup.configHash);
      if (previous) {
        framesByName.set(name, previous);
        reused++;
        const hasOverlay = await fs.access(overlayFile).then(
          () => true,
          () => false,
        );
        if (!hasOverlay) {
          const image = await readImage(bytes, name, setup.config.limits);
          await writeOverlay(overlayFile, image, previous, options.groundTruth?.get(imageKey(name)));
        }
        return;
      }
      const { frame, image } = await labelImage(bytes, name, setup, signal ? { signal } : {});
      await writeOverlay(overlayFile, image, frame, options.groundTruth?.get(imageKey(name)));
      // The label file is written last: its presence means this image is complete.
      await writeJsonAtomic(labelFile, frame, { pretty: true });
      framesByName.set(name, frame);
      labeled++;
    } catch (error) {
      if (signal?.aborted) return;
      const failure = describeFailure(name, file, error);
      failed.push(failure);
      await fs.appendFile(errorsFile, JSON.stringify(failure) + '\n');
    } finally {
      if (!signal?.aborted) {
        done++;
        report();
      }
    }
  };

  // Once the signal aborts no further image starts; labelOne leaves the ones it interrupts uncounted.
  await forEachConcurrently(listing.images, Math.max(1, setup.config.concurrency), labelOne, { signal });

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

async function writeOverlay(file: string, image: ImageInput, frame: Frame, groundTruth?: Frame) {
  const overlay = await renderOverlay({ image, predictions: frame, ...(groundTruth ? { groundTruth } : {}) });
  await writeFileAtomic(file, overlay);
}
