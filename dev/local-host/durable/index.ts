export { createLocalDurable, type LocalDurable, type LocalDurableOptions } from './local-durable';
export { LocalDurableClient, type DurableClientLike } from './client';
export { createMemoryInstanceStore, type InstanceStore } from './instance-store';
export { createBlobInstanceStore, DEFAULT_DURABLE_CONTAINER, type BlobInstanceStoreOptions } from './blob-instance-store';
export { InstanceStateSchema, type InstanceState, type HistoryEvent, type RuntimeStatus } from './instance-state';
export { DURABLE_STATUS_ROUTE, type DurableStatusHandler } from './status-handler';
export { UnsupportedDurableFeatureError, NonDeterministicOrchestrationError } from './errors';
