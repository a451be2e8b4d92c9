/**
 * The behaviours every remote chat-completions scene provider shares, written once and registered for each provider
 * by its own test file (test/scene-openai.test.ts, test/scene-foundry.test.ts) with a harness that says how to point
 * the provider at a local fake service and what that service's requests look like.
 *
 * The providers drive different SDKs (openai, @azure-rest/ai-inference) over the same wire format, so the same
 * scripted answers must give the same results: retries and Retry-After, timeouts, bad bodies, image refusals,
 * answer normalisation, token usage. What differs by design comes from the harness (where the key goes, whether a
 * response_format is asked for, how many requests one invalid answer costs); what only one provider does (the
 * json_schema fallback, the repair request, https-only endpoints...) stays in that provider's file.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TokenCredential } from '@azure/core-auth';
import { BadResponseError, InvalidImageError, LabelingError, ProviderError, ProviderTimeoutError } from '../../src/core/pipeline/errors';
import type { ImageInput, SceneClassifier } from '../../src/core/pipeline/types';
import type { AnswerMode, SceneClassifierDeps, SceneRawAnswer } from '../../src/adapters/providers/scene/openai-scene';
import { PROMPT_SHA256, PROMPT_VERSION, SCENE_SYSTEM_PROMPT, SCENE_USER_PROMPT } from '../../src/adapters/providers/scene/prompt';
import { DEFAULT_CONFIDENCE } from '../../src/adapters/providers/scene/scene-answer';
import { COGNITIVE_SERVICES_SCOPE } from '../../src/adapters/providers/shared/auth';
import { sceneAnswer, type ChatScript, type ChatServer, type ChatStep } from '../fakes/openai-chat-server';
import { fakeCredential } from './provider-fixtures';

export interface StartedProvider {
  server: ChatServer;
  classifier: SceneClassifier;
  /** The endpoint the classifier was configured with (reported back in ModelInfo). */
  endpoint: string;
}

/** One provider, as the shared suite drives it. */
export interface SceneProviderHarness {
  /** Names the suite in the test output. */
  title: string;
  /** The provider's name in ModelInfo and at the start of its error messages. */
  provider: string;
  /** The image the shared tests classify: the test file's own (loaded once, in its top-level `before`). */
  image(): ImageInput;
  /** The key variable: the harness's classifiers read it from deps.env; 401 messages must name it. */
  keyEnv: string;
  /** Each header the key goes out in with its expected value; `undefined`: the header must be absent. */
  keyHeaders: Record<string, string | undefined>;
  /** The request the service expects: path, api-version, the `model` in the body and the image detail. */
  path: string;
  apiVersion: string;
  model: string;
  detail: string;
  /** `response_format.type` of a first request; `undefined` where the provider asks for none. */
  responseFormat: string | undefined;
  /** SceneRawAnswer.mode of an answer to a first request. */
  answerMode: AnswerMode;
  /** What else the provider records in SceneResult.raw on every answer (the OpenAI provider: its model family). */
  rawExtra?: Partial<SceneRawAnswer>;
  /** Requests one invalid answer costs within an attempt: 1, or 2 where the provider follows it with a repair request. */
  requestsPerInvalidAnswer: number;
  /**
   * A fake service speaking this provider's wire format and a classifier pointing at it with a key, timeoutMs 3000,
   * maxRetries 2 and short backoff; `config` and `deps` override those.
   */
  start(script: ChatScript, config?: Record<string, unknown>, deps?: SceneClassifierDeps): Promise<StartedProvider>;
  /** The same, authenticated with Entra ID tokens from `credential`. */
  startEntra(script: ChatScript, credential: TokenCredential): Promise<StartedProvider>;
  /** A classifier for an endpoint nobody listens on, for what must fail at construction; `config` overrides. */
  create(config: Record<string, unknown>, deps: SceneClassifierDeps): SceneClassifier;
}

// Usage differs from the fake's default so that a result can only have it from the answer itself.
const GOOD_USAGE = { prompt_tokens: 1500, completion_tokens: 50 };
export const goodContent = sceneAnswer('rainy', 'night', 'highway', { weather: 0.7, timeofday: 0.99, scene: 0.85 });
export const good: ChatStep = { content: goodContent, usage: GOOD_USAGE };
const goodAttributes = { weather: 'rainy', timeofday: 'night', scene: 'highway' };

