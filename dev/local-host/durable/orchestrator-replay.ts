/**
 * One episode of an orchestration, run by durable-functions itself: the callback that df.app.orchestration
 * registered (the SDK's Orchestrator, i.e. its replay engine) gets the history and the input as the extension sends
 * them, replays the generator over it and answers with its state: done (with the output), failed (it throws, with
 * the state after an `$OutOfProcData$` marker), or waiting, with every action it has asked for so far.
 */
import { InvocationContext, type LogHandler } from '@azure/functions';
import { UnsupportedDurableFeatureError } from './errors';
import type { InstanceState, RetryPolicy } from './instance-state';
import { sdkHistoryOf } from './sdk-history';

/** The callback @azure/functions was given for an orchestrationTrigger function. */
export type OrchestratorCallback = (trigger: unknown, context: InvocationContext) => Promise<unknown> | unknown;

/** An activity the orchestrator asked for, in the order it asked. */
export interface RequestedActivity {
  name: string;
  input: unknown;
  retry: RetryPolicy | undefined;
}

/** Every outcome carries all the activities the code asked for, from the start: the runner checks them against the history. */
export type ReplayOutcome = { requested: RequestedActivity[]; customStatus: unknown } & (
  { kind: 'waiting' } | { kind: 'completed'; output: unknown } | { kind: 'failed'; error: string }
);

/** durable-functions' ActionType values this runner carries out. */
const ActionType = { CallActivity: 0, CallActivityWithRetry: 1 } as const;
const ACTION_NAMES: Record<number, string> = {
  2: 'sub-orchestrations',
  3: 'sub-orchestrations with retry',
  4: 'continueAsNew',
  5: 'durable timers (createTimer)',
  6: 'external events',
  7: 'entities',
  8: 'HTTP calls',
  9: 'signalEntity',
  10: 'entity operations',
  11: 'entity locks',
  12: 'whenAny',
  13: 'whenAll',
};
/** ReplaySchema.V1: actions come as one array per yield, each a plain action. */
const REPLAY_SCHEMA_V1 = 0;

interface SdkAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryPolicy;
}

interface SdkState {
  isDone: boolean;
  actions: SdkAction[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

const FAILURE_MARKER = '\n\n$OutOfProcData$:';

export async function replayOrchestration(
  callback: OrchestratorCallback,
  state: InstanceState,
  logHandler: LogHandler,
): Promise<ReplayOutcome> {
  const trigger = {
    history: sdkHistoryOf(state),
    input: state.input,
    instanceId: state.instanceId,
    isReplaying: false,
    parentInstanceId: '',
    upperSchemaVersion: REPLAY_SCHEMA_V1,
    maximumShortTimerDuration: '6.00:00:00',
    longRunningTimerIntervalDuration: '3.00:00:00',
    defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
  };
  // A fresh context each episode: the SDK attaches its `df` to the context it is given.
  const context = new InvocationContext({
    functionName: state.name,
    invocationId: `${state.instanceId}:orchestrator`,
    logHandler,
    options: { trigger: { type: 'orchestrationTrigger', name: 'context' } },
  });
  let sdkState: SdkState;
  try {
    sdkState = (await callback(trigger, context)) as SdkState;
  } catch (error) {
    const message = (error as Error)?.message ?? String(error);
    const [, stateJson] = message.split(FAILURE_MARKER);
    const failed = stateJson ? (JSON.parse(stateJson) as Partial<SdkState>) : {};
    return {
      kind: 'failed',
      error: failed.error ?? message,
      customStatus: failed.customStatus,
      requested: requestedBy(failed.actions ?? []),
    };
  }
  const requested = requestedBy(sdkState.actions);
  if (sdkState.isDone) return { kind: 'completed', output: sdkState.output, customStatus: sdkState.customStatus, requested };
  return { kind: 'waiting', requested, customStatus: sdkState.customStatus };
}

function requestedBy(actions: SdkAction[][]): RequestedActivity[] {
  return actions.flat().map(toActivity);
}

function toActivity(action: SdkAction): RequestedActivity {
  if (action.actionType !== ActionType.CallActivity && action.actionType !== ActionType.CallActivityWithRetry) {
    throw new UnsupportedDurableFeatureError(ACTION_NAMES[action.actionType] ?? `action type ${action.actionType}`);
  }
  // durable-functions JSON-encodes string inputs in its actions (Utils.processInput); the extension decodes them.
  const input = typeof action.input === 'string' ? JSON.parse(action.input) : action.input;
  return {
    name: action.functionName!,
    input,
    retry: action.actionType === ActionType.CallActivityWithRetry ? action.retryOptions : undefined,
  };
}
