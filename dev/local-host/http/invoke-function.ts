/**
 * One invocation of an HTTP function: a fresh InvocationContext (random invocation id, logs to the host's log), the
 * handler call, and its result resolved to bytes. Failures are logged here with their stack and reported to the
 * caller only as "failed" with the invocation id, so no stack trace reaches the client (the host behaves the same).
 * The Executing/Executed lines follow the wording `func start` prints, so logs read the same locally and on Azure.
 */
import { InvocationContext, type HttpRequest, type LogLevel } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { resolveHandlerResult, type ResolvedResponse } from './response-writer';
import type { RouteEntry } from './route-table';

export type InvocationOutcome = { ok: true; invocationId: string; response: ResolvedResponse } | { ok: false; invocationId: string };

function contextFor(entry: RouteEntry, invocationId: string, log: (line: string) => void): InvocationContext {
  return new InvocationContext({
    functionName: entry.name,
    invocationId,
    logHandler: (level: LogLevel, ...args: unknown[]) => {
      if (level === 'none') return;
      const tag = level === 'information' ? '' : `${level}: `;
      log(`[${entry.name}] ${tag}${format(...args)}`);
    },
    options: {
      trigger: {
        type: 'httpTrigger',
        name: 'request',
        methods: entry.methods,
        route: entry.route.template,
      },
      return: { type: 'http', name: '$return' },
    },
  });
}

export async function invokeHttpFunction(entry: RouteEntry, request: HttpRequest, log: (line: string) => void): Promise<InvocationOutcome> {
  const invocationId = randomUUID();
  const started = performance.now();
  const elapsed = () => `${Math.round(performance.now() - started)}ms`;
  log(`Executing 'Functions.${entry.name}' (Reason='This function was programmatically called via the host APIs.', Id=${invocationId})`);
  try {
    const result = await entry.handler(request, contextFor(entry, invocationId, log));
    const response = await resolveHandlerResult(result);
    log(`Executed 'Functions.${entry.name}' (Succeeded, Id=${invocationId}, Duration=${elapsed()})`);
    return { ok: true, invocationId, response };
  } catch (error) {
    log(`Executed 'Functions.${entry.name}' (Failed, Id=${invocationId}, Duration=${elapsed()})`);
    log(`[${entry.name}] error: ${format(error)}`);
    return { ok: false, invocationId };
  }
}
