/**
 * A fake chat-completions service speaking the OpenAI / Azure OpenAI / Azure AI model inference wire format, for
 * tests that drive the REAL SDKs (openai, @azure-rest/ai-inference) against it:
 *   - POST {path} (e.g. /v1/chat/completions, /openai/deployments/{d}/chat/completions, /models/chat/completions),
 *     with `?api-version=` checked when one is expected; anything else answers 404 like the services do;
 *   - answers `{id, object: 'chat.completion', created, model, choices: [{index, message: {role: 'assistant',
 *     content, refusal: null}, finish_reason}], usage: {prompt_tokens, completion_tokens, total_tokens}}`; Azure
 *     OpenAI (a path under /openai/) adds its content filter's verdicts, `prompt_filter_results` and each choice's
 *     `content_filter_results`;
 *   - errors as `{error: {code, message, param, type}}` with the given status and headers (Retry-After, ...), with
 *     Azure's `innererror` / `inner_error` when the step has one (a content filter refusal: contentFilterRefusal).
 * Each request takes the next step of the script; the last step repeats.
 *
 * The free routes the providers' health probes call, when asked for (same api-version rule):
 *   - GET {modelsPath} (e.g. /v1/models, /openai/models): the OpenAI list,
 *     `{object: 'list', data: [{id, object: 'model', created, owned_by}]}`;
 *   - GET {infoPath} (e.g. /models/info): Azure AI model inference's model info,
 *     `{model_name, model_type, model_provider_name}`.
 * Like the services, they answer 401 without the expected credentials (`probeAuth`); `probeAnswer` replaces the
 * answer (a 500, an HTML page...).
 */
import { startFakeServer, type FakeServer, type RecordedRequest, type ScriptedResponse } from './http-server';

export interface ChatAnswerStep {
  content: string | null;
  finishReason?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  delayMs?: number;
  headers?: Record<string, string>;
}

export interface ChatErrorStep {
  error: {
    status: number;
    code?: string;
    message: string;
    param?: string | null;
    type?: string;
    /** Azure's inner error, sent as it is (Azure OpenAI writes `innererror`, or `inner_error` in newer answers). */
    innererror?: Record<string, unknown>;
    inner_error?: Record<string, unknown>;
  };
  headers?: Record<string, string>;
  delayMs?: number;
}

/** Anything else: sent verbatim (an HTML page with status 200, a broken JSON body...). */
export interface RawStep {
  raw: ScriptedResponse;
}

export type ChatStep = ChatAnswerStep | ChatErrorStep | RawStep;

/** Steps in order (the last one repeats), or a function of the request. */
export type ChatScript = ChatStep[] | ((request: RecordedRequest, index: number) => ChatStep | Promise<ChatStep>);

export interface ChatServerOptions {
  /** The chat-completions path expected, default `/v1/chat/completions`. */
  path?: string;
  /** When set, `api-version` must equal it (Azure OpenAI, Foundry). */
  apiVersion?: string;
  /** `model` echoed in answers (default: the request's). */
  model?: string;
  /** Serve the OpenAI list of models at this GET path. */
  modelsPath?: string;
  /** Serve Foundry's model info at this GET path. */
  infoPath?: string;
  /** The header and value the probe routes require (else 401, as the services answer a wrong key). */
  probeAuth?: { header: string; value: string };
  /** What the probe routes answer instead of the list or the info. */
  probeAnswer?: ChatErrorStep | RawStep;
  /**
   * The request rules of the model behind the route. `reasoning` (gpt-5.x, o-series): `max_tokens` and any
   * temperature but the default are refused with the service's 400 before the script is consulted. Default `chat`.
   */
  modelRules?: 'chat' | 'reasoning';
}

export interface ChatServer extends FakeServer {
  /** Parsed request bodies, in order. */
  bodies(): ChatRequestBody[];
  /** Answers sent so far, by kind (`probes`: requests to the models or info routes, whatever they answered). */
  readonly served: { answers: number; errors: number; raw: number; notFound: number; probes: number };
}

