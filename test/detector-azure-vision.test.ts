import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { AzureVisionDetectorSchema } from '../src/core/config/labeling-config';
import { BadResponseError, InvalidImageError, LabelingError, ProviderError, ProviderTimeoutError } from '../src/core/pipeline/errors';
import type { ImageInput } from '../src/core/pipeline/types';
import { readImage } from '../src/adapters/image/intake';
import { fitImage } from '../src/adapters/image/downscale';
import {
  createAzureVisionDetector,
  type AzureVisionDeps,
  type AzureVisionDetectorConfig,
} from '../src/adapters/providers/detector/azure-vision';
import { COGNITIVE_SERVICES_SCOPE } from '../src/adapters/providers/shared/auth';
import type { FakeServer, RecordedRequest, ScriptedResponse } from './fakes/http-server';
import {
  startAzureVisionServer,
  V32_PATH,
  V40_PATH,
  v32Answer,
  v40Answer,
  v40AnswerWithoutObjects,
  visionError,
} from './fakes/azure-vision-server';
import { closedAfterTests, failureOf, fakeCredential, loadSampleImage, TEST_IMAGE_LIMITS as LIMITS } from './helpers/provider-fixtures';

const KEY = 'fake-vision-key-0123';
const ENV = { AZURE_VISION_KEY: KEY };
/** Backoff short enough that a measured wait of a second can only be the service's Retry-After. */
const FAST: AzureVisionDeps['retryPolicy'] = { baseDelayMs: 5, maxDelayMs: 20 };
const APIS = ['4.0', '3.2'] as const;
type Api = (typeof APIS)[number];

let sample: ImageInput;
const servers = closedAfterTests<FakeServer>();

before(async () => {
  sample = await loadSampleImage(0);
});

async function server(
  api: Api,
  respond: (request: RecordedRequest, index: number) => ScriptedResponse | Promise<ScriptedResponse>,
  auth: { key?: string; bearer?: string } = { key: KEY },
) {
  const fake = await startAzureVisionServer(respond, { api, ...auth });
  servers.push(fake);
  return fake;
}

function config(api: Api, endpoint: string, overrides: Record<string, unknown> = {}): AzureVisionDetectorConfig {
  return AzureVisionDetectorSchema.parse({
    provider: 'azure-vision',
    endpoint,
    api,
    auth: { type: 'key', apiKeyEnv: 'AZURE_VISION_KEY' },
    timeoutMs: 5_000,
    maxRetries: 2,
    ...overrides,
  });
}

function detector(api: Api, fake: FakeServer, overrides: Record<string, unknown> = {}, deps: AzureVisionDeps = {}) {
  return createAzureVisionDetector(config(api, fake.url, overrides), { env: ENV, retryPolicy: FAST, ...deps });
}

/** One car-ish object in each API's shape, in the sent image's pixels. */
function oneCar(api: Api, rect: [number, number, number, number] = [100, 200, 300, 150], image = { width: 1280, height: 720 }) {
  return api === '4.0' ? v40Answer([{ box: rect, tag: ['car', 0.9] }], image) : v32Answer([{ rect, chain: [['car', 0.9]] }], image);
}

function noisePng(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);

