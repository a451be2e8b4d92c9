/**
 * The HTTP functions, called as the Functions host calls them (HttpRequest + InvocationContext), against real
 * Azurite and the Cosmos DB stand-in, with the real local models for POST /api/labels. Documents and blobs are
 * seeded through the app's own stores. Durable is a stand-in of the extension's HTTP API (test/fakes/durable-api.ts)
 * that durable-functions' own client talks to.
 */
import { invocationContext, useDurableApi } from './helpers/app';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, beforeEach, test } from 'node:test';
import { HttpRequest, HttpResponse, InvocationContext, type HttpResponseInit } from '@azure/functions';
import sharp from 'sharp';
import { z } from 'zod';
import { ensureResources } from '../src/app/clients';
import { negotiate, parseAccept } from '../src/app/http/accept';
import { Degraded, runCheck, runChecks } from '../src/app/http/health-checks';
import { labelingFailure } from '../src/app/http/labeling-errors';
import { createRuntime, setAppRuntime, type AppRuntime } from '../src/app/runtime';
import { DOCUMENT_SCHEMA_VERSION, type BatchDocument, type LabelDocument } from '../src/app/store/documents';
import { BLOB_CONTAINERS, labelDocumentId } from '../src/app/store/names';
import { InvalidImageError, ProviderError, ProviderTimeoutError, ThrottledError } from '../src/core/pipeline/errors';
import type { Frame } from '../src/core/labels/schema';
import { evaluateBatchHttp } from '../src/app/functions/evaluateBatchHttp';
import { getBatch } from '../src/app/functions/getBatch';
import { getBatchLabel } from '../src/app/functions/getBatchLabel';
import { getBatchOverlay } from '../src/app/functions/getBatchOverlay';
import { getBatchReview } from '../src/app/functions/getBatchReview';
import { getBatchExport } from '../src/app/functions/getBatchExport';
import { parseCvatXml } from '../src/adapters/interchange/cvat-xml';
import { cvatDocumentToFrames } from '../src/core/interchange';
import { unzipSync } from 'fflate';
import { putBatchLabelReview } from '../src/app/functions/putBatchLabelReview';
import { planEvaluation } from '../src/app/services/evaluation';
import { getReport } from '../src/app/functions/getReport';
import { health } from '../src/app/functions/health';
import { listBatches } from '../src/app/functions/listBatches';
import { postLabels } from '../src/app/functions/postLabels';
import { loadFunctions } from '../dev/local-host/functions-runtime';
import { renderPage } from '../src/adapters/report/page';
import { closedPort } from './fakes/http-server';
import { startChatServer } from './fakes/openai-chat-server';
import { useLocalServices } from './helpers/local-services';
import { sampleImagesDir, sampleLabelsDir, sharedDir } from './helpers/shared';

const services = useLocalServices();
const durableApi = useDurableApi();

const IMAGE = '0798a3a8-c4501e0f.jpg';
const imageBytes = readFileSync(path.join(sampleImagesDir, IMAGE));
const groundTruthBytes = readFileSync(path.join(sampleLabelsDir, '0798a3a8-c4501e0f_label.json'));
/** Small enough that a padded sample image goes over it; the sample images are 80-130 KB. */
const MAX_BYTES = 300_000;

let app: AppRuntime;

// Node 20 runs root-level before() hooks concurrently, so the services may not be up in one: set up before the
// first test instead (beforeEach runs once every before() has finished).
let ready: Promise<void> | undefined;
beforeEach(() => (ready ??= setUp()));

async function setUp(): Promise<void> {
  app = createRuntime({
    env: {
      ...services().env(),
      AUTOLABEL_MODELS_DIR: path.join(sharedDir, 'models'),
      AUTOLABEL_LOCAL_WORKERS: '1',
      AUTOLABEL_CONFIG: JSON.stringify({ concurrency: 2, limits: { maxBytes: MAX_BYTES } }),
    },
  });
  await ensureResources(app.clients, app.settings.cosmos.database);
  await setAppRuntime(app);
}

after(async () => {
  await setAppRuntime(undefined);
});

// ---------------------------------------------------------------------------------------------------------------
// Calling handlers

interface Call {
  method?: string;
  path: string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): any;
  logs: string[];
}

function request(call: Call): HttpRequest {
  const body = call.body;
  return new HttpRequest({
    method: call.method ?? 'GET',
    url: `http://localhost:7071/api/${call.path}`,
    headers: call.headers ?? {},
    params: call.params ?? {},
    ...(body === undefined
      ? {}
      : typeof body === 'string'
        ? { body: { string: body } }
        : body instanceof Uint8Array
          ? { body: { bytes: body } }
          : {}),
  });
}

/** The worker's context for one call, with a durableClient input bound to the Durable API stand-in. */
function context(functionName: string, logs: string[]): InvocationContext {
  return invocationContext(functionName, {}, logs);
}

