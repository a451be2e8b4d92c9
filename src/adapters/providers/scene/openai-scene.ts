/**
 * Scene attributes from a vision-language model behind the OpenAI chat-completions API: Azure OpenAI (`config.azure`)
 * or any OpenAI-compatible server (`config.baseURL`: OpenAI, Ollama, vLLM, LM Studio, Foundry Local).
 *
 * One classify() = one image; requests go through our limiter, rate limiter and callWithRetries (the SDK's own
 * retries are off and its timeout is only a backstop: our per-attempt AbortSignal ends a request).
 */
import OpenAI, { APIConnectionError, APIError, APIUserAbortError, AzureOpenAI, OpenAIError } from 'openai';
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { z } from 'zod';
import type { OpenAiSceneSchema } from '../../../core/config/labeling-config';
import { BadResponseError, LabelingError, ProviderError } from '../../../core/pipeline/errors';
import type { CallOptions, ImageInput, ModelInfo, SceneClassifier, SceneResult, TokenUsage } from '../../../core/pipeline/types';
import type { RetryHooks, RetryPolicy } from '../resilience/retry';
import { COGNITIVE_SERVICES_SCOPE, resolveAuth, type AuthDeps } from '../shared/auth';
import { httpFailure, parseJsonAnswer, type ErrorDetails } from '../shared/http-errors';
import {
  cachedProbe,
  isRouteNotServed,
  networkReason,
  probeTarget,
  routeNotServed,
  type ProbeAnswer,
  type ProbeOptions,
} from '../shared/probe';
import { createRemoteCallRunner, type RemoteCallOptions } from '../shared/remote-call';
import { PROMPT_INFO, SCENE_MAX_COMPLETION_TOKENS_REASONING, SCENE_MAX_TOKENS, SCENE_RESPONSE_FORMAT, sceneMessages } from './prompt';
import { addUsage, firstChoice } from './chat-completion';
import { parseSceneAnswer, type SceneAnswer } from './scene-answer';

export type OpenAiSceneConfig = z.infer<typeof OpenAiSceneSchema>;

/** Injected by tests and hosts; everything is optional. */
export interface SceneClassifierDeps extends AuthDeps {
  /** fetch used by the openai SDK (default: global fetch). */
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Backoff between retries (timeoutMs and maxRetries always come from the config). */
  retry?: Partial<Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>>;
  onRetry?: RetryHooks['onRetry'];
  /** The health probe's cache time, timeout and clock (tests). */
  probe?: ProbeOptions;
  /** Told once when the server refused a response_format and later calls use a weaker one (for the logs). */
  onModeChange?: (change: { provider: string; from: AnswerMode; to: AnswerMode; reason: string }) => void;
}

/**
 * How the answer was constrained. `json_schema`: strict structured output; `json_object`: JSON mode, after the server
 * rejected json_schema (older api-versions, some compatible servers); `text`: no response_format at all, after JSON
 * mode was rejected too. The last two rely on the prompt and zod.
 */
export type AnswerMode = 'json_schema' | 'json_object' | 'text';

/** What SceneResult.raw holds for the remote scene classifiers. */
export interface SceneRawAnswer {
  /** The model's message content, verbatim. */
  content: string;
  mode: AnswerMode;
  /** OpenAI provider only: the request rules used (see OpenAiSceneSchema.family). */
  family?: ModelFamily;
  /** Foundry only: the answer came from the repair request. */
  repaired?: boolean;
  /** Attributes whose text matched neither the vocabulary nor a synonym (stored as `undefined`). */
  unrecognized?: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Shared by the OpenAI and Foundry classifiers.

/** The retry part of the deps, as the shared runner takes it. */
export function remoteCallOptions(deps: SceneClassifierDeps): RemoteCallOptions {
  return { retryPolicy: deps.retry, hooks: { onRetry: deps.onRetry } };
}

const IMAGE_ERROR_CODES = new Set([
  'content_filter',
  'invalid_image',
  'invalid_image_format',
  'invalid_image_url',
  'image_parse_error',
  'image_too_large',
  'unsupported_image',
]);

/** A 400 that says the image itself was refused: content filter, undecodable or unsupported image. */
export function isImageRejection(status: number, { codes, message = '' }: ErrorDetails): boolean {
  if (status !== 400) return false;
  if (codes.some((code) => IMAGE_ERROR_CODES.has(code.toLowerCase()))) return true;
  return (
    /content (management )?(policy|filter)|responsibleaipolicyviolation/i.test(message) ||
    /\b(invalid|unsupported|corrupt(ed)?|malformed)\s+image\b/i.test(message) ||
    /\bimage\b[^.]*\b(invalid|not (a )?valid|unsupported|(could not|cannot) be (processed|decoded|read)|too large)/i.test(message)
  );
}

/**
 * A 400/422 saying this server or api-version does not support our response_format (json_schema, or JSON mode):
 * "'response_format' of type 'json_schema' is not supported with this model", "response_format value as json_schema
 * is enabled only for api versions 2024-08-01-preview and later", a validation error listing the allowed types. Not
 * a refusal of the schema itself ("Invalid schema for response_format ..."): that is our bug, and a weaker format
 * would hide it.
 */
export function isResponseFormatRejection(status: number | undefined, param: string | null | undefined, message: string): boolean {
  if (status !== 400 && status !== 422) return false;
  const aboutFormat = param === 'response_format' || /response_format|json_schema|json schema|structured output/i.test(message);
  if (!aboutFormat || /invalid schema/i.test(message)) return false;
  return /not supported|unsupported|does not support|doesn't support|enabled only|only (supported|available)|input should be|not (a )?valid (value|option|enum)|unrecognized|unknown (field|parameter|variant)|extra (inputs|fields)/i.test(
    message,
  );
}

