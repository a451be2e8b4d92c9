/**
 * The local durable runner (dev/local-host/durable): a fan-out/fan-in orchestrator written against the real
 * durable-functions API runs in-process with Durable's semantics (replay, Task.all failure, retries, custom status,
 * startNew on an existing id, status endpoint), on the memory store and on blobs in a real Azurite.
 * Fidelity: the same orchestrator is also replayed by durable-functions' own engine (createOrchestrator) and must
 * schedule the same activities, with the same inputs, in the same order, and end with the same output; the real
 * DurableClient is pointed at our status endpoint and must read the same status.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import * as df from 'durable-functions';
import type { ActivityHandler, DurableClient, OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import {
  createBlobInstanceStore,
  createLocalDurable,
  createMemoryInstanceStore,
  type DurableClientLike,
  type InstanceStore,
  type LocalDurable,
  type LocalDurableOptions,
} from '../dev/local-host/durable';
import { useLocalServices } from './helpers/local-services';

// ---------------------------------------------------------------------------------------------------------------
// The sample app: written exactly as an app registers it with df.app.orchestration / df.app.activity.

interface BatchInput {
  batchId: string;
  images: string[];
}
interface LabelResult {
  ok: boolean;
  path: string;
  objects?: number;
  error?: string;
}
interface Summary {
  batchId: string;
  labeled: number;
  failed: string[];
}

const ORCHESTRATION = 'LabelBatch';

const labelBatch: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BatchInput>();
  const startedAt = context.df.currentUtcDateTime.toISOString();
  const paths = (yield context.df.callActivity('ListImages', input)) as string[];
  if (!context.df.isReplaying) context.log(`labeling ${paths.length} images`);
  context.df.setCustomStatus({ phase: 'labeling', total: paths.length });
  const results = (yield context.df.Task.all(
    paths.map((path) => context.df.callActivity('LabelImage', { batchId: input.batchId, path })),
  )) as LabelResult[];
  const failed = results.filter((r) => !r.ok).map((r) => r.path);
  context.df.setCustomStatus({ phase: 'summarizing', total: paths.length, failed: failed.length });
  const retry = new df.RetryOptions(20, 3);
  retry.backoffCoefficient = 2;
  const summary = (yield context.df.callActivityWithRetry('Summarize', retry, {
    batchId: input.batchId,
    labeled: results.length - failed.length,
    failed,
  })) as Summary;
  const finishedAt = context.df.currentUtcDateTime.toISOString();
  return { ...summary, startedAt, finishedAt };
};

interface Call {
  name: string;
  input: any;
  at: number;
}

interface SampleBehaviour {
  /** Replaces LabelImage's result (may throw, or never settle). */
  labelImage?: (path: string) => LabelResult | Promise<LabelResult>;
  /** How many Summarize calls fail before one succeeds. */
  summarizeFailures?: number;
}

function sampleActivities(behaviour: SampleBehaviour = {}) {
  const calls: Call[] = [];
  const record = (name: string, input: unknown): void => {
    calls.push({ name, input, at: performance.now() });
  };
  let summarizeCalls = 0;
  const activities: Record<string, ActivityHandler> = {
    ListImages: async (input: BatchInput) => {
      record('ListImages', input);
      return input.images.map((name) => `${input.batchId}/${name}`);
    },
    LabelImage: async (input: { batchId: string; path: string }) => {
      record('LabelImage', input);
      if (behaviour.labelImage) return behaviour.labelImage(input.path);
      return { ok: true, path: input.path, objects: input.path.length % 7 };
    },
    Summarize: async (input: Summary) => {
      record('Summarize', input);
      summarizeCalls++;
      if (summarizeCalls <= (behaviour.summarizeFailures ?? 0)) throw new Error(`summary store busy (${summarizeCalls})`);
      return { batchId: input.batchId, labeled: input.labeled, failed: input.failed };
    },
  };
  return { activities, calls, callsOf: (name: string) => calls.filter((c) => c.name === name) };
}

