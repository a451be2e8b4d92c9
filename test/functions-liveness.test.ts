/**
 * No batch stuck forever: the reconcile sweep, the batch deadline, the label-requests queue and the poison path,
 * driven through the registered handlers (as the Functions host calls them) against real Azurite + the Cosmos DB
 * stand-in and the real local models. The grace is 0 here: every image without a final document is "stale" at once.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { BatchViewSchema } from '../src/app/store/documents';
import { LabelRequestSchema } from '../src/app/store/label-request-queue';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../src/app/store/names';
import { batchSweepTimerHandler } from '../src/app/functions/batchSweepTimer';
import { blobPoisonQueueHandler } from '../src/app/functions/blobPoisonQueue';
import { evaluateBatchHttp } from '../src/app/functions/evaluateBatchHttp';
import { getBatch } from '../src/app/functions/getBatch';
import { labelImageQueueHandler } from '../src/app/functions/labelImageQueue';
import type { DurableApiFake } from './fakes/durable-api';
import { arriveBlob, invocationContext, putImageBlob, takeLabelRequests, useAppRuntime, useDurableApi } from './helpers/app';
import { sampleImagesDir } from './helpers/shared';

const app = useAppRuntime({ BATCH_SWEEP_GRACE_MINUTES: '0', BATCH_DEADLINE_MINUTES: '30' });
const sampleNames = readdirSync(sampleImagesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort();
const imageBytes = (name: string) => readFileSync(path.join(sampleImagesDir, name));
const manifestOf = (images: string[]) => Buffer.from(JSON.stringify({ images }));
const timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

/** The tests share one database: the sweep also visits the other tests' batches, so starts are read per batch. */
const startedFor = (durable: DurableApiFake, batchId: string) =>
  durable.started.filter((s) => s.instanceId === `eval-${batchId}`).map((s) => s.instanceId);

async function sweep() {
  const context = invocationContext('batchSweepTimer');
  const results = await batchSweepTimerHandler(timer, context);
  const failures = context.lines.filter((line) => line.includes('"batch-sweep-failed"'));
  assert.deepEqual(failures, [], 'no batch failed to be swept');
  return results;
}

/** Delivers every queued label request to the queue trigger, as its `dequeueCount`-th delivery. */
async function runLabelRequests(dequeueCount = 1) {
  const requests = await takeLabelRequests(app.runtime());
  const outcomes = [];
  for (const request of requests) {
    outcomes.push(await labelImageQueueHandler(request, invocationContext('labelImageQueue', { dequeueCount })));
  }
  return { requests: requests.map((r) => LabelRequestSchema.parse(r)), outcomes };
}

async function httpCall(handler: typeof getBatch, method: string, params: Record<string, string>): Promise<{ status: number; body: any }> {
  const request = new HttpRequest({ method, url: `http://localhost/api/batches/${params.batchId}`, params });
  const answer = (await handler(request, invocationContext(handler.name))) as HttpResponseInit;
  return { status: answer.status ?? 200, body: answer.jsonBody };
}

test('the sweep labels images whose events were lost and applies a manifest whose event was lost; the batch completes', async () => {
  const durable = durableApi();
  const names = sampleNames.slice(0, 3);
  // Only the first image's event arrives; the other two images and the manifest are uploaded, their events lost.
  await (await arriveBlob(app.runtime(), 'lost', names[0]!, imageBytes(names[0]!))).run();
  for (const name of names.slice(1)) await putImageBlob(app.runtime(), 'lost', name, imageBytes(name));
  await putImageBlob(app.runtime(), 'lost', MANIFEST_NAME, manifestOf(names));

  const [result] = (await sweep()).filter((r) => r.batchId === 'lost');
  assert.ok(result, 'the batch was swept');
  assert.equal(result.declared, true, 'the manifest whose event was lost was applied');
  assert.deepEqual(result.requested.sort(), names.slice(1).sort(), 'exactly the images without a final document');

  const { requests, outcomes } = await runLabelRequests();
  assert.deepEqual(requests.map((r) => r.name).sort(), names.slice(1).sort());
  assert.match(requests[0]!.reason, /reconcile sweep: no label document/);
  assert.deepEqual(
    outcomes.map((o) => o.outcome),
    ['labeled', 'labeled'],
  );
  const batch = await app.runtime().batches.get('lost');
  assert.equal(batch?.status, 'labeled');
  assert.equal(batch?.labeled, 3);
  assert.deepEqual(startedFor(durable, 'lost'), ['eval-lost'], 'its evaluation started once');

  // A second sweep finds nothing left to do for it.
  assert.equal((await sweep()).filter((r) => r.batchId === 'lost').length, 0, 'a labeled batch is no longer swept');
  assert.deepEqual(await takeLabelRequests(app.runtime()), []);
});
const durableApi = useDurableApi();