export type ModelFamily = 'chat' | 'reasoning';

/** Azure OpenAI's v1 API is reached as an OpenAI-compatible baseURL ({endpoint}/openai/v1): still Azure OpenAI. */
function isAzureOpenAiUrl(baseURL: string | undefined): boolean {
  if (!baseURL) return false;
  const { hostname, pathname } = new URL(baseURL);
  return (
    /\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$/i.test(hostname) || /\/openai\/v1\/?$/.test(pathname)
  );
}

/** The request rules by model name: gpt-5* and the o-series are reasoning models; everything else takes chat rules. */
export function modelFamilyOf(model: string): ModelFamily {
  return /^(gpt-5|o[1-9])\b/i.test(model) ? 'reasoning' : 'chat';
}

/** The SceneResult of a parsed answer. */
export function sceneResult(answer: SceneAnswer, raw: SceneRawAnswer, usage: TokenUsage | undefined, attempts: number): SceneResult {
  const result: SceneResult = {
    attributes: answer.attributes,
    confidence: answer.confidence,
    raw: { ...raw, ...(answer.unrecognized.length ? { unrecognized: answer.unrecognized } : {}) } satisfies SceneRawAnswer,
    prompt: { ...PROMPT_INFO },
    attempts,
  };
  if (usage) result.usage = usage;
  return result;
}

// ---------------------------------------------------------------------------------------------------------------

const MODE_RANK: Record<AnswerMode, number> = { json_schema: 0, json_object: 1, text: 2 };

const ENTRA_HINT = "the identity needs the 'Cognitive Services OpenAI User' role on the resource";

/** The OpenAI list shape (`{object: 'list', data: [{id, ...}]}`), which Azure OpenAI's Models - List answers too. */
const ModelList = z.looseObject({ data: z.array(z.looseObject({ id: z.string() })) });

