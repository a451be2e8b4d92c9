/** Storage and Cosmos DB names the app uses; infra/ creates exactly these (see the README's data model). */
export const BLOB_CONTAINERS = {
  /** Trigger input: `images/{batchId}/{name}`, plus the batch manifest `images/{batchId}/_batch.json`. */
  images: 'images',
  /** Ground truth of a batch under `groundtruth/{batchId}/`, any layout `autolabel evaluate` reads. */
  groundTruth: 'groundtruth',
  /** Evaluation reports: `reports/{reportId}.json` and `.html`. */
  reports: 'reports',
  /** Intermediate data of evaluations (chunk inputs and match data), kept small in Durable history by reference. */
  evaluationWork: 'evaluation-work',
  /**
   * Event Grid's dead letters: BlobCreated events it could not deliver to the blob trigger (after its tries or their
   * time to live), as JSON arrays of events under `{topic}/{subscription}/{y}/{m}/{d}/{h}/`. The sweep replays them.
   */
  eventGridDeadLetters: 'eventgrid-deadletter',
} as const;

export const QUEUES = {
  /**
   * Images to label again, outside the blob trigger: the ones the reconcile sweep found without a final document
   * (a lost event or a lost write) and the ones the host gave up on. Message: LabelRequestSchema (services/label-requests).
   */
  labelRequests: 'label-requests',
} as const;

export const COSMOS_CONTAINERS = {
  /**
   * One document per image: id = encoded image name, partition key /batchId; plus, per batch, its progress document
   * (id PROGRESS_DOCUMENT_ID, kind batch-progress): the counts the label writes keep in the same partition.
   */
  labels: { id: 'labels', partitionKey: '/batchId' },
  /** One document per batch: id = batchId, partition key /batchId. */
  batches: { id: 'batches', partitionKey: '/batchId' },
  /** Batch and nightly reports: id = reportId, partition key /id (always read by id). */
  reports: { id: 'reports', partitionKey: '/id' },
  /**
   * A person's corrected frame of an image, beside (never over) the automatic one: id = encoded image name,
   * partition key /batchId. It survives relabels, and says which image version it corrects.
   */
  reviews: { id: 'reviews', partitionKey: '/batchId' },
} as const;

/** The blob that declares a batch complete; its name starts with `_` so no image can be called that. */
export const MANIFEST_NAME = '_batch.json';

/**
 * The id of a batch's progress document in `labels`. No label document can have it: their ids are
 * encodeURIComponent(name), which always escapes ':'.
 */
export const PROGRESS_DOCUMENT_ID = 'batch:progress';

/** Cosmos ids may not contain / \ ? #: image names are percent-encoded (plain names stay as they are). */
export function labelDocumentId(name: string): string {
  return encodeURIComponent(name);
}

export const evaluationInstanceId = (batchId: string) => `eval-${batchId}`;

/** 2026-11-23T10:20:30.456Z -> 20261123T102030Z: run and report ids that sort by time and fit in blob names. */
export const compactUtc = (instant: Date) =>
  instant
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