test('the sweep leaves images alone while work on them is recent (the grace), and finds a batch none of whose events arrived', async () => {
  durableApi();
  const name = sampleNames[3]!;
  await putImageBlob(app.runtime(), 'silent', name, imageBytes(name));
  // Right after an upload, before any trigger: not just "no batch", but what is there and when to ask again.
  const early = await httpCall(getBatch, 'GET', { batchId: 'silent' });
  assert.equal(early.status, 404);
  assert.match(early.body.error.message, /batch silent has 1 blob\(s\) under images\/silent\/ that the blob trigger has not handled yet/);
  const settings = app.runtime().settings.sweep;
  const grace = settings.graceMs;
  settings.graceMs = 10 * 60_000;
  try {
    const [recent] = (await sweep()).filter((r) => r.batchId === 'silent');
    assert.deepEqual([recent?.requested, recent?.inProgress], [[], 1], 'uploaded a moment ago: its trigger may still come');
  } finally {
    settings.graceMs = grace;
  }
  const [stale] = (await sweep()).filter((r) => r.batchId === 'silent');
  assert.deepEqual(stale?.requested, [name]);
  const marker = await app.runtime().labels.get('silent', name);
  assert.deepEqual([marker?.status, marker?.error?.kind], ['retrying', 'requested'], 'the request is recorded on the image');
  // While that request waits in the queue, the next sweeps (within the grace) do not ask again.
  settings.graceMs = 10 * 60_000;
  try {
    const [again] = (await sweep()).filter((r) => r.batchId === 'silent');
    assert.deepEqual([again?.requested, again?.inProgress], [[], 1]);
  } finally {
    settings.graceMs = grace;
  }
  const { outcomes } = await runLabelRequests();
  assert.deepEqual(
    outcomes.map((o) => o.outcome),
    ['labeled'],
  );
});

/** A dead-letter blob as Event Grid writes it: a JSON array of events, each with why it was not delivered. */
function deadLetterFile(events: Array<{ batchId: string; name: string; etag: string }>) {
  return JSON.stringify(
    events.map(({ batchId, name, etag }, i) => ({
      id: `evt-${i}`,
      topic: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st0',
      subject: `/blobServices/default/containers/images/blobs/${batchId}/${name}`,
      eventType: 'Microsoft.Storage.BlobCreated',
      eventTime: '2026-12-01T10:00:00Z',
      dataVersion: '',
      metadataVersion: '1',
      data: {
        api: 'PutBlob',
        eTag: etag,
        contentType: 'image/jpeg',
        blobType: 'BlockBlob',
        url: `https://st0.blob.core.windows.net/images/${batchId}/${name}`,
      },
      deadLetterReason: 'MaxDeliveryAttemptEventExpiration',
      deliveryAttempts: 30,
      lastDeliveryOutcome: 'Probation',
      publishTime: '2026-12-01T10:00:01Z',
      lastDeliveryAttemptTime: '2026-12-02T09:59:00Z',
    })),
  );
}

