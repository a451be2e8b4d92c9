/**
 * Names the Functions host (WebJobs storage extension) uses in the storage account, so that what this stand-in writes
 * lands where the real host would look, and vice versa.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';

/** HostContainerNames.Hosts: the host's own bookkeeping container. */
export const HOSTS_CONTAINER = 'azure-webjobs-hosts';

/** HostDirectoryNames.BlobReceipts: the folder of blob receipts inside HOSTS_CONTAINER. */
export const RECEIPTS_DIRECTORY = 'blobreceipts';

/** HostQueueNames.BlobTriggerPoisonQueue: where a blob that failed every attempt is reported. */
export const POISON_QUEUE = 'webjobs-blobtrigger-poison';

/** host.json `extensions.blobs.poisonBlobThreshold` (5, set explicitly there): the host tries a blob 5 times, then poisons it. */
export const HOST_MAX_ATTEMPTS = 5;

/**
 * FunctionDescriptor.Id of a function in the script (non-.NET) host: the host generates one class `Host.Functions`
 * holding every function as a method, and the id is the method's full name. It is what receipts and poison messages
 * carry (the docs write it `<FUNCTION_APP_NAME>.Functions.<FUNCTION_NAME>`; for a Node app the first part is `Host`).
 */
export function functionFullName(functionName: string): string {
  return `Host.Functions.${functionName}`;
}

/** The rules Azure applies to a host id: lowercase letters, digits and dashes, at most 32, no dash at either end. */
export function sanitizeHostId(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '')
    .slice(0, 32)
    .replace(/^-+|-+$/g, '');
}

/**
 * Default host id, like a local host outside Azure: machine name plus a stable hash of the app folder, so two apps on
 * one machine (sharing one Azurite) keep separate receipts. The host's own override setting wins when present.
 */
export function defaultHostId(appRoot = process.cwd()): string {
  const configured = process.env.AzureFunctionsWebHost__hostid ?? process.env.AzureFunctionsWebHost__hostId;
  if (configured) return sanitizeHostId(configured);
  const hash = createHash('sha256').update(appRoot).digest('hex').slice(0, 8);
  const machine = sanitizeHostId(os.hostname()).slice(0, 32 - hash.length - 1) || 'localhost';
  return sanitizeHostId(`${machine}-${hash}`);
}
