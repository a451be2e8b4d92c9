/**
 * The Functions app in tests: real Azurite + Cosmos stand-in (useLocalServices), the app runtime built from their
 * settings with the local models, and a recording implementation of the Durable client interface for handler tests
 * that only need to see what would be started.
 */
// First: the app's functions register with the local host's runtime (registeredFunction below).
import '../../dev/local-host/runtime-installed';
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { ensureResources } from '../../src/app/clients';
import { createRuntime, setAppRuntime, type AppRuntime } from '../../src/app/runtime';
import { BLOB_CONTAINERS, QUEUES } from '../../src/app/store/names';
import { labelImageBlobHandler } from '../../src/app/functions/labelImageBlob';
import { startLocalServices, type LocalServices } from '../../dev/local-host/local-services';
import { loadFunctions, type RegisteredFunction } from '../../dev/local-host/functions-runtime';
import { startDurableApi, type DurableApiFake } from '../fakes/durable-api';
import { modelsDir } from './shared';

export { modelsDir };

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

let durableApi: DurableApiFake | undefined;

/**
 * A Durable API stand-in for the file's tests (test/fakes/durable-api.ts): every context `invocationContext` makes
 * then carries a durableClient input bound to it, so `df.getClient(context)` in the app talks to it. The getter
 * resets what it recorded (a fresh task hub per test).
 */
export function useDurableApi(): () => DurableApiFake {
  before(async () => {
    durableApi = await startDurableApi();
  });
  after(async () => {
    await durableApi?.close();
    durableApi = undefined;
  });
  return () => {
    if (!durableApi) throw new Error('the Durable API stand-in is not running (use it inside tests)');
    durableApi.reset();
    return durableApi;
  };
}

/** An invocation context like the host's, with its log lines kept. */
export function invocationContext(
  functionName: string,
  triggerMetadata: Record<string, unknown> = {},
  lines: string[] = [],
): InvocationContext & { lines: string[] } {
  const durableClient = df.input.durableClient();
  const context = new InvocationContext({
    functionName,
    invocationId: randomUUID(),
    triggerMetadata,
    logHandler: (level, ...args) => lines.push(`${level}: ${args.map(String).join(' ')}`),
    options: { trigger: { type: 'test', name: 'trigger' }, extraInputs: durableApi ? [durableClient] : [], extraOutputs: [] },
  });
  if (durableApi) context.extraInputs.set(durableClient, durableApi.clientData());
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

/** A function as the app registered it (name, trigger binding, callback with its redaction wrapper). */
export function registeredFunction(name: string): RegisteredFunction {
  const fn = loadFunctions(require.resolve('../../src/app/functions')).find((f) => f.name === name);
  if (!fn) throw new Error(`no function ${name} registered`);
  return fn;
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
