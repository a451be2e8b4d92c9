/**
 * What the handlers share within one Functions worker process: settings (parsed once), SDK clients, stores and the
 * labeling setup (providers and local models are built once and reused by every invocation).
 */
import { createLabelingSetup } from '../adapters/providers/factory';
import type { LabelingSetup } from '../core/pipeline/label-image';
import { createClients, type AppClients } from './clients';
import { loadSettings, type AppSettings } from './settings';
import { BatchStore } from './store/batch-store';
import { BlobStore } from './store/blob-store';
import { LabelRequestQueue } from './store/label-request-queue';
import { LabelStore } from './store/label-store';
import { ReportStore } from './store/report-store';
import { ReviewStore } from './store/review-store';

export interface AppRuntime {
  settings: AppSettings;
  clients: AppClients;
  blobs: BlobStore;
  labels: LabelStore;
  batches: BatchStore;
  reports: ReportStore;
  reviews: ReviewStore;
  labelRequests: LabelRequestQueue;
  /** The labeling providers, built on first use. */
  setup(): Promise<LabelingSetup>;
  now(): Date;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

export function createRuntime(options: RuntimeOptions = {}): AppRuntime {
  const env = options.env ?? process.env;
  const settings = loadSettings(env);
  const clients = createClients(settings);
  let setupPromise: Promise<LabelingSetup> | undefined;
  const setup = () => {
    if (!setupPromise) {
      setupPromise = createLabelingSetup(settings.labeling, {
        ...(settings.modelsDir ? { modelsDir: settings.modelsDir } : {}),
        env,
        // A scene model trained with `autolabel train-scene` may live in the app's storage: scene.model "blob:<container>/<name>".
        readBlob: async (ref) => {
          const slash = ref.indexOf('/');
          if (slash < 1) throw new Error(`"blob:${ref}" is not blob:<container>/<name>`);
          return clients.blobs
            .getContainerClient(ref.slice(0, slash))
            .getBlobClient(ref.slice(slash + 1))
            .downloadToBuffer();
        },
      });
      // A failed start (e.g. a model file missing) is retried by the next invocation, not cached.
      setupPromise.catch(() => {
        setupPromise = undefined;
      });
    }
    return setupPromise;
  };
  return {
    settings,
    clients,
    blobs: new BlobStore(clients.blobs),
    labels: new LabelStore(clients.containers.labels),
    batches: new BatchStore(clients.containers.batches),
    reports: new ReportStore(clients.containers.reports),
    reviews: new ReviewStore(clients.containers.reviews),
    labelRequests: new LabelRequestQueue(clients.queues),
    setup,
    now: options.now ?? (() => new Date()),
    async close() {
      const pending = setupPromise;
      setupPromise = undefined;
      const built = await pending?.catch(() => undefined);
      await Promise.all([closeProvider(built?.scene), closeProvider(built?.detector)]);
      clients.dispose();
    },
  };
}

async function closeProvider(provider: unknown): Promise<void> {
  const close = (provider as { close?: () => Promise<void> } | undefined)?.close;
  if (close) await close.call(provider);
}

let current: AppRuntime | undefined;

/** The process-wide runtime the registered functions use (created from process.env on first call). */
export function appRuntime(): AppRuntime {
  current ??= createRuntime();
  return current;
}

/** Replace (tests, the local host) or drop the process-wide runtime. The previous one is closed. */
export async function setAppRuntime(runtime: AppRuntime | undefined): Promise<void> {
  const previous = current;
  current = runtime;
  if (previous && previous !== runtime) await previous.close();
}