test('events Event Grid dead-lettered: their images are asked for at once (no grace), the file deleted, an unreadable one kept', async () => {
  durableApi();
  const runtime = app.runtime();
  const [lost, done] = [sampleNames[20]!, sampleNames[21]!];
  const lostEtag = await putImageBlob(runtime, 'deadletter', lost, imageBytes(lost));
  // Already labeled in its current version (its event came through another way): nothing to do.
  await (await arriveBlob(runtime, 'deadletter', done, imageBytes(done))).run();
  const doneEtag = (await runtime.labels.get('deadletter', done))!.blob.etag;
  const letters = runtime.clients.blobs.getContainerClient(BLOB_CONTAINERS.eventGridDeadLetters);
  const file = 'EVGT-IMAGES/LABELIMAGEBLOB-BLOB-CREATED/2026/12/02/09/0b1c.json';
  await letters.getBlockBlobClient(file).uploadData(
    Buffer.from(
      deadLetterFile([
        { batchId: 'deadletter', name: lost, etag: lostEtag },
        { batchId: 'deadletter', name: done, etag: doneEtag },
      ]),
    ),
  );
  await letters.getBlockBlobClient('EVGT-IMAGES/garbage.json').uploadData(Buffer.from('not json'));
  const settings = runtime.settings.sweep;
  const grace = settings.graceMs;
  settings.graceMs = 60 * 60_000; // within the grace: only the dead letter makes the sweep ask now
  const context = invocationContext('batchSweepTimer');
  try {
    await batchSweepTimerHandler(timer, context);
  } finally {
    settings.graceMs = grace;
  }
  const { requests, outcomes } = await runLabelRequests();
  assert.deepEqual(
    requests.map((r) => [r.batchId, r.name]),
    [['deadletter', lost]],
  );
  assert.match(requests[0]!.reason, /Event Grid dead-lettered its event \(MaxDeliveryAttemptEventExpiration, 30 tries\)/);
  assert.deepEqual(
    outcomes.map((o) => o.outcome),
    ['labeled'],
  );
  assert.equal(await letters.getBlobClient(file).exists(), false, 'a handled dead-letter file is deleted');
  assert.equal(await letters.getBlobClient('EVGT-IMAGES/garbage.json').exists(), true, 'an unreadable one is kept');
  const lines = context.lines.join('\n');
  assert.match(lines, /"event":"event-dead-lettered","batchId":"deadletter","image":"[^"]+","reason":"MaxDeliveryAttemptEventExpiration"/);
  assert.match(lines, /"event":"dead-letters-replayed","files":1,"requested":1,"settled":1,"unreadable":1/);
  assert.match(lines, /"event":"dead-letter-unreadable","file":"EVGT-IMAGES\/garbage.json"/);
  await letters.deleteBlob('EVGT-IMAGES/garbage.json');
});

test('an image that never arrives: the batch says what it waits for and until when; after the deadline it fails as missing', async () => {
  const durable = durableApi();
  const name = sampleNames[4]!;
  await (await arriveBlob(app.runtime(), 'late', MANIFEST_NAME, manifestOf([name, 'never.jpg']))).run();
  await (await arriveBlob(app.runtime(), 'late', name, imageBytes(name))).run();

  const view = await httpCall(getBatch, 'GET', { batchId: 'late' });
  assert.equal(view.status, 200);
  const batch = BatchViewSchema.parse(view.body);
  assert.deepEqual([batch.status, batch.missing, batch.missingCount], ['labeling', ['never.jpg'], 1]);
  const declaredAt = (await app.runtime().batches.get('late'))!.manifest!.declaredAt;
  assert.equal(batch.deadline, new Date(Date.parse(declaredAt) + 30 * 60_000).toISOString());

  const early = await httpCall(evaluateBatchHttp, 'POST', { batchId: 'late' });
  assert.equal(early.status, 409);
  assert.equal(early.body.error.code, 'batch-not-labeled');
  assert.match(early.body.error.message, /waiting for never\.jpg/);
  assert.deepEqual([early.body.error.missing, early.body.error.deadline], [['never.jpg'], batch.deadline]);

  // Before the deadline the sweep fails nothing.
  assert.deepEqual((await sweep()).find((r) => r.batchId === 'late')?.missing, []);
  const realNow = app.runtime().now;
  app.runtime().now = () => new Date(Date.parse(batch.deadline!) + 1000);
  try {
    const [result] = (await sweep()).filter((r) => r.batchId === 'late');
    assert.deepEqual(result?.missing, ['never.jpg']);
  } finally {
    app.runtime().now = realNow;
  }
  const missing = await app.runtime().labels.get('late', 'never.jpg');
  assert.equal(missing?.status, 'failed');
  assert.equal(missing?.error?.kind, 'missing');
  assert.match(
    missing!.error!.message,
    /images\/late\/never\.jpg never arrived: the manifest \(declared .*\) lists it, and the batch deadline .* has passed/,
  );
  const after = BatchViewSchema.parse((await httpCall(getBatch, 'GET', { batchId: 'late' })).body);
  assert.deepEqual([after.status, after.labeled, after.failed, after.missingCount], ['labeled', 1, 1, 0]);
  assert.deepEqual(startedFor(durable, 'late'), ['eval-late'], 'the batch moved on to its evaluation');

  // The image turns up after all: it is labeled and replaces the `missing` marker.
  const arrived = await arriveBlob(app.runtime(), 'late', 'never.jpg', imageBytes(sampleNames[5]!));
  assert.equal((await arrived.run()).outcome, 'labeled');
  assert.equal((await app.runtime().labels.get('late', 'never.jpg'))?.status, 'labeled');
});

