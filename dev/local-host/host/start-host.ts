/**
 * The local host: the app's functions, as they registered with @azure/functions (functions-runtime.ts), wired to
 * real local components instead of the Functions host. Blob trigger -> a watcher of the `images` container
 * (receipts, retries, poison queue); queue trigger -> a poller; HTTP -> a server on 127.0.0.1:7071 with the same
 * routes; Durable -> the in-process runner (durable-functions' own replay, state in Azurite, the extension's HTTP
 * API for the client); timer -> croner schedules. Azurite and the Cosmos DB stand-in are started here too unless
 * told to use running ones. The app is configured through its environment, as in Azure: this process's env.
 */
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Timer } from '@azure/functions';
import { createRuntime, type AppRuntime } from '../../../src/app/runtime';
import { ensureResources } from '../../../src/app/clients';
import { SETTING_NAMES } from '../../../src/app/settings';
import {
  functionsWithTrigger,
  invocationContextFor,
  loadFunctions,
  runTerminateHooks,
  type RegisteredFunction,
} from '../functions-runtime';
import { findFreePorts } from '../azurite';
import { startBlobTrigger, type BlobTrigger } from '../blob-trigger';
import {
  createBlobInstanceStore,
  createLocalDurable,
  type ActivityCallback,
  type LocalDurable,
  type OrchestratorCallback,
} from '../durable';
import { DEFAULT_LOCAL_DATA_DIR, ENDPOINTS_FILE, type LocalEndpoints } from '../endpoints';
import { startHttpHost, type HttpHost } from '../http';
import { startLocalServices, type LocalServices } from '../local-services';
import { startQueueTriggers, type QueueTriggerHandle } from './queue-trigger';
import { startTimerTriggers, type TimerTriggerHandle } from './timer-trigger';

export interface LocalHostOptions {
  /** Where Azurite's files, the Cosmos snapshot and endpoints.json live; default .autolabel-local. */
  dataDir?: string;
  /** `start` (default): start Azurite and the Cosmos stand-in; `external`: use AzureWebJobsStorage/COSMOS_* from env. */
  services?: 'start' | 'external';
  /** HTTP port (default 7071; 0: a free one). */
  port?: number;
  /** Fixed service ports (default: Azurite's 10000-10002 and the Cosmos emulator's 8081; 0: free ones). */
  servicePorts?: { blob?: number; queue?: number; table?: number; cosmos?: number };
  env?: NodeJS.ProcessEnv;
  blobPollIntervalMs?: number;
  /** Delay before blob retry n (tests shorten it). */
  blobRetryDelayMs?: (attempt: number) => number;
  log?: (line: string) => void;
}

export interface LocalHost {
  url: string;
  env: NodeJS.ProcessEnv;
  /** The host's own clients (storage, Cosmos DB) over the same services as the app. */
  runtime: AppRuntime;
  durable: LocalDurable;
  blobTrigger: BlobTrigger;
  timers: TimerTriggerHandle;
  services: LocalServices | undefined;
  close(): Promise<void>;
}

