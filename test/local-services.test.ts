/**
 * Local Azurite + Cosmos DB stand-in through the real SDKs: blobs, queue messages, Cosmos CRUD / concurrency /
 * queries / paging, persistence across a restart, and no process left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { type Container, ErrorResponse } from '@azure/cosmos';
import { startAzurite } from '../dev/local-host/azurite';
import { SNAPSHOT_FILE, startCosmosEmulator, type CosmosSnapshot } from '../dev/local-host/cosmos-emulator';
import { startLocalServices } from '../dev/local-host/local-services';
import { useLocalServices } from './helpers/local-services';

const services = useLocalServices();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

async function statusOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as ErrorResponse).code as number | undefined;
  }
  return undefined;
}

const tmpDirs: string[] = [];
after(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

test('env() names the connection string and the Cosmos endpoint/key', () => {
  const { azurite, cosmos, env } = services();
  const e = env();
  assert.equal(e.AzureWebJobsStorage, azurite.connectionString);
  assert.equal(e.AZURE_STORAGE_CONNECTION_STRING, azurite.connectionString);
  assert.equal(e.COSMOS_ENDPOINT, cosmos.endpoint);
  assert.equal(e.COSMOS_KEY, cosmos.key);
  assert.equal(e.COSMOS_DISABLE_ENDPOINT_DISCOVERY, 'true');
  assert.match(azurite.connectionString, /AccountName=devstoreaccount1;/);
  assert.ok(azurite.connectionString.includes(`BlobEndpoint=${azurite.blobUrl};`));
  assert.ok(azurite.connectionString.includes(`QueueEndpoint=${azurite.queueUrl};`));
  assert.ok(azurite.connectionString.includes(`TableEndpoint=${azurite.tableUrl};`));
  assert.match(cosmos.endpoint, /^http:\/\/127\.0\.0\.1:\d+\/$/);
});

test('Azurite blob: create a container, upload, list, download', async () => {
  const blobs = BlobServiceClient.fromConnectionString(services().azurite.connectionString);
  const container = blobs.getContainerClient('images');
  await container.createIfNotExists();
  const body = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);
  await container.getBlockBlobClient('batch-1/a.jpg').uploadData(body, {
    blobHTTPHeaders: { blobContentType: 'image/jpeg' },
    metadata: { batchid: 'batch-1' },
  });
  const names: string[] = [];
  for await (const item of container.listBlobsFlat({ prefix: 'batch-1/' })) names.push(item.name);
  assert.deepEqual(names, ['batch-1/a.jpg']);
  const blob = container.getBlobClient('batch-1/a.jpg');
  assert.deepEqual(await blob.downloadToBuffer(), body);
  const props = await blob.getProperties();
  assert.equal(props.contentType, 'image/jpeg');
  assert.equal(props.metadata?.batchid, 'batch-1');
});

test('Azurite queue: send, receive, delete a message', async () => {
  const queues = QueueServiceClient.fromConnectionString(services().azurite.connectionString);
  const queue = queues.getQueueClient('webjobs-blobtrigger-poison');
  await queue.createIfNotExists();
  const text = JSON.stringify({ ContainerName: 'images', BlobName: 'a.jpg', ETag: '"0x1"' });
  await queue.sendMessage(text);
  const received = await queue.receiveMessages({ numberOfMessages: 5 });
  assert.equal(received.receivedMessageItems.length, 1);
  const [msg] = received.receivedMessageItems;
  assert.equal(msg?.messageText, text);
  await queue.deleteMessage(msg!.messageId, msg!.popReceipt);
  const props = await queue.getProperties();
  assert.equal(props.approximateMessagesCount, 0);
});

async function labelsContainer(): Promise<Container> {
  const client = services().cosmos.createClient();
  const { database } = await client.databases.createIfNotExists({ id: 'autolabel' });
  const { container } = await database.containers.createIfNotExists({
    id: 'labels',
    partitionKey: { paths: ['/batchId'] },
  });
  return container;
}

test('Cosmos: upsert, point read, 409 on duplicate create, 412 on stale etag', async () => {
  const container = await labelsContainer();
  const doc = { id: 'img-1', batchId: 'b1', status: 'pending', n: 1 };
  const up = await container.items.upsert(doc);
  assert.ok(up.statusCode === 201 || up.statusCode === 200);
  const read = await container.item('img-1', 'b1').read<typeof doc>();
  assert.equal(read.statusCode, 200);
  assert.equal(read.resource?.status, 'pending');
  const etag = read.resource && (read.resource as unknown as { _etag: string })._etag;
  assert.ok(etag);

  assert.equal(await statusOf(container.items.create(doc)), 409);
  assert.equal((await container.item('missing', 'b1').read()).statusCode, 404);

  // A first replace with the fresh etag succeeds and changes the etag ...
  const ok = await container
    .item('img-1', 'b1')
    .replace({ ...doc, status: 'labeled' }, { accessCondition: { type: 'IfMatch', condition: etag } });
  assert.equal(ok.statusCode, 200);
  // ... so a second one with the old etag is refused.
  const stale = container
    .item('img-1', 'b1')
    .replace({ ...doc, status: 'overwritten' }, { accessCondition: { type: 'IfMatch', condition: etag } });
  assert.equal(await statusOf(stale), 412);
  const after = await container.item('img-1', 'b1').read<typeof doc>();
  assert.equal(after.resource?.status, 'labeled');
});

test('Cosmos: parameterised WHERE/ORDER BY/TOP, VALUE COUNT, paging with continuation', async () => {
  const container = await labelsContainer();
  const batch = 'q-batch';
  for (let i = 0; i < 7; i++) {
    await container.items.upsert({ id: `q-${i}`, batchId: batch, score: i * 10, status: i % 2 ? 'odd' : 'even' });
  }
  await container.items.upsert({ id: 'q-other', batchId: 'other', score: 999, status: 'even' });

  const top = await container.items
    .query<{ id: string; score: number }>({
      query: 'SELECT TOP @n c.id, c.score FROM c WHERE c.batchId = @b AND c.status = @s ORDER BY c.score DESC',
      parameters: [
        { name: '@n', value: 2 },
        { name: '@b', value: batch },
        { name: '@s', value: 'even' },
      ],
    })
    .fetchAll();
  assert.deepEqual(
    top.resources.map((r) => [r.id, r.score]),
    [
      ['q-6', 60],
      ['q-4', 40],
    ],
  );

  const count = await container.items
    .query<number>({ query: 'SELECT VALUE COUNT(1) FROM c WHERE c.batchId = @b', parameters: [{ name: '@b', value: batch }] })
    .fetchAll();
  assert.deepEqual(count.resources, [7]);

  const querySpec = {
    query: 'SELECT c.id FROM c WHERE c.batchId = @b ORDER BY c.score ASC',
    parameters: [{ name: '@b', value: batch }],
  };
  // First page through one iterator, then resume from its continuation token with a new iterator.
  const first = await container.items.query<{ id: string }>(querySpec, { maxItemCount: 3 }).fetchNext();
  assert.deepEqual(
    first.resources.map((r) => r.id),
    ['q-0', 'q-1', 'q-2'],
  );
  assert.equal(first.hasMoreResults, true);
  assert.ok(first.continuationToken, 'a continuation token after the first page');
  const seen = first.resources.map((r) => r.id);
  let token: string | undefined = first.continuationToken;
  let pages = 1;
  while (token) {
    const page = await container.items.query<{ id: string }>(querySpec, { maxItemCount: 3, continuationToken: token }).fetchNext();
    seen.push(...page.resources.map((r) => r.id));
    token = page.continuationToken;
    pages++;
    assert.ok(pages < 10, 'paging terminates');
  }
  assert.deepEqual(seen, ['q-0', 'q-1', 'q-2', 'q-3', 'q-4', 'q-5', 'q-6']);
  assert.equal(pages, 3);
});

test('startAzurite: a taken port gives a clear error with Azurite output', async () => {
  // A plain TCP listener on the port Azurite will be told to use; connections to it are dropped at once.
  const blocker = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    await assert.rejects(startAzurite({ ports: { blob: port } }), (err: Error) => {
      assert.match(err.message, /Azurite exited during startup/);
      assert.match(err.message, /EADDRINUSE/);
      return true;
    });
  } finally {
    blocker.close();
  }
});

test('persistence: blobs, queue messages and Cosmos documents survive stop/start with a dataDir', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'autolabel-local-'));
  tmpDirs.push(dataDir);

  const first = await startLocalServices({ dataDir });
  const firstPid = first.azurite.pid;
  try {
    const blobs = BlobServiceClient.fromConnectionString(first.azurite.connectionString);
    const c = blobs.getContainerClient('images');
    await c.create();
    await c.getBlockBlobClient('kept.jpg').uploadData(Buffer.from('kept bytes'));
    const q = QueueServiceClient.fromConnectionString(first.azurite.connectionString).getQueueClient('work');
    await q.create();
    await q.sendMessage('kept message');

    const client = first.cosmos.createClient();
    const { database } = await client.databases.create({ id: 'autolabel' });
    const { container } = await database.containers.create({ id: 'batches', partitionKey: { paths: ['/batchId'] } });
    await container.items.create({ id: 'b1', batchId: 'b1', done: 3, total: 5 });
    await container.items.create({ id: 'b2', batchId: 'b2', done: 0, total: 1 });
  } finally {
    await first.stop();
  }
  assert.equal(await waitGone(firstPid, 2000), true, 'Azurite process gone after stop()');

  const second = await startLocalServices({ dataDir });
  try {
    assert.notEqual(second.azurite.pid, firstPid);
    const blobs = BlobServiceClient.fromConnectionString(second.azurite.connectionString);
    const bytes = await blobs.getContainerClient('images').getBlobClient('kept.jpg').downloadToBuffer();
    assert.equal(bytes.toString(), 'kept bytes');
    const q = QueueServiceClient.fromConnectionString(second.azurite.connectionString).getQueueClient('work');
    const peeked = await q.peekMessages();
    assert.equal(peeked.peekedMessageItems[0]?.messageText, 'kept message');

    const client = second.cosmos.createClient();
    const container = client.database('autolabel').container('batches');
    const { resource } = await container.item('b1', 'b1').read<{ done: number; total: number }>();
    assert.equal(resource?.done, 3);
    assert.equal(resource?.total, 5);
    const { resources: ids } = await container.items.query<string>('SELECT VALUE c.id FROM c ORDER BY c.id').fetchAll();
    assert.deepEqual(ids, ['b1', 'b2']);
    // The container was recreated with its partition key.
    const { resource: def } = await container.read();
    assert.deepEqual(def?.partitionKey?.paths, ['/batchId']);
  } finally {
    await second.stop();
  }
  assert.equal(await waitGone(second.azurite.pid, 2000), true);
});

test('Cosmos snapshot is written periodically after a write, without stop()', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'autolabel-cosmos-'));
  tmpDirs.push(dataDir);
  const file = path.join(dataDir, SNAPSHOT_FILE);
  const cosmos = await startCosmosEmulator({ dataDir, snapshotIntervalMs: 100 });
  try {
    const client = cosmos.createClient();
    const { database } = await client.databases.create({ id: 'db' });
    const { container } = await database.containers.create({ id: 'c', partitionKey: { paths: ['/batchId'] } });
    await container.items.create({ id: 'x', batchId: 'b', v: 42 });
    const deadline = Date.now() + 3000;
    let snap: CosmosSnapshot | undefined;
    while (Date.now() < deadline) {
      if (existsSync(file)) {
        snap = JSON.parse(readFileSync(file, 'utf8')) as CosmosSnapshot;
        if (snap.databases[0]?.containers[0]?.items.length) break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const entry = snap?.databases.find((d) => d.id === 'db')?.containers.find((c) => c.definition.id === 'c');
    assert.deepEqual(entry?.definition.partitionKey?.paths, ['/batchId']);
    assert.deepEqual(entry?.items, [{ id: 'x', batchId: 'b', v: 42 }]);
  } finally {
    await cosmos.stop();
  }
});

test('without a dataDir nothing persists', async () => {
  const first = await startLocalServices();
  const blobs = BlobServiceClient.fromConnectionString(first.azurite.connectionString);
  await blobs.getContainerClient('gone').create();
  const client = first.cosmos.createClient();
  await client.databases.create({ id: 'gone' });
  await first.stop();
  const second = await startLocalServices();
  try {
    const names: string[] = [];
    const blobs2 = BlobServiceClient.fromConnectionString(second.azurite.connectionString);
    for await (const c of blobs2.listContainers()) names.push(c.name);
    assert.deepEqual(names, []);
    const { resources } = await second.cosmos.createClient().databases.readAll().fetchAll();
    assert.deepEqual(resources, []);
  } finally {
    await second.stop();
  }
});

test('Azurite does not outlive a parent that is killed with SIGKILL', async () => {
  const entry = path.resolve(__dirname, '..', 'dev', 'local-host', 'azurite.ts');
  const script = `require(${JSON.stringify(entry)}).startAzurite().then((h) => { console.log('PID ' + h.pid); setInterval(() => {}, 1000); });`;
  const parent = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  parent.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = await new Promise<number>((resolve, reject) => {
    let out = '';
    parent.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PID (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    parent.once('exit', (code) => reject(new Error(`parent exited (${code}) before Azurite started: ${stderr}`)));
  });
  assert.equal(isAlive(pid), true);
  parent.kill('SIGKILL');
  const gone = await waitGone(pid, 5000);
  if (!gone) process.kill(pid, 'SIGKILL');
  assert.equal(gone, true, 'Azurite exited by itself once its parent died');
});
