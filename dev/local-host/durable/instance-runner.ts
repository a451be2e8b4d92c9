/**
 * The life of one orchestration instance in the local runner: replay its stored history, then go on live; run the
 * activities it schedules (through the shared WorkGate), append every outcome to the history and write the whole
 * document to the store after each change; finish as Completed / Failed / Terminated.
 *
 * Writes are serialized per instance and always carry the latest state, so the store never goes backwards. A crash
 * loses at most the outcomes not yet written: their activities run again on resume() (Durable's at-least-once).
 */
import type { LogHandler } from '@azure/functions';
import type { ActivityHandler, OrchestrationHandler } from 'durable-functions';
import { invokeActivity, missingActivityError } from './activity-invocation';
import { NonDeterministicOrchestrationError, failureFromThrown } from './errors';
import {
  isActiveStatus,
  type Failure,
  type HistoryEvent,
  type InstanceState,
  type TaskAttemptFailedEvent,
  type TaskOutcomeEvent,
  type TaskScheduledEvent,
} from './instance-state';
import type { InstanceStore } from './instance-store';
import { OrchestrationExecution, type ExecutionOutcome, type ScheduledActivity } from './orchestration-execution';
import { delayBeforeNextAttempt } from './retry-schedule';
import { GateClosedError, type WorkGate } from './work-gate';

export interface InstanceRunnerDeps {
  orchestrations: Readonly<Record<string, OrchestrationHandler>>;
  activities: Readonly<Record<string, ActivityHandler>>;
  store: InstanceStore;
  gate: WorkGate;
  now: () => Date;
  log: (line: string) => void;
  logHandler: LogHandler;
}

export class InstanceRunner {
  private readonly state: InstanceState;
  private execution: OrchestrationExecution | undefined;
  /** Filled by the execution's onSchedule during a step, drained (dispatched) after the step. */
  private newlyScheduled: ScheduledActivity[] = [];
  private writing: Promise<void> | undefined;
  private dirty = false;
  private resolveSettled!: (state: InstanceState) => void;
  /** Resolves (with the final state, once written) when the instance reaches a terminal status. */
  readonly settled: Promise<InstanceState>;

  constructor(
    state: InstanceState,
    private readonly deps: InstanceRunnerDeps,
  ) {
    this.state = state;
    this.settled = new Promise((resolve) => {
      this.resolveSettled = resolve;
    });
  }

  /** The current state (ahead of the store while a write is pending). Callers must not mutate it. */
  get snapshot(): InstanceState {
    return this.state;
  }

  get isActive(): boolean {
    return isActiveStatus(this.state.runtimeStatus);
  }

