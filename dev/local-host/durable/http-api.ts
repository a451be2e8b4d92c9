/**
 * The Durable extension's HTTP API, as durable-functions' own DurableClient calls it (`df.getClient(context)` in the
 * app): the client data the host binds to a durableClient input, and the routes under
 * runtime/webhooks/durabletask/ that answer the client's calls with the extension's statuses and bodies:
 *   POST orchestrators/{functionName}[/{instanceId}]   start: 202 + the management links (id included)
 *   GET  instances/{instanceId}                        status: 202 while Pending/Running (Location, Retry-After), 200 after, 404
 *   POST instances/{instanceId}/terminate?reason=      202 terminated, 410 not running, 404 unknown
 * Refusals (an instance already running, an unknown orchestrator) carry the extension's status and JSON body.
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { DurableApiError } from './errors';
import { isActiveStatus } from './instance-state';
import type { LocalDurableHost } from './local-durable-host';
import { DURABLE_WEBHOOK_PATH, managementUrls } from './management-urls';
import { statusPayload } from './status-payload';

/** The placeholder the client replaces with an instance id in the management links (managementUrls.id). */
const INSTANCE_ID_PLACEHOLDER = 'INSTANCEID';

export interface DurableRoute {
  name: string;
  methods: Array<'GET' | 'POST'>;
  /** Relative to the host root (not under the `api` prefix), `{param}` segments. */
  route: string;
  handler: (request: HttpRequest) => Promise<HttpResponseInit>;
}

/** What a durableClient input binding holds (OrchestrationClientInputData, plus rpcBaseUrl, which the client prefers). */
export function durableClientData(baseUrl: string, taskHub: string): Record<string, unknown> {
  const webhook = `${baseUrl.replace(/\/+$/, '')}${DURABLE_WEBHOOK_PATH}`;
  const query = `taskHub=${encodeURIComponent(taskHub)}&connection=Storage`;
  return {
    taskHubName: taskHub,
    creationUrls: {
      createNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?${query}`,
      createAndWaitOnNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${query}`,
    },
    managementUrls: managementUrls(baseUrl, taskHub, INSTANCE_ID_PLACEHOLDER),
    baseUrl: webhook,
    requiredQueryStringParameters: query,
    rpcBaseUrl: `${webhook}/`,
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit => ({
  status,
  jsonBody: body,
  headers: { 'Content-Type': 'application/json', ...headers },
});

function refusal(error: unknown): HttpResponseInit {
  if (error instanceof DurableApiError) return json(error.status, error.details);
  return json(500, {
    Message: 'Something went wrong while processing your request',
    ExceptionMessage: (error as Error)?.message ?? String(error),
  });
}

/** The request body as the client sends a start input: the input's JSON, or an empty body for none. */
async function startInput(request: HttpRequest): Promise<unknown> {
  const text = await request.text();
  return text.trim() === '' ? undefined : JSON.parse(text);
}

export function durableRoutes(host: LocalDurableHost, baseUrl: string, taskHub: string): DurableRoute[] {
  const base = DURABLE_WEBHOOK_PATH.slice(1);
  const start = async (request: HttpRequest): Promise<HttpResponseInit> => {
    try {
      const instanceId = await host.startNew(request.params.functionName!, {
        ...(request.params.instanceId ? { instanceId: request.params.instanceId } : {}),
        input: await startInput(request),
      });
      return json(202, managementUrls(baseUrl, taskHub, instanceId), {
        Location: managementUrls(baseUrl, taskHub, instanceId).statusQueryGetUri,
      });
    } catch (error) {
      return refusal(error);
    }
  };
  return [
    { name: 'durableStart', methods: ['POST'], route: `${base}/orchestrators/{functionName}`, handler: start },
    { name: 'durableStartWithId', methods: ['POST'], route: `${base}/orchestrators/{functionName}/{instanceId}`, handler: start },
    {
      name: 'durableStatus',
      methods: ['GET'],
      route: `${base}/instances/{instanceId}`,
      handler: async (request) => {
        const state = await host.readState(request.params.instanceId!);
        if (!state) return { status: 404 };
        const running = isActiveStatus(state.runtimeStatus);
        return json(running ? 202 : 200, statusPayload(state), running ? { Location: request.url, 'Retry-After': '5' } : {});
      },
    },
    {
      name: 'durableTerminate',
      methods: ['POST'],
      route: `${base}/instances/{instanceId}/terminate`,
      handler: async (request) => {
        try {
          const terminated = await host.terminate(request.params.instanceId!, request.query.get('reason') ?? '');
          return { status: terminated ? 202 : 410 };
        } catch (error) {
          return refusal(error);
        }
      },
    },
  ];
}
