/**
 * Errors of the local durable runner, and the conversions between thrown values and stored failures. Messages copy
 * the real durable-functions client's where the real client has one, so app code that inspects them behaves alike.
 */
import { redact } from '../../../src/core/redaction';
import { TaskFailedError, type FailureDetails } from 'durable-functions';
import type { Failure } from './instance-state';

/** A durable-functions feature this runner does not implement; thrown instead of silently misbehaving. */
export class UnsupportedDurableFeatureError extends Error {
  constructor(feature: string) {
    super(`not supported by the local durable runner: ${feature}`);
    this.name = 'UnsupportedDurableFeatureError';
  }
}

/** The replayed orchestrator did something else than what the history recorded (non-deterministic code). */
export class NonDeterministicOrchestrationError extends Error {
  constructor(detail: string) {
    super(`Non-deterministic workflow detected: ${detail}`);
    this.name = 'NonDeterministicOrchestrationError';
  }
}

/** Same text as durable-functions' DurableClient.getStatus on the extension's 404. */
export function instanceNotFoundForStatus(instanceId: string): Error {
  return new Error(
    'DurableClient error: Durable Functions extension replied with HTTP 404 response. ' +
      `This usually means we could not find any data associated with the instanceId provided: ${instanceId}.`,
  );
}

/** Same text as durable-functions' DurableClient.terminate on 404. */
export function instanceNotFoundForTerminate(instanceId: string): Error {
  return new Error(`No instance with ID '${instanceId}' found.`);
}

/** durable-functions' DurableClient wraps any unexpected extension answer like this (createGenericError). */
export function unexpectedStatusError(status: number, details: unknown): Error {
  return new Error(`The operation failed with an unexpected status code: ${status}. Details: ${JSON.stringify(details)}`);
}

export function failureFromThrown(thrown: unknown): Failure {
  if (thrown instanceof Error) {
    return {
      errorType: thrown.name || 'Error',
      errorMessage: redact(thrown.message),
      ...(thrown.stack ? { stackTrace: redact(thrown.stack) } : {}),
    };
  }
  const errorMessage = redact(typeof thrown === 'string' ? thrown : (JSON.stringify(thrown) ?? String(thrown)));
  return { errorType: 'Error', errorMessage };
}

/**
 * What the orchestrator catches when an activity failed: durable-functions' own TaskFailedError (message
 * "<errorType>: <errorMessage>", `failureDetails`, `taskName`), as the SDK builds it from the extension's
 * FailureDetails.
 */
export function taskFailedError(failure: Failure, taskName: string, taskId: number): TaskFailedError {
  const details: FailureDetails = {
    errorType: failure.errorType,
    errorMessage: failure.errorMessage,
    stackTrace: failure.stackTrace,
    isNonRetriable: false,
    isCausedBy: (errorType: string) => details.errorType === errorType,
  };
  // The JS class takes (failureDetails, taskName, taskId); the published typings only declare the first.
  const Ctor = TaskFailedError as unknown as new (d: FailureDetails, name: string, id: number) => TaskFailedError;
  return new Ctor(details, taskName, taskId);
}