/** Registers the shared tests for `harness` (call at a test file's top level). */
export function sceneProviderSuite(harness: SceneProviderHarness): void {
  const { provider, start } = harness;
  /** Requests made by `attempts` attempts that each got an invalid answer (and, where the provider repairs, its repair). */
  const invalidRequests = (attempts: number) => attempts * harness.requestsPerInvalidAnswer;

  describe(`${harness.title}: behaviours shared by the chat-completions scene providers`, () => {
    let image: ImageInput;
    before(() => {
      image = harness.image();
    });

    test('the request the SDK sends and the normalised result', async () => {
      const { server, classifier, endpoint } = await start([good]);
      const result = await classifier.classify(image);

      assert.equal(server.requests.length, 1);
      const request = server.requests[0]!;
      const url = new URL(request.url, 'http://x');
      assert.equal(request.method, 'POST');
      assert.equal(url.pathname, harness.path);
      assert.equal(url.searchParams.get('api-version'), harness.apiVersion);
      for (const [header, value] of Object.entries(harness.keyHeaders)) assert.equal(request.headers[header], value, header);

      const body = server.bodies()[0]!;
      assert.equal(body.model, harness.model);
      assert.equal(body.temperature, 0);
      assert.equal(body.max_tokens, 200);
      assert.equal(body.response_format?.type, harness.responseFormat);
      assert.equal(body.messages.length, 2);
      assert.deepEqual(body.messages[0], { role: 'system', content: SCENE_SYSTEM_PROMPT });
      assert.deepEqual(body.messages[1], {
        role: 'user',
        content: [
          { type: 'text', text: SCENE_USER_PROMPT },
          {
            type: 'image_url',
            image_url: { url: `data:image/jpeg;base64,${Buffer.from(image.bytes).toString('base64')}`, detail: harness.detail },
          },
        ],
      });

      assert.deepEqual(result.attributes, goodAttributes);
      assert.deepEqual(result.confidence, { weather: 0.7, timeofday: 0.99, scene: 0.85 });
      assert.deepEqual(result.raw, { content: goodContent, mode: harness.answerMode, ...harness.rawExtra } satisfies SceneRawAnswer);
      assert.deepEqual(result.usage, { promptTokens: 1500, completionTokens: 50 });
      assert.equal(result.attempts, 1);
      // Provenance: which prompt produced the labels.
      assert.deepEqual(result.prompt, { version: PROMPT_VERSION, sha256: PROMPT_SHA256 });
      assert.match(PROMPT_SHA256, /^[0-9a-f]{64}$/);
      assert.equal(PROMPT_VERSION, 'scene-v1');
      assert.deepEqual(classifier.model, { provider, model: harness.model, apiVersion: harness.apiVersion, endpoint });
    });

    test('out-of-vocabulary values ("sunny", "urban area"), odd key case, percentages and code fences are normalised; the raw answer kept', async () => {
      const plain = sceneAnswer('sunny', 'Dusk', 'urban area', { weather: 0.8, timeofday: 0.6, scene: 0.7 });
      const fenced =
        'Sure.\n```json\n{"Weather": "Sunny", "timeOfDay": "Dusk", "scene": "urban area", "confidence": {"weather": "90%", "timeofday": 70, "scene": 0.5}}\n```';
      const { classifier } = await start([{ content: plain }, { content: fenced }]);
      for (const [content, confidence] of [
        [plain, { weather: 0.8, timeofday: 0.6, scene: 0.7 }],
        [fenced, { weather: 0.9, timeofday: 0.7, scene: 0.5 }],
      ] as const) {
        const result = await classifier.classify(image);
        assert.deepEqual(result.attributes, { weather: 'clear', timeofday: 'dawn/dusk', scene: 'city street' });
        assert.deepEqual(result.confidence, confidence);
        assert.deepEqual(result.raw, { content, mode: harness.answerMode, ...harness.rawExtra });
      }
    });

    test('an answer in code fences with text around it, no confidence and an unknown value', async () => {
      const content =
        'Here is the label:\n```json\n{"weather": "overcast", "time_of_day": "daytime", "scene": "mountain pass"}\n```\nHope it helps.';
      const { server, classifier } = await start([{ content }]);
      const result = await classifier.classify(image);
      assert.deepEqual(result.attributes, { weather: 'overcast', timeofday: 'daytime', scene: 'undefined' });
      // No stated confidence: the documented default; an unrecognised value: 0.
      assert.deepEqual(result.confidence, { weather: DEFAULT_CONFIDENCE, timeofday: DEFAULT_CONFIDENCE, scene: 0 });
      assert.deepEqual(result.raw, { content, mode: harness.answerMode, ...harness.rawExtra, unrecognized: ['scene'] });
      // A parseable answer with an unknown value is an answer: neither retried nor repaired.
      assert.equal(server.requests.length, 1);
    });

    test('429 with Retry-After: 1 waits about a second, then succeeds', async () => {
      const { server, classifier } = await start([
        { error: { status: 429, code: '429', message: 'Rate limit is exceeded.' }, headers: { 'retry-after': '1' } },
        good,
      ]);
      const started = performance.now();
      const result = await classifier.classify(image);
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 950 && elapsed < 2500, `waited ${elapsed} ms`);
      assert.equal(server.requests.length, 2);
      assert.equal(result.attempts, 2);
      assert.deepEqual(result.attributes, goodAttributes);
    });

    test('429 with retry-after-ms is preferred over Retry-After (seconds), and the SDK does not retry by itself', async () => {
      const delays: number[] = [];
      const { server, classifier } = await start(
        [
          {
            error: { status: 429, code: '429', message: 'Rate limit is exceeded.' },
            headers: { 'retry-after-ms': '120', 'retry-after': '1' },
          },
          good,
        ],
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
      const { server, classifier } = await start([{ error: { status: 500, code: 'InternalServerError', message: 'boom' } }, good]);
      const result = await classifier.classify(image);
      assert.equal(result.attempts, 2);
      assert.equal(server.requests.length, 2);
    });

    test('5xx for longer than the retries: retryable ProviderError after maxRetries + 1 requests (SDK retries off)', async () => {
      const retries: number[] = [];
      // A different 5xx each time: every one of them is retried; the error reports the last.
      const { server, classifier } = await start(
        [
          { error: { status: 500, code: 'InternalServerError', message: 'oops' } },
          { error: { status: 502, code: 'BadGateway', message: 'upstream failed' } },
          { error: { status: 503, code: 'ServiceUnavailable', message: 'The service is temporarily unavailable' } },
        ],
        { maxRetries: 2 },
        { onRetry: (e) => retries.push(e.attempt) },
      );
      await assert.rejects(classifier.classify(image), (error) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.retryable, true);
        assert.equal(error.status, 503);
        assert.equal(error.requestId, 'req-3');
        assert.match(
          error.message,
          new RegExp(`^${provider}: service error \\(503 ServiceUnavailable: The service is temporarily unavailable\\)`),
        );
        return true;
      });
      assert.equal(server.requests.length, 3);
      assert.deepEqual(retries, [1, 2]);
    });

    test('a hang past timeoutMs: ProviderTimeoutError per attempt', async () => {
      const { server, classifier } = await start([{ ...good, delayMs: 1000 }], { timeoutMs: 300, maxRetries: 1 });
      const started = performance.now();
      await assert.rejects(classifier.classify(image), (error) => {
        assert.ok(error instanceof ProviderTimeoutError);
        assert.equal(error.retryable, true);
        assert.match(error.message, /no answer within 300 ms/);
        return true;
      });
      const elapsed = performance.now() - started;
      // Two attempts of 300 ms each, both ended by our timeout rather than by the 1 s answer.
      assert.ok(elapsed >= 580 && elapsed < 1000, `took ${elapsed} ms`);
      assert.equal(server.requests.length, 2);
    });

    test('malformed JSON content is retried, then succeeds; the tokens of every request are counted', async () => {
      const bad: ChatStep = { content: '{"weather": "clear", "timeofday": ', usage: { prompt_tokens: 1500, completion_tokens: 14 } };
      const badRequests = invalidRequests(1);
      const { server, classifier } = await start([...Array<ChatStep>(badRequests).fill(bad), good]);
      const result = await classifier.classify(image);
      assert.equal(server.requests.length, badRequests + 1);
      assert.equal(result.attempts, badRequests + 1);
      // The answer of the retry, not of a repair.
      assert.deepEqual(result.raw, { content: goodContent, mode: harness.answerMode, ...harness.rawExtra });
      assert.deepEqual(result.usage, { promptTokens: 1500 * (badRequests + 1), completionTokens: 14 * badRequests + 50 });
    });

    test('malformed content that persists: retryable BadResponseError once the retries are spent', async () => {
      const { server, classifier } = await start([{ content: 'I cannot tell the weather from this image.' }], { maxRetries: 1 });
      await assert.rejects(classifier.classify(image), (error) => {
        assert.ok(error instanceof BadResponseError);
        assert.equal(error.retryable, true);
        assert.match(error.message, new RegExp(`^${provider}: the answer holds no JSON object`));
        return true;
      });
      assert.equal(server.requests.length, invalidRequests(2));
    });

    test('values outside the schema (a confidence of 7000): BadResponseError', async () => {
      const { server, classifier } = await start(
        [{ content: sceneAnswer('clear', 'daytime', 'highway', { weather: 7000, timeofday: 1, scene: 1 }) }],
        {
          maxRetries: 0,
        },
      );
      await assert.rejects(
        classifier.classify(image),
        (error) => error instanceof BadResponseError && /confidence\.weather/.test(error.message),
      );
      assert.equal(server.requests.length, invalidRequests(1));
    });

    test('a non-JSON HTTP body with status 200 (an HTML page): BadResponseError, no repair', async () => {
      const { server, classifier } = await start(
        [{ raw: { status: 200, headers: { 'content-type': 'text/html' }, body: '<html><body>Gateway login</body></html>' } }],
        {
          maxRetries: 0,
        },
      );
      await assert.rejects(classifier.classify(image), (error) => {
        assert.ok(error instanceof BadResponseError);
        assert.match(error.message, new RegExp(`^${provider}: the answer is not a chat completion: <html>`));
        return true;
      });
      // Not an answer of the model: nothing to repair.
      assert.equal(server.requests.length, 1);
    });

    test('a body announced as JSON that does not parse: BadResponseError', async () => {
      const { classifier } = await start(
        [{ raw: { status: 200, headers: { 'content-type': 'application/json' }, body: '{"id": "x", "choi' } }],
        { maxRetries: 0 },
      );
      await assert.rejects(
        classifier.classify(image),
        (error) => error instanceof BadResponseError && /not valid JSON/.test(error.message),
      );
    });

    test('401: non-retryable ProviderError naming the key variable', async () => {
      const { server, classifier } = await start([
        { error: { status: 401, code: 'PermissionDenied', message: 'Principal does not have access to API/Operation.' } },
      ]);
      await assert.rejects(classifier.classify(image), (error) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.retryable, false);
        assert.equal(error.status, 401);
        assert.match(
          error.message,
          new RegExp(`^${provider}: authentication failed \\(401 PermissionDenied: Principal does not have access`),
        );
        assert.match(error.message, new RegExp(harness.keyEnv));
        return true;
      });
      assert.equal(server.requests.length, 1);
    });

    test('400 content filter: InvalidImageError saying the image was rejected, not retried', async () => {
      const { server, classifier } = await start([
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
        assert.ok(error.message.startsWith(`${image.name}: the image was rejected by ${provider} (400 content_filter`), error.message);
        return true;
      });
      assert.equal(server.requests.length, 1);
    });

    test('an answer withheld by the content filter (finish_reason): InvalidImageError, neither retried nor repaired', async () => {
      const { server, classifier } = await start([{ content: null, finishReason: 'content_filter' }]);
      await assert.rejects(classifier.classify(image), (error) => {
        assert.ok(error instanceof InvalidImageError);
        assert.equal(error.retryable, false);
        assert.ok(
          error.message.startsWith(`${image.name}: the image was rejected by ${provider} (the answer was withheld by the content filter)`),
          error.message,
        );
        return true;
      });
      assert.equal(server.requests.length, 1);
    });

    test('other 4xx: non-retryable ProviderError', async () => {
      const { server, classifier } = await start([{ error: { status: 400, code: 'BadRequest', message: 'max_tokens is too large' } }]);
      await assert.rejects(
        classifier.classify(image),
        (error) => error instanceof ProviderError && !error.retryable && error.status === 400,
      );
      assert.equal(server.requests.length, 1);
    });

    test("Entra ID: the injected credential's token goes out as Authorization: Bearer, cached between calls", async () => {
      const { credential, scopes } = fakeCredential('fake-entra-token');
      const { server, classifier } = await harness.startEntra([good], credential);
      const result = await classifier.classify(image);
      assert.deepEqual(result.attributes, goodAttributes);
      await classifier.classify(image);
      const headers = server.requests.map((r) => r.headers);
      assert.deepEqual(
        headers.map((h) => h['authorization']),
        ['Bearer fake-entra-token', 'Bearer fake-entra-token'],
      );
      assert.equal(headers[0]!['api-key'], undefined);
      assert.deepEqual(scopes, [[COGNITIVE_SERVICES_SCOPE]], 'one token, for the Cognitive Services scope');
    });

    test('a missing key variable is reported at construction, naming it', () => {
      assert.throws(
        () => harness.create({ auth: { type: 'key', apiKeyEnv: 'SCENE_TEST_UNSET_KEY' } }, { env: {} }),
        (error) =>
          error instanceof LabelingError &&
          error.kind === 'config' &&
          !error.retryable &&
          /SCENE_TEST_UNSET_KEY is not set/.test(error.message),
      );
    });

    test('concurrency 1: a second image waits for the first request to finish', async () => {
      let inFlight = 0;
      let most = 0;
      const { classifier } = await start(
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
      const { server, classifier } = await start([{ ...good, delayMs: 1000 }], { maxRetries: 3 });
      const controller = new AbortController();
      const started = performance.now();
      const call = classifier.classify(image, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('shutting down')), 100);
      await assert.rejects(call, /shutting down/);
      assert.ok(performance.now() - started < 600);
      assert.equal(server.requests.length, 1);
    });
  });
}
