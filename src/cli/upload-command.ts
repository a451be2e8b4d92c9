/**
 * `autolabel upload <images dir> --batch <id> [--gt <dir|file>]`: put a folder in as a batch. Images go to
 * `images/<id>/<file name>`, ground truth files to `groundtruth/<id>/...` (relative paths kept), and the manifest
 * `images/<id>/_batch.json` last: it declares the batch complete, so the app starts counting only once every image
 * it lists is on its way.
 *
 * Storage, first found wins: `--account-url` (keyless: DefaultAzureCredential, i.e. az/azd login, a managed identity
 * or AZURE_* service principal variables), AzureWebJobsStorage (a connection string), AZURE_STORAGE_BLOB_ENDPOINT
 * (keyless; the azd output of that name), the running local host's Azurite, Azurite's default ports. A connection
 * string outranks AZURE_STORAGE_BLOB_ENDPOINT so that local runs stay local after `eval "$(azd env get-values)"`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { BatchIdSchema, BatchManifestSchema, type BatchManifest } from '../app/store/documents';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../app/store/names';
import { listImages, type ImageListing } from '../labeling/list-images';
import { DEFAULT_LOCAL_DATA_DIR, readLocalEndpoints } from '../local/endpoints';
import type { CliIo } from './main';
import { createProgress } from './progress';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './usage-error';

export const UPLOAD_USAGE = `  autolabel upload <images dir> --batch <id> [--gt <dir|file>] [--concurrency N] [--data-dir <dir>]
                  [--account-url https://<account>.blob.core.windows.net]
      Upload a folder of images as a batch (images/<id>/...), its ground truth (groundtruth/<id>/...) and the
      manifest that declares the batch complete. Storage: --account-url (signed in: az login / azd auth login, or a
      managed identity; no keys), else AzureWebJobsStorage, else AZURE_STORAGE_BLOB_ENDPOINT (keyless, as
      --account-url), else the running \`npm start\` host, else Azurite's default ports.`;

/** Where the upload goes: a blob endpoint signed in with Entra ID, or a connection string (Azurite, keys). */
export type UploadTarget =
  | { kind: 'account-url'; url: string; source: '--account-url' | 'AZURE_STORAGE_BLOB_ENDPOINT' }
  | { kind: 'connection-string'; connectionString: string; source: 'AzureWebJobsStorage' | 'local host' | 'Azurite defaults' };

const CONTENT_TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.json': 'application/json' };

async function listFiles(root: string): Promise<string[]> {
  const stat = await fs.stat(root);
  if (stat.isFile()) return [root];
  const found: string[] = [];
  for (const entry of await fs.readdir(root, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) found.push(...(await listFiles(full)));
    else if (entry.isFile() && entry.name.toLowerCase().endsWith('.json')) found.push(full);
  }
  return found.sort();
}

/** Picks the storage by the precedence in the header comment. */
export function uploadTarget(accountUrl: string | undefined, env: NodeJS.ProcessEnv, dataDir: string): UploadTarget {
  if (accountUrl) return { kind: 'account-url', url: checkedAccountUrl(accountUrl, '--account-url'), source: '--account-url' };
  if (env.AzureWebJobsStorage) return { kind: 'connection-string', connectionString: env.AzureWebJobsStorage, source: 'AzureWebJobsStorage' };
  if (env.AZURE_STORAGE_BLOB_ENDPOINT) {
    return { kind: 'account-url', url: checkedAccountUrl(env.AZURE_STORAGE_BLOB_ENDPOINT, 'AZURE_STORAGE_BLOB_ENDPOINT'), source: 'AZURE_STORAGE_BLOB_ENDPOINT' };
  }
  const local = readLocalEndpoints(dataDir)?.AzureWebJobsStorage;
  if (local) return { kind: 'connection-string', connectionString: local, source: 'local host' };
  return { kind: 'connection-string', connectionString: 'UseDevelopmentStorage=true', source: 'Azurite defaults' };
}

/** Bearer tokens travel over HTTPS only (the SDK refuses them over http), so say so before trying. */
function checkedAccountUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${name}: not a URL: ${value} (expected https://<account>.blob.core.windows.net)`);
  }
  if (url.protocol !== 'https:') throw new UsageError(`${name}: must be https (signed-in access needs TLS): ${value}`);
  return value;
}

function blobService(target: UploadTarget): BlobServiceClient {
  // DefaultAzureCredential reads process.env itself (AZURE_CLIENT_ID, IDENTITY_ENDPOINT, ...), not runUpload's `env`.
  return target.kind === 'account-url'
    ? new BlobServiceClient(target.url, new DefaultAzureCredential())
    : BlobServiceClient.fromConnectionString(target.connectionString);
}

const statusOf = (error: unknown): number | undefined => (error as { statusCode?: number } | undefined)?.statusCode;

/** No token at all (not signed in, no identity): DefaultAzureCredential's chain errors. */
function isSignInError(error: unknown): boolean {
  const name = (error as Error | undefined)?.name ?? '';
  return ['AggregateAuthenticationError', 'CredentialUnavailableError', 'AuthenticationError'].includes(name);
}

/**
 * Containers normally exist already (Bicep creates them in Azure; the local host at start). Creating them is a
 * convenience for a bare Azurite; a 403 (a role that may write blobs but not manage containers) is not fatal.
 */
