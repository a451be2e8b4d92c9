/**
 * Entry point of the local durable runner: runs the app's durable-functions orchestrators and activities in this
 * process, with Durable's replay semantics, its client API and its status endpoint, so the app works on a machine
 * without the Functions host. See local-durable-host.ts for the lifecycle and orchestration-execution.ts for replay.
 */
import os from 'node:os';
import type { ActivityHandler, DurableOrchestrationStatus, OrchestrationHandler } from 'durable-functions';
import { LocalDurableClient } from './client';
import type { InstanceStore } from './instance-store';
import { LocalDurableHost } from './local-durable-host';
import { orchestrationStatus } from './status-payload';
import { createStatusHandler, type DurableStatusHandler } from './status-handler';

export interface LocalDurableOptions {
  /** Orchestrator functions by the name startNew uses (the name given to df.app.orchestration). */
  orchestrations: Record<string, OrchestrationHandler>;
  /** Activity functions by the name callActivity uses (the name given to df.app.activity). */
  activities: Record<string, ActivityHandler>;
  store: InstanceStore;
  /** Origin of the local host, for the management links; default http://127.0.0.1:7071 (func's default). */
  baseUrl?: string;
  /** Task hub name in the links; default TestHubName (the local default of the extension). */
  taskHub?: string;
  /** Default 10 per CPU, the host's default maxConcurrentActivityFunctions. */
  maxConcurrentActivities?: number;
  /** How long close() lets running activities finish; default 30000 ms. */
  closeGraceMs?: number;
  log?: (line: string) => void;
  /** Clock for history timestamps (what currentUtcDateTime shows); default the wall clock. */
  now?: () => Date;
}

export interface LocalDurable {
  client: LocalDurableClient;
  /** Restarts the instances found Pending/Running in the store (after a process restart). */
  resume(): Promise<void>;
  /** Final status of the instance once Completed/Failed/Terminated; rejects after timeoutMs (default 60000). */
  waitForCompletion(instanceId: string, timeoutMs?: number): Promise<DurableOrchestrationStatus>;
  /** Starts nothing new, lets running activities finish (up to closeGraceMs), writes what is pending. */
  close(): Promise<void>;
  /** Handler for GET runtime/webhooks/durabletask/instances/{instanceId}. */
  statusHandler: DurableStatusHandler;
}

export function createLocalDurable(options: LocalDurableOptions): LocalDurable {
  const host = new LocalDurableHost({
    orchestrations: options.orchestrations,
    activities: options.activities,
    store: options.store,
    maxConcurrentActivities: options.maxConcurrentActivities ?? 10 * Math.max(1, os.cpus().length),
    closeGraceMs: options.closeGraceMs ?? 30_000,
    log: options.log ?? (() => undefined),
    now: options.now ?? (() => new Date()),
  });
  return {
    client: new LocalDurableClient(host, {
      baseUrl: options.baseUrl ?? 'http://127.0.0.1:7071',
      taskHub: options.taskHub ?? 'TestHubName',
    }),
    resume: () => host.resume(),
    waitForCompletion: async (instanceId, timeoutMs = 60_000) => orchestrationStatus(await host.waitForCompletion(instanceId, timeoutMs)),
    close: () => host.close(),
    statusHandler: createStatusHandler(host),
  };
}
