/**
 * The fault matrix, through the local host and the real SDKs. Azurite, the Cosmos DB stand-in and the host each run
 * as a process of their own (persistent data folders), so each can be killed with SIGKILL and started again:
 *  - events dropped for some images and for a manifest (receipts written with no work done): the sweep finds them;
 *  - overwrite races: a large image replaced by a normal one under the same name at several delays;
 *  - a manifest listing an image that never arrives (deadline shortened): it fails as `missing`, the batch moves on;
 *  - a 60-image batch while the host is killed at three points (early, half way, during the evaluation);
 *  - a 60-image batch while Azurite is killed at two points; another while the Cosmos DB stand-in is killed at two.
 * Every listed image must end with exactly one final document (labeled, or failed with a reason), every batch
 * evaluated, and each report covering all its images. The matrix is printed as a table at the end.
 * Bounded loops only, loopback only.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { ensureResources } from '../src/app/clients';
import { createRuntime, type AppRuntime } from '../src/app/runtime';
import { EvaluationReportSchema } from '../src/core/evaluation/report-schema';
import { LabelProvenanceSchema } from '../src/core/pipeline/provenance';
import { runUpload } from '../src/cli/upload-command';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../src/app/store/names';
import { BatchViewSchema, type LabelDocument } from '../src/app/store/documents';
import { FrameSchema } from '../src/core/labels/schema';
import { findFreePorts, startAzurite, type AzuriteHandle } from '../dev/local-host/azurite';
import { headerETag } from '../dev/local-host/blob-trigger/blob-version';
import { defaultHostId, functionFullName, HOSTS_CONTAINER, receiptBlobName } from '../dev/local-host/blob-trigger';
import { EMULATOR_KEY } from '../dev/local-host/cosmos-emulator';
import { ENDPOINTS_FILE, LocalEndpointsSchema } from '../dev/local-host/endpoints';
import { modelsDir, waitUntil } from './helpers/app';
import { sampleImagesDir, sampleLabelsDir } from './helpers/shared';

const repo = path.resolve(__dirname, '..');
const names = readdirSync(sampleImagesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort();
const quiet = { stdout: () => undefined, stderr: () => undefined };
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let work: string;
let ports: { blob: number; queue: number; table: number; cosmos: number };
let azurite: AzuriteHandle;
let cosmos: ChildProcess;
let host: HostProcess | undefined;
let env: NodeJS.ProcessEnv;
let runtime: AppRuntime;
const children = new Set<ChildProcess>();
const matrix: Array<{
  fault: string;
  kills: string;
  images: number;
  lost: number;
  duplicates: number;
  failed: number;
  final: string;
  recovery: string;
}> = [];
/** Every host's output, across restarts: the recovery events of a scenario are counted in it. */
let allHostOutput = '';
const RECOVERY_EVENTS = ['batch-swept', 'label-requested', 'label-superseded', 'image-poisoned', 'evaluation-revived'] as const;
const countEvents = () => Object.fromEntries(RECOVERY_EVENTS.map((e) => [e, allHostOutput.split(`"event":"${e}"`).length - 1]));

interface HostProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'autolabel-faults-'));
  for (const dir of ['images', 'gt']) mkdirSync(path.join(work, dir));
  for (const name of names) {
    copyFileSync(path.join(sampleImagesDir, name), path.join(work, 'images', name));
    const stem = name.replace(/\.jpg$/, '');
    copyFileSync(path.join(sampleLabelsDir, `${stem}_label.json`), path.join(work, 'gt', `${stem}_label.json`));
  }
  const [blob, queue, table, cosmosPort] = await findFreePorts(4);
  ports = { blob: blob!, queue: queue!, table: table!, cosmos: cosmosPort! };
  azurite = await startStorage();
  cosmos = await startDatabase();
  env = {
    ...process.env,
    AzureWebJobsStorage: azurite.connectionString,
    COSMOS_ENDPOINT: `http://127.0.0.1:${ports.cosmos}/`,
    COSMOS_KEY: EMULATOR_KEY,
    COSMOS_DISABLE_ENDPOINT_DISCOVERY: 'true',
    COSMOS_DATABASE: 'faults',
    AUTOLABEL_MODELS_DIR: modelsDir,
    AUTOLABEL_LOCAL_WORKERS: '1',
    AUTOLABEL_OFFLINE: '1',
    // The faults, not detection quality, are under test: one detector view per image keeps the batches quick.
    AUTOLABEL_CONFIG: JSON.stringify({ detector: { provider: 'onnx', tiling: false } }),
    BATCH_SWEEP_SCHEDULE: '*/2 * * * * *',
    BATCH_SWEEP_GRACE_MINUTES: '0.25',
    BATCH_DEADLINE_MINUTES: '0.5',
  };
  runtime = createRuntime({ env });
  await ensureResources(runtime.clients, runtime.settings.cosmos.database);
});

