/**
 * PUT /api/batches/{batchId}/labels/{name}/review: a person's corrected frame for one labeled image, stored beside
 * the automatic one (never over it) with who and when, and the image version and labeling it corrects. Later
 * evaluations of the batch use it as the image's ground truth (listed as reviewed in the report).
 *   body {reviewer, frame}: frame is a Scalabel frame whose name is the image's
 *   200 the stored review | 400 bad body or name mismatch | 404 unknown batch or image | 409 not labeled yet
 *   413 body over 1 MiB | 422 the image's labeling failed (nothing to correct)
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { FrameSchema } from '../../core/labels/schema';
import { labeledDocument } from '../http/batch-labels';
import { readBody } from '../http/body';
import { HttpProblem, jsonBody, respond, routeParams, type HandlerResult } from '../http/handle';
import { BatchImageParams } from '../http/params';
import { badRequest, ok } from '../http/responses';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';
import { DOCUMENT_SCHEMA_VERSION, type ReviewDocument } from '../store/documents';
import { labelDocumentId } from '../store/names';

const MAX_REVIEW_BYTES = 1024 * 1024;

export const ReviewBodySchema = z.strictObject({
  reviewer: z.string().trim().min(1).max(200),
  frame: FrameSchema,
});

export async function putBatchLabelReview(request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const { batchId, name } = routeParams(request, BatchImageParams);
    const body = jsonBody(await readBody(request, MAX_REVIEW_BYTES), ReviewBodySchema);
    if (body.frame.name !== name) {
      throw new HttpProblem(badRequest('frame-name-mismatch', `the frame is named ${body.frame.name}, the image is ${name}`));
    }
    const runtime = appRuntime();
    const labeled = await labeledDocument(runtime, batchId, name);
    const previous = await runtime.reviews.get(batchId, name);
    const review: ReviewDocument = {
      id: labelDocumentId(name),
      batchId,
      name,
      kind: 'review',
      schemaVersion: DOCUMENT_SCHEMA_VERSION,
      frame: body.frame,
      reviewer: body.reviewer,
      reviewedAt: runtime.now().toISOString(),
      image: { etag: labeled.blob.etag },
      configHash: labeled.configHash,
      revision: (previous?.revision ?? 0) + 1,
    };
    const stored = await runtime.reviews.upsert(review);
    context.log(JSON.stringify({ event: 'label-reviewed', batchId, image: name, reviewer: body.reviewer, revision: stored.revision }));
    const { _etag, ...shown } = stored;
    void _etag;
    return ok(shown);
  });
}

app.http('putBatchLabelReview', {
  methods: ['PUT'],
  route: 'batches/{batchId}/labels/{name}/review',
  authLevel: 'function',
  handler: withRedaction(putBatchLabelReview),
});
