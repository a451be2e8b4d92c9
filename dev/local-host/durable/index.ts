export { createLocalDurable, type LocalDurable, type LocalDurableOptions } from './local-durable';
export { createMemoryInstanceStore, type InstanceStore } from './instance-store';
export { createBlobInstanceStore, DEFAULT_DURABLE_CONTAINER, type BlobInstanceStoreOptions } from './blob-instance-store';
export { InstanceStateSchema, type InstanceState, type HistoryEvent, type RuntimeStatus } from './instance-state';
export { durableClientData, type DurableRoute } from './http-api';
export type { OrchestratorCallback } from './orchestrator-replay';
export type { ActivityCallback } from './activity-invocation';
export { UnsupportedDurableFeatureError, NonDeterministicOrchestrationError } from './errors';
