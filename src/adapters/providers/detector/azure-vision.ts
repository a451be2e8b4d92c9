/**
 * Azure AI Vision object detection, two APIs chosen by `config.api`:
 * - `4.0`: Image Analysis REST (`POST {endpoint}/computervision/imageanalysis:analyze`), through fetch;
 * - `3.2`: the legacy SDK `@azure/cognitiveservices-computervision` (`detectObjectsInStream`).
 * Both answer open-vocabulary names (`car`, `taxi`, `Land vehicle`...), mapped to BDD by the open-vocabulary table.
 */
import { ComputerVisionClient, type ComputerVisionModels } from '@azure/cognitiveservices-computervision';
import { ApiKeyCredentials, type AbortSignalLike, type ServiceClientCredentials, type WebResourceLike } from '@azure/ms-rest-js';
import { z } from 'zod';
import type { AzureVisionDetectorSchema } from '../../../core/config/labeling-config';
import { BadResponseError, InvalidImageError, LabelingError } from '../../../core/pipeline/errors';
import type { CallOptions, DetectedBox, DetectionResult, Detector, ImageInput, ModelInfo } from '../../../core/pipeline/types';
import { mapOpenVocabulary } from '../../../core/taxonomy/open-vocabulary';
import { fitImage, toOriginalPixels, type FitLimits, type FittedImage } from '../../image/downscale';
import type { RetryHooks, RetryPolicy } from '../resilience/retry';
import { COGNITIVE_SERVICES_SCOPE, resolveAuth, type AuthDeps, type ResolvedAuth } from '../shared/auth';
import { httpFailure, isAzureImageRejection, parseJsonAnswer, readAnswer, requestIdOf, truncate, validate } from '../shared/http-errors';
import { cachedProbe, probeTarget, reachabilityCall, type ProbeOptions } from '../shared/probe';
import { createRemoteCallRunner } from '../shared/remote-call';

export type AzureVisionDetectorConfig = z.output<typeof AzureVisionDetectorSchema>;

export const AZURE_VISION_PROVIDER = 'azure-vision';
export const IMAGE_ANALYSIS_API_VERSION = '2024-02-01';

/**
 * What each API accepts. "Under 4 MB" / "under 20 MB" are read as decimal megabytes, which is under either
 * reading. Sides must be "greater than 50" and "less than 16,000" px (the documented wording; the service's own
 * message says 50 and 16000 pass): the stricter reading costs nothing. A larger image is downscaled, a smaller one
 * refused before sending.
 */
export const AZURE_VISION_LIMITS: Readonly<
  Record<AzureVisionDetectorConfig['api'], Required<Pick<FitLimits, 'maxBytes' | 'maxSide' | 'minSide'>>>
> = {
  '4.0': { maxBytes: 20_000_000, maxSide: 15_999, minSide: 51 },
  '3.2': { maxBytes: 4_000_000, maxSide: 15_999, minSide: 51 },
};

export interface AzureVisionDeps extends AuthDeps {
  /** Overrides of the policy built from the config (tests: short backoff). */
  retryPolicy?: Partial<RetryPolicy>;
  retryHooks?: Pick<RetryHooks, 'onRetry' | 'sleep' | 'random'>;
  /** The 4.0 API's HTTP client, and the health probe's (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** The health probe's cache time, timeout and clock (tests). */
  probe?: ProbeOptions;
}

/**
 * One detected object before mapping: names nearest first (3.2: leaf then parents; 4.0: tags, best first - the
 * service sends one tag per object, several are read the same way).
 */
interface RawObject {
  box: { x: number; y: number; w: number; h: number };
  names: { name: string; confidence?: number }[];
}

interface CallResult {
  objects: RawObject[];
  modelVersion?: string;
  requestId?: string;
  metadata?: { width: number; height: number };
  raw: unknown;
}

/** One request sending `fitted` (the image named `imageName`); a typed error when it fails. */
type ApiCall = (fitted: FittedImage, imageName: string, signal: AbortSignal) => Promise<CallResult>;

