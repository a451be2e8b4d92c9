/**
 * The Azure AI Foundry scene classifier through the real @azure-rest/ai-inference client against a local fake service.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
// Test-only transport wrapper (the package is already installed as a dependency of the Azure SDKs).
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';
import { FoundrySceneSchema } from '../src/core/config/labeling-config';
import { BadResponseError, InvalidImageError, LabelingError, ProviderError, ProviderTimeoutError } from '../src/core/pipeline/errors';
import type { ImageInput } from '../src/core/pipeline/types';
import { createFoundrySceneClassifier, FOUNDRY_API_VERSION, type FoundrySceneDeps } from '../src/providers/scene/foundry-scene';
import type { SceneRawAnswer } from '../src/providers/scene/openai-scene';
import { PROMPT_SHA256, PROMPT_VERSION, SCENE_REPAIR_PROMPT, SCENE_SYSTEM_PROMPT, SCENE_USER_PROMPT } from '../src/providers/scene/prompt';
import { COGNITIVE_SERVICES_SCOPE } from '../src/providers/shared/auth';
import { sceneAnswer, startChatServer, type ChatScript, type ChatServer, type ChatStep } from './fakes/openai-chat-server';
import { closedAfterTests, fakeCredential, loadSampleImage } from './helpers/provider-fixtures';

const KEY_ENV = 'SCENE_TEST_FOUNDRY_KEY';
const KEY = 'foundry-key-81c2';
const MODEL = 'Phi-4-multimodal-instruct';
const deps: FoundrySceneDeps = { env: { [KEY_ENV]: KEY }, retry: { baseDelayMs: 5, maxDelayMs: 20 } };

let image: ImageInput;
const servers = closedAfterTests<ChatServer>();

before(async () => {
  image = await loadSampleImage(1);
});

/** A Foundry models endpoint ({server}/models) on a fake server. */
async function foundry(script: ChatScript, config: Record<string, unknown> = {}, extraDeps: FoundrySceneDeps = {}, scheme = 'http') {
  const server = await startChatServer(script, { path: '/models/chat/completions', apiVersion: FOUNDRY_API_VERSION });
  servers.push(server);
  const parsed = FoundrySceneSchema.parse({
    provider: 'foundry',
    endpoint: `${server.url.replace(/^http/, scheme)}/models`,
    auth: { type: 'key', apiKeyEnv: KEY_ENV },
    timeoutMs: 3000,
    maxRetries: 2,
    ...config,
  });
  return { server, classifier: createFoundrySceneClassifier(parsed, { ...deps, ...extraDeps }) };
}

const goodContent = sceneAnswer('partly cloudy', 'daytime', 'residential', { weather: 0.6, timeofday: 0.97, scene: 0.75 });
const good: ChatStep = { content: goodContent, usage: { prompt_tokens: 1500, completion_tokens: 50 } };