describe('Azure AI Vision 4.0 (REST)', () => {
  test('sends the image to imageanalysis:analyze and maps each object by its tag', async () => {
    const fake = await server('4.0', () => ({
      body: v40Answer([
        { box: [100, 200, 300, 150], tag: ['car', 0.91] },
        { box: [500, 300, 80, 200], tag: ['person', 0.88] },
        { box: [700, 100, 120, 90], tag: ['Land vehicle', 0.7] },
        { box: [900, 400, 50, 60], tag: ['dog', 0.6] },
        { box: [40, 60, 70, 50], tag: ['Vehicle registration plate', 0.8] },
      ]),
      headers: { 'apim-request-id': 'req-40' },
    }));
    const d = detector('4.0', fake);
    const result = await d.detect(sample);

    assert.equal(fake.requests.length, 1);
    const [request] = fake.requests;
    const url = new URL(request!.url, 'http://x');
    assert.equal(request!.method, 'POST');
    assert.equal(url.pathname, V40_PATH);
    assert.equal(url.searchParams.get('api-version'), '2024-02-01');
    assert.equal(url.searchParams.get('features'), 'objects');
    assert.equal(request!.headers['ocp-apim-subscription-key'], KEY);
    assert.equal(request!.headers['content-type'], 'application/octet-stream');
    assert.equal(request!.headers.authorization, undefined);
    assert.ok(request!.body.equals(Buffer.from(sample.bytes)), 'the original JPEG bytes are sent unchanged');

    assert.deepEqual(
      result.boxes.map((b) => [b.category, b.score, b.sourceCategory, b.box2d]),
      [
        ['car', 0.91, 'car', { x1: 100, y1: 200, x2: 400, y2: 350 }],
        ['pedestrian', 0.88, 'person', { x1: 500, y1: 300, x2: 580, y2: 500 }],
        ['car', 0.7, 'Land vehicle', { x1: 700, y1: 100, x2: 820, y2: 190 }],
      ],
    );
    // A plate is no car: never matched by substring.
    assert.deepEqual(result.unmapped, { dog: 1, 'Vehicle registration plate': 1 });
    assert.equal(result.attempts, 1);
    assert.equal(result.details?.downscale, 1);
    assert.equal(result.details?.requestId, 'req-40');
    assert.deepEqual(d.model, { provider: 'azure-vision', model: '2023-10-01', apiVersion: '2024-02-01', endpoint: fake.url });
  });

  test('an object with several tags (the service sends one): the best known tag decides, with its confidence', async () => {
    const fake = await server('4.0', () => ({
      body: v40Answer([{ box: [40, 60, 70, 50], tag: ['taxi', 0.45], moreTags: [['Vehicle registration plate', 0.8]] }]),
    }));
    const result = await detector('4.0', fake).detect(sample);
    // The plate (best tag) is unknown; the next tag decides, with its own confidence.
    assert.deepEqual(
      result.boxes.map((b) => [b.category, b.score, b.sourceCategory, b.box2d]),
      [['car', 0.45, 'Vehicle registration plate', { x1: 40, y1: 60, x2: 110, y2: 110 }]],
    );
  });

  test('an answer without objectsResult (optional in the 4.0 spec) is an image with no objects', async () => {
    const fake = await server('4.0', () => ({ body: v40AnswerWithoutObjects(), headers: { 'apim-request-id': 'req-empty' } }));
    const d = detector('4.0', fake, { maxRetries: 2 });
    const result = await d.detect(sample);
    assert.deepEqual(result.boxes, []);
    assert.deepEqual(result.unmapped, {});
    assert.equal(result.attempts, 1, 'not retried as a bad answer');
    assert.equal(fake.requests.length, 1);
    assert.equal(result.details?.requestId, 'req-empty');
    assert.equal(d.model.model, '2023-10-01');
  });

  test('an image over 16000 px on a side is downscaled and boxes come back in original pixels', async () => {
    const wide = await readImage(
      await sharp({ create: { width: 16_400, height: 64, channels: 3, background: '#808080' } })
        .png()
        .toBuffer(),
      'wide.png',
      LIMITS,
    );
    const fake = await server('4.0', async (request) => {
      const { width = 0, height = 0 } = await sharp(request.body).metadata();
      return { body: v40Answer([{ box: [width / 4, 0, width / 2, height], tag: ['bus', 0.8] }], { width, height }) };
    });
    const result = await detector('4.0', fake).detect(wide);
    const sent = await sharp(fake.requests[0]!.body).metadata();
    assert.equal(sent.format, 'jpeg');
    // Sides must be less than 16,000 px.
    assert.equal(sent.width, 15_999);
    assert.equal(result.details?.downscale, 15_999 / 16_400);
    const box = result.boxes[0]!.box2d;
    near(box.x1, 4_100, 0.01, 'x1');
    near(box.x2, 12_300, 0.01, 'x2');
    near(box.y2, 64, 0.01, 'y2');
  });

  test('concurrency 1 keeps one request in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const fake = await server('4.0', async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 40));
      inFlight--;
      return { body: oneCar('4.0') };
    });
    const d = detector('4.0', fake, { concurrency: 1 });
    await Promise.all([d.detect(sample), d.detect(sample), d.detect(sample)]);
    assert.equal(fake.requests.length, 3);
    assert.equal(most, 1);
  });

  test('requestsPerMinute spaces the requests', async () => {
    const arrivals: number[] = [];
    const fake = await server('4.0', () => {
      arrivals.push(performance.now());
      return { body: oneCar('4.0') };
    });
    const d = detector('4.0', fake, { concurrency: 4, requestsPerMinute: 600 }); // one per 100 ms
    await d.detect(sample); // opens the connection, so that arrival times are not skewed by its setup
    await Promise.all([d.detect(sample), d.detect(sample), d.detect(sample)]);
    // Two intervals (200 ms) between the first and the last of the three; unlimited, they arrive within a few ms.
    const span = arrivals[3]! - arrivals[1]!;
    assert.ok(span >= 150, `three requests within ${span.toFixed(0)} ms`);
  });

  test("the caller's abort stops the request at once and is not retried", async () => {
    const fake = await server('4.0', () => ({ body: oneCar('4.0'), delayMs: 2_000 }));
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await assert.rejects(detector('4.0', fake).detect(sample, { signal: controller.signal }), /stop/);
    assert.ok(performance.now() - started < 1_000);
    assert.equal(fake.requests.length, 1);
  });
});

