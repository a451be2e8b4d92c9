/**
 * GET runtime/webhooks/durabletask/instances/{instanceId}: the status endpoint the management links point at, with
 * the extension's answers: 202 + Location (the request URL) + Retry-After 5 while Pending/Running; 200 when
 * Completed, Failed or Terminated; 404 with no body for an unknown id. The body is the same JSON as the real one.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { DURABLE_WEBHOOK_PATH } from './management-urls';
import type { LocalDurableHost } from './local-durable-host';
import { isActiveStatus } from './instance-state';
import { statusPayload } from './status-payload';

export type DurableStatusHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/** The route to register the handler under (relative to the host root, not to the `api` prefix). */
export const DURABLE_STATUS_ROUTE = `${DURABLE_WEBHOOK_PATH.slice(1)}/instances/{instanceId}`;

function instanceIdOf(request: HttpRequest): string | undefined {
  const fromRoute = request.params.instanceId;
  if (fromRoute) return fromRoute;
  const match = /\/runtime\/webhooks\/durabletask\/instances\/([^/?#]+)\/?$/.exec(new URL(request.url).pathname);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}

export function createStatusHandler(host: LocalDurableHost): DurableStatusHandler {
  return async (request): Promise<HttpResponseInit> => {
    if (request.method !== 'GET') return { status: 405, headers: { Allow: 'GET' } };
    const instanceId = instanceIdOf(request);
    const state = instanceId ? await host.readState(instanceId) : undefined;
    if (!state) return { status: 404 };
    const running = isActiveStatus(state.runtimeStatus);
    return {
      status: running ? 202 : 200,
      jsonBody: statusPayload(state),
      headers: {
        'Content-Type': 'application/json',
        ...(running ? { Location: request.url, 'Retry-After': '5' } : {}),
      },
    };
  };
}
