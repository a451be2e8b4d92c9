/**
 * POST /api/batches/{batchId}/evaluate: (re-)run the batch's evaluation, e.g. after its ground truth was corrected.
 * Optional JSON body `{"reason": "..."}` (kept on the batch). Answers Durable's check-status response:
 *   202 with the instance's status URLs (instance id eval-<batchId>) | 400 invalid id or body | 404 unknown batch
 *   409 batch-not-labeled (no manifest yet, or images still being labeled) | 409 evaluation-running
 *   413 a body over 4 KiB
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { readBody } from '../http/body';
import { jsonBody, respond, routeParams, type HandlerResult } from '../http/handle';
import { BatchParams } from '../http/params';
import { conflict, notFound } from '../http/responses';
import { durableClientFor, findInstance, isRunning } from '../durable';
import { appRuntime } from '../runtime';
import { withRedaction } from '../redacted-context';
import { withLiveCounts } from '../services/batch-progress';
import { batchWaitingFor } from '../services/batch-sweep';
import { startBatchEvaluation } from '../services/evaluation-start';
import { MANIFEST_NAME, BLOB_CONTAINERS, evaluationInstanceId } from '../store/names';

export const MAX_EVALUATE_BODY_BYTES = 4096;

const Body = z.strictObject({ reason: z.string().trim().min(1).max(200).optional() }).optional();

export async function evaluateBatchHttp(request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const app = appRuntime();
    const { batchId } = routeParams(request, BatchParams);
    const body = jsonBody(await readBody(request, MAX_EVALUATE_BODY_BYTES), Body);
    const batch = await app.batches.get(batchId);
    if (!batch) return notFound('batch-not-found', `no batch ${batchId}`);
    if (!batch.manifest) {
      return conflict(
        'batch-not-labeled',
        `batch ${batchId} has no manifest yet: upload ${BLOB_CONTAINERS.images}/${batchId}/${MANIFEST_NAME} listing its images, then evaluate once they are labeled`,
        { batchId, status: batch.status },
      );
    }
    if (batch.status === 'labeling') {
      const { labeled, failed } = await withLiveCounts(app, batch);
      const done = labeled + failed;
      const waiting = await batchWaitingFor(app, batch);
      const { missing, missingCount } = waiting;
      const more = missingCount !== null && missingCount > 5 ? ` and ${missingCount - 5} more` : '';
      const waitingFor = missing.length ? `; waiting for ${missing.slice(0, 5).join(', ')}${more}` : '';
      return conflict(
        'batch-not-labeled',
        `batch ${batchId} is still labeling: ${done} of ${batch.expected ?? '?'} images done${waitingFor}. ` +
          `It is evaluated on its own when the last one is final; images that never arrive are failed as missing at ${waiting.deadline}`,
        { batchId, status: batch.status, expected: batch.expected, labeled, failed, ...waiting },
      );
    }

    const durable = durableClientFor(context);
    const instanceId = evaluationInstanceId(batchId);
    const running = () =>
      conflict('evaluation-running', `the evaluation of batch ${batchId} is running; wait for it to finish before re-running`, {
        batchId,
        instanceId,
      });
    if (isRunning(await findInstance(durable, instanceId))) return running();
    const { started } = await startBatchEvaluation(app, batchId, durable, body?.reason ?? 'requested over HTTP', context, 'unless-running');
    // Another request started it between the check and this start: the evaluation asked for is running.
    if (!started) return running();
    return durable.createCheckStatusResponse(request, instanceId);
  });
}

app.http('evaluateBatchHttp', {
  methods: ['POST'],
  route: 'batches/{batchId}/evaluate',
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: withRedaction(evaluateBatchHttp),
});
