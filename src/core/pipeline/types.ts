import type { Box2d } from '../labels/schema';
import type { BddClass } from '../taxonomy/categories';
import type { AttributeName, AttributeValue } from '../taxonomy/attributes';

/** An accepted image, decoded once: remote providers send `bytes`, local models read `rgb`. */
export interface ImageInput {
  /** The image's file name, e.g. `0a0a0b1a-7c39d841.jpg`. */
  name: string;
  format: 'jpeg' | 'png';
  /** The encoded file as received. */
  bytes: Uint8Array;
  /** Size after EXIF orientation is applied: the frame boxes refer to these pixels. */
  width: number;
  height: number;
  /** 8-bit RGB, row-major, interleaved, width * height * 3 bytes (alpha removed, grey expanded, CMYK converted). */
  rgb: Uint8Array;
  /** sha256 of `bytes`, hex: the image's identity in provenance and resumable runs. */
  sha256: string;
}

/** The limits an image must meet before any provider sees it. */
export interface ImageLimits {
  maxBytes: number;
  maxPixels: number;
  minSide: number;
}

/**
 * The decoding port: bytes and a file name in, an accepted image out (or InvalidImageError saying why not). The
 * pipeline is pure; the decoder is an adapter (sharp) given to it in the LabelingSetup.
 */
export type ImageDecoder = (bytes: Uint8Array, name: string, limits: ImageLimits) => Promise<ImageInput>;

/** Which model answered: goes verbatim into provenance. */
export interface ModelInfo {
  provider: string;
  model: string;
  apiVersion?: string;
  endpoint?: string;
  /** The learned-parameters file the model reads, when it is not the built-in one (`autolabel train-scene`). */
  file?: { path: string; sha256: string };
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/**
 * What a remote provider's probe found, without a paid call. `check` says how much it proves:
 * - `authenticated`: a free call with our credentials answered (endpoint, route and credentials all work);
 * - `reachability`: only that the endpoint answers HTTP at all (the service has no free authenticated call, or did
 *   not serve the one we tried): the credentials are not proven.
 */
export interface ProbeResult {
  ok: boolean;
  check: 'authenticated' | 'reachability';
  /** What was asked, without the host: e.g. `GET /openai/models`. */
  target: string;
  latencyMs: number;
  /** When the service was asked (results are cached for a short time: a cached result keeps its own time). */
  checkedAt: string;
  /** Why the probe failed: one bounded line. */
  error?: string;
  /** What else the answer said (the status of a reachability check, the model that answered). */
  note?: string;
}

export type SceneAttributes = { [A in AttributeName]: AttributeValue<A> };

export interface SceneResult {
  /** Values of the closed BDD vocabularies (normalised through the synonym table). */
  attributes: SceneAttributes;
  /** Per attribute, 0..1 (a model's stated or computed confidence). */
  confidence: Record<AttributeName, number>;
  /** The provider's answer before normalisation (text or object), for provenance. */
  raw: unknown;
  usage?: TokenUsage;
  /** Versioned prompt, for providers that use one. */
  prompt?: { version: string; sha256: string };
  /** Requests made, including retries (1 when the first one succeeded). */
  attempts?: number;
  /** Attributes left `undefined` because the model was not sure enough (see core/pipeline/abstention.ts). */
  abstained?: Partial<Record<AttributeName, Abstention>>;
  /** A cascade: which provider answered each attribute. */
  answeredBy?: Partial<Record<AttributeName, string>>;
}

/** Why an attribute is `undefined`: the model's answer and its confidence were below the configured minimum. */
export interface Abstention {
  value: string;
  confidence: number;
  minConfidence: number;
}

export interface SceneClassifier {
  readonly model: ModelInfo;
  classify(image: ImageInput, options?: CallOptions): Promise<SceneResult>;
  /** Remote providers only (a local model is loaded, or setup failed): is the service there? Cached briefly. */
  probe?(signal?: AbortSignal): Promise<ProbeResult>;
  close?(): Promise<void>;
}

export interface DetectedBox {
  category: BddClass;
  score: number;
  /** In the original image's pixels. */
  box2d: Box2d;
  /** The provider's own class name (`person`, `Land vehicle`, ...), for provenance and debugging. */
  sourceCategory: string;
}

export interface DetectionResult {
  boxes: DetectedBox[];
  /** Boxes the provider returned that have no BDD counterpart (e.g. `dog`), by source name. */
  unmapped?: Record<string, number>;
  raw?: unknown;
  usage?: TokenUsage;
  attempts?: number;
  /** Provider-specific facts worth keeping (views used for tiling, downscale factor, ...). */
  details?: Record<string, unknown>;
}

export interface Detector {
  readonly model: ModelInfo;
  detect(image: ImageInput, options?: CallOptions): Promise<DetectionResult>;
  /** Remote providers only (a local model is loaded, or setup failed): is the service there? Cached briefly. */
  probe?(signal?: AbortSignal): Promise<ProbeResult>;
  close?(): Promise<void>;
}
