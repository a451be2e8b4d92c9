/**
 * The part of durable-functions' DurableClient the app uses. In Azure it is `df.getClient(context)` (the function
 * registration declares the durableClient input); the local host installs its in-process runner's client instead.
 */
import type { HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

export interface InstanceStatus {
  instanceId: string;
  runtimeStatus: string;
  output?: unknown;
  customStatus?: unknown;
}

export interface DurableClientLike {
  startNew(orchestrationName: string, options?: { instanceId?: string; input?: unknown }): Promise<string>;
  getStatus(instanceId: string): Promise<InstanceStatus>;
  createCheckStatusResponse(request: HttpRequest | undefined, instanceId: string): HttpResponse;
}

let localClient: DurableClientLike | undefined;

/** The local host (and tests) run orchestrations in-process: their client replaces the Functions extension's. */
export function useLocalDurableClient(client: DurableClientLike | undefined): void {
  localClient = client;
}

export function durableClientFor(context: InvocationContext): DurableClientLike {
  return localClient ?? (df.getClient(context) as unknown as DurableClientLike);
}

/** Runtime statuses in which an instance will still produce (or has produced) its result. */
const LIVE_STATUSES = new Set(['Pending', 'Running', 'Completed', 'ContinuedAsNew', 'Suspended']);

/** The instance's status, or undefined when it does not exist (the real client throws on its 404). */
export async function findInstance(client: DurableClientLike, instanceId: string): Promise<InstanceStatus | undefined> {
  try {
    const status = await client.getStatus(instanceId);
    return status && status.runtimeStatus ? status : undefined;
  } catch (error) {
    if (/\b404\b/.test((error as Error).message)) return undefined;
    throw error;
  }
}

export const isLive = (status: InstanceStatus | undefined) => status !== undefined && LIVE_STATUSES.has(status.runtimeStatus);
export const isRunning = (status: InstanceStatus | undefined) =>
  status !== undefined && (status.runtimeStatus === 'Pending' || status.runtimeStatus === 'Running');
