/**
 * Scene attributes from a model deployed in Azure AI Foundry (Azure AI model inference, @azure-rest/ai-inference),
 * by default Phi-4-multimodal-instruct. The model does not guarantee a JSON schema: each answer is validated with zod
 * and, when invalid, ONE repair request follows in the same attempt (the bad answer sent back with an instruction to
 * answer only with the JSON object). Still invalid: BadResponseError, retried per the config like any other.
 */
import ModelClient, { isUnexpected, type ChatRequestMessage, type ModelClientOptions } from '@azure-rest/ai-inference';
import { AzureKeyCredential, type KeyCredential, type TokenCredential } from '@azure/core-auth';
import { z } from 'zod';
import type { FoundrySceneSchema } from '../../../core/config/labeling-config';
import { BadResponseError, LabelingError, ProviderError } from '../../../core/pipeline/errors';
import type { CallOptions, ImageInput, ModelInfo, SceneClassifier, SceneResult, TokenUsage } from '../../../core/pipeline/types';
import { AZURE_ML_SCOPE, COGNITIVE_SERVICES_SCOPE, resolveAuth } from '../shared/auth';
import { httpFailure, truncate, validate } from '../shared/http-errors';
import { cachedProbe, isRouteNotServed, probeTarget, routeNotServed, type ProbeAnswer } from '../shared/probe';
import { createRemoteCallRunner } from '../shared/remote-call';
import { SCENE_MAX_TOKENS, SCENE_REPAIR_PROMPT, sceneMessages } from './prompt';
import { parseSceneAnswer } from './scene-answer';
import { addUsage, firstChoice } from './chat-completion';
import { isImageRejection, remoteCallOptions, sceneResult, type SceneClassifierDeps } from './openai-scene';

export type FoundrySceneConfig = z.infer<typeof FoundrySceneSchema>;

export interface FoundrySceneDeps extends SceneClassifierDeps {
  /** Transport under the SDK's pipeline (default: the SDK's own HTTP client). */
  httpClient?: ModelClientOptions['httpClient'];
}

/** Pinned rather than left to the SDK's default, so provenance says what was called. */
export const FOUNDRY_API_VERSION = '2024-05-01-preview';

/**
 * Foundry resources (`*.services.ai.azure.com/models`, `*.cognitiveservices.azure.com`) take Cognitive Services
 * tokens; the older serverless endpoints (`*.models.ai.azure.com`, `*.inference.ml.azure.com`) take Azure ML ones.
 */
export function foundryTokenScope(endpoint: string): string {
  const host = new URL(endpoint).hostname.toLowerCase();
  return host.endsWith('.models.ai.azure.com') || host.endsWith('.inference.ml.azure.com') ? AZURE_ML_SCOPE : COGNITIVE_SERVICES_SCOPE;
}

