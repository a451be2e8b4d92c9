/**
 * The host process killed (SIGKILL) in the middle of a batch and started again: no image lost, no duplicate
 * document, the batch still completes and is evaluated once. Azurite and the Cosmos DB stand-in run in the test
 * process (in Azure they are services that outlive the Functions host); the host runs as a child process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ensureResources } from '../src/app/clients';
import { createRuntime, type AppRuntime } from '../src/app/runtime';
import { runUpload } from '../src/cli/upload-command';
import { ENDPOINTS_FILE, LocalEndpointsSchema } from '../dev/local-host/endpoints';
import { startLocalServices, type LocalServices } from '../dev/local-host/local-services';
import { appEnv, waitUntil } from './helpers/app';
import { sampleImagesDir } from './helpers/shared';

const BATCH = 'restart';
const repo = path.resolve(__dirname, '..');
const names = readdirSync(sampleImagesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort()
  .slice(20, 40);
let services: LocalServices;
let runtime: AppRuntime;
let env: NodeJS.ProcessEnv;
let work: string;
const children: ChildProcess[] = [];

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'autolabel-restart-'));
  mkdirSync(path.join(work, 'images'));
  for (const name of names) copyFileSync(path.join(sampleImagesDir, name), path.join(work, 'images', name));
  services = await startLocalServices();
  env = appEnv(services);
  runtime = createRuntime({ env });
  await ensureResources(runtime.clients, runtime.settings.cosmos.database);
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await runtime?.close();
  await services?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Start the host as `npm start` does, on services that are already running; resolves once it serves HTTP. */
async function startHostProcess(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const dataDir = path.join(work, 'host');
  rmSync(path.join(dataDir, ENDPOINTS_FILE), { force: true });
  let output = '';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'dev/local-host/host/main.ts', '--external-services', '--port', '0', '--data-dir', dataDir],
    {
      cwd: repo,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`host exited with ${child.exitCode}:\n${output}`);
    try {
      const endpoints = LocalEndpointsSchema.parse(JSON.parse(readFileSync(path.join(dataDir, ENDPOINTS_FILE), 'utf8')));
      if (endpoints.pid === child.pid) return { child, url: endpoints.httpUrl, output: () => output };
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`host did not start:\n${output}`);
}

test('a host killed mid-batch and restarted loses no image, writes no duplicate and evaluates the batch once', async () => {
  const first = await startHostProcess();
  const code = await runUpload([path.join(work, 'images'), '--batch', BATCH], { stdout: () => undefined, stderr: () => undefined }, env);
  assert.equal(code, 0);
  const labeledBeforeKill = await waitUntil(
    'a few images to be labeled',
    async () => {
      const n = await runtime.labels.count(BATCH, 'labeled');
      return n >= 3 ? n : undefined;
    },
    () => first.output().slice(-3000),
  );
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  const stillMissing = names.length - (await runtime.labels.count(BATCH, 'labeled'));
  assert.ok(stillMissing > 0, `the kill came too late to test anything (${labeledBeforeKill} labeled)`);

  const second = await startHostProcess();
  const batch = await waitUntil(
    'the batch to be evaluated after the restart',
    async () => {
      const doc = await runtime.batches.get(BATCH);
      return doc?.status === 'evaluated' ? doc : undefined;
    },
    () => second.output().slice(-3000),
  );
  assert.equal(batch.labeled, names.length);
  assert.equal(batch.failed, 0);
  const docs: string[] = [];
  for await (const page of runtime.labels.listBatch(BATCH)) docs.push(...page.map((d) => d.name));
  assert.deepEqual(docs.sort(), [...names].sort(), 'one document per image, none missing, none duplicated');
  const { resources: reports } = await runtime.clients.containers.reports.items
    .query({ query: 'SELECT c.id FROM c WHERE c.batchId = @b', parameters: [{ name: '@b', value: BATCH }] })
    .fetchAll();
  assert.equal(reports.length, 1, 'evaluated once');
  assert.equal(reports[0]!.id, batch.reportId);
  second.child.kill('SIGTERM');
  await new Promise((resolve) => second.child.once('exit', resolve));
});
