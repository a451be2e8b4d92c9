/**
 * The OpenAI / Azure OpenAI scene classifier through the real openai SDK against a local fake service.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAiSceneSchema } from '../src/core/config/labeling-config';
import { BadResponseError, InvalidImageError, LabelingError, ProviderError, ProviderTimeoutError } from '../src/core/pipeline/errors';
import type { ImageInput } from '../src/core/pipeline/types';
import { ATTRIBUTE_VOCABULARIES } from '../src/core/taxonomy/attributes';
import { createOpenAiSceneClassifier, type SceneClassifierDeps, type SceneRawAnswer } from '../src/providers/scene/openai-scene';
import { PROMPT_SHA256, PROMPT_VERSION, SCENE_SYSTEM_PROMPT, SCENE_USER_PROMPT } from '../src/providers/scene/prompt';
import { DEFAULT_CONFIDENCE, extractJsonObject, parseSceneAnswer } from '../src/providers/scene/scene-answer';
import { COGNITIVE_SERVICES_SCOPE } from '../src/providers/shared/auth';
import { sceneAnswer, startChatServer, type ChatScript, type ChatServer, type ChatStep } from './fakes/openai-chat-server';
import { closedAfterTests, fakeCredential, loadSampleImage } from './helpers/provider-fixtures';

const DEPLOYMENT = 'gpt-4o-scene';
const API_VERSION = '2024-10-21';
const KEY_ENV = 'SCENE_TEST_OPENAI_KEY';
const KEY = 'test-key-3f9a';
const deps: SceneClassifierDeps = { env: { [KEY_ENV]: KEY }, retry: { baseDelayMs: 5, maxDelayMs: 20 } };

let image: ImageInput;
const servers = closedAfterTests<ChatServer>();

before(async () => {
  image = await loadSampleImage(0);
});

/** An Azure OpenAI deployment on a fake server. */
async function azure(script: ChatScript, config: Record<string, unknown> = {}, extraDeps: SceneClassifierDeps = {}) {
  const server = await startChatServer(script, { path: `/openai/deployments/${DEPLOYMENT}/chat/completions`, apiVersion: API_VERSION });
  servers.push(server);
  const parsed = OpenAiSceneSchema.parse({
    provider: 'openai',
    azure: { endpoint: server.url, deployment: DEPLOYMENT, apiVersion: API_VERSION },
    auth: { type: 'key', apiKeyEnv: KEY_ENV },
    timeoutMs: 3000,
    maxRetries: 2,
    ...config,
  });
  return { server, classifier: createOpenAiSceneClassifier(parsed, { ...deps, ...extraDeps }) };
}

/** An OpenAI-compatible server (Ollama, vLLM...) at {base}/v1. */
async function compatible(script: ChatScript, config: Record<string, unknown> = {}, extraDeps: SceneClassifierDeps = {}) {
  const server = await startChatServer(script, { path: '/v1/chat/completions' });
  servers.push(server);
  const parsed = OpenAiSceneSchema.parse({
    provider: 'openai',
    baseURL: `${server.url}/v1`,
    model: 'llava:13b',
    auth: { type: 'key', apiKeyEnv: KEY_ENV },
    timeoutMs: 3000,
    maxRetries: 2,
    ...config,
  });
  return { server, classifier: createOpenAiSceneClassifier(parsed, { ...deps, ...extraDeps }) };
}

const goodContent = sceneAnswer('rainy', 'night', 'highway', { weather: 0.7, timeofday: 0.99, scene: 0.85 });
const good: ChatStep = { content: goodContent };