/** The subset of a chat-completions request the tests look at. */
export interface ChatRequestBody {
  model?: string;
  temperature?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  reasoning_effort?: string;
  response_format?: { type: string; json_schema?: { name: string; strict?: boolean; schema: Record<string, any> } };
  messages: { role: string; content: string | { type: string; text?: string; image_url?: { url: string; detail?: string } }[] }[];
}

export const DEFAULT_USAGE = { prompt_tokens: 812, completion_tokens: 41 };

/** A content filter category that let the text through, as Azure OpenAI reports it. */
const SAFE = { filtered: false, severity: 'safe' } as const;
const NOT_DETECTED = { filtered: false, detected: false } as const;

/** Azure OpenAI's verdicts on a prompt that passed its content filter. */
export const PROMPT_FILTER_RESULTS = [
  { prompt_index: 0, content_filter_results: { hate: SAFE, jailbreak: NOT_DETECTED, self_harm: SAFE, sexual: SAFE, violence: SAFE } },
];

/** Azure OpenAI's verdicts on a completion that passed its content filter. */
export const COMPLETION_FILTER_RESULTS = {
  hate: SAFE,
  protected_material_code: NOT_DETECTED,
  protected_material_text: NOT_DETECTED,
  self_harm: SAFE,
  sexual: SAFE,
  violence: SAFE,
};

/** A chat.completion body as the services send it (`azureContentFilter`: with Azure OpenAI's filter verdicts). */
export function chatCompletionBody(step: ChatAnswerStep, model: string, azureContentFilter = false) {
  const usage = step.usage ?? DEFAULT_USAGE;
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2, 12)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    ...(azureContentFilter ? { prompt_filter_results: PROMPT_FILTER_RESULTS } : {}),
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: step.content, refusal: null },
        finish_reason: step.finishReason ?? 'stop',
        ...(azureContentFilter ? { content_filter_results: COMPLETION_FILTER_RESULTS } : {}),
      },
    ],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

/**
 * Azure OpenAI's 400 when its content filter refuses the prompt: code `content_filter`, the verdicts under
 * `innererror.content_filter_result` or, in newer answers, `inner_error.content_filter_results`, inner code
 * `ResponsibleAIPolicyViolation`. `filtered`: the categories that tripped, with their severity.
 */
export function contentFilterRefusal(
  inner: 'innererror' | 'inner_error',
  filtered: Record<string, string>,
  code = 'content_filter',
  message = "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
): ChatErrorStep {
  const verdicts: Record<string, unknown> = { ...PROMPT_FILTER_RESULTS[0]!.content_filter_results };
  for (const [category, severity] of Object.entries(filtered)) {
    verdicts[category] = severity === 'detected' ? { filtered: true, detected: true } : { filtered: true, severity };
  }
  const resultsKey = inner === 'innererror' ? 'content_filter_result' : 'content_filter_results';
  return {
    error: { status: 400, code, message, param: 'prompt', [inner]: { code: 'ResponsibleAIPolicyViolation', [resultsKey]: verdicts } },
  };
}

/** The JSON a well-behaved model answers. */
export function sceneAnswer(
  weather: string,
  timeofday: string,
  scene: string,
  confidence: { weather: number; timeofday: number; scene: number } | undefined = { weather: 0.9, timeofday: 0.95, scene: 0.8 },
): string {
  return JSON.stringify({ weather, timeofday, scene, ...(confidence ? { confidence } : {}) });
}

/** The error body of the services: `{error: {code, message, param, type}}`. */
function errorAnswer(step: ChatErrorStep, headers: Record<string, string>): ScriptedResponse {
  const { status, code, message, param = null, type = status >= 500 ? 'server_error' : 'invalid_request_error', ...inner } = step.error;
  const body = { error: { code: code ?? String(status), message, param, type, ...inner } };
  return { status, headers, body, ...(step.delayMs ? { delayMs: step.delayMs } : {}) };
}