export async function startLocalHost(options: LocalHostOptions = {}): Promise<LocalHost> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dataDir = path.resolve(options.dataDir ?? DEFAULT_LOCAL_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const cleanup: Array<() => Promise<void> | void> = [];
  const closeAll = async () => {
    for (const step of cleanup.reverse())
      await Promise.resolve(step()).catch((error: unknown) => log(`shutdown: ${(error as Error).message}`));
  };
  try {
    let env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
    let services: LocalServices | undefined;
    if (options.services !== 'external') {
      const ports = options.servicePorts ?? {};
      services = await startLocalServices({
        dataDir,
        azurite: { ports: { blob: ports.blob ?? 10000, queue: ports.queue ?? 10001, table: ports.table ?? 10002 } },
        cosmos: { port: ports.cosmos ?? 8081, snapshotIntervalMs: 1000 },
      });
      cleanup.push(() => services!.stop());
      env = { ...env, ...services.env() };
      log(`storage: Azurite ${services.azurite.blobUrl}; Cosmos DB stand-in ${services.cosmos.endpoint} (data in ${dataDir})`);
    }

    const port = options.port === 0 ? (await findFreePorts(1))[0]! : (options.port ?? 7071);
    const baseUrl = `http://127.0.0.1:${port}`;
    // The app reads its settings from the environment, as the worker's process does in Azure. WEBSITE_HOSTNAME is
    // what the Functions host sets: with it, durable-functions keeps the client links on this host's own port.
    Object.assign(process.env, env, { WEBSITE_HOSTNAME: process.env.WEBSITE_HOSTNAME ?? `127.0.0.1:${port}` });
    const runtime = createRuntime({ env });
    await ensureResources(runtime.clients, runtime.settings.cosmos.database);
    cleanup.push(() => runtime.close());
    const functions = loadFunctions(require.resolve('../../../src/app/functions'));
    cleanup.push(() => runTerminateHooks());

    const callbacks = <T>(type: string) => Object.fromEntries(functionsWithTrigger(functions, type).map((f) => [f.name, f.callback as T]));
    const durable = createLocalDurable({
      orchestrations: callbacks<OrchestratorCallback>('orchestrationTrigger'),
      activities: callbacks<ActivityCallback>('activityTrigger'),
      store: createBlobInstanceStore({ connection: runtime.clients.blobs }),
      baseUrl,
      log: (line) => log(`[durable] ${line}`),
    });
    cleanup.push(() => durable.close());
    /** Invokes a function as the worker does: its callback with the trigger input and a fresh InvocationContext. */
    const invoke = (fn: RegisteredFunction, input: unknown, triggerMetadata: Record<string, unknown> = {}, invocationId?: string) =>
      Promise.resolve(
        fn.callback(
          input,
          invocationContextFor(fn, { triggerMetadata, log, durableClient: durable.clientData, ...(invocationId ? { invocationId } : {}) }),
        ),
      );

    const http: HttpHost = await startHttpHost({
      functions: functionsWithTrigger(functions, 'httpTrigger').map((fn) => ({
        name: fn.name,
        // What the v4 library registers when `methods` is left out.
        methods: (fn.trigger.methods as string[] | undefined) ?? ['GET', 'POST'],
        route: String(fn.trigger.route ?? fn.name),
        handler: (request, invocationId) => invoke(fn, request, {}, invocationId),
      })),
      port,
      // Images up to the labeling limit, plus room for multipart/base64 overhead a client might add.
      maxRequestBytes: runtime.settings.labeling.limits.maxBytes + 1024 * 1024,
      extraRoutes: durable.routes,
      log,
    });
    cleanup.push(() => http.close());

    if (!runtime.clients.queues) throw new Error('the local host needs a storage connection string with a queue endpoint');
    const blobTrigger = startBlobTrigger({
      blobService: runtime.clients.blobs,
      queueService: runtime.clients.queues,
      functions: functionsWithTrigger(functions, 'blobTrigger').map((fn) => ({
        name: fn.name,
        path: String(fn.trigger.path),
        invoke: (blob, triggerMetadata) => invoke(fn, blob, triggerMetadata),
      })),
      ...(options.blobPollIntervalMs !== undefined ? { pollIntervalMs: options.blobPollIntervalMs } : {}),
      ...(options.blobRetryDelayMs ? { retryDelayMs: options.blobRetryDelayMs } : {}),
      log,
    });
    cleanup.push(() => blobTrigger.close());
    const queues: QueueTriggerHandle = startQueueTriggers({
      queues: runtime.clients.queues,
      functions: functionsWithTrigger(functions, 'queueTrigger').map((fn) => ({
        name: fn.name,
        queueName: String(fn.trigger.queueName),
        invoke: (message, triggerMetadata) => invoke(fn, message, triggerMetadata),
      })),
      log,
    });
    cleanup.push(() => queues.close());
    const timers = startTimerTriggers({
      functions: functionsWithTrigger(functions, 'timerTrigger').map((fn) => ({
        name: fn.name,
        schedule: String(fn.trigger.schedule),
        invoke: (timer: Timer) => invoke(fn, timer),
      })),
      env,
      defaults: {
        [SETTING_NAMES.nightlySchedule]: runtime.settings.nightly.schedule,
        [SETTING_NAMES.batchSweepSchedule]: runtime.settings.sweep.schedule,
      },
      log,
    });
    cleanup.push(() => timers.close());
    await durable.resume();

    const endpointsFile = path.join(dataDir, ENDPOINTS_FILE);
    const endpoints: LocalEndpoints = {
      AzureWebJobsStorage: String(env.AzureWebJobsStorage),
      COSMOS_ENDPOINT: String(env.COSMOS_ENDPOINT),
      COSMOS_KEY: String(env.COSMOS_KEY ?? ''),
      httpUrl: baseUrl,
      pid: process.pid,
    };
    writeFileSync(endpointsFile, JSON.stringify(endpoints, null, 1));
    cleanup.push(() => rmSync(endpointsFile, { force: true }));

    let closing: Promise<void> | undefined;
    return {
      url: baseUrl,
      env,
      runtime,
      durable,
      blobTrigger,
      timers,
      services,
      close: () => (closing ??= closeAll()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