test('Azure OpenAI: the request the SDK sends and the normalised result', async () => {
  const { server, classifier } = await azure([good]);
  const result = await classifier.classify(image);

  assert.equal(server.requests.length, 1);
  const request = server.requests[0]!;
  const url = new URL(request.url, 'http://x');
  assert.equal(request.method, 'POST');
  assert.equal(url.pathname, `/openai/deployments/${DEPLOYMENT}/chat/completions`);
  assert.equal(url.searchParams.get('api-version'), API_VERSION);
  assert.equal(request.headers['api-key'], KEY);
  assert.equal(request.headers['authorization'], undefined);

  const body = server.bodies()[0]!;
  assert.equal(body.model, DEPLOYMENT);
  assert.equal(body.temperature, 0);
  assert.equal(body.max_tokens, 200);
  assert.deepEqual(body.messages[0], { role: 'system', content: SCENE_SYSTEM_PROMPT });
  const user = body.messages[1]!;
  assert.equal(user.role, 'user');
  assert.ok(Array.isArray(user.content));
  assert.deepEqual(user.content[0], { type: 'text', text: SCENE_USER_PROMPT });
  assert.deepEqual(user.content[1], {
    type: 'image_url',
    image_url: { url: `data:image/jpeg;base64,${Buffer.from(image.bytes).toString('base64')}`, detail: 'low' },
  });
  const format = body.response_format!;
  assert.equal(format.type, 'json_schema');
  assert.equal(format.json_schema!.strict, true);
  const schema = format.json_schema!.schema;
  assert.deepEqual(schema.properties.weather.enum, [...ATTRIBUTE_VOCABULARIES.weather]);
  assert.deepEqual(schema.properties.timeofday.enum, [...ATTRIBUTE_VOCABULARIES.timeofday]);
  assert.deepEqual(schema.properties.scene.enum, [...ATTRIBUTE_VOCABULARIES.scene]);
  assert.deepEqual(schema.required, ['weather', 'timeofday', 'scene', 'confidence']);
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(schema.properties.confidence.required, ['weather', 'timeofday', 'scene']);
  assert.equal(schema.properties.confidence.additionalProperties, false);

  assert.deepEqual(result.attributes, { weather: 'rainy', timeofday: 'night', scene: 'highway' });
  assert.deepEqual(result.confidence, { weather: 0.7, timeofday: 0.99, scene: 0.85 });
  assert.deepEqual(result.raw, { content: goodContent, mode: 'json_schema' } satisfies SceneRawAnswer);
  assert.deepEqual(result.usage, { promptTokens: 812, completionTokens: 41 });
  assert.equal(result.attempts, 1);
  assert.deepEqual(result.prompt, { version: PROMPT_VERSION, sha256: PROMPT_SHA256 });
  assert.match(PROMPT_SHA256, /^[0-9a-f]{64}$/);
  assert.equal(PROMPT_VERSION, 'scene-v1');
  assert.deepEqual(classifier.model, { provider: 'azure-openai', model: DEPLOYMENT, apiVersion: API_VERSION, endpoint: server.url });
});

test('OpenAI-compatible server: {baseURL}/chat/completions, Bearer key, model name and detail from the config', async () => {
  const { server, classifier } = await compatible([good], { detail: 'high' });
  const result = await classifier.classify(image);
  const request = server.requests[0]!;
  assert.equal(new URL(request.url, 'http://x').pathname, '/v1/chat/completions');
  assert.equal(request.headers['authorization'], `Bearer ${KEY}`);
  const body = server.bodies()[0]!;
  assert.equal(body.model, 'llava:13b');
  const part = (body.messages[1]!.content as { image_url?: { detail?: string } }[])[1]!;
  assert.equal(part.image_url!.detail, 'high');
  assert.equal(result.attributes.scene, 'highway');
  assert.deepEqual(classifier.model, { provider: 'openai', model: 'llava:13b', endpoint: `${server.url}/v1` });
});

test('auth none sends a placeholder key (local servers ignore it)', async () => {
  const { server, classifier } = await compatible([good], { auth: { type: 'none' } });
  await classifier.classify(image);
  assert.equal(server.requests[0]!.headers['authorization'], 'Bearer none');
});

test('out-of-vocabulary answers are normalised and the raw answer kept', async () => {
  const content = sceneAnswer('sunny', 'Dusk', 'urban area', { weather: 0.8, timeofday: 0.6, scene: 0.7 });
  const { classifier } = await azure([{ content }]);
  const result = await classifier.classify(image);
  assert.deepEqual(result.attributes, { weather: 'clear', timeofday: 'dawn/dusk', scene: 'city street' });
  assert.deepEqual(result.confidence, { weather: 0.8, timeofday: 0.6, scene: 0.7 });
  assert.equal((result.raw as SceneRawAnswer).content, content);
});

test('an answer in code fences with text around it, no confidence and an unknown value', async () => {
  const content = 'Here is the label:\n```json\n{"weather": "overcast", "time_of_day": "daytime", "scene": "mountain pass"}\n```\nHope it helps.';
  const { classifier } = await compatible([{ content }]);
  const result = await classifier.classify(image);
  assert.deepEqual(result.attributes, { weather: 'overcast', timeofday: 'daytime', scene: 'undefined' });
  // No stated confidence: the documented default; an unrecognised value: 0.
  assert.deepEqual(result.confidence, { weather: DEFAULT_CONFIDENCE, timeofday: DEFAULT_CONFIDENCE, scene: 0 });
  assert.deepEqual(result.raw, { content, mode: 'json_schema', unrecognized: ['scene'] });
});

