/**
 * The part of durable-functions' DurableClient the app uses: `df.getClient(context)` (every function that starts or
 * reads an orchestration declares the durableClient input). Services take the client as an argument, so they run
 * the same under the Functions host, the local host (which serves the Durable HTTP API the client calls) and tests.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';

export type DurableClientLike = Pick<DurableClient, 'startNew' | 'getStatus' | 'createCheckStatusResponse'>;

export function durableClientFor(context: InvocationContext): DurableClientLike {
  return df.getClient(context);
}

/** Runtime statuses in which an instance will still produce (or has produced) its result. */
const LIVE_STATUSES = new Set(['Pending', 'Running', 'Completed', 'ContinuedAsNew', 'Suspended']);

/** The instance's status, or undefined when it does not exist (the client throws on the extension's 404). */
export async function findInstance(client: DurableClientLike, instanceId: string): Promise<DurableOrchestrationStatus | undefined> {
  try {
    const status = await client.getStatus(instanceId);
    return status && status.runtimeStatus ? status : undefined;
  } catch (error) {
    if (/\b404\b/.test((error as Error).message)) return undefined;
    throw error;
  }
}

export const isLive = (status: DurableOrchestrationStatus | undefined) => status !== undefined && LIVE_STATUSES.has(status.runtimeStatus);
export const isRunning = (status: DurableOrchestrationStatus | undefined) =>
  status !== undefined && (status.runtimeStatus === 'Pending' || status.runtimeStatus === 'Running');
