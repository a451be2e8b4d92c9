/**
 * The blob trigger, poison-queue and timer handlers, called as the Functions host calls them (InvocationContext with
 * trigger metadata), against real Azurite + the Cosmos DB stand-in and the real local models.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { useLocalDurableClient } from '../src/app/durable';
import { LabelProvenanceSchema } from '../src/core/pipeline/provenance';
import { RetryableLabelingFailure } from '../src/app/services/label-blob';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../src/app/store/names';
import { blobPoisonQueueHandler } from '../src/functions/blobPoisonQueue';
import { labelImageBlobHandler } from '../src/functions/labelImageBlob';
import { nightlyReportTimerHandler } from '../src/functions/nightlyReportTimer';
import { textFile, truncated } from './fakes/bad-images';
import { invocationContext, RecordingDurableClient, useAppRuntime } from './helpers/app';
import { sampleImagesDir } from './helpers/shared';

const app = useAppRuntime();
const sampleNames = readdirSync(sampleImagesDir).filter((n) => n.endsWith('.jpg')).sort();
const imageBytes = (name: string) => readFileSync(path.join(sampleImagesDir, name));

function deliver(batchId: string, name: string, bytes: Uint8Array, etag: string) {
  const context = invocationContext('labelImageBlob', { batchId, name, blobTrigger: `images/${batchId}/${name}`, properties: { eTag: etag } });
  return { context, run: () => labelImageBlobHandler(Buffer.from(bytes), context) };
}

const manifestOf = (images: string[]) => Buffer.from(JSON.stringify({ images }));

test('an image blob becomes one label document; the same version delivered twice is labeled once, a new version again', async () => {
  useLocalDurableClient(new RecordingDurableClient());
  const name = sampleNames[0]!;
  const first = deliver('dup', name, imageBytes(name), '"0x1"');
  assert.equal((await first.run()).outcome, 'labeled');
  const doc = await app.runtime().labels.get('dup', name);
  assert.ok(doc?.frame && doc.frame.labels.length > 0, 'the frame has boxes');
  assert.ok(doc.frame.labels.every((l) => typeof l.score === 'number'), 'every box has a score');
  assert.equal(doc.attempts, 1);
  const logged = first.context.lines.filter((line) => line.includes('"image-labeled"')).map((line) => JSON.parse(line.slice(line.indexOf('{'))));
  assert.equal(logged.length, 1, first.context.lines.join('\n'));
  const p = LabelProvenanceSchema.parse(doc.frame.provenance);
  assert.deepEqual(
    [logged[0].source, logged[0].batchId, logged[0].image, logged[0].attempts, logged[0].scene, logged[0].detector, logged[0].sceneLatencyMs, logged[0].detectorLatencyMs],
    ['blob', 'dup', name, 1, p.scene!.provider, p.detector!.provider, p.scene!.latencyMs, p.detector!.latencyMs],
  );

  const again = await deliver('dup', name, imageBytes(name), '"0x1"').run();
  assert.equal(again.outcome, 'duplicate');
  const after = await app.runtime().labels.get('dup', name);
  assert.equal(after?.updatedAt, doc.updatedAt, 'the document was not rewritten');

  const newVersion = await deliver('dup', name, imageBytes(sampleNames[1]!), '"0x2"').run();
  assert.equal(newVersion.outcome, 'labeled');
  const replaced = await app.runtime().labels.get('dup', name);
  assert.equal(replaced?.blob.etag, '"0x2"');
  assert.equal(await app.runtime().labels.count('dup', 'labeled'), 1, 'still one document for the image');
});

test('a corrupt image and a text file become failed documents with the reason, without a retry', async () => {
  useLocalDurableClient(new RecordingDurableClient());
  const corrupt = await deliver('bad', 'broken.jpg', truncated(imageBytes(sampleNames[2]!), 0.3), '"1"').run();
  const text = await deliver('bad', 'notes.jpg', textFile(), '"1"').run();
  for (const outcome of [corrupt, text]) {
    assert.equal(outcome.outcome, 'failed');
    assert.ok('doc' in outcome && outcome.doc.error?.kind === 'invalid-image', JSON.stringify(outcome));
    assert.equal(outcome.doc.error?.retryable, false);
  }
  const batch = await app.runtime().batches.get('bad');
  assert.equal(batch?.failed, 2);
});

test('a batch completes when the manifest and every image are in; concurrent triggers count every image and start the evaluation once', async () => {
  const durable = new RecordingDurableClient();
  useLocalDurableClient(durable);
  const names = sampleNames.slice(0, 6);
  const manifest = deliver('conc', MANIFEST_NAME, manifestOf([...names, 'broken.jpg']), '"m1"');
  await manifest.run();
  assert.equal((await app.runtime().batches.get('conc'))?.expected, 7);
  const deliveries = [
    ...names.map((name) => deliver('conc', name, imageBytes(name), '"1"')),
    deliver('conc', 'broken.jpg', truncated(imageBytes(names[0]!), 0.2), '"1"'),
    // Event Grid delivering two of them twice, at the same time.
    deliver('conc', names[0]!, imageBytes(names[0]!), '"1"'),
    deliver('conc', names[1]!, imageBytes(names[1]!), '"1"'),
  ];
  await Promise.all(deliveries.map((d) => d.run()));
  const batch = await app.runtime().batches.get('conc');
  assert.equal(batch?.labeled, 6);
  assert.equal(batch?.failed, 1);
  assert.equal(batch?.status, 'labeled');
  assert.ok(batch?.completedAt);
  assert.deepEqual(
    durable.started.map((s) => [s.name, s.instanceId]),
    [['evaluateBatch', 'eval-conc']],
    'the orchestration is started exactly once',
  );
  // A late duplicate does not start it again.
  await deliver('conc', names[2]!, imageBytes(names[2]!), '"1"').run();
  assert.equal(durable.started.length, 1);
});

test('an invalid manifest is recorded on the batch and not retried', async () => {
  useLocalDurableClient(new RecordingDurableClient());
  await deliver('badmanifest', MANIFEST_NAME, Buffer.from('{"images": []'), '"1"').run();
  await deliver('badmanifest', MANIFEST_NAME, Buffer.from(JSON.stringify({ images: ['a/b.jpg'] })), '"2"').run();
  const batch = await app.runtime().batches.get('badmanifest');
  assert.equal(batch?.expected, null);
  assert.equal(batch?.problems.length, 2);
  assert.match(batch!.problems[0]!, /not valid JSON/);
  assert.match(batch!.problems[1]!, /images\[0\]: an image name is a file name without folders/);
});

test('the poison queue message of a blob the host gave up on makes its document failed, and the batch completes', async () => {
  const durable = new RecordingDurableClient();
  useLocalDurableClient(durable);
  const name = sampleNames[3]!;
  await deliver('poison', MANIFEST_NAME, manifestOf([name, 'lost.jpg']), '"m"').run();
  await deliver('poison', name, imageBytes(name), '"1"').run();
  const message = { Type: 'BlobTrigger', FunctionId: 'Host.Functions.labelImageBlob', BlobType: 'BlockBlob', ContainerName: 'images', BlobName: 'poison/lost.jpg', ETag: '"9"' };
  const outcome = await blobPoisonQueueHandler(Buffer.from(JSON.stringify(message)).toString('utf8'), invocationContext('blobPoisonQueue'));
  assert.equal(outcome, 'marked');
  const lost = await app.runtime().labels.get('poison', 'lost.jpg');
  assert.equal(lost?.status, 'failed');
  assert.match(lost!.error!.message, /gave up/);
  const batch = await app.runtime().batches.get('poison');
  assert.equal(batch?.status, 'labeled');
  assert.equal(durable.started.length, 1);
  assert.equal(await blobPoisonQueueHandler({ ...message, ContainerName: 'other' }, invocationContext('blobPoisonQueue')), 'ignored');
});

test('paths that are not images/{batchId}/{file} are ignored with a log line', async () => {
  useLocalDurableClient(new RecordingDurableClient());
  const bad = invocationContext('labelImageBlob', { batchId: '../x', name: 'a.jpg' });
  assert.deepEqual(await labelImageBlobHandler(Buffer.from('x'), bad), { outcome: 'ignored' });
  assert.ok(bad.lines.some((l) => l.includes('blob-ignored')));
});

test('the nightly timer starts evaluations of completed batches without a report and writes the nightly report', async () => {
  const durable = new RecordingDurableClient();
  useLocalDurableClient(durable);
  const name = sampleNames[4]!;
  await deliver('nightly', MANIFEST_NAME, manifestOf([name]), '"m"').run();
  await deliver('nightly', name, imageBytes(name), '"1"').run();
  assert.equal(durable.started.filter((s) => s.instanceId === 'eval-nightly').length, 1);
  // The evaluation failed (its instance completed without a report): the batch is still `labeled`.
  durable.statuses.set('eval-nightly', 'Completed');
  const outcome = await nightlyReportTimerHandler(
    { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } },
    invocationContext('nightlyReportTimer'),
  );
  assert.ok(outcome.evaluationsStarted.includes('nightly'));
  assert.equal(durable.started.filter((s) => s.instanceId === 'eval-nightly').length, 2, 'the nightly run retried it');
  const doc = await app.runtime().reports.get(outcome.reportId);
  assert.equal(doc?.kind, 'nightly-report');
  const html = await app.runtime().blobs.read(BLOB_CONTAINERS.reports, doc!.html);
  assert.match(html!.data.toString('utf8'), /<html/i);
});

test('a retryable failure throws for the host to retry, and the last try stores failed instead', async () => {
  // Cosmos is fine; the labeling setup is made to fail as a provider outage would, through the runtime's setup.
  const runtime = app.runtime();
  useLocalDurableClient(new RecordingDurableClient());
  const realSetup = runtime.setup;
  const setup = await realSetup();
  const { ProviderError } = await import('../src/core/pipeline/errors');
  runtime.setup = async () => ({
    ...setup,
    detector: { model: { provider: 'fake', model: 'down' }, detect: async () => { throw new ProviderError('service unavailable (503)', { provider: 'fake', status: 503 }); } },
  });
  try {
    const name = sampleNames[5]!;
    for (let attempt = 1; attempt < runtime.settings.maxLabelAttempts; attempt++) {
      await assert.rejects(deliver('outage', name, imageBytes(name), '"1"').run(), RetryableLabelingFailure);
      const doc = await runtime.labels.get('outage', name);
      assert.equal(doc?.status, 'retrying');
      assert.equal(doc?.attempts, attempt);
    }
    const last = await deliver('outage', name, imageBytes(name), '"1"').run();
    assert.equal(last.outcome, 'failed');
    assert.match(last.doc.error!.message, /gave up after 5 tries: service unavailable/);
  } finally {
    runtime.setup = realSetup;
  }
});
