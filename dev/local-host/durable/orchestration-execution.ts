/**
 * Runs one orchestrator generator against a history, the way Durable's replay does:
 *
 * - the generator starts with currentUtcDateTime = the ExecutionStarted time;
 * - yielding a task schedules the activities inside it that are not scheduled yet, numbering them in order
 *   (`onSchedule` tells the caller; the caller records them in the history and runs them);
 * - each task outcome event (completed / failed) settles its task; when the task the generator waits on is finished,
 *   the generator resumes with currentUtcDateTime = that event's time (never the wall clock), with the result or with
 *   the error thrown into it;
 * - the same code fed the same events therefore makes the same calls in the same order, whether the events are new
 *   (live) or read back from the store (replay, isReplaying = true).
 *
 * The execution never touches storage or activities itself: it is a pure state machine over events.
 */
import { InvocationContext, type LogHandler } from '@azure/functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { NonDeterministicOrchestrationError, failureFromThrown, taskFailedError } from './errors';
import type { ExecutionStartedEvent, Failure, RetryPolicy, TaskOutcomeEvent } from './instance-state';
import { throughJson } from './json-value';
import { LocalDurableOrchestrationContext } from './orchestration-context';
import { activitiesOf, ActivityTask, LocalTask } from './tasks';

export interface ScheduledActivity {
  taskId: number;
  name: string;
  input: unknown;
  retry: RetryPolicy | undefined;
}

export type ExecutionOutcome = { kind: 'running' } | { kind: 'completed'; output: unknown } | { kind: 'failed'; failure: Failure };

export interface OrchestrationExecutionOptions {
  instanceId: string;
  handler: OrchestrationHandler;
  started: ExecutionStartedEvent;
  onSchedule: (activity: ScheduledActivity) => void;
  logHandler?: LogHandler;
}

type Resumption = { threw: false; value: unknown } | { threw: true; error: unknown };

export class OrchestrationExecution {
  private readonly df: LocalDurableOrchestrationContext;
  private readonly context: OrchestrationContext;
  private generator: Generator<Task, unknown, unknown> | undefined;
  private readonly handler: OrchestrationHandler;
  private readonly onSchedule: (activity: ScheduledActivity) => void;
  private readonly openActivities = new Map<number, ActivityTask>();
  private nextTaskId = 0;
  private awaited: LocalTask | undefined;
  private result: ExecutionOutcome = { kind: 'running' };

  constructor(options: OrchestrationExecutionOptions) {
    this.handler = options.handler;
    this.onSchedule = options.onSchedule;
    this.df = new LocalDurableOrchestrationContext(
      options.instanceId,
      throughJson(options.started.input),
      new Date(options.started.timestamp),
    );
    const invocation = new InvocationContext({
      functionName: options.started.name,
      invocationId: `${options.instanceId}:orchestrator`,
      ...(options.logHandler ? { logHandler: options.logHandler } : {}),
    });
    this.context = Object.assign(invocation, { df: this.df }) as OrchestrationContext;
  }

  get outcome(): ExecutionOutcome {
    return this.result;
  }

  get customStatus(): unknown {
    return this.df.customStatus;
  }

  /** Runs the orchestrator up to its first wait. */
  start(isReplaying: boolean): void {
    this.df.isReplaying = isReplaying;
    try {
      const generator = this.handler(this.context) as unknown;
      if (!isGenerator(generator)) {
        throw new TypeError('an orchestrator must be a generator function (function*) that yields Durable tasks');
      }
      this.generator = generator;
    } catch (error) {
      this.result = { kind: 'failed', failure: failureFromThrown(error) };
      return;
    }
    this.resume({ threw: false, value: undefined });
  }

  /**
   * Feeds one task outcome. Throws NonDeterministicOrchestrationError when the history names a task this run of the
   * code never scheduled (the code changed, or is not deterministic).
   */
  apply(event: TaskOutcomeEvent, isReplaying: boolean): void {
    if (this.result.kind !== 'running') return;
    const task = this.openActivities.get(event.taskId);
    if (!task) {
      throw new NonDeterministicOrchestrationError(
        `the history has an outcome for task ${event.taskId}, which the orchestrator code did not schedule`,
      );
    }
    this.openActivities.delete(event.taskId);
    const at = new Date(event.timestamp);
    // Durable only ever moves the orchestration clock forward.
    if (at > this.df.currentUtcDateTime) this.df.currentUtcDateTime = at;
    this.df.isReplaying = isReplaying;
    if (event.type === 'TaskCompleted') task.complete(throughJson(event.result));
    else task.fail(taskFailedError(event.failure, task.name, event.taskId));

    const awaited = this.awaited;
    if (awaited?.isFinished) {
      this.awaited = undefined;
      this.resume(resumptionFor(awaited));
    }
  }

  private resume(first: Resumption): void {
    const generator = this.generator;
    if (!generator) return;
    let next = first;
    for (;;) {
      let step: IteratorResult<Task, unknown>;
      try {
        step = next.threw ? generator.throw(next.error) : generator.next(next.value);
      } catch (error) {
        this.result = { kind: 'failed', failure: failureFromThrown(error) };
        return;
      }
      if (step.done) {
        this.result = { kind: 'completed', output: throughJson(step.value) };
        return;
      }
      const yielded: unknown = step.value;
      if (!(yielded instanceof LocalTask)) {
        // Same rule (and wording) as durable-functions: only Durable tasks may be yielded.
        this.result = {
          kind: 'failed',
          failure: failureFromThrown(
            new Error(
              `Durable Functions programming constraint violation: Orchestration yielded data of type ${typeof yielded}. ` +
                'Only Task types can be yielded. Please check your yield statements to make sure you only yield ' +
                'Task types resulting from calling Durable Functions APIs.',
            ),
          ),
        };
        return;
      }
      this.schedule(yielded);
      if (!yielded.isFinished) {
        this.awaited = yielded;
        return;
      }
      next = resumptionFor(yielded);
    }
  }

  private schedule(task: LocalTask): void {
    for (const activity of activitiesOf(task)) {
      if (activity.taskId !== undefined || activity.isFinished) continue;
      activity.taskId = this.nextTaskId++;
      this.openActivities.set(activity.taskId, activity);
      this.onSchedule({ taskId: activity.taskId, name: activity.name, input: activity.input, retry: activity.retry });
    }
  }
}

function isGenerator(value: unknown): value is Generator<Task, unknown, unknown> {
  const candidate = value as Partial<Generator> | null;
  return typeof candidate?.next === 'function' && typeof candidate.throw === 'function';
}

function resumptionFor(task: LocalTask): Resumption {
  return task.isFaulted ? { threw: true, error: task.result } : { threw: false, value: task.result };
}
