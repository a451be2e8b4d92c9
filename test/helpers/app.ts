/**
 * The Functions app in tests: real Azurite + Cosmos stand-in (useLocalServices), the app runtime built from their
 * settings with the local models, and a recording implementation of the Durable client interface for handler tests
 * that only need to see what would be started.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before } from 'node:test';
import { HttpResponse, InvocationContext, type HttpRequest } from '@azure/functions';
import { ensureResources } from '../../src/app/clients';
import type { DurableClientLike, InstanceStatus } from '../../src/app/durable';
import { createRuntime, setAppRuntime, type AppRuntime } from '../../src/app/runtime';
import { BLOB_CONTAINERS, QUEUES } from '../../src/app/store/names';
import { labelImageBlobHandler } from '../../src/app/functions/labelImageBlob';
import { startLocalServices, type LocalServices } from '../../dev/local-host/local-services';
import { sharedDir } from './shared';

export const modelsDir = path.join(sharedDir, 'models');

/** Environment of the app against these services: local providers, one model worker, no downloads. */
export function appEnv(services: LocalServices, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...services.env(),
    AUTOLABEL_MODELS_DIR: modelsDir,
    AUTOLABEL_LOCAL_WORKERS: '1',
    AUTOLABEL_OFFLINE: '1',
    COSMOS_DATABASE: `test-${randomUUID().slice(0, 8)}`,
    ...extra,
  };
}

/** A runtime per test file (fresh database), installed as the process-wide one the registered functions use. */
export function useAppRuntime(extra: NodeJS.ProcessEnv | (() => NodeJS.ProcessEnv | Promise<NodeJS.ProcessEnv>) = {}): {
  services: () => LocalServices;
  runtime: () => AppRuntime;
} {
  // One hook does both: node 20 runs a file's top-level before() hooks concurrently.
  let started: LocalServices | undefined;
  let runtime: AppRuntime | undefined;
  const services = () => {
    if (!started) throw new Error('local services are not running (use them inside tests)');
    return started;
  };
  before(async () => {
    started = await startLocalServices();
    runtime = createRuntime({ env: appEnv(services(), typeof extra === 'function' ? await extra() : extra) });
    await ensureResources(runtime.clients, runtime.settings.cosmos.database);
    await setAppRuntime(runtime);
  });
  after(async () => {
    await setAppRuntime(undefined);
    await started?.stop();
  });
  return {
    services,
    runtime: () => {
      if (!runtime) throw new Error('the app runtime is not ready (use it inside tests)');
      return runtime;
    },
  };
}

/** Records what the app asks of Durable; instances "exist" once started (status given by `statuses`). */
export class RecordingDurableClient implements DurableClientLike {
  readonly started: Array<{ name: string; instanceId: string; input: unknown }> = [];
  readonly statuses = new Map<string, string>();

  async startNew(name: string, options: { instanceId?: string; input?: unknown } = {}): Promise<string> {
    const instanceId = options.instanceId ?? randomUUID();
    this.started.push({ name, instanceId, input: options.input });
    this.statuses.set(instanceId, 'Pending');
    return instanceId;
  }

  async getStatus(instanceId: string): Promise<InstanceStatus> {
    const runtimeStatus = this.statuses.get(instanceId);
    if (!runtimeStatus) throw new Error(`DurableClient error: Durable Functions extension replied with HTTP 404 response (${instanceId})`);
    return { instanceId, runtimeStatus };
  }

  createCheckStatusResponse(_request: HttpRequest | undefined, instanceId: string): HttpResponse {
    return new HttpResponse({ status: 202, jsonBody: { id: instanceId } });
  }
}

/** An invocation context like the host's, with its log lines kept. */
export function invocationContext(
  functionName: string,
  triggerMetadata: Record<string, unknown> = {},
): InvocationContext & { lines: string[] } {
  const lines: string[] = [];
  const context = new InvocationContext({
    functionName,
    invocationId: randomUUID(),
    triggerMetadata,
    logHandler: (level, ...args) => lines.push(`${level}: ${args.map(String).join(' ')}`),
  });
  return Object.assign(context, { lines });
}

/** Polls `probe` until it returns a value; on timeout the error ends with `context()` (e.g. the host's last lines). */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  context: () => string,
  timeoutMs = 180_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}\n${context()}`);
}

/** Puts a blob into `images/{batchId}/{name}` (a new version each time) and returns its ETag as the trigger carries it. */
export async function putImageBlob(runtime: AppRuntime, batchId: string, name: string, bytes: Uint8Array): Promise<string> {
  const blob = runtime.clients.blobs.getContainerClient(BLOB_CONTAINERS.images).getBlockBlobClient(`${batchId}/${name}`);
  const { etag } = await blob.uploadData(Buffer.from(bytes));
  return etag!;
}

/** One blob trigger invocation for one version (Event Grid may deliver the same version more than once). */
export function blobTriggerDelivery(batchId: string, name: string, bytes: Uint8Array, etag: string) {
  const context = invocationContext('labelImageBlob', {
    batchId,
    name,
    blobTrigger: `images/${batchId}/${name}`,
    properties: { eTag: etag },
  });
  return { context, run: () => labelImageBlobHandler(Buffer.from(bytes), context) };
}

/** The blob is uploaded, then its event delivered (call `run`). */
export async function arriveBlob(runtime: AppRuntime, batchId: string, name: string, bytes: Uint8Array) {
  const etag = await putImageBlob(runtime, batchId, name, bytes);
  return { etag, ...blobTriggerDelivery(batchId, name, bytes, etag) };
}

/** Takes every message off the label-requests queue (as the queue trigger would receive them, decoded). */
export async function takeLabelRequests(runtime: AppRuntime): Promise<unknown[]> {
  const queue = runtime.clients.queues!.getQueueClient(QUEUES.labelRequests);
  await queue.createIfNotExists();
  const taken: unknown[] = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (!receivedMessageItems.length) return taken;
    for (const message of receivedMessageItems) {
      taken.push(JSON.parse(Buffer.from(message.messageText, 'base64').toString('utf8')));
      await queue.deleteMessage(message.messageId, message.popReceipt);
    }
  }
}
