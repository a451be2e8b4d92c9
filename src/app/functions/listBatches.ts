/** GET /api/batches: every batch, newest first, as `{batches: BatchView[]}` (counts live from each progress document). */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { forEachConcurrently } from '../../adapters/concurrency/limits';
import { respond, type HandlerResult } from '../http/handle';
import { ok } from '../http/responses';
import { appRuntime } from '../runtime';
import { withRedaction } from '../redacted-context';
import { withLiveCounts } from '../services/batch-progress';
import { toBatchView, type BatchView } from '../store/documents';

/** Progress documents read at once: one point read per batch listed. */
const PROGRESS_READS = 8;

export async function listBatches(_request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const runtime = appRuntime();
    const batches = await runtime.batches.list();
    const views: BatchView[] = new Array(batches.length);
    await forEachConcurrently(batches, PROGRESS_READS, async (batch, i) => {
      views[i] = toBatchView(await withLiveCounts(runtime, batch));
    });
    return ok({ batches: views });
  });
}

app.http('listBatches', { methods: ['GET'], route: 'batches', authLevel: 'function', handler: withRedaction(listBatches) });