test('429 with Retry-After: 1 waits about a second, then succeeds', async () => {
  const { server, classifier } = await azure([{ error: { status: 429, code: '429', message: 'Rate limit exceeded' }, headers: { 'retry-after': '1' } }, good]);
  const started = performance.now();
  const result = await classifier.classify(image);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 950 && elapsed < 2500, `waited ${elapsed} ms`);
  assert.equal(server.requests.length, 2);
  assert.equal(result.attempts, 2);
  assert.equal(result.attributes.weather, 'rainy');
});

test('429 with retry-after-ms is preferred over Retry-After (seconds)', async () => {
  const delays: number[] = [];
  const { server, classifier } = await azure(
    [{ error: { status: 429, code: '429', message: 'Rate limit exceeded' }, headers: { 'retry-after-ms': '120', 'retry-after': '1' } }, good],
    {},
    { onRetry: (e) => delays.push(e.delayMs) },
  );
  const started = performance.now();
  await classifier.classify(image);
  const elapsed = performance.now() - started;
  assert.deepEqual(delays, [120]);
  assert.ok(elapsed >= 110 && elapsed < 900, `waited ${elapsed} ms`);
  assert.equal(server.requests.length, 2);
});

test('500 then success: retried', async () => {
  const { server, classifier } = await azure([{ error: { status: 500, code: 'InternalServerError', message: 'boom' } }, good]);
  const result = await classifier.classify(image);
  assert.equal(result.attempts, 2);
  assert.equal(server.requests.length, 2);
});

test('500 for longer than the retries: retryable ProviderError after maxRetries + 1 requests (SDK retries off)', async () => {
  const retries: number[] = [];
  const { server, classifier } = await azure(
    [{ error: { status: 503, code: 'ServiceUnavailable', message: 'The service is temporarily unavailable' } }],
    { maxRetries: 2 },
    { onRetry: (e) => retries.push(e.attempt) },
  );
  await assert.rejects(classifier.classify(image), (error) => {
    assert.ok(error instanceof ProviderError);
    assert.equal(error.retryable, true);
    assert.equal(error.status, 503);
    assert.equal(error.requestId, 'req-3');
    assert.match(error.message, /azure-openai: service error \(503 ServiceUnavailable: The service is temporarily unavailable\)/);
    return true;
  });
  assert.equal(server.requests.length, 3);
  assert.deepEqual(retries, [1, 2]);
});

