/**
 * Entry point of the local durable runner: runs the app's orchestrations and activities in this process. The
 * orchestrators are replayed by durable-functions' own engine (the callbacks they registered); this runner plays the
 * extension's part around them (history, activities, retries, state in storage, the HTTP API the client speaks).
 * See local-durable-host.ts for the lifecycle and instance-runner.ts for one instance.
 */
import os from 'node:os';
import type { DurableOrchestrationStatus, OrchestrationRuntimeStatus } from 'durable-functions';
import type { ActivityCallback } from './activity-invocation';
import { durableClientData, durableRoutes, type DurableRoute } from './http-api';
import type { InstanceStore } from './instance-store';
import { LocalDurableHost } from './local-durable-host';
import type { OrchestratorCallback } from './orchestrator-replay';
import { statusPayload } from './status-payload';

export interface LocalDurableOptions {
  /** The callbacks registered for orchestrationTrigger functions, by function name. */
  orchestrations: Record<string, OrchestratorCallback>;
  /** The callbacks registered for activityTrigger functions, by function name. */
  activities: Record<string, ActivityCallback>;
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
  /** What the host binds to a durableClient input: df.getClient(context) then talks to `routes`. */
  clientData: Record<string, unknown>;
  /** The extension's HTTP API (start, status, terminate), to serve at the host root. */
  routes: DurableRoute[];
  /** Restarts the instances found Pending/Running in the store (after a process restart). */
  resume(): Promise<void>;
  /** Final status of the instance once Completed/Failed/Terminated; rejects after timeoutMs (default 60000). */
  waitForCompletion(instanceId: string, timeoutMs?: number): Promise<DurableOrchestrationStatus>;
  /** Starts nothing new, lets running activities finish (up to closeGraceMs), writes what is pending. */
  close(): Promise<void>;
}

export function createLocalDurable(options: LocalDurableOptions): LocalDurable {
  const baseUrl = options.baseUrl ?? 'http://127.0.0.1:7071';
  const taskHub = options.taskHub ?? 'TestHubName';
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
    clientData: durableClientData(baseUrl, taskHub),
    routes: durableRoutes(host, baseUrl, taskHub),
    resume: () => host.resume(),
    waitForCompletion: async (instanceId, timeoutMs = 60_000) => {
      const payload = statusPayload(await host.waitForCompletion(instanceId, timeoutMs));
      return {
        ...payload,
        createdTime: new Date(payload.createdTime),
        lastUpdatedTime: new Date(payload.lastUpdatedTime),
        runtimeStatus: payload.runtimeStatus as OrchestrationRuntimeStatus,
        history: undefined,
      };
    },
    close: () => host.close(),
  };
}
