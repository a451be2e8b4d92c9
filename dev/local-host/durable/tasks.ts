/**
 * The Task objects the local context.df hands to orchestrator code. They mirror durable-functions' own task classes
 * where behaviour is observable: `isCompleted` means succeeded, `isFaulted` means failed; Task.all fails with the first
 * child failure (in the order the failures happened) and otherwise returns the results in child order; Task.any
 * completes with the first finished child *task* (not its result) and never faults; a compound task needs at least
 * one child; a task reports to a single parent (the compound task it was last put in).
 */
import type { Task } from 'durable-functions';
import type { RetryPolicy } from './instance-state';

type TaskState = 'running' | 'completed' | 'failed';

export abstract class LocalTask implements Task {
  private state: TaskState = 'running';
  result?: unknown;
  /** @internal the compound task waiting on this one */
  parent: CompoundTask | undefined;

  get isCompleted(): boolean {
    return this.state === 'completed';
  }

  get isFaulted(): boolean {
    return this.state === 'failed';
  }

  get isFinished(): boolean {
    return this.state !== 'running';
  }

  protected settle(failed: boolean, value: unknown): void {
    if (this.state !== 'running') return;
    this.state = failed ? 'failed' : 'completed';
    this.result = value;
    this.parent?.childFinished(this);
  }
}

/** One activity call. It gets its task id (its place in the history) only when first yielded, as in Durable. */
export class ActivityTask extends LocalTask {
  taskId: number | undefined;

  constructor(
    readonly name: string,
    readonly input: unknown,
    readonly retry: RetryPolicy | undefined,
  ) {
    super();
  }

  complete(result: unknown): void {
    this.settle(false, result);
  }

  fail(error: Error): void {
    this.settle(true, error);
  }
}

export abstract class CompoundTask extends LocalTask {
  constructor(readonly children: LocalTask[]) {
    super();
    if (children.length === 0) {
      // Same message as durable-functions' CompoundTask.
      throw new Error('When constructing a CompoundTask (such as Task.all() or Task.any()), you must specify at least one Task.');
    }
    for (const child of children) child.parent = this;
    for (const child of children) if (child.isFinished) this.childFinished(child);
  }

  abstract childFinished(child: LocalTask): void;
}

export class WhenAllTask extends CompoundTask {
  childFinished(child: LocalTask): void {
    if (child.isFaulted) this.settle(true, child.result);
    else if (this.children.every((c) => c.isCompleted))
      this.settle(
        false,
        this.children.map((c) => c.result),
      );
  }
}

export class WhenAnyTask extends CompoundTask {
  childFinished(child: LocalTask): void {
    this.settle(false, child);
  }
}

/** The activity calls inside a (possibly nested) task, depth first in child order: the order Durable numbers them. */
export function activitiesOf(task: LocalTask): ActivityTask[] {
  if (task instanceof ActivityTask) return [task];
  if (task instanceof CompoundTask) return task.children.flatMap(activitiesOf);
  return [];
}