test('a hang past timeoutMs: ProviderTimeoutError per attempt', async () => {
  const { server, classifier } = await azure([{ ...good, delayMs: 1000 }], { timeoutMs: 300, maxRetries: 1 });
  const started = performance.now();
  await assert.rejects(classifier.classify(image), (error) => {
    assert.ok(error instanceof ProviderTimeoutError);
    assert.equal(error.retryable, true);
    assert.match(error.message, /no answer within 300 ms/);
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 580 && elapsed < 1000, `took ${elapsed} ms`);
  assert.equal(server.requests.length, 2);
});

test('malformed JSON content is retried, then succeeds', async () => {
  const { server, classifier } = await azure([{ content: '{"weather": "clear", "timeofday": ' }, good]);
  const result = await classifier.classify(image);
  assert.equal(result.attempts, 2);
  assert.equal(server.requests.length, 2);
  // Tokens of both answers were spent.
  assert.deepEqual(result.usage, { promptTokens: 1624, completionTokens: 82 });
});

test('malformed content that persists: BadResponseError', async () => {
  const { server, classifier } = await azure([{ content: 'I cannot tell the weather from this image.' }], { maxRetries: 1 });
  await assert.rejects(classifier.classify(image), (error) => {
    assert.ok(error instanceof BadResponseError);
    assert.match(error.message, /no JSON object/);
    return true;
  });
  assert.equal(server.requests.length, 2);
});

test('values outside the schema (a confidence of 7000): BadResponseError', async () => {
  const { classifier } = await azure([{ content: sceneAnswer('clear', 'daytime', 'highway', { weather: 7000, timeofday: 1, scene: 1 }) }], { maxRetries: 0 });
  await assert.rejects(classifier.classify(image), (error) => error instanceof BadResponseError && /confidence\.weather/.test(error.message));
});

test('a non-JSON HTTP body with status 200 (an HTML page): BadResponseError', async () => {
  const { classifier } = await azure([{ raw: { status: 200, headers: { 'content-type': 'text/html' }, body: '<html><body>Gateway login</body></html>' } }], {
    maxRetries: 0,
  });
  await assert.rejects(classifier.classify(image), (error) => {
    assert.ok(error instanceof BadResponseError);
    assert.match(error.message, /not a chat completion: <html>/);
    return true;
  });
});

test('a body announced as JSON that does not parse: BadResponseError', async () => {
  const { classifier } = await azure([{ raw: { status: 200, headers: { 'content-type': 'application/json' }, body: '{"id": "x", "choi' } }], {
    maxRetries: 0,
  });
  await assert.rejects(classifier.classify(image), (error) => error instanceof BadResponseError && /not valid JSON/.test(error.message));
});

test('json_schema rejected with 400: falls back to json_object, for later calls too', async () => {
  const { server, classifier } = await azure((request) =>
    (request.json as { response_format?: { type: string } }).response_format?.type === 'json_schema'
      ? {
          error: {
            status: 400,
            code: 'BadRequest',
            param: 'response_format',
            message: "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
          },
        }
      : { content: sceneAnswer('snowy', 'daytime', 'residential') },
  );
  const first = await classifier.classify(image);
  assert.deepEqual(server.bodies().map((b) => b.response_format?.type), ['json_schema', 'json_object']);
  assert.equal(first.attempts, 2);
  assert.equal((first.raw as SceneRawAnswer).mode, 'json_object');
  assert.equal(first.attributes.weather, 'snowy');
  const second = await classifier.classify(image);
  assert.deepEqual(server.bodies().map((b) => b.response_format?.type), ['json_schema', 'json_object', 'json_object']);
  assert.equal(second.attempts, 1);
  assert.equal((second.raw as SceneRawAnswer).mode, 'json_object');
});

test('a server refusing every response_format: answered without one, parsed from the text', async () => {
  const { server, classifier } = await compatible((request) =>
    (request.json as { response_format?: unknown }).response_format
      ? { error: { status: 400, code: 'invalid_request_error', message: 'response_format is not supported' } }
      : { content: 'Sure! {"weather": "foggy", "timeofday": "night", "scene": "tunnel"}' },
  );
  const result = await classifier.classify(image);
  assert.deepEqual(server.bodies().map((b) => b.response_format?.type ?? 'none'), ['json_schema', 'json_object', 'none']);
  assert.equal((result.raw as SceneRawAnswer).mode, 'text');
  assert.deepEqual(result.attributes, { weather: 'foggy', timeofday: 'night', scene: 'tunnel' });
});

test('401: non-retryable ProviderError naming the key variable', async () => {
  const { server, classifier } = await azure([
    { error: { status: 401, code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' } },
  ]);
  await assert.rejects(classifier.classify(image), (error) => {
    assert.ok(error instanceof ProviderError);
    assert.equal(error.retryable, false);
    assert.equal(error.status, 401);
    assert.match(error.message, /authentication failed \(401 401: Access denied/);
    assert.match(error.message, new RegExp(KEY_ENV));
    return true;
  });
  assert.equal(server.requests.length, 1);
});

test('400 content filter: InvalidImageError saying the image was rejected, not retried', async () => {
  const { server, classifier } = await azure([
    {
      error: {
        status: 400,
        code: 'content_filter',
        message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
      },
    },
  ]);
  await assert.rejects(classifier.classify(image), (error) => {
    assert.ok(error instanceof InvalidImageError);
    assert.equal(error.retryable, false);
    assert.ok(error.message.startsWith(`${image.name}: the image was rejected by azure-openai (400 content_filter`), error.message);
    return true;
  });
  assert.equal(server.requests.length, 1);
});

test('other 4xx: non-retryable ProviderError', async () => {
  const { server, classifier } = await azure([{ error: { status: 400, code: 'BadRequest', message: 'max_tokens is too large' } }]);
  await assert.rejects(classifier.classify(image), (error) => error instanceof ProviderError && !error.retryable && error.status === 400);
  assert.equal(server.requests.length, 1);
});

test('Entra ID: the injected credential\'s token goes out as Authorization: Bearer', async () => {
  const { credential, scopes } = fakeCredential('fake-entra-token');
  const { server, classifier } = await azure([good], { auth: { type: 'entra' } }, { credential });
  await classifier.classify(image);
  await classifier.classify(image);
  const headers = server.requests.map((r) => r.headers);
  assert.deepEqual(headers.map((h) => h['authorization']), ['Bearer fake-entra-token', 'Bearer fake-entra-token']);
  assert.equal(headers[0]!['api-key'], undefined);
  assert.deepEqual(scopes[0], [COGNITIVE_SERVICES_SCOPE]);
  assert.equal(scopes.length, 1, 'the token is cached between calls');
});

test('a missing key variable is reported at construction, naming it', () => {
  const config = OpenAiSceneSchema.parse({
    provider: 'openai',
    baseURL: 'http://127.0.0.1:9/v1',
    model: 'm',
    auth: { type: 'key', apiKeyEnv: 'SCENE_TEST_UNSET_KEY' },
  });
  assert.throws(
    () => createOpenAiSceneClassifier(config, { env: {} }),
    (error) => error instanceof LabelingError && error.kind === 'config' && !error.retryable && /SCENE_TEST_UNSET_KEY is not set/.test(error.message),
  );
});

test('concurrency 1: a second image waits for the first request to finish', async () => {
  let inFlight = 0;
  let most = 0;
  const { classifier } = await compatible(
    async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 60));
      inFlight--;
      return good;
    },
    { concurrency: 1 },
  );
  await Promise.all([classifier.classify(image), classifier.classify(image), classifier.classify(image)]);
  assert.equal(most, 1);
});

test('a caller abort stops the call at once, without retries', async () => {
  const { server, classifier } = await azure([{ ...good, delayMs: 1000 }], { maxRetries: 3 });
  const controller = new AbortController();
  const started = performance.now();
  const call = classifier.classify(image, { signal: controller.signal });
  setTimeout(() => controller.abort(new Error('shutting down')), 100);
  await assert.rejects(call, /shutting down/);
  assert.ok(performance.now() - started < 600);
  assert.equal(server.requests.length, 1);
});

test('requestsPerMinute spaces the requests', async () => {
  // Timed where the SDK hands each request to fetch (server arrival times are noisier).
  const sent: number[] = [];
  const timedFetch: SceneClassifierDeps['fetch'] = (input, init) => {
    sent.push(performance.now());
    return fetch(input, init);
  };
  const { classifier } = await compatible([good], { requestsPerMinute: 300, concurrency: 4 }, { fetch: timedFetch });
  await Promise.all([classifier.classify(image), classifier.classify(image), classifier.classify(image)]);
  assert.equal(sent.length, 3);
  // 300 per minute: one every 200 ms (without the limiter all three leave within a few ms).
  const gaps = [sent[1]! - sent[0]!, sent[2]! - sent[1]!];
  assert.ok(gaps.every((gap) => gap >= 120), `gaps ${gaps.map(Math.round).join(', ')} ms`);
});

test('answer parsing: braces inside strings, nested confidences, percentages, one confidence for all, nulls', () => {
  assert.deepEqual(extractJsonObject('note {not json} then {"a": "x}y", "b": {"c": 1}} trailing'), { a: 'x}y', b: { c: 1 } });
  assert.equal(extractJsonObject('[1, 2]'), undefined);

  const nested = parseSceneAnswer('{"weather": {"value": "Rain", "confidence": 0.4}, "timeofday": "evening", "scene": "freeway", "confidence": 80}');
  assert.ok(nested.ok);
  assert.deepEqual(nested.answer.attributes, { weather: 'rainy', timeofday: 'dawn/dusk', scene: 'highway' });
  assert.deepEqual(nested.answer.confidence, { weather: 0.4, timeofday: 0.8, scene: 0.8 });
  assert.deepEqual(nested.answer.rawValues, { weather: 'Rain', timeofday: 'evening', scene: 'freeway' });

  const nulls = parseSceneAnswer('{"weather": null, "timeofday": "night", "scene": "gas station", "confidence": {"weather": null, "timeofday": "5%", "scene": 1}}');
  assert.ok(nulls.ok);
  assert.deepEqual(nulls.answer.attributes, { weather: 'undefined', timeofday: 'night', scene: 'gas stations' });
  assert.deepEqual(nulls.answer.confidence, { weather: DEFAULT_CONFIDENCE, timeofday: 0.05, scene: 1 });
  assert.deepEqual(nulls.answer.defaultedConfidence, ['weather']);

  const missing = parseSceneAnswer('{"weather": "clear", "scene": "highway"}');
  assert.ok(!missing.ok);
  assert.match(missing.problem, /timeofday/);
  const wrongType = parseSceneAnswer('{"weather": 3, "timeofday": "night", "scene": "highway"}');
  assert.ok(!wrongType.ok);
  assert.match(wrongType.problem, /weather/);
  assert.deepEqual(parseSceneAnswer('   '), { ok: false, problem: 'the answer is empty' });
});
