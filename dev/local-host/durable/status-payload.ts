/**
 * The instance status as Durable's HTTP status endpoint answers it
 * (GET runtime/webhooks/durabletask/instances/{id}: name, instanceId, runtimeStatus, input, customStatus, output,
 * createdTime, lastUpdatedTime; times with second precision, "yyyy-MM-ddTHH:mm:ssZ").
 */
import type { InstanceState } from './instance-state';

export interface StatusPayload {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

/** .NET's DateTime.ToString("s") + "Z", as the extension formats these times. */
function toSecondsIso(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 19)}Z`;
}

export function statusPayload(state: InstanceState): StatusPayload {
  return {
    name: state.name,
    instanceId: state.instanceId,
    runtimeStatus: state.runtimeStatus,
    input: state.input ?? null,
    customStatus: state.customStatus ?? null,
    output: state.output ?? null,
    createdTime: toSecondsIso(state.createdTime),
    lastUpdatedTime: toSecondsIso(state.lastUpdatedTime),
  };
}
