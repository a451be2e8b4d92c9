/**
 * The OpenAI / Azure OpenAI scene classifier through the real openai SDK against a local fake service.
 * What it shares with the Foundry provider (retries, timeouts, bad bodies, normalisation, auth...) is the suite in
 * helpers/scene-provider-suite.ts, run here against Azure OpenAI; this file keeps what only this provider does:
 * strict structured outputs and their fallbacks, OpenAI-compatible servers, the fetch hook.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAiSceneSchema } from '../src/core/config/labeling-config';
import type { ImageInput } from '../src/core/pipeline/types';
import { ATTRIBUTE_VOCABULARIES } from '../src/core/taxonomy/attributes';
import {
  createOpenAiSceneClassifier,
  isResponseFormatRejection,
  modelFamilyOf,
  type SceneClassifierDeps,
  type SceneRawAnswer,
} from '../src/adapters/providers/scene/openai-scene';
import { DEFAULT_CONFIDENCE, extractJsonObject, parseSceneAnswer } from '../src/adapters/providers/scene/scene-answer';
import { sceneAnswer, startChatServer, type ChatScript, type ChatServer, type ChatServerOptions } from './fakes/openai-chat-server';
import { closedAfterTests, fakeCredential, loadSampleImage } from './helpers/provider-fixtures';
import { good, goodContent, sceneProviderSuite } from './helpers/scene-provider-suite';

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

/** The provider's config for `target` (an Azure deployment or a baseURL), keyed by KEY_ENV; `config` overrides. */
const sceneConfig = (target: Record<string, unknown>, config: Record<string, unknown>) =>
  OpenAiSceneSchema.parse({ provider: 'openai', ...target, auth: { type: 'key', apiKeyEnv: KEY_ENV }, ...config });
const azureDeployment = (endpoint: string) => ({ azure: { endpoint, deployment: DEPLOYMENT, apiVersion: API_VERSION } });
const quick = { timeoutMs: 3000, maxRetries: 2 };

/** An Azure OpenAI deployment on a fake server (`rules`: the request rules of the model behind it). */
async function azure(
  script: ChatScript,
  config: Record<string, unknown> = {},
  extraDeps: SceneClassifierDeps = {},
  rules: ChatServerOptions['modelRules'] = 'chat',
) {
  const server = await startChatServer(script, {
    path: `/openai/deployments/${DEPLOYMENT}/chat/completions`,
    apiVersion: API_VERSION,
    modelRules: rules,
  });
  servers.push(server);
  const parsed = sceneConfig(azureDeployment(server.url), { ...quick, ...config });
  return { server, classifier: createOpenAiSceneClassifier(parsed, { ...deps, ...extraDeps }), endpoint: server.url };
}

/** An OpenAI-compatible server (Ollama, vLLM...) at {base}/v1. */
async function compatible(script: ChatScript, config: Record<string, unknown> = {}, extraDeps: SceneClassifierDeps = {}) {
  const server = await startChatServer(script, { path: '/v1/chat/completions' });
  servers.push(server);
  const parsed = sceneConfig({ baseURL: `${server.url}/v1`, model: 'llava:13b' }, { ...quick, ...config });
  return { server, classifier: createOpenAiSceneClassifier(parsed, { ...deps, ...extraDeps }) };
}

sceneProviderSuite({
  title: 'Azure OpenAI (openai provider)',
  provider: 'azure-openai',
  image: () => image,
  keyEnv: KEY_ENV,
  // Azure OpenAI takes the key in api-key only.
  keyHeaders: { 'api-key': KEY, authorization: undefined },
  path: `/openai/deployments/${DEPLOYMENT}/chat/completions`,
  apiVersion: API_VERSION,
  model: DEPLOYMENT,
  detail: 'low',
  responseFormat: 'json_schema',
  answerMode: 'json_schema',
  rawExtra: { family: 'chat' },
  // An invalid answer is simply retried.
  requestsPerInvalidAnswer: 1,
  start: azure,
  startEntra: (script, credential) => azure(script, { auth: { type: 'entra' } }, { credential }),
  create: (config, classifierDeps) =>
    createOpenAiSceneClassifier(sceneConfig(azureDeployment('http://127.0.0.1:9'), config), classifierDeps),
});

