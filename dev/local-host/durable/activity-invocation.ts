/**
 * Calls one activity function the way the Functions host does for an activity trigger: `callback(input, context)`
 * with a fresh InvocationContext, input and result passed through JSON.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext, type LogHandler } from '@azure/functions';
import { throughJson } from './json-value';

/** The callback df.app.activity registered for an activityTrigger function (the app's handler, wrapped by the SDK). */
export type ActivityCallback = (input: unknown, context: InvocationContext) => unknown;

export async function invokeActivity(
  name: string,
  handler: ActivityCallback,
  input: unknown,
  logHandler: LogHandler | undefined,
): Promise<unknown> {
  const context = new InvocationContext({
    functionName: name,
    invocationId: randomUUID(),
    ...(logHandler ? { logHandler } : {}),
    options: { trigger: { type: 'activityTrigger', name: 'input' } },
  });
  const result: unknown = await handler(throughJson(input), context);
  return throughJson(result);
}

/** What the Durable extension reports when an orchestrator calls an activity that is not registered. */
export function missingActivityError(name: string): Error {
  return new Error(`The function '${name}' doesn't exist, is disabled, or is not an activity function.`);
}
