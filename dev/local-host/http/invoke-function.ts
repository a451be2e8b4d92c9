/**
 * One invocation of an HTTP route: the handler call (the function with its own InvocationContext, or a host route),
 * and its result resolved to bytes. Failures are logged here with their stack and reported to the caller only as
 * "failed" with the invocation id, so no stack trace reaches the client (the host behaves the same). The
 * Executing/Executed lines follow the wording `func start` prints, so logs read the same locally and on Azure.
 */
import type { HttpRequest } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { describeError } from '../../../src/core/redaction';
import { resolveHandlerResult, type ResolvedResponse } from './response-writer';
import type { RouteEntry } from './route-table';

/** Serves one request: the function invoked with a context for `invocationId`, or a host route's own answer. */
export type RouteHandler = (request: HttpRequest, invocationId: string) => Promise<unknown> | unknown;

export type InvocationOutcome = { ok: true; invocationId: string; response: ResolvedResponse } | { ok: false; invocationId: string };

export async function invokeHttpFunction(
  entry: RouteEntry<RouteHandler>,
  request: HttpRequest,
  log: (line: string) => void,
): Promise<InvocationOutcome> {
  const invocationId = randomUUID();
  const started = performance.now();
  const elapsed = () => `${Math.round(performance.now() - started)}ms`;
  log(`Executing 'Functions.${entry.name}' (Reason='This function was programmatically called via the host APIs.', Id=${invocationId})`);
  try {
    const result = await entry.handler(request, invocationId);
    const response = await resolveHandlerResult(result);
    log(`Executed 'Functions.${entry.name}' (Succeeded, Id=${invocationId}, Duration=${elapsed()})`);
    return { ok: true, invocationId, response };
  } catch (error) {
    log(`Executed 'Functions.${entry.name}' (Failed, Id=${invocationId}, Duration=${elapsed()})`);
    log(`[${entry.name}] error: ${describeError(error, { stack: true })}`);
    return { ok: false, invocationId };
  }
}