test('the host gave up on a blob: it is asked for again and labeled; a deleted blob fails as missing; an unreadable one says why', async () => {
  durableApi();
  const name = sampleNames[6]!;
  const etag = await putImageBlob(app.runtime(), 'poison', name, imageBytes(name));
  const poison = (blob: string, tag: string) => ({
    Type: 'BlobTrigger',
    FunctionId: 'Host.Functions.labelImageBlob',
    BlobType: 'BlockBlob',
    ContainerName: 'images',
    BlobName: blob,
    ETag: tag,
  });
  const context = invocationContext('blobPoisonQueue');
  assert.equal(await blobPoisonQueueHandler(JSON.stringify(poison(`poison/${name}`, etag)), context), 'requested');
  assert.equal(await blobPoisonQueueHandler(poison('poison/gone.jpg', '"9"'), context), 'requested');
  assert.equal(await blobPoisonQueueHandler({ ...poison('poison/x.jpg', '"1"'), ContainerName: 'other' }, context), 'ignored');
  assert.ok(context.lines.some((line) => line.includes('"image-poisoned"')));

  const { outcomes } = await runLabelRequests();
  assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ['blob-gone', 'labeled']);
  const gone = await app.runtime().labels.get('poison', 'gone.jpg');
  assert.deepEqual([gone?.status, gone?.error?.kind], ['failed', 'missing']);
  assert.match(gone!.error!.message, /images\/poison\/gone\.jpg was deleted before it could be labeled/);
  // Once the version has its final document, a repeated poison message asks for nothing.
  assert.equal(await blobPoisonQueueHandler(poison(`poison/${name}`, etag), context), 'already-final');

  // Storage fails to read a blob: retried until the queue's last delivery, which stores the storage error.
  await putImageBlob(app.runtime(), 'poison', 'broken.jpg', imageBytes(name));
  const blobs = app.runtime().blobs;
  const realRead = blobs.read;
  blobs.read = async () => {
    throw Object.assign(new Error('The server encountered an internal error.'), { statusCode: 500, code: 'InternalError' });
  };
  try {
    const request = { batchId: 'poison', name: 'broken.jpg', reason: 'test', requestedAt: new Date().toISOString() };
    await assert.rejects(labelImageQueueHandler(request, invocationContext('labelImageQueue', { dequeueCount: 1 })), /internal error/);
    const last = await labelImageQueueHandler(request, invocationContext('labelImageQueue', { dequeueCount: 5 }));
    assert.equal(last.outcome, 'unreadable');
  } finally {
    blobs.read = realRead;
  }
  const broken = await app.runtime().labels.get('poison', 'broken.jpg');
  assert.deepEqual([broken?.status, broken?.error?.kind], ['failed', 'unreadable']);
  assert.equal(
    broken?.error?.message,
    'storage could not read images/poison/broken.jpg: 500 InternalError: The server encountered an internal error.',
  );
});

test('a message on label-requests that is not a label request is dropped with a log line', async () => {
  const context = invocationContext('labelImageQueue', { dequeueCount: 1 });
  assert.deepEqual(await labelImageQueueHandler({ batchId: '../x', name: 'a.jpg' }, context), { outcome: 'ignored' });
  assert.ok(
    context.lines.some((line) => line.includes('"label-request-invalid"')),
    context.lines.join('\n'),
  );
});

test('two evaluate requests racing for one batch: one starts the evaluation, the other answers 409, never 500', async () => {
  durableApi();
  const name = sampleNames[7]!;
  await (await arriveBlob(app.runtime(), 'race', MANIFEST_NAME, manifestOf([name]))).run();
  await (await arriveBlob(app.runtime(), 'race', name, imageBytes(name))).run();
  // The automatic evaluation ran and completed; two people ask for a re-run at the same moment. The stand-in
  // holds both status reads until both have asked, so both see no running instance and both call startNew; like
  // Durable, it refuses the second start of a Pending instance.
  const durable = durableApi();
  durable.statuses.set('eval-race', 'Completed');
  let asked = 0;
  let release!: () => void;
  const bothAsked = new Promise<void>((resolve) => (release = resolve));
  durable.beforeStatus = async () => {
    if (++asked === 2) release();
    await bothAsked;
  };
  const answers = await Promise.all([
    httpCall(evaluateBatchHttp, 'POST', { batchId: 'race' }),
    httpCall(evaluateBatchHttp, 'POST', { batchId: 'race' }),
  ]);
  assert.deepEqual(answers.map((a) => a.status).sort(), [202, 409], JSON.stringify(answers));
  assert.equal(answers.find((a) => a.status === 409)!.body.error.code, 'evaluation-running');
  assert.equal(durable.started.length, 1);
});