test('Foundry: the request the SDK sends and the normalised result', async () => {
  const { server, classifier } = await foundry([good]);
  const result = await classifier.classify(image);

  assert.equal(server.requests.length, 1);
  const request = server.requests[0]!;
  const url = new URL(request.url, 'http://x');
  assert.equal(request.method, 'POST');
  assert.equal(url.pathname, '/models/chat/completions');
  assert.equal(url.searchParams.get('api-version'), FOUNDRY_API_VERSION);
  // The ai-inference client sends the key both ways.
  assert.equal(request.headers['api-key'], KEY);
  assert.equal(request.headers['authorization'], `Bearer ${KEY}`);

  const body = server.bodies()[0]!;
  assert.equal(body.model, MODEL);
  assert.equal(body.temperature, 0);
  assert.equal(body.max_tokens, 200);
  assert.equal(body.response_format, undefined);
  assert.deepEqual(body.messages[0], { role: 'system', content: SCENE_SYSTEM_PROMPT });
  assert.deepEqual(body.messages[1], {
    role: 'user',
    content: [
      { type: 'text', text: SCENE_USER_PROMPT },
      { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${Buffer.from(image.bytes).toString('base64')}`, detail: 'auto' } },
    ],
  });

  assert.deepEqual(result.attributes, { weather: 'partly cloudy', timeofday: 'daytime', scene: 'residential' });
  assert.deepEqual(result.confidence, { weather: 0.6, timeofday: 0.97, scene: 0.75 });
  assert.deepEqual(result.raw, { content: goodContent, mode: 'text' } satisfies SceneRawAnswer);
  assert.deepEqual(result.usage, { promptTokens: 1500, completionTokens: 50 });
  assert.deepEqual(result.prompt, { version: PROMPT_VERSION, sha256: PROMPT_SHA256 });
  assert.equal(result.attempts, 1);
  assert.deepEqual(classifier.model, { provider: 'foundry', model: MODEL, apiVersion: FOUNDRY_API_VERSION, endpoint: `${server.url}/models` });
});

test('out-of-vocabulary answers in a fenced block are normalised and the raw answer kept', async () => {
  const content = 'Sure.\n```json\n{"Weather": "Sunny", "timeOfDay": "Dusk", "scene": "urban area", "confidence": {"weather": "90%", "timeofday": 70, "scene": 0.5}}\n```';
  const { classifier } = await foundry([{ content }]);
  const result = await classifier.classify(image);
  assert.deepEqual(result.attributes, { weather: 'clear', timeofday: 'dawn/dusk', scene: 'city street' });
  assert.deepEqual(result.confidence, { weather: 0.9, timeofday: 0.7, scene: 0.5 });
  assert.equal((result.raw as SceneRawAnswer).content, content);
});

test('an answer that is not the JSON object: one repair request in the same attempt', async () => {
  const prose = 'The image shows a sunny residential street in the daytime.';
  const { server, classifier } = await foundry([{ content: prose, usage: { prompt_tokens: 1500, completion_tokens: 14 } }, good]);
  const result = await classifier.classify(image);
  assert.equal(server.requests.length, 2);
  const repair = server.bodies()[1]!;
  assert.equal(repair.messages.length, 4);
  assert.deepEqual(repair.messages.slice(0, 2), server.bodies()[0]!.messages);
  assert.deepEqual(repair.messages[2], { role: 'assistant', content: prose });
  assert.deepEqual(repair.messages[3], { role: 'user', content: SCENE_REPAIR_PROMPT });
  assert.deepEqual(result.raw, { content: goodContent, mode: 'text', repaired: true } satisfies SceneRawAnswer);
  assert.equal(result.attempts, 2);
  assert.deepEqual(result.usage, { promptTokens: 3000, completionTokens: 64 });
  assert.equal(result.attributes.scene, 'residential');
});

test('still invalid after the repair: BadResponseError; each retry repairs once (maxRetries 1: 4 requests)', async () => {
  const { server, classifier } = await foundry([{ content: '{"weather": "clear", "timeofday": "night"' }], { maxRetries: 1 });
  await assert.rejects(classifier.classify(image), (error) => {
    assert.ok(error instanceof BadResponseError);
    assert.equal(error.retryable, true);
    assert.match(error.message, /foundry: the answer holds no JSON object.*after a repair request/);
    return true;
  });
  assert.equal(server.requests.length, 4);
});

test('429 with Retry-After: 1 waits about a second, then succeeds', async () => {
  const { server, classifier } = await foundry([{ error: { status: 429, code: 'Too Many Requests', message: 'Rate limit is exceeded.' }, headers: { 'retry-after': '1' } }, good]);
  const started = performance.now();
  const result = await classifier.classify(image);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 950 && elapsed < 2500, `waited ${elapsed} ms`);
  assert.equal(server.requests.length, 2);
  assert.equal(result.attempts, 2);
});

test('429 with retry-after-ms: waits that long (and the SDK does not retry by itself)', async () => {
  const delays: number[] = [];
  const { server, classifier } = await foundry(
    [{ error: { status: 429, code: '429', message: 'Rate limit is exceeded.' }, headers: { 'retry-after-ms': '80' } }, good],
    {},
    { onRetry: (e) => delays.push(e.delayMs) },
  );
  const started = performance.now();
  await classifier.classify(image);
  assert.ok(performance.now() - started >= 75);
  assert.deepEqual(delays, [80]);
  assert.equal(server.requests.length, 2);
});

test('500 then success: retried', async () => {
  const { server, classifier } = await foundry([{ error: { status: 500, code: 'InternalServerError', message: 'oops' } }, good]);
  const result = await classifier.classify(image);
  assert.equal(result.attempts, 2);
  assert.equal(server.requests.length, 2);
});

test('500 for longer than the retries: retryable ProviderError after maxRetries + 1 requests', async () => {
  const { server, classifier } = await foundry([{ error: { status: 502, code: 'BadGateway', message: 'upstream failed' } }], { maxRetries: 3 });
  await assert.rejects(classifier.classify(image), (error) => {
    assert.ok(error instanceof ProviderError);
    assert.equal(error.retryable, true);
    assert.equal(error.status, 502);
    assert.match(error.message, /foundry: service error \(502 BadGateway: upstream failed\)/);
    return true;
  });
  assert.equal(server.requests.length, 4);
});

test('a hang past timeoutMs: ProviderTimeoutError', async () => {
  const { server, classifier } = await foundry([{ ...good, delayMs: 1000 }], { timeoutMs: 300, maxRetries: 0 });
  const started = performance.now();
  await assert.rejects(classifier.classify(image), (error) => error instanceof ProviderTimeoutError && /no answer within 300 ms/.test(error.message));
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 290 && elapsed < 900, `took ${elapsed} ms`);
  assert.equal(server.requests.length, 1);
});

test('malformed JSON content that the repair fixes on the retry', async () => {
  // First attempt: bad answer, bad repair; second attempt: good.
  const { server, classifier } = await foundry([{ content: 'no idea' }, { content: 'still no idea' }, good], { maxRetries: 2 });
  const result = await classifier.classify(image);
  assert.equal(server.requests.length, 3);
  assert.equal(result.attempts, 3);
  assert.deepEqual(result.raw, { content: goodContent, mode: 'text' });
});

test('a non-JSON HTTP body with status 200 (an HTML page): BadResponseError, no repair', async () => {
  const { server, classifier } = await foundry([{ raw: { status: 200, headers: { 'content-type': 'text/html' }, body: '<html><body>Sign in</body></html>' } }], {
    maxRetries: 0,
  });
  await assert.rejects(classifier.classify(image), (error) => error instanceof BadResponseError && /not a chat completion: <html>/.test(error.message));
  assert.equal(server.requests.length, 1);
});

test('a body announced as JSON that does not parse: BadResponseError', async () => {
  const { classifier } = await foundry([{ raw: { status: 200, headers: { 'content-type': 'application/json' }, body: '{"choices": [' } }], { maxRetries: 0 });
  await assert.rejects(classifier.classify(image), (error) => error instanceof BadResponseError && /not valid JSON/.test(error.message));
});

test('401: non-retryable ProviderError naming the key variable', async () => {
  const { server, classifier } = await foundry([{ error: { status: 401, code: 'PermissionDenied', message: 'Principal does not have access to API/Operation.' } }]);
  await assert.rejects(classifier.classify(image), (error) => {
    assert.ok(error instanceof ProviderError);
    assert.equal(error.retryable, false);
    assert.equal(error.status, 401);
    assert.match(error.message, /foundry: authentication failed \(401 PermissionDenied: Principal does not have access/);
    assert.match(error.message, new RegExp(KEY_ENV));
    return true;
  });
  assert.equal(server.requests.length, 1);
});

test('answer withheld by the content filter: InvalidImageError', async () => {
  const { server, classifier } = await foundry([{ content: null, finishReason: 'content_filter' }]);
  await assert.rejects(classifier.classify(image), (error) => error instanceof InvalidImageError && error.message.startsWith(`${image.name}: the image was rejected by foundry`));
  assert.equal(server.requests.length, 1);
});

test('Entra ID: the injected credential\'s token goes out as Authorization: Bearer', async () => {
  const { credential, scopes } = fakeCredential('fake-foundry-token');
  // The SDK sends tokens over https only: the endpoint says https, and this transport delivers to the http fake.
  const inner = createDefaultHttpClient();
  const httpClient: HttpClient = {
    sendRequest(request) {
      request.url = request.url.replace(/^https:/, 'http:');
      request.allowInsecureConnection = true;
      return inner.sendRequest(request);
    },
  };
  const { server, classifier } = await foundry([good], { auth: { type: 'entra' } }, { credential, httpClient }, 'https');
  const result = await classifier.classify(image);
  assert.equal(result.attributes.weather, 'partly cloudy');
  assert.equal(server.requests[0]!.headers['authorization'], 'Bearer fake-foundry-token');
  assert.equal(server.requests[0]!.headers['api-key'], undefined);
  assert.deepEqual(scopes, [[COGNITIVE_SERVICES_SCOPE]]);
});

test('configuration problems are reported at construction', () => {
  const config = (over: Record<string, unknown>) =>
    FoundrySceneSchema.parse({ provider: 'foundry', endpoint: 'https://x.services.ai.azure.com/models', auth: { type: 'key', apiKeyEnv: 'SCENE_TEST_UNSET_KEY' }, ...over });
  const isConfigError = (pattern: RegExp) => (error: unknown) =>
    error instanceof LabelingError && error.kind === 'config' && !error.retryable && pattern.test(error.message);
  assert.throws(() => createFoundrySceneClassifier(config({}), { env: {} }), isConfigError(/SCENE_TEST_UNSET_KEY is not set/));
  assert.throws(
    () => createFoundrySceneClassifier(config({ endpoint: 'http://models.example.com/models', auth: { type: 'none' } })),
    isConfigError(/must use https/),
  );
});
