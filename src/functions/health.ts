/**
 * GET /api/health: 200 `{status: 'ok', checks: {storage, cosmos, providers}}` when every dependency answers, else
 * 503 with the failed checks' reasons; each check has its latency and a time limit, and they run concurrently.
 *
 * Anonymous on purpose: platform probes (App Service health check, Front Door, load balancers, uptime monitors)
 * cannot send a function key. It reveals only whether dependencies answer, costs no paid provider call, and its
 * error texts are one bounded line with no keys in them.
 */
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { appChecks, runChecks } from '../app/http/health-checks';
import { respond, type HandlerResult } from '../app/http/handle';
import { json } from '../app/http/responses';
import { appRuntime } from '../app/runtime';
import { register } from '../app/registry';

export async function health(_request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const report = await runChecks(appChecks(appRuntime()));
    if (report.status !== 'ok') context.warn(JSON.stringify({ event: 'health-failed', checks: report.checks }));
    return json(report.status === 'ok' ? 200 : 503, report, { 'cache-control': 'no-store' });
  });
}

register.http('health', { methods: ['GET'], route: 'health', authLevel: 'anonymous', handler: health });
