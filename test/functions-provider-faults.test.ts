/**
 * Remote-provider faults through the blob trigger, as the host runs it: the app labels with the `openai` scene
 * provider (the real openai SDK) against a local server in the chat-completions wire format, and the local blob
 * trigger (receipts, retries, poison queue) delivers the blobs from real Azurite.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { QueueServiceClient } from '@azure/storage-queue';
import { BLOB_CONTAINERS } from '../src/app/store/names';
import { startBlobTrigger } from '../dev/local-host/blob-trigger';
import { sceneAnswer, startChatServer, type ChatServer, type ChatStep } from './fakes/openai-chat-server';
import { invocationContext, registeredFunction, useAppRuntime, useDurableApi } from './helpers/app';
import { sampleImagesDir } from './helpers/shared';

let server: ChatServer | undefined;
let respond: (index: number) => ChatStep = () => ({
  content: sceneAnswer('rainy', 'night', 'highway', { weather: 0.7, timeofday: 0.9, scene: 0.8 }),
});

const app = useAppRuntime(async () => {
  server = await startChatServer((_request, index) => respond(index), { path: '/v1/chat/completions' });
  return {
    AUTOLABEL_CONFIG: JSON.stringify({
      scene: { provider: 'openai', baseURL: `${server.url}/v1`, model: 'llava', auth: { type: 'none' }, timeoutMs: 2000, maxRetries: 1 },
      detector: { provider: 'none' },
    }),
  };
});
const durableApi = useDurableApi();
after(async () => {
  await server?.close();
});

const name = readdirSync(sampleImagesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort()[7]!;
const image = readFileSync(path.join(sampleImagesDir, name));

async function runTrigger(batchId: string) {
  const runtime = app.runtime();
  await runtime.clients.blobs.getContainerClient(BLOB_CONTAINERS.images).getBlockBlobClient(`${batchId}/${name}`).uploadData(image);
  const lines: string[] = [];
  const trigger = startBlobTrigger({
    blobService: runtime.clients.blobs,
    queueService: runtime.clients.queues as QueueServiceClient,
    functions: [
      {
        name: 'labelImageBlob',
        path: String(registeredFunction('labelImageBlob').trigger.path),
        invoke: (blob, triggerMetadata) =>
          Promise.resolve(registeredFunction('labelImageBlob').callback(blob, invocationContext('labelImageBlob', triggerMetadata, lines))),
      },
    ],
    hostId: 'faults', // one host: blobs of earlier tests have their receipts
    pollIntervalMs: 100,
    retryDelayMs: () => 50,
    log: (line) => lines.push(line),
  });
  try {
    await trigger.idle();
    return { stats: trigger.stats(), lines };
  } finally {
    await trigger.close();
  }
}

test('a provider answering 429 with Retry-After, then succeeding: the image is labeled on the first delivery', async () => {
  durableApi();
  const before = server!.served.errors;
  const first = server!.requests.length;
  respond = (index) =>
    index === first
      ? { error: { status: 429, code: 'rate_limit_exceeded', message: 'Rate limit reached' }, headers: { 'retry-after': '1' } }
      : { content: sceneAnswer('rainy', 'night', 'highway', { weather: 0.7, timeofday: 0.9, scene: 0.8 }) };
  const started = Date.now();
  const { stats } = await runTrigger('throttled');
  const doc = await app.runtime().labels.get('throttled', name);
  assert.equal(doc?.status, 'labeled', JSON.stringify(doc?.error));
  assert.deepEqual(doc?.frame?.attributes, { weather: 'rainy', timeofday: 'night', scene: 'highway' });
  assert.equal(doc?.attempts, 1, 'the provider retried inside one invocation');
  assert.equal(stats.failedAttempts, 0);
  assert.equal(server!.served.errors - before, 1, 'one 429 was answered');
  assert.ok(Date.now() - started >= 1000, 'Retry-After: 1 was honoured');
});

test('a provider down for longer than every retry: the host retries, the last try stores failed, nothing is poisoned', async () => {
  durableApi();
  respond = () => ({ error: { status: 503, code: 'unavailable', message: 'The service is temporarily unavailable' } });
  const { stats, lines } = await runTrigger('down');
  const doc = await app.runtime().labels.get('down', name);
  assert.equal(doc?.status, 'failed');
  assert.equal(doc?.attempts, app.runtime().settings.maxLabelAttempts);
  assert.match(doc!.error!.message, /gave up after 5 tries/);
  assert.equal(stats.failedAttempts, 4, lines.join('\n'));
  assert.equal(stats.poisoned, 0);
  assert.ok(lines.some((l) => l.includes('image-retrying')));
});