test('Azure OpenAI: a strict json_schema response_format holding the closed vocabularies', async () => {
  const { server, classifier } = await azure([good]);
  const result = await classifier.classify(image);
  const format = server.bodies()[0]!.response_format!;
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
  assert.deepEqual(result.raw, { content: goodContent, mode: 'json_schema', family: 'chat' } satisfies SceneRawAnswer);
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

test('Azure OpenAI v1 API ({endpoint}/openai/v1): Entra bearer, the deployment as model, no api-version', async () => {
  const server = await startChatServer([good], { path: '/openai/v1/chat/completions', modelRules: 'reasoning' });
  servers.push(server);
  const { credential, scopes } = fakeCredential('v1-token');
  const config = OpenAiSceneSchema.parse({
    provider: 'openai',
    baseURL: `${server.url}/openai/v1`,
    model: 'scene-classifier',
    family: 'reasoning',
    auth: { type: 'entra' },
    ...quick,
  });
  const classifier = createOpenAiSceneClassifier(config, { ...deps, credential });
  const result = await classifier.classify(image);
  const request = server.requests[0]!;
  assert.equal(request.url, '/openai/v1/chat/completions');
  assert.equal(request.headers['authorization'], 'Bearer v1-token');
  assert.deepEqual(scopes[0], ['https://cognitiveservices.azure.com/.default']);
  assert.equal(server.bodies()[0]!.model, 'scene-classifier');
  assert.equal(classifier.model.provider, 'azure-openai');
  assert.equal(result.attributes.scene, 'highway');
});

test('auth none sends a placeholder key (local servers ignore it)', async () => {
  const { server, classifier } = await compatible([good], { auth: { type: 'none' } });
  await classifier.classify(image);
  assert.equal(server.requests[0]!.headers['authorization'], 'Bearer none');
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
  assert.deepEqual(
    server.bodies().map((b) => b.response_format?.type),
    ['json_schema', 'json_object'],
  );
  assert.equal(first.attempts, 2);
  assert.equal((first.raw as SceneRawAnswer).mode, 'json_object');
  assert.equal(first.attributes.weather, 'snowy');
  const second = await classifier.classify(image);
  assert.deepEqual(
    server.bodies().map((b) => b.response_format?.type),
    ['json_schema', 'json_object', 'json_object'],
  );
  assert.equal(second.attempts, 1);
  assert.equal((second.raw as SceneRawAnswer).mode, 'json_object');
});

test('json_schema fallback: an invalid-schema 400 is an error, not a downgrade; a downgrade is reported once', async () => {
  const invalidSchema =
    "Invalid schema for response_format 'scene': In context=(), 'additionalProperties' is required to be supplied and to be false.";
  const { server, classifier } = await azure([
    { error: { status: 400, code: 'invalid_request_error', param: 'response_format', message: invalidSchema } },
  ]);
  await assert.rejects(classifier.classify(image), (error: Error & { retryable?: boolean }) => {
    assert.match(error.message, /Invalid schema for response_format/);
    assert.equal(error.retryable, false);
    return true;
  });
  assert.deepEqual(
    server.bodies().map((b) => b.response_format?.type),
    ['json_schema'],
    'no weaker format is tried',
  );

  const changes: unknown[] = [];
  const unsupported = "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.";
  const downgraded = await azure(
    (request) =>
      (request.json as { response_format?: { type: string } }).response_format?.type === 'json_schema'
        ? { error: { status: 400, code: 'BadRequest', param: 'response_format', message: unsupported } }
        : { content: sceneAnswer('clear', 'night', 'highway') },
    {},
    { onModeChange: (change) => changes.push(change) },
  );
  await downgraded.classifier.classify(image);
  await downgraded.classifier.classify(image);
  assert.deepEqual(changes, [{ provider: 'azure-openai', from: 'json_schema', to: 'json_object', reason: `400 ${unsupported}` }]);

  assert.equal(
    isResponseFormatRejection(
      400,
      'response_format',
      'response_format value as json_schema is enabled only for api versions 2024-08-01-preview and later',
    ),
    true,
  );
  assert.equal(
    isResponseFormatRejection(422, null, "1 validation error: response_format.type: Input should be 'text' or 'json_object'"),
    true,
  );
  assert.equal(isResponseFormatRejection(400, 'response_format', invalidSchema), false);
  assert.equal(
    isResponseFormatRejection(400, 'messages', "'messages' must contain the word 'json' to use response_format json_object"),
    false,
  );
});

test('model families: a reasoning deployment gets max_completion_tokens, no temperature, reasoning_effort', async () => {
  assert.deepEqual(
    ['gpt-5.1', 'gpt-5', 'gpt-5-mini', 'gpt-5.1-chat', 'o3', 'o4-mini', 'gpt-4o', 'gpt-4.1', 'llava:13b', 'omni', 'gpt-50'].map(
      modelFamilyOf,
    ),
    ['reasoning', 'reasoning', 'reasoning', 'reasoning', 'reasoning', 'reasoning', 'chat', 'chat', 'chat', 'chat', 'chat'],
  );
  // The old request shape against a reasoning model: refused as the service refuses it.
  const refused = await azure([good], { model: 'gpt-5.1', family: 'chat' }, {}, 'reasoning');
  await assert.rejects(refused.classifier.classify(image), /'max_tokens' is not supported with this model/);

  const { server, classifier } = await azure([good], { model: 'gpt-5.1' }, {}, 'reasoning');
  const result = await classifier.classify(image);
  const body = server.bodies()[0]!;
  assert.equal(body.max_tokens, undefined);
  assert.equal(body.temperature, undefined);
  assert.equal(body.max_completion_tokens, 4000);
  assert.equal(body.reasoning_effort, 'low');
  assert.equal(body.response_format?.type, 'json_schema', 'structured outputs kept');
  assert.equal((result.raw as SceneRawAnswer).family, 'reasoning');
  assert.equal(result.attributes.scene, 'highway');

  // A -chat variant: reasoning rules, no reasoning_effort; a chat model keeps temperature 0 and max_tokens.
  const chatVariant = await azure([good], { model: 'gpt-5.1-chat' }, {}, 'reasoning');
  await chatVariant.classifier.classify(image);
  assert.equal(chatVariant.server.bodies()[0]!.reasoning_effort, undefined);
  const chat = await azure([good], { model: 'gpt-4.1' });
  await chat.classifier.classify(image);
  const chatBody = chat.server.bodies()[0]!;
  assert.deepEqual([chatBody.temperature, chatBody.max_tokens, chatBody.max_completion_tokens], [0, 200, undefined]);
});

test('a server refusing every response_format: answered without one, parsed from the text', async () => {
  const { server, classifier } = await compatible((request) =>
    (request.json as { response_format?: unknown }).response_format
      ? { error: { status: 400, code: 'invalid_request_error', message: 'response_format is not supported' } }
      : { content: 'Sure! {"weather": "foggy", "timeofday": "night", "scene": "tunnel"}' },
  );
  const result = await classifier.classify(image);
  assert.deepEqual(
    server.bodies().map((b) => b.response_format?.type ?? 'none'),
    ['json_schema', 'json_object', 'none'],
  );
  assert.equal((result.raw as SceneRawAnswer).mode, 'text');
  assert.deepEqual(result.attributes, { weather: 'foggy', timeofday: 'night', scene: 'tunnel' });
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
  assert.ok(
    gaps.every((gap) => gap >= 120),
    `gaps ${gaps.map(Math.round).join(', ')} ms`,
  );
});

test('answer parsing: braces inside strings, nested confidences, percentages, one confidence for all, nulls', () => {
  assert.deepEqual(extractJsonObject('note {not json} then {"a": "x}y", "b": {"c": 1}} trailing'), { a: 'x}y', b: { c: 1 } });
  assert.equal(extractJsonObject('[1, 2]'), undefined);

  const nested = parseSceneAnswer(
    '{"weather": {"value": "Rain", "confidence": 0.4}, "timeofday": "evening", "scene": "freeway", "confidence": 80}',
  );
  assert.ok(nested.ok);
  assert.deepEqual(nested.answer.attributes, { weather: 'rainy', timeofday: 'dawn/dusk', scene: 'highway' });
  assert.deepEqual(nested.answer.confidence, { weather: 0.4, timeofday: 0.8, scene: 0.8 });
  assert.deepEqual(nested.answer.rawValues, { weather: 'Rain', timeofday: 'evening', scene: 'freeway' });

  const nulls = parseSceneAnswer(
    '{"weather": null, "timeofday": "night", "scene": "gas station", "confidence": {"weather": null, "timeofday": "5%", "scene": 1}}',
  );
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