export function createAzureVisionDetector(config: AzureVisionDetectorConfig, deps: AzureVisionDeps = {}): Detector {
  const provider = AZURE_VISION_PROVIDER;
  const runner = createRemoteCallRunner(provider, config, { retryPolicy: deps.retryPolicy, hooks: deps.retryHooks });
  const limits = AZURE_VISION_LIMITS[config.api];
  const auth = resolveAuth(config.auth, provider, {
    scope: COGNITIVE_SERVICES_SCOPE,
    env: deps.env,
    credential: deps.credential,
    keyHeader: 'Ocp-Apim-Subscription-Key',
  });
  const call = config.api === '3.2' ? createV32Call(config.endpoint, auth) : createV40Call(config.endpoint, auth, deps.fetch ?? fetch);
  const model: ModelInfo = {
    provider,
    model: config.api === '3.2' ? 'computer-vision-3.2' : 'image-analysis-4.0',
    apiVersion: config.api === '3.2' ? '3.2' : IMAGE_ANALYSIS_API_VERSION,
    endpoint: config.endpoint,
  };

  // Neither API has a call that is free (every analyze is a billed transaction): the probe checks reachability only.
  const reachable = reachabilityCall(provider, config.endpoint, deps.fetch ?? fetch);
  const probe = cachedProbe({ check: 'reachability', target: probeTarget(config.endpoint), call: reachable }, deps.probe);

  return {
    model,
    probe,
    async detect(image: ImageInput, options: CallOptions = {}): Promise<DetectionResult> {
      if (Math.min(image.width, image.height) < limits.minSide) {
        throw new InvalidImageError(
          `${image.name}: ${image.width}x${image.height} is too small for Azure AI Vision, which takes sides of more than ${limits.minSide - 1} px`,
          { provider },
        );
      }
      const fitted = await fitImage(image, limits);
      const { value, attempts } = await runner.run((signal) => call(fitted, image.name, signal), options.signal);
      // The service names its model version in every answer: provenance records the one that answered.
      if (value.modelVersion) model.model = value.modelVersion;
      return { ...toDetections(value.objects, fitted, image), raw: value.raw, attempts, details: detailsOf(fitted, value) };
    },
  };
}

function toDetections(objects: RawObject[], fitted: FittedImage, image: ImageInput): Pick<DetectionResult, 'boxes' | 'unmapped'> {
  const boxes: DetectedBox[] = [];
  const unmapped: Record<string, number> = {};
  for (const object of objects) {
    const [leaf, ...parents] = object.names;
    if (!leaf) continue;
    const match = mapOpenVocabulary(
      leaf.name,
      parents.map((p) => p.name),
    );
    if (!match) {
      unmapped[leaf.name] = (unmapped[leaf.name] ?? 0) + 1;
      continue;
    }
    const { x, y, w, h } = object.box;
    boxes.push({
      category: match.category,
      // The confidence of the name that decided (P(car) >= P(taxi)), the leaf's when that name has none.
      score: object.names[match.depth]?.confidence ?? leaf.confidence ?? 0,
      box2d: toOriginalPixels({ x1: x, y1: y, x2: x + w, y2: y + h }, fitted, image),
      sourceCategory: leaf.name,
    });
  }
  return { boxes, unmapped };
}

