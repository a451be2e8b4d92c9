/**
 * The Azure AI Foundry scene classifier through the real @azure-rest/ai-inference client against a local fake service.
 * What it shares with the OpenAI provider (retries, timeouts, bad bodies, normalisation, auth...) is the suite in
 * helpers/scene-provider-suite.ts, run here; this file keeps what only this provider does: the repair request and
 * the https-only endpoint rule.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
// Test-only transport wrapper (the package is already installed as a dependency of the Azure SDKs).
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';
import { FoundrySceneSchema } from '../src/core/config/labeling-config';
import { BadResponseError, LabelingError } from '../src/core/pipeline/errors';
import type { ImageInput } from '../src/core/pipeline/types';
import { createFoundrySceneClassifier, FOUNDRY_API_VERSION, type FoundrySceneDeps } from '../src/adapters/providers/scene/foundry-scene';
import type { SceneRawAnswer } from '../src/adapters/providers/scene/openai-scene';
import { SCENE_REPAIR_PROMPT } from '../src/adapters/providers/scene/prompt';
import { sceneAnswer, startChatServer, type ChatScript, type ChatServer, type ChatStep } from './fakes/openai-chat-server';
import { closedAfterTests, loadSampleImage } from './helpers/provider-fixtures';
import { sceneProviderSuite } from './helpers/scene-provider-suite';

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
  const endpoint = `${server.url.replace(/^http/, scheme)}/models`;
  const parsed = FoundrySceneSchema.parse({
    provider: 'foundry',
    endpoint,
    auth: { type: 'key', apiKeyEnv: KEY_ENV },
    timeoutMs: 3000,
    maxRetries: 2,
    ...config,
  });
  return { server, classifier: createFoundrySceneClassifier(parsed, { ...deps, ...extraDeps }), endpoint };
}

/** Configuration with an endpoint nobody listens on: for what fails at construction. */
const offlineConfig = (over: Record<string, unknown>) =>
  FoundrySceneSchema.parse({
    provider: 'foundry',
    endpoint: 'https://x.services.ai.azure.com/models',
    auth: { type: 'key', apiKeyEnv: 'SCENE_TEST_UNSET_KEY' },
    ...over,
  });

sceneProviderSuite({
  title: 'Foundry (foundry provider)',
  provider: 'foundry',
  image: () => image,
  keyEnv: KEY_ENV,
  // The ai-inference client sends the key both ways.
  keyHeaders: { 'api-key': KEY, authorization: `Bearer ${KEY}` },
  path: '/models/chat/completions',
  apiVersion: FOUNDRY_API_VERSION,
  model: MODEL,
  detail: 'auto',
  // Foundry models do not promise structured outputs: no response_format, the answer is read from the text.
  responseFormat: undefined,
  answerMode: 'text',
  // An invalid answer is followed by one repair request in the same attempt.
  requestsPerInvalidAnswer: 2,
  start: foundry,
  startEntra(script, credential) {
    // The SDK sends tokens over https only: the endpoint says https, and this transport delivers to the http fake.
    const inner = createDefaultHttpClient();
    const httpClient: HttpClient = {
      sendRequest(request) {
        request.url = request.url.replace(/^https:/, 'http:');
        request.allowInsecureConnection = true;
        return inner.sendRequest(request);
      },
    };
    return foundry(script, { auth: { type: 'entra' } }, { credential, httpClient }, 'https');
  },
  create: (config, classifierDeps) => createFoundrySceneClassifier(offlineConfig(config), classifierDeps),
});

const goodContent = sceneAnswer('partly cloudy', 'daytime', 'residential', { weather: 0.6, timeofday: 0.97, scene: 0.75 });
const good: ChatStep = { content: goodContent, usage: { prompt_tokens: 1500, completion_tokens: 50 } };

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

test('an endpoint over plain http is refused at construction unless it is this machine', () => {
  assert.throws(
    () => createFoundrySceneClassifier(offlineConfig({ endpoint: 'http://models.example.com/models', auth: { type: 'none' } })),
    (error) => error instanceof LabelingError && error.kind === 'config' && !error.retryable && /must use https/.test(error.message),
  );
});
