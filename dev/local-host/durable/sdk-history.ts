/**
 * The instance's history in the shape the Durable extension hands an orchestrator (durable-functions' HistoryEvent:
 * PascalCase fields, EventType numbers), built from the runner's own log, so that durable-functions' own replay
 * engine (the callback df.app.orchestration registered) runs the orchestrator exactly as in Azure.
 *
 * How the SDK reads it (lib/src/orchestrations/TaskOrchestrationExecutor): OrchestratorStarted sets
 * currentUtcDateTime; every task the code yields gets the next sequence number; TaskCompleted/TaskFailed settle the
 * task whose number is their TaskScheduledId. TaskScheduled rows are not read by it (kept for a faithful history).
 * Retries are this runner's business: the SDK sees a retried activity's final outcome only. A success settles the
 * task at once; a final failure must look as the extension writes it, because the SDK's RetryableTask waits on a
 * timer after each failed attempt: TaskFailed, then TimerFired, once per allowed attempt, each timer and each
 * re-attempt taking the next sequence number.
 */
import type { Failure, HistoryEvent, InstanceState, RetryPolicy, TaskScheduledEvent } from './instance-state';

/** durable-functions' HistoryEventType values (lib/src/history/HistoryEventType.js). */
const EventType = {
  ExecutionStarted: 0,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  TimerFired: 11,
  OrchestratorStarted: 12,
} as const;

/** One history row as the SDK reads it; timestamps as Dates (the SDK compares them with its clock). */
export type SdkHistoryEvent = Record<string, unknown> & { EventType: number; EventId: number; IsPlayed: boolean; Timestamp: Date };

const row = (type: number, timestamp: string, fields: Record<string, unknown> = {}): SdkHistoryEvent => ({
  EventType: type,
  EventId: -1,
  IsPlayed: false,
  Timestamp: new Date(timestamp),
  ...fields,
});

const json = (value: unknown) => (value === undefined ? undefined : JSON.stringify(value));

function failureFields(failure: Failure): Record<string, unknown> {
  return {
    Reason: failure.errorMessage,
    Details: failure.stackTrace ?? null,
    FailureDetails: { ErrorType: failure.errorType, ErrorMessage: failure.errorMessage, StackTrace: failure.stackTrace ?? null },
  };
}

/** The SDK's view of the history (see the header), in the order things happened. */
export function sdkHistoryOf(state: InstanceState): SdkHistoryEvent[] {
  const out: SdkHistoryEvent[] = [];
  let sequence = 0;
  /** The sequence number the SDK gave each scheduled task (this runner numbers tasks by its own count). */
  const sdkIds = new Map<number, number>();
  const scheduled = new Map<number, TaskScheduledEvent>();
  for (const event of state.history as HistoryEvent[]) {
    switch (event.type) {
      case 'ExecutionStarted':
        out.push(row(EventType.OrchestratorStarted, event.timestamp));
        out.push(row(EventType.ExecutionStarted, event.timestamp, { Name: event.name, Input: json(event.input) }));
        break;
      case 'TaskScheduled': {
        const id = sequence++;
        sdkIds.set(event.taskId, id);
        scheduled.set(event.taskId, event);
        out.push(row(EventType.TaskScheduled, event.timestamp, { EventId: id, Name: event.name, Input: json(event.input) }));
        break;
      }
      case 'TaskCompleted':
        out.push(row(EventType.OrchestratorStarted, event.timestamp));
        out.push(row(EventType.TaskCompleted, event.timestamp, { TaskScheduledId: sdkIds.get(event.taskId), Result: json(event.result) }));
        break;
      case 'TaskFailed': {
        out.push(row(EventType.OrchestratorStarted, event.timestamp));
        const retry = scheduled.get(event.taskId)?.retry;
        let current = sdkIds.get(event.taskId)!;
        for (let attempt = 1; attempt <= attemptsSeenBySdk(retry); attempt++) {
          out.push(row(EventType.TaskFailed, event.timestamp, { TaskScheduledId: current, ...failureFields(event.failure) }));
          if (!retry) break;
          out.push(row(EventType.TimerFired, event.timestamp, { TimerId: sequence++, FireAt: new Date(event.timestamp) }));
          if (attempt < attemptsSeenBySdk(retry)) current = sequence++;
        }
        break;
      }
      case 'TaskAttemptFailed':
        // A failed attempt that will be retried: invisible to the orchestrator until the activity's final outcome.
        break;
    }
  }
  return out;
}

/** How many failed attempts the SDK counts before it fails a retried task (RetryableTask.trySetValue). */
function attemptsSeenBySdk(retry: RetryPolicy | undefined): number {
  return retry ? Math.max(1, retry.maxNumberOfAttempts) : 1;
}
