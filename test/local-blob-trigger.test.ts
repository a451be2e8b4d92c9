/**
 * The local blob trigger against real Azurite: bindings and trigger metadata, receipts (once per version, again for a
 * new version, kept across a restart), retries, the poison queue message, the concurrency limit, pattern matching,
 * idle() and close().
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { InvocationContext } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import {
  HOSTS_CONTAINER,
  POISON_QUEUE,
  parseBlobPathPattern,
  receiptBlobName,
  startBlobTrigger,
  type BlobTrigger,
  type RegisteredBlobFunction,
  type StartBlobTriggerOptions,
} from '../dev/local-host/blob-trigger';

type StorageBlobHandler = (blob: unknown, context: InvocationContext) => unknown;
import { useLocalServices } from './helpers/local-services';

const services = useLocalServices();

interface Call {
  blob: string;
  context: InvocationContext;
}

function clients(): { blobService: BlobServiceClient; queueService: QueueServiceClient } {
  const cs = services().azurite.connectionString;
  return {
    blobService: BlobServiceClient.fromConnectionString(cs),
    queueService: QueueServiceClient.fromConnectionString(cs),
  };
}

/** A container name no other test uses (tests share one Azurite). */
function uniqueContainer(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

async function upload(
  container: string,
  name: string,
  content: string,
  options: { contentType?: string; metadata?: Record<string, string> } = {},
): Promise<string> {
  const containerClient = clients().blobService.getContainerClient(container);
  await containerClient.createIfNotExists();
  const response = await containerClient.getBlockBlobClient(name).upload(content, Buffer.byteLength(content), {
    ...(options.contentType ? { blobHTTPHeaders: { blobContentType: options.contentType } } : {}),
    ...(options.metadata ? { metadata: options.metadata } : {}),
  });
  return response.etag as string; // header form, with quotes
}

async function receiptExists(hostId: string, functionName: string, container: string, name: string, etag: string) {
  const path = receiptBlobName(hostId, `Host.Functions.${functionName}`, { container, name, etag });
  return clients().blobService.getContainerClient(HOSTS_CONTAINER).getBlobClient(path).exists();
}

const gates: Array<() => void> = [];

/** A gate a handler waits on; every gate opens at the end of the file, so a failed test cannot hang close(). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  gates.push(resolve);
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fails the test instead of hanging it. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** 'settled' if the promise settles within `ms`, else 'pending'. */
async function stateAfter(promise: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> {
  return within(
    promise.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    ms,
    'probe',
  ).catch(() => 'pending' as const);
}

const started: BlobTrigger[] = [];
after(async () => {
  for (const open of gates) open();
  await Promise.all(started.map((t) => t.close()));
});

/** A blob function as the host hands it to the watcher: invoked with the bytes and an InvocationContext like the worker's. */
function blobFunction(name: string, path: string, handler: StorageBlobHandler): RegisteredBlobFunction {
  return {
    name,
    path,
    invoke: async (blob, triggerMetadata) =>
      handler(blob, new InvocationContext({ functionName: name, invocationId: randomUUID(), triggerMetadata })),
  };
}

/** The functions list for a single function named `f`. */
function onlyF(path: string, handler: StorageBlobHandler): StartBlobTriggerOptions['functions'] {
  return [blobFunction('f', path, handler)];
}

/** A watcher with fast polls and retries; `lines` collects its log. */
function watch(
  functions: StartBlobTriggerOptions['functions'],
  overrides: Partial<StartBlobTriggerOptions> = {},
): { trigger: BlobTrigger; lines: string[]; hostId: string } {
  const lines: string[] = [];
  const hostId = overrides.hostId ?? `test-${randomUUID().slice(0, 12)}`;
  const trigger = startBlobTrigger({
    ...clients(),
    functions,
    hostId,
    pollIntervalMs: 10,
    retryDelayMs: () => 10,
    log: (line) => lines.push(line),
    ...overrides,
  });
  started.push(trigger);
  return { trigger, lines, hostId };
}

function recorder(calls: Call[], work?: (call: Call) => Promise<void> | void): StorageBlobHandler {
  return async (blob, context) => {
    const call = { blob: (blob as Buffer).toString('utf8'), context };
    calls.push(call);
    await work?.(call);
  };
}

test('path patterns bind like the host: greedy named values, literal parts and extensions, anchored', () => {
  const p = parseBlobPathPattern('images/{batchId}/{name}');
  assert.equal(p.container, 'images');
  assert.equal(p.prefix, '');
  assert.deepEqual(p.match('b1/cat.jpg'), { batchId: 'b1', name: 'cat.jpg' });
  assert.deepEqual(p.match('b1/sub/cat.jpg'), { batchId: 'b1/sub', name: 'cat.jpg' });
  assert.equal(p.match('cat.jpg'), null);

  const ext = parseBlobPathPattern('input/{name}.csv');
  assert.deepEqual(ext.match('a.b.csv'), { name: 'a.b' });
  assert.equal(ext.match('a.csv.bak'), null);

  // Cases from the WebJobs SDK's own BindingTemplate tests.
  const withLiteral = parseBlobPathPattern('input/foo/{name}.{extension}');
  assert.equal(withLiteral.prefix, 'foo/');
  assert.deepEqual(withLiteral.match('foo/skip/bar.txt'), { name: 'skip/bar', extension: 'txt' });
  assert.deepEqual(parseBlobPathPattern('input/{name}/foo/{skip}.{extension}').match('name/foo/skip/bar.txt'), {
    name: 'name',
    skip: 'skip/bar',
    extension: 'txt',
  });
  assert.deepEqual(parseBlobPathPattern('input/{name}.{extension}-/{other}').match('foo.bar.txt-/asd-/ijij'), {
    name: 'foo.bar',
    extension: 'txt-/asd',
    other: 'ijij',
  });
  assert.equal(parseBlobPathPattern('input/{name}.-/').match('foo.bar.-/txt'), null);
  assert.deepEqual(parseBlobPathPattern('c/{{x}}/{name}').match('{x}/a'), { name: 'a' });
  assert.deepEqual(parseBlobPathPattern('whole').match('any/thing'), {});

  assert.throws(() => parseBlobPathPattern('{container}/{name}'), /container must be a literal/);
  assert.throws(() => parseBlobPathPattern('c/{a.b}'), /plain parameter name/);
  assert.throws(() => parseBlobPathPattern('c/{name'), /without/);
});

test('calls the registered handler with the blob bytes, bound values and the host trigger metadata', async () => {
  const container = uniqueContainer('bind');
  const etag = await upload(container, 'batch-7/cat one.jpg', 'JPEGDATA', {
    contentType: 'image/jpeg',
    metadata: { Camera: 'front', source: 'fleet' },
  });
  const calls: Call[] = [];
  const { trigger, hostId } = watch([blobFunction('labelImageBlob', `${container}/{batchId}/{name}`, recorder(calls))]);
  await within(trigger.idle(), 10_000, 'idle');

  assert.equal(calls.length, 1);
  const [{ blob, context }] = calls as [Call];
  assert.equal(blob, 'JPEGDATA');
  assert.equal(context.functionName, 'labelImageBlob');
  assert.match(context.invocationId, /^[0-9a-f-]{36}$/);
  const meta = context.triggerMetadata as Record<string, any>;
  assert.equal(meta.batchId, 'batch-7');
  assert.equal(meta.name, 'cat one.jpg');
  assert.equal(meta.blobTrigger, `${container}/batch-7/cat one.jpg`);
  assert.equal(meta.uri, clients().blobService.getContainerClient(container).getBlobClient('batch-7/cat one.jpg').url);
  assert.equal(meta.properties.eTag, etag);
  assert.match(meta.properties.eTag, /^"0x[0-9A-F]+"$/);
  assert.equal(meta.properties.length, 8);
  assert.equal(meta.properties.contentLength, 8);
  assert.equal(meta.properties.contentType, 'image/jpeg');
  assert.equal(meta.properties.blobType, 'BlockBlob');
  assert.ok(!Number.isNaN(Date.parse(meta.properties.lastModified)));
  // The worker lower-cases the first letter of every key, user metadata included.
  assert.deepEqual(meta.metadata, { camera: 'front', source: 'fleet' });
  assert.equal(meta.sys.methodName, 'labelImageBlob');

  assert.ok(await receiptExists(hostId, 'labelImageBlob', container, 'batch-7/cat one.jpg', etag));
  await trigger.close();
});

test('a blob version is processed once, however many polls see it, even while it is still running', async () => {
  const container = uniqueContainer('once');
  await upload(container, 'b1/a.jpg', 'a');
  const calls: Call[] = [];
  // The first call lasts until 20 more polls have listed the blob (still without a receipt) while it runs.
  let pollsDuringCall = 0;
  const slow = recorder(calls, async () => {
    const start = trigger.stats().polls;
    const deadline = Date.now() + 15_000; // bounded, so a broken watcher fails the test instead of hanging it
    while (trigger.stats().polls < start + 20 && Date.now() < deadline) await sleep(2);
    pollsDuringCall = trigger.stats().polls - start;
  });
  const { trigger } = watch(onlyF(`${container}/{batchId}/{name}`, slow), {
    pollIntervalMs: 1,
  });
  await within(trigger.idle(), 20_000, 'idle');
  const pollsAfterFirst = trigger.stats().polls;
  while (trigger.stats().polls < pollsAfterFirst + 10) await sleep(5);
  assert.ok(pollsDuringCall >= 20);
  assert.equal(calls.length, 1);

  // A blob added while the watcher runs is picked up by a later poll.
  await upload(container, 'b2/b.jpg', 'b');
  await within(trigger.idle(), 10_000, 'idle after new blob');
  assert.deepEqual(
    calls.map((c) => c.blob),
    ['a', 'b'],
  );
  assert.equal(trigger.stats().invocations, 2);
  await trigger.close();
});

test('overwriting a blob (new ETag) processes the new version again, with its own receipt', async () => {
  const container = uniqueContainer('overwrite');
  const first = await upload(container, 'b1/a.jpg', 'version one');
  const calls: Call[] = [];
  const { trigger, hostId } = watch(onlyF(`${container}/{batchId}/{name}`, recorder(calls)));
  await within(trigger.idle(), 10_000, 'idle');
  const second = await upload(container, 'b1/a.jpg', 'version two');
  assert.notEqual(first, second);
  await within(trigger.idle(), 10_000, 'idle after overwrite');

  assert.deepEqual(
    calls.map((c) => c.blob),
    ['version one', 'version two'],
  );
  assert.equal((calls[1]?.context.triggerMetadata as any).properties.eTag, second);
  assert.ok(await receiptExists(hostId, 'f', container, 'b1/a.jpg', first));
  assert.ok(await receiptExists(hostId, 'f', container, 'b1/a.jpg', second));
  await trigger.close();
});

test('a throwing handler is retried until it succeeds: receipt, no poison, one log line per failure', async () => {
  const container = uniqueContainer('retry');
  const etag = await upload(container, 'b1/flaky.jpg', 'x');
  const calls: Call[] = [];
  const delays: number[] = [];
  const handler = recorder(calls, () => {
    if (calls.length <= 2) throw new Error(`transient failure ${calls.length}`);
  });
  const { trigger, lines, hostId } = watch(onlyF(`${container}/{batchId}/{name}`, handler), {
    retryDelayMs: (attempt) => {
      delays.push(attempt);
      return 20;
    },
  });
  await within(trigger.idle(), 10_000, 'idle');

  assert.equal(calls.length, 3);
  assert.deepEqual(delays, [1, 2]);
  // Each attempt is a fresh invocation.
  assert.equal(new Set(calls.map((c) => c.context.invocationId)).size, 3);
  const failures = lines.filter((l) => l.includes('failed for'));
  assert.equal(failures.length, 2);
  assert.match(failures[0] as string, /attempt 1\/5 failed for .*b1\/flaky\.jpg.*transient failure 1; retrying in 20/);
  assert.ok(!lines.some((l) => l.includes('poisoned')));
  assert.ok(await receiptExists(hostId, 'f', container, 'b1/flaky.jpg', etag));
  const stats = trigger.stats();
  assert.equal(stats.succeeded, 1);
  assert.equal(stats.failedAttempts, 2);
  assert.equal(stats.poisoned, 0);
  const poisonQueue = clients().queueService.getQueueClient(POISON_QUEUE);
  const poison = await poisonQueue.peekMessages({ numberOfMessages: 32 }).catch(() => undefined);
  for (const m of poison?.peekedMessageItems ?? []) {
    assert.ok(!Buffer.from(m.messageText, 'base64').toString().includes(container));
  }
  await trigger.close();
});

test('after maxAttempts failures the host poison message (base64 JSON) is queued; a receipt ends retries', async () => {
  const container = uniqueContainer('poison');
  const etag = await upload(container, 'b9/bad.jpg', 'broken');
  const calls: Call[] = [];
  const { trigger, lines, hostId } = watch(
    [
      blobFunction(
        'labelImageBlob',
        `${container}/{batchId}/{name}`,
        recorder(calls, () => {
          throw new Error('cannot decode image');
        }),
      ),
    ],
    { maxAttempts: 3 },
  );
  await within(trigger.idle(), 10_000, 'idle');
  assert.equal(calls.length, 3);

  const queue = clients().queueService.getQueueClient(POISON_QUEUE);
  const peeked = await queue.peekMessages({ numberOfMessages: 32 });
  const ours = peeked.peekedMessageItems
    .map((m) => Buffer.from(m.messageText, 'base64').toString('utf8'))
    .filter((text) => text.includes(container));
  assert.equal(ours.length, 1);
  // Exactly the host's BlobTriggerMessage, property order included.
  assert.equal(
    ours[0],
    JSON.stringify({
      Type: 'BlobTrigger',
      FunctionId: 'Host.Functions.labelImageBlob',
      BlobType: 'BlockBlob',
      ContainerName: container,
      BlobName: 'b9/bad.jpg',
      ETag: etag,
    }),
  );
  const poisonLines = lines.filter((l) => l.includes('poisoned'));
  assert.equal(poisonLines.length, 1);
  assert.match(poisonLines[0] as string, /after 3 failed attempts \(last error: cannot decode image\)/);
  assert.match(poisonLines[0] as string, /sent to queue 'webjobs-blobtrigger-poison', receipt written/);
  assert.equal(lines.filter((l) => l.includes('failed for')).length, 3);
  assert.ok(await receiptExists(hostId, 'labelImageBlob', container, 'b9/bad.jpg', etag));

  // The receipt means later polls leave it alone.
  const polls = trigger.stats().polls;
  while (trigger.stats().polls < polls + 20) await sleep(5);
  assert.equal(calls.length, 3);
  assert.equal(trigger.stats().poisoned, 1);
  await trigger.close();
});

test('a restarted watcher skips receipted blobs and redoes the ones in flight when the first one stopped', async () => {
  const container = uniqueContainer('restart');
  const hostId = `restart-${randomUUID().slice(0, 8)}`;
  const path = `${container}/{batchId}/{name}`;
  await upload(container, 'b1/done.jpg', 'done');
  const firstCalls: Call[] = [];
  const { trigger: first } = watch(onlyF(path, recorder(firstCalls)), { hostId });
  await within(first.idle(), 10_000, 'first idle');
  assert.deepEqual(
    firstCalls.map((c) => c.blob),
    ['done'],
  );
  await first.close();

  // The "crash": the first watcher is stuck inside a call (no receipt yet) when the second one starts.
  const stuck = deferred();
  const firstStuckCalls: Call[] = [];
  const { trigger: crashed } = watch(
    onlyF(
      path,
      recorder(firstStuckCalls, () => stuck.promise),
    ),
    { hostId },
  );
  await upload(container, 'b1/inflight.jpg', 'inflight');
  while (firstStuckCalls.length === 0) await sleep(5);
  await upload(container, 'b2/new.jpg', 'new');

  const secondCalls: Call[] = [];
  const { trigger: second } = watch(onlyF(path, recorder(secondCalls)), { hostId });
  await within(second.idle(), 10_000, 'second idle');
  assert.deepEqual(secondCalls.map((c) => c.blob).sort(), ['inflight', 'new']);
  assert.ok(!secondCalls.some((c) => c.blob === 'done'));

  stuck.resolve();
  await crashed.close();
  await second.close();

  // Receipts are per host id: another host id starts from scratch.
  const otherCalls: Call[] = [];
  const { trigger: other } = watch(onlyF(path, recorder(otherCalls)));
  await within(other.idle(), 10_000, 'other host idle');
  assert.equal(otherCalls.length, 3);
  await other.close();
});

test('receipts are read from storage: deleting one re-runs its blob, an Incomplete one does not count', async () => {
  const container = uniqueContainer('receipts');
  const hostId = `receipts-${randomUUID().slice(0, 8)}`;
  const etagA = await upload(container, 'b1/a.jpg', 'a');
  const etagB = await upload(container, 'b1/b.jpg', 'b');
  // What a real host leaves while it is still working on a blob: the receipt with metadata Incomplete.
  const hosts = clients().blobService.getContainerClient(HOSTS_CONTAINER);
  await hosts.createIfNotExists();
  const receiptB = hosts.getBlockBlobClient(receiptBlobName(hostId, 'Host.Functions.f', { container, name: 'b1/b.jpg', etag: etagB }));
  await receiptB.upload('', 0, { metadata: { Incomplete: 'Incomplete' } });

  const calls: Call[] = [];
  const { trigger } = watch(onlyF(`${container}/{batchId}/{name}`, recorder(calls)), { hostId });
  await within(trigger.idle(), 10_000, 'idle');
  assert.deepEqual(calls.map((c) => c.blob).sort(), ['a', 'b']);
  // Completing overwrites the host's mark: the receipt now reads as complete.
  assert.deepEqual((await receiptB.getProperties()).metadata, {});

  const receiptA = receiptBlobName(hostId, 'Host.Functions.f', { container, name: 'b1/a.jpg', etag: etagA });
  await hosts.getBlobClient(receiptA).delete();
  await within(trigger.idle(), 10_000, 'idle after deleting a receipt');
  assert.deepEqual(calls.map((c) => c.blob).sort(), ['a', 'a', 'b']);
  await trigger.close();
});

test('never more than `concurrency` handler calls at once, across functions', async () => {
  const container = uniqueContainer('conc');
  for (let i = 0; i < 8; i++) await upload(container, `${i % 2 ? 'odd' : 'even'}/${i}.jpg`, String(i));
  let running = 0;
  let peak = 0;
  const calls: Call[] = [];
  const work = async () => {
    running++;
    peak = Math.max(peak, running);
    await sleep(40);
    running--;
  };
  const { trigger } = watch(
    [
      blobFunction('evenImages', `${container}/even/{name}`, recorder(calls, work)),
      blobFunction('oddImages', `${container}/odd/{name}`, recorder(calls, work)),
    ],
    { concurrency: 3 },
  );
  await within(trigger.idle(), 10_000, 'idle');
  assert.equal(calls.length, 8);
  assert.equal(new Set(calls.map((c) => c.blob)).size, 8);
  assert.equal(peak, 3, `peak concurrency ${peak}`);
  assert.equal(trigger.stats().maxConcurrent, 3);
  await trigger.close();
});

test('blobs that do not match the pattern are ignored and do not hold up idle()', async () => {
  const container = uniqueContainer('mismatch');
  await upload(container, 'in/b1/a.jpg', 'match');
  await upload(container, 'in/b1/a.png', 'wrong extension');
  await upload(container, 'in/top.jpg', 'no batch folder');
  await upload(container, 'out/b1/c.jpg', 'other prefix');
  const calls: Call[] = [];
  const { trigger, hostId } = watch(onlyF(`${container}/in/{batchId}/{name}.jpg`, recorder(calls)));
  await within(trigger.idle(), 10_000, 'idle');
  const polls = trigger.stats().polls;
  while (trigger.stats().polls < polls + 10) await sleep(5);
  assert.deepEqual(
    calls.map((c) => c.blob),
    ['match'],
  );
  const meta = calls[0]?.context.triggerMetadata as Record<string, unknown>;
  assert.equal(meta.batchId, 'b1');
  assert.equal(meta.name, 'a');
  const hosts = clients().blobService.getContainerClient(HOSTS_CONTAINER);
  const receipts: string[] = [];
  for await (const item of hosts.listBlobsFlat({ prefix: `blobreceipts/${hostId}/` })) receipts.push(item.name);
  assert.equal(receipts.length, 1);
  assert.match(receipts[0] as string, /\/in\/b1\/a\.jpg$/);
  await trigger.close();
});

test('idle() waits for running calls, resolves on empty or missing containers, and rejects once closed', async () => {
  const missing = watch(onlyF(`${uniqueContainer('nothing')}/{name}`, recorder([])));
  await within(missing.trigger.idle(), 5_000, 'idle on a missing container');
  await missing.trigger.close();
  await assert.rejects(missing.trigger.idle(), /closed/);

  const container = uniqueContainer('idle');
  const etag = await upload(container, 'b1/slow.jpg', 'slow');
  const gate = deferred();
  const calls: Call[] = [];
  const { trigger, hostId } = watch(
    onlyF(
      `${container}/{batchId}/{name}`,
      recorder(calls, () => gate.promise),
    ),
  );
  const idle = trigger.idle();
  while (calls.length === 0) await sleep(5);
  const polls = trigger.stats().polls;
  while (trigger.stats().polls < polls + 5) await sleep(5);
  assert.equal(await stateAfter(idle, 20), 'pending');
  assert.equal(calls.length, 1);
  gate.resolve();
  await within(idle, 5_000, 'idle after release');
  assert.ok(await receiptExists(hostId, 'f', container, 'b1/slow.jpg', etag));

  // A blob uploaded just before idle() is called is part of what idle() waits for.
  calls.length = 0;
  const etag2 = await upload(container, 'b2/later.jpg', 'later');
  await within(trigger.idle(), 5_000, 'idle after a new upload');
  assert.deepEqual(
    calls.map((c) => c.blob),
    ['later'],
  );
  assert.ok(await receiptExists(hostId, 'f', container, 'b2/later.jpg', etag2));
  await trigger.close();
});

test('close() stops polling, drops waiting retries without a receipt, and a new watcher finishes them', async () => {
  const container = uniqueContainer('close');
  const etag = await upload(container, 'b1/retry-later.jpg', 'x');
  const hostId = `close-${randomUUID().slice(0, 8)}`;
  const calls: Call[] = [];
  const failing = recorder(calls, () => {
    throw new Error('first host fails');
  });
  const { trigger } = watch(onlyF(`${container}/{batchId}/{name}`, failing), {
    hostId,
    retryDelayMs: () => 60_000,
  });
  while (calls.length === 0) await sleep(5);
  const before = Date.now();
  await within(trigger.close(), 2_000, 'close with a retry waiting');
  assert.ok(Date.now() - before < 1_000);
  const polls = trigger.stats().polls;
  await sleep(100);
  assert.equal(trigger.stats().polls, polls, 'polled after close');
  assert.equal(calls.length, 1);
  assert.equal(await receiptExists(hostId, 'f', container, 'b1/retry-later.jpg', etag), false);
  await assert.rejects(trigger.idle(), /closed/);

  const okCalls: Call[] = [];
  const { trigger: next } = watch(onlyF(`${container}/{batchId}/{name}`, recorder(okCalls)), { hostId });
  await within(next.idle(), 10_000, 'idle of the next watcher');
  assert.equal(okCalls.length, 1);
  assert.ok(await receiptExists(hostId, 'f', container, 'b1/retry-later.jpg', etag));
  await next.close();
});

test('an idle() pending at close() is rejected, and close() waits for the running call to end', async () => {
  const container = uniqueContainer('closewait');
  await upload(container, 'b1/a.jpg', 'a');
  const gate = deferred();
  let finished = false;
  const calls: Call[] = [];
  const { trigger } = watch([
    blobFunction(
      'f',
      `${container}/{batchId}/{name}`,
      recorder(calls, async () => {
        await gate.promise;
        finished = true;
      }),
    ),
  ]);
  while (calls.length === 0) await sleep(5);
  const idle = trigger.idle();
  const closing = trigger.close();
  await assert.rejects(idle, /closed before it was idle/);
  assert.equal(await stateAfter(closing, 100), 'pending');
  gate.resolve();
  await within(closing, 2_000, 'close');
  assert.equal(finished, true);
});
