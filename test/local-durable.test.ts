/**
 * The local durable runner (dev/local-host/durable): orchestrators and activities registered exactly as the app
 * registers them (df.app.orchestration / df.app.activity, through the local host's functions runtime) run
 * in-process, replayed by durable-functions' own engine, with Durable's semantics (Task.all failure, retries, custom
 * status, currentUtcDateTime from the history, startNew on an existing id, terminate, crash replay), on the memory
 * store and on blobs in a real Azurite. The client is durable-functions' own DurableClient (df.getClient) talking
 * to the extension's HTTP API that the runner serves through the local HTTP host.
 */
// First: df.app.* registrations go to the local host's runtime, which hands back the SDK's callbacks.
import '../dev/local-host/runtime-installed';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import * as df from 'durable-functions';
import type { ActivityHandler, DurableClient, OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { findFreePorts } from '../dev/local-host/azurite';
import {
  createBlobInstanceStore,
  createLocalDurable,
  createMemoryInstanceStore,
  type ActivityCallback,
  type InstanceStore,
  type LocalDurable,
  type LocalDurableOptions,
  type OrchestratorCallback,
} from '../dev/local-host/durable';
import { registeredFunctions } from '../dev/local-host/functions-runtime';
import { startHttpHost } from '../dev/local-host/http';
import { useLocalServices } from './helpers/local-services';

// Any value without 0.0.0.0: df.getClient then keeps the links' own origin (it rewrites to localhost:7071 otherwise).
process.env.WEBSITE_HOSTNAME ??= '127.0.0.1';

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

let serial = 0;
/** Registers a function under a fresh name with `register` and returns the callback the SDK handed the runtime. */
function registeredCallback<T>(register: (name: string) => void): T {
  const name = `localDurableTest${++serial}`;
  register(name);
  const fn = registeredFunctions().find((f) => f.name === name);
  if (!fn) throw new Error(`${name} did not register`);
  return fn.callback as T;
}
const asOrchestrator = (handler: OrchestrationHandler) =>
  registeredCallback<OrchestratorCallback>((name) => df.app.orchestration(name, handler));
const asActivity = (handler: ActivityHandler) => registeredCallback<ActivityCallback>((name) => df.app.activity(name, { handler }));
const mapValues = <A, B>(record: Record<string, A>, f: (value: A) => B): Record<string, B> =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [key, f(value)]));

/** durable-functions' own client, built by df.getClient from the binding data the host gives a durableClient input. */
function clientOf(durable: LocalDurable): DurableClient {
  const input = df.input.durableClient();
  const context = new InvocationContext({
    functionName: 'client',
    options: { trigger: { type: 'httpTrigger', name: 'request' }, extraInputs: [input], extraOutputs: [] },
  });
  context.extraInputs.set(input, durable.clientData);
  return df.getClient(context);
}

interface RunningDurable {
  durable: LocalDurable;
  client: DurableClient;
  /** The local HTTP host serving the runner's Durable API, e.g. http://127.0.0.1:53211. */
  origin: string;
  /** Stops serving the API (the runner itself stays as it is: a "crashed" process is never closed). */
  stopServing(): Promise<void>;
}

type DurableOptions = Partial<Omit<LocalDurableOptions, 'orchestrations' | 'activities'>> & {
  activities: Record<string, ActivityHandler>;
  /** Default: the sample orchestration under its name. */
  orchestrations?: Record<string, OrchestrationHandler>;
};

const serving: Array<() => Promise<void>> = [];
after(async () => {
  for (const stop of serving.reverse()) await stop();
});

