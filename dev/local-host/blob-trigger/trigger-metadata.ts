/**
 * `context.triggerMetadata` for a blob trigger, shaped like what the Node worker hands a handler in Azure. The host's
 * binding data for a blob trigger is: the path's named values (`{batchId}` -> batchId), `BlobTrigger`
 * (`container/blobName`), `Uri`, `Properties` (the blob's properties), `Metadata` (its user metadata) and `sys`.
 * The worker then lowercases the first letter of every key, recursively (fromRpcTriggerMetadata + toCamelCase), so a
 * handler reads `blobTrigger`, `uri`, `properties.eTag`, `metadata.foo`. Values cross the wire as JSON: dates arrive
 * as ISO strings and the content MD5 as base64.
 */
import { randomUUID } from 'node:crypto';
import type { BlobVersion } from './blob-version';

function camelKey(key: string): string {
  return key.charAt(0).toLowerCase() + key.slice(1);
}

/** What toCamelCaseValue does to a metadata dictionary: only the first letter of each key changes. */
function camelKeys(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) out[camelKey(key)] = value;
  return out;
}

function iso(date: Date | undefined): string | undefined {
  return date ? date.toISOString() : undefined;
}

/** Blob properties under the names of the host's BlobProperties, camel-cased; undefined values are dropped. */
export function blobPropertiesMetadata(version: BlobVersion): Record<string, unknown> {
  const p = version.properties;
  const props: Record<string, unknown> = {
    blobType: p.blobType,
    contentLength: p.contentLength,
    // The track-1 SDK named it Length; older handlers and samples read properties.length, so both are given.
    length: p.contentLength,
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    contentLanguage: p.contentLanguage,
    contentDisposition: p.contentDisposition,
    cacheControl: p.cacheControl,
    contentHash: p.contentMD5 ? Buffer.from(p.contentMD5).toString('base64') : undefined,
    eTag: version.etag,
    lastModified: iso(p.lastModified),
    createdOn: iso(p.createdOn),
    accessTier: p.accessTier,
    leaseState: p.leaseState,
    leaseStatus: p.leaseStatus,
  };
  for (const key of Object.keys(props)) if (props[key] === undefined) delete props[key];
  return props;
}

export function blobTriggerMetadata(options: {
  version: BlobVersion;
  uri: string;
  bound: Record<string, string>;
  functionName: string;
}): Record<string, unknown> {
  const { version, uri, bound, functionName } = options;
  const metadata: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(bound)) metadata[camelKey(name)] = value;
  return {
    ...metadata,
    blobTrigger: `${version.container}/${version.name}`,
    uri,
    properties: blobPropertiesMetadata(version),
    metadata: camelKeys(version.metadata),
    sys: { methodName: functionName, utcNow: new Date().toISOString(), randGuid: randomUUID() },
  };
}
