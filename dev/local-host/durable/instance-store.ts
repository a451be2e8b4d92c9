/**
 * Where the local durable runner keeps instance documents. Two implementations: blobs (Azurite / Azure Storage, in
 * blob-instance-store.ts) and this in-memory one for unit tests. Both store serialized JSON and parse it with the zod
 * schema on read, so a test on the memory store sees exactly what a restart would read back from blobs (no shared
 * object references, Dates as strings).
 */
import { InstanceStateSchema, type InstanceState, type RuntimeStatus } from './instance-state';

export interface InstanceStore {
  /** The instance's document, or undefined when there is none. */
  read(instanceId: string): Promise<InstanceState | undefined>;
  /** Replaces the instance's document as a whole (atomically: a reader sees the old or the new one, never a mix). */
  write(state: InstanceState): Promise<void>;
  /** Ids of the stored instances, only those with one of the given statuses when `statuses` is given. */
  listIds(statuses?: readonly RuntimeStatus[]): Promise<string[]>;
}

export function createMemoryInstanceStore(): InstanceStore {
  const documents = new Map<string, { status: RuntimeStatus; json: string }>();
  return {
    async read(instanceId) {
      const doc = documents.get(instanceId);
      return doc ? InstanceStateSchema.parse(JSON.parse(doc.json)) : undefined;
    },
    async write(state) {
      const valid = InstanceStateSchema.parse(state);
      documents.set(state.instanceId, { status: valid.runtimeStatus, json: JSON.stringify(valid) });
    },
    async listIds(statuses) {
      const ids: string[] = [];
      for (const [id, doc] of documents) if (!statuses || statuses.includes(doc.status)) ids.push(id);
      return ids;
    },
  };
}