after(async () => {
  if (matrix.length) {
    const header = '| fault | kills | images | lost | duplicates | failed (with reason) | final state | recovery events |';
    const rows = matrix.map(
      (r) => `| ${r.fault} | ${r.kills} | ${r.images} | ${r.lost} | ${r.duplicates} | ${r.failed} | ${r.final} | ${r.recovery} |`,
    );
    console.log(['', 'fault matrix:', header, '|---|---|---|---|---|---|---|---|', ...rows].join('\n'));
  }
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await runtime?.close();
  await azurite?.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------------ the processes

function startStorage(): Promise<AzuriteHandle> {
  return startAzurite({ dataDir: path.join(work, 'azurite'), ports: { blob: ports.blob, queue: ports.queue, table: ports.table } });
}

/** The Cosmos DB stand-in as its own process (dev/local-host/cosmos-main.ts); resolves once it serves. */
async function startDatabase(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'dev/local-host/cosmos-main.ts',
      '--port',
      String(ports.cosmos),
      '--data-dir',
      path.join(work, 'cosmos'),
      '--snapshot-interval-ms',
      '1000',
    ],
    { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  children.add(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      if (output.includes('cosmos-ready')) resolve();
    });
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`the Cosmos DB stand-in exited with ${code}:\n${output}`)));
  });
  return child;
}

/** The host as `npm start -- --external-services` runs it; resolves once it serves HTTP. */
async function startHost(): Promise<HostProcess> {
  const dataDir = path.join(work, 'host');
  rmSync(path.join(dataDir, ENDPOINTS_FILE), { force: true });
  let output = '';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'dev/local-host/host/main.ts', '--external-services', '--port', '0', '--data-dir', dataDir],
    {
      cwd: repo,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  const keep = (chunk: Buffer) => {
    output = (output + chunk).slice(-200_000);
    allHostOutput += chunk;
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const endpoints = await waitUntil(
    'the host to serve HTTP',
    async () => {
      if (child.exitCode !== null) throw new Error(`host exited with ${child.exitCode}:\n${output}`);
      try {
        const parsed = LocalEndpointsSchema.parse(JSON.parse(readFileSync(path.join(dataDir, ENDPOINTS_FILE), 'utf8')));
        return parsed.pid === child.pid ? parsed : undefined;
      } catch {
        return undefined;
      }
    },
    () => output.slice(-3000),
    60_000,
  );
  return { child, url: endpoints.httpUrl, output: () => output };
}

async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  children.delete(child);
}

