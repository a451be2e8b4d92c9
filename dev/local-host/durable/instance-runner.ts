/**
 * The life of one orchestration instance in the local runner: each episode replays the stored history through
 * durable-functions' own engine (orchestrator-replay.ts); the runner plays the extension's part around it: it
 * records and runs the activities asked for (through the shared activity slots, with the retries of callActivityWithRetry),
 * appends every outcome to the history, writes the whole document to the store after each change, and finishes the
 * instance as Completed / Failed / Terminated.
 *
 * Writes are serialized per instance and always carry the latest state, so the store never goes backwards. A crash
 * loses at most the outcomes not yet written: their activities run again on resume() (Durable's at-least-once).
 */
import type { LogHandler } from '@azure/functions';
import { invokeActivity, missingActivityError, type ActivityCallback } from './activity-invocation';
import { NonDeterministicOrchestrationError, RunnerClosedError, failureFromThrown } from './errors';
import {
  isActiveStatus,
  type Failure,
  type RetryPolicy,
  type HistoryEvent,
  type InstanceState,
  type TaskAttemptFailedEvent,
  type TaskOutcomeEvent,
  type TaskScheduledEvent,
} from './instance-state';
import type { InstanceStore } from './instance-store';
import { replayOrchestration, type OrchestratorCallback, type ReplayOutcome, type RequestedActivity } from './orchestrator-replay';
import { delayBeforeNextAttempt } from './retry-schedule';
import { abortableSleep, type Limiter } from '../../../src/adapters/concurrency/limits';

export interface InstanceRunnerDeps {
  /** The callbacks df.app.orchestration / df.app.activity registered, by function name. */
  orchestrations: Readonly<Record<string, OrchestratorCallback>>;
  activities: Readonly<Record<string, ActivityCallback>>;
  store: InstanceStore;
  /** Activity invocations in flight (maxConcurrentActivityFunctions); rejects with RunnerClosedError once closing. */
  slots: Limiter;
  /** Aborts (with a RunnerClosedError) when the runner closes: retry waits end at once. */
  closing: AbortSignal;
  now: () => Date;
  log: (line: string) => void;
  logHandler: LogHandler;
}

/** One activity of the history, to run. */
interface ScheduledActivity {
  taskId: number;
  name: string;
  input: unknown;
  retry: RetryPolicy | undefined;
}

export class InstanceRunner {
  private readonly state: InstanceState;
  private started = false;
  /** The episode chain: replays run one after another, in the order outcomes arrived. */
  private episodes: Promise<void> = Promise.resolve();
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

