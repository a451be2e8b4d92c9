/**
 * A batch's ground truth read file by file, for batches whose ground truth is many files (per-image Scalabel files,
 * frame lists: everything but COCO): the same frames, in the same order, as loadGroundTruth (ground-truth.ts) gives
 * by loading the whole folder, without ever holding them all. What loadLabels does for a folder is done across files
 * here: files in path order, the first frame of each name kept (later ones reported), frames in name order (an
 * external sort: sorted-runs.ts). COCO needs the folder as a whole (results resolve against the instances file
 * beside them, frames keep the file's image order): it answers undefined, and the caller loads the folder at once.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { forEachConcurrently } from '../../adapters/concurrency/limits';
import { LabelDocumentError, parseLabelText, type ParsedLabels } from '../../core/labels/read';
import type { Frame } from '../../core/labels/schema';
import type { InputSummary } from '../../core/evaluation/report-schema';
import type { BlobStore } from '../store/blob-store';
import { BLOB_CONTAINERS } from '../store/names';
import { SortedFrameRuns } from './sorted-runs';

/** Files downloaded (16 at a time) before they are parsed in order: what is in memory at once. */
const FILES_PER_ROUND = 64;
const DOWNLOADS_AT_ONCE = 16;

export interface StreamedGroundTruth {
  summary: InputSummary;
  /** The frames `keep` accepted, to be read back in name order. */
  kept: SortedFrameRuns;
}

/**
 * Reads the ground truth under `prefix`; `keep` decides which frames go on (the others are only counted in the
 * summary). `workDir`: an empty folder of the caller's, which removes it. Undefined when a file is COCO.
 */
export async function streamGroundTruth(
  blobs: BlobStore,
  prefix: string,
  keep: (frame: Frame) => boolean,
  workDir: string,
): Promise<StreamedGroundTruth | undefined> {
  const where = `${BLOB_CONTAINERS.groundTruth}/${prefix}`;
  const listed = (await blobs.list(BLOB_CONTAINERS.groundTruth, prefix))
    .filter((b) => b.name.toLowerCase().endsWith('.json'))
    .map((b) => b.name)
    // The loader's order: by path, code unit by code unit.
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const kept = new SortedFrameRuns(await ensureDir(path.join(workDir, 'runs')));
  const summary: InputSummary = { path: where, files: 0, frames: 0, formats: {}, problems: [] };
  if (listed.length === 0) {
    summary.problems.push({ file: where, message: 'no ground truth (*.json) under this prefix' });
    return { summary, kept };
  }
  /** The file each frame name was first found in (an index into `listed`): later ones are duplicates. */
  const firstFile = new Map<string, number>();
  const duplicates: InputSummary['problems'] = [];
  for (let start = 0; start < listed.length; start += FILES_PER_ROUND) {
    const round = listed.slice(start, start + FILES_PER_ROUND);
    const contents = new Array<Buffer | undefined>(round.length);
    await forEachConcurrently(round, DOWNLOADS_AT_ONCE, async (name, i) => {
      contents[i] = (await blobs.read(BLOB_CONTAINERS.groundTruth, name))?.data; // undefined: deleted since the listing
    });
    for (const [i, name] of round.entries()) {
      const content = contents[i];
      if (!content) continue;
      contents[i] = undefined;
      const blobPath = `${BLOB_CONTAINERS.groundTruth}/${name}`;
      summary.files++;
      // Each file parsed as loadLabels parses one (parseLabelText), straight from the blob's bytes.
      let parsed: ParsedLabels;
      try {
        parsed = parseLabelText(content.toString('utf8'), blobPath);
      } catch (error) {
        const message = error instanceof LabelDocumentError ? error.detail : `cannot read: ${(error as Error).message}`;
        summary.problems.push({ file: blobPath, message });
        continue;
      }
      // COCO needs the folder as a whole (see above).
      if (parsed.format === 'coco-instances' || parsed.format === 'coco-results') return undefined;
      summary.formats[parsed.format] = (summary.formats[parsed.format] ?? 0) + 1;
      for (const message of parsed.problems) summary.problems.push({ file: blobPath, message });
      for (const frame of parsed.frames) {
        const first = firstFile.get(frame.name);
        if (first !== undefined) {
          const where = first === start + i ? 'earlier in this file' : `in ${BLOB_CONTAINERS.groundTruth}/${listed[first]}`;
          duplicates.push({ file: blobPath, message: `duplicate frame name "${frame.name}" (first ${where}): kept the first` });
          continue;
        }
        firstFile.set(frame.name, start + i);
        summary.frames++;
        if (keep(frame)) await kept.add(frame);
      }
    }
  }
  // As the loader reports them: what each file said, in file order, then the names found twice.
  summary.problems.push(...duplicates);
  return { summary, kept };
}

async function ensureDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}
