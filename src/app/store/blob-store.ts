import type { BlobServiceClient } from '@azure/storage-blob';

export interface StoredBlob {
  name: string;
  etag: string;
  bytes: number;
  lastModified: Date | undefined;
}

/** One version of a blob as the service describes it now. */
export interface BlobProperties {
  etag: string;
  bytes: number;
  lastModified: Date | undefined;
}

/**
 * ETags arrive quoted from response headers (`"0x8D..."`) and bare from listings (`0x8D...`), and weak ones as
 * `W/"..."`: the same version either way.
 */
export function sameEtag(a: string, b: string): boolean {
  return bareEtag(a) === bareEtag(b);
}

/** The ETag without quotes or weak marker: one spelling of a version, for comparisons and names derived from it. */
export const bareEtag = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

const statusOf = (error: unknown) => (error as { statusCode?: number }).statusCode;

/** The few blob operations the app needs, over one BlobServiceClient. */
export class BlobStore {
  constructor(private readonly service: BlobServiceClient) {}

  async read(container: string, name: string): Promise<{ data: Buffer; etag: string } | undefined> {
    try {
      // One download: the bytes and the ETag of the same version.
      const response = await this.service.getContainerClient(container).getBlobClient(name).download();
      const chunks: Buffer[] = [];
      for await (const chunk of response.readableStreamBody as NodeJS.ReadableStream) chunks.push(Buffer.from(chunk as Buffer));
      return { data: Buffer.concat(chunks), etag: response.etag ?? '' };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** The current version of a blob (one HEAD request), or undefined when there is none. */
  async properties(container: string, name: string): Promise<BlobProperties | undefined> {
    try {
      const p = await this.service.getContainerClient(container).getBlobClient(name).getProperties();
      return { etag: p.etag ?? '', bytes: p.contentLength ?? 0, lastModified: p.lastModified };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Deletes the blob; true when it was there. */
  async delete(container: string, name: string): Promise<boolean> {
    const { succeeded } = await this.service.getContainerClient(container).getBlobClient(name).deleteIfExists();
    return succeeded;
  }

  async readJson(container: string, name: string): Promise<unknown> {
    const blob = await this.read(container, name);
    if (!blob) throw new Error(`blob ${container}/${name} not found`);
    return JSON.parse(blob.data.toString('utf8'));
  }

  async write(container: string, name: string, data: string | Uint8Array, contentType: string): Promise<string> {
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const result = await this.service
      .getContainerClient(container)
      .getBlockBlobClient(name)
      .uploadData(body, { blobHTTPHeaders: { blobContentType: contentType } });
    return result.etag ?? '';
  }

  writeJson(container: string, name: string, value: unknown): Promise<string> {
    return this.write(container, name, JSON.stringify(value), 'application/json');
  }

  async list(container: string, prefix: string): Promise<StoredBlob[]> {
    const found: StoredBlob[] = [];
    for await (const item of this.service.getContainerClient(container).listBlobsFlat({ prefix })) {
      found.push({
        name: item.name,
        etag: item.properties.etag ?? '',
        bytes: item.properties.contentLength ?? 0,
        lastModified: item.properties.lastModified,
      });
    }
    return found;
  }

  /** The first-level "folders" of a container (`{prefix}/` names without the slash), e.g. the batch ids. */
  async folders(container: string): Promise<string[]> {
    const found: string[] = [];
    for await (const item of this.service.getContainerClient(container).listBlobsByHierarchy('/')) {
      if (item.kind === 'prefix') found.push(item.name.replace(/\/$/, ''));
    }
    return found;
  }

  /**
   * Whether storage answers, with the app's rights (health checks): List Blobs of one container, one result. Not an
   * account-level call: Get Blob Service Properties needs blobServices/read, which no Storage Blob Data role grants,
   * so in Azure it is refused (403) although every call the app makes is allowed.
   */
  async ping(container: string): Promise<void> {
    await this.service.getContainerClient(container).listBlobsFlat().byPage({ maxPageSize: 1 }).next();
  }
}