/** Resolve a handler's HttpResponseInit or HttpResponse the way the host does, to status, headers and bytes. */
async function resolve(result: HttpResponseInit | HttpResponse): Promise<Omit<Answer, 'logs' | 'json'>> {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/** Calls a handler; every answer, whatever its status and kind, must carry nosniff (checked here for all of them). */
async function invoke(
  handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit | HttpResponse>,
  call: Call | HttpRequest,
): Promise<Answer> {
  const logs: string[] = [];
  const req = call instanceof HttpRequest ? call : request(call);
  const resolved = await resolve(await handler(req, context(handler.name, logs)));
  assert.equal(resolved.headers.get('x-content-type-options'), 'nosniff', `${handler.name} ${resolved.status}: X-Content-Type-Options`);
  return { ...resolved, logs, json: () => JSON.parse(resolved.body.toString('utf8')) };
}

function assertError(answer: Answer, status: number, code: string): any {
  const shown = /^(application\/json|text\/)/.test(answer.headers.get('content-type') ?? '')
    ? answer.body.toString('utf8').slice(0, 400)
    : '(binary)';
  assert.equal(answer.status, status, `status (body: ${shown})`);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
  const body = answer.json();
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  return body.error;
}

// ---------------------------------------------------------------------------------------------------------------
// Seeding through the stores

const nowIso = () => new Date().toISOString();

async function seedBatch(batchId: string, change: (doc: BatchDocument) => BatchDocument): Promise<BatchDocument> {
  const { doc } = await app.batches.update(batchId, nowIso, (current) => change(current));
  return doc;
}

function labeledBatch(doc: BatchDocument, expected = 1): BatchDocument {
  return {
    ...doc,
    status: 'labeled',
    expected,
    labeled: expected,
    failed: 0,
    manifest: { path: `images/${doc.batchId}/_batch.json`, etag: '"m1"', declaredAt: nowIso(), groundTruthPrefix: `${doc.batchId}/` },
    completedAt: nowIso(),
  };
}

const predicted: Frame = {
  name: IMAGE,
  attributes: { weather: 'snowy', scene: 'city street', timeofday: 'daytime' },
  labels: [
    { id: '1', category: 'car', box2d: { x1: 0, y1: 375, x2: 92.5, y2: 548.5 }, score: 0.91 },
    { id: '2', category: 'traffic sign', box2d: { x1: 600, y1: 200, x2: 640, y2: 240 }, score: 0.55 },
  ],
  provenance: { schemaVersion: 1, configHash: 'abc', createdAt: '2025-01-01T00:00:00.000Z' },
};

async function seedLabel(
  batchId: string,
  name: string,
  status: LabelDocument['status'],
  extra: Partial<LabelDocument> = {},
): Promise<LabelDocument> {
  const now = nowIso();
  return app.labels.upsert({
    id: labelDocumentId(name),
    batchId,
    name,
    kind: 'label',
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    status,
    blob: { path: `images/${batchId}/${name}`, etag: '"e1"', bytes: 1 },
    configHash: 'abc',
    attempts: 1,
    createdAt: now,
    updatedAt: now,
    ...(status === 'labeled' ? { frame: predicted } : {}),
    ...extra,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Registrations

test('each HTTP function registers once, with its route, method and auth level', () => {
  // As the worker receives them: @azure/functions registers through the runtime module the local host provides.
  const http = loadFunctions(require.resolve('../src/app/functions')).filter((f) => f.trigger.type === 'httpTrigger');
  const byName = new Map(http.map((f) => [f.name, f]));
  const expected: Array<[string, string, string, string]> = [
    ['postLabels', 'POST', 'labels', 'function'],
    ['listBatches', 'GET', 'batches', 'function'],
    ['getBatch', 'GET', 'batches/{batchId}', 'function'],
    ['getBatchLabel', 'GET', 'batches/{batchId}/labels/{name}', 'function'],
    ['getBatchOverlay', 'GET', 'batches/{batchId}/labels/{name}/overlay', 'function'],
    ['getBatchReview', 'GET', 'batches/{batchId}/review', 'function'],
    ['getBatchExport', 'GET', 'batches/{batchId}/export', 'function'],
    ['putBatchLabelReview', 'PUT', 'batches/{batchId}/labels/{name}/review', 'function'],
    ['evaluateBatchHttp', 'POST', 'batches/{batchId}/evaluate', 'function'],
    ['getReport', 'GET', 'reports/{reportId}', 'function'],
    ['health', 'GET', 'health', 'anonymous'],
  ];
  assert.deepEqual([...byName.keys()].sort(), expected.map(([name]) => name).sort(), 'exactly these, each once');
  for (const [name, method, route, authLevel] of expected) {
    const { trigger } = byName.get(name)!;
    assert.deepEqual([trigger.methods, trigger.route, trigger.authLevel], [[method], route, authLevel], name);
  }
  assert.deepEqual(
    byName.get('evaluateBatchHttp')!.extraInputs.map((b) => b.type),
    ['durableClient'],
  );
});

// ---------------------------------------------------------------------------------------------------------------
// POST /api/labels

test('POST /api/labels labels a real image with the local models: 200 and the frame with provenance', async () => {
  const answer = await invoke(postLabels, {
    method: 'POST',
    path: `labels?name=${IMAGE}`,
    headers: { 'content-type': 'image/jpeg', 'content-length': String(imageBytes.length) },
    body: imageBytes,
  });
  assert.equal(answer.status, 200, answer.body.toString('utf8').slice(0, 400));
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
  const frame = answer.json();
  assert.equal(frame.name, IMAGE);
  assert.ok(frame.labels.length > 0, 'the detector finds boxes in a street scene');
  for (const label of frame.labels) {
    assert.equal(typeof label.score, 'number');
    assert.ok(label.score >= 0.3 && label.score <= 1, `score ${label.score} is above the threshold`);
    assert.ok(label.box2d.x2 > label.box2d.x1 && label.box2d.y2 > label.box2d.y1);
  }
  assert.ok(['weather', 'scene', 'timeofday'].every((k) => typeof frame.attributes[k] === 'string'));
  const p = frame.provenance;
  assert.deepEqual([p.image.width, p.image.height, p.image.format, p.image.bytes], [1280, 720, 'jpeg', imageBytes.length]);
  assert.equal(p.configHash, (await app.setup()).configHash);
  assert.equal(p.detector.provider, 'onnx');
  // The structured log line the monitoring queries read: providers, models and each one's latency.
  const logged = answer.logs
    .filter((line) => line.includes('{'))
    .map((line) => JSON.parse(line.slice(line.indexOf('{'))))
    .find((entry) => entry.event === 'image-labeled');
  assert.ok(logged, answer.logs.join('\n'));
  assert.deepEqual(
    [logged.source, logged.image, logged.boxes, logged.scene, logged.sceneModel, logged.detector, logged.detectorModel],
    ['http', IMAGE, frame.labels.length, p.scene.provider, p.scene.model, 'onnx', p.detector.model],
  );
  assert.deepEqual(
    [logged.latencyMs, logged.sceneLatencyMs, logged.detectorLatencyMs],
    [p.latencyMs, p.scene.latencyMs, p.detector.latencyMs],
  );
  assert.ok(logged.detectorLatencyMs > 0 && logged.detectorLatencyMs <= logged.latencyMs);
});

test('POST /api/labels without ?name= names the frame "upload"; an invalid name is 400', async () => {
  const answer = await invoke(postLabels, { method: 'POST', path: 'labels', body: imageBytes });
  assert.equal(answer.status, 200);
  assert.equal(answer.json().name, 'upload');

  const bad = await invoke(postLabels, { method: 'POST', path: `labels?name=${encodeURIComponent('a/b.jpg')}`, body: imageBytes });
  assert.match(assertError(bad, 400, 'invalid-query').message, /name/);
});

test('POST /api/labels: a text file is 422 with the reason; an empty body is 400', async () => {
  const text = await invoke(postLabels, {
    method: 'POST',
    path: 'labels?name=notes.txt',
    headers: { 'content-type': 'application/octet-stream' },
    body: 'these are my notes about the drive, not an image\n'.repeat(4),
  });
  assert.match(assertError(text, 422, 'invalid-image').message, /notes\.txt: text, not an image; JPEG and PNG are accepted/);

  const empty = await invoke(postLabels, { method: 'POST', path: 'labels', headers: { 'content-type': 'image/jpeg' } });
  assertError(empty, 400, 'empty-body');
  const emptyBytes = await invoke(postLabels, { method: 'POST', path: 'labels', body: new Uint8Array(0) });
  assertError(emptyBytes, 400, 'empty-body');
});

test('POST /api/labels over limits.maxBytes is 413: from Content-Length before reading, and from the bytes themselves', async () => {
  const big = Buffer.concat([imageBytes, Buffer.alloc(MAX_BYTES)]);
  // Declared length over the limit: refused before the body is read (the body is never touched).
  const declared = request({ method: 'POST', path: 'labels', headers: { 'content-length': String(big.length) }, body: big });
  const answer = await invoke(postLabels, declared);
  const error = assertError(answer, 413, 'payload-too-large');
  assert.equal(error.limitBytes, MAX_BYTES);
  assert.match(error.message, /Content-Length/);
  assert.equal(declared.bodyUsed, false);

  // No Content-Length (chunked): counted while reading.
  const chunked = await invoke(postLabels, { method: 'POST', path: 'labels', body: big });
  assert.match(assertError(chunked, 413, 'payload-too-large').message, /more than 300000 bytes/);

  // Exactly at the limit is accepted as far as size goes (then judged as an image: padding after the JPEG is fine).
  const atLimit = Buffer.concat([imageBytes, Buffer.alloc(MAX_BYTES - imageBytes.length)]);
  const ok = await invoke(postLabels, { method: 'POST', path: 'labels', body: atLimit });
  assert.notEqual(ok.status, 413);
});

test('POST /api/labels with a form-encoded body is 415 with how to send the bytes', async () => {
  const answer = await invoke(postLabels, {
    method: 'POST',
    path: 'labels',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: imageBytes,
  });
  assert.match(assertError(answer, 415, 'unsupported-media-type').message, /--data-binary/);
});

/** Run `work` with the runtime's providers replaced by a detector that fails with `error`. */
async function withFailingDetector<T>(error: Error, work: () => Promise<T>): Promise<T> {
  const original = app.setup;
  const real = await original();
  app.setup = async () => ({
    config: real.config,
    configHash: 'failing',
    decodeImage: real.decodeImage,
    detector: {
      model: { provider: 'fake', model: 'fails' },
      detect: async () => {
        throw error;
      },
    },
  });
  try {
    return await work();
  } finally {
    app.setup = original;
  }
}

test('POST /api/labels: a throttled provider is 429 with Retry-After; an outage or timeout is 503; anything else 500', async () => {
  const post = () => invoke(postLabels, { method: 'POST', path: 'labels', body: imageBytes });

  const throttled = await withFailingDetector(new ThrottledError('fake: throttled (429)', { provider: 'fake', retryAfterMs: 2500 }), post);
  const t = assertError(throttled, 429, 'provider-throttled');
  assert.equal(throttled.headers.get('retry-after'), '3');
  assert.equal(t.retryAfterSeconds, 3);

  const unsaid = await withFailingDetector(new ThrottledError('fake: throttled', { provider: 'fake' }), post);
  assert.equal(unsaid.headers.get('retry-after'), '10');

  const outage = await withFailingDetector(new ProviderError('fake: 503 Service Unavailable', { provider: 'fake', status: 503 }), post);
  assert.equal(assertError(outage, 503, 'provider-unavailable').provider, 'fake');

  const timeout = await withFailingDetector(new ProviderTimeoutError('fake: no answer in 30 s', { provider: 'fake' }), post);
  assertError(timeout, 503, 'provider-timeout');

  const refused = await withFailingDetector(new ProviderError('fake: 401 bad key', { provider: 'fake', status: 401 }), post);
  const internal = assertError(refused, 500, 'internal-error');
  assert.doesNotMatch(internal.message, /bad key/, 'no internals in a 500');
  assert.ok(
    refused.logs.some((l) => l.startsWith('error:') && /bad key/.test(l)),
    'the cause is logged',
  );
});

test('labelingFailure maps the typed errors (unit)', () => {
  const ctx = context('unit', []);
  assert.equal(labelingFailure(new InvalidImageError('x: empty file'), ctx).status, 422);
  assert.equal(labelingFailure(new ThrottledError('t', { provider: 'p', retryAfterMs: 100 }), ctx).headers?.['retry-after' as never], '1');
  assert.equal(labelingFailure(new ProviderError('p: 502', { provider: 'p', status: 502 }), ctx).status, 503);
  assert.equal(labelingFailure(new Error('boom'), ctx).status, 500);
});

// ---------------------------------------------------------------------------------------------------------------
// Batches

test('GET /api/batches lists the batches as views; GET /api/batches/{batchId} gives one; 404 unknown; 400 invalid id', async () => {
  await seedBatch('list-a', (doc) => doc);
  await seedBatch('list-b', (doc) => ({ ...labeledBatch(doc, 3), labeled: 2, failed: 1, reportId: 'report-list-b' }));

  const list = await invoke(listBatches, { path: 'batches' });
  assert.equal(list.status, 200);
  const views = list.json().batches as any[];
  const a = views.find((v) => v.batchId === 'list-a');
  const b = views.find((v) => v.batchId === 'list-b');
  assert.deepEqual([a.status, a.expected, a.labeled, a.failed, a.reportId], ['labeling', null, 0, 0, undefined]);
  assert.deepEqual([b.status, b.expected, b.labeled, b.failed, b.reportId], ['labeled', 3, 2, 1, 'report-list-b']);
  assert.ok(
    views.every((v) => !('_etag' in v) && !('manifest' in v)),
    'views, not documents',
  );

  const one = await invoke(getBatch, { path: 'batches/list-b', params: { batchId: 'list-b' } });
  assert.equal(one.status, 200);
  // The list's view, plus what the batch waits for (nothing: it is labeled) and its deadline.
  const declaredAt = (await app.batches.get('list-b'))!.manifest!.declaredAt;
  const deadline = new Date(Date.parse(declaredAt) + app.settings.sweep.deadlineMs).toISOString();
  assert.deepEqual(one.json(), { ...b, missing: [], missingCount: 0, deadline });

  assertError(await invoke(getBatch, { path: 'batches/nope', params: { batchId: 'nope' } }), 404, 'batch-not-found');
  const invalid = assertError(await invoke(getBatch, { path: 'batches/..x', params: { batchId: '..x' } }), 400, 'invalid-route-parameter');
  assert.match(invalid.message, /batchId/);
});

test('GET /api/batches/{batchId}/labels/{name}: the frame; 422 failed with its reason; 409 retrying; 404 unknown', async () => {
  const batchId = 'labels-1';
  await seedBatch(batchId, (doc) => labeledBatch(doc, 3));
  await seedLabel(batchId, IMAGE, 'labeled');
  await seedLabel(batchId, 'broken.jpg', 'failed', {
    error: { kind: 'invalid-image', message: 'broken.jpg: text, not an image', retryable: false },
  });
  await seedLabel(batchId, 'later.jpg', 'retrying', {
    attempts: 2,
    error: { kind: 'throttled', message: 'p: throttled', retryable: true },
  });
  const get = (name: string, batch = batchId) =>
    invoke(getBatchLabel, { path: `batches/${batch}/labels/${name}`, params: { batchId: batch, name } });

  const labeled = await get(IMAGE);
  assert.equal(labeled.status, 200);
  assert.deepEqual(labeled.json(), predicted);

  const failed = assertError(await get('broken.jpg'), 422, 'label-failed');
  assert.deepEqual([failed.status, failed.attempts, failed.reason.kind], ['failed', 1, 'invalid-image']);
  assert.match(failed.message, /text, not an image/);

  const pending = await get('later.jpg');
  const p = assertError(pending, 409, 'label-pending');
  assert.equal(p.status, 'retrying');
  assert.equal(pending.headers.get('retry-after'), '30');

  assertError(await get('missing.jpg'), 404, 'label-not-found');
  assertError(await get(IMAGE, 'no-such-batch'), 404, 'batch-not-found');
  assertError(await invoke(getBatchLabel, { path: 'x', params: { batchId, name: 'a\\b.jpg' } }), 400, 'invalid-route-parameter');
});

test('GET /api/batches/{batchId}/review: the queue of the batch, doubtful images first, with reasons; 404 unknown, 400 bad limit', async () => {
  const batchId = 'review-1';
  await seedBatch(batchId, (doc) => labeledBatch(doc, 3));
  const provenance = (before: number) => ({
    schemaVersion: 1,
    pipelineVersion: '1',
    createdAt: nowIso(),
    configHash: 'abc',
    image: { sha256: 'x', width: 1280, height: 720, format: 'jpeg', bytes: 1 },
    scene: null,
    detector: { provider: 'onnx', model: 'yolox-nano', latencyMs: 1, boxesBeforeThresholds: before },
    thresholds: { default: 0.3, perClass: {} },
    latencyMs: 1,
  });
  await seedLabel(batchId, 'calm.jpg', 'labeled', { frame: { ...predicted, name: 'calm.jpg', provenance: provenance(2) } });
  await seedLabel(batchId, 'doubt.jpg', 'labeled', { frame: { ...predicted, name: 'doubt.jpg', provenance: provenance(40) } });
  await seedLabel(batchId, 'failed.jpg', 'failed', { error: { kind: 'invalid-image', message: 'x', retryable: false } });
  const get = (query = '', batch = batchId) =>
    invoke(getBatchReview, { path: `batches/${batch}/review${query}`, params: { batchId: batch } });
  const answer = await get();
  assert.equal(answer.status, 200);
  const body = answer.json() as { images: number; items: Array<{ name: string; priority: number; reasons: string[] }> };
  assert.equal(body.images, 2, 'only labeled images are reviewed');
  assert.deepEqual(
    body.items.map((i) => i.name),
    ['doubt.jpg', 'calm.jpg'],
  );
  assert.match(body.items[0]!.reasons[0]!, /^38 detections dropped by the score thresholds/);
  assert.equal((await get('?limit=1')).json().items.length, 1);
  assertError(await get('?limit=0'), 400, 'invalid-query');
  assertError(await get('', 'no-such-batch'), 404, 'batch-not-found');
});

test('PUT .../labels/{name}/review stores the corrected frame beside the automatic one; bad bodies 400, unknown 404', async () => {
  const batchId = 'review-2';
  await seedBatch(batchId, (doc) => labeledBatch(doc, 1));
  await seedLabel(batchId, IMAGE, 'labeled');
  const corrected: Frame = { ...predicted, labels: [predicted.labels[0]!], attributes: { ...predicted.attributes, weather: 'rainy' } };
  const put = (body: unknown, name = IMAGE, batch = batchId) =>
    invoke(
      putBatchLabelReview,
      new HttpRequest({
        method: 'PUT',
        url: `http://localhost/api/batches/${batch}/labels/${name}/review`,
        params: { batchId: batch, name },
        headers: { 'content-type': 'application/json' },
        body: { string: JSON.stringify(body) },
      }),
    );
  const first = await put({ reviewer: 'ana@example.com', frame: corrected });
  assert.equal(first.status, 200);
  const stored = first.json() as { reviewer: string; revision: number; image: { etag: string }; configHash: string; reviewedAt: string };
  assert.deepEqual([stored.reviewer, stored.revision, stored.image.etag, stored.configHash], ['ana@example.com', 1, '"e1"', 'abc']);
  assert.ok(Date.parse(stored.reviewedAt) > 0);
  assert.ok(first.logs.some((l) => l.includes('"event":"label-reviewed"')));
  assert.equal((await put({ reviewer: 'ben', frame: corrected })).json().revision, 2);
  // The automatic frame is untouched; the review is its own document.
  assert.deepEqual((await app.labels.get(batchId, IMAGE))!.frame, predicted);
  assert.deepEqual((await app.reviews.get(batchId, IMAGE))!.frame.attributes, corrected.attributes);

  assertError(await put({ reviewer: 'ana', frame: { ...corrected, name: 'other.jpg' } }), 400, 'frame-name-mismatch');
  assertError(await put({ frame: corrected }), 400, 'invalid-body');
  assertError(
    await put({ reviewer: 'ana', frame: { name: IMAGE, labels: [{ id: '1', category: 'car', box2d: { x1: 'a' } }] } }),
    400,
    'invalid-body',
  );
  assertError(await put({ reviewer: 'ana', frame: { ...corrected, name: 'missing.jpg' } }, 'missing.jpg'), 404, 'label-not-found');
  assertError(await put({ reviewer: 'ana', frame: corrected }, IMAGE, 'no-such-batch'), 404, 'batch-not-found');
});

test('GET /api/batches/{batchId}/export: every format, page by page; bad format 400, unknown batch 404', async () => {
  const batchId = 'export-1';
  await seedBatch(batchId, (doc) => labeledBatch(doc, 3));
  const sized = (name: string): Frame => ({
    ...predicted,
    name,
    provenance: { schemaVersion: 1, configHash: 'abc', image: { sha256: 'x', width: 1280, height: 720, format: 'jpeg', bytes: 1 } },
  });
  for (const name of ['b.jpg', 'a.jpg', 'c.jpg']) await seedLabel(batchId, name, 'labeled', { frame: sized(name) });
  await seedLabel(batchId, 'failed.jpg', 'failed', { error: { kind: 'invalid-image', message: 'x', retryable: false } });
  const get = async (format: string, batch = batchId) => {
    const answer = await invoke(getBatchExport, { path: `batches/${batch}/export?format=${format}`, params: { batchId: batch } });
    return answer;
  };

  const scalabel = await get('scalabel');
  assert.equal(scalabel.status, 200);
  assert.deepEqual(
    (JSON.parse(scalabel.body.toString('utf8')) as Frame[]).map((f) => f.name),
    ['a.jpg', 'b.jpg', 'c.jpg'],
    'labeled frames only, in name order',
  );
  const cvat = await get('cvat');
  assert.match(cvat.headers.get('content-type') ?? '', /^application\/xml/);
  const imported = cvatDocumentToFrames(parseCvatXml(cvat.body.toString('utf8')));
  assert.equal(imported.frames.length, 3);
  assert.equal(imported.frames[0]!.labels.length, 2);
  const coco = unzipSync(new Uint8Array((await get('coco')).body));
  assert.deepEqual(Object.keys(coco).sort(), ['instances.json', 'results.json']);
  assert.equal((JSON.parse(Buffer.from(coco['instances.json']!).toString('utf8')) as { images: unknown[] }).images.length, 3);
  const config = await get('labelstudio-config');
  assert.match(config.body.toString('utf8'), /<RectangleLabels name="label" toName="image">/);
  assertError(await get('pdf'), 400, 'invalid-query');
  assertError(await get('cvat', 'no-such-batch'), 404, 'batch-not-found');

  // Two images with one stem would be one labels/<stem>.txt: the YOLO download fails rather than hold both.
  await seedLabel(batchId, 'a.png', 'labeled', { frame: sized('a.png') });
  await assert.rejects(
    invoke(getBatchExport, { path: `batches/${batchId}/export?format=yolo`, params: { batchId } }),
    /frames "a\.jpg" and "a\.png" would both be written to a\.txt/,
  );
});

test("a batch evaluation takes an image's review as its ground truth, while it corrects the image's current version", async () => {
  const batchId = 'review-3';
  const runtime = app;
  await runtime.blobs.writeJson(BLOB_CONTAINERS.evaluationWork, `${batchId}/manifest.json`, { images: ['a.jpg', 'b.jpg', 'c.jpg'] });
  await seedBatch(batchId, (doc) => ({
    ...labeledBatch(doc, 3),
    manifest: { path: `${batchId}/manifest.json`, etag: '"m1"', declaredAt: nowIso(), groundTruthPrefix: `${batchId}/` },
  }));
  const gtFrame = (name: string) => ({ name, labels: [{ id: '1', category: 'car', box2d: { x1: 0, y1: 0, x2: 10, y2: 10 } }] });
  await runtime.blobs.writeJson(BLOB_CONTAINERS.groundTruth, `${batchId}/a.json`, gtFrame('a.jpg'));
  await runtime.blobs.writeJson(BLOB_CONTAINERS.groundTruth, `${batchId}/b.json`, gtFrame('b.jpg'));
  for (const name of ['a.jpg', 'b.jpg', 'c.jpg']) await seedLabel(batchId, name, 'labeled', { frame: { ...predicted, name } });
  const review = (name: string, etag: string) => ({
    id: labelDocumentId(name),
    batchId,
    name,
    kind: 'review' as const,
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    frame: { name, labels: [{ id: '9', category: 'truck', box2d: { x1: 5, y1: 5, x2: 50, y2: 50 } }] },
    reviewer: 'ana',
    reviewedAt: nowIso(),
    image: { etag },
    configHash: 'abc',
    revision: 1,
  });
  await runtime.reviews.upsert(review('a.jpg', '"e1"')); // replaces the uploaded ground truth
  await runtime.reviews.upsert(review('c.jpg', '"e1"')); // stands where there was none
  await runtime.reviews.upsert(review('b.jpg', '"e0"')); // corrects an older version: not used
  const planned = await planEvaluation(runtime, { batchId, runId: 'r1' });
  assert.ok(planned.ok, JSON.stringify(planned));
  const plan = (await runtime.blobs.readJson(BLOB_CONTAINERS.evaluationWork, planned.planPath)) as {
    groundTruth: { reviewed?: string[] };
    missingGroundTruth: string[];
  };
  assert.deepEqual(plan.groundTruth.reviewed, ['a.jpg', 'c.jpg']);
  assert.deepEqual(plan.missingGroundTruth, []);
  const chunk = (await runtime.blobs.readJson(BLOB_CONTAINERS.evaluationWork, planned.chunkPaths[0]!)) as { gt: Frame[] };
  const categories = Object.fromEntries(chunk.gt.map((f) => [f.name, f.labels.map((l) => l.category)]));
  assert.deepEqual(categories, { 'a.jpg': ['truck'], 'b.jpg': ['car'], 'c.jpg': ['truck'] });
});

test("GET .../labels/{name}/overlay is a PNG (or ?format=jpeg) of the image's size, with the ground truth when a per-image file exists", async () => {
  const batchId = 'overlay-1';
  await seedBatch(batchId, (doc) => labeledBatch(doc));
  const etag = await app.blobs.write(BLOB_CONTAINERS.images, `${batchId}/${IMAGE}`, imageBytes, 'image/jpeg');
  await seedLabel(batchId, IMAGE, 'labeled', { blob: { path: `images/${batchId}/${IMAGE}`, etag, bytes: imageBytes.length } });
  await app.blobs.write(BLOB_CONTAINERS.groundTruth, `${batchId}/0798a3a8-c4501e0f_label.json`, groundTruthBytes, 'application/json');
  const overlay = (query = '') =>
    invoke(getBatchOverlay, { path: `batches/${batchId}/labels/${IMAGE}/overlay${query}`, params: { batchId, name: IMAGE } });

  const withGt = await overlay();
  assert.equal(withGt.status, 200, withGt.body.toString('utf8').slice(0, 300));
  assert.equal(withGt.headers.get('content-type'), 'image/png');
  assert.equal(withGt.headers.get('x-ground-truth'), `groundtruth/${batchId}/0798a3a8-c4501e0f_label.json`);
  const meta = await sharp(withGt.body).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 1280, 720]);

  const withoutGt = await overlay('?groundTruth=false');
  assert.equal(withoutGt.status, 200);
  assert.equal(withoutGt.headers.get('x-ground-truth'), 'none');
  assert.notDeepEqual(withoutGt.body, withGt.body, 'the ground truth boxes are drawn');

  const jpeg = await overlay('?format=jpeg');
  assert.equal(jpeg.status, 200);
  assert.equal(jpeg.headers.get('content-type'), 'image/jpeg');
  const jpegMeta = await sharp(jpeg.body).metadata();
  assert.deepEqual([jpegMeta.format, jpegMeta.width, jpegMeta.height], ['jpeg', 1280, 720]);
  assert.ok(jpeg.body.length * 4 < withGt.body.length, `JPEG ${jpeg.body.length} B vs PNG ${withGt.body.length} B`);
  assertError(await overlay('?format=gif'), 400, 'invalid-query');

  // The image replaced after it was labeled: its stored boxes no longer describe it.
  await app.blobs.write(BLOB_CONTAINERS.images, `${batchId}/${IMAGE}`, Buffer.concat([imageBytes, Buffer.from([0])]), 'image/jpeg');
  assertError(await overlay(), 409, 'label-stale');

  await seedLabel(batchId, 'gone.jpg', 'labeled');
  assertError(await invoke(getBatchOverlay, { path: 'x', params: { batchId, name: 'gone.jpg' } }), 404, 'image-not-found');
  assertError(await invoke(getBatchOverlay, { path: 'x', params: { batchId, name: 'nothing.jpg' } }), 404, 'label-not-found');
});

// ---------------------------------------------------------------------------------------------------------------
// POST /api/batches/{batchId}/evaluate

test('POST /api/batches/{batchId}/evaluate starts eval-<batchId> and answers 202 with the status URLs', async () => {
  const durable = durableApi();
  const batchId = 'eval-ok';
  await seedBatch(batchId, (doc) => labeledBatch(doc));
  const answer = await invoke(evaluateBatchHttp, {
    method: 'POST',
    path: `batches/${batchId}/evaluate`,
    params: { batchId },
    body: JSON.stringify({ reason: 'ground truth corrected' }),
  });
  assert.equal(answer.status, 202, answer.body.toString('utf8'));
  assert.deepEqual(durable.started, [
    { name: 'evaluateBatch', instanceId: `eval-${batchId}`, input: { batchId, reason: 'ground truth corrected' } },
  ]);
  const body = answer.json();
  assert.equal(body.id, `eval-${batchId}`);
  // durable-functions' own client builds the links, on the origin the request came in on.
  assert.equal(
    body.statusQueryGetUri,
    `http://localhost:7071/runtime/webhooks/durabletask/instances/eval-${batchId}?taskHub=TestHubName&connection=Storage`,
  );
  assert.equal(answer.headers.get('location'), body.statusQueryGetUri);
  const stored = await app.batches.get(batchId);
  assert.deepEqual([stored?.evaluation?.instanceId, stored?.evaluation?.reason], [`eval-${batchId}`, 'ground truth corrected']);

  // A completed instance is re-run (an explicit request); no body -> the default reason.
  durable.statuses.set(`eval-${batchId}`, 'Completed');
  const again = await invoke(evaluateBatchHttp, { method: 'POST', path: `batches/${batchId}/evaluate`, params: { batchId } });
  assert.equal(again.status, 202);
  assert.equal(durable.started.length, 2);
  assert.deepEqual(durable.started[1]!.input, { batchId, reason: 'requested over HTTP' });
});

test('POST .../evaluate: 409 while running, 409 before labeling ends or without a manifest, 404 unknown, 400 bad body', async () => {
  const durable = durableApi();
  const post = (batchId: string, body?: string) =>
    invoke(evaluateBatchHttp, { method: 'POST', path: `batches/${batchId}/evaluate`, params: { batchId }, ...(body ? { body } : {}) });

  await seedBatch('eval-running', (doc) => ({ ...labeledBatch(doc), status: 'evaluating' }));
  durable.statuses.set('eval-eval-running', 'Running');
  const running = assertError(await post('eval-running'), 409, 'evaluation-running');
  assert.equal(running.instanceId, 'eval-eval-running');

  await seedBatch('eval-labeling', (doc) => ({ ...labeledBatch(doc, 4), status: 'labeling', labeled: 1, failed: 1, completedAt: null }));
  assert.match(assertError(await post('eval-labeling'), 409, 'batch-not-labeled').message, /still labeling: 2 of 4 images done/);

  await seedBatch('eval-no-manifest', (doc) => doc);
  assert.match(
    assertError(await post('eval-no-manifest'), 409, 'batch-not-labeled').message,
    /no manifest yet: upload images\/eval-no-manifest\/_batch\.json/,
  );

  assertError(await post('eval-unknown'), 404, 'batch-not-found');
  assertError(await post('eval-running', '{"reason": 7}'), 400, 'invalid-body');
  assertError(await post('eval-running', '{not json'), 400, 'invalid-json');
  const huge = JSON.stringify({ reason: 'x'.repeat(5000) });
  assertError(
    await invoke(evaluateBatchHttp, {
      method: 'POST',
      path: 'x',
      params: { batchId: 'eval-running' },
      headers: { 'content-length': String(huge.length) },
      body: huge,
    }),
    413,
    'payload-too-large',
  );
  assert.deepEqual(durable.started, [], 'nothing was started');
});

// ---------------------------------------------------------------------------------------------------------------
// GET /api/reports/{reportId}

test('Accept negotiation: q-values, specificity, server preference on ties, 0 excludes', () => {
  const offers = ['application/json', 'text/html'] as const;
  const browser = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
  assert.equal(negotiate(browser, offers), 'text/html');
  assert.equal(negotiate('application/json', offers), 'application/json');
  assert.equal(negotiate(undefined, offers), 'application/json');
  assert.equal(negotiate('*/*', offers), 'application/json');
  assert.equal(negotiate('application/json, text/html', offers), 'application/json');
  assert.equal(negotiate('text/html;q=0.5, application/json;q=0.4', offers), 'text/html');
  assert.equal(negotiate('text/*;q=0.9, */*;q=0.1', offers), 'text/html');
  assert.equal(negotiate('*/*, application/json;q=0', offers), 'text/html');
  assert.equal(negotiate('image/png', offers), undefined);
  assert.equal(negotiate('TEXT/HTML', offers), 'text/html');
  assert.deepEqual(parseAccept('text/html;level=1;q=0.7, bad, */html, application/json;q=2'), [{ type: 'text', subtype: 'html', q: 0.7 }]);
});

test('GET /api/reports/{reportId}: JSON or HTML by Accept, ?format= overrides, 406, 404', async () => {
  const reportId = 'report-r1';
  const reportJson = JSON.stringify({ batchId: 'r1', stats: { AP: 0.25, AP50: 0.5 } });
  const reportHtml = '<!doctype html><html><body><h1>Batch r1</h1></body></html>';
  await app.blobs.write(BLOB_CONTAINERS.reports, `${reportId}.json`, reportJson, 'application/json');
  await app.blobs.write(BLOB_CONTAINERS.reports, `${reportId}.html`, reportHtml, 'text/html');
  await app.reports.upsert({
    id: reportId,
    kind: 'batch-report',
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    batchId: 'r1',
    createdAt: nowIso(),
    json: `${reportId}.json`,
    html: `${reportId}.html`,
    summary: { AP50: 0.5 },
  });
  const get = (headers: Record<string, string>, query = '', id = reportId) =>
    invoke(getReport, { path: `reports/${id}${query}`, params: { reportId: id }, headers });

  const json = await get({ accept: 'application/json' });
  assert.equal(json.status, 200);
  assert.equal(json.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal(json.headers.get('vary'), 'Accept');
  assert.deepEqual(json.json(), JSON.parse(reportJson));

  const html = await get({ accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' });
  assert.equal(html.status, 200);
  assert.equal(html.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(html.body.toString('utf8'), reportHtml);

  const noAccept = await get({});
  assert.equal(noAccept.headers.get('content-type'), 'application/json; charset=utf-8');

  const forced = await get({ accept: 'application/json' }, '?format=html');
  assert.equal(forced.body.toString('utf8'), reportHtml);
  assertError(await get({}, '?format=xml'), 400, 'invalid-query');
  assertError(await get({ accept: 'image/png' }), 406, 'not-acceptable');
  assertError(await get({}, '', 'report-none'), 404, 'report-not-found');

  // A page without a policy of its own goes out under the strict default; JSON needs none.
  assert.equal(html.headers.get('content-security-policy'), "default-src 'none'");
  assert.equal(json.headers.get('content-security-policy'), null);
});

test("GET /api/reports/{reportId} as HTML: the page's own Content-Security-Policy, script hash included, as a header too", async () => {
  const script = 'document.body.dataset.sorted = "yes";';
  const page = renderPage({ title: 'Batch "r2" & co', css: 'body { margin: 0 }', sections: ['<h1>Batch r2</h1>'], script });
  const reportId = 'report-r2';
  await app.blobs.write(BLOB_CONTAINERS.reports, `${reportId}.html`, page, 'text/html');
  await app.reports.upsert({
    id: reportId,
    kind: 'batch-report',
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    batchId: 'r2',
    createdAt: nowIso(),
    json: `${reportId}.json`,
    html: `${reportId}.html`,
    summary: { AP50: 0.5 },
  });
  const call = { path: `reports/${reportId}?format=html`, params: { reportId }, headers: { accept: 'text/html' } };
  const answer = await invoke(getReport, call);
  assert.equal(answer.status, 200);
  assert.equal(answer.body.toString('utf8'), page);

  const header = answer.headers.get('content-security-policy');
  const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(page)?.[1];
  assert.ok(meta, 'the page declares its policy');
  assert.equal(header, meta.replaceAll('&#39;', "'"), "the header is the page's own policy");
  const hash = createHash('sha256').update(script).digest('base64');
  assert.ok(header.includes(`script-src 'sha256-${hash}'`), header);
});

// ---------------------------------------------------------------------------------------------------------------
// GET /api/health (the cases with other providers and the Cosmos-down case replace the runtime, so they run last)

test('GET /api/health: 200 with storage, cosmos and providers ok, each with its latency', async () => {
  const answer = await invoke(health, { path: 'health' });
  assert.equal(answer.status, 200, answer.body.toString('utf8'));
  const body = answer.json();
  assert.equal(body.status, 'ok');
  assert.deepEqual(Object.keys(body.checks).sort(), ['cosmos', 'providers', 'storage']);
  for (const check of Object.values(body.checks) as any[]) {
    assert.equal(check.status, 'ok');
    assert.ok(Number.isInteger(check.latencyMs) && check.latencyMs >= 0);
  }
  assert.match(body.checks.providers.details.detector, /^onnx:/);
  assert.equal(body.checks.providers.details.probes, undefined, 'local models are loaded: nothing to probe');
  assert.equal(answer.headers.get('cache-control'), 'no-store');
});

test('health checks run concurrently, each bounded by its timeout (unit)', async () => {
  const hangs = await runCheck({ timeoutMs: 50, run: () => new Promise(() => {}) });
  assert.equal(hangs.status, 'failed');
  assert.equal(hangs.error, 'no answer within 50 ms');
  assert.ok(hangs.latencyMs >= 45 && hangs.latencyMs < 1000);

  const slow = (ms: number) => ({ timeoutMs: 1000, run: () => new Promise<void>((r) => setTimeout(r, ms)) });
  const started = performance.now();
  const report = await runChecks({
    a: slow(150),
    b: slow(150),
    c: { timeoutMs: 1000, run: async () => Promise.reject(new Error('down\nstack...')) },
  });
  assert.ok(performance.now() - started < 290, 'concurrently, not one after another');
  assert.equal(report.status, 'unhealthy');
  assert.deepEqual(
    [report.checks.a!.status, report.checks.b!.status, report.checks.c!.status, report.checks.c!.error],
    ['ok', 'ok', 'failed', 'down'],
  );

  // A check that works in part is degraded, with its reason and details; a failed check still makes it unhealthy.
  const partly = { timeoutMs: 1000, run: async () => Promise.reject(new Degraded('scene x: down', { probes: {} })) };
  const degraded = await runChecks({ a: slow(1), p: partly });
  assert.equal(degraded.status, 'degraded');
  const { latencyMs, ...rest } = degraded.checks.p!;
  assert.deepEqual(rest, { status: 'degraded', error: 'scene x: down', details: { probes: {} } });
  assert.ok(latencyMs >= 0);
  const neverAnswers = { timeoutMs: 50, run: () => new Promise<void>(() => {}) };
  assert.equal((await runChecks({ p: partly, h: neverAnswers })).status, 'unhealthy');
});

// Remote providers: each is probed (the fake serves the OpenAI list of models). These replace the main runtime,
// so they run after every test that uses it.

const ProbeBody = z.looseObject({
  ok: z.boolean(),
  check: z.enum(['authenticated', 'reachability']),
  target: z.string(),
  error: z.string().optional(),
});
const HealthBody = z.strictObject({
  status: z.enum(['ok', 'degraded', 'unhealthy']),
  checks: z.strictObject({
    storage: z.looseObject({ status: z.string() }),
    cosmos: z.looseObject({ status: z.string() }),
    providers: z.looseObject({
      status: z.enum(['ok', 'degraded', 'failed']),
      latencyMs: z.number().int().nonnegative(),
      error: z.string().optional(),
      details: z.looseObject({ scene: z.string(), detector: z.string(), probes: z.looseObject({ scene: ProbeBody }) }),
    }),
  }),
});

/** Installs a runtime whose scene provider is an OpenAI-compatible server at `baseURL`, and no detector. */
async function useRemoteScene(baseURL: string, auth: object = { type: 'none' }, env: Record<string, string> = {}): Promise<void> {
  const scene = { provider: 'openai', baseURL, model: 'm', auth };
  const config = { scene, detector: { provider: 'none' } };
  await setAppRuntime(createRuntime({ env: { ...services().env(), ...env, AUTOLABEL_CONFIG: JSON.stringify(config) } }));
}

async function healthAnswer(): Promise<{ answer: Answer; body: z.infer<typeof HealthBody> }> {
  const answer = await invoke(health, { path: 'health' });
  return { answer, body: HealthBody.parse(answer.json()) };
}

test('GET /api/health with a remote scene provider that answers its probe: 200 ok; within 30 s it is not asked again', async (t) => {
  const server = await startChatServer([{ content: 'unused' }], { modelsPath: '/v1/models' });
  t.after(() => server.close());
  await useRemoteScene(`${server.url}/v1`);
  const { answer, body } = await healthAnswer();
  assert.equal(answer.status, 200, answer.body.toString('utf8'));
  assert.equal(body.status, 'ok');
  assert.equal(body.checks.providers.status, 'ok');
  assert.equal(body.checks.providers.details.scene, 'openai:m');
  const probe = body.checks.providers.details.probes.scene;
  assert.deepEqual([probe.ok, probe.check, probe.target], [true, 'authenticated', 'GET /v1/models']);
  assert.deepEqual([server.served.probes, server.served.answers], [1, 0], 'one free call, no tokens');

  assert.equal((await healthAnswer()).body.status, 'ok');
  assert.equal(server.served.probes, 1, 'the second health call used the cached probe');
});

test('GET /api/health with an unreachable remote scene provider: 200 degraded, the reason in checks.providers', async () => {
  await useRemoteScene(`http://127.0.0.1:${await closedPort()}/v1`);
  const { answer, body } = await healthAnswer();
  assert.equal(answer.status, 200, 'a remote AI service being down must not get the instance recycled');
  assert.equal(body.status, 'degraded');
  assert.deepEqual([body.checks.storage.status, body.checks.cosmos.status, body.checks.providers.status], ['ok', 'ok', 'degraded']);
  const reason = body.checks.providers.error ?? '';
  assert.match(reason, /^scene openai:m: openai: cannot reach the service: .*ECONNREFUSED/);
  assert.ok(reason.length <= 300 && !reason.includes('\n'), 'one bounded line');
  assert.equal(body.checks.providers.details.probes.scene.ok, false);
  assert.ok(answer.logs.some((l) => l.includes('health-degraded')));
});

test('GET /api/health with a remote scene provider refusing the key: 200 degraded, naming authentication', async (t) => {
  const server = await startChatServer([{ content: 'unused' }], {
    modelsPath: '/v1/models',
    probeAuth: { header: 'authorization', value: 'Bearer right-key' },
  });
  t.after(() => server.close());
  await useRemoteScene(`${server.url}/v1`, { type: 'key', apiKeyEnv: 'HEALTH_TEST_SCENE_KEY' }, { HEALTH_TEST_SCENE_KEY: 'wrong-key' });
  const { answer, body } = await healthAnswer();
  assert.equal(answer.status, 200);
  assert.equal(body.status, 'degraded');
  assert.match(body.checks.providers.error ?? '', /^scene openai:m: openai: authentication failed \(401/);
  assert.doesNotMatch(answer.body.toString('utf8'), /wrong-key|right-key/, 'no key in the answer');
});

test('GET /api/health: 503 naming cosmos and why when Cosmos DB does not answer; the others still ok', async () => {
  const port = await closedPort();
  const broken = createRuntime({
    env: {
      ...services().env(),
      COSMOS_ENDPOINT: `http://127.0.0.1:${port}/`,
      AUTOLABEL_CONFIG: JSON.stringify({ scene: { provider: 'none' }, detector: { provider: 'none' } }),
    },
  });
  await setAppRuntime(broken); // closes the main runtime: this test is the file's last
  const started = performance.now();
  const answer = await invoke(health, { path: 'health' });
  assert.ok(performance.now() - started < 10_000, 'the checks are bounded by their timeouts');
  assert.equal(answer.status, 503, answer.body.toString('utf8'));
  const body = answer.json();
  assert.equal(body.status, 'unhealthy');
  assert.equal(body.checks.cosmos.status, 'failed');
  assert.equal(typeof body.checks.cosmos.error, 'string');
  assert.ok(body.checks.cosmos.error.length > 0 && body.checks.cosmos.error.length <= 300);
  assert.equal(typeof body.checks.cosmos.latencyMs, 'number');
  assert.equal(body.checks.storage.status, 'ok');
  assert.equal(body.checks.providers.status, 'ok');
  assert.ok(answer.logs.some((l) => l.includes('health-failed')));
});
