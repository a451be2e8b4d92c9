/**
 * The instance management links of Durable's HTTP API (what createCheckStatusResponse returns), in the extension's
 * key order and URL layout, under `${baseUrl}/runtime/webhooks/durabletask/instances/{id}`. Azure appends
 * `&code=<system key>`; the local host has no keys, so there is none.
 */
import type { HttpManagementPayload } from 'durable-functions';

export const DURABLE_WEBHOOK_PATH = '/runtime/webhooks/durabletask';

/** HttpManagementPayload plus restartPostUri, which the extension also sends (the JS typings omit it). */
export type ManagementUrls = HttpManagementPayload & { restartPostUri: string };

export function managementUrls(baseUrl: string, taskHub: string, instanceId: string): ManagementUrls {
  const instance = `${baseUrl.replace(/\/+$/, '')}${DURABLE_WEBHOOK_PATH}/instances/${encodeURIComponent(instanceId)}`;
  const common = `taskHub=${encodeURIComponent(taskHub)}&connection=Storage`;
  return {
    id: instanceId,
    statusQueryGetUri: `${instance}?${common}`,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}?${common}`,
    terminatePostUri: `${instance}/terminate?reason={text}&${common}`,
    rewindPostUri: `${instance}/rewind?reason={text}&${common}`,
    purgeHistoryDeleteUri: `${instance}?${common}`,
    restartPostUri: `${instance}/restart?${common}`,
    suspendPostUri: `${instance}/suspend?reason={text}&${common}`,
    resumePostUri: `${instance}/resume?reason={text}&${common}`,
  };
}

/** Like durable-functions' getClientResponseLinks: links take the origin the request came in on, when there is one. */
export function withRequestOrigin(urls: ManagementUrls, requestUrl: string | undefined): ManagementUrls {
  let origin: string | undefined;
  try {
    origin = requestUrl ? new URL(requestUrl).origin : undefined;
  } catch {
    origin = undefined;
  }
  if (!origin || origin === 'null') return urls;
  const from = new URL(urls.statusQueryGetUri).origin;
  const out = { ...urls };
  for (const key of Object.keys(out) as Array<keyof ManagementUrls>) {
    if (key !== 'id' && out[key].startsWith(from)) out[key] = origin + out[key].slice(from.length);
  }
  return out;
}
