/**
 * The blob trigger, poison-queue and timer handlers, called as the Functions host calls them (InvocationContext with
 * trigger metadata), against real Azurite + the Cosmos DB stand-in and the real local models.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { LabelProvenanceSchema } from '../src/core/pipeline/provenance';
import type { Detector } from '../src/core/pipeline/types';
import { withLiveCounts } from '../src/app/services/batch-progress';
import { RetryableLabelingFailure } from '../src/app/services/label-blob';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../src/app/store/names';
import { labelImageBlobHandler } from '../src/app/functions/labelImageBlob';
import { nightlyReportTimerHandler } from '../src/app/functions/nightlyReportTimer';
import { textFile, truncated } from './fakes/bad-images';
import { arriveBlob, blobTriggerDelivery, invocationContext, putImageBlob, useAppRuntime, useDurableApi } from './helpers/app';
import { sampleImagesDir } from './helpers/shared';

const app = useAppRuntime();
const sampleNames = readdirSync(sampleImagesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort();
const imageBytes = (name: string) => readFileSync(path.join(sampleImagesDir, name));

const put = (batchId: string, name: string, bytes: Uint8Array) => putImageBlob(app.runtime(), batchId, name, bytes);
const deliver = blobTriggerDelivery;
const arrive = (batchId: string, name: string, bytes: Uint8Array) => arriveBlob(app.runtime(), batchId, name, bytes);

const manifestOf = (images: string[]) => Buffer.from(JSON.stringify({ images }));

test('an image blob becomes one label document; the same version delivered twice is labeled once, a new version again', async () => {
  durableApi();
  const name = sampleNames[0]!;
  const first = await arrive('dup', name, imageBytes(name));
  assert.equal((await first.run()).outcome, 'labeled');
  const doc = await app.runtime().labels.get('dup', name);
  assert.ok(doc?.frame && doc.frame.labels.length > 0, 'the frame has boxes');
  assert.ok(
    doc.frame.labels.every((l) => typeof l.score === 'number'),
    'every box has a score',
  );
  assert.equal(doc.attempts, 1);
  const logged = first.context.lines
    .filter((line) => line.includes('"image-labeled"'))
    .map((line) => JSON.parse(line.slice(line.indexOf('{'))));
  assert.equal(logged.length, 1, first.context.lines.join('\n'));
  const p = LabelProvenanceSchema.parse(doc.frame.provenance);
  assert.deepEqual(
    [
      logged[0].source,
      logged[0].batchId,
      logged[0].image,
      logged[0].attempts,
      logged[0].scene,
      logged[0].detector,
      logged[0].sceneLatencyMs,
      logged[0].detectorLatencyMs,
    ],
    ['blob', 'dup', name, 1, p.scene!.provider, p.detector!.provider, p.scene!.latencyMs, p.detector!.latencyMs],
  );

  const again = await deliver('dup', name, imageBytes(name), first.etag).run();
  assert.equal(again.outcome, 'duplicate');
  const after = await app.runtime().labels.get('dup', name);
  assert.equal(after?.updatedAt, doc.updatedAt, 'the document was not rewritten');

  const second = await arrive('dup', name, imageBytes(sampleNames[1]!));
  const newVersion = await second.run();
  assert.equal(newVersion.outcome, 'labeled');
  const replaced = await app.runtime().labels.get('dup', name);
  assert.equal(replaced?.blob.etag, second.etag);
  assert.equal(await app.runtime().labels.count('dup', 'labeled'), 1, 'still one document for the image');
});
const durableApi = useDurableApi();

test('a corrupt image and a text file become failed documents with the reason, without a retry', async () => {
  durableApi();
  const corrupt = await (await arrive('bad', 'broken.jpg', truncated(imageBytes(sampleNames[2]!), 0.3))).run();
  const text = await (await arrive('bad', 'notes.jpg', textFile())).run();
  for (const outcome of [corrupt, text]) {
    assert.equal(outcome.outcome, 'failed');
    assert.ok('doc' in outcome && outcome.doc.error?.kind === 'invalid-image', JSON.stringify(outcome));
    assert.equal(outcome.doc.error?.retryable, false);
  }
  // Counted by the failed writes themselves (the batch's progress document), as the batch views show it.
  const batch = await withLiveCounts(app.runtime(), (await app.runtime().batches.get('bad'))!);
  assert.equal(batch.failed, 2);
});

test('a batch completes when the manifest and every image are in; concurrent triggers count every image and start the evaluation once', async () => {
  const durable = durableApi();
  const names = sampleNames.slice(0, 6);
  const manifest = await arrive('conc', MANIFEST_NAME, manifestOf([...names, 'broken.jpg']));
  await manifest.run();
  assert.equal((await app.runtime().batches.get('conc'))?.expected, 7);
  const arrived = await Promise.all([
    ...names.map((name) => arrive('conc', name, imageBytes(name))),
    arrive('conc', 'broken.jpg', truncated(imageBytes(names[0]!), 0.2)),
  ]);
  const deliveries = [
    ...arrived,
    // Event Grid delivering two of them twice, at the same time.
    deliver('conc', names[0]!, imageBytes(names[0]!), arrived[0]!.etag),
    deliver('conc', names[1]!, imageBytes(names[1]!), arrived[1]!.etag),
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
  await deliver('conc', names[2]!, imageBytes(names[2]!), arrived[2]!.etag).run();
  assert.equal(durable.started.length, 1);
});

test('an invalid manifest is recorded on the batch and not retried', async () => {
  durableApi();
  const broken = await arrive('badmanifest', MANIFEST_NAME, Buffer.from('{"images": []'));
  await broken.run();
  // Event Grid repeating the first: recorded once.
  await deliver('badmanifest', MANIFEST_NAME, Buffer.from('{"images": []'), broken.etag).run();
  await (await arrive('badmanifest', MANIFEST_NAME, Buffer.from(JSON.stringify({ images: ['a/b.jpg'] })))).run();
  const batch = await app.runtime().batches.get('badmanifest');
  assert.equal(batch?.expected, null);
  assert.equal(batch?.problems.length, 2);
  assert.match(batch!.problems[0]!, /not valid JSON/);
  assert.match(batch!.problems[1]!, /images\[0\]: an image name is a file name without folders/);
});

test('paths that are not images/{batchId}/{file} are ignored with a log line', async () => {
  durableApi();
  const bad = invocationContext('labelImageBlob', { batchId: '../x', name: 'a.jpg' });
  assert.deepEqual(await labelImageBlobHandler(Buffer.from('x'), bad), { outcome: 'ignored' });
  assert.ok(bad.lines.some((l) => l.includes('blob-ignored')));
});

test('the nightly timer starts evaluations of completed batches without a report and writes the nightly report', async () => {
  const durable = durableApi();
  const name = sampleNames[4]!;
  await (await arrive('nightly', MANIFEST_NAME, manifestOf([name]))).run();
  await (await arrive('nightly', name, imageBytes(name))).run();
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
  durableApi();
  const realSetup = runtime.setup;
  const setup = await realSetup();
  const { ProviderError } = await import('../src/core/pipeline/errors');
  runtime.setup = async () => ({
    ...setup,
    detector: {
      model: { provider: 'fake', model: 'down' },
      detect: async () => {
        throw new ProviderError('service unavailable (503)', { provider: 'fake', status: 503 });
      },
    },
  });
  try {
    const name = sampleNames[5]!;
    const etag = await put('outage', name, imageBytes(name));
    for (let attempt = 1; attempt < runtime.settings.maxLabelAttempts; attempt++) {
      await assert.rejects(deliver('outage', name, imageBytes(name), etag).run(), RetryableLabelingFailure);
      const doc = await runtime.labels.get('outage', name);
      assert.equal(doc?.status, 'retrying');
      assert.equal(doc?.attempts, attempt);
    }
    const last = await deliver('outage', name, imageBytes(name), etag).run();
    assert.ok(last.outcome === 'failed', JSON.stringify(last));
    assert.match(last.doc.error!.message, /gave up after 5 tries: service unavailable/);
  } finally {
    runtime.setup = realSetup;
  }
});

/** Replaces the runtime's detector for one test: `hold(call)` may delay a detection (e.g. until an overwrite). */
async function withDetector<T>(hold: (call: number) => Promise<void>, work: () => Promise<T>): Promise<T> {
  const runtime = app.runtime();
  const realSetup = runtime.setup;
  const setup = await realSetup();
  const real = setup.detector!;
  let calls = 0;
  const detector: Detector = { model: real.model, detect: async (image, options) => (await hold(++calls), real.detect(image, options)) };
  runtime.setup = async () => ({ ...setup, detector });
  try {
    return await work();
  } finally {
    runtime.setup = realSetup;
  }
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('an overwrite while the older version is labeled: the older one finishing last never replaces the newer labels', async () => {
  durableApi();
  const [oldImage, newImage] = [imageBytes(sampleNames[6]!), imageBytes(sampleNames[7]!)];
  let release!: () => void;
  const overwritten = new Promise<void>((resolve) => (release = resolve));
  let held!: () => void;
  const firstHeld = new Promise<void>((resolve) => (held = resolve));
  const detections: number[] = [];
  await withDetector(
    async (call) => {
      detections.push(call);
      if (call === 1) {
        held();
        await overwritten;
      }
    },
    async () => {
      const v1 = await arrive('overwrite', 'a.jpg', oldImage);
      const first = v1.run();
      await firstHeld;
      const v2 = await arrive('overwrite', 'a.jpg', newImage);
      assert.equal((await v2.run()).outcome, 'labeled');
      release();
      assert.deepEqual(await first, { outcome: 'superseded', currentEtag: v2.etag });
      const doc = await app.runtime().labels.get('overwrite', 'a.jpg');
      assert.equal(doc?.blob.etag, v2.etag);
      assert.equal(LabelProvenanceSchema.parse(doc!.frame!.provenance).image.sha256, sha256(newImage), 'the labels describe the new image');
      assert.ok(
        v1.context.lines.some((line) => line.includes('"label-superseded"')),
        v1.context.lines.join('\n'),
      );

      // A late repeat of the old version's event is not even labeled.
      const late = await deliver('overwrite', 'a.jpg', oldImage, v1.etag).run();
      assert.equal(late.outcome, 'superseded');
      assert.deepEqual(detections, [1, 2]);
    },
  );
});

test('an overwrite after the older version was checked but before its write: the write is refused, the new version labeled', async () => {
  durableApi();
  const [oldImage, newImage] = [imageBytes(sampleNames[8]!), imageBytes(sampleNames[9]!)];
  let v2etag = '';
  await withDetector(
    async (call) => {
      // The first version passed its currency check; the blob is replaced while it is being labeled.
      if (call === 1) v2etag = await put('overwrite2', 'b.jpg', newImage);
    },
    async () => {
      const v1 = await arrive('overwrite2', 'b.jpg', oldImage);
      assert.deepEqual(await v1.run(), { outcome: 'superseded', currentEtag: v2etag });
      assert.equal(await app.runtime().labels.get('overwrite2', 'b.jpg'), undefined, 'nothing stored for the old version');
      const v2 = await deliver('overwrite2', 'b.jpg', newImage, v2etag).run();
      assert.equal(v2.outcome, 'labeled');
      const doc = await app.runtime().labels.get('overwrite2', 'b.jpg');
      assert.equal(LabelProvenanceSchema.parse(doc!.frame!.provenance).image.sha256, sha256(newImage));
    },
  );
});

test('a batch is not complete while an image is labeled only for a version since replaced; the new version completes it', async () => {
  const durable = durableApi();
  const [first, second, replacement] = [imageBytes(sampleNames[10]!), imageBytes(sampleNames[11]!), imageBytes(sampleNames[12]!)];
  await (await arrive('stale', 'a.jpg', first)).run();
  await (await arrive('stale', 'b.jpg', second)).run();
  // a.jpg is replaced; its event has not been handled when the manifest comes.
  const newEtag = await put('stale', 'a.jpg', replacement);
  await (await arrive('stale', MANIFEST_NAME, manifestOf(['a.jpg', 'b.jpg']))).run();
  const waiting = await app.runtime().batches.get('stale');
  assert.equal(waiting?.status, 'labeling', 'two final documents, but one describes the replaced version');
  assert.equal(durable.started.length, 0);

  assert.equal((await deliver('stale', 'a.jpg', replacement, newEtag).run()).outcome, 'labeled');
  assert.equal((await app.runtime().batches.get('stale'))?.status, 'labeled');
  assert.deepEqual(
    durable.started.map((s) => s.instanceId),
    ['eval-stale'],
  );
});

test('a trigger without an ETag in its metadata labels the version it downloads itself, bytes and ETag together', async () => {
  durableApi();
  const image = imageBytes(sampleNames[10]!);
  const etag = await put('noetag', 'c.jpg', image);
  const context = invocationContext('labelImageBlob', { batchId: 'noetag', name: 'c.jpg', blobTrigger: 'images/noetag/c.jpg' });
  // The bytes handed over are stale (another image): the handler must not attribute them to the current ETag.
  const outcome = await labelImageBlobHandler(Buffer.from(imageBytes(sampleNames[11]!)), context);
  assert.ok(outcome.outcome === 'labeled', JSON.stringify(outcome));
  assert.equal(outcome.doc.blob.etag, etag);
  assert.equal(LabelProvenanceSchema.parse(outcome.doc.frame!.provenance).image.sha256, sha256(image));
});