  /** Replays the history (synchronously), then dispatches the unfinished activities. */
  run(): void {
    if (!this.isActive || this.execution) return;
    const [started, ...rest] = this.state.history;
    const handler = this.deps.orchestrations[this.state.name];
    if (!started || started.type !== 'ExecutionStarted') {
      const errorMessage = 'the stored history does not begin with ExecutionStarted';
      this.finish({ kind: 'failed', failure: { errorType: 'Error', errorMessage } });
      return;
    }
    if (!handler) {
      this.finish({
        kind: 'failed',
        failure: {
          errorType: 'Error',
          errorMessage: `The function '${this.state.name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        },
      });
      return;
    }

    const recorded = new Map<number, TaskScheduledEvent>();
    const finishedIds = new Set<number>();
    for (const event of rest) {
      if (event.type === 'TaskScheduled') recorded.set(event.taskId, event);
      if (event.type === 'TaskCompleted' || event.type === 'TaskFailed') finishedIds.add(event.taskId);
    }
    const execution = new OrchestrationExecution({
      instanceId: this.state.instanceId,
      handler,
      started,
      logHandler: this.deps.logHandler,
      onSchedule: (activity) => {
        const before = recorded.get(activity.taskId);
        if (before) {
          if (before.name !== activity.name) {
            throw new NonDeterministicOrchestrationError(
              `task ${activity.taskId} was '${before.name}' in the history but the code now calls '${activity.name}'`,
            );
          }
          if (!finishedIds.has(activity.taskId)) this.newlyScheduled.push(activity);
          return;
        }
        this.append({
          type: 'TaskScheduled',
          timestamp: this.nowIso(),
          taskId: activity.taskId,
          name: activity.name,
          input: activity.input,
          ...(activity.retry ? { retry: activity.retry } : {}),
        });
        this.newlyScheduled.push(activity);
      },
    });
    this.execution = execution;
    this.state.runtimeStatus = 'Running';

    try {
      execution.start(rest.length > 0);
      for (const event of rest) {
        if (execution.outcome.kind !== 'running') break;
        if (event.type === 'TaskCompleted' || event.type === 'TaskFailed') execution.apply(event, true);
      }
    } catch (error) {
      this.finish({ kind: 'failed', failure: failureFromThrown(error) });
      return;
    }
    this.afterStep();
  }

  /** Ends a running instance as Terminated; false when it was not running. */
  terminate(reason: string): boolean {
    if (!this.isActive) return false;
    this.state.runtimeStatus = 'Terminated';
    this.state.output = reason;
    this.touch();
    this.deps.log(`[durable] ${this.state.name} ${this.state.instanceId} terminated: ${reason}`);
    void this.persist().then(() => this.resolveSettled(this.state));
    return true;
  }

  /** Resolves when every change so far has been written (or failed to be: failures are logged). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private afterStep(): void {
    const execution = this.execution;
    if (!execution) return;
    this.state.customStatus = execution.customStatus;
    const outcome = execution.outcome;
    if (outcome.kind !== 'running') {
      this.newlyScheduled = [];
      this.finish(outcome);
      return;
    }
    this.touch();
    void this.persist();
    const toRun = this.newlyScheduled;
    this.newlyScheduled = [];
    for (const activity of toRun) void this.runActivity(activity);
  }

  private finish(outcome: Exclude<ExecutionOutcome, { kind: 'running' }>): void {
    if (!this.isActive) return;
    if (outcome.kind === 'completed') {
      this.state.runtimeStatus = 'Completed';
      this.state.output = outcome.output;
    } else {
      this.state.runtimeStatus = 'Failed';
      this.state.output = outcome.failure.errorMessage;
      this.deps.log(`[durable] ${this.state.name} ${this.state.instanceId} failed: ${outcome.failure.errorMessage}`);
    }
    if (this.execution) this.state.customStatus = this.execution.customStatus;
    this.touch();
    void this.persist().then(() => this.resolveSettled(this.state));
  }

  /** Runs one scheduled activity to its outcome, with retries; picks up retry bookkeeping left in the history. */
  private async runActivity(activity: ScheduledActivity): Promise<void> {
    const handler = this.deps.activities[activity.name];
    const scheduled = this.state.history.find((e): e is TaskScheduledEvent => e.type === 'TaskScheduled' && e.taskId === activity.taskId);
    const firstAttemptAt = new Date(scheduled?.timestamp ?? this.nowIso());
    const earlierFailures = this.state.history.filter(
      (e): e is TaskAttemptFailedEvent => e.type === 'TaskAttemptFailed' && e.taskId === activity.taskId,
    );
    let failedAttempts = earlierFailures.length;
    try {
      const lastFailure = earlierFailures.at(-1);
      if (lastFailure && activity.retry) {
        // Resumed between two attempts: wait only for what is left of the interval.
        const lastAt = new Date(lastFailure.timestamp);
        const delay = delayBeforeNextAttempt(activity.retry, failedAttempts, firstAttemptAt, lastAt);
        if (delay === undefined) {
          // The last allowed attempt had failed just before the crash.
          const failure = lastFailure.failure;
          this.record({ type: 'TaskFailed', timestamp: this.nowIso(), taskId: activity.taskId, failure });
          return;
        }
        await this.deps.gate.wait(lastAt.getTime() + delay - this.deps.now().getTime());
      }
      for (;;) {
        if (!this.isActive) return;
        try {
          if (!handler) throw missingActivityError(activity.name);
          const result = await this.deps.gate.run(() => invokeActivity(activity.name, handler, activity.input, this.deps.logHandler));
          this.record({ type: 'TaskCompleted', timestamp: this.nowIso(), taskId: activity.taskId, result });
          return;
        } catch (error) {
          if (error instanceof GateClosedError) return;
          failedAttempts++;
          const failure = failureFromThrown(error);
          const delay = activity.retry
            ? delayBeforeNextAttempt(activity.retry, failedAttempts, firstAttemptAt, this.deps.now())
            : undefined;
          if (delay === undefined) {
            this.record({ type: 'TaskFailed', timestamp: this.nowIso(), taskId: activity.taskId, failure });
            return;
          }
          this.recordFailedAttempt(activity, failedAttempts, failure);
          await this.deps.gate.wait(delay);
        }
      }
    } catch (error) {
      if (error instanceof GateClosedError) return;
      this.deps.log(`[durable] ${this.state.instanceId}: activity ${activity.name} bookkeeping failed: ${String(error)}`);
    }
  }

  private recordFailedAttempt(activity: ScheduledActivity, attempt: number, failure: Failure): void {
    if (!this.isActive) return;
    this.deps.log(`[durable] ${this.state.instanceId}: ${activity.name} attempt ${attempt} failed (${failure.errorMessage}); retrying`);
    this.append({ type: 'TaskAttemptFailed', timestamp: this.nowIso(), taskId: activity.taskId, attempt, failure });
    this.touch();
    void this.persist();
  }

  /** A new outcome: into the history, then into the orchestrator (which may schedule more or finish). */
  private record(event: TaskOutcomeEvent): void {
    if (!this.isActive || !this.execution) return; // finished or terminated meanwhile: Durable drops late results
    this.append(event);
    try {
      this.execution.apply(event, false);
    } catch (error) {
      this.finish({ kind: 'failed', failure: failureFromThrown(error) });
      return;
    }
    this.afterStep();
  }

  private append(event: HistoryEvent): void {
    this.state.history.push(event);
  }

  private touch(): void {
    this.state.lastUpdatedTime = this.nowIso();
  }

  private nowIso(): string {
    return this.deps.now().toISOString();
  }

  private persist(): Promise<void> {
    this.dirty = true;
    this.writing ??= this.writeWhileDirty().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  private async writeWhileDirty(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      try {
        // The stores serialize synchronously before their first await: later changes never leak into this write.
        await this.deps.store.write(this.state);
      } catch (error) {
        this.deps.log(`[durable] ${this.state.instanceId}: writing the instance state failed: ${String(error)}`);
      }
    }
  }
}
