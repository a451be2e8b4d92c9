/**
 * Function registration that the local host can see. Each file in src/app/functions/ registers exactly one function
 * through `register`; inside the Functions host the call goes on to @azure/functions / durable-functions as
 * usual, and every registration is also kept in `registrations`, from which the local host wires the same handlers
 * to its blob watcher, HTTP server, Durable runner and timer.
 */
import {
  app,
  type InvocationContext,
  type HttpFunctionOptions,
  type StorageBlobFunctionOptions,
  type StorageQueueFunctionOptions,
  type TimerFunctionOptions,
} from '@azure/functions';
import * as df from 'durable-functions';
import type { ActivityOptions, OrchestrationHandler } from 'durable-functions';
import { withRedaction } from './redacted-context';

export interface Registrations {
  http: Array<{ name: string; options: HttpFunctionOptions }>;
  blob: Array<{ name: string; options: StorageBlobFunctionOptions }>;
  queue: Array<{ name: string; options: StorageQueueFunctionOptions }>;
  timer: Array<{ name: string; options: TimerFunctionOptions }>;
  orchestrations: Record<string, OrchestrationHandler>;
  activities: Record<string, ActivityOptions>;
}

export const registrations: Registrations = { http: [], blob: [], queue: [], timer: [], orchestrations: {}, activities: {} };

/**
 * Whether this process runs inside the Functions host (its worker provides @azure/functions-core). Outside it,
 * @azure/functions only logs that it skips each registration, so we do not call it there.
 */
export const insideFunctionsHost: boolean = (() => {
  try {
    // The worker provides this module through its loader (not node_modules), as @azure/functions itself detects it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@azure/functions-core');
    return true;
  } catch {
    return false;
  }
})();

/** Every handler is registered with redacting logs and redacted errors (redacted-context.ts). */
const redacted = <O extends { handler: (input: never, context: InvocationContext) => unknown }>(options: O): O => ({
  ...options,
  handler: withRedaction(options.handler as (input: unknown, context: InvocationContext) => unknown),
});

export const register = {
  http(name: string, options: HttpFunctionOptions): void {
    const guarded = redacted(options);
    registrations.http.push({ name, options: guarded });
    if (insideFunctionsHost) app.http(name, guarded);
  },
  storageBlob(name: string, options: StorageBlobFunctionOptions): void {
    const guarded = redacted(options);
    registrations.blob.push({ name, options: guarded });
    if (insideFunctionsHost) app.storageBlob(name, guarded);
  },
  storageQueue(name: string, options: StorageQueueFunctionOptions): void {
    const guarded = redacted(options);
    registrations.queue.push({ name, options: guarded });
    if (insideFunctionsHost) app.storageQueue(name, guarded);
  },
  timer(name: string, options: TimerFunctionOptions): void {
    const guarded = redacted(options);
    registrations.timer.push({ name, options: guarded });
    if (insideFunctionsHost) app.timer(name, guarded);
  },
  /** Orchestrators are deterministic generators that do no I/O and log nothing: registered as they are. */
  orchestration(name: string, handler: OrchestrationHandler): void {
    registrations.orchestrations[name] = handler;
    if (insideFunctionsHost) df.app.orchestration(name, handler);
  },
  activity(name: string, options: ActivityOptions): void {
    const guarded = redacted(options);
    registrations.activities[name] = guarded;
    if (insideFunctionsHost) df.app.activity(name, guarded);
  },
};
