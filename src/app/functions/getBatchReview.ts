/**
 * GET /api/batches/{batchId}/review?limit=N: the batch's review queue, the labeled images most worth a person's look
 * first, each with its priority and reasons (the same ranking as `autolabel review`).
 *   200 {batchId, images, items: [{name, priority, reasons, signals}]} | 400 bad id or limit | 404 unknown batch
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { reviewQueue } from '../../core/review/queue';
import { HttpProblem, queryParams, respond, routeParams, type HandlerResult } from '../http/handle';
import { BatchParams } from '../http/params';
import { notFound, ok } from '../http/responses';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';

const ReviewQuery = z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(100) });

export async function getBatchReview(request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const { batchId } = routeParams(request, BatchParams);
    const { limit } = queryParams(request, ReviewQuery);
    const runtime = appRuntime();
    if (!(await runtime.batches.get(batchId))) throw new HttpProblem(notFound('batch-not-found', `no batch ${batchId}`));
    const frames = await runtime.labels.labeledFrames(batchId);
    const items = reviewQueue(frames, { limit });
    return ok({ batchId, images: frames.length, items });
  });
}

app.http('getBatchReview', {
  methods: ['GET'],
  route: 'batches/{batchId}/review',
  authLevel: 'function',
  handler: withRedaction(getBatchReview),
});