/** A runner with its API served on a free port; `crashes`: never closed (it stands for a process that died). */
async function startDurable(options: DurableOptions, { crashes = false } = {}): Promise<RunningDurable> {
  const [port] = await findFreePorts(1);
  const origin = `http://127.0.0.1:${port}`;
  const { activities, orchestrations = { [ORCHESTRATION]: labelBatch }, ...rest } = options;
  const durable = createLocalDurable({
    store: createMemoryInstanceStore(),
    closeGraceMs: 200,
    baseUrl: origin,
    ...rest,
    orchestrations: mapValues(orchestrations, asOrchestrator),
    activities: mapValues(activities, asActivity),
  });
  const http = await startHttpHost({ functions: [], port: port!, extraRoutes: durable.routes, log: () => undefined });
  let stopped: Promise<void> | undefined;
  const stopServing = () => (stopped ??= http.close());
  serving.push(async () => {
    if (!crashes) await durable.close();
    await stopServing();
  });
  return { durable, client: clientOf(durable), origin, stopServing };
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
    const { durable, client } = await startDurable({ activities: sample.activities, log: (line) => logs.push(line) });
    const id = await client.startNew(ORCHESTRATION, { input: BATCH });
    assert.match(id, /^[0-9a-f]{32}$/);

    await waitUntil('all four images are being labeled', () => sample.callsOf('LabelImage').length === 4);
    const mid = await client.getStatus(id);
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
    const { durable, client } = await startDurable({
      activities: sample.activities,
      now: steppingClock('2024-05-01T10:00:00Z'),
      maxConcurrentActivities: 1,
    });
    const id = await client.startNew(ORCHESTRATION, { input: BATCH });
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
    const { durable, client } = await startDurable({ activities: sample.activities });
    const id = await client.startNew(ORCHESTRATION, { input: BATCH });
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
    const { durable, client } = await startDurable({ activities: sample.activities });
    const id = await client.startNew(ORCHESTRATION, { input: BATCH });
    const done = await durable.waitForCompletion(id, 5000);
    assert.equal(done.runtimeStatus, 'Completed');
    assert.deepEqual((done.output as Summary).failed, ['b1/b.jpg']);
    assert.equal((done.output as Summary).labeled, 3);
  });

  test('callActivityWithRetry retries with the interval and backoff of its RetryOptions, then succeeds', async () => {
    const sample = sampleActivities({ summarizeFailures: 2 });
    const store = createMemoryInstanceStore();
    const { durable, client } = await startDurable({ activities: sample.activities, store });
    const id = await client.startNew(ORCHESTRATION, { input: BATCH });
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
    const { durable, client } = await startDurable({ activities: sample.activities });
    const id = await client.startNew(ORCHESTRATION, { input: BATCH });
    const done = await durable.waitForCompletion(id, 5000);
    assert.equal(done.runtimeStatus, 'Failed');
    assert.equal(done.output, 'Error: summary store busy (3)');
    assert.equal(sample.callsOf('Summarize').length, 3);
  });

  test('an orchestrator exception fails the instance with its message; unsupported APIs say so', async () => {
    const sample = sampleActivities();
    const { durable, client } = await startDurable({
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
    const throws = await durable.waitForCompletion(await client.startNew('Throws'), 5000);
    assert.equal(throws.runtimeStatus, 'Failed');
    assert.equal(throws.output, 'no images to label');

    const timer = await durable.waitForCompletion(await client.startNew('UsesTimer'), 5000);
    assert.equal(timer.runtimeStatus, 'Failed');
    assert.equal(timer.output, 'not supported by the local durable runner: durable timers (createTimer)');

    const promise = await durable.waitForCompletion(await client.startNew('YieldsPromise'), 5000);
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
  const crashed = await startDurable(
    { activities: first.activities, store, now: steppingClock('2024-05-01T10:00:00Z'), log: (line) => firstLogs.push(line) },
    { crashes: true },
  );
  await crashed.client.startNew(ORCHESTRATION, { instanceId, input: BATCH });
  await waitUntil('ListImages and three LabelImage outcomes are stored', async () => {
    const state = await store.read(instanceId);
    return (state?.history.filter((e) => e.type === 'TaskCompleted').length ?? 0) === 4;
  });
  assert.equal((await store.read(instanceId))!.runtimeStatus, 'Running');

  // Second process on the same store.
  const second = sampleActivities();
  const secondLogs: string[] = [];
  await crashed.stopServing();
  const { durable: restarted } = await startDurable({
    activities: second.activities,
    store,
    now: steppingClock('2024-06-01T08:00:00Z'),
    log: (line) => secondLogs.push(line),
  });
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
}

describe('replay after a crash', () => {
  test('memory store: completed activities are not re-run, the instance completes', async () => {
    await crashThenResume(createMemoryInstanceStore(), 'crash-memory');
  });

  test('changed orchestrator code is detected as non-deterministic on replay', async () => {
    const store = createMemoryInstanceStore();
    const hanging = sampleActivities({ labelImage: () => new Promise<LabelResult>(() => undefined) });
    const crashed = await startDurable({ activities: hanging.activities, store }, { crashes: true });
    await crashed.client.startNew(ORCHESTRATION, { instanceId: 'changed', input: BATCH });
    await waitUntil('LabelImage is scheduled', async () =>
      Boolean((await store.read('changed'))?.history.some((e) => e.type === 'TaskScheduled' && e.name === 'LabelImage')),
    );
    const changed: OrchestrationHandler = function* (context) {
      yield context.df.callActivity('ListImagesV2', context.df.getInput());
      return 'v2';
    };
    await crashed.stopServing();
    const { durable: restarted } = await startDurable({
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
    const { durable, client } = await startDurable({ activities: sample.activities, store });
    assert.equal(await client.startNew(ORCHESTRATION, { instanceId: 'eval-b1', input: BATCH }), 'eval-b1');
    await assert.rejects(
      client.startNew(ORCHESTRATION, { instanceId: 'eval-b1', input: BATCH }),
      /unexpected status code: 500.*An Orchestration instance with the status (Pending|Running) already exists/,
    );
    await waitUntil('labeling started', () => sample.callsOf('LabelImage').length === 4);
    await assert.rejects(
      client.startNew(ORCHESTRATION, { instanceId: 'eval-b1', input: BATCH }),
      /An Orchestration instance with the status Running already exists/,
    );
    release.resolve();
    const first = await durable.waitForCompletion('eval-b1', 5000);
    assert.equal((first.output as Summary).labeled, 4);

    const again: BatchInput = { batchId: 'b2', images: ['z.jpg'] };
    assert.equal(await client.startNew(ORCHESTRATION, { instanceId: 'eval-b1', input: again }), 'eval-b1');
    const second = await durable.waitForCompletion('eval-b1', 5000);
    assert.equal(second.runtimeStatus, 'Completed');
    assert.deepEqual(second.input, again);
    assert.equal((second.output as Summary).batchId, 'b2');
    const history = (await store.read('eval-b1'))!.history;
    assert.equal(history.filter((e) => e.type === 'ExecutionStarted').length, 1);
    assert.equal(history.filter((e) => e.type === 'TaskScheduled' && e.name === 'LabelImage').length, 1);

    await assert.rejects(client.startNew('NoSuchOrchestrator'), /unexpected status code: 400/);
  });

  test('getStatus of an unknown instance rejects like the real client', async () => {
    const { client } = await startDurable({ activities: sampleActivities().activities });
    await assert.rejects(
      client.getStatus('nope'),
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
    const { client } = await startDurable({ activities: sample.activities });
    const id = await client.startNew(ORCHESTRATION, { input: BATCH });
    await waitUntil('labeling started', () => sample.callsOf('LabelImage').length === 4);
    await client.terminate(id, 'operator cancelled');
    release.resolve();
    await new Promise((r) => setTimeout(r, 30));
    const status = await client.getStatus(id);
    assert.equal(status.runtimeStatus, 'Terminated');
    assert.equal(status.output, 'operator cancelled');
    assert.equal(sample.callsOf('Summarize').length, 0);
    await client.terminate(id, 'again'); // not running: no-op, like the extension's 410
    await assert.rejects(client.terminate('nope', 'x'), new Error("No instance with ID 'nope' found."));
  });

  test("createCheckStatusResponse: 202, Location, the management links on the runner's origin, and they answer", async () => {
    const { durable, client, origin } = await startDurable({ activities: sampleActivities().activities });
    const response = client.createCheckStatusResponse(undefined, 'eval-b1');
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
    const prefix = `${origin}/runtime/webhooks/durabletask/instances/eval-b1`;
    for (const [key, value] of Object.entries(body)) if (key !== 'id') assert.ok(value.startsWith(prefix), `${key}: ${value}`);
    assert.equal(body.statusQueryGetUri, `${prefix}?taskHub=TestHubName&connection=Storage`);
    assert.equal(body.terminatePostUri, `${prefix}/terminate?reason={text}&taskHub=TestHubName&connection=Storage`);
    assert.equal(response.headers.get('Location'), body.statusQueryGetUri);
    assert.equal(response.headers.get('Retry-After'), '10');

    // The status link is served: unknown before the start, the instance's status after it.
    assert.equal((await fetch(body.statusQueryGetUri!)).status, 404);
    await client.startNew(ORCHESTRATION, { instanceId: 'eval-b1', input: BATCH });
    await durable.waitForCompletion('eval-b1', 5000);
    const status = await fetch(body.statusQueryGetUri!);
    assert.equal(status.status, 200);
    assert.equal(((await status.json()) as { runtimeStatus: string }).runtimeStatus, 'Completed');

    // The links follow the origin the request came in on, as the real client does.
    const request = new HttpRequest({ method: 'POST', url: 'http://192.168.1.20:8080/api/batches/b1/evaluate' });
    const viaRequest = (await client.createCheckStatusResponse(request, 'eval-b1').json()) as Record<string, string>;
    assert.ok(viaRequest.statusQueryGetUri!.startsWith('http://192.168.1.20:8080/runtime/webhooks/durabletask/instances/eval-b1'));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The status endpoint over HTTP

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
    const { durable, client, origin } = await startDurable({ activities: sample.activities });
    const get = async (id: string) => {
      const response = await fetch(`${origin}/runtime/webhooks/durabletask/instances/${id}?taskHub=TestHubName&connection=Storage`);
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
    };

    const unknown = await get('nope');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body, undefined);

    const id = await client.startNew(ORCHESTRATION, { input: BATCH });
    const bad = await client.startNew(ORCHESTRATION, { input: { batchId: 'bad', images: ['d.jpg'] } });
    await waitUntil('labeling started', () => sample.callsOf('LabelImage').length === 5);
    const whileRunning = await get(id);
    assert.equal(whileRunning.status, 202);
    assert.match(whileRunning.headers.get('Location')!, new RegExp(`/runtime/webhooks/durabletask/instances/${id}\\?`));
    assert.equal(whileRunning.headers.get('Retry-After'), '5');
    assert.deepEqual(Object.keys(whileRunning.body!), [
      'name',
      'instanceId',
      'runtimeStatus',
      'input',
      'customStatus',
      'output',
      'createdTime',
      'lastUpdatedTime',
    ]);
    assert.equal(whileRunning.body!.runtimeStatus, 'Running');
    assert.match(String(whileRunning.body!.createdTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    release.resolve();
    await durable.waitForCompletion(id, 5000);
    await durable.waitForCompletion(bad, 5000);
    const completed = await get(id);
    assert.equal(completed.status, 200);
    assert.equal(completed.body!.runtimeStatus, 'Completed');
    const { history: _history, ...status } = await client.getStatus(id);
    assert.deepEqual(completed.body, {
      ...status,
      createdTime: status.createdTime.toISOString().replace('.000Z', 'Z'),
      lastUpdatedTime: status.lastUpdatedTime.toISOString().replace('.000Z', 'Z'),
    });
    const failed = await get(bad);
    assert.equal(failed.status, 200);
    assert.equal(failed.body!.runtimeStatus, 'Failed');
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
    const { durable, client } = await startDurable({ activities: ours.activities, maxConcurrentActivities: 1, now: () => start });
    const id = await client.startNew(ORCHESTRATION, { input: BATCH });
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
    const { durable, client } = await startDurable({ activities: ours.activities, maxConcurrentActivities: 1, now: () => start });
    const local = await durable.waitForCompletion(await client.startNew(ORCHESTRATION, { input: BATCH }), 5000);
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
    const { durable, client } = await startDurable({ activities: sample.activities, store });
    // The client puts the id into the URL as it is: a '/' makes a path no route serves (as in Azure), an encoded
    // one reaches the runner, which refuses it.
    await assert.rejects(client.startNew(ORCHESTRATION, { instanceId: 'eval/b1#x', input: BATCH }), /unexpected status code: 404/);
    await assert.rejects(
      client.startNew(ORCHESTRATION, { instanceId: 'eval%2Fb1', input: BATCH }),
      /unexpected status code: 400.*Instance ID 'eval\/b1' contains an invalid character/,
    );
    const id = await client.startNew(ORCHESTRATION, { instanceId: 'eval-b1 ü', input: BATCH });
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
    const reader = await startDurable({ activities: sample.activities, store: fresh });
    const status = await reader.client.getStatus(id);
    assert.equal(status.runtimeStatus, 'Completed');
    assert.deepEqual(status.input, BATCH);
  });
});
