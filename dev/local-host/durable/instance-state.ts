/**
 * The stored document of one orchestration instance of the local durable runner: its status and its history.
 * These zod schemas are the single source of truth for what the instance stores write; stores parse on every read.
 *
 * The history is the runner's own (smaller) event log, not Durable Task's wire format: it records what replay needs
 * (what was scheduled, what each task returned or threw, and when), so the orchestrator can be replayed
 * deterministically after a restart without re-running completed activities.
 */
import { z } from 'zod';

export const INSTANCE_STATE_SCHEMA_VERSION = 1;

/** The statuses this runner produces (a subset of durable-functions' OrchestrationRuntimeStatus, same spelling). */
export const RuntimeStatusSchema = z.enum(['Pending', 'Running', 'Completed', 'Failed', 'Terminated']);
export type RuntimeStatus = z.infer<typeof RuntimeStatusSchema>;

/** Statuses in which an instance still has work to do: resume() restarts them, startNew refuses to replace them. */
export const ACTIVE_STATUSES: readonly RuntimeStatus[] = ['Pending', 'Running'];

const TimestampSchema = z.iso.datetime();

/** Same field names as durable-functions' FailureDetails (errorType, errorMessage, stackTrace). */
export const FailureSchema = z.object({
  errorType: z.string(),
  errorMessage: z.string(),
  stackTrace: z.string().optional(),
});
export type Failure = z.infer<typeof FailureSchema>;

/** The parts of durable-functions' RetryOptions that decide when and how often an activity is retried. */
export const RetryPolicySchema = z.object({
  firstRetryIntervalInMilliseconds: z.number().positive(),
  maxNumberOfAttempts: z.number().int(),
  backoffCoefficient: z.number().positive().optional(),
  maxRetryIntervalInMilliseconds: z.number().positive().optional(),
  retryTimeoutInMilliseconds: z.number().positive().optional(),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

const ExecutionStartedSchema = z.object({
  type: z.literal('ExecutionStarted'),
  timestamp: TimestampSchema,
  name: z.string(),
  input: z.unknown().optional(),
});

const TaskScheduledSchema = z.object({
  type: z.literal('TaskScheduled'),
  timestamp: TimestampSchema,
  taskId: z.number().int().nonnegative(),
  name: z.string(),
  input: z.unknown().optional(),
  retry: RetryPolicySchema.optional(),
});

/** One failed attempt of an activity called with retry; the orchestrator only sees the final outcome. */
const TaskAttemptFailedSchema = z.object({
  type: z.literal('TaskAttemptFailed'),
  timestamp: TimestampSchema,
  taskId: z.number().int().nonnegative(),
  attempt: z.number().int().positive(),
  failure: FailureSchema,
});

const TaskCompletedSchema = z.object({
  type: z.literal('TaskCompleted'),
  timestamp: TimestampSchema,
  taskId: z.number().int().nonnegative(),
  result: z.unknown().optional(),
});

const TaskFailedSchema = z.object({
  type: z.literal('TaskFailed'),
  timestamp: TimestampSchema,
  taskId: z.number().int().nonnegative(),
  failure: FailureSchema,
});

export const HistoryEventSchema = z.discriminatedUnion('type', [
  ExecutionStartedSchema,
  TaskScheduledSchema,
  TaskAttemptFailedSchema,
  TaskCompletedSchema,
  TaskFailedSchema,
]);
export type HistoryEvent = z.infer<typeof HistoryEventSchema>;
export type ExecutionStartedEvent = z.infer<typeof ExecutionStartedSchema>;
export type TaskScheduledEvent = z.infer<typeof TaskScheduledSchema>;
export type TaskAttemptFailedEvent = z.infer<typeof TaskAttemptFailedSchema>;
export type TaskCompletedEvent = z.infer<typeof TaskCompletedSchema>;
export type TaskFailedEvent = z.infer<typeof TaskFailedSchema>;
/** The events that finish a task: these are the ones that wake the orchestrator up. */
export type TaskOutcomeEvent = TaskCompletedEvent | TaskFailedEvent;

export const InstanceStateSchema = z.object({
  schemaVersion: z.literal(INSTANCE_STATE_SCHEMA_VERSION),
  instanceId: z.string().min(1),
  name: z.string().min(1),
  runtimeStatus: RuntimeStatusSchema,
  input: z.unknown().optional(),
  /** Orchestrator return value (Completed), error message (Failed) or termination reason (Terminated). */
  output: z.unknown().optional(),
  customStatus: z.unknown().optional(),
  createdTime: TimestampSchema,
  lastUpdatedTime: TimestampSchema,
  /** Starts with ExecutionStarted; in the order things happened. */
  history: z.array(HistoryEventSchema).min(1),
});
export type InstanceState = z.infer<typeof InstanceStateSchema>;

export function isActiveStatus(status: RuntimeStatus): boolean {
  return ACTIVE_STATUSES.includes(status);
}
