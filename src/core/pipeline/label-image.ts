import { PIPELINE_VERSION, type LabelingConfig } from '../config/labeling-config';
import { LABEL_SCHEMA_VERSION, type Frame, type Label } from '../labels/schema';
import type { BddClass } from '../taxonomy/categories';
import type { LabelProvenance } from './provenance';
import { imageStats } from '../drift/image-stats';
import type { DetectedBox, DetectionResult, Detector, ImageDecoder, ImageInput, SceneClassifier, SceneResult } from './types';

/** The configured providers of one labeling setup, built once and shared by every image. */
export interface LabelingSetup {
  config: LabelingConfig;
  configHash: string;
  scene?: SceneClassifier;
  detector?: Detector;
  /** Checks and decodes the bytes (adapters/image/intake in the app and the CLI). */
  decodeImage: ImageDecoder;
}

export interface LabeledImage {
  frame: Frame & { provenance: LabelProvenance };
  image: ImageInput;
}

export interface LabelImageOptions {
  signal?: AbortSignal;
  now?: () => Date;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Score threshold of a class: its own if configured, else the default. */
export function thresholdFor(config: LabelingConfig, category: BddClass): number {
  return config.thresholds.perClass[category] ?? config.thresholds.default;
}

/**
 * Boxes above their class threshold, highest score first (ties by position, so the order is deterministic), with
 * ids 1..n. Coordinates are rounded to 1/100 px and scores to 1e-4: finer digits are noise and only bloat files.
 */
export function toLabels(boxes: readonly DetectedBox[], config: LabelingConfig): Label[] {
  return boxes
    .filter((box) => box.score >= thresholdFor(config, box.category))
    .sort((a, b) => b.score - a.score || a.box2d.x1 - b.box2d.x1 || a.box2d.y1 - b.box2d.y1)
    .map((box, i) => ({
      id: String(i + 1),
      category: box.category,
      box2d: {
        x1: round(box.box2d.x1, 2),
        y1: round(box.box2d.y1, 2),
        x2: round(box.box2d.x2, 2),
        y2: round(box.box2d.y2, 2),
      },
      score: round(box.score, 4),
    }));
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; latencyMs: number }> {
  const started = performance.now();
  const value = await work();
  return { value, latencyMs: Math.round(performance.now() - started) };
}

/**
 * One image in, one Scalabel frame out: the bytes are checked (JPEG/PNG by content, decodable, within limits),
 * scene and detector run concurrently, boxes are thresholded and numbered, and the frame carries its provenance.
 * Failures are typed LabelingErrors (InvalidImageError for bad bytes; throttling, timeouts and provider errors
 * after the provider's own retries). The CLI, the HTTP trigger and the blob trigger all call this.
 */
export async function labelImage(
  bytes: Uint8Array,
  name: string,
  setup: LabelingSetup,
  options: LabelImageOptions = {},
): Promise<LabeledImage> {
  const started = performance.now();
  const { config } = setup;
  const image = await setup.decodeImage(bytes, name, config.limits);
  options.signal?.throwIfAborted();
  // Before the providers run: a worker pool may take the pixels (transfer) while it works on them.
  const stats = imageStats(image.rgb, image.width, image.height);
  const call = { ...(options.signal ? { signal: options.signal } : {}) };

  const [scene, detection] = await Promise.all([
    setup.scene ? timed(() => setup.scene!.classify(image, call)) : undefined,
    setup.detector ? timed(() => setup.detector!.detect(image, call)) : undefined,
  ]);

  const labels = detection ? toLabels(detection.value.boxes, config) : [];
  const frame = {
    name,
    ...(scene ? { attributes: { ...scene.value.attributes } } : {}),
    labels,
    provenance: {
      schemaVersion: LABEL_SCHEMA_VERSION,
      pipelineVersion: PIPELINE_VERSION,
      createdAt: (options.now?.() ?? new Date()).toISOString(),
      configHash: setup.configHash,
      image: {
        sha256: image.sha256,
        width: image.width,
        height: image.height,
        format: image.format,
        bytes: bytes.length,
        stats,
      },
      scene: scene ? sceneProvenance(setup.scene!, scene.value, scene.latencyMs) : null,
      detector: detection ? detectorProvenance(setup.detector!, detection.value, detection.latencyMs) : null,
      thresholds: { default: config.thresholds.default, perClass: { ...config.thresholds.perClass } },
      latencyMs: Math.round(performance.now() - started),
    } satisfies LabelProvenance,
  };
  return { frame, image };
}

function sceneProvenance(classifier: SceneClassifier, result: SceneResult, latencyMs: number): LabelProvenance['scene'] {
  return {
    ...classifier.model,
    ...(result.prompt ? { prompt: result.prompt } : {}),
    raw: result.raw,
    confidence: { ...result.confidence },
    ...(result.abstained && Object.keys(result.abstained).length ? { abstained: { ...result.abstained } } : {}),
    ...(result.answeredBy ? { answeredBy: { ...result.answeredBy } } : {}),
    ...(result.usage ? { usage: result.usage } : {}),
    ...(result.attempts !== undefined ? { attempts: result.attempts } : {}),
    latencyMs,
  };
}

function detectorProvenance(detector: Detector, result: DetectionResult, latencyMs: number): LabelProvenance['detector'] {
  return {
    ...detector.model,
    ...(result.usage ? { usage: result.usage } : {}),
    ...(result.attempts !== undefined ? { attempts: result.attempts } : {}),
    latencyMs,
    boxesBeforeThresholds: result.boxes.length,
    ...(result.unmapped && Object.keys(result.unmapped).length ? { unmapped: result.unmapped } : {}),
    ...(result.details ? { details: result.details } : {}),
  };
}
