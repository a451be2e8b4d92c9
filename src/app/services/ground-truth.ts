/**
 * A batch's ground truth from blob storage, read exactly as `autolabel evaluate` reads a folder: the blobs under the
 * prefix are copied into a temporary folder with their relative paths and loaded with loadLabels, so every layout
 * the CLI accepts (per-image Scalabel files, a frame list, BDD published JSON, COCO instances, ...) works the same.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { forEachConcurrently } from '../../adapters/concurrency/limits';
import { loadLabels } from '../../adapters/files/load-labels';
import type { Frame } from '../../core/labels/schema';
import type { InputSummary } from '../../core/evaluation/report-schema';
import type { BlobStore } from '../store/blob-store';
import { BLOB_CONTAINERS } from '../store/names';

/** Ground-truth blobs downloaded at once. */
const DOWNLOADS_AT_ONCE = 16;

export interface GroundTruth {
  frames: Frame[];
  summary: InputSummary;
}

export async function loadGroundTruth(blobs: BlobStore, prefix: string): Promise<GroundTruth> {
  const listed = (await blobs.list(BLOB_CONTAINERS.groundTruth, prefix)).filter((b) => b.name.toLowerCase().endsWith('.json'));
  const where = `${BLOB_CONTAINERS.groundTruth}/${prefix}`;
  if (listed.length === 0) {
    return {
      frames: [],
      summary: {
        path: where,
        files: 0,
        frames: 0,
        formats: {},
        problems: [{ file: where, message: 'no ground truth (*.json) under this prefix' }],
      },
    };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'autolabel-gt-'));
  try {
    // Per-image layouts mean one blob per image: tens of thousands for a BDD-sized batch, fetched a few at a time.
    await forEachConcurrently(listed, DOWNLOADS_AT_ONCE, async (blob) => {
      const relative = blob.name.slice(prefix.length).replace(/^\/+/, '');
      const target = path.join(dir, ...relative.split('/').filter((part) => part && part !== '..' && part !== '.'));
      await mkdir(path.dirname(target), { recursive: true });
      const content = await blobs.read(BLOB_CONTAINERS.groundTruth, blob.name);
      if (content) await writeFile(target, content.data);
    });
    const loaded = await loadLabels(dir);
    const toBlobPath = (file: string) => `${where}${path.relative(dir, file).split(path.sep).join('/')}`;
    return {
      frames: loaded.frames,
      summary: {
        path: where,
        files: loaded.files,
        frames: loaded.frames.length,
        formats: { ...loaded.formats } as Record<string, number>,
        problems: loaded.problems.map((p) => ({ file: toBlobPath(p.file), message: p.message })),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