const BATCH: BatchInput = { batchId: 'b1', images: ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'] };

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const running: LocalDurable[] = [];
after(async () => {
  await Promise.all(running.map((r) => r.close()));
});

function localDurable(options: Partial<LocalDurableOptions> & Pick<LocalDurableOptions, 'activities'>): LocalDurable {
  const durable = createLocalDurable({
    orchestrations: { [ORCHESTRATION]: labelBatch },
    store: createMemoryInstanceStore(),
    closeGraceMs: 200,
    ...options,
  });
  running.push(durable);
  return durable;
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A clock that ticks one second per reading, from `start`: history timestamps become predictable. */
function steppingClock(start: string): () => Date {
  let tick = 0;
  const base = Date.parse(start);
  return () => new Date(base + 1000 * tick++);
}

// ---------------------------------------------------------------------------------------------------------------
// Runs

describe('fan-out/fan-in orchestration', () => {
  test('runs to completion with the right output; custom status is visible while running and at the end', async () => {
    const release = deferred();
    const sample = sampleActivities({
      labelImage: async (path) => {
        await release.promise;
        return { ok: true, path, objects: 1 };
      },
    });
    const logs: string[] = [];
    const durable = localDurable({ activities: sample.activities, log: (line) => logs.push(line) });
    const id = await durable.client.startNew(ORCHESTRATION, { input: BATCH });
    assert.match(id, /^[0-9a-f]{32}$/);

    await waitUntil('all four images are being labeled', () => sample.callsOf('LabelImage').length === 4);
    const mid = await durable.client.getStatus(id);
    assert.equal(mid.runtimeStatus, 'Running');
    assert.deepEqual(mid.customStatus, { phase: 'labeling', total: 4 });
    assert.equal(mid.output, null);
    assert.deepEqual(mid.input, BATCH);

    release.resolve();
    const done = await durable.waitForCompletion(id, 5000);
    assert.equal(done.runtimeStatus, 'Completed');
    const output = done.output as Summary & { startedAt: string; finishedAt: string };
    assert.deepEqual(
      { batchId: output.batchId, labeled: output.labeled, failed: output.failed },
      {
        batchId: 'b1',
        labeled: 4,
        failed: [],
      },
    );
    assert.deepEqual(done.customStatus, { phase: 'summarizing', total: 4, failed: 0 });
    assert.ok(Date.parse(output.finishedAt) >= Date.parse(output.startedAt));
    assert.deepEqual(
      sample.callsOf('LabelImage').map((c) => c.input.path),
      ['b1/a.jpg', 'b1/b.jpg', 'b1/c.jpg', 'b1/d.jpg'],
    );
    assert.equal(sample.callsOf('ListImages').length, 1);
    assert.equal(sample.callsOf('Summarize').length, 1);
    assert.equal(logs.filter((l) => l.includes('labeling 4 images')).length, 1);
  });

  test('currentUtcDateTime comes from the history: start time, then the time of the event that resumed the code', async () => {
    const sample = sampleActivities();
    const durable = localDurable({
      activities: sample.activities,
      now: steppingClock('2024-05-01T10:00:00Z'),
      maxConcurrentActivities: 1,
    });
    const id = await durable.client.startNew(ORCHESTRATION, { input: BATCH });
    const done = await durable.waitForCompletion(id, 5000);
    const output = done.output as { startedAt: string; finishedAt: string };
    // Tick 0 is the creation (ExecutionStarted); the Summarize completion is read after every other event.
    assert.equal(output.startedAt, '2024-05-01T10:00:00.000Z');
    assert.ok(Date.parse(output.finishedAt) > Date.parse(output.startedAt));
  });

  test('an activity that throws inside Task.all fails the orchestration with its message', async () => {
    const sample = sampleActivities({
      labelImage: (path) => {
        if (path.endsWith('b.jpg')) throw new Error(`cannot decode ${path}`);
        return { ok: true, path };
      },
    });
    const durable = localDurable({ activities: sample.activities });
    const id = await durable.client.startNew(ORCHESTRATION, { input: BATCH });
    const done = await durable.waitForCompletion(id, 5000);
    assert.equal(done.runtimeStatus, 'Failed');
    // durable-functions' TaskFailedError message: "<errorType>: <errorMessage>".
    assert.equal(done.output, 'Error: cannot decode b1/b.jpg');
    assert.equal(sample.callsOf('Summarize').length, 0);
  });

  test('an activity that returns {ok:false} does not fail the orchestration', async () => {
    const sample = sampleActivities({
      labelImage: (path) => (path.endsWith('b.jpg') ? { ok: false, path, error: 'cannot decode' } : { ok: true, path }),
    });
    const durable = localDurable({ activities: sample.activities });
    const id = await durable.client.startNew(ORCHESTRATION, { input: BATCH });
    const done = await durable.waitForCompletion(id, 5000);
    assert.equal(done.runtimeStatus, 'Completed');
    assert.deepEqual((done.output as Summary).failed, ['b1/b.jpg']);
    assert.equal((done.output as Summary).labeled, 3);
  });

  test('callActivityWithRetry retries with the interval and backoff of its RetryOptions, then succeeds', async () => {
    const sample = sampleActivities({ summarizeFailures: 2 });
    const store = createMemoryInstanceStore();
    const durable = localDurable({ activities: sample.activities, store });
    const id = await durable.client.startNew(ORCHESTRATION, { input: BATCH });
    const done = await durable.waitForCompletion(id, 5000);
    assert.equal(done.runtimeStatus, 'Completed');
    const tries = sample.callsOf('Summarize');
    assert.equal(tries.length, 3);
    // firstRetryInterval 20 ms, backoffCoefficient 2: about 20 ms, then about 40 ms between attempts.
    const gaps = [tries[1]!.at - tries[0]!.at, tries[2]!.at - tries[1]!.at];
    assert.ok(gaps[0]! >= 18 && gaps[0]! < 200, `first retry gap ${gaps[0]} ms`);
    assert.ok(gaps[1]! >= 38 && gaps[1]! < 300, `second retry gap ${gaps[1]} ms`);
    const stored = await store.read(id);
    assert.deepEqual(
      stored!.history.filter((e) => e.type === 'TaskAttemptFailed').map((e) => e.type === 'TaskAttemptFailed' && e.attempt),
      [1, 2],
    );
  });

  test('callActivityWithRetry fails the orchestration once maxNumberOfAttempts attempts have failed', async () => {
    const sample = sampleActivities({ summarizeFailures: 3 });
    const durable = localDurable({ activities: sample.activities });
    const id = await durable.client.startNew(ORCHESTRATION, { input: BATCH });
    const done = await durable.waitForCompletion(id, 5000);
    assert.equal(done.runtimeStatus, 'Failed');
    assert.equal(done.output, 'Error: summary store busy (3)');
    assert.equal(sample.callsOf('Summarize').length, 3);
  });

  test('an orchestrator exception fails the instance with its message; unsupported APIs say so', async () => {
    const sample = sampleActivities();
    const durable = localDurable({
      activities: sample.activities,
      orchestrations: {
        Throws: function* (context: OrchestrationContext) {
          yield context.df.callActivity('ListImages', BATCH);
          throw new Error('no images to label');
        },
        UsesTimer: function* (context: OrchestrationContext) {
          yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
          return 'never';
        },
        YieldsPromise: function* () {
          yield Promise.resolve(1) as unknown as df.Task;
          return 'never';
        },
      },
    });
    const throws = await durable.waitForCompletion(await durable.client.startNew('Throws'), 5000);
    assert.equal(throws.runtimeStatus, 'Failed');
    assert.equal(throws.output, 'no images to label');

    const timer = await durable.waitForCompletion(await durable.client.startNew('UsesTimer'), 5000);
    assert.equal(timer.runtimeStatus, 'Failed');
    assert.equal(timer.output, 'not supported by the local durable runner: durable timers (createTimer)');

    const promise = await durable.waitForCompletion(await durable.client.startNew('YieldsPromise'), 5000);
    assert.equal(promise.runtimeStatus, 'Failed');
    assert.match(String(promise.output), /Orchestration yielded data of type object/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Replay after a crash, on both stores

async function crashThenResume(store: InstanceStore, instanceId: string): Promise<void> {
  // First process: c.jpg never finishes labeling; everything else does. Then the process "dies" (no close()).
  const first = sampleActivities({
    labelImage: (path) => (path.endsWith('c.jpg') ? new Promise<LabelResult>(() => undefined) : { ok: true, path }),
  });
  const firstLogs: string[] = [];
  const crashed = createLocalDurable({
    orchestrations: { [ORCHESTRATION]: labelBatch },
    activities: first.activities,
    store,
    now: steppingClock('2024-05-01T10:00:00Z'),
    log: (line) => firstLogs.push(line),
  });
  await crashed.client.startNew(ORCHESTRATION, { instanceId, input: BATCH });
  await waitUntil('ListImages and three LabelImage outcomes are stored', async () => {
    const state = await store.read(instanceId);
    return (state?.history.filter((e) => e.type === 'TaskCompleted').length ?? 0) === 4;
  });
  assert.equal((await store.read(instanceId))!.runtimeStatus, 'Running');

  // Second process on the same store.
  const second = sampleActivities();
  const secondLogs: string[] = [];
  const restarted = createLocalDurable({
    orchestrations: { [ORCHESTRATION]: labelBatch },
    activities: second.activities,
    store,
    now: steppingClock('2024-06-01T08:00:00Z'),
    log: (line) => secondLogs.push(line),
  });
  running.push(restarted);
  await restarted.resume();
  const done = await restarted.waitForCompletion(instanceId, 5000);

  assert.equal(done.runtimeStatus, 'Completed');
  assert.deepEqual(
    first.calls.map((c) => c.name),
    ['ListImages', 'LabelImage', 'LabelImage', 'LabelImage', 'LabelImage'],
  );
  // Replay fed the recorded results: only the unfinished activity ran again, then the code went on.
  assert.deepEqual(
    second.calls.map((c) => [c.name, c.input.path ?? null]),
    [
      ['LabelImage', 'b1/c.jpg'],
      ['Summarize', null],
    ],
  );
  const output = done.output as Summary & { startedAt: string; finishedAt: string };
  assert.equal(output.labeled, 4);
  // currentUtcDateTime during replay is the recorded start time, not the new process's clock.
  assert.equal(output.startedAt, '2024-05-01T10:00:00.000Z');
  assert.ok(output.finishedAt.startsWith('2024-06-01'));
  // The code skips its log while replaying (context.df.isReplaying), as app code does.
  assert.equal(firstLogs.filter((l) => l.includes('labeling 4 images')).length, 1);
  assert.equal(secondLogs.filter((l) => l.includes('labeling 4 images')).length, 0);
  await restarted.close();
}

describe('replay after a crash', () => {
  test('memory store: completed activities are not re-run, the instance completes', async () => {
    await crashThenResume(createMemoryInstanceStore(), 'crash-memory');
  });

  test('changed orchestrator code is detected as non-deterministic on replay', async () => {
    const store = createMemoryInstanceStore();
    const hanging = sampleActivities({ labelImage: () => new Promise<LabelResult>(() => undefined) });
    const crashed = createLocalDurable({
      orchestrations: { [ORCHESTRATION]: labelBatch },
      activities: hanging.activities,
      store,
    });
    await crashed.client.startNew(ORCHESTRATION, { instanceId: 'changed', input: BATCH });
    await waitUntil('LabelImage is scheduled', async () =>
      Boolean((await store.read('changed'))?.history.some((e) => e.type === 'TaskScheduled' && e.name === 'LabelImage')),
    );
    const changed: OrchestrationHandler = function* (context) {
      yield context.df.callActivity('ListImagesV2', context.df.getInput());
      return 'v2';
    };
    const restarted = localDurable({
      orchestrations: { [ORCHESTRATION]: changed },
      activities: { ...hanging.activities, ListImagesV2: async () => [] },
      store,
    });
    await restarted.resume();
    const done = await restarted.waitForCompletion('changed', 5000);
    assert.equal(done.runtimeStatus, 'Failed');
    assert.match(String(done.output), /^Non-deterministic workflow detected: task 0 was 'ListImages'/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Client API

describe('client', () => {
  test('startNew on an existing id: refused while running, replaces a finished instance', async () => {
    const release = deferred();
    const sample = sampleActivities({
      labelImage: async (path) => {
        await release.promise;
        return { ok: true, path };
      },
    });
    const store = createMemoryInstanceStore();
    const durable = localDurable({ activities: sample.activities, store });
    assert.equal(await durable.client.startNew(ORCHESTRATION, { instanceId: 'eval-b1', input: BATCH }), 'eval-b1');
    await assert.rejects(
      durable.client.startNew(ORCHESTRATION, { instanceId: 'eval-b1', input: BATCH }),
      /unexpected status code: 500.*An Orchestration instance with the status (Pending|Running) already exists/,
    );
    await waitUntil('labeling started', () => sample.callsOf('LabelImage').length === 4);
    await assert.rejects(
      durable.client.startNew(ORCHESTRATION, { instanceId: 'eval-b1', input: BATCH }),
      /An Orchestration instance with the status Running already exists/,
    );
    release.resolve();
    const first = await durable.waitForCompletion('eval-b1', 5000);
    assert.equal((first.output as Summary).labeled, 4);

    const again: BatchInput = { batchId: 'b2', images: ['z.jpg'] };
    assert.equal(await durable.client.startNew(ORCHESTRATION, { instanceId: 'eval-b1', input: again }), 'eval-b1');
    const second = await durable.waitForCompletion('eval-b1', 5000);
    assert.equal(second.runtimeStatus, 'Completed');
    assert.deepEqual(second.input, again);
    assert.equal((second.output as Summary).batchId, 'b2');
    const history = (await store.read('eval-b1'))!.history;
    assert.equal(history.filter((e) => e.type === 'ExecutionStarted').length, 1);
    assert.equal(history.filter((e) => e.type === 'TaskScheduled' && e.name === 'LabelImage').length, 1);

    await assert.rejects(durable.client.startNew('NoSuchOrchestrator'), /unexpected status code: 400/);
  });

  test('getStatus of an unknown instance rejects like the real client', async () => {
    const durable = localDurable({ activities: sampleActivities().activities });
    await assert.rejects(
      durable.client.getStatus('nope'),
      new Error(
        'DurableClient error: Durable Functions extension replied with HTTP 404 response. ' +
          'This usually means we could not find any data associated with the instanceId provided: nope.',
      ),
    );
  });

  test('terminate: a running instance becomes Terminated with the reason; late results are dropped', async () => {
    const release = deferred();
    const sample = sampleActivities({
      labelImage: async (path) => {
        await release.promise;
        return { ok: true, path };
      },
    });
    const durable = localDurable({ activities: sample.activities });
    const id = await durable.client.startNew(ORCHESTRATION, { input: BATCH });
    await waitUntil('labeling started', () => sample.callsOf('LabelImage').length === 4);
    await durable.client.terminate(id, 'operator cancelled');
    release.resolve();
    await new Promise((r) => setTimeout(r, 30));
    const status = await durable.client.getStatus(id);
    assert.equal(status.runtimeStatus, 'Terminated');
    assert.equal(status.output, 'operator cancelled');
    assert.equal(sample.callsOf('Summarize').length, 0);
    await durable.client.terminate(id, 'again'); // not running: no-op, like the extension's 410
    await assert.rejects(durable.client.terminate('nope', 'x'), new Error("No instance with ID 'nope' found."));
  });

  test('createCheckStatusResponse: 202, Location, the management links under baseUrl', async () => {
    const durable = localDurable({ activities: sampleActivities().activities, baseUrl: 'http://127.0.0.1:7071' });
    const response = durable.client.createCheckStatusResponse(undefined, 'eval-b1');
    assert.equal(response.status, 202);
    const body = (await response.json()) as Record<string, string>;
    assert.deepEqual(Object.keys(body), [
      'id',
      'statusQueryGetUri',
      'sendEventPostUri',
      'terminatePostUri',
      'rewindPostUri',
      'purgeHistoryDeleteUri',
      'restartPostUri',
      'suspendPostUri',
      'resumePostUri',
    ]);
    assert.equal(body.id, 'eval-b1');
    const prefix = 'http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/eval-b1';
    for (const [key, value] of Object.entries(body)) if (key !== 'id') assert.ok(value.startsWith(prefix), `${key}: ${value}`);
    assert.equal(body.statusQueryGetUri, `${prefix}?taskHub=TestHubName&connection=Storage`);
    assert.equal(body.terminatePostUri, `${prefix}/terminate?reason={text}&taskHub=TestHubName&connection=Storage`);
    assert.equal(response.headers.get('Location'), body.statusQueryGetUri);
    assert.equal(response.headers.get('Retry-After'), '10');

    // The links follow the origin the request came in on, as the real client does.
    const request = new HttpRequest({ method: 'POST', url: 'http://192.168.1.20:8080/api/batches/b1/evaluate' });
    const viaRequest = (await durable.client.createCheckStatusResponse(request, 'eval-b1').json()) as Record<string, string>;
    assert.ok(viaRequest.statusQueryGetUri!.startsWith('http://192.168.1.20:8080/runtime/webhooks/durabletask/instances/eval-b1'));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Status endpoint, and the real DurableClient against it

function statusServer(handler: () => LocalDurable['statusHandler']): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = `http://${req.headers.host}${req.url}`;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const out = await handler()(new HttpRequest({ method: req.method ?? 'GET', url, headers }), new InvocationContext());
      res.writeHead(out.status ?? 200, (out.headers ?? {}) as Record<string, string>);
      res.end(out.jsonBody === undefined ? undefined : JSON.stringify(out.jsonBody));
    })();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        origin: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

/** durable-functions' own DurableClient, built the way df.getClient builds it from the host's binding data. */
function realClient(local: LocalDurable, origin: string): DurableClient {
  const clientInput = df.input.durableClient();
  const context = new InvocationContext({ options: { extraInputs: [clientInput] } });
  const webhooks = `${origin}/runtime/webhooks/durabletask`;
  context.extraInputs.set(clientInput, {
    taskHubName: 'TestHubName',
    creationUrls: {
      createNewInstancePostUri: `${webhooks}/orchestrators/{functionName}[/{instanceId}]?code=x`,
      createAndWaitOnNewInstancePostUri:
        `${webhooks}/orchestrators/{functionName}[/{instanceId}]` +
        '?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&code=x',
    },
    managementUrls: local.client.createHttpManagementPayload('INSTANCEID'),
    baseUrl: webhooks,
    requiredQueryStringParameters: '',
  });
  // Without WEBSITE_HOSTNAME the SDK rewrites every origin to http://localhost:7071 (its local default).
  const saved = process.env.WEBSITE_HOSTNAME;
  process.env.WEBSITE_HOSTNAME = 'local-durable-test';
  try {
    return df.getClient(context);
  } finally {
    if (saved === undefined) delete process.env.WEBSITE_HOSTNAME;
    else process.env.WEBSITE_HOSTNAME = saved;
  }
}

describe('status endpoint', () => {
  test('404 unknown, 202 + Location while running, 200 when completed or failed; same JSON as getStatus', async () => {
    const release = deferred();
    const sample = sampleActivities({
      labelImage: async (path) => {
        await release.promise;
        if (path.endsWith('d.jpg') && path.startsWith('bad')) throw new Error('boom');
        return { ok: true, path };
      },
    });
    const durable = localDurable({ activities: sample.activities });
    const get = (id: string) =>
      durable.statusHandler(
        new HttpRequest({
          method: 'GET',
          url: `http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/${id}?taskHub=TestHubName&connection=Storage`,
        }),
        new InvocationContext(),
      );

    const unknown = await get('nope');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.jsonBody, undefined);

    const id = await durable.client.startNew(ORCHESTRATION, { input: BATCH });
    const bad = await durable.client.startNew(ORCHESTRATION, { input: { batchId: 'bad', images: ['d.jpg'] } });
    await waitUntil('labeling started', () => sample.callsOf('LabelImage').length === 5);
    const whileRunning = await get(id);
    assert.equal(whileRunning.status, 202);
    const headers = whileRunning.headers as Record<string, string>;
    assert.match(headers.Location!, new RegExp(`/runtime/webhooks/durabletask/instances/${id}\\?`));
    assert.equal(headers['Retry-After'], '5');
    const body = whileRunning.jsonBody as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), [
      'name',
      'instanceId',
      'runtimeStatus',
      'input',
      'customStatus',
      'output',
      'createdTime',
      'lastUpdatedTime',
    ]);
    assert.equal(body.runtimeStatus, 'Running');
    assert.match(String(body.createdTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    release.resolve();
    await durable.waitForCompletion(id, 5000);
    await durable.waitForCompletion(bad, 5000);
    const completed = await get(id);
    assert.equal(completed.status, 200);
    assert.equal((completed.jsonBody as { runtimeStatus: string }).runtimeStatus, 'Completed');
    const { history: _history, ...status } = await durable.client.getStatus(id);
    assert.deepEqual(completed.jsonBody, {
      ...status,
      createdTime: status.createdTime.toISOString().replace('.000Z', 'Z'),
      lastUpdatedTime: status.lastUpdatedTime.toISOString().replace('.000Z', 'Z'),
    });
    const failed = await get(bad);
    assert.equal(failed.status, 200);
    assert.equal((failed.jsonBody as { runtimeStatus: string }).runtimeStatus, 'Failed');
  });

  test("durable-functions' own DurableClient reads our endpoint and builds the same responses", async () => {
    let durable: LocalDurable | undefined;
    const server = await statusServer(() => durable!.statusHandler);
    try {
      const sample = sampleActivities();
      durable = localDurable({ activities: sample.activities, baseUrl: server.origin });
      const real = realClient(durable, server.origin);
      const local: DurableClientLike = durable.client;
      const asLike: DurableClientLike = real; // the real client satisfies the app's interface too

      const id = await local.startNew(ORCHESTRATION, { instanceId: 'eval-real', input: BATCH });
      await durable.waitForCompletion(id, 5000);
      const viaReal = await asLike.getStatus(id);
      assert.equal(viaReal.constructor.name, 'DurableOrchestrationStatus');
      assert.deepEqual({ ...viaReal }, { ...(await local.getStatus(id)) });

      const realError = await real.getStatus('nope').catch((e: Error) => e.message);
      const localError = await local.getStatus('nope').catch((e: Error) => e.message);
      assert.equal(localError, realError);

      for (const request of [undefined, new HttpRequest({ method: 'POST', url: 'http://10.0.0.7:9000/api/start' })]) {
        const ours = local.createCheckStatusResponse(request, 'eval-real');
        const theirs = real.createCheckStatusResponse(request, 'eval-real');
        assert.equal(ours.status, theirs.status);
        assert.deepEqual(await ours.json(), await theirs.json());
        for (const header of ['Location', 'Retry-After', 'Content-Type']) {
          assert.equal(ours.headers.get(header), theirs.headers.get(header), header);
        }
      }
    } finally {
      await server.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Fidelity: durable-functions' own replay engine runs the same orchestrator

interface SdkTestingUtils {
  createOrchestrator(fn: OrchestrationHandler): (input: unknown, context: InvocationContext) => Promise<SdkState>;
  DurableOrchestrationInput: new (instanceId: string, history: unknown[], input: unknown) => unknown;
}
interface SdkAction {
  functionName: string;
  input: unknown;
}
interface SdkState {
  isDone: boolean;
  actions: SdkAction[][];
  output: unknown;
  customStatus?: unknown;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- an internal module of the SDK, untyped
const sdk = require('durable-functions/lib/src/util/testingUtils') as SdkTestingUtils;

/** HistoryEventType values of durable-functions (lib/src/history/HistoryEventType.js). */
const EventType = {
  ExecutionStarted: 0,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
};

/**
 * Plays the Durable extension's part around the SDK: run the orchestrator over the history, take the actions it
 * adds, run those activities, append TaskScheduled + TaskCompleted/TaskFailed (with FailureDetails, as current
 * extensions send), and go again until the SDK reports done or throws.
 */
async function runThroughSdk(
  handler: OrchestrationHandler,
  input: unknown,
  activities: Record<string, ActivityHandler>,
  start: Date,
): Promise<{ output?: unknown; customStatus?: unknown; error?: string }> {
  const orchestrator = sdk.createOrchestrator(handler);
  const history: object[] = [
    { EventType: EventType.OrchestratorStarted, EventId: -1, IsPlayed: false, Timestamp: start },
    {
      EventType: EventType.ExecutionStarted,
      EventId: -1,
      IsPlayed: false,
      Timestamp: start,
      Name: ORCHESTRATION,
      Input: JSON.stringify(input),
    },
  ];
  let known = 0;
  let nextTaskId = 0;
  for (let round = 1; round < 100; round++) {
    const context = new InvocationContext({ functionName: ORCHESTRATION, logHandler: () => undefined });
    let state: SdkState;
    try {
      state = await orchestrator(new sdk.DurableOrchestrationInput('sdk-instance', history, input), context);
    } catch (error) {
      // OrchestrationFailureError carries the orchestrator state (with its `error` message) after this label.
      const [, stateJson] = (error as Error).message.split('\n\n$OutOfProcData$:');
      return { error: (JSON.parse(stateJson ?? '{}') as { error?: string }).error ?? (error as Error).message };
    }
    if (state.isDone) return { output: state.output, customStatus: state.customStatus };
    const actions = state.actions.flat();
    const fresh = actions.slice(known);
    known = actions.length;
    if (fresh.length === 0) throw new Error('the SDK orchestrator waits but scheduled nothing new');
    const at = new Date(start.getTime() + round * 1000);
    history.push({ EventType: EventType.OrchestratorCompleted, EventId: -1, IsPlayed: false, Timestamp: at });
    const outcomes: object[] = [];
    for (const action of fresh) {
      const taskId = nextTaskId++;
      // durable-functions JSON-encodes string inputs in its actions (Utils.processInput); the host decodes them.
      const activityInput = typeof action.input === 'string' ? JSON.parse(action.input) : action.input;
      history.push({
        EventType: EventType.TaskScheduled,
        EventId: taskId,
        IsPlayed: false,
        Timestamp: at,
        Name: action.functionName,
        Input: JSON.stringify(activityInput),
      });
      try {
        const result = await activities[action.functionName]!(activityInput, new InvocationContext());
        outcomes.push({
          EventType: EventType.TaskCompleted,
          EventId: -1,
          IsPlayed: false,
          Timestamp: at,
          TaskScheduledId: taskId,
          Result: JSON.stringify(result),
        });
      } catch (error) {
        const e = error as Error;
        outcomes.push({
          EventType: EventType.TaskFailed,
          EventId: -1,
          IsPlayed: false,
          Timestamp: at,
          TaskScheduledId: taskId,
          FailureDetails: { ErrorType: e.name, ErrorMessage: e.message },
        });
      }
    }
    history.push({ EventType: EventType.OrchestratorStarted, EventId: -1, IsPlayed: false, Timestamp: at }, ...outcomes);
  }
  throw new Error('the SDK orchestrator did not finish in 100 rounds');
}

describe("fidelity with durable-functions' replay engine", () => {
  const start = new Date('2024-05-01T10:00:00Z');

  test('same activities, same inputs, same order, same output and custom status', async () => {
    const ours = sampleActivities();
    const theirs = sampleActivities();
    const durable = localDurable({ activities: ours.activities, maxConcurrentActivities: 1, now: () => start });
    const id = await durable.client.startNew(ORCHESTRATION, { input: BATCH });
    const local = await durable.waitForCompletion(id, 5000);
    const reference = await runThroughSdk(labelBatch, BATCH, theirs.activities, start);

    assert.equal(reference.error, undefined);
    assert.ok(theirs.calls.length === 6, `the SDK run called ${theirs.calls.length} activities`);
    assert.deepEqual(
      ours.calls.map((c) => [c.name, c.input]),
      theirs.calls.map((c) => [c.name, c.input]),
    );
    assert.equal(local.runtimeStatus, 'Completed');
    assert.deepEqual(local.output, { ...(reference.output as object), finishedAt: start.toISOString() });
    assert.deepEqual(local.customStatus, reference.customStatus);
  });

  test('same failure message when an activity throws inside Task.all', async () => {
    const failing = {
      labelImage: (path: string): LabelResult => {
        if (path.endsWith('c.jpg')) throw new TypeError(`unsupported format ${path}`);
        return { ok: true, path };
      },
    };
    const ours = sampleActivities(failing);
    const theirs = sampleActivities(failing);
    const durable = localDurable({ activities: ours.activities, maxConcurrentActivities: 1, now: () => start });
    const local = await durable.waitForCompletion(await durable.client.startNew(ORCHESTRATION, { input: BATCH }), 5000);
    const reference = await runThroughSdk(labelBatch, BATCH, theirs.activities, start);

    assert.equal(reference.error, 'TypeError: unsupported format b1/c.jpg');
    assert.equal(local.runtimeStatus, 'Failed');
    assert.equal(local.output, reference.error);
    assert.deepEqual(
      ours.calls.map((c) => [c.name, c.input]),
      theirs.calls.map((c) => [c.name, c.input]),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Blob store against a real Azurite

describe('blob instance store (Azurite)', () => {
  const services = useLocalServices();

  test('replay after a crash works from blobs', async () => {
    const store = createBlobInstanceStore({
      connection: services().azurite.connectionString,
      containerName: 'durable-crash',
    });
    await crashThenResume(store, 'crash-blob');
  });

  test('instances persist as JSON blobs: status metadata, listing by status, readable by a new store', async () => {
    const connection = services().azurite.connectionString;
    const store = createBlobInstanceStore({ connection, containerName: 'durable-local' });
    assert.equal(await store.read('missing'), undefined);
    assert.deepEqual(await store.listIds(), []);

    const sample = sampleActivities();
    const durable = localDurable({ activities: sample.activities, store });
    await durable.client.startNew(ORCHESTRATION, { instanceId: 'eval/b1#x', input: BATCH }).then(
      () => assert.fail('an id with / or # must be refused'),
      (error: Error) => assert.match(error.message, /unexpected status code: 400/),
    );
    const id = await durable.client.startNew(ORCHESTRATION, { instanceId: 'eval-b1 ü', input: BATCH });
    await durable.waitForCompletion(id, 5000);
    await durable.close();

    const fresh = createBlobInstanceStore({ connection, containerName: 'durable-local' });
    const state = await fresh.read(id);
    assert.equal(state?.runtimeStatus, 'Completed');
    assert.equal((state?.output as Summary).labeled, 4);
    assert.equal(state?.history[0]?.type, 'ExecutionStarted');
    assert.equal(state?.history.filter((e) => e.type === 'TaskCompleted').length, 6);
    assert.deepEqual(await fresh.listIds(['Completed']), [id]);
    assert.deepEqual(await fresh.listIds(['Pending', 'Running']), []);

    const blob = BlobServiceClient.fromConnectionString(connection)
      .getContainerClient('durable-local')
      .getBlobClient(`instances/${encodeURIComponent(id)}.json`);
    const props = await blob.getProperties();
    assert.equal(props.contentType, 'application/json');
    assert.equal(props.metadata?.runtimestatus, 'Completed');

    // A new runner over the same container answers status queries from the blobs.
    const reader = localDurable({ activities: sample.activities, store: fresh });
    const status = await reader.client.getStatus(id);
    assert.equal(status.runtimeStatus, 'Completed');
    assert.deepEqual(status.input, BATCH);
  });
});
