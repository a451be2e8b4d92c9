/**
 * GET /api/batches/{batchId}: the batch's progress (status labeling | labeled | evaluating | evaluated, expected,
 * labeled, failed, reportId when evaluated, problems such as an invalid manifest), and what it is waiting for:
 * `missing` (manifest images without a final document, the first 100), `missingCount`, and `deadline` (when images
 * that never arrived are failed as missing; null before the manifest). 400 invalid id, 404 unknown.
 */
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { respond, routeParams, type HandlerResult } from '../app/http/handle';
import { BatchParams } from '../app/http/params';
import { notFound, ok } from '../app/http/responses';
import { appRuntime } from '../app/runtime';
import { register } from '../app/registry';
import { batchWaitingFor } from '../app/services/batch-sweep';
import { toBatchView } from '../app/store/documents';

export async function getBatch(request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const { batchId } = routeParams(request, BatchParams);
    const app = appRuntime();
    const batch = await app.batches.get(batchId);
    if (!batch) return notFound('batch-not-found', `no batch ${batchId}`);
    return ok({ ...toBatchView(batch), ...(await batchWaitingFor(app, batch)) });
  });
}

register.http('getBatch', { methods: ['GET'], route: 'batches/{batchId}', authLevel: 'function', handler: getBatch });
