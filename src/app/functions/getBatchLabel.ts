/**
 * GET /api/batches/{batchId}/labels/{name}: the stored Scalabel frame (with provenance) of one labeled image.
 *   200 the frame | 400 invalid id or name | 404 unknown batch, or no label for the image (yet)
 *   409 label-pending (Retry-After): a provider failure is being retried | 422 label-failed: final, with the reason
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { labeledDocument } from '../http/batch-labels';
import { respond, routeParams, type HandlerResult } from '../http/handle';
import { BatchImageParams } from '../http/params';
import { ok } from '../http/responses';
import { appRuntime } from '../runtime';
import { withRedaction } from '../redacted-context';

export async function getBatchLabel(request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const { batchId, name } = routeParams(request, BatchImageParams);
    const doc = await labeledDocument(appRuntime(), batchId, name);
    return ok(doc.frame);
  });
}

app.http('getBatchLabel', {
  methods: ['GET'],
  route: 'batches/{batchId}/labels/{name}',
  authLevel: 'function',
  handler: withRedaction(getBatchLabel),
});