async function ensureContainer(service: BlobServiceClient, name: string, io: CliIo): Promise<void> {
  try {
    await service.getContainerClient(name).createIfNotExists();
  } catch (error) {
    if (statusOf(error) !== 403) throw error;
    io.stderr(`note: not allowed to create container '${name}' (403); going on, assuming the deployment created it\n`);
  }
}

function followUpHint(target: UploadTarget, batchId: string): string {
  if (target.kind === 'connection-string') return `follow it: curl http://127.0.0.1:7071/api/batches/${batchId}\n`;
  return (
    `follow it: curl "$SERVICE_API_BASE_URL/api/batches/${batchId}?code=<function key>"\n` +
    `  (function key: az functionapp keys list -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --query functionKeys.default -o tsv)\n`
  );
}

export async function runUpload(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      batch: { type: 'string' },
      gt: { type: 'string' },
      concurrency: { type: 'string', default: '8' },
      'data-dir': { type: 'string', default: DEFAULT_LOCAL_DATA_DIR },
      'account-url': { type: 'string' },
    },
  });
  const [imagesDir, ...extra] = positionals;
  if (!imagesDir || extra.length) throw new UsageError(`give one images folder\n${UPLOAD_USAGE}`);
  const batch = BatchIdSchema.safeParse(values.batch);
  if (!batch.success) throw new UsageError(`--batch: ${values.batch === undefined ? 'required' : batch.error.issues[0]?.message}\n${UPLOAD_USAGE}`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new UsageError('--concurrency must be a whole number from 1 to 64');
  const batchId = batch.data;
  const target = uploadTarget(values['account-url'], env, values['data-dir']);

  const listing = await listImages(imagesDir).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${imagesDir}: ${error.code ?? error.message}`);
  });
  if (listing.images.length === 0) throw new UsageError(`no images in ${imagesDir}`);
  for (const dup of listing.duplicates) io.stderr(`skipped ${dup.file}: same file name as ${dup.firstFile}\n`);
  const gtFiles = values.gt ? await listFiles(values.gt) : [];
  const gtRoot = values.gt ? ((await fs.stat(values.gt)).isFile() ? path.dirname(values.gt) : values.gt) : '';

  try {
    return await uploadBatch({ target, batchId, listing, gtFiles, gtRoot, concurrency, io });
  } catch (error) {
    if (target.kind !== 'account-url') throw error;
    if (isSignInError(error)) {
      io.stderr(
        `autolabel: no token for ${target.url} (from ${target.source}): ${(error as Error).message}\n` +
          `  sign in first (az login or azd auth login), or run where a managed identity is available\n`,
      );
      return EXIT_FAILURE;
    }
    if (statusOf(error) === 403) {
      io.stderr(
        `autolabel: ${target.url} refused the upload (403): ${(error as Error).message}\n` +
          `  the signed-in identity needs the Storage Blob Data Contributor role on the account\n`,
      );
      return EXIT_FAILURE;
    }
    throw error;
  }
}

interface UploadBatchInput {
  target: UploadTarget;
  batchId: string;
  listing: ImageListing;
  gtFiles: string[];
  gtRoot: string;
  concurrency: number;
  io: CliIo;
}

async function uploadBatch({ target, batchId, listing, gtFiles, gtRoot, concurrency, io }: UploadBatchInput): Promise<number> {
  const service = blobService(target);
  // Said because the precedence can surprise (AZURE_STORAGE_BLOB_ENDPOINT after `eval "$(azd env get-values)"`).
  if (target.kind === 'account-url') io.stderr(`storage: ${target.url} (${target.source}; signed in, no keys)\n`);
  for (const name of [BLOB_CONTAINERS.images, BLOB_CONTAINERS.groundTruth]) await ensureContainer(service, name, io);
  const upload = async (container: string, blobName: string, file: string) => {
    const data = await fs.readFile(file);
    await service
      .getContainerClient(container)
      .getBlockBlobClient(blobName)
      .uploadData(data, { blobHTTPHeaders: { blobContentType: CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream' } });
  };

  const jobs: Array<() => Promise<void>> = [
    ...gtFiles.map((file) => () => upload(BLOB_CONTAINERS.groundTruth, `${batchId}/${path.relative(gtRoot, file).split(path.sep).join('/')}`, file)),
    ...listing.images.map(({ name, file }) => () => upload(BLOB_CONTAINERS.images, `${batchId}/${name}`, file)),
  ];
  const progress = createProgress({ label: 'uploading', total: jobs.length });
  let done = 0;
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, jobs.length) }, async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      await job();
      progress.update(++done);
    }
  });
  await Promise.all(workers);
  progress.finish();

  const manifest: BatchManifest = BatchManifestSchema.parse({ images: listing.images.map((i) => i.name), groundTruthPrefix: `${batchId}/` });
  await service
    .getContainerClient(BLOB_CONTAINERS.images)
    .getBlockBlobClient(`${batchId}/${MANIFEST_NAME}`)
    .uploadData(Buffer.from(JSON.stringify(manifest, null, 1)), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  io.stdout(
    `batch ${batchId}: ${listing.images.length} image(s)` +
      (gtFiles.length ? `, ${gtFiles.length} ground-truth file(s)` : '') +
      ` uploaded; declared complete (${BLOB_CONTAINERS.images}/${batchId}/${MANIFEST_NAME})\n` +
      followUpHint(target, batchId),
  );
  return EXIT_OK;
}
