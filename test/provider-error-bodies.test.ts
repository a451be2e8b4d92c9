/**
 * Error bodies as Azure services write them, through the real providers against the fakes: the Azure.Core shape
 * `{error: {code, message, innererror: {code, innererror?}}}`, and Azure OpenAI's content filter refusal with its
 * verdicts under `innererror` or (newer answers) `inner_error`. What reaches the user is the error's kind, whether
 * it is retried, and a message that says why.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AzureVisionDetectorSchema, OpenAiSceneSchema } from '../src/core/config/labeling-config';
import { InvalidImageError, ProviderError } from '../src/core/pipeline/errors';
import type { ImageInput } from '../src/core/pipeline/types';
import { createAzureVisionDetector } from '../src/adapters/providers/detector/azure-vision';
import { createOpenAiSceneClassifier } from '../src/adapters/providers/scene/openai-scene';
import { errorDetails } from '../src/adapters/providers/shared/http-errors';
import type { FakeServer } from './fakes/http-server';
import { startAzureVisionServer } from './fakes/azure-vision-server';
import { contentFilterRefusal, sceneAnswer, startChatServer, type ChatServer, type ChatStep } from './fakes/openai-chat-server';
import { closedAfterTests, failureOf, loadSampleImage } from './helpers/provider-fixtures';

let image: ImageInput;
const servers = closedAfterTests<FakeServer | ChatServer>();

before(async () => {
  image = await loadSampleImage(0);
});

describe('Azure.Core error bodies (Azure AI Vision 4.0)', () => {
  const KEY = 'vision-key-errors';

  async function visionAnswering(status: number, body: unknown) {
    const fake = await startAzureVisionServer(() => ({ status, body, headers: { 'apim-request-id': 'req-core' } }), {
      api: '4.0',
      key: KEY,
    });
    servers.push(fake);
    const config = AzureVisionDetectorSchema.parse({
      provider: 'azure-vision',
      endpoint: fake.url,
      api: '4.0',
      auth: { type: 'key', apiKeyEnv: 'VISION_ERRORS_KEY' },
      timeoutMs: 3_000,
      maxRetries: 3,
    });
    const detector = createAzureVisionDetector(config, {
      env: { VISION_ERRORS_KEY: KEY },
      retryPolicy: { baseDelayMs: 5, maxDelayMs: 20 },
    });
    return { fake, detector };
  }

  test('an image code nested two innererrors deep makes an InvalidImageError with the outer code and message', async () => {
    const message = 'The image dimension is not allowed to be smaller than 50 and larger than 16000.';
    const { fake, detector } = await visionAnswering(400, {
      error: {
        code: 'InvalidRequest',
        message,
        innererror: { code: 'InvalidArgument', innererror: { code: 'InvalidImageSize', message } },
      },
    });
    const error = await failureOf(detector.detect(image));
    assert.ok(error instanceof InvalidImageError, String(error));
    assert.equal(error.kind, 'invalid-image');
    assert.equal(error.retryable, false);
    assert.equal(error.message, `${image.name}: the image was rejected by azure-vision (400 InvalidRequest: ${message})`);
    assert.equal(fake.requests.length, 1);
  });

  test('an innererror with no image code: a non-retryable ProviderError saying what the service said', async () => {
    const { fake, detector } = await visionAnswering(400, {
      error: { code: 'InvalidRequest', message: 'The feature parameter is not valid.', innererror: { code: 'NotSupportedFeature' } },
    });
    const error = await failureOf(detector.detect(image));
    assert.ok(error instanceof ProviderError, String(error));
    assert.equal(error.kind, 'provider');
    assert.equal(error.retryable, false);
    assert.equal(error.requestId, 'req-core');
    assert.equal(error.message, 'azure-vision: request refused (400 InvalidRequest: The feature parameter is not valid.)');
    assert.equal(fake.requests.length, 1);
  });

  test('errorDetails reads every code of the chain, outermost first', () => {
    assert.deepEqual(errorDetails({ error: { code: 'a', message: 'm', innererror: { code: 'b', innererror: { code: 'c' } } } }), {
      codes: ['a', 'b', 'c'],
      message: 'm',
    });
  });
});

describe('Azure OpenAI content filter refusals (openai scene provider)', () => {
  const DEPLOYMENT = 'gpt-4o-errors';
  const API_VERSION = '2024-10-21';

  async function azureOpenAi(script: ChatStep[]) {
    const server = await startChatServer(script, { path: `/openai/deployments/${DEPLOYMENT}/chat/completions`, apiVersion: API_VERSION });
    servers.push(server);
    const config = OpenAiSceneSchema.parse({
      provider: 'openai',
      azure: { endpoint: server.url, deployment: DEPLOYMENT, apiVersion: API_VERSION },
      auth: { type: 'key', apiKeyEnv: 'OPENAI_ERRORS_KEY' },
      timeoutMs: 3_000,
      maxRetries: 3,
    });
    const classifier = createOpenAiSceneClassifier(config, { env: { OPENAI_ERRORS_KEY: 'k' }, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    return { server, classifier };
  }

  test('inner_error with content_filter_results: InvalidImageError naming the filtered categories, sent once', async () => {
    const { server, classifier } = await azureOpenAi([contentFilterRefusal('inner_error', { violence: 'medium', jailbreak: 'detected' })]);
    const error = await failureOf(classifier.classify(image));
    assert.ok(error instanceof InvalidImageError, String(error));
    assert.equal(error.kind, 'invalid-image');
    assert.equal(error.retryable, false);
    assert.match(
      error.message,
      new RegExp(`^${image.name}: the image was rejected by azure-openai \\(400 content_filter: The response was filtered`),
    );
    assert.match(error.message, /; content filter: jailbreak, violence \(medium\)\)$/);
    assert.equal(server.requests.length, 1);
  });

  test('innererror with content_filter_result (older answers): the same', async () => {
    const { classifier } = await azureOpenAi([contentFilterRefusal('innererror', { sexual: 'high' })]);
    const error = await failureOf(classifier.classify(image));
    assert.ok(error instanceof InvalidImageError, String(error));
    assert.match(error.message, /; content filter: sexual \(high\)\)$/);
  });

  test('a refusal known as a content filter only by its inner_error: still an InvalidImageError, not retried', async () => {
    const refusal = contentFilterRefusal(
      'inner_error',
      { violence: 'high' },
      'content_policy_violation',
      'Your request was rejected as a result of our safety system.',
    );
    const { server, classifier } = await azureOpenAi([refusal]);
    const error = await failureOf(classifier.classify(image));
    assert.ok(error instanceof InvalidImageError, String(error));
    assert.equal(error.retryable, false);
    assert.match(error.message, /\(400 content_policy_violation: Your request was rejected .*; content filter: violence \(high\)\)$/);
    assert.equal(server.requests.length, 1);
  });

  test('errorDetails reads inner_error and innererror alike, with the verdicts that filtered something', () => {
    for (const inner of ['inner_error', 'innererror'] as const) {
      const { error } = contentFilterRefusal(inner, { self_harm: 'low' });
      assert.deepEqual(errorDetails({ error }), {
        codes: ['content_filter', 'ResponsibleAIPolicyViolation'],
        message: error.message,
        filtered: ['self_harm (low)'],
      });
    }
  });

  test('an answer carrying refusal: null and the filter verdicts of a prompt that passed is read as usual', async () => {
    const { server, classifier } = await azureOpenAi([{ content: sceneAnswer('rainy', 'night', 'highway') }]);
    const result = await classifier.classify(image);
    assert.deepEqual([result.attributes.weather, result.attributes.timeofday, result.attributes.scene], ['rainy', 'night', 'highway']);
    assert.equal(server.served.answers, 1);
  });
});