describe('Azure AI Vision 3.2 (SDK)', () => {
  test('sends the image through detectObjectsInStream and maps leaves, walking parents when the leaf is unknown', async () => {
    const fake = await server('3.2', () => ({
      body: v32Answer([
        {
          rect: [100, 200, 300, 150],
          chain: [
            ['taxi', 0.62],
            ['car', 0.9],
            ['Land vehicle', 0.95],
          ],
        },
        { rect: [500, 300, 80, 200], chain: [['person', 0.88]] },
        {
          rect: [700, 100, 120, 90],
          chain: [
            ['Land vehicle', 0.7],
            ['Vehicle', 0.8],
          ],
        },
        {
          rect: [900, 400, 50, 60],
          chain: [
            ['dog', 0.6],
            ['mammal', 0.7],
            ['animal', 0.8],
          ],
        },
        {
          rect: [40, 60, 70, 50],
          chain: [
            ['Crossover', 0.5],
            ['car', 0.85],
            ['Land vehicle', 0.9],
          ],
        },
        {
          rect: [10, 10, 90, 90],
          chain: [
            ['tractor', 0.55],
            ['Land vehicle', 0.8],
          ],
        },
      ]),
      headers: { 'apim-request-id': 'req-32' },
    }));
    const d = detector('3.2', fake);
    const result = await d.detect(sample);

    assert.equal(fake.requests.length, 1);
    const [request] = fake.requests;
    const url = new URL(request!.url, 'http://x');
    assert.equal(request!.method, 'POST');
    assert.equal(url.pathname, V32_PATH);
    assert.equal(url.searchParams.get('model-version'), 'latest');
    assert.equal(request!.headers['ocp-apim-subscription-key'], KEY);
    assert.equal(request!.headers['content-type'], 'application/octet-stream');
    assert.ok(request!.body.equals(Buffer.from(sample.bytes)), 'the original JPEG bytes are sent unchanged');

    assert.deepEqual(
      result.boxes.map((b) => [b.category, b.score, b.sourceCategory, b.box2d]),
      [
        ['car', 0.62, 'taxi', { x1: 100, y1: 200, x2: 400, y2: 350 }],
        ['pedestrian', 0.88, 'person', { x1: 500, y1: 300, x2: 580, y2: 500 }],
        ['car', 0.7, 'Land vehicle', { x1: 700, y1: 100, x2: 820, y2: 190 }],
        // Unknown leaf, known parent: the parent decides, with its confidence.
        ['car', 0.85, 'Crossover', { x1: 40, y1: 60, x2: 110, y2: 110 }],
      ],
    );
    assert.deepEqual(result.unmapped, { dog: 1, tractor: 1 });
    assert.equal(result.attempts, 1);
    assert.equal(result.details?.requestId, '7d2f4a1e-0000-4000-8000-000000000032');
    assert.deepEqual(d.model, { provider: 'azure-vision', model: '2021-05-01', apiVersion: '3.2', endpoint: fake.url });
  });

  test('parent chains as the service sends them: a known leaf decides, else the nearest known parent, at any depth', async () => {
    const fake = await server('3.2', () => ({
      body: v32Answer([
        // The documented shape: {object: 'sedan', parent: {object: 'car', parent: {object: 'Land vehicle'}}}.
        { rect: [10, 20, 30, 40], chain: [['sedan', 0.7], 'car', 'Land vehicle'] },
        // An unknown leaf whose parent carries no confidence: the leaf's confidence is the box's score.
        { rect: [50, 60, 70, 80], chain: [['Crossover', 0.6], 'car', 'Land vehicle'] },
        // Two unknown names before a known one.
        {
          rect: [100, 100, 50, 50],
          chain: [
            ['Kei car', 0.5],
            ['Microcar', 0.55],
            ['bus', 0.8],
            ['Land vehicle', 0.9],
          ],
        },
        // Nothing specific in the chain: the generic vehicle parent gives car.
        {
          rect: [200, 200, 20, 20],
          chain: [
            ['Rickshaw', 0.4],
            ['Land vehicle', 0.75],
          ],
        },
        // A name BDD does not label stops the walk before the generic parent.
        {
          rect: [300, 300, 20, 20],
          chain: [
            ['Forklift', 0.4],
            ['Land vehicle', 0.75],
          ],
        },
      ]),
    }));
    const result = await detector('3.2', fake).detect(sample);
    assert.deepEqual(
      result.boxes.map((b) => [b.category, b.score, b.sourceCategory]),
      [
        ['car', 0.7, 'sedan'],
        ['car', 0.6, 'Crossover'],
        ['bus', 0.8, 'Kei car'],
        ['car', 0.75, 'Rickshaw'],
      ],
    );
    assert.deepEqual(result.unmapped, { Forklift: 1 });
  });

  test('an image over 4 MB is re-encoded under 4 MB and boxes are scaled back to original pixels', async () => {
    const big = await readImage(await noisePng(3_000, 2_000), 'noise.png', LIMITS);
    assert.ok(big.bytes.length > 4_000_000, `the test PNG is ${big.bytes.length} bytes`);
    const fake = await server('3.2', async (request) => {
      const { width = 0, height = 0 } = await sharp(request.body).metadata();
      // A box over the middle half of what the service received, in its pixels.
      return { body: v32Answer([{ rect: [width / 4, height / 4, width / 2, height / 2], chain: [['truck', 0.8]] }], { width, height }) };
    });
    const result = await detector('3.2', fake).detect(big);

    const body = fake.requests[0]!.body;
    assert.ok(body.length < 4_000_000, `sent ${body.length} bytes`);
    const sent = await sharp(body).metadata();
    assert.equal(sent.format, 'jpeg');
    assert.ok(sent.width! < 3_000 && sent.height! < 2_000, `sent ${sent.width}x${sent.height}`);
    near(Number(result.details?.downscale), sent.width! / 3_000, 1e-9, 'downscale factor');
    assert.equal(result.details?.sentBytes, body.length);
    const box = result.boxes[0]!.box2d;
    const tolerance = 3_000 / sent.width!; // one sent pixel
    near(box.x1, 750, tolerance, 'x1');
    near(box.y1, 500, tolerance, 'y1');
    near(box.x2, 2_250, tolerance, 'x2');
    near(box.y2, 1_500, tolerance, 'y2');
  });
});

