/**
 * End to end on one machine: the local host (the app's registered functions wired to a blob watcher, an HTTP server,
 * the in-process Durable runner and the timer) against real Azurite and the Cosmos DB stand-in. 20 sample images and
 * their ground truth go in as a batch with `autolabel upload`; every image gets a label document, the orchestration
 * runs once, and the stored report equals `evaluate()` on the same predictions and ground truth.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { unzipSync } from 'fflate';
import sharp from 'sharp';
import { runUpload } from '../src/cli/upload-command';
import { evaluate } from '../src/core/evaluation/evaluate';
import { loadLabels } from '../src/adapters/files/load-labels';
import { FrameSchema, type Frame } from '../src/core/labels/schema';
import { startLocalServices, type LocalServices } from '../dev/local-host/local-services';
import { startLocalHost, type LocalHost } from '../dev/local-host/host/start-host';
import { appEnv, waitUntil } from './helpers/app';
import { sampleImagesDir, sampleLabelsDir } from './helpers/shared';

const BATCH = 'e2e-sample';
const names = readdirSync(sampleImagesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort()
  .slice(0, 20);
let services: LocalServices;
let host: LocalHost;
let work: string;
const lines: string[] = [];

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'autolabel-e2e-'));
  mkdirSync(path.join(work, 'images'));
  mkdirSync(path.join(work, 'gt'));
  for (const name of names) {
    copyFileSync(path.join(sampleImagesDir, name), path.join(work, 'images', name));
    const stem = name.replace(/\.jpg$/, '');
    copyFileSync(path.join(sampleLabelsDir, `${stem}_label.json`), path.join(work, 'gt', `${stem}_label.json`));
  }
  services = await startLocalServices();
  host = await startLocalHost({
    services: 'external',
    env: appEnv(services),
    port: 0,
    dataDir: path.join(work, 'host'),
    blobPollIntervalMs: 200,
    log: (line) => lines.push(line),
  });
});

after(async () => {
  await host?.close();
  await services?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.json() };
}

test('a batch of 20 sample images is labeled, evaluated once, and served over HTTP', async () => {
  const out: string[] = [];
  const code = await runUpload(
    [path.join(work, 'images'), '--batch', BATCH, '--gt', path.join(work, 'gt')],
    { stdout: (t) => out.push(t), stderr: () => undefined },
    host.env,
  );
  assert.equal(code, 0);
  assert.match(out.join(''), /20 image\(s\), 20 ground-truth file\(s\) uploaded/);

  const batch = await waitUntil(
    'the batch to be evaluated',
    async () => {
      const { body } = await getJson(`${host.url}/api/batches/${BATCH}`);
      return body.status === 'evaluated' ? body : undefined;
    },
    () => lines.slice(-30).join('\n'),
  );
  assert.equal(batch.expected, 20);
  assert.equal(batch.labeled, 20);
  assert.equal(batch.failed, 0);
  assert.ok(batch.reportId);

  const listed = await getJson(`${host.url}/api/batches`);
  assert.ok(listed.body.batches.some((b: { batchId: string }) => b.batchId === BATCH));

  // Every image has its stored frame, with scored boxes and provenance.
  const predictions: Frame[] = [];
  for (const name of names) {
    const { status, body } = await getJson(`${host.url}/api/batches/${BATCH}/labels/${name}`);
    assert.equal(status, 200, `${name}: ${JSON.stringify(body)}`);
    const frame = FrameSchema.parse(body);
    assert.equal(frame.name, name);
    assert.ok(frame.labels.every((l) => typeof l.score === 'number'));
    assert.ok(body.provenance?.configHash);
    predictions.push(frame);
  }
  assert.ok(predictions.reduce((n, f) => n + f.labels.length, 0) > 100, 'the detector found boxes');

  // The orchestration ran once; its status as the Durable HTTP API answers it (what durable-functions' client reads).
  const status = await getJson(`${host.url}/runtime/webhooks/durabletask/instances/eval-${BATCH}`);
  assert.equal(status.body.runtimeStatus, 'Completed');
  assert.deepEqual((status.body.output as { ok: boolean; reportId: string }).reportId, batch.reportId);
  assert.equal(lines.filter((l) => l.includes('"event":"evaluationPlan"')).length, 1, 'planned once');
  assert.equal(lines.filter((l) => l.includes('"event":"evaluationReport"')).length, 1, 'reported once');

  // The stored report is the CLI's evaluation of the same predictions and ground truth.
  const stored = await getJson(`${host.url}/api/reports/${batch.reportId}`, { headers: { accept: 'application/json' } });
  assert.equal(stored.status, 200);
  const gt = await loadLabels(path.join(work, 'gt'));
  const expected = evaluate({ gt: gt.frames, predictions, options: stored.body.options, now: new Date(stored.body.createdAt) });
  assert.deepEqual(stored.body.detection, JSON.parse(JSON.stringify(expected.detection)));
  assert.deepEqual(stored.body.attributes, JSON.parse(JSON.stringify(expected.attributes)));
  assert.deepEqual(stored.body.images, JSON.parse(JSON.stringify(expected.images)));
  assert.deepEqual(stored.body.diagnostics, JSON.parse(JSON.stringify(expected.diagnostics)));
  assert.ok(stored.body.detection.stats.AP50 > 0.2, `AP50 ${stored.body.detection.stats.AP50}`);
  // The header's facts: what made the predictions.
  assert.equal(stored.body.inputs.pred.provenance.frames, 20);
  const models = stored.body.inputs.pred.provenance.models.map((m: { role: string; model: string }) => `${m.role}:${m.model}`);
  assert.ok(models.includes('detector:yolox-nano') && models.some((m: string) => m.startsWith('scene:mobilenetv2')), models.join(', '));

  const html = await fetch(`${host.url}/api/reports/${batch.reportId}`, { headers: { accept: 'text/html' } });
  assert.match(html.headers.get('content-type') ?? '', /text\/html/);
  const page = await html.text();
  assert.match(page, /<html/i);
  // The worst images are shown: thumbnails read from the batch's blobs, inlined as data: URIs.
  assert.ok((page.match(/src="data:image\/jpeg;base64,/g) ?? []).length >= 10, 'thumbnails of the worst images');

  const overlay = await fetch(`${host.url}/api/batches/${BATCH}/labels/${names[0]}/overlay`);
  assert.equal(overlay.status, 200);
  const meta = await sharp(Buffer.from(await overlay.arrayBuffer())).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, 1280);

  const health = await getJson(`${host.url}/api/health`);
  assert.equal(health.status, 200, JSON.stringify(health.body));
});

test('the review loop over HTTP: the queue, a correction, exports for the tools, and the correction as ground truth', async () => {
  // Runs after the batch above is evaluated.
  const queue = await getJson(`${host.url}/api/batches/${BATCH}/review?limit=5`);
  assert.equal(queue.status, 200, JSON.stringify(queue.body));
  assert.equal(queue.body.images, 20);
  const items = queue.body.items as Array<{ name: string; priority: number; reasons: string[] }>;
  assert.equal(items.length, 5);
  assert.ok(items.every((item, i) => i === 0 || items[i - 1]!.priority >= item.priority));

  // A reviewer corrects the first image: one box removed, the weather changed.
  const name = items[0]!.name;
  const automatic = FrameSchema.parse((await getJson(`${host.url}/api/batches/${BATCH}/labels/${name}`)).body);
  const corrected = { ...automatic, labels: automatic.labels.slice(1), attributes: { ...automatic.attributes, weather: 'rainy' } };
  const put = await fetch(`${host.url}/api/batches/${BATCH}/labels/${name}/review`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reviewer: 'e2e', frame: corrected }),
  });
  assert.equal(put.status, 200, await put.clone().text());
  assert.equal(((await put.json()) as { revision: number }).revision, 1);

  // Exports for the labeling tools, streamed by the host.
  const labelStudio = await fetch(`${host.url}/api/batches/${BATCH}/export?format=labelstudio&imagesUrl=/data/local-files/?d=`);
  assert.equal(labelStudio.status, 200);
  assert.match(labelStudio.headers.get('content-disposition') ?? '', /attachment; filename="e2e-sample-labelstudio.json"/);
  const tasks = (await labelStudio.json()) as Array<{ data: { image: string }; predictions: Array<{ result: unknown[] }> }>;
  assert.equal(tasks.length, 20);
  assert.ok(tasks.every((t) => t.data.image.startsWith('/data/local-files/?d=') && t.predictions[0]!.result.length > 0));
  const yolo = await fetch(`${host.url}/api/batches/${BATCH}/export?format=yolo`);
  assert.equal(yolo.headers.get('content-type'), 'application/zip');
  const files = Object.keys(unzipSync(new Uint8Array(await yolo.arrayBuffer())));
  assert.equal(files.filter((f) => f.startsWith('labels/')).length, 20);
  assert.ok(files.includes('classes.txt') && files.includes('data.yaml'));
  assert.equal((await fetch(`${host.url}/api/batches/${BATCH}/export?format=pdf`)).status, 400);

  // Evaluated again: the correction is that image's ground truth, and the report says how far the labels were.
  const before = (await getJson(`${host.url}/api/batches/${BATCH}`)).body.reportId as string;
  const started = await fetch(`${host.url}/api/batches/${BATCH}/evaluate`, { method: 'POST' });
  assert.equal(started.status, 202, await started.clone().text());
  const batch = await waitUntil(
    'the batch to be evaluated again',
    async () => {
      const { body } = await getJson(`${host.url}/api/batches/${BATCH}`);
      return body.status === 'evaluated' && body.reportId !== before ? body : undefined;
    },
    () => lines.slice(-30).join('\n'),
  );
  const report = (await getJson(`${host.url}/api/reports/${batch.reportId}`, { headers: { accept: 'application/json' } })).body;
  assert.deepEqual(report.inputs.gt.reviewed, [name]);
  assert.equal(report.reviewAgreement.images, 1);
  assert.ok(report.reviewAgreement.precision < 1, 'the removed box is a false positive of the automatic labels');
  assert.ok(report.reviewAgreement.attributeAccuracy < 1, 'the weather differs');
});
