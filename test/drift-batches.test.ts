/**
 * Drift in the Functions app, against Azurite + the Cosmos DB stand-in and the real local models: a batch that
 * becomes `labeled` gets its drift profile on its document (images, failures); the nightly run compares the batches
 * that finished labeling with their reference (the first images of the deployment), logs `drift-detected` per
 * flagged metric, and its report (JSON and page) has the drift section, for batches with and without ground truth.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { NightlyReportSchema } from '../src/core/nightly';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../src/app/store/names';
import { nightlyReportTimerHandler } from '../src/app/functions/nightlyReportTimer';
import { truncated } from './fakes/bad-images';
import { arriveBlob, invocationContext, useAppRuntime, useDurableApi } from './helpers/app';
import { driftSets } from './helpers/drift-sets';

// The first 8 images after the deployment are the reference: the first batch alone. Latency is measured but its
// alarm is off (a threshold above 1): the batches are labeled one after the other on a machine whose load other
// processes change, which is latency drift, just not what this test is about (drift-real-images.test.ts checks it).
const app = useAppRuntime({
  DRIFT_REFERENCE_IMAGES: '8',
  DRIFT_THRESHOLDS: JSON.stringify({ metrics: { 'software.latencyMs': 2 } }),
});
const durableApi = useDurableApi();

async function labelBatch(batchId: string, files: readonly string[], extra: Record<string, Uint8Array> = {}) {
  const names = [...files.map((f) => path.basename(f)), ...Object.keys(extra)];
  await (await arriveBlob(app.runtime(), batchId, MANIFEST_NAME, Buffer.from(JSON.stringify({ images: names })))).run();
  for (const file of files) await (await arriveBlob(app.runtime(), batchId, path.basename(file), readFileSync(file))).run();
  for (const [name, bytes] of Object.entries(extra)) await (await arriveBlob(app.runtime(), batchId, name, bytes)).run();
  const batch = await app.runtime().batches.get(batchId);
  assert.equal(batch?.status, 'labeled', JSON.stringify(batch));
  return batch!;
}

test('labeled batches carry their profile; the nightly report flags the night batch, not the daytime one', async () => {
  durableApi();
  const sets = await driftSets(8);
  const reference = await labelBatch('day-ref', sets.reference, { 'broken.jpg': truncated(readFileSync(sets.reference[0]!), 0.3) });
  assert.ok(reference.drift, 'the profile was recorded at the transition');
  assert.equal(reference.drift.images, 8);
  assert.equal(reference.drift.failed, 1);
  assert.deepEqual(reference.drift.software.failures, { 'invalid-image': 1 });
  assert.equal(reference.drift.input.measured, 8, 'every frame recorded its image statistics');
  assert.equal(reference.drift.input.nightLike, 0);
  assert.ok(reference.drift.configHashes.length === 1);

  const day = await labelBatch('day-cur', sets.day);
  const night = await labelBatch('night-cur', sets.night);
  assert.equal(night.drift?.input.nightLike, sets.night.length);
  assert.equal(day.drift?.input.nightLike, 0);

  const context = invocationContext('nightlyReportTimer');
  const outcome = await nightlyReportTimerHandler(
    { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } },
    context,
  );
  const doc = await app.runtime().reports.get(outcome.reportId);
  const report = NightlyReportSchema.parse(await app.runtime().blobs.readJson(BLOB_CONTAINERS.reports, doc!.json));
  const byId = new Map(report.drift!.batches.map((b) => [b.batchId, b]));
  assert.deepEqual([...byId.keys()].sort(), ['day-cur', 'day-ref', 'night-cur']);
  assert.equal(report.drift!.thresholds.metrics['software.latencyMs'], 2, 'DRIFT_THRESHOLDS reached the report');
  assert.equal(byId.get('day-ref')!.status, 'reference');
  assert.equal(byId.get('day-cur')!.status, 'compared');
  assert.equal(byId.get('day-cur')!.drift, false, JSON.stringify(byId.get('day-cur')!.metrics.filter((m) => m.drift)));
  assert.equal(byId.get('day-cur')!.groundTruth, false, 'no evaluation report: judged all the same');
  const nightDrift = byId.get('night-cur')!;
  assert.equal(nightDrift.drift, true);
  assert.deepEqual(nightDrift.reference, { batchIds: ['day-ref'], batches: 1, images: 8 });
  const flagged = nightDrift.metrics.filter((m) => m.drift).map((m) => m.name);
  assert.ok(flagged.includes('input.nightLike') && flagged.includes('input.brightness'), flagged.join(', '));

  // One drift-detected event per flagged metric, all of the night batch.
  const events = context.lines.filter((l) => l.includes('"drift-detected"')).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
  assert.deepEqual(events.map((e) => e.metric).sort(), [...flagged].sort());
  assert.ok(events.every((e) => e.batchId === 'night-cur' && e.score >= e.threshold && e.referenceImages === 8));

  const html = (await app.runtime().blobs.read(BLOB_CONTAINERS.reports, doc!.html))!.data.toString('utf8');
  assert.match(html, /<section id="drift"/);
  assert.match(html, /data-batch="night-cur" data-drift="true"/);
  assert.match(html, /data-batch="day-cur" data-drift="false"/);
  assert.match(html, /data-chart="drift-histogram"/);
  assert.equal(doc!.summary.driftBatches, 1);
});
