import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FoundryEndpointDetectorSchema } from '../src/core/config/labeling-config';
import sharp from 'sharp';
import { BadResponseError, InvalidImageError, ProviderError, ProviderTimeoutError } from '../src/core/pipeline/errors';
import type { ImageInput } from '../src/core/pipeline/types';
import {
  createFoundryEndpointDetector,
  type FoundryEndpointDeps,
  type FoundryEndpointDetectorConfig,
} from '../src/adapters/providers/detector/foundry-endpoint';
import { AZURE_ML_SCOPE } from '../src/adapters/providers/shared/auth';
import type { FakeServer, RecordedRequest, ScriptedResponse } from './fakes/http-server';
import {
  SCORE_PATH,
  foundryAnswer,
  modelError,
  requestImages,
  startFoundryEndpointServer,
  type FoundryBox,
} from './fakes/foundry-endpoint-server';
import { closedAfterTests, failingCredential, failureOf, fakeCredential, loadSampleImage } from './helpers/provider-fixtures';

const KEY = 'fake-endpoint-key-456';
const ENV = { FOUNDRY_ENDPOINT_KEY: KEY };
const FAST: FoundryEndpointDeps['retryPolicy'] = { baseDelayMs: 5, maxDelayMs: 20 };

let sample: ImageInput;
const servers = closedAfterTests<FakeServer>();

before(async () => {
  sample = await loadSampleImage(0);
  assert.deepEqual([sample.width, sample.height], [1280, 720]);
});

async function server(respond: (request: RecordedRequest, index: number) => ScriptedResponse | Promise<ScriptedResponse>, bearer = KEY) {
  const fake = await startFoundryEndpointServer(respond, { bearer });
  servers.push(fake);
  return fake;
}

function config(scoringUri: string, overrides: Record<string, unknown> = {}): FoundryEndpointDetectorConfig {
  return FoundryEndpointDetectorSchema.parse({
    provider: 'foundry-endpoint',
    scoringUri,
    auth: { type: 'key', apiKeyEnv: 'FOUNDRY_ENDPOINT_KEY' },
    timeoutMs: 5_000,
    maxRetries: 2,
    ...overrides,
  });
}

function detector(fake: FakeServer, overrides: Record<string, unknown> = {}, deps: FoundryEndpointDeps = {}) {
  return createFoundryEndpointDetector(config(`${fake.url}${SCORE_PATH}`, overrides), { env: ENV, retryPolicy: FAST, ...deps });
}

const oneCar = () => foundryAnswer([{ box: [0.1, 0.2, 0.3, 0.4], label: 'car', score: 0.9 }]);