  /**
   * Replays the history through the orchestrator (durable-functions' own engine), then dispatches the activities it
   * asked for that have no outcome yet: after a restart, those that were running when the process died.
   */
  run(): void {
    if (!this.isActive || this.started) return;
    this.started = true;
    if (!this.deps.orchestrations[this.state.name]) {
      const errorMessage = `The function '${this.state.name}' doesn't exist, is disabled, or is not an orchestrator function.`;
      this.finish({ kind: 'failed', failure: { errorType: 'Error', errorMessage } });
      return;
    }
    this.state.runtimeStatus = 'Running';
    const unfinished = this.unfinishedActivities();
    this.episode(unfinished);
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

  /**
   * One episode: replay with the history as it is now, record what the orchestrator newly asked for, and run it
   * (plus `alsoRun`). Episodes of one instance never overlap: each outcome queues the next.
   */
  private episode(alsoRun: ScheduledActivity[] = []): void {
    this.episodes = this.episodes.then(async () => {
      if (!this.isActive) return;
      let outcome: ReplayOutcome;
      try {
        outcome = await replayOrchestration(this.deps.orchestrations[this.state.name]!, this.state, this.deps.logHandler);
      } catch (error) {
        this.finish({ kind: 'failed', failure: failureFromThrown(error) });
        return;
      }
      this.state.customStatus = outcome.customStatus;
      let fresh: ScheduledActivity[];
      try {
        // Also when the code finished: changed code may complete on a replay of history it no longer matches.
        this.checkReplayMatches(outcome.requested);
        if (outcome.kind === 'completed') return this.finish({ kind: 'completed', output: outcome.output });
        if (outcome.kind === 'failed') {
          return this.finish({ kind: 'failed', failure: { errorType: 'OrchestrationFailure', errorMessage: outcome.error } });
        }
        fresh = this.schedule(outcome.requested);
      } catch (error) {
        this.finish({ kind: 'failed', failure: failureFromThrown(error) });
        return;
      }
      this.touch();
      void this.persist();
      for (const activity of [...alsoRun, ...fresh]) void this.runActivity(activity);
    });
  }

  private scheduledSoFar(): TaskScheduledEvent[] {
    return this.state.history.filter((e): e is TaskScheduledEvent => e.type === 'TaskScheduled');
  }

  /** What the extension checks on replay: the code asks for the activities the history says it asked for, in order. */
  private checkReplayMatches(requested: RequestedActivity[]): void {
    for (const [i, before] of this.scheduledSoFar().entries()) {
      const now = requested[i];
      if (now && now.name !== before.name) {
        throw new NonDeterministicOrchestrationError(
          `task ${before.taskId} was '${before.name}' in the history but the code now calls '${now.name}'`,
        );
      }
    }
  }

  /** Appends TaskScheduled for the requests beyond those already in the history. */
  private schedule(requested: RequestedActivity[]): ScheduledActivity[] {
    const known = this.scheduledSoFar();
    return requested.slice(known.length).map((request, i) => {
      const activity: ScheduledActivity = { taskId: known.length + i, name: request.name, input: request.input, retry: request.retry };
      this.append({
        type: 'TaskScheduled',
        timestamp: this.nowIso(),
        taskId: activity.taskId,
        name: activity.name,
        input: activity.input,
        ...(activity.retry ? { retry: activity.retry } : {}),
      });
      return activity;
    });
  }

  /** Scheduled activities with no outcome in the history (running when the last process stopped). */
  private unfinishedActivities(): ScheduledActivity[] {
    const finished = new Set(this.state.history.flatMap((e) => (e.type === 'TaskCompleted' || e.type === 'TaskFailed' ? [e.taskId] : [])));
    return this.state.history
      .filter((e): e is TaskScheduledEvent => e.type === 'TaskScheduled' && !finished.has(e.taskId))
      .map((e) => ({ taskId: e.taskId, name: e.name, input: e.input, retry: e.retry }));
  }

  private finish(outcome: { kind: 'completed'; output: unknown } | { kind: 'failed'; failure: Failure }): void {
    if (!this.isActive) return;
    if (outcome.kind === 'completed') {
      this.state.runtimeStatus = 'Completed';
      this.state.output = outcome.output;
    } else {
      this.state.runtimeStatus = 'Failed';
      this.state.output = outcome.failure.errorMessage;
      this.deps.log(`[durable] ${this.state.name} ${this.state.instanceId} failed: ${outcome.failure.errorMessage}`);
    }
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
        await abortableSleep(Math.max(0, lastAt.getTime() + delay - this.deps.now().getTime()), this.deps.closing);
      }
      for (;;) {
        if (!this.isActive) return;
        try {
          if (!handler) throw missingActivityError(activity.name);
          const result = await this.deps.slots.run(() => invokeActivity(activity.name, handler, activity.input, this.deps.logHandler));
          this.record({ type: 'TaskCompleted', timestamp: this.nowIso(), taskId: activity.taskId, result });
          return;
        } catch (error) {
          if (error instanceof RunnerClosedError) return;
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
          await abortableSleep(delay, this.deps.closing);
        }
      }
    } catch (error) {
      if (error instanceof RunnerClosedError) return;
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

  /** A new outcome: into the history, then the orchestrator replays with it (and may ask for more, or finish). */
  private record(event: TaskOutcomeEvent): void {
    if (!this.isActive) return; // finished or terminated meanwhile: Durable drops late results
    this.append(event);
    this.episode();
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
