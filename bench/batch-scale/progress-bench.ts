/**
 * Goal 1 of bench/batch-scale.ts: what keeping a batch's progress costs per image once the batch is large.
 *
 * For a batch of `size` images: the manifest goes in through the blob trigger handler, `size - measured - 1` label
 * documents are written through the label store (the images already done), then `measured` images run through the
 * real blob trigger handler (labelImageBlobHandler: blob version check, label document write, progress), `concurrency`
 * at once, as several host instances would run them (host.json lets each take 8 blobs at once). The batch is still
 * one image short, so this is the steady state at that size. Then the last image (the transition labeling ->
 * labeled, and the evaluation start) and one re-delivery of a finished image are measured on their own.
 *
 * What is bypassed: the models. The labeling config names no providers (scene and detector `none`), so labelImage
 * only checks and decodes each image (a generated 320x180 JPEG) and writes a frame without boxes; everything around
 * it (storage, Cosmos DB, the progress) is the real code.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import sharp from 'sharp';
import { forEachConcurrently } from '../../src/adapters/concurrency/limits';
import { ensureResources } from '../../src/app/clients';
import { labelImageBlobHandler } from '../../src/app/functions/labelImageBlob';
import { createRuntime, setAppRuntime, type AppRuntime } from '../../src/app/runtime';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../../src/app/store/names';
import type { LocalServices } from '../../dev/local-host/local-services';
import { startDurableApi, type DurableApiFake } from '../../test/fakes/durable-api';
import { perImage, recordRequests, type Tally } from './request-tally';
import { syntheticImage, syntheticLabelDocument, syntheticName } from './synthetic-batch';
import type { Frame } from '../../src/core/labels/schema';

export interface ProgressOptions {
  services: LocalServices;
  sources: readonly Frame[];
  size: number;
  measured: number;
  concurrency: number;
  log: (line: string) => void;
}

export interface ProgressFigures {
  size: number;
  measured: number;
  concurrency: number;
  /** Per image, except wallSeconds and gaveUp (invocations that failed all the host's tries). */
  steady: ReturnType<typeof perImage> & { wallSeconds: number; hostRetries: number; gaveUp: number };
  last: Tally;
  redelivery: Tally;
  status: string;
  evaluationsStarted: number;
  labeled: number;
}

/** The Functions host's tries of a blob trigger invocation (it runs a failed one again, five times in all). */
const HOST_TRIES = 5;

/** Labeling config without models: the handler decodes the image and stores a frame without boxes. */
const NO_MODELS = JSON.stringify({ scene: { provider: 'none' }, detector: { provider: 'none' } });

export async function measureProgress(options: ProgressOptions): Promise<ProgressFigures> {
  const { services, size, measured, concurrency, log } = options;
  if (measured + 1 >= size) throw new Error(`--measure (${measured}) must leave room in a batch of ${size}`);
  const database = `bench-progress-${size}-${randomUUID().slice(0, 8)}`;
  const runtime = createRuntime({
    env: { ...services.env(), COSMOS_DATABASE: database, AUTOLABEL_CONFIG: NO_MODELS, AUTOLABEL_OFFLINE: '1' },
  });
  await ensureResources(runtime.clients, database);
  await setAppRuntime(runtime);
  const durable = await startDurableApi();
  try {
    const batchId = `scale-${size}`;
    const names = Array.from({ length: size }, (_, i) => syntheticName(i));
    let hostRetries = 0;
    let gaveUp = 0;
    /** One blob event, with the host's retries: an invocation that throws is run again, five tries in all. */
    const deliver = async (name: string, bytes: Uint8Array, etag: string) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await labelImageBlobHandler(Buffer.from(bytes), context(durable, batchId, name, etag));
        } catch (error) {
          if (attempt >= HOST_TRIES) {
            gaveUp++;
            log(`progress ${size}: ${name} failed ${HOST_TRIES} times, the host gives up: ${(error as Error).message}`);
            return undefined;
          }
          hostRetries++;
        }
      }
    };

    const manifest = Buffer.from(JSON.stringify({ images: names }));
    await deliver(MANIFEST_NAME, manifest, await putBlob(runtime, batchId, MANIFEST_NAME, manifest));

    const done = size - measured - 1;
    log(`progress ${size}: writing ${done} finished label documents`);
    const { configHash } = await runtime.setup();
    const now = new Date().toISOString();
    await forEachConcurrently(names.slice(0, done), 32, async (name, i) => {
      await runtime.labels.upsert(syntheticLabelDocument(batchId, syntheticImage(options.sources, i), configHash, now));
    });

    const image = await sharp({ create: { width: 320, height: 180, channels: 3, background: { r: 90, g: 120, b: 150 } } })
      .jpeg()
      .toBuffer();
    const pending = names.slice(done);
    const etags = new Map<string, string>();
    await forEachConcurrently(pending, 16, async (name) => {
      etags.set(name, await putBlob(runtime, batchId, name, image));
    });

    log(`progress ${size}: ${measured} images through the blob trigger handler, ${concurrency} at once`);
    const steadyNames = pending.slice(0, measured);
    const stopSteady = recordRequests(services.cosmos, database);
    const started = performance.now();
    await forEachConcurrently(steadyNames, concurrency, async (name) => {
      await deliver(name, image, etags.get(name)!);
    });
    const wallSeconds = (performance.now() - started) / 1000;
    const steady = stopSteady();
    const steadyRetries = { hostRetries, gaveUp };

    const lastName = pending.at(-1)!;
    const stopLast = recordRequests(services.cosmos, database);
    await deliver(lastName, image, etags.get(lastName)!);
    const last = stopLast();

    const stopRedelivery = recordRequests(services.cosmos, database);
    await deliver(steadyNames[0]!, image, etags.get(steadyNames[0]!)!);
    const redelivery = stopRedelivery();

    const batch = await runtime.batches.get(batchId);
    return {
      size,
      measured,
      concurrency,
      steady: {
        ...perImage(steady, measured),
        wallSeconds,
        hostRetries: steadyRetries.hostRetries / measured,
        gaveUp: steadyRetries.gaveUp,
      },
      last,
      redelivery,
      status: batch?.status ?? 'missing',
      evaluationsStarted: durable.started.length,
      labeled: await runtime.labels.count(batchId, 'labeled'),
    };
  } finally {
    await durable.close();
    await setAppRuntime(undefined);
  }
}

async function putBlob(runtime: AppRuntime, batchId: string, name: string, bytes: Uint8Array): Promise<string> {
  const blob = runtime.clients.blobs.getContainerClient(BLOB_CONTAINERS.images).getBlockBlobClient(`${batchId}/${name}`);
  const { etag } = await blob.uploadData(Buffer.from(bytes));
  return etag!;
}

/** An invocation context as the host builds it for the blob trigger, with a durableClient input bound to `durable`. */
function context(durable: DurableApiFake, batchId: string, name: string, etag: string): InvocationContext {
  const durableClient = df.input.durableClient();
  const ctx = new InvocationContext({
    functionName: 'labelImageBlob',
    invocationId: randomUUID(),
    triggerMetadata: { batchId, name, blobTrigger: `images/${batchId}/${name}`, properties: { eTag: etag } },
    logHandler: () => undefined,
    options: { trigger: { type: 'blobTrigger', name: 'blob' }, extraInputs: [durableClient], extraOutputs: [] },
  });
  ctx.extraInputs.set(durableClient, durable.clientData());
  return ctx;
}
