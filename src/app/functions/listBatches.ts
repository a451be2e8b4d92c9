/** GET /api/batches: every batch, newest first, as `{batches: BatchView[]}`. */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { respond, type HandlerResult } from '../http/handle';
import { ok } from '../http/responses';
import { appRuntime } from '../runtime';
import { withRedaction } from '../redacted-context';
import { toBatchView } from '../store/documents';

export async function listBatches(_request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const batches = await appRuntime().batches.list();
    return ok({ batches: batches.map(toBatchView) });
  });
}

app.http('listBatches', { methods: ['GET'], route: 'batches', authLevel: 'function', handler: withRedaction(listBatches) });