export function createOpenAiSceneClassifier(config: OpenAiSceneConfig, deps: SceneClassifierDeps = {}): SceneClassifier {
  const provider = config.azure || isAzureOpenAiUrl(config.baseURL) ? 'azure-openai' : 'openai';
  const auth = resolveAuth(config.auth, provider, {
    scope: COGNITIVE_SERVICES_SCOPE,
    env: deps.env,
    credential: deps.credential,
    entraHint: ENTRA_HINT,
  });
  const tokenProvider = auth.type === 'entra' ? auth.token : undefined;
  // Our AbortSignal ends a request at timeoutMs; the SDK's timeout is only a backstop behind it.
  const common = { maxRetries: 0, timeout: config.timeoutMs + 5_000, ...(deps.fetch ? { fetch: deps.fetch } : {}) };

  let client: OpenAI;
  let model: ModelInfo;
  if (config.azure) {
    const { endpoint, deployment, apiVersion } = config.azure;
    client = new AzureOpenAI({
      ...common,
      endpoint,
      deployment,
      apiVersion,
      ...(tokenProvider ? { azureADTokenProvider: tokenProvider } : { apiKey: auth.type === 'key' ? auth.key : 'none' }),
    });
    model = { provider, model: config.model ?? deployment, apiVersion, endpoint };
  } else {
    if (!config.baseURL || !config.model) {
      throw new LabelingError('config', `${provider}: give either azure {endpoint, deployment} or baseURL and model`, {
        retryable: false,
        provider,
      });
    }
    client = new OpenAI({
      ...common,
      baseURL: config.baseURL,
      apiKey: tokenProvider ?? (auth.type === 'key' ? auth.key : 'none'),
    });
    model = { provider, model: config.model, endpoint: config.baseURL };
  }
  const modelName = model.model;
  const family: ModelFamily = config.family === 'auto' ? modelFamilyOf(modelName) : config.family;
  // The -chat variants of reasoning models take the reasoning rules but no reasoning_effort.
  const reasoningEffort = family === 'reasoning' && !/-chat\b/i.test(modelName) ? config.reasoningEffort : undefined;
  const runner = createRemoteCallRunner(provider, config, remoteCallOptions(deps));
  /** Downgraded for this and later calls when the server refuses a response_format. */
  let mode: AnswerMode = 'json_schema';

  const mapError = (error: unknown, imageName?: string): unknown => {
    if (error instanceof LabelingError) return error;
    // Our per-attempt signal or the caller's: callWithRetries tells timeout from cancellation.
    if (error instanceof APIUserAbortError) return error;
    if (error instanceof APIConnectionError) {
      // fetch says only "fetch failed"; its own cause names the reason (ECONNREFUSED, ENOTFOUND...).
      const cause = error.cause instanceof Error ? ` (${networkReason(error.cause)})` : '';
      return new ProviderError(`${provider}: cannot reach the service: ${error.message}${cause}`, {
        provider,
        retryable: true,
        cause: error,
      });
    }
    if (error instanceof APIError && error.status !== undefined) {
      // `error.error` is the body's `error` object; without one, the SDK's message says what came back.
      return httpFailure(provider, error.status, error.headers, error.error ?? error.message, {
        authHint: auth.hint,
        isInvalidImage: isImageRejection,
        imageName,
        cause: error,
      });
    }
    // A 2xx body announced as JSON that does not parse.
    if (error instanceof SyntaxError) {
      return new BadResponseError(`${provider}: the response body is not valid JSON (${error.message})`, { provider, cause: error });
    }
    if (error instanceof OpenAIError && /Failed to get token|'apiKey' function/.test(error.message)) {
      const unavailable = (error.cause as Error | undefined)?.name === 'CredentialUnavailableError';
      return new ProviderError(`${provider}: no Entra ID token: ${error.message}`, { provider, retryable: !unavailable, cause: error });
    }
    return error;
  };

  const request = (image: ImageInput, requestMode: AnswerMode, signal: AbortSignal) => {
    const body: ChatCompletionCreateParamsNonStreaming =
      family === 'reasoning'
        ? {
            model: modelName,
            messages: sceneMessages(image, config.detail),
            max_completion_tokens: SCENE_MAX_COMPLETION_TOKENS_REASONING,
            ...(reasoningEffort ? { reasoning_effort: reasoningEffort as ChatCompletionCreateParamsNonStreaming['reasoning_effort'] } : {}),
          }
        : { model: modelName, messages: sceneMessages(image, config.detail), temperature: 0, max_tokens: SCENE_MAX_TOKENS };
    if (requestMode === 'json_schema') {
      body.response_format = SCENE_RESPONSE_FORMAT as unknown as ChatCompletionCreateParamsNonStreaming['response_format'];
    } else if (requestMode === 'json_object') body.response_format = { type: 'json_object' };
    return client.chat.completions.create(body, { signal, maxRetries: 0 });
  };

  /**
   * The health probe: list the models (free, authenticated). The SDK builds `{baseURL}/models`: for Azure OpenAI
   * that is `{endpoint}/openai/models?api-version=...` (Models - List, a data-plane route the deployment's
   * credentials may read), for OpenAI-compatible servers `{baseURL}/models`. Only the first page is read.
   */
  const target = probeTarget(`${client.baseURL.replace(/\/+$/, '')}/models`);
  const listModels = async (signal: AbortSignal): Promise<ProbeAnswer> => {
    let text: string;
    try {
      const response = await client.models.list({ signal, maxRetries: 0 }).asResponse();
      text = await response.text();
    } catch (error) {
      if (error instanceof APIError && isRouteNotServed(error.status)) return routeNotServed(target, error.status!);
      throw mapError(error);
    }
    const listed = parseJsonAnswer(provider, text, ModelList);
    return { check: 'authenticated', note: `${listed.data.length} models listed` };
  };

  return {
    model,
    probe: cachedProbe({ check: 'authenticated', target, call: listModels }, deps.probe),
    async classify(image: ImageInput, options: CallOptions = {}): Promise<SceneResult> {
      let requests = 0;
      let usage: TokenUsage | undefined;
      const { value } = await runner.run(async (signal) => {
        let used = mode;
        let completion: ChatCompletion;
        for (;;) {
          try {
            requests++;
            completion = await request(image, used, signal);
            break;
          } catch (error) {
            if (used === 'text' || !(error instanceof APIError) || !isResponseFormatRejection(error.status, error.param, error.message)) {
              throw mapError(error, image.name);
            }
            // The server does not support this response_format: step down, and remember it for later calls.
            const from = used;
            used = used === 'json_schema' ? 'json_object' : 'text';
            if (MODE_RANK[used] > MODE_RANK[mode]) {
              mode = used;
              deps.onModeChange?.({ provider, from, to: used, reason: error.message });
            }
            await runner.acquire(signal);
          }
        }
        return interpret(completion, used, image.name);
      }, options.signal);
      return { ...value, attempts: requests, ...(usage ? { usage } : {}) };

      function interpret(completion: unknown, used: AnswerMode, imageName: string): SceneResult {
        usage = addUsage(usage, (completion as Partial<ChatCompletion> | null)?.usage);
        const choice = firstChoice(completion, provider, imageName);
        const content = choice.message.content ?? '';
        const parsed = parseSceneAnswer(content);
        if (!parsed.ok) {
          const limit = family === 'reasoning' ? 'max_completion_tokens, reasoning included' : 'max_tokens';
          const truncated = choice.finish_reason === 'length' ? ` (cut off at ${limit})` : '';
          throw new BadResponseError(`${provider}: ${parsed.problem}${truncated}`, { provider });
        }
        return sceneResult(parsed.answer, { content, mode: used, family }, usage, requests);
      }
    },
  };
}
