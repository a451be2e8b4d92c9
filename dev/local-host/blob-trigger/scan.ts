/**
 * One container scan for one trigger: a flat listing (blob names with slashes are just names) under the pattern's
 * literal prefix, with metadata, keeping the blobs whose names match the pattern together with their bound values.
 * A container that does not exist yet simply has no blobs, as for the host.
 */
import type { BlobServiceClient } from '@azure/storage-blob';
import { versionFromListing, type BlobVersion } from './blob-version';
import type { BlobPathPattern } from './path-pattern';

export interface MatchedVersion {
  version: BlobVersion;
  bound: Record<string, string>;
}

export async function scanMatchingVersions(blobService: BlobServiceClient, pattern: BlobPathPattern): Promise<MatchedVersion[]> {
  const container = blobService.getContainerClient(pattern.container);
  const matched: MatchedVersion[] = [];
  try {
    const listing = container.listBlobsFlat({
      includeMetadata: true,
      ...(pattern.prefix ? { prefix: pattern.prefix } : {}),
    });
    for await (const item of listing) {
      const bound = pattern.match(item.name);
      if (bound) matched.push({ version: versionFromListing(pattern.container, item), bound });
    }
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return [];
    throw err;
  }
  return matched;
}