describe('Foundry managed online endpoint', () => {
  test('posts the base64 image in input_data and turns normalised COCO boxes into BDD boxes in pixels', async () => {
    const fake = await server(() => ({
      body: foundryAnswer([
        { box: [0.1, 0.2, 0.3, 0.5], label: 'car', score: 0.98 },
        { box: [0.5, 0.25, 0.55, 0.75], label: 'person', score: 0.8 },
        { box: [0.6, 0.1, 0.62, 0.15], label: 'traffic light', score: 0.5 },
        { box: [0.7, 0.1, 0.75, 0.2], label: 'stop sign', score: 0.6 },
        { box: [0.8, 0.6, 0.9, 0.9], label: 'dog', score: 0.7 },
        { box: [0.0, 0.6, 0.1, 0.9], label: 'dog', score: 0.4 },
        { box: [0.2, 0.6, 0.3, 0.9], label: 'bench', score: 0.4 },
      ]),
      headers: { 'azureml-model-deployment': 'yolof-blue', 'x-request-id': 'req-f1' },
    }));
    const d = detector(fake, { deployment: 'yolof-blue' });
    const result = await d.detect(sample);

    assert.equal(fake.requests.length, 1);
    const [request] = fake.requests;
    assert.equal(request!.method, 'POST');
    assert.equal(request!.url, SCORE_PATH);
    assert.equal(request!.headers.authorization, `Bearer ${KEY}`);
    assert.equal(request!.headers['content-type'], 'application/json');
    assert.equal(request!.headers['azureml-model-deployment'], 'yolof-blue');
    const input = (request!.json as { input_data: { columns: unknown; index: unknown } }).input_data;
    assert.deepEqual([input.columns, input.index], [['image'], [0]]);
    const images = requestImages(request!);
    assert.equal(images?.length, 1);
    assert.ok(images![0]!.equals(Buffer.from(sample.bytes)), 'the original JPEG bytes, base64');

    const round = (v: number) => Math.round(v * 1000) / 1000;
    assert.deepEqual(
      result.boxes.map((b) =>
        [b.category, b.score, b.sourceCategory, b.box2d.x1, b.box2d.y1, b.box2d.x2, b.box2d.y2].map((v) =>
          typeof v === 'number' ? round(v) : v,
        ),
      ),
      [
        ['car', 0.98, 'car', 128, 144, 384, 360],
        ['pedestrian', 0.8, 'person', 640, 180, 704, 540],
        ['traffic light', 0.5, 'traffic light', 768, 72, 793.6, 108],
        ['traffic sign', 0.6, 'stop sign', 896, 72, 960, 144],
      ],
    );
    assert.deepEqual(result.unmapped, { dog: 2, bench: 1 });
    assert.equal(result.attempts, 1);
    assert.equal(result.details?.requestId, 'req-f1');
    assert.deepEqual(d.model, { provider: 'foundry-endpoint', model: 'yolof-blue', endpoint: `${fake.url}${SCORE_PATH}` });
  });

  test('no deployment header unless configured; boxes a little outside 0..1 are clamped to the frame', async () => {
    const fake = await server(() => ({ body: foundryAnswer([{ box: [-0.05, 0.5, 1.00005, 1.0001], label: 'bus', score: 0.7 }]) }));
    const result = await detector(fake).detect(sample);
    assert.equal(fake.requests[0]!.headers['azureml-model-deployment'], undefined);
    assert.deepEqual(result.boxes[0]!.box2d, { x1: 0, y1: 360, x2: 1280, y2: 720 });
    assert.equal(result.details?.coordinates, 'normalised', 'a rounding overshoot is no pixel coordinate');
  });

  test('an answer in pixels of the sent (downscaled) image gives the same boxes as the normalised answer', async () => {
    const normalised: FoundryBox[] = [
      { box: [0.1, 0.2, 0.3, 0.5], label: 'car', score: 0.98 },
      { box: [0.5, 0.25, 0.55, 0.75], label: 'person', score: 0.8 },
      { box: [0.9, 0.9, 1, 1], label: 'truck', score: 0.6 },
    ];
    /** The wrapper's answer about the image it received, normalised or in its pixels. */
    const answering = (inPixels: boolean) => async (request: RecordedRequest) => {
      const { width = 0, height = 0 } = await sharp(requestImages(request)![0]!).metadata();
      const [sx, sy] = inPixels ? [width, height] : [1, 1];
      const boxes = normalised.map(({ box: [x1, y1, x2, y2], ...rest }) => ({
        ...rest,
        box: [x1 * sx, y1 * sy, x2 * sx, y2 * sy] as FoundryBox['box'],
      }));
      return { body: foundryAnswer(boxes) };
    };
    // A byte limit under the sample's size: the endpoint receives a smaller copy, so sent pixels are not original pixels.
    const deps: FoundryEndpointDeps = { maxImageBytes: Math.floor(sample.bytes.length / 3) };
    const fromNormalised = await detector(await server(answering(false)), {}, deps).detect(sample);
    const pixelFake = await server(answering(true));
    const fromPixels = await detector(pixelFake, {}, deps).detect(sample);

    const sent = await sharp(requestImages(pixelFake.requests[0]!)![0]!).metadata();
    assert.ok(sent.width! < 1280 && sent.height! < 720, `sent ${sent.width}x${sent.height}`);
    assert.deepEqual([fromPixels.details?.sentWidth, fromPixels.details?.sentHeight], [sent.width, sent.height]);
    assert.equal(fromNormalised.details?.coordinates, 'normalised');
    assert.equal(fromPixels.details?.coordinates, 'pixels', 'provenance says the boxes were converted from pixels');

    const expected = [
      ['car', 128, 144, 384, 360],
      ['pedestrian', 640, 180, 704, 540],
      ['truck', 1152, 648, 1280, 720],
    ];
    const rounded = (result: typeof fromPixels) =>
      result.boxes.map((b) => [b.category, ...[b.box2d.x1, b.box2d.y1, b.box2d.x2, b.box2d.y2].map((v) => Math.round(v * 1e6) / 1e6)]);
    assert.deepEqual(rounded(fromNormalised), expected);
    assert.deepEqual(rounded(fromPixels), expected);
  });

  test('an answer serialised twice (a JSON string holding the JSON) is read', async () => {
    const fake = await server(() => ({ body: JSON.stringify(JSON.stringify(oneCar())), headers: { 'content-type': 'application/json' } }));
    const result = await detector(fake).detect(sample);
    assert.equal(result.boxes[0]?.category, 'car');
  });

  test('429 with Retry-After is waited out', async () => {
    const arrivals: number[] = [];
    const fake = await server((_request, index) => {
      arrivals.push(performance.now());
      return index === 0 ? { status: 429, headers: { 'retry-after': '1' }, body: { message: 'Too many requests' } } : { body: oneCar() };
    });
    const result = await detector(fake).detect(sample);
    assert.equal(result.attempts, 2);
    const waited = arrivals[1]! - arrivals[0]!;
    assert.ok(waited >= 950 && waited < 2_000, `waited ${waited.toFixed(0)} ms`);
  });

  test('424 (model container failed) then success is retried', async () => {
    const fake = await server((_request, index) =>
      index === 0 ? { status: 424, body: { message: 'An unexpected error occurred in scoring script.' } } : { body: oneCar() },
    );
    const result = await detector(fake).detect(sample);
    assert.equal(result.attempts, 2);
    assert.equal(fake.requests.length, 2);
  });

  test('424 whose scoring container answered 400 (an image it cannot decode): InvalidImageError, not retried', async () => {
    const fake = await server(() =>
      modelError(400, 'Bad Request', { message: 'cannot identify image file <_io.BytesIO object at 0x7f3c2a1b5e50>' }),
    );
    const error = await failureOf(detector(fake, { maxRetries: 3 }).detect(sample));
    assert.ok(error instanceof InvalidImageError, String(error));
    assert.equal(error.kind, 'invalid-image');
    assert.equal(error.retryable, false);
    assert.equal(error.status, 424);
    assert.match(error.message, /cannot identify image file/);
    assert.match(error.message, /the scoring container answered 400 Bad Request/);
    assert.equal(fake.requests.length, 1);
  });

  test('424 whose container status is another 4xx but whose reason names the image: InvalidImageError', async () => {
    const fake = await server(() => modelError(409, 'Image could not be decoded', { message: 'rejected' }));
    const error = await failureOf(detector(fake, { maxRetries: 3 }).detect(sample));
    assert.ok(error instanceof InvalidImageError, String(error));
    assert.equal(fake.requests.length, 1);
  });

  test('424 whose scoring container answered another 4xx: a non-retryable ProviderError, sent once', async () => {
    const fake = await server(() => modelError(404, 'Not Found', { message: 'no such route in the scoring script' }));
    const error = await failureOf(detector(fake, { maxRetries: 3 }).detect(sample));
    assert.ok(error instanceof ProviderError, String(error));
    assert.equal(error.kind, 'provider');
    assert.equal(error.retryable, false);
    assert.equal(error.status, 424);
    assert.equal(error.requestId, 'req-424');
    assert.match(
      error.message,
      /request refused \(424: no such route in the scoring script; the scoring container answered 404 Not Found\)/,
    );
    assert.equal(fake.requests.length, 1);
  });

  test('424 whose scoring container answered 503 is retried, then the answer is used', async () => {
    const fake = await server((_request, index) =>
      index === 0 ? modelError(503, 'Service Unavailable', { message: 'model is still loading' }) : { body: oneCar() },
    );
    const result = await detector(fake, { maxRetries: 3 }).detect(sample);
    assert.equal(result.attempts, 2);
    assert.equal(fake.requests.length, 2);
    assert.equal(result.boxes[0]?.category, 'car');
  });

  test('424 with a container 5xx past the retries fails as a retryable ProviderError naming the container status', async () => {
    const fake = await server(() =>
      modelError(500, 'Internal Server Error', { message: 'An unexpected error occurred in scoring script.' }),
    );
    const error = await failureOf(detector(fake, { maxRetries: 2 }).detect(sample));
    assert.ok(error instanceof ProviderError, String(error));
    assert.equal(error.retryable, true);
    assert.match(error.message, /the scoring container answered 500 Internal Server Error/);
    assert.equal(fake.requests.length, 3);
  });

  test('502 past the retries fails as a retryable ProviderError', async () => {
    const fake = await server(() => ({ status: 502, body: 'Bad Gateway', headers: { 'content-type': 'text/plain' } }));
    const error = await failureOf(detector(fake, { maxRetries: 2 }).detect(sample));
    assert.ok(error instanceof ProviderError, String(error));
    assert.equal(error.status, 502);
    assert.equal(error.retryable, true);
    assert.equal(fake.requests.length, 3);
  });

  test('an answer slower than timeoutMs is a ProviderTimeoutError', async () => {
    const fake = await server(() => ({ body: oneCar(), delayMs: 1_500 }));
    const started = performance.now();
    await assert.rejects(detector(fake, { timeoutMs: 150, maxRetries: 0 }).detect(sample), ProviderTimeoutError);
    assert.ok(performance.now() - started < 1_000);
  });

  test('malformed JSON is a BadResponseError', async () => {
    const fake = await server(() => ({ body: '[{"boxes": [', headers: { 'content-type': 'application/json' } }));
    await assert.rejects(detector(fake, { maxRetries: 0 }).detect(sample), BadResponseError);
    assert.equal(fake.requests.length, 1);
  });

  test('normalised coordinates that are not numbers are a BadResponseError', async () => {
    const fake = await server(() => ({ body: [{ boxes: [{ box: { topX: '0.1' }, label: 'car', score: 0.9 }] }] }));
    await assert.rejects(detector(fake, { maxRetries: 0 }).detect(sample), BadResponseError);
  });

  test('401 is a non-retryable ProviderError', async () => {
    const fake = await server(() => ({ body: oneCar() }));
    const d = createFoundryEndpointDetector(config(`${fake.url}${SCORE_PATH}`, { maxRetries: 3 }), {
      env: { FOUNDRY_ENDPOINT_KEY: 'wrong' },
      retryPolicy: FAST,
    });
    const error = await failureOf(d.detect(sample));
    assert.ok(error instanceof ProviderError, String(error));
    assert.equal(error.status, 401);
    assert.equal(error.retryable, false);
    assert.match(error.message, /FOUNDRY_ENDPOINT_KEY/);
    assert.equal(fake.requests.length, 1);
  });

  test('entra: a bearer token for the Azure ML scope from the injected credential', async () => {
    const { credential, scopes } = fakeCredential('ml-token-abc');
    const fake = await server(() => ({ body: oneCar() }), 'ml-token-abc');
    const d = createFoundryEndpointDetector(config(`${fake.url}${SCORE_PATH}`, { auth: { type: 'entra' } }), {
      credential,
      retryPolicy: FAST,
      env: {},
    });
    const result = await d.detect(sample);
    assert.equal(result.boxes.length, 1);
    assert.equal(fake.requests[0]!.headers.authorization, 'Bearer ml-token-abc');
    assert.deepEqual(scopes.flat(), [AZURE_ML_SCOPE]);
  });

  test('a credential that cannot give a token fails once, not retried', async () => {
    const credential = failingCredential('CredentialUnavailableError: no identity');
    const fake = await server(() => ({ body: oneCar() }));
    const d = createFoundryEndpointDetector(config(`${fake.url}${SCORE_PATH}`, { auth: { type: 'entra' }, maxRetries: 3 }), {
      credential,
      retryPolicy: FAST,
    });
    const error = await failureOf(d.detect(sample));
    assert.ok(error instanceof ProviderError && !error.retryable, String(error));
    assert.match(error.message, /ml\.azure\.com/);
    assert.equal(fake.requests.length, 0);
  });
});
