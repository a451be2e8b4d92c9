/**
 * A Foundry (Azure Machine Learning) managed online endpoint serving a model-catalog MMDetection detector
 * (e.g. mmd-3x-yolof_r50_c5_8x8_1x_coco): one image per request as base64 in the `input_data` table, COCO-80
 * labels back with boxes normalised to 0..1 (earlier versions of the wrapper answered in the sent image's pixels:
 * such answers are recognised and converted).
 */
import { z } from 'zod';
import type { FoundryEndpointDetectorSchema } from '../../../core/config/labeling-config';
import type { Box2d } from '../../../core/labels/schema';
import type { CallOptions, DetectedBox, DetectionResult, Detector, ImageInput, ModelInfo } from '../../../core/pipeline/types';
import { COCO_TO_BDD } from '../../../core/taxonomy/categories';
import { fitImage, toOriginalPixels, type FittedImage } from '../../image/downscale';
import type { RetryHooks, RetryPolicy } from '../resilience/retry';
import { AZURE_ML_SCOPE, resolveAuth, type AuthDeps } from '../shared/auth';
import { isAzureImageRejection, parseJsonAnswer, readAnswer, type ErrorDetails, type HttpFailureOptions } from '../shared/http-errors';
import { cachedProbe, probeTarget, reachabilityCall, type ProbeOptions } from '../shared/probe';
import { createRemoteCallRunner } from '../shared/remote-call';

export type FoundryEndpointDetectorConfig = z.output<typeof FoundryEndpointDetectorSchema>;

export const FOUNDRY_ENDPOINT_PROVIDER = 'foundry-endpoint';
/**
 * Largest image sent as it is (base64 adds a third). Managed endpoints have no documented image limit of their
 * own; this keeps requests far below their payload limit. Larger images are re-encoded smaller; normalised boxes
 * do not care.
 */
export const FOUNDRY_MAX_IMAGE_BYTES = 20_000_000;
/**
 * 424: the scoring container failed (AzureML's "upstream" error), 502/503: the deployment is restarting or
 * overloaded. All three pass with time, except a 424 for which the container refused the request (see
 * containerFailureOf).
 */
const RETRYABLE_STATUSES = [424, 502, 503] as const;

/**
 * AzureML answers 424 whenever the scoring container did not answer 200, and names the container's status and
 * reason in these headers: a 4xx there is the container refusing this request (an image it cannot decode), which
 * no retry changes; a 5xx, or no header, is the container failing.
 */
const CONTAINER_STATUS_HEADER = 'ms-azureml-model-error-statuscode';
const CONTAINER_REASON_HEADER = 'ms-azureml-model-error-reason';
/** Container statuses with which a scoring script refuses the bytes it was given. */
const IMAGE_REFUSAL_STATUSES: ReadonlySet<number> = new Set([400, 415, 422]);

/** Normalised coordinates overshoot 1 a little by rounding; a coordinate beyond this is in pixels. */
const LARGEST_NORMALISED_COORDINATE = 1.0001;

export interface FoundryEndpointDeps extends AuthDeps {
  retryPolicy?: Partial<RetryPolicy>;
  retryHooks?: Pick<RetryHooks, 'onRetry' | 'sleep' | 'random'>;
  fetch?: typeof fetch;
  /** The health probe's cache time, timeout and clock (tests). */
  probe?: ProbeOptions;
  /** The largest image sent as it is (default FOUNDRY_MAX_IMAGE_BYTES; tests: a small one makes a downscale). */
  maxImageBytes?: number;
}

/** Normalised to 0..1 of the sent image, or (earlier wrappers) in its pixels. */
const AnswerBox = z.object({ topX: z.number(), topY: z.number(), bottomX: z.number(), bottomY: z.number() });
type AnswerBox = z.output<typeof AnswerBox>;
const ScoringResponse = z
  .array(z.looseObject({ boxes: z.array(z.looseObject({ box: AnswerBox, label: z.string(), score: z.number() })) }))
  .min(1, 'one element per image was expected');
/** Scoring scripts that `json.dumps` their result answer a JSON string holding the JSON: read both. */
const ScoringAnswer = z.union([
  ScoringResponse,
  z.string().transform((text, ctx) => {
    try {
      return ScoringResponse.parse(JSON.parse(text));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'a string that is not the expected JSON' });
      return z.NEVER;
    }
  }),
]);

