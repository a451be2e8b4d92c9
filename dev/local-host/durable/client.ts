/**
 * The durable client the app talks to. `DurableClientLike` is the part of durable-functions' DurableClient the app
 * uses; the real client (df.getClient(context)) and the local one both satisfy it, so handlers take a
 * DurableClientLike and work unchanged on either host.
 */
import { HttpResponse, type HttpRequest } from '@azure/functions';
import type { DurableOrchestrationStatus, StartNewOptions } from 'durable-functions';
import { instanceNotFoundForStatus } from './errors';
import type { LocalDurableHost } from './local-durable-host';
import { managementUrls, withRequestOrigin, type ManagementUrls } from './management-urls';
import { orchestrationStatus } from './status-payload';

export interface DurableClientLike {
  startNew(orchestratorFunctionName: string, options?: StartNewOptions): Promise<string>;
  getStatus(instanceId: string): Promise<DurableOrchestrationStatus>;
  createCheckStatusResponse(request: HttpRequest | undefined, instanceId: string): HttpResponse;
  terminate(instanceId: string, reason: string): Promise<void>;
}

export interface LocalDurableClientOptions {
  baseUrl: string;
  taskHub: string;
}

export class LocalDurableClient implements DurableClientLike {
  readonly taskHubName: string;

  constructor(
    private readonly host: LocalDurableHost,
    private readonly options: LocalDurableClientOptions,
  ) {
    this.taskHubName = options.taskHub;
  }

  startNew(orchestratorFunctionName: string, options?: StartNewOptions): Promise<string> {
    return this.host.startNew(orchestratorFunctionName, options);
  }

  /** Rejects for an unknown id with the real client's error (the extension answers 404). */
  async getStatus(instanceId: string): Promise<DurableOrchestrationStatus> {
    const state = await this.host.readState(instanceId);
    if (!state) throw instanceNotFoundForStatus(instanceId);
    return orchestrationStatus(state);
  }

  /** 202 with the management links, as the real one: Location = statusQueryGetUri, Retry-After 10. */
  createCheckStatusResponse(request: HttpRequest | undefined, instanceId: string): HttpResponse {
    const links = this.createHttpManagementPayload(instanceId, request?.url);
    return new HttpResponse({
      status: 202,
      jsonBody: links,
      headers: {
        'Content-Type': 'application/json',
        Location: links.statusQueryGetUri,
        'Retry-After': '10',
      },
    });
  }

  createHttpManagementPayload(instanceId: string, requestUrl?: string): ManagementUrls {
    return withRequestOrigin(managementUrls(this.options.baseUrl, this.options.taskHub, instanceId), requestUrl);
  }

  terminate(instanceId: string, reason: string): Promise<void> {
    return this.host.terminate(instanceId, reason);
  }
}
