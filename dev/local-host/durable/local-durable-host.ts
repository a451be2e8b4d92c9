/**
 * The local stand-in for the Durable extension inside one process: starts instances, keeps the running ones, answers
 * status reads, resumes unfinished instances from the store after a restart and shuts down cleanly.
 * Its face is the HTTP API the durable-functions client speaks (http-api.ts).
 *
 * One host per store: like Durable's partition leases, nothing stops two processes from driving the same instance,
 * so run a single local host per container.
 */
import { randomUUID } from 'node:crypto';
import type { LogHandler } from '@azure/functions';
import type { ActivityCallback } from './activity-invocation';
import type { OrchestratorCallback } from './orchestrator-replay';
import { DurableApiError, RunnerClosedError, instanceNotFound } from './errors';
import { ACTIVE_STATUSES, INSTANCE_STATE_SCHEMA_VERSION, isActiveStatus, type InstanceState } from './instance-state';
import { InstanceRunner, type InstanceRunnerDeps } from './instance-runner';
import type { InstanceStore } from './instance-store';
import { throughJson } from './json-value';
import { createLimiter, type Limiter } from '../../../src/adapters/concurrency/limits';

export interface LocalDurableHostOptions {
  orchestrations: Readonly<Record<string, OrchestratorCallback>>;
  activities: Readonly<Record<string, ActivityCallback>>;
  store: InstanceStore;
  /** Activities running at once, over all instances (the host's maxConcurrentActivityFunctions). */
  maxConcurrentActivities: number;
  /** How long close() waits for running activity invocations before giving up on them. */
  closeGraceMs: number;
  log: (line: string) => void;
  now: () => Date;
}

