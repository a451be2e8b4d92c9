/**
 * Label writers. Every file is written atomically (temp file in the same directory, fsync, rename), so a crash
 * leaves either the old file or the new one, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { framesToCocoInstances, framesToCocoResults, type CocoExportSummary } from '../../core/labels/coco';
import type { Frame } from '../../core/labels/schema';
import { forEachConcurrently } from '../concurrency/limits';

/** Pieces are gathered up to this size before a write: one syscall per small piece would be slow. */
const WRITE_CHUNK = 1 << 16;

/**
 * Write `data` (text as UTF-8, bytes, or text pieces in order, holding at most one 64 KiB chunk in memory) to `file`
 * atomically, creating the directory if needed.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array | AsyncIterable<string> | Iterable<string>): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  // Same directory: rename is only atomic within one file system. Dot-prefixed so directory loads never pick it up.
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await fs.open(temp, 'wx');
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
      else {
        let chunk = '';
        for await (const piece of data) {
          chunk += piece;
          if (chunk.length >= WRITE_CHUNK) {
            await handle.write(chunk);
            chunk = '';
          }
        }
        if (chunk) await handle.write(chunk);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** JSON with a trailing newline; `pretty` indents by 2 (hand-readable per-image files), else compact (big lists). */
export function writeJsonAtomic(file: string, value: unknown, options: { pretty?: boolean } = {}): Promise<void> {
  return writeFileAtomic(file, JSON.stringify(value, null, options.pretty ? 2 : undefined) + '\n');
}

/** `a.jpg` -> `a.json`, `videos/b.png` -> `b.json`: per-image files sit flat in one directory. */
function perImageFileName(name: string): string {
  const base = path.posix.basename(name.replaceAll('\\', '/'));
  const ext = path.posix.extname(base);
  return `${ext ? base.slice(0, -ext.length) : base}.json`;
}

const WRITE_CONCURRENCY = 16;

/**
 * One Scalabel frame per file, `<dir>/<image stem>.json`, pretty-printed. Two frames mapping to the same file name
 * throw before anything is written. Returns the paths written, in frame order.
 */
export async function writeScalabelFiles(dir: string, frames: readonly Frame[]): Promise<string[]> {
  const owners = new Map<string, string>();
  const files = frames.map((frame) => {
    const fileName = perImageFileName(frame.name);
    const owner = owners.get(fileName);
    if (owner !== undefined) throw new Error(`frames "${owner}" and "${frame.name}" would both be written to ${fileName}`);
    owners.set(fileName, frame.name);
    return path.join(dir, fileName);
  });
  await fs.mkdir(dir, { recursive: true });
  // Bounded parallelism: fsync per file makes a strictly sequential write of 10k files slow.
  await forEachConcurrently(frames, WRITE_CONCURRENCY, (frame, i) => writeJsonAtomic(files[i]!, frame, { pretty: true }));
  return files;
}

/** All frames in one JSON list (the official bdd100k_labels_images_*.json layout), compact. */
export function writeScalabelList(file: string, frames: readonly Frame[]): Promise<void> {
  return writeJsonAtomic(file, frames);
}

export const COCO_INSTANCES_FILE = 'instances.json';
export const COCO_RESULTS_FILE = 'results.json';

export interface CocoExport {
  instancesFile: string;
  instances: CocoExportSummary;
  resultsFile?: string;
  results?: CocoExportSummary;
}

/**
 * COCO export into `dir`: `instances.json` and, with predictions, `results.json` whose image ids refer to it.
 * Images are the ground-truth frames when given (annotations from their labels), else the predicted frames with
 * no annotations: an index that lets loadLabels resolve results.json on its own.
 */
export async function writeCocoExport(
  dir: string,
  input: { groundTruth?: readonly Frame[]; predictions?: readonly Frame[] },
): Promise<CocoExport> {
  const { groundTruth, predictions } = input;
  if (!groundTruth && !predictions) throw new Error('writeCocoExport needs groundTruth or predictions');
  const { instances, imageIds, summary } = groundTruth
    ? framesToCocoInstances(groundTruth)
    : framesToCocoInstances(predictions ?? [], { annotations: false });

  const exported: CocoExport = { instancesFile: path.join(dir, COCO_INSTANCES_FILE), instances: summary };
  if (predictions) {
    const results = framesToCocoResults(predictions, imageIds);
    exported.resultsFile = path.join(dir, COCO_RESULTS_FILE);
    exported.results = results.summary;
    await writeJsonAtomic(exported.resultsFile, results.results);
  }
  await writeJsonAtomic(exported.instancesFile, instances);
  return exported;
}
