/**
 * A batch's progress (services/batch-progress.ts, store/progress-store.ts): the counts the label writes keep in the
 * batch's progress document, against real Azurite and the Cosmos DB stand-in. Labeling runs without models (scene
 * and detector `none`: the image is checked and decoded, the frame has no boxes), so many triggers fit in a test.
 */
// First: the app's functions register with the local host's runtime (helpers/app.ts).
import { blobTriggerDelivery, invocationContext, putImageBlob, useAppRuntime, useDurableApi } from './helpers/app';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { forEachConcurrently } from '../src/adapters/concurrency/limits';
import { batchSweepTimerHandler } from '../src/app/functions/batchSweepTimer';
import { withLiveCounts } from '../src/app/services/batch-progress';
import { writeLabelDocument } from '../src/app/services/label-writes';
import { DOCUMENT_SCHEMA_VERSION, type LabelDocument } from '../src/app/store/documents';
import { BLOB_CONTAINERS, labelDocumentId, MANIFEST_NAME, PROGRESS_DOCUMENT_ID } from '../src/app/store/names';

const app = useAppRuntime({ AUTOLABEL_CONFIG: JSON.stringify({ scene: { provider: 'none' }, detector: { provider: 'none' } }) });
const durableApi = useDurableApi();

/** A small JPEG, different per seed (each upload a version of its own). */
const jpeg = (seed: number) =>
  sharp({ create: { width: 64, height: 48, channels: 3, background: { r: seed % 256, g: (seed * 7) % 256, b: 90 } } })
    .jpeg()
    .toBuffer();

const timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

const nameOf = (i: number) => `img-${String(i).padStart(3, '0')}.jpg`;

/** The counts as COUNT queries see them: the truth the progress document must equal. */
const counted = (batchId: string) => app.runtime().labels.progress.countLabels(batchId);
const progressOf = async (batchId: string) => {
  const doc = await app.runtime().labels.progress.read(batchId);
  return doc && { labeled: doc.labeled, failed: doc.failed, retrying: doc.retrying };
};

async function declare(batchId: string, names: string[]) {
  const manifest = Buffer.from(JSON.stringify({ images: names }));
  const etag = await putImageBlob(app.runtime(), batchId, MANIFEST_NAME, manifest);
  await blobTriggerDelivery(batchId, MANIFEST_NAME, manifest, etag).run();
}

test('concurrent triggers, duplicate deliveries and overwrites: the counts stay exact and the batch completes once', async () => {
  const durable = durableApi();
  const batchId = 'concurrent';
  const names = Array.from({ length: 40 }, (_, i) => nameOf(i));
  await declare(batchId, names);
  const versions = new Map<string, { bytes: Buffer; etag: string }>();
  for (const [i, name] of names.entries()) {
    const bytes = await jpeg(i);
    versions.set(name, { bytes, etag: await putImageBlob(app.runtime(), batchId, name, bytes) });
  }
  // Every event delivered twice (Event Grid's at-least-once), all of them at once, 16 at a time.
  const deliveries = [...names, ...names].map((name) => () => {
    const { bytes, etag } = versions.get(name)!;
    return blobTriggerDelivery(batchId, name, bytes, etag).run();
  });
  const shuffled = deliveries.map((d, i) => ({ d, key: (i * 7919) % deliveries.length })).sort((a, b) => a.key - b.key);
  await forEachConcurrently(shuffled, 16, async ({ d }) => {
    await d();
  });

  assert.deepEqual(await progressOf(batchId), { labeled: 40, failed: 0, retrying: 0 });
  assert.deepEqual(await counted(batchId), { labeled: 40, failed: 0, retrying: 0 });
  const batch = await app.runtime().batches.get(batchId);
  assert.deepEqual([batch?.status, batch?.labeled, batch?.failed], ['labeled', 40, 0]);
  assert.deepEqual(
    durable.started.map((s) => s.instanceId),
    [`eval-${batchId}`],
    'the orchestration is started exactly once',
  );

  // Late re-deliveries and an overwrite after completion: still one document per image, counted once.
  const late = names[3]!;
  await blobTriggerDelivery(batchId, late, versions.get(late)!.bytes, versions.get(late)!.etag).run();
  const replacement = await jpeg(1000);
  const etag = await putImageBlob(app.runtime(), batchId, late, replacement);
  assert.equal((await blobTriggerDelivery(batchId, late, replacement, etag).run()).outcome, 'labeled');
  assert.deepEqual(await progressOf(batchId), { labeled: 40, failed: 0, retrying: 0 });
  assert.equal(durable.started.length, 1);
});

function labelDoc(batchId: string, name: string, status: LabelDocument['status'], etag: string, attempts = 1): LabelDocument {
  const now = new Date().toISOString();
  return {
    id: labelDocumentId(name),
    batchId,
    name,
    kind: 'label',
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    status,
    blob: { path: `${BLOB_CONTAINERS.images}/${batchId}/${name}`, etag, bytes: 1 },
    configHash: 'test',
    attempts,
    ...(status === 'labeled'
      ? { frame: { name, labels: [] } }
      : { error: { kind: 'provider', message: 'down', retryable: status === 'retrying' } }),
    createdAt: now,
    updatedAt: now,
  };
}