function detailsOf(fitted: FittedImage, value: CallResult): Record<string, unknown> {
  return {
    downscale: fitted.scaleX,
    sentBytes: fitted.bytes.length,
    sentWidth: fitted.width,
    sentHeight: fitted.height,
    reencoded: fitted.reencoded,
    ...(value.modelVersion ? { modelVersion: value.modelVersion } : {}),
    ...(value.requestId ? { requestId: value.requestId } : {}),
    ...(value.metadata ? { serviceImageSize: value.metadata } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 4.0: Image Analysis REST

const BoundingBox = z.object({ x: z.number(), y: z.number(), w: z.number().nonnegative(), h: z.number().nonnegative() });
const V40Response = z.looseObject({
  modelVersion: z.string().optional(),
  metadata: z.object({ width: z.number(), height: z.number() }).optional(),
  // Optional in the 4.0 spec: an answer without it found no objects.
  objectsResult: z
    .object({
      values: z.array(z.object({ boundingBox: BoundingBox, tags: z.array(z.object({ name: z.string(), confidence: z.number() })) })),
    })
    .optional(),
});

function createV40Call(endpoint: string, auth: ResolvedAuth, fetchImpl: typeof fetch): ApiCall {
  const url = new URL('computervision/imageanalysis:analyze', endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
  url.searchParams.set('api-version', IMAGE_ANALYSIS_API_VERSION);
  url.searchParams.set('features', 'objects');
  return async (fitted, imageName, signal) => {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', ...(await auth.headers()) };
    const response = await fetchImpl(url, { method: 'POST', headers, body: fitted.bytes, signal });
    const failure = { authHint: auth.hint, isInvalidImage: isAzureImageRejection, imageName };
    const { text, requestId } = await readAnswer(AZURE_VISION_PROVIDER, response, failure);
    const body = parseJsonAnswer(AZURE_VISION_PROVIDER, text, V40Response, requestId);
    return {
      objects: (body.objectsResult?.values ?? []).map((o) => ({
        box: o.boundingBox,
        names: [...o.tags].sort((a, b) => b.confidence - a.confidence),
      })),
      modelVersion: body.modelVersion,
      requestId,
      metadata: body.metadata,
      raw: body,
    };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 3.2: the legacy SDK

interface Hierarchy {
  object: string;
  confidence?: number | undefined;
  parent?: Hierarchy | undefined;
}
const HierarchySchema: z.ZodType<Hierarchy> = z.lazy(() =>
  z.object({ object: z.string(), confidence: z.number().optional(), parent: HierarchySchema.optional() }),
);
const V32Response = z.looseObject({
  objects: z.array(
    z.object({ rectangle: BoundingBox, object: z.string(), confidence: z.number().optional(), parent: HierarchySchema.optional() }),
  ),
  requestId: z.string().optional(),
  modelVersion: z.string().optional(),
  metadata: z.looseObject({ width: z.number(), height: z.number() }).optional(),
});

/** Minimal view of ms-rest-js's RestError (duck-typed: the SDK may bring its own copy of the class). */
interface RestErrorLike {
  code?: string;
  statusCode?: number;
  body?: unknown;
  response?: { status?: number; body?: unknown; bodyAsText?: string; headers?: { get(name: string): string | undefined } };
}

function createV32Call(endpoint: string, auth: ResolvedAuth): ApiCall {
  const client = new ComputerVisionClient(v32Credentials(auth), endpoint.replace(/\/+$/, ''), {
    // callWithRetries owns retries: the SDK's own policies would retry 429/5xx out of our sight and count.
    noRetryPolicy: true,
  });
  return async (fitted, imageName, signal) => {
    let result: ComputerVisionModels.DetectObjectsInStreamResponse;
    try {
      // The SDK's `timeout` option starts a timer it never clears (it holds the process open for the full
      // timeout after each call): the per-attempt timeout comes through `abortSignal` instead.
      result = await client.detectObjectsInStream(Buffer.from(fitted.bytes.buffer, fitted.bytes.byteOffset, fitted.bytes.byteLength), {
        // Node's AbortSignal is one at run time; its `onabort` typing differs from the SDK's AbortSignalLike.
        abortSignal: signal as unknown as AbortSignalLike,
      });
    } catch (error) {
      throw v32Failure(error, auth.hint, imageName);
    }
    const requestId = result._response.headers.get('apim-request-id') ?? undefined;
    const body = validate(AZURE_VISION_PROVIDER, V32Response, { ...result }, requestId);
    return {
      objects: body.objects.map((o) => ({ box: o.rectangle, names: hierarchyNames(o) })),
      modelVersion: body.modelVersion,
      requestId: body.requestId ?? requestId,
      metadata: body.metadata ? { width: body.metadata.width, height: body.metadata.height } : undefined,
      raw: body,
    };
  };
}

/** Leaf first, then each parent: `taxi`, `car`, `Land vehicle`, `Vehicle`. */
function hierarchyNames(leaf: Hierarchy): { name: string; confidence?: number }[] {
  const names: { name: string; confidence?: number }[] = [];
  for (let node: Hierarchy | undefined = leaf; node && names.length < 16; node = node.parent) {
    names.push(node.confidence === undefined ? { name: node.object } : { name: node.object, confidence: node.confidence });
  }
  return names;
}

function v32Failure(thrown: unknown, authHint: string, imageName: string): unknown {
  if (thrown instanceof LabelingError) return thrown;
  const error = thrown as RestErrorLike;
  if (error?.code === 'REQUEST_ABORTED_ERROR') return thrown; // callWithRetries tells a timeout from the caller's abort
  const status = error?.statusCode ?? error?.response?.status;
  const headers = error?.response?.headers;
  const requestId = requestIdOf(headers);
  if (status !== undefined && (status < 200 || status >= 300)) {
    const text = error.response?.bodyAsText ?? (typeof error.response?.body === 'string' ? error.response.body : '');
    return httpFailure(AZURE_VISION_PROVIDER, status, headers, text, {
      authHint,
      isInvalidImage: isAzureImageRejection,
      imageName,
      cause: thrown,
    });
  }
  if (status !== undefined) {
    // 2xx whose body did not parse or deserialize.
    const message = thrown instanceof Error ? thrown.message : String(thrown);
    return new BadResponseError(`${AZURE_VISION_PROVIDER}: unreadable answer (${truncate(message)})`, {
      provider: AZURE_VISION_PROVIDER,
      ...(requestId ? { requestId } : {}),
      cause: thrown,
    });
  }
  return thrown; // network failure: callWithRetries makes it a retryable ProviderError
}

/** The legacy SDK signs requests through ServiceClientCredentials: key, bearer token, or nothing. */
function v32Credentials(auth: ResolvedAuth): ServiceClientCredentials {
  if (auth.type === 'key') return new ApiKeyCredentials({ inHeader: { 'Ocp-Apim-Subscription-Key': auth.key } });
  return {
    async signRequest(request: WebResourceLike) {
      for (const [name, value] of Object.entries(await auth.headers())) request.headers.set(name, value);
      return request;
    },
  };
}