test('a batch whose evaluation instance is gone, or ended while the batch says evaluating, gets its evaluation started again', async () => {
  durableApi();
  const name = sampleNames[8]!;
  await (await arriveBlob(app.runtime(), 'revive', MANIFEST_NAME, manifestOf([name]))).run();
  await (await arriveBlob(app.runtime(), 'revive', name, imageBytes(name))).run();
  assert.equal((await app.runtime().batches.get('revive'))?.status, 'labeled');

  // The task hub lost the instance (e.g. storage restored from an older state): a new client knows nothing of it.
  const lost = durableApi();
  const context = invocationContext('batchSweepTimer');
  await batchSweepTimerHandler(timer, context);
  assert.deepEqual(startedFor(lost, 'revive'), ['eval-revive']);
  assert.ok(
    context.lines.some((line) => line.includes('"evaluation-revived"')),
    context.lines.join('\n'),
  );
  // Running now: the next sweep leaves it alone.
  lost.statuses.set('eval-revive', 'Running');
  await sweep();
  assert.equal(startedFor(lost, 'revive').length, 1);

  // The orchestration ended but the batch still says evaluating (its last step never recorded a result).
  await app.runtime().batches.update(
    'revive',
    () => new Date().toISOString(),
    (current) => ({ ...current, status: 'evaluating' }),
  );
  lost.statuses.set('eval-revive', 'Completed');
  await sweep();
  assert.equal(startedFor(lost, 'revive').length, 2, 'started again');
  // A labeled batch whose evaluation completed (or failed) is the nightly run's to retry, not the sweep's.
  await app.runtime().batches.update(
    'revive',
    () => new Date().toISOString(),
    (current) => ({ ...current, status: 'labeled' }),
  );
  lost.statuses.set('eval-revive', 'Failed');
  await sweep();
  assert.equal(startedFor(lost, 'revive').length, 2);
});

test('the applied manifest lost from storage: its copy is rebuilt from the upload; with both gone the batch says so until a new one comes', async () => {
  durableApi();
  const [first, second] = [sampleNames[9]!, sampleNames[10]!];
  await (await arriveBlob(app.runtime(), 'forgot', MANIFEST_NAME, manifestOf([first, second]))).run();
  await (await arriveBlob(app.runtime(), 'forgot', first, imageBytes(first))).run();
  const copyPath = (await app.runtime().batches.get('forgot'))!.manifest!.path;
  const blobs = app.runtime().clients.blobs;
  const copy = blobs.getContainerClient(BLOB_CONTAINERS.evaluationWork).getBlobClient(copyPath);

  await copy.delete();
  const healed = BatchViewSchema.parse((await httpCall(getBatch, 'GET', { batchId: 'forgot' })).body);
  assert.deepEqual([healed.missing, healed.missingCount], [[second], 1], 'read from the uploaded manifest');
  assert.ok(await copy.exists(), 'the copy was written again');

  await copy.delete();
  await blobs.getContainerClient(BLOB_CONTAINERS.images).getBlobClient(`forgot/${MANIFEST_NAME}`).delete();
  const lost = BatchViewSchema.parse((await httpCall(getBatch, 'GET', { batchId: 'forgot' })).body);
  assert.deepEqual([lost.status, lost.missing, lost.missingCount], ['labeling', [], null]);
  await sweep();
  await sweep();
  const problems = (await app.runtime().batches.get('forgot'))!.problems.filter((p) => p.includes('is gone from storage'));
  assert.equal(problems.length, 1, 'said once, not on every sweep');
  assert.match(problems[0]!, /upload _batch\.json again/);

  // A new manifest (its event lost as well) is applied by the sweep; the batch completes.
  await putImageBlob(app.runtime(), 'forgot', MANIFEST_NAME, manifestOf([first, second]));
  await (await arriveBlob(app.runtime(), 'forgot', second, imageBytes(second))).run();
  await sweep();
  assert.equal((await app.runtime().batches.get('forgot'))?.status, 'labeled');
});
