/**
 * The app needs only the storage rights the deployment gives its identity: Storage Blob Data Owner (container and
 * blob operations) and Queue Data Contributor. An account-level call (Get Blob Service Properties, Get Account
 * Information, Get Service Stats) needs a management action no data role grants: in Azure it is refused with 403,
 * while Azurite allows it. So the app's blob traffic is run through a recording proxy and every request must name a
 * container: the health probe, labeling a batch (trigger, manifest, completion) and the reconcile sweep.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { appChecks } from '../src/app/http/health-checks';
import { sweepBatches } from '../src/app/services/batch-sweep';
import { MANIFEST_NAME } from '../src/app/store/names';
import { startRecordingProxy, type ProxiedRequest, type RecordingProxy } from './fakes/recording-proxy';
import { arriveBlob, invocationContext, useAppRuntime, useDurableApi } from './helpers/app';
import { sampleImagesDir } from './helpers/shared';
import * as df from 'durable-functions';

let proxy: RecordingProxy | undefined;
const app = useAppRuntime(async () => {
  const azurite = app.services().azurite;
  proxy = await startRecordingProxy(azurite.blobUrl);
  // The blob endpoint through the proxy; queues and tables as they are.
  const connection = azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${proxy.url}/devstoreaccount1`);
  return { AzureWebJobsStorage: connection };
});
const durableApi = useDurableApi();
after(() => proxy?.close());

/** Requests whose path names no container: /{account} or /{account}/ with a service-level query. */
function accountLevel(requests: ProxiedRequest[]): string[] {
  return requests
    .filter((r) => new URL(r.url, 'http://proxy').pathname.split('/').filter(Boolean).length < 2)
    .map((r) => `${r.method} ${r.url}`);
}

test('the storage health probe makes no account-level call', async () => {
  proxy!.requests.length = 0;
  const storage = appChecks(app.runtime()).storage!;
  await storage.run();
  assert.ok(proxy!.requests.length > 0, 'the probe went through the proxy');
  assert.deepEqual(accountLevel(proxy!.requests), []);
});

test('labeling a batch, completing it and sweeping it make no account-level call', async () => {
  durableApi();
  proxy!.requests.length = 0;
  const runtime = app.runtime();
  const names = readdirSync(sampleImagesDir)
    .filter((n) => n.endsWith('.jpg'))
    .sort()
    .slice(0, 2);
  for (const name of names) await (await arriveBlob(runtime, 'scopes', name, readFileSync(path.join(sampleImagesDir, name)))).run();
  await (await arriveBlob(runtime, 'scopes', MANIFEST_NAME, Buffer.from(JSON.stringify({ images: names })))).run();
  assert.equal((await runtime.batches.get('scopes'))?.status, 'labeled');
  const context = invocationContext('batchSweepTimer');
  await sweepBatches(runtime, df.getClient(context), context);
  assert.ok(proxy!.requests.length > 5, `${proxy!.requests.length} requests recorded`);
  assert.deepEqual(accountLevel(proxy!.requests), []);
});

test('the check can fail: an account-level call is seen as one', () => {
  assert.deepEqual(accountLevel([{ method: 'GET', url: '/devstoreaccount1/?restype=service&comp=properties' }]), [
    'GET /devstoreaccount1/?restype=service&comp=properties',
  ]);
  assert.deepEqual(accountLevel([{ method: 'GET', url: '/devstoreaccount1/images?restype=container&comp=list&maxresults=1' }]), []);
});
