/**
 * A synthetic batch of any size for bench/batch-scale.ts, from the 160 shared BDD frames: image i is source frame
 * i mod 160 under the new name `scale-000000i.jpg`; its ground truth is that frame, its prediction the simulated
 * detector's (bench/synthetic.ts) with a provenance that says it is synthetic. Nothing is copied into the repository.
 */
import path from 'node:path';
import { loadLabels } from '../../src/adapters/files/load-labels';
import type { Frame } from '../../src/core/labels/schema';
import { LABEL_SCHEMA_VERSION } from '../../src/core/labels/schema';
import { DOCUMENT_SCHEMA_VERSION, type LabelDocument } from '../../src/app/store/documents';
import { BLOB_CONTAINERS, labelDocumentId } from '../../src/app/store/names';
import { seededRandom, simulatePredictions } from '../synthetic';

export interface SyntheticImage {
  name: string;
  gt: Frame;
  prediction: Frame;
}

export async function loadSourceFrames(sharedDir: string): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (const dir of ['bdd100k-sample/labels', 'bdd100k-scenes/labels'])
    frames.push(...(await loadLabels(path.join(sharedDir, dir))).frames);
  if (frames.length === 0) throw new Error(`no labels under ${sharedDir}/bdd100k-sample or bdd100k-scenes`);
  return frames;
}

export const syntheticName = (i: number) => `scale-${String(i).padStart(7, '0')}.jpg`;

/** Image `i` of a synthetic batch: deterministic for a given seed and index. */
export function syntheticImage(sources: readonly Frame[], i: number, seed = 20261123): SyntheticImage {
  const source = sources[i % sources.length]!;
  const name = syntheticName(i);
  return { name, gt: { ...source, name }, prediction: simulatePredictions(source, seededRandom(seed + i), name) };
}

/** The label document the blob trigger would have written for a synthetic image (status labeled). */
export function syntheticLabelDocument(batchId: string, image: SyntheticImage, configHash: string, now: string): LabelDocument {
  const provenance = {
    schemaVersion: LABEL_SCHEMA_VERSION,
    pipelineVersion: 'bench-synthetic',
    createdAt: now,
    configHash,
    image: { sha256: 'synthetic', width: 1280, height: 720, format: 'jpeg', bytes: 0 },
    scene: null,
    detector: {
      provider: 'simulated',
      model: 'bench/synthetic.ts',
      latencyMs: 0,
      boxesBeforeThresholds: image.prediction.labels.length,
    },
    thresholds: { default: 0.3, perClass: {} },
    latencyMs: 0,
  };
  return {
    id: labelDocumentId(image.name),
    batchId,
    name: image.name,
    kind: 'label',
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    status: 'labeled',
    blob: { path: `${BLOB_CONTAINERS.images}/${batchId}/${image.name}`, etag: '"synthetic"', bytes: 0 },
    configHash,
    attempts: 1,
    frame: { ...image.prediction, provenance },
    createdAt: now,
    updatedAt: now,
  };
}
