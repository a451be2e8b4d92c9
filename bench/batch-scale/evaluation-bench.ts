/**
 * Goal 2 of bench/batch-scale.ts: the evaluateBatch orchestration on a batch of `size` images, run by the dev host
 * (dev/local-host/host/main.ts, the very code `npm start` runs) in a process of its own, so that its memory is
 * measured apart from the stand-ins and this script.
 *
 * The batch: `size` synthetic label documents written through the label store (as the trigger would have stored
 * them), their ground truth as per-image Scalabel files under groundtruth/{batchId}/ (the layout `autolabel upload
 * --gt` produces from a folder like the shared samples), then the manifest: the host's blob watcher applies it, the
 * batch is complete, the orchestration starts (plan, one match activity per chunk, report). Measured: wall time from
 * the manifest to `evaluated`, the host's resident set (idle before the manifest, peak by the end) and CPU time, the
 * chunks, and the estimated RU of every Cosmos DB request of the batch's database meanwhile (mostly the host's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forEachConcurrently } from '../../src/adapters/concurrency/limits';
import { ensureResources } from '../../src/app/clients';
import { createRuntime } from '../../src/app/runtime';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../../src/app/store/names';
import type { Frame } from '../../src/core/labels/schema';
import type { CosmosRequestRecord } from '../../dev/local-host/cosmos-request-log';
import { ENDPOINTS_FILE, LocalEndpointsSchema } from '../../dev/local-host/endpoints';
import type { LocalServices } from '../../dev/local-host/local-services';
import { tally, type Tally } from './request-tally';
import { syntheticImage, syntheticLabelDocument, syntheticName } from './synthetic-batch';

const repo = path.resolve(__dirname, '../..');
const NO_MODELS = JSON.stringify({ scene: { provider: 'none' }, detector: { provider: 'none' } });

export interface EvaluationOptions {
  services: LocalServices;
  sources: readonly Frame[];
  size: number;
  log: (line: string) => void;
  /** Give up after this long (default 30 minutes). */
  timeoutMs?: number;
}

export interface EvaluationFigures {
  size: number;
  seconds: number;
  chunks: number;
  idleRssMb: number;
  peakRssMb: number;
  /** The host's largest resident set seen in each stage of the orchestration (sampled every 250 ms). */
  rssByStage: Record<string, number>;
  hostCpuSeconds: number;
  cosmos: Tally;
  /** The RU by what asked for it (query text, or operation and document kind), largest first. */
  topRu: Array<{ what: string; requests: number; ru: number }>;
  ap: number;
}

export async function measureEvaluation(options: EvaluationOptions): Promise<EvaluationFigures> {
  const { services, sources, size, log } = options;
  const database = `bench-eval-${size}-${randomUUID().slice(0, 8)}`;
  const batchId = `eval-${size}`;
  const env = { ...services.env(), COSMOS_DATABASE: database, AUTOLABEL_CONFIG: NO_MODELS, AUTOLABEL_OFFLINE: '1' };
  const runtime = createRuntime({ env });
  const work = mkdtempSync(path.join(os.tmpdir(), 'autolabel-batch-scale-'));
  let host: ChildProcess | undefined;
  try {
    await ensureResources(runtime.clients, database);
    const { configHash } = await runtime.setup();
    const now = new Date().toISOString();
    log(`evaluation ${size}: writing ${size} label documents and ${size} ground-truth files`);
    const names = Array.from({ length: size }, (_, i) => syntheticName(i));
    const groundTruth = runtime.clients.blobs.getContainerClient(BLOB_CONTAINERS.groundTruth);
    await forEachConcurrently(names, 32, async (name, i) => {
      const image = syntheticImage(sources, i);
      await runtime.labels.upsert(syntheticLabelDocument(batchId, image, configHash, now));
      await groundTruth
        .getBlockBlobClient(`${batchId}/${name.replace(/\.jpg$/, '')}.json`)
        .uploadData(Buffer.from(JSON.stringify(image.gt)));
    });

    log(`evaluation ${size}: starting the dev host`);
    const started = await startHost(env, path.join(work, 'host'));
    host = started.child;
    const idleRssMb = rssMb(host.pid!, 'VmRSS');

    const records: CosmosRequestRecord[] = [];
    const stop = services.cosmos.onRequest((record) => {
      if (record.database === database) records.push(record);
    });
    const begin = performance.now();
    const manifest = Buffer.from(JSON.stringify({ images: names }));
    await runtime.clients.blobs
      .getContainerClient(BLOB_CONTAINERS.images)
      .getBlockBlobClient(`${batchId}/${MANIFEST_NAME}`)
      .uploadData(manifest);
    log(`evaluation ${size}: manifest uploaded, waiting for the evaluation`);
    const rssByStage: Record<string, number> = {};
    const sampler = setInterval(() => {
      void sampleStage(started.url, batchId).then((stage) => {
        const rss = rssMb(host!.pid!, 'VmRSS');
        if (!(rss <= (rssByStage[stage] ?? 0))) rssByStage[stage] = rss;
      });
    }, 250);
    const batch = await waitForEvaluation(started, batchId, options.timeoutMs ?? 30 * 60_000).finally(() => clearInterval(sampler));
    const seconds = (performance.now() - begin) / 1000;
    stop();

    const status = (await fetchJson(`${started.url}/runtime/webhooks/durabletask/instances/eval-${batchId}`)) as {
      output?: { chunks?: number };
    };
    const report = (await fetchJson(`${started.url}/api/reports/${batch.reportId}`, { headers: { accept: 'application/json' } })) as {
      detection: { stats: { AP: number } };
    };
    const usage = await stopHost(host, started.stderr);
    host = undefined;
    return {
      size,
      seconds,
      chunks: status.output?.chunks ?? NaN,
      idleRssMb,
      peakRssMb: usage.maxRssKb / 1024,
      rssByStage,
      hostCpuSeconds: (usage.userMs + usage.systemMs) / 1000,
      cosmos: tally(records),
      topRu: topRu(records),
      ap: report.detection.stats.AP,
    };
  } finally {
    if (host && host.exitCode === null) host.kill('SIGKILL');
    await runtime.close();
    rmSync(work, { recursive: true, force: true });
  }
}

