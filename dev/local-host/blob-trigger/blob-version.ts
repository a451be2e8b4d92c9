/**
 * One version of one blob, as seen by a container listing: the unit the trigger runs on. A version is identified by
 * its ETag; an overwrite gives a new ETag and so a new version to process.
 */
import type { BlobItem } from '@azure/storage-blob';

export interface BlobVersion {
  container: string;
  name: string;
  /** In header form, with quotes (`"0x8D..."`), the form the host gets from FetchProperties and puts in receipts. */
  etag: string;
  properties: BlobItem['properties'];
  metadata: Record<string, string>;
}

/**
 * List Blobs returns ETags bare (`0x8D...`) while response headers quote them; the host reads the header form, so
 * receipts and poison messages use that.
 */
export function headerETag(etag: string): string {
  const trimmed = etag.trim();
  return trimmed.startsWith('"') || trimmed.startsWith('W/"') ? trimmed : `"${trimmed}"`;
}

export function versionFromListing(container: string, item: BlobItem): BlobVersion {
  return {
    container,
    name: item.name,
    etag: headerETag(item.properties.etag),
    properties: item.properties,
    metadata: item.metadata ?? {},
  };
}

/** Identity of one function's work on one blob version (what must never run twice at once). */
export function versionKey(functionId: string, version: Pick<BlobVersion, 'container' | 'name' | 'etag'>): string {
  return `${functionId}\n${version.container}\n${version.name}\n${version.etag}`;
}