export function createFoundryEndpointDetector(config: FoundryEndpointDetectorConfig, deps: FoundryEndpointDeps = {}): Detector {
  const provider = FOUNDRY_ENDPOINT_PROVIDER;
  const runner = createRemoteCallRunner(provider, config, { retryPolicy: deps.retryPolicy, hooks: deps.retryHooks });
  // Managed online endpoints take the key as a bearer token, like an Entra token (auth_mode key / aad_token).
  const auth = resolveAuth(config.auth, provider, {
    scope: AZURE_ML_SCOPE,
    env: deps.env,
    credential: deps.credential,
    keyHeader: 'Authorization',
  });
  const fetchImpl = deps.fetch ?? fetch;
  const model: ModelInfo = { provider, model: config.deployment ?? 'managed-online-endpoint', endpoint: config.scoringUri };

  const send = async (image: FittedImage, imageName: string, signal: AbortSignal) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(await auth.headers()) };
    if (config.deployment) headers['azureml-model-deployment'] = config.deployment;
    const body = JSON.stringify({ input_data: { columns: ['image'], index: [0], data: [Buffer.from(image.bytes).toString('base64')] } });
    const response = await fetchImpl(config.scoringUri, { method: 'POST', headers, body, signal });
    const { text, requestId } = await readAnswer(provider, response, { authHint: auth.hint, imageName, ...failureRules(response) });
    const answer = parseJsonAnswer(provider, text, ScoringAnswer, requestId);
    return { answer, requestId, deployment: response.headers.get('azureml-model-deployment') ?? undefined };
  };

  /**
   * A managed online endpoint has no free authenticated call (scoring runs the model), so the probe checks only that
   * the endpoint answers, at its root: no credentials and no scoring request reach the deployment.
   */
  const root = new URL('/', config.scoringUri).href;
  const reachable = reachabilityCall(provider, root, fetchImpl);
  const probe = cachedProbe({ check: 'reachability', target: probeTarget(root), call: reachable }, deps.probe);

  return {
    model,
    probe,
    async detect(image: ImageInput, options: CallOptions = {}): Promise<DetectionResult> {
      const fitted = await fitImage(image, { maxBytes: deps.maxImageBytes ?? FOUNDRY_MAX_IMAGE_BYTES });
      const { value, attempts } = await runner.run((signal) => send(fitted, image.name, signal), options.signal);
      // The deployment that answered (traffic may be split between several) goes into provenance.
      if (value.deployment) model.model = value.deployment;
      const answered = value.answer[0]!.boxes;
      const coordinates = answersInPixels(answered) ? 'pixels' : 'normalised';
      const boxes: DetectedBox[] = [];
      const unmapped: Record<string, number> = {};
      for (const { box, label, score } of answered) {
        const category = COCO_TO_BDD[label.trim().toLowerCase()];
        if (!category) {
          unmapped[label] = (unmapped[label] ?? 0) + 1;
          continue;
        }
        boxes.push({ category, score, box2d: toOriginalBox(box, coordinates, fitted, image), sourceCategory: label });
      }
      return {
        boxes,
        unmapped,
        raw: value.answer,
        attempts,
        details: {
          downscale: fitted.scaleX,
          sentBytes: fitted.bytes.length,
          reencoded: fitted.reencoded,
          sentWidth: fitted.width,
          sentHeight: fitted.height,
          // Provenance says when the boxes were converted from pixels (an older scoring wrapper behind the endpoint).
          coordinates,
          ...(value.deployment ? { deployment: value.deployment } : {}),
          ...(value.requestId ? { requestId: value.requestId } : {}),
        },
      };
    },
  };
}

/**
 * How AzureML's answer fails: as readAnswer's options. A 424 for which the scoring container answered 4xx is not
 * retried, and is the image's fault when the container's status or reason says so.
 */
function failureRules(response: Response): Pick<HttpFailureOptions, 'retryableStatuses' | 'isInvalidImage' | 'note'> {
  const container = containerFailureOf(response);
  if (!container) return { retryableStatuses: RETRYABLE_STATUSES, isInvalidImage: isAzureImageRejection };
  const refused = container.status !== undefined && container.status >= 400 && container.status < 500;
  const said = [container.status, container.reason].filter((part) => part !== undefined).join(' ');
  return {
    retryableStatuses: refused ? RETRYABLE_STATUSES.filter((status) => status !== 424) : RETRYABLE_STATUSES,
    isInvalidImage: (status: number, details: ErrorDetails) =>
      isAzureImageRejection(status, details) || (refused && containerRefusedImage(container)),
    ...(said ? { note: `the scoring container answered ${said}` } : {}),
  };
}

interface ContainerFailure {
  status?: number;
  reason?: string;
}

/** What the scoring container answered, from a 424's headers; undefined for any other answer. */
function containerFailureOf(response: Response): ContainerFailure | undefined {
  if (response.status !== 424) return undefined;
  const status = Number.parseInt(response.headers.get(CONTAINER_STATUS_HEADER) ?? '', 10);
  const reason = response.headers.get(CONTAINER_REASON_HEADER)?.trim();
  return { ...(Number.isFinite(status) ? { status } : {}), ...(reason ? { reason } : {}) };
}

function containerRefusedImage({ status, reason = '' }: ContainerFailure): boolean {
  return (status !== undefined && IMAGE_REFUSAL_STATUSES.has(status)) || /decod|image/i.test(reason);
}

/** An answer with any coordinate beyond 1 is in pixels: no normalised box reaches there. */
function answersInPixels(boxes: readonly { box: AnswerBox }[]): boolean {
  return boxes.some(({ box }) => Math.max(box.topX, box.topY, box.bottomX, box.bottomY) > LARGEST_NORMALISED_COORDINATE);
}

/** A box of the answer in the original's pixels: both kinds refer to the sent image, which may be a downscaled copy. */
function toOriginalBox(box: AnswerBox, coordinates: 'pixels' | 'normalised', fitted: FittedImage, original: ImageInput): Box2d {
  const [scaleX, scaleY] = coordinates === 'pixels' ? [1, 1] : [fitted.width, fitted.height];
  const sent = { x1: box.topX * scaleX, y1: box.topY * scaleY, x2: box.bottomX * scaleX, y2: box.bottomY * scaleY };
  return toOriginalPixels(sent, fitted, original);
}