/** Get Model Info's answer (`GET /info`): the fields a probe reports. */
const ModelInfoAnswer = z.looseObject({ model_name: z.string(), model_provider_name: z.string().optional() });

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname.toLowerCase();
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function createFoundrySceneClassifier(config: FoundrySceneConfig, deps: FoundrySceneDeps = {}): SceneClassifier {
  const provider = 'foundry';
  const scope = foundryTokenScope(config.endpoint);
  const auth = resolveAuth(config.auth, provider, {
    scope,
    env: deps.env,
    credential: deps.credential,
    entraHint: "the identity needs the 'Cognitive Services User' role on the Foundry resource",
  });
  // `none`: the ai-inference client needs a credential object; an empty key sends an empty api-key header.
  const credential: TokenCredential | KeyCredential =
    auth.type === 'entra' ? auth.credential : new AzureKeyCredential(auth.type === 'key' ? auth.key : 'none');
  // Keys and tokens travel in headers: plain http only to this machine (a local proxy, tests).
  const insecure = new URL(config.endpoint).protocol === 'http:';
  if (insecure && !isLoopback(config.endpoint)) {
    throw new LabelingError('config', `${provider}: endpoint ${config.endpoint} must use https (http is accepted for localhost only)`, {
      retryable: false,
      provider,
    });
  }
  if (insecure && auth.type === 'entra') {
    throw new LabelingError('config', `${provider}: Entra ID tokens are sent over https only; endpoint ${config.endpoint} is http`, {
      retryable: false,
      provider,
    });
  }
  const client = ModelClient(config.endpoint, credential, {
    ...(insecure ? { allowInsecureConnection: true } : {}),
    apiVersion: FOUNDRY_API_VERSION,
    // Retries are ours (callWithRetries); the pipeline's own retry policies would multiply them.
    retryOptions: { maxRetries: 0 },
    credentials: { scopes: [scope] },
    ...(deps.httpClient ? { httpClient: deps.httpClient } : {}),
  });
  const model: ModelInfo = { provider, model: config.model, apiVersion: FOUNDRY_API_VERSION, endpoint: config.endpoint };
  const runner = createRemoteCallRunner(provider, config, remoteCallOptions(deps));

  /** Thrown errors of the pipeline (network, unparsable JSON body, credentials) as typed errors. */
  const mapThrown = (error: unknown): unknown => {
    if (error instanceof LabelingError || !(error instanceof Error)) return error;
    if (error.name === 'AbortError') return error; // our timeout or the caller: callWithRetries tells which
    const code = (error as { code?: unknown }).code;
    if (error.name === 'RestError' && code === 'PARSE_ERROR') {
      return new BadResponseError(`${provider}: the response body is not valid JSON (${truncate(error.message, 200)})`, {
        provider,
        cause: error,
      });
    }
    if (error.name === 'CredentialUnavailableError' || /non-TLS/.test(error.message)) {
      return new ProviderError(`${provider}: cannot authenticate: ${error.message}`, { provider, retryable: false, cause: error });
    }
    return new ProviderError(`${provider}: cannot reach the service: ${error.message}${typeof code === 'string' ? ` (${code})` : ''}`, {
      provider,
      retryable: true,
      cause: error,
    });
  };

  /**
   * The health probe: Get Model Info (`GET {endpoint}/info`), free and authenticated. Serverless and managed compute
   * endpoints serve it; a Foundry resource's multi-model endpoint may not (404): then the endpoint answered, which
   * proves it is reachable and no more.
   */
  const target = probeTarget(`${config.endpoint.replace(/\/+$/, '')}/info`);
  const modelInfo = async (signal: AbortSignal): Promise<ProbeAnswer> => {
    let response;
    try {
      response = await client.path('/info').get({ abortSignal: signal });
    } catch (error) {
      throw mapThrown(error);
    }
    const status = Number(response.status);
    if (isUnexpected(response)) {
      if (isRouteNotServed(status)) return routeNotServed(target, status);
      throw httpFailure(provider, status, response.headers, response.body as unknown, { authHint: auth.hint });
    }
    const info = validate(provider, ModelInfoAnswer, response.body);
    return { check: 'authenticated', note: `model ${info.model_name}` };
  };

  return {
    model,
    probe: cachedProbe({ check: 'authenticated', target, call: modelInfo }, deps.probe),
    async classify(image: ImageInput, options: CallOptions = {}): Promise<SceneResult> {
      let requests = 0;
      let usage: TokenUsage | undefined;

      /** One request; the message content, or a typed error. */
      const ask = async (messages: ChatRequestMessage[], signal: AbortSignal): Promise<string> => {
        requests++;
        let response;
        try {
          response = await client.path('/chat/completions').post({
            body: { model: config.model, messages, max_tokens: SCENE_MAX_TOKENS, temperature: 0 },
            abortSignal: signal,
          });
        } catch (error) {
          throw mapThrown(error);
        }
        if (isUnexpected(response)) {
          throw httpFailure(provider, Number(response.status), response.headers, response.body as unknown, {
            authHint: auth.hint,
            isInvalidImage: isImageRejection,
            imageName: image.name,
          });
        }
        usage = addUsage(usage, (response.body as { usage?: { prompt_tokens?: number; completion_tokens?: number } } | null)?.usage);
        const choice = firstChoice(response.body as unknown, provider, image.name);
        return choice.message.content ?? '';
      };

      const { value } = await runner.run(async (signal) => {
        const messages: ChatRequestMessage[] = sceneMessages(image, 'auto');
        const content = await ask(messages, signal);
        const first = parseSceneAnswer(content);
        if (first.ok) return sceneResult(first.answer, { content, mode: 'text' }, usage, requests);

        // One repair: the same conversation, the bad answer, and the instruction to give only the JSON object.
        await runner.acquire(signal);
        const repaired = await ask([...messages, { role: 'assistant', content }, { role: 'user', content: SCENE_REPAIR_PROMPT }], signal);
        const second = parseSceneAnswer(repaired);
        if (second.ok) return sceneResult(second.answer, { content: repaired, mode: 'text', repaired: true }, usage, requests);
        throw new BadResponseError(`${provider}: ${second.problem} (after a repair request; first answer: ${first.problem})`, { provider });
      }, options.signal);
      return { ...value, attempts: requests, ...(usage ? { usage } : {}) };
    },
  };
}
