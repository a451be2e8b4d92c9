/**
 * A Foundry (Azure Machine Learning) managed online endpoint serving a model-catalog MMDetection detector
 * (e.g. mmd-3x-yolof_r50_c5_8x8_1x_coco): one image per request as base64 in the `input_data` table, COCO-80
 * labels back with boxes normalised to 0..1.
 */
import { z } from 'zod';
import type { FoundryEndpointDetectorSchema } from '../../../core/config/labeling-config';
import type { CallOptions, DetectedBox, DetectionResult, Detector, ImageInput, ModelInfo } from '../../../core/pipeline/types';
import { COCO_TO_BDD } from '../../../core/taxonomy/categories';
import { fitImage, toOriginalPixels, type FittedImage } from '../../image/downscale';
import type { RetryHooks, RetryPolicy } from '../resilience/retry';
import { AZURE_ML_SCOPE, resolveAuth, type AuthDeps } from '../shared/auth';
import { isAzureImageRejection, parseJsonAnswer, readAnswer } from '../shared/http-errors';
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
 * overloaded. All three pass with time.
 */
const RETRYABLE_STATUSES = [424, 502, 503] as const;

export interface FoundryEndpointDeps extends AuthDeps {
  retryPolicy?: Partial<RetryPolicy>;
  retryHooks?: Pick<RetryHooks, 'onRetry' | 'sleep' | 'random'>;
  fetch?: typeof fetch;
  /** The health probe's cache time, timeout and clock (tests). */
  probe?: ProbeOptions;
}

const NormalisedBox = z.object({ topX: z.number(), topY: z.number(), bottomX: z.number(), bottomY: z.number() });
const ScoringResponse = z
  .array(z.looseObject({ boxes: z.array(z.looseObject({ box: NormalisedBox, label: z.string(), score: z.number() })) }))
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
    const { text, requestId } = await readAnswer(provider, response, {
      authHint: auth.hint,
      retryableStatuses: RETRYABLE_STATUSES,
      isInvalidImage: isAzureImageRejection,
      imageName,
    });
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
      const fitted = await fitImage(image, { maxBytes: FOUNDRY_MAX_IMAGE_BYTES });
      const { value, attempts } = await runner.run((signal) => send(fitted, image.name, signal), options.signal);
      // The deployment that answered (traffic may be split between several) goes into provenance.
      if (value.deployment) model.model = value.deployment;
      const boxes: DetectedBox[] = [];
      const unmapped: Record<string, number> = {};
      for (const { box, label, score } of value.answer[0]!.boxes) {
        const category = COCO_TO_BDD[label.trim().toLowerCase()];
        if (!category) {
          unmapped[label] = (unmapped[label] ?? 0) + 1;
          continue;
        }
        // Normalised to the sent image, which has the original's proportions: scale to the original's pixels.
        const pixels = {
          x1: box.topX * image.width,
          y1: box.topY * image.height,
          x2: box.bottomX * image.width,
          y2: box.bottomY * image.height,
        };
        boxes.push({ category, score, box2d: toOriginalPixels(pixels, { scaleX: 1, scaleY: 1 }, image), sourceCategory: label });
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
          ...(value.deployment ? { deployment: value.deployment } : {}),
          ...(value.requestId ? { requestId: value.requestId } : {}),
        },
      };
    },
  };
}