async function killStorage(): Promise<void> {
  process.kill(azurite.pid, 'SIGKILL');
  await waitUntil(
    'Azurite to exit',
    async () => (isAlive(azurite.pid) ? undefined : true),
    () => azurite.output(),
    10_000,
  );
  azurite = await startStorage();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const hostLog = () => host?.output().slice(-4000) ?? '(no host)';

// ------------------------------------------------------------------------------------------------ batches

async function upload(batchId: string, images: string[], withGroundTruth = true): Promise<void> {
  const dir = path.join(work, `upload-${batchId}`);
  mkdirSync(dir, { recursive: true });
  for (const name of images) copyFileSync(path.join(work, 'images', name), path.join(dir, name));
  const gt = withGroundTruth ? ['--gt', path.join(work, 'gt')] : [];
  assert.equal(await runUpload([dir, '--batch', batchId, ...gt], quiet, env), 0);
}

async function finalCount(batchId: string): Promise<number> {
  const [labeled, failed] = await Promise.all([runtime.labels.count(batchId, 'labeled'), runtime.labels.count(batchId, 'failed')]);
  return labeled + failed;
}

async function documents(batchId: string): Promise<LabelDocument[]> {
  const docs: LabelDocument[] = [];
  for await (const page of runtime.labels.listBatch(batchId)) docs.push(...page);
  return docs;
}

/** Waits for the batch to be evaluated, then checks every image and the report; records the matrix row. */
async function settle(fault: string, kills: string, batchId: string, images: string[], eventsBefore: Record<string, number>) {
  let last: unknown;
  const batch = await waitUntil(
    `batch ${batchId} to be evaluated`,
    async () => {
      const doc = await runtime.batches.get(batchId).catch(() => undefined);
      last = doc;
      return doc?.status === 'evaluated' ? doc : undefined;
    },
    () => `${JSON.stringify(last)}\n${hostLog()}`,
    240_000,
  );
  const docs = await documents(batchId);
  const perName = new Map<string, number>();
  for (const doc of docs) perName.set(doc.name, (perName.get(doc.name) ?? 0) + 1);
  const final = docs.filter((d) => d.status === 'labeled' || (d.status === 'failed' && d.error?.message));
  const lost = images.filter((name) => !final.some((d) => d.name === name));
  const duplicates = [...perName.values()].reduce((sum, n) => sum + n - 1, 0) + docs.filter((d) => !images.includes(d.name)).length;
  const failed = docs.filter((d) => d.status === 'failed');
  const eventsAfter = countEvents();
  const recovery = RECOVERY_EVENTS.map((e) => [e, eventsAfter[e]! - (eventsBefore[e] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .map(([e, n]) => `${e} ${n}`)
    .join(', ');
  const state = `${batch.status}, ${batch.labeled} labeled`;
  matrix.push({
    fault,
    kills,
    images: images.length,
    lost: lost.length,
    duplicates,
    failed: failed.length,
    final: state,
    recovery: recovery || '-',
  });
  assert.deepEqual(lost, [], `images without a final document: ${lost.join(', ')}`);
  assert.equal(duplicates, 0);
  for (const doc of failed) assert.ok(doc.error!.message.length > 10, `${doc.name} failed without a reason: ${JSON.stringify(doc.error)}`);
  assert.equal(batch.labeled + batch.failed, images.length);
  const report = EvaluationReportSchema.parse(await (await fetch(`${host!.url}/api/reports/${batch.reportId}`)).json());
  // Covered: evaluated against its ground truth, or listed as having none; failed images are listed with the reason.
  const evaluated = new Set(report.diagnostics.perImage.map((i) => i.name));
  const listed = (problems: Array<{ file: string }>) => new Set(problems.map((p) => path.posix.basename(p.file)));
  const withoutGroundTruth = listed(report.inputs!.gt.problems);
  const failedListed = listed(report.inputs!.pred.problems);
  const uncovered = images.filter((name) => !evaluated.has(name) && !withoutGroundTruth.has(name));
  assert.deepEqual(uncovered, [], 'the report covers every image');
  assert.deepEqual(
    failed.map((d) => d.name).filter((name) => !failedListed.has(name)),
    [],
    'every failed image is listed with its reason',
  );
  return { batch, docs };
}

/** Resolves once `batchId` has at least `count` final documents (or its status is past labeling). */
async function whenFinal(batchId: string, count: number): Promise<void> {
  await waitUntil(
    `${count} final images in ${batchId}`,
    async () => ((await finalCount(batchId).catch(() => 0)) >= count ? true : undefined),
    hostLog,
    240_000,
  );
}

// ------------------------------------------------------------------------------------------------ the matrix

test('events dropped for some images and for the manifest: the sweep finds them and the batch completes', async () => {
  const before = countEvents();
  const images = names.slice(0, 10);
  // Uploaded while no host runs; then receipts say the blob trigger already handled 4 images and the manifest,
  // as when the events were delivered, counted done, and their work lost.
  await upload('dropped', images);
  const hostId = defaultHostId(repo);
  const hosts = runtime.clients.blobs.getContainerClient(HOSTS_CONTAINER);
  await hosts.createIfNotExists();
  for (const name of [...images.slice(0, 4), MANIFEST_NAME]) {
    const blobName = `dropped/${name}`;
    const props = await runtime.clients.blobs.getContainerClient(BLOB_CONTAINERS.images).getBlobClient(blobName).getProperties();
    const receipt = receiptBlobName(hostId, functionFullName('labelImageBlob'), {
      container: BLOB_CONTAINERS.images,
      name: blobName,
      etag: headerETag(props.etag!),
    });
    await hosts.getBlockBlobClient(receipt).upload(Buffer.alloc(0), 0);
  }
  // Also an image listed in a manifest that never arrives: it is failed as missing once the deadline passes.
  await upload('absent', names.slice(10, 13));
  const manifest = { images: [...names.slice(10, 13), 'never.jpg'], groundTruthPrefix: 'absent/' };
  await runtime.clients.blobs
    .getContainerClient(BLOB_CONTAINERS.images)
    .getBlockBlobClient(`absent/${MANIFEST_NAME}`)
    .uploadData(Buffer.from(JSON.stringify(manifest)));

  host = await startHost();
  await settle('events dropped (4 images + manifest)', '-', 'dropped', images, before);
  assert.match(host.output(), /"event":"batch-swept","batchId":"dropped"/);
});

test('overwrite races: a large image replaced by a normal one at several delays always ends with the new image labeled', async () => {
  const before = countEvents();
  const noise = Buffer.alloc(4200 * 4200 * 3);
  randomFillSync(noise);
  const large = await sharp(noise, { raw: { width: 4200, height: 4200, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  assert.ok(large.length > 10_000_000 && large.length < 20_000_000, `${large.length} bytes`);
  const delays = [0.4, 1.0, 1.8, 2.5];
  const raced = delays.map((_, i) => `race-${i}.jpg`);
  const container = runtime.clients.blobs.getContainerClient(BLOB_CONTAINERS.images);
  const replacement = (i: number) => readFileSync(path.join(work, 'images', names[20 + i]!));
  await Promise.all(
    delays.map(async (delay, i) => {
      await container.getBlockBlobClient(`race/${raced[i]}`).uploadData(large);
      await sleep(delay * 1000);
      await container.getBlockBlobClient(`race/${raced[i]}`).uploadData(replacement(i));
    }),
  );
  await container.getBlockBlobClient(`race/${MANIFEST_NAME}`).uploadData(Buffer.from(JSON.stringify({ images: raced })));
  const { docs } = await settle('overwrite race (0.4, 1.0, 1.8, 2.5 s)', '-', 'race', raced, before);
  for (const [i, name] of raced.entries()) {
    const doc = docs.find((d) => d.name === name)!;
    assert.equal(doc.status, 'labeled', `${name}: ${JSON.stringify(doc.error)}`);
    const current = await container.getBlobClient(`race/${name}`).getProperties();
    assert.equal(doc.blob.etag.replace(/"/g, ''), current.etag!.replace(/"/g, ''), `${name} describes the current version`);
    const served = FrameSchema.parse(await (await fetch(`${host!.url}/api/batches/race/labels/${name}`)).json());
    assert.equal(
      LabelProvenanceSchema.parse(served.provenance).image.sha256,
      sha256(replacement(i)),
      `${name}: the labels of the new image`,
    );
    const overlay = await fetch(`${host!.url}/api/batches/race/labels/${name}/overlay?format=jpeg`);
    assert.equal(overlay.status, 200, `${name}: overlay ${overlay.status} ${await overlay.text().catch(() => '')}`);
  }
});

test('a manifest image that never arrives: the batch shows it as missing, then fails it at the deadline and is evaluated', async () => {
  const before = countEvents();
  const listed = [...names.slice(10, 13), 'never.jpg'];
  const view = BatchViewSchema.parse(await (await fetch(`${host!.url}/api/batches/absent`)).json());
  if (view.status === 'labeling') {
    assert.deepEqual(view.missing, ['never.jpg']);
    assert.ok(view.deadline, 'a deadline is given');
  }
  await settle('image never arrives (deadline 30 s)', '-', 'absent', listed, before);
  const never = await runtime.labels.get('absent', 'never.jpg');
  assert.deepEqual([never?.status, never?.error?.kind], ['failed', 'missing']);
});

test('the host killed with SIGKILL early, half way and during the evaluation of a 60-image batch', async () => {
  const before = countEvents();
  await upload('host-kills', names);
  const kills: string[] = [];
  for (const point of [3, 30]) {
    await whenFinal('host-kills', point);
    kills.push(`after ${await finalCount('host-kills')} final`);
    await killHard(host!.child);
    host = await startHost();
  }
  const evaluating = await waitUntil(
    'the evaluation to start',
    async () => {
      const status = (await runtime.batches.get('host-kills'))?.status;
      return status === 'evaluating' || status === 'evaluated' ? status : undefined;
    },
    hostLog,
    240_000,
  );
  if (evaluating === 'evaluating') {
    await killHard(host!.child);
    kills.push('during the evaluation');
    host = await startHost();
  } else {
    kills.push('(the evaluation finished before the kill)');
  }
  await settle('host SIGKILL', kills.join('; '), 'host-kills', names, before);
});

test('Azurite killed with SIGKILL (and restarted on its data) twice during a 60-image batch', async () => {
  // Azure Storage keeps what it acknowledged; Azurite saves its metadata every 5 s, so a SIGKILL also rolls back the
  // last seconds of uploads. The inputs are given those seconds (with no host running) before the kills, so what is
  // lost is the app's own recent writes: receipts, queue messages, the manifest copy, Durable state, evaluation data.
  const before = countEvents();
  await killHard(host!.child);
  await upload('storage-kills', names);
  await sleep(6000);
  host = await startHost();
  const kills: string[] = [];
  for (const point of [3, 30]) {
    await whenFinal('storage-kills', point);
    kills.push(`after ${await finalCount('storage-kills')} final`);
    await killStorage();
  }
  await settle('Azurite SIGKILL', kills.join('; '), 'storage-kills', names, before);
});

test('the Cosmos DB stand-in killed with SIGKILL (and restarted on its snapshot) twice during a 60-image batch', async () => {
  const before = countEvents();
  await upload('database-kills', names);
  const kills: string[] = [];
  for (const point of [3, 30]) {
    await whenFinal('database-kills', point);
    kills.push(`after ${await finalCount('database-kills')} final`);
    await killHard(cosmos);
    cosmos = await startDatabase();
  }
  await settle('Cosmos DB stand-in SIGKILL', kills.join('; '), 'database-kills', names, before);
});