for (const api of APIS) {
  describe(`Azure AI Vision ${api}: failures`, () => {
    test('429 with Retry-After is waited out, then the answer is used', async () => {
      const arrivals: number[] = [];
      const fake = await server(api, (_request, index) => {
        arrivals.push(performance.now());
        return index === 0
          ? { status: 429, headers: { 'retry-after': '1' }, body: visionError('429', 'Rate limit is exceeded. Try again in 1 seconds.') }
          : { body: oneCar(api) };
      });
      const result = await detector(api, fake).detect(sample);
      assert.equal(result.attempts, 2);
      assert.equal(result.boxes.length, 1);
      const waited = arrivals[1]! - arrivals[0]!;
      assert.ok(waited >= 950 && waited < 2_000, `waited ${waited.toFixed(0)} ms`);
    });

    test('500 then success is retried', async () => {
      const fake = await server(api, (_request, index) =>
        index === 0 ? { status: 500, body: visionError('InternalServerError', 'Internal server error.') } : { body: oneCar(api) },
      );
      const result = await detector(api, fake).detect(sample);
      assert.equal(result.attempts, 2);
      assert.equal(fake.requests.length, 2);
      assert.equal(result.boxes[0]?.category, 'car');
    });

    test('500 past the retries fails as a retryable ProviderError', async () => {
      const fake = await server(api, () => ({
        status: 503,
        body: visionError('ServiceUnavailable', 'Service is temporarily unavailable.'),
      }));
      const error = await failureOf(detector(api, fake, { maxRetries: 2 }).detect(sample));
      assert.ok(error instanceof ProviderError, String(error));
      assert.equal(error.status, 503);
      assert.equal(error.retryable, true);
      assert.match(error.message, /temporarily unavailable/);
      assert.equal(fake.requests.length, 3);
    });

    test('an answer slower than timeoutMs is a ProviderTimeoutError', async () => {
      const fake = await server(api, () => ({ body: oneCar(api), delayMs: 1_500 }));
      const started = performance.now();
      await assert.rejects(detector(api, fake, { timeoutMs: 150, maxRetries: 0 }).detect(sample), ProviderTimeoutError);
      assert.ok(performance.now() - started < 1_000, 'gave up at the timeout, not at the answer');
      assert.equal(fake.requests.length, 1);
    });

    test('malformed JSON is a BadResponseError', async () => {
      const fake = await server(api, () => ({
        body: '{"objects": [ {"rectangle": ',
        headers: { 'content-type': 'application/json; charset=utf-8' },
      }));
      await assert.rejects(detector(api, fake, { maxRetries: 0 }).detect(sample), BadResponseError);
      assert.equal(fake.requests.length, 1);
    });

    test('JSON of the wrong shape is a BadResponseError', async () => {
      const fake = await server(api, () => ({
        body: api === '4.0' ? { objectsResult: { values: [{ tags: 'car' }] } } : { objects: [{ object: 'car' }] },
      }));
      await assert.rejects(detector(api, fake, { maxRetries: 0 }).detect(sample), BadResponseError);
    });

    test('400 InvalidImageFormat is an InvalidImageError and is not retried', async () => {
      const fake = await server(api, () => ({
        status: 400,
        body: visionError('InvalidRequest', 'Input data is not a valid image.', 'InvalidImageFormat'),
      }));
      const error = await failureOf(detector(api, fake, { maxRetries: 3 }).detect(sample));
      assert.ok(error instanceof InvalidImageError, String(error));
      assert.equal(error.retryable, false);
      assert.equal(fake.requests.length, 1);
    });

    test('401 is a non-retryable ProviderError naming the key variable', async () => {
      const fake = await server(api, () => ({ body: oneCar(api) }));
      const d = createAzureVisionDetector(config(api, fake.url, { maxRetries: 3 }), {
        env: { AZURE_VISION_KEY: 'wrong' },
        retryPolicy: FAST,
      });
      const error = await failureOf(d.detect(sample));
      assert.ok(error instanceof ProviderError, String(error));
      assert.equal(error.status, 401);
      assert.equal(error.retryable, false);
      assert.match(error.message, /AZURE_VISION_KEY/);
      assert.equal(fake.requests.length, 1);
    });

    test('a 40 x 40 px image is refused as an invalid image without a request', async () => {
      const fake = await server(api, () => ({ body: oneCar(api) }));
      const small = await readImage(
        await sharp({ create: { width: 40, height: 40, channels: 3, background: '#000' } })
          .png()
          .toBuffer(),
        'small.png',
        LIMITS,
      );
      const error = await failureOf(detector(api, fake, { maxRetries: 3 }).detect(small));
      assert.ok(error instanceof InvalidImageError, String(error));
      assert.equal(error.kind, 'invalid-image');
      assert.equal(error.retryable, false);
      assert.match(error.message, /small\.png: 40x40 is too small for Azure AI Vision, which takes sides of more than 50 px/);
      assert.equal(fake.requests.length, 0);
    });

    test('an image of exactly 50 px on a side is refused too (sides must be greater than 50 px)', async () => {
      const fake = await server(api, () => ({ body: oneCar(api) }));
      const edge = await readImage(
        await sharp({ create: { width: 400, height: 50, channels: 3, background: '#000' } })
          .png()
          .toBuffer(),
        'edge.png',
        LIMITS,
      );
      await assert.rejects(detector(api, fake).detect(edge), InvalidImageError);
      assert.equal(fake.requests.length, 0);
    });

    test('an image under 50 px on a side is refused before sending', async () => {
      const fake = await server(api, () => ({ body: oneCar(api) }));
      const tiny = await readImage(
        await sharp({ create: { width: 120, height: 40, channels: 3, background: '#000' } })
          .png()
          .toBuffer(),
        'tiny.png',
        LIMITS,
      );
      await assert.rejects(detector(api, fake).detect(tiny), InvalidImageError);
      assert.equal(fake.requests.length, 0);
    });

    test('entra: a bearer token for the Cognitive Services scope from the injected credential, no key', async () => {
      const { credential, scopes } = fakeCredential('entra-token-xyz');
      const fake = await server(api, () => ({ body: oneCar(api) }), { bearer: 'entra-token-xyz' });
      const d = createAzureVisionDetector(config(api, fake.url, { auth: { type: 'entra' } }), { credential, retryPolicy: FAST, env: {} });
      const result = await d.detect(sample);
      await d.detect(sample);
      assert.equal(result.boxes.length, 1);
      assert.equal(fake.requests[0]!.headers.authorization, 'Bearer entra-token-xyz');
      assert.equal(fake.requests[0]!.headers['ocp-apim-subscription-key'], undefined);
      assert.deepEqual([scopes.flat()[0]], [COGNITIVE_SERVICES_SCOPE]);
      assert.equal(scopes.length, 1, 'the token is cached between requests');
    });
  });
}

test('a missing key variable fails at construction with a config error', () => {
  assert.throws(
    () => createAzureVisionDetector(config('4.0', 'http://127.0.0.1:9'), { env: {} }),
    (error: unknown) => error instanceof LabelingError && error.kind === 'config' && /AZURE_VISION_KEY/.test(error.message),
  );
});

test('fitImage sends small images unchanged and shrinks large ones under the byte limit', async () => {
  const unchanged = await fitImage(sample, { maxBytes: 4_000_000, maxSide: 16_000 });
  assert.equal(unchanged.bytes, sample.bytes);
  assert.deepEqual([unchanged.scaleX, unchanged.reencoded, unchanged.contentType], [1, false, 'image/jpeg']);
  const shrunk = await fitImage(sample, { maxBytes: 30_000 });
  assert.ok(shrunk.bytes.length <= 30_000, `${shrunk.bytes.length} bytes`);
  assert.ok(shrunk.scaleX < 1 && shrunk.reencoded);
  near(shrunk.scaleY, shrunk.scaleX, 0.01, 'aspect ratio kept');
  await assert.rejects(fitImage(sample, { maxBytes: 500, minSide: 50 }), InvalidImageError);
});
