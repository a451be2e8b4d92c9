/**
 * The `context.df` that orchestrator code sees under the local runner: the subset of durable-functions'
 * DurableOrchestrationContext the app uses, with the same names and behaviour, and a clear error for the rest.
 * Calling an API only creates a task; nothing is scheduled until the task is yielded (as in Durable), which the
 * execution (orchestration-execution.ts) takes care of.
 */
import { RetryOptions, type DurableOrchestrationContext, type LockState, type Task, type TimerTask } from 'durable-functions';
import { UnsupportedDurableFeatureError } from './errors';
import type { RetryPolicy } from './instance-state';
import { throughJson } from './json-value';
import { ActivityTask, LocalTask, WhenAllTask, WhenAnyTask } from './tasks';

function retryPolicyOf(options: RetryOptions): RetryPolicy {
  // Same check as durable-functions' CallActivityWithRetryAction.
  if (!(options instanceof RetryOptions)) {
    throw new TypeError('retryOptions: Expected object of type RetryOptions but got ' + typeof options + '.');
  }
  return {
    firstRetryIntervalInMilliseconds: options.firstRetryIntervalInMilliseconds,
    maxNumberOfAttempts: options.maxNumberOfAttempts,
    // Unset (undefined) fields fall back to Durable Task's defaults: coefficient 1, no cap, no timeout.
    ...(options.backoffCoefficient ? { backoffCoefficient: options.backoffCoefficient } : {}),
    ...(options.maxRetryIntervalInMilliseconds ? { maxRetryIntervalInMilliseconds: options.maxRetryIntervalInMilliseconds } : {}),
    ...(options.retryTimeoutInMilliseconds ? { retryTimeoutInMilliseconds: options.retryTimeoutInMilliseconds } : {}),
  };
}

function localTasks(tasks: Task[], api: string): LocalTask[] {
  if (!Array.isArray(tasks) || !tasks.every((t) => t instanceof LocalTask)) {
    // durable-functions throws for anything but an array of its own tasks; same here.
    throw new Error(
      `${api} received a non-valid input. This may occur if it somehow received a non-list input, ` +
        "or if the input list's Tasks were corrupted. Please review your orchestrator code and/or file an issue.",
    );
  }
  return tasks as LocalTask[];
}

export class LocalDurableOrchestrationContext implements DurableOrchestrationContext {
  readonly parentInstanceId: string | undefined = undefined;
  readonly version: string | undefined = undefined;
  isReplaying = false;
  currentUtcDateTime: Date;
  customStatus: unknown = undefined;

  readonly Task = {
    all: (tasks: Task[]): Task => new WhenAllTask(localTasks(tasks, 'Task.all')),
    any: (tasks: Task[]): Task => new WhenAnyTask(localTasks(tasks, 'Task.any')),
  };

  constructor(
    readonly instanceId: string,
    private readonly input: unknown,
    startedAt: Date,
  ) {
    this.currentUtcDateTime = startedAt;
  }

  getInput<T>(): T {
    return this.input as T;
  }

  setCustomStatus(customStatusObject: unknown): void {
    // Stored as JSON by Durable: a later mutation of the caller's object must not change what was set.
    this.customStatus = throughJson(customStatusObject);
  }

  callActivity(name: string, input?: unknown): Task {
    if (!name) throw new Error('functionName: Expected non-empty, non-whitespace argument but got empty string');
    return new ActivityTask(name, throughJson(input), undefined);
  }

  callActivityWithRetry(name: string, retryOptions: RetryOptions, input?: unknown): Task {
    if (!name) throw new Error('functionName: Expected non-empty, non-whitespace argument but got empty string');
    return new ActivityTask(name, throughJson(input), retryPolicyOf(retryOptions));
  }

  callEntity(): Task {
    throw new UnsupportedDurableFeatureError('entities (callEntity)');
  }

  signalEntity(): void {
    throw new UnsupportedDurableFeatureError('entities (signalEntity)');
  }

  lock(): Task {
    throw new UnsupportedDurableFeatureError('entity locks (lock)');
  }

  isLocked(): LockState {
    throw new UnsupportedDurableFeatureError('entity locks (isLocked)');
  }

  callSubOrchestrator(): Task {
    throw new UnsupportedDurableFeatureError('sub-orchestrations (callSubOrchestrator)');
  }

  callSubOrchestratorWithRetry(): Task {
    throw new UnsupportedDurableFeatureError('sub-orchestrations (callSubOrchestratorWithRetry)');
  }

  callHttp(): Task {
    throw new UnsupportedDurableFeatureError('durable HTTP (callHttp)');
  }

  continueAsNew(): void {
    throw new UnsupportedDurableFeatureError('eternal orchestrations (continueAsNew)');
  }

  createTimer(): TimerTask {
    throw new UnsupportedDurableFeatureError('durable timers (createTimer)');
  }

  newGuid(): string {
    throw new UnsupportedDurableFeatureError('deterministic GUIDs (newGuid)');
  }

  waitForExternalEvent(): Task {
    throw new UnsupportedDurableFeatureError('external events (waitForExternalEvent)');
  }
}
