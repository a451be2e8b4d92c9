/**
 * GET /api/health: `{status, checks: {storage, cosmos, providers}}`, each check with its latency and a time limit,
 * all run concurrently.
 *   200 `ok`        every dependency answers, and every remote provider answers its probe
 *   200 `degraded`  storage and Cosmos DB answer, but a remote provider failed its probe: the reason is in
 *                   `checks.providers.error`, each probe's result in `checks.providers.details.probes`
 *   503 `unhealthy` storage or Cosmos DB does not answer, or the providers cannot be built
 *
 * A remote AI service being down is `degraded` with 200, not 503, on purpose: platform health checks (App Service
 * health check, load balancers) take instances out of rotation and recycle them on a failing status, and a fresh
 * instance cannot bring back someone else's service; it would only stop the app serving what still works (reads,
 * reports, labeling queued for retry). Monitors that care read `status`.
 *
 * Anonymous on purpose: platform probes cannot send a function key. It reveals only whether dependencies answer,
 * costs no paid provider call (probes list models or read model info, or only check that an endpoint answers, and
 * each result is cached for 30 s), and its error texts are one bounded line with no keys in them.
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { appChecks, runChecks } from '../http/health-checks';
import { respond, type HandlerResult } from '../http/handle';
import { json } from '../http/responses';
import { appRuntime } from '../runtime';
import { withRedaction } from '../redacted-context';

export async function health(_request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const report = await runChecks(appChecks(appRuntime()));
    // `health-failed` is what log alerts already look for; `health-degraded` is new.
    const event = report.status === 'unhealthy' ? 'health-failed' : 'health-degraded';
    if (report.status !== 'ok') context.warn(JSON.stringify({ event, checks: report.checks }));
    return json(report.status === 'unhealthy' ? 503 : 200, report, { 'cache-control': 'no-store' });
  });
}

app.http('health', { methods: ['GET'], route: 'health', authLevel: 'anonymous', handler: withRedaction(health) });
