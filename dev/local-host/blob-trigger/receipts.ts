/**
 * Blob receipts, stored exactly where the WebJobs host keeps them (BlobReceiptManager.CreateReference):
 *
 *   container azure-webjobs-hosts, blob  blobreceipts/{hostId}/{functionId}/{etag}/{container}/{blobName}
 *
 * (the ETag comes before the blob name because blob names may contain slashes). A receipt is an empty block blob; the
 * host marks one still in progress with the metadata key `Incomplete`, and a receipt without it is complete. This
 * stand-in only ever writes complete receipts (after success or after poisoning), so a version with no receipt, or
 * with an incomplete one left by a real host, is still to do. Receipts live in storage, so a restarted watcher on the
 * same account skips exactly the versions that were finished.
 */
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { BlobVersion } from './blob-version';
import { HOSTS_CONTAINER, RECEIPTS_DIRECTORY } from './host-names';

const INCOMPLETE_KEY = 'incomplete';

export function receiptBlobName(hostId: string, functionId: string, version: Pick<BlobVersion, 'container' | 'name' | 'etag'>): string {
  return `${RECEIPTS_DIRECTORY}/${hostId}/${functionId}/${version.etag}/${version.container}/${version.name}`;
}

function receiptPrefix(hostId: string, functionId: string): string {
  return `${RECEIPTS_DIRECTORY}/${hostId}/${functionId}/`;
}

function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

export class ReceiptStore {
  private readonly hosts: ContainerClient;
  private containerReady = false;

  constructor(
    blobService: BlobServiceClient,
    private readonly hostId: string,
  ) {
    this.hosts = blobService.getContainerClient(HOSTS_CONTAINER);
  }

  /**
   * The complete receipts of one function, as `{etag}/{container}/{blobName}` strings: one listing per poll instead
   * of one request per blob, and it notices receipts deleted by hand (the documented way to force a re-run).
   */
  async completed(functionId: string): Promise<Set<string>> {
    const prefix = receiptPrefix(this.hostId, functionId);
    const done = new Set<string>();
    try {
      for await (const item of this.hosts.listBlobsFlat({ prefix, includeMetadata: true })) {
        const incomplete = Object.keys(item.metadata ?? {}).some((k) => k.toLowerCase() === INCOMPLETE_KEY);
        if (!incomplete) done.add(item.name.slice(prefix.length));
      }
    } catch (err) {
      if (!isNotFound(err)) throw err; // no hosts container yet: nothing has a receipt
    }
    return done;
  }

  /** The key `completed()` uses for a version. */
  static completedKey(version: Pick<BlobVersion, 'container' | 'name' | 'etag'>): string {
    return `${version.etag}/${version.container}/${version.name}`;
  }

  /** Writes (or overwrites, dropping any `Incomplete` mark) the empty receipt of a finished version. */
  async markCompleted(functionId: string, version: Pick<BlobVersion, 'container' | 'name' | 'etag'>): Promise<void> {
    if (!this.containerReady) {
      await this.hosts.createIfNotExists();
      this.containerReady = true;
    }
    const blob = this.hosts.getBlockBlobClient(receiptBlobName(this.hostId, functionId, version));
    await blob.upload(Buffer.alloc(0), 0);
  }
}
