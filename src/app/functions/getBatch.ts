/**
 * GET /api/batches/{batchId}: the batch's progress (status labeling | labeled | evaluating | evaluated, expected,
 * labeled, failed, reportId when evaluated, problems such as an invalid manifest), and what it is waiting for:
 * `missing` (manifest images without a final document, the first 100), `missingCount`, and `deadline` (when images
 * that never arrived are failed as missing; null before the manifest). 400 invalid id, 404 unknown (with
 * Retry-After when blobs of that batch exist but no trigger has handled one yet: right after an upload).
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { respond, routeParams, type HandlerResult } from '../http/handle';
import { BatchParams } from '../http/params';
import { errorResponse, notFound, ok } from '../http/responses';
import { appRuntime, type AppRuntime } from '../runtime';
import { withRedaction } from '../redacted-context';
import { withLiveCounts } from '../services/batch-progress';
import { batchWaitingFor } from '../services/batch-sweep';
import { toBatchView } from '../store/documents';
import { BLOB_CONTAINERS } from '../store/names';

export async function getBatch(request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const { batchId } = routeParams(request, BatchParams);
    const app = appRuntime();
    const batch = await app.batches.get(batchId);
    if (!batch) return unknownBatch(app, batchId);
    const [live, waiting] = await Promise.all([withLiveCounts(app, batch), batchWaitingFor(app, batch)]);
    return ok({ ...toBatchView(live), ...waiting });
  });
}

/** A batch with no document: unknown, or uploaded a moment ago and not reached by its first trigger yet. */
async function unknownBatch(app: AppRuntime, batchId: string): Promise<HandlerResult> {
  const waiting = (await app.blobs.list(BLOB_CONTAINERS.images, `${batchId}/`)).length;
  if (waiting === 0) return notFound('batch-not-found', `no batch ${batchId}`);
  const message = `batch ${batchId} has ${waiting} blob(s) under ${BLOB_CONTAINERS.images}/${batchId}/ that the blob trigger has not handled yet; ask again in a few seconds`;
  return errorResponse(404, 'batch-not-found', message, { batchId, blobs: waiting }, { 'retry-after': String(PENDING_SECONDS) });
}

/** How long to wait before asking again about a batch just uploaded (the local watcher polls every second). */
const PENDING_SECONDS = 5;

app.http('getBatch', { methods: ['GET'], route: 'batches/{batchId}', authLevel: 'function', handler: withRedaction(getBatch) });
