/**
 * Replays Event Grid's dead letters: the BlobCreated events it could not deliver to the blob trigger (the app was
 * unreachable for its 30 tries or the events' 24 hours) are written as JSON arrays into the `eventgrid-deadletter`
 * container. Each image one names is asked for again through the label-requests queue at once (no grace period:
 * the trigger has given up on it), unless its current version already has a final document; then the file is
 * deleted. The reconcile sweep would find these images too, later; the dead letters make the loss visible
 * (`event-dead-lettered` in the logs, with Event Grid's reason) and cheap to repair.
 */
import { z } from 'zod';
import { describeError } from '../../core/redaction';
import type { AppRuntime } from '../runtime';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../store/names';
import { isFinalFor } from './label-writes';
import { requestRelabel } from './label-requests';
import type { Logger } from './logger';

/** An event as Event Grid dead-letters it: the event (Event Grid schema) plus why and after how many tries. */
const DeadLetteredEvent = z.looseObject({
  eventType: z.string(),
  subject: z.string(),
  deadLetterReason: z.string().optional(),
  deliveryAttempts: z.number().optional(),
  lastDeliveryOutcome: z.string().optional(),
});
const DeadLetterFile = z.array(DeadLetteredEvent);

const IMAGE_SUBJECT = new RegExp(`^/blobServices/default/containers/${BLOB_CONTAINERS.images}/blobs/([^/]+)/([^/]+)$`);

export interface DeadLetterReplay {
  /** Dead-letter files read (and deleted once handled). */
  files: number;
  /** Images asked for again. */
  requested: number;
  /** Events about images already labeled in their current version, or about blobs gone since. */
  settled: number;
  /** Files that could not be read as dead letters: kept, and logged each time. */
  unreadable: number;
}

export async function replayDeadLetters(app: AppRuntime, logger: Logger): Promise<DeadLetterReplay> {
  const replay: DeadLetterReplay = { files: 0, requested: 0, settled: 0, unreadable: 0 };
  for (const file of await app.blobs.list(BLOB_CONTAINERS.eventGridDeadLetters, '')) {
    let events: z.output<typeof DeadLetterFile>;
    try {
      events = DeadLetterFile.parse(await app.blobs.readJson(BLOB_CONTAINERS.eventGridDeadLetters, file.name));
    } catch (error) {
      replay.unreadable++;
      logger.error(JSON.stringify({ event: 'dead-letter-unreadable', file: file.name, reason: describeError(error) }));
      continue;
    }
    replay.files++;
    for (const event of events) {
      const image = IMAGE_SUBJECT.exec(event.subject);
      if (event.eventType !== 'Microsoft.Storage.BlobCreated' || !image) continue;
      const [batchId, name] = [decodeURIComponent(image[1]!), decodeURIComponent(image[2]!)];
      logger.warn(
        JSON.stringify({
          event: 'event-dead-lettered',
          batchId,
          image: name,
          reason: event.deadLetterReason,
          deliveryAttempts: event.deliveryAttempts,
          lastDeliveryOutcome: event.lastDeliveryOutcome,
        }),
      );
      // The manifest needs nothing here: the sweep applies any manifest not yet applied.
      if (name === MANIFEST_NAME) continue;
      if (await askAgain(app, batchId, name, event, logger)) replay.requested++;
      else replay.settled++;
    }
    await app.blobs.delete(BLOB_CONTAINERS.eventGridDeadLetters, file.name);
  }
  return replay;
}

async function askAgain(
  app: AppRuntime,
  batchId: string,
  name: string,
  event: z.output<typeof DeadLetteredEvent>,
  logger: Logger,
): Promise<boolean> {
  const blob = await app.blobs.properties(BLOB_CONTAINERS.images, `${batchId}/${name}`);
  if (!blob) return false; // deleted since: nothing to label
  const doc = await app.labels.get(batchId, name);
  if (doc && isFinalFor({ status: doc.status, etag: doc.blob.etag }, blob.etag)) return false;
  const why = `Event Grid dead-lettered its event (${event.deadLetterReason ?? 'no reason given'}, ${event.deliveryAttempts ?? '?'} tries)`;
  return requestRelabel(app, { batchId, name, etag: blob.etag }, why, logger);
}