/** The OpenAI list of models: what GET /models answers (Azure OpenAI's Models - List uses the same shape). */
export function modelListBody(ids: string[]) {
  return { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'system' })) };
}

/** Azure AI model inference's GET /info answer. */
export function modelInfoBody(modelName: string) {
  return { model_name: modelName, model_type: 'chat_completion', model_provider_name: 'Microsoft' };
}

function probeResponse(request: RecordedRequest, pathname: string, options: ChatServerOptions): ScriptedResponse {
  const auth = options.probeAuth;
  if (auth && request.headers[auth.header.toLowerCase()] !== auth.value) {
    const message = 'Access denied due to invalid subscription key or wrong API endpoint.';
    return errorAnswer({ error: { status: 401, code: '401', message } }, {});
  }
  const step = options.probeAnswer;
  if (step) return 'raw' in step ? step.raw : errorAnswer(step, step.headers ?? {});
  const model = options.model ?? 'fake-model';
  return { status: 200, body: pathname === options.infoPath ? modelInfoBody(model) : modelListBody([model, 'other-model']) };
}

/** What a reasoning model answers to the parameters it does not take (OpenAI's and Azure OpenAI's wording). */
function reasoningModelRefusal(body: ChatRequestBody): ChatErrorStep | undefined {
  if (body.max_tokens !== undefined) {
    const message = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.";
    return { error: { status: 400, code: 'unsupported_parameter', message, param: 'max_tokens' } };
  }
  if (body.temperature !== undefined && body.temperature !== 1) {
    const message = `Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`;
    return { error: { status: 400, code: 'unsupported_value', message, param: 'temperature' } };
  }
  return undefined;
}

export async function startChatServer(script: ChatScript, options: ChatServerOptions = {}): Promise<ChatServer> {
  const path = options.path ?? '/v1/chat/completions';
  const served = { answers: 0, errors: 0, raw: 0, notFound: 0, probes: 0 };
  const probePaths = new Set([options.modelsPath, options.infoPath].filter((p): p is string => p !== undefined));
  let chatIndex = 0;
  const server = await startFakeServer(async (request): Promise<ScriptedResponse> => {
    const url = new URL(request.url, 'http://fake');
    const apiVersionOk = options.apiVersion === undefined || url.searchParams.get('api-version') === options.apiVersion;
    if (request.method === 'GET' && probePaths.has(url.pathname) && apiVersionOk) {
      served.probes++;
      return probeResponse(request, url.pathname, options);
    }
    if (request.method !== 'POST' || url.pathname !== path || !apiVersionOk) {
      served.notFound++;
      return {
        status: 404,
        body: { error: { code: '404', message: `Resource not found: ${request.method} ${request.url}` } },
      };
    }
    const index = chatIndex++;
    const refused = options.modelRules === 'reasoning' ? reasoningModelRefusal(request.json as ChatRequestBody) : undefined;
    const step = refused ?? (typeof script === 'function' ? await script(request, index) : script[Math.min(index, script.length - 1)]);
    if (!step) throw new Error('empty script');
    if ('raw' in step) {
      served.raw++;
      return step.raw;
    }
    const headers = { 'x-request-id': `req-${index + 1}`, ...step.headers };
    if ('error' in step) {
      served.errors++;
      return errorAnswer(step, headers);
    }
    served.answers++;
    const model = options.model ?? ((request.json as { model?: string } | undefined)?.model || 'fake-model');
    const body = chatCompletionBody(step, model, path.startsWith('/openai/'));
    return { status: 200, headers, body, ...(step.delayMs ? { delayMs: step.delayMs } : {}) };
  });
  return Object.assign(server, {
    served,
    bodies: () => server.requests.filter((r) => r.json !== undefined).map((r) => r.json as ChatRequestBody),
  });
}