test('every status change moves the counts, a write that keeps the status does not, and a lost race changes nothing', async () => {
  const runtime = app.runtime();
  const batchId = 'transitions';
  const etag = await putImageBlob(runtime, batchId, 'a.jpg', await jpeg(1));
  const steps: Array<[LabelDocument['status'], number, { labeled: number; failed: number; retrying: number }]> = [
    ['retrying', 1, { labeled: 0, failed: 0, retrying: 1 }],
    ['retrying', 2, { labeled: 0, failed: 0, retrying: 1 }],
    ['failed', 3, { labeled: 0, failed: 1, retrying: 0 }],
  ];
  for (const [status, attempts, expected] of steps) {
    const result = await writeLabelDocument(runtime, labelDoc(batchId, 'a.jpg', status, etag, attempts), { etag });
    assert.ok(result.written, `${status} ${attempts} written`);
    assert.deepEqual(await progressOf(batchId), expected, `after ${status} (try ${attempts})`);
    assert.deepEqual(await counted(batchId), expected);
  }
  // A new version labeled replaces the failed one: failed -1, labeled +1, answered by the write itself.
  const newEtag = await putImageBlob(runtime, batchId, 'a.jpg', await jpeg(2));
  const relabeled = await writeLabelDocument(runtime, labelDoc(batchId, 'a.jpg', 'labeled', newEtag), { etag: newEtag });
  assert.ok(relabeled.written);
  assert.deepEqual(relabeled.progress, { labeled: 1, failed: 0, retrying: 0 });

  // A writer holding a stale ETag loses: neither the document nor the counts change.
  const stored = await runtime.labels.get(batchId, 'a.jpg');
  const stale = await runtime.labels.write(labelDoc(batchId, 'a.jpg', 'failed', newEtag), {
    etag: '"not-the-current-one"',
    status: 'labeled',
  });
  assert.equal(stale, undefined);
  assert.equal((await runtime.labels.get(batchId, 'a.jpg'))?._etag, stored?._etag);
  assert.deepEqual(await progressOf(batchId), { labeled: 1, failed: 0, retrying: 0 });
});

test('a batch written before progress documents existed gets one counted from its documents, then kept exact', async () => {
  const runtime = app.runtime();
  const batchId = 'legacy';
  const container = runtime.clients.containers.labels;
  // Documents as the previous version stored them: no progress document beside them.
  for (const [i, status] of (['labeled', 'labeled', 'failed'] as const).entries()) {
    await container.items.create(labelDoc(batchId, nameOf(i), status, '"old"'));
  }
  assert.equal(await runtime.labels.progress.read(batchId), undefined);
  const etag = await putImageBlob(runtime, batchId, nameOf(3), await jpeg(3));
  const result = await writeLabelDocument(runtime, labelDoc(batchId, nameOf(3), 'labeled', etag), { etag });
  assert.ok(result.written);
  assert.deepEqual(result.progress, { labeled: 3, failed: 1, retrying: 0 });
  assert.deepEqual(await counted(batchId), { labeled: 3, failed: 1, retrying: 0 });
});

test('the sweep repairs counts that drifted from the documents and completes a batch the counts held back', async () => {
  const durable = durableApi();
  const runtime = app.runtime();
  const batchId = 'drifted';
  const names = [nameOf(0), nameOf(1)];
  await declare(batchId, names);
  for (const [i, name] of names.entries()) {
    const bytes = await jpeg(i + 10);
    const etag = await putImageBlob(runtime, batchId, name, bytes);
    await blobTriggerDelivery(batchId, name, bytes, etag).run();
  }
  assert.equal((await runtime.batches.get(batchId))?.status, 'labeled');

  // Another batch whose counts were lost (as a restored snapshot or a write that bypassed the store can leave them).
  const lost = 'drifted-2';
  await declare(lost, names);
  for (const [i, name] of names.entries()) {
    const bytes = await jpeg(i + 20);
    const etag = await putImageBlob(runtime, lost, name, bytes);
    await runtime.clients.containers.labels.items.create(labelDoc(lost, name, 'labeled', etag));
  }
  const progress = (await runtime.labels.progress.read(lost))!;
  assert.deepEqual([progress.labeled, (await runtime.batches.get(lost))?.status], [0, 'labeling']);
  assert.equal((await withLiveCounts(runtime, (await runtime.batches.get(lost))!)).labeled, 0, 'the counts say nothing is done');

  // The sweep (its grace at 0: the counts are quiet long enough) finds the documents final and the counts wrong.
  const settings = runtime.settings.sweep;
  const grace = settings.graceMs;
  settings.graceMs = 0;
  const context = invocationContext('batchSweepTimer');
  try {
    await batchSweepTimerHandler(timer, context);
  } finally {
    settings.graceMs = grace;
  }
  const batch = (await runtime.batches.get(lost))!;
  assert.equal(batch.status, 'labeled');
  assert.deepEqual(await progressOf(lost), { labeled: 2, failed: 0, retrying: 0 });
  assert.ok(
    context.lines.some((l) => l.includes('"progress-repaired"')),
    context.lines.join('\n'),
  );
  assert.deepEqual([batch.labeled, batch.failed], [2, 0]);
  assert.ok(durable.started.some((s) => s.instanceId === `eval-${lost}`));
  // The progress document is not a label document: no listing of the batch's labels shows it.
  const listed: string[] = [];
  for await (const page of runtime.labels.listBatch(lost)) listed.push(...page.map((d) => d.id));
  assert.ok(!listed.includes(PROGRESS_DOCUMENT_ID));
  assert.deepEqual((await runtime.labels.versions(lost)).map((v) => v.name).sort(), names);
});