async function startHost(env: NodeJS.ProcessEnv, dataDir: string): Promise<{ child: ChildProcess; url: string; stderr: string[] }> {
  const child = spawn(
    process.execPath,
    [
      '-r',
      path.join(__dirname, 'host-usage.cjs'),
      '--import',
      'tsx',
      path.join(repo, 'dev/local-host/host/main.ts'),
      '--external-services',
      '--port',
      '0',
      '--data-dir',
      dataDir,
    ],
    { cwd: repo, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  child.stdout!.resume();
  const ready = await new Promise<boolean>((resolve) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.includes('local host ready')) resolve(true);
    });
    child.once('exit', () => resolve(false));
  });
  if (!ready) throw new Error(`the dev host did not start:\n${stderr.join('').slice(-2000)}`);
  const endpoints = LocalEndpointsSchema.parse(JSON.parse(readFileSync(path.join(dataDir, ENDPOINTS_FILE), 'utf8')));
  return { child, url: endpoints.httpUrl, stderr };
}

async function stopHost(child: ChildProcess, stderr: string[]): Promise<{ maxRssKb: number; userMs: number; systemMs: number }> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
  const line = /host-usage (\{.*\})/.exec(stderr.join(''));
  if (!line) throw new Error(`the dev host did not report its usage:\n${stderr.join('').slice(-2000)}`);
  return JSON.parse(line[1]!) as { maxRssKb: number; userMs: number; systemMs: number };
}

/**
 * Waits on the orchestration's status (the Durable HTTP API: no Cosmos DB request, so the figures are the
 * evaluation's own; GET /api/batches/{id} would add a check of every image while the batch is labeling).
 */
async function waitForEvaluation(
  host: { child: ChildProcess; url: string; stderr: string[] },
  batchId: string,
  timeoutMs: number,
): Promise<{ reportId: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (host.child.exitCode !== null)
      throw new Error(`the dev host exited (${host.child.exitCode}):\n${host.stderr.join('').slice(-3000)}`);
    // A busy host can drop an idle keep-alive connection just as a poll reuses it: that poll is simply repeated.
    const response = await fetch(`${host.url}/runtime/webhooks/durabletask/instances/eval-${batchId}`).catch(() => undefined);
    const body = response?.ok
      ? ((await response.json()) as { runtimeStatus?: string; output?: { ok?: boolean; reportId?: string; error?: string } })
      : {};
    if (body.runtimeStatus === 'Completed' && body.output?.ok && body.output.reportId) return { reportId: body.output.reportId };
    if (body.runtimeStatus === 'Completed' || body.runtimeStatus === 'Failed' || body.runtimeStatus === 'Terminated')
      throw new Error(`the evaluation of ${batchId} ended ${body.runtimeStatus}: ${JSON.stringify(body.output)}`);
    if (Date.now() > deadline) throw new Error(`the evaluation of ${batchId} did not finish in ${timeoutMs} ms (${JSON.stringify(body)})`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** GET as JSON, tried again when the connection drops (see waitForEvaluation). */
async function fetchJson(url: string, init?: RequestInit): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url, init);
      if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
      return await response.json();
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** The orchestration's stage as its custom status says (planning, matching, reporting...), or `labeling` before. */
async function sampleStage(url: string, batchId: string): Promise<string> {
  try {
    const response = await fetch(`${url}/runtime/webhooks/durabletask/instances/eval-${batchId}`);
    if (!response.ok) return 'before the orchestration';
    const status = (await response.json()) as { customStatus?: { stage?: string } };
    return status.customStatus?.stage ?? 'starting';
  } catch {
    return 'unknown';
  }
}

/** A Linux process's resident set (VmRSS) or its peak (VmHWM) in MB, from /proc. */
function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]) / 1024;
  } catch {
    return NaN; // not Linux: the idle figure is left out
  }
}

function topRu(records: readonly CosmosRequestRecord[]): EvaluationFigures['topRu'] {
  const groups = new Map<string, { requests: number; ru: number }>();
  for (const r of records) {
    if (r.kind === 'metadata') continue;
    const what =
      r.kind === 'query'
        ? `query ${r.container}: ${(r.query ?? '').replace(/\s+/g, ' ').slice(0, 90)}`
        : `${r.kind} ${r.container}: ${[...new Set(r.documents.map((d) => d.kind ?? '?'))].join('+') || `status ${r.status}`}`;
    const group = groups.get(what) ?? { requests: 0, ru: 0 };
    group.requests++;
    group.ru += r.ru;
    groups.set(what, group);
  }
  return [...groups].map(([what, g]) => ({ what, ...g })).sort((a, b) => b.ru - a.ru);
}
