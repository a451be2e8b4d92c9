/**
 * Calls one activity function the way the Functions host does for an activity trigger: `handler(input, context)`
 * with a fresh InvocationContext, input and result passed through JSON.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext, type LogHandler } from '@azure/functions';
import type { ActivityHandler } from 'durable-functions';
import { throughJson } from './json-value';

export async function invokeActivity(
  name: string,
  handler: ActivityHandler,
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
