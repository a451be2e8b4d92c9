/**
 * Errors of the local durable runner, and the conversions between thrown values and stored failures. Messages copy
 * the real durable-functions client's where the real client has one, so app code that inspects them behaves alike.
 */
import { redact } from '../../../src/core/redaction';
import type { Failure } from './instance-state';

/** A durable-functions feature this runner does not implement; thrown instead of silently misbehaving. */
export class UnsupportedDurableFeatureError extends Error {
  constructor(feature: string) {
    super(`not supported by the local durable runner: ${feature}`);
    this.name = 'UnsupportedDurableFeatureError';
  }
}

/** Why queued activities and retry waits stop when the runner closes (they stay unfinished in the history). */
export class RunnerClosedError extends Error {
  constructor() {
    super('the local durable runner is closing');
    this.name = 'RunnerClosedError';
  }
}

/** The replayed orchestrator did something else than what the history recorded (non-deterministic code). */
export class NonDeterministicOrchestrationError extends Error {
  constructor(detail: string) {
    super(`Non-deterministic workflow detected: ${detail}`);
    this.name = 'NonDeterministicOrchestrationError';
  }
}

/** The extension's 404 for an unknown instance id. */
export function instanceNotFound(instanceId: string): DurableApiError {
  return new DurableApiError(404, { Message: `No instance with ID '${instanceId}' found.` });
}

/** A refusal of the extension's HTTP API: its status and its JSON body (the client builds its own error from them). */
export class DurableApiError extends Error {
  constructor(
    readonly status: number,
    readonly details: Record<string, unknown>,
  ) {
    super(`The operation failed with an unexpected status code: ${status}. Details: ${JSON.stringify(details)}`);
    this.name = 'DurableApiError';
  }
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
