/**
 * A Durable extension stand-in for handler tests: the HTTP API durable-functions' own DurableClient calls
 * (`df.getClient(context)` in the app), recording what is started and answering status reads from a table the test
 * sets. Like the extension, it refuses to start an instance id that is Pending or Running (HTTP 500,
 * "An Orchestration instance with the status Running already exists.").
 *   POST /runtime/webhooks/durabletask/orchestrators/{name}/{instanceId}  -> 202 {id, statusQueryGetUri, ...}
 *   GET  /runtime/webhooks/durabletask/instances/{instanceId}             -> 200 status JSON, or 404
 */
import { startFakeServer, type FakeServer } from './http-server';

const WEBHOOK = '/runtime/webhooks/durabletask';
const TASK_HUB = 'TestHubName';

export interface StartedInstance {
  name: string;
  instanceId: string;
  input: unknown;
}

export interface DurableApiFake {
  /** Instances started so far, in order. */
  readonly started: StartedInstance[];
  /** Runtime status per instance id (a start sets Pending); tests set others (Running, Completed, Failed...). */
  readonly statuses: Map<string, string>;
  /** Runs before each status read is answered (e.g. to hold two racing readers until both have asked). */
  beforeStatus: (() => Promise<void>) | undefined;
  /** What a durableClient input binding holds: the client calls this server. */
  clientData(): Record<string, unknown>;
  /** Forgets every start and status (a fresh task hub for the next test). */
  reset(): void;
  close(): Promise<void>;
}

export async function startDurableApi(): Promise<DurableApiFake> {
  const started: StartedInstance[] = [];
  const statuses = new Map<string, string>();
  const fake = { beforeStatus: undefined as (() => Promise<void>) | undefined };
  const server: FakeServer = await startFakeServer(async (request) => {
    const url = new URL(request.url, 'http://fake');
    const start = new RegExp(`^${WEBHOOK}/orchestrators/([^/]+)/([^/]+)$`).exec(url.pathname);
    if (request.method === 'POST' && start) {
      const [name, instanceId] = [decodeURIComponent(start[1]!), decodeURIComponent(start[2]!)];
      const status = statuses.get(instanceId);
      if (status === 'Pending' || status === 'Running') {
        return {
          status: 500,
          body: {
            Message: 'Something went wrong',
            ExceptionMessage: `An Orchestration instance with the status ${status} already exists.`,
          },
        };
      }
      const text = request.body.toString('utf8');
      started.push({ name, instanceId, input: text ? JSON.parse(text) : undefined });
      statuses.set(instanceId, 'Pending');
      return { status: 202, body: { id: instanceId } };
    }
    const instance = new RegExp(`^${WEBHOOK}/instances/([^/]+)$`).exec(url.pathname);
    if (request.method === 'GET' && instance) {
      await fake.beforeStatus?.();
      const instanceId = decodeURIComponent(instance[1]!);
      const runtimeStatus = statuses.get(instanceId);
      if (!runtimeStatus) return { status: 404 };
      const now = new Date().toISOString();
      const name = started.find((s) => s.instanceId === instanceId)?.name ?? 'unknown';
      return {
        status: 200,
        body: { name, instanceId, runtimeStatus, input: null, output: null, customStatus: null, createdTime: now, lastUpdatedTime: now },
      };
    }
    return { status: 404 };
  });
  const webhook = `${server.url}${WEBHOOK}`;
  const query = `taskHub=${TASK_HUB}&connection=Storage`;
  return Object.assign(fake, {
    started,
    statuses,
    clientData: () => ({
      taskHubName: TASK_HUB,
      creationUrls: { createNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?${query}` },
      managementUrls: {
        id: 'INSTANCEID',
        statusQueryGetUri: `${webhook}/instances/INSTANCEID?${query}`,
        terminatePostUri: `${webhook}/instances/INSTANCEID/terminate?reason={text}&${query}`,
      },
      baseUrl: webhook,
      requiredQueryStringParameters: query,
      rpcBaseUrl: `${webhook}/`,
    }),
    reset: () => {
      started.length = 0;
      statuses.clear();
      fake.beforeStatus = undefined;
    },
    close: () => server.close(),
  });
}
