/**
 * The shared BDD sample as an exporter sees our product's output: every label gets a deterministic pseudo-score
 * (hash of image and label id, so reruns agree) and every frame a provenance with the image size, like the pipeline
 * writes. BDD100K images are all 1280x720 (the CLI tests read the real headers instead).
 */
import { createHash } from 'node:crypto';
import { loadLabels } from '../../src/adapters/files/load-labels';
import { LABEL_SCHEMA_VERSION, type Frame } from '../../src/core/labels/schema';
import { sampleLabelsDir } from './shared';

export const BDD_IMAGE_SIZE = { width: 1280, height: 720 } as const;

/** A score in [0.05, 1) with 4 decimals, fixed for a given image and label. */
export function pseudoScore(image: string, labelId: string): number {
  const n = createHash('sha256').update(`${image}/${labelId}`).digest().readUInt32BE(0) / 2 ** 32;
  return Math.round((0.05 + 0.95 * n) * 1e4) / 1e4;
}

export function withScores(frames: readonly Frame[]): Frame[] {
  return frames.map((frame) => ({
    ...frame,
    labels: frame.labels.map((label) => ({ ...label, score: pseudoScore(frame.name, label.id) })),
  }));
}

export function withImageSize(frames: readonly Frame[], size = BDD_IMAGE_SIZE): Frame[] {
  return frames.map((frame) => ({
    ...frame,
    provenance: { schemaVersion: LABEL_SCHEMA_VERSION, configHash: 'sha256-test', image: { ...size } },
  }));
}

/** The 60 real GT frames, scored, with sizes in provenance. */
export async function scoredSample(): Promise<Frame[]> {
  const loaded = await loadLabels(sampleLabelsDir);
  if (loaded.frames.length !== 60) throw new Error(`expected the 60 sample frames, got ${loaded.frames.length}`);
  return withImageSize(withScores(loaded.frames));
}