/** Durable refuses instance ids with these (they break the storage keys and the management URLs). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
const INVALID_INSTANCE_ID = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

export class LocalDurableHost {
  private readonly runners = new Map<string, InstanceRunner>();
  /** Ids whose startNew is between its checks and its first write: a second startNew must see them as running. */
  private readonly starting = new Set<string>();
  private readonly deps: InstanceRunnerDeps;
  private readonly slots: Limiter;
  private readonly closing = new AbortController();
  private readonly pendingStarts = new Set<NodeJS.Immediate>();
  private closed = false;

  constructor(private readonly options: LocalDurableHostOptions) {
    this.slots = createLimiter(options.maxConcurrentActivities, { closedError: () => new RunnerClosedError() });
    const logHandler: LogHandler = (level, ...args) =>
      options.log(`[${level}] ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
    this.deps = {
      orchestrations: options.orchestrations,
      activities: options.activities,
      store: options.store,
      slots: this.slots,
      closing: this.closing.signal,
      now: options.now,
      log: options.log,
      logHandler,
    };
  }

  /**
   * Creates the instance (Pending) and returns its id; the orchestrator starts right after, asynchronously, as a
   * queue message would start it in Azure.
   *
   * An existing id follows the extension's default `overridableExistingInstanceStates: NonRunningStates`: an
   * instance that is Completed, Failed or Terminated is replaced by the new one (fresh history, new input); one that
   * is Pending or Running is not touched and the call fails with InvalidOperationException "An Orchestration
   * instance with the status Running already exists.", which the extension answers as HTTP 500 and the JS client
   * rejects as "The operation failed with an unexpected status code: 500. Details: {...}". We reject the same way.
   */
  async startNew(name: string, options?: { instanceId?: string; input?: unknown }): Promise<string> {
    if (this.closed) throw new Error('the local durable runner is closed');
    if (!name) throw new Error('orchestratorFunctionName must be a valid string.');
    if (!this.options.orchestrations[name]) {
      throw new DurableApiError(400, {
        Message: 'One or more of the arguments submitted is incorrect',
        ExceptionMessage: `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        ExceptionType: 'System.ArgumentException',
      });
    }
    const instanceId = options?.instanceId || randomUUID().replace(/-/g, '');
    if (INVALID_INSTANCE_ID.test(instanceId)) {
      throw new DurableApiError(400, {
        Message: 'One or more of the arguments submitted is incorrect',
        ExceptionMessage: `Instance ID '${instanceId}' contains an invalid character (/, \\, #, ? or a control character).`,
        ExceptionType: 'System.ArgumentException',
      });
    }
    const runningHere = this.runners.get(instanceId);
    if (this.starting.has(instanceId) || runningHere?.isActive) {
      throw alreadyExists(runningHere?.snapshot.runtimeStatus ?? 'Pending');
    }
    this.starting.add(instanceId);
    try {
      const existing = await this.options.store.read(instanceId);
      if (existing && isActiveStatus(existing.runtimeStatus)) throw alreadyExists(existing.runtimeStatus);
      const now = this.options.now().toISOString();
      const input = throughJson(options?.input);
      const state: InstanceState = {
        schemaVersion: INSTANCE_STATE_SCHEMA_VERSION,
        instanceId,
        name,
        runtimeStatus: 'Pending',
        input,
        output: undefined,
        customStatus: undefined,
        createdTime: now,
        lastUpdatedTime: now,
        history: [{ type: 'ExecutionStarted', timestamp: now, name, input }],
      };
      await this.options.store.write(state);
      const runner = this.adopt(state);
      const start = setImmediate(() => {
        this.pendingStarts.delete(start);
        if (!this.closed) runner.run();
      });
      this.pendingStarts.add(start);
      this.options.log(`[durable] ${name} ${instanceId} scheduled`);
      return instanceId;
    } finally {
      this.starting.delete(instanceId);
    }
  }

  /** The freshest state: the running copy when this host drives the instance, else the stored one. */
  async readState(instanceId: string): Promise<InstanceState | undefined> {
    return this.runners.get(instanceId)?.snapshot ?? (await this.options.store.read(instanceId));
  }

  /** Like the extension: unknown id -> rejects (404); not running -> false (410); else Terminated, true (202). */
  async terminate(instanceId: string, reason: string): Promise<boolean> {
    const runner = this.runners.get(instanceId);
    if (runner?.isActive) {
      runner.terminate(reason);
      await runner.settled;
      return true;
    }
    const stored = await this.options.store.read(instanceId);
    if (!stored) throw instanceNotFound(instanceId);
    if (!isActiveStatus(stored.runtimeStatus)) return false;
    // Unfinished in the store but not resumed by this host: terminating is only a status change.
    await this.options.store.write({
      ...stored,
      runtimeStatus: 'Terminated',
      output: reason,
      lastUpdatedTime: this.options.now().toISOString(),
    });
    return true;
  }

  /** Restarts every Pending/Running instance of the store that this host is not already driving. */
  async resume(): Promise<void> {
    if (this.closed) throw new Error('the local durable runner is closed');
    const ids = await this.options.store.listIds(ACTIVE_STATUSES);
    for (const id of ids) {
      if (this.runners.get(id)?.isActive || this.starting.has(id)) continue;
      const state = await this.options.store.read(id);
      if (!state || !isActiveStatus(state.runtimeStatus)) continue;
      this.options.log(`[durable] resuming ${state.name} ${id} (${state.history.length} history events)`);
      this.adopt(state).run();
    }
  }

  /**
   * Resolves with the final state once the instance is Completed, Failed or Terminated (and written); rejects after
   * `timeoutMs`, or at once for an unknown id.
   */
  async waitForCompletion(instanceId: string, timeoutMs: number): Promise<InstanceState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const runner = this.runners.get(instanceId);
      const state = runner ? runner.snapshot : await this.options.store.read(instanceId);
      if (!state) throw new Error(`no orchestration instance with id '${instanceId}'`);
      if (!isActiveStatus(state.runtimeStatus)) {
        if (runner) await runner.settled;
        return state;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`orchestration instance '${instanceId}' did not finish within ${timeoutMs} ms (status ${state.runtimeStatus})`);
      }
      // Woken by this host's runner when it drives the instance; polling covers an instance nobody here drives yet.
      await sleepOrSettle(runner?.settled, Math.min(left, runner ? left : 50));
    }
  }

  /**
   * Starts nothing new (queued activities and retry waits are dropped: they stay unfinished in the history for
   * resume()), lets running activity invocations finish for up to closeGraceMs and records their outcomes, then
   * waits for the pending writes.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const start of this.pendingStarts) clearImmediate(start);
    this.pendingStarts.clear();
    this.closing.abort(new RunnerClosedError());
    await sleepOrSettle(this.slots.close(), this.options.closeGraceMs);
    await Promise.all([...this.runners.values()].map((runner) => runner.flush()));
    this.runners.clear();
  }

  private adopt(state: InstanceState): InstanceRunner {
    const runner = new InstanceRunner(state, this.deps);
    this.runners.set(state.instanceId, runner);
    void runner.settled.then(() => {
      if (this.runners.get(state.instanceId) === runner) this.runners.delete(state.instanceId);
    });
    return runner;
  }
}

function alreadyExists(status: string): Error {
  return new DurableApiError(500, {
    Message: 'Something went wrong while processing your request',
    ExceptionMessage: `An Orchestration instance with the status ${status} already exists.`,
    ExceptionType: 'System.InvalidOperationException',
  });
}

function sleepOrSettle(settled: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const sleep = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([sleep, settled?.then(() => undefined) ?? sleep]).finally(() => clearTimeout(timer));
}
