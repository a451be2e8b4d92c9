/**
 * The ground-truth frame of one image, if it can be found cheaply: a per-image file under the batch's ground-truth
 * prefix, named like the image (`{stem}.json`, `{stem}_label.json` as BDD100K publishes them, or `{name}.json`).
 * Batches whose ground truth is one big file (a Scalabel list, COCO) get no ground truth on their overlays: reading
 * a whole batch's labels for one picture is not cheap. Lookups never fail the caller; problems are logged.
 * (Not HTTP-specific: it would sit better in src/app/services/.)
 */
import { describeError } from '../../core/redaction';
import path from 'node:path';
import type { Frame } from '../../core/labels/schema';
import { parseLabelText } from '../../core/labels/read';
import type { Logger } from './logger';
import type { AppRuntime } from '../runtime';
import type { BatchDocument } from '../store/documents';
import { BLOB_CONTAINERS } from '../store/names';

export function groundTruthCandidates(prefix: string, name: string): string[] {
  const stem = path.posix.basename(name, path.posix.extname(name));
  return [`${prefix}${stem}.json`, `${prefix}${stem}_label.json`, `${prefix}${name}.json`];
}

export async function findGroundTruth(
  app: AppRuntime,
  batch: BatchDocument,
  name: string,
  logger: Logger,
): Promise<{ frame: Frame; blob: string } | undefined> {
  const prefix = batch.manifest?.groundTruthPrefix ?? `${batch.batchId}/`;
  const candidates = groundTruthCandidates(prefix, name);
  const found = await Promise.all(
    candidates.map(async (blob) => {
      try {
        const stored = await app.blobs.read(BLOB_CONTAINERS.groundTruth, blob);
        if (!stored) return undefined;
        const parsed = parseLabelText(stored.data.toString('utf8'), `${BLOB_CONTAINERS.groundTruth}/${blob}`);
        if (!('frames' in parsed)) return undefined;
        const frame = parsed.frames.find((f) => f.name === name) ?? (parsed.frames.length === 1 ? parsed.frames[0] : undefined);
        return frame ? { frame, blob } : undefined;
      } catch (error) {
        logger.warn(JSON.stringify({ event: 'ground-truth-unreadable', batchId: batch.batchId, blob, reason: describeError(error) }));
        return undefined;
      }
    }),
  );
  return found.find((f) => f !== undefined);
}
