/**
 * `autolabel upload <images dir> --batch <id> [--gt <dir|file>]`: put a folder in as a batch. Images go to
 * `images/<id>/<file name>`, ground truth files to `groundtruth/<id>/...` (relative paths kept), and the manifest
 * `images/<id>/_batch.json` last: it declares the batch complete, so the app starts counting only once every image
 * it lists is on its way.
 *
 * Storage, first found wins: `--account-url` (keyless: DefaultAzureCredential, i.e. az/azd login, a managed identity
 * or AZURE_* service principal variables), AzureWebJobsStorage (a connection string), AZURE_STORAGE_BLOB_ENDPOINT
 * (keyless; the azd output of that name), Azurite's default ports (where `npm start` runs it). A connection
 * string outranks AZURE_STORAGE_BLOB_ENDPOINT so that local runs stay local after `eval "$(azd env get-values)"`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { z } from 'zod';
import { BatchIdSchema, BatchManifestSchema, type BatchManifest } from '../app/store/documents';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../app/store/names';
import {
  describeNoImages,
  describeOtherFiles,
  describeSkipped,
  describeUnlistable,
  listImages,
  walkFiles,
  type ImageListing,
} from '../adapters/files/list-images';
import { forEachConcurrently } from '../adapters/concurrency/limits';
import { azureCredential } from '../adapters/identity/credentials';
import type { CliIo } from './io';
import { createProgress } from './progress';
import { argumentProblems, EXIT_FAILURE, EXIT_OK, UsageError } from './usage-error';

export const UPLOAD_USAGE = `  autolabel upload <images dir> --batch <id> [--gt <dir|file>] [--concurrency N]
                  [--account-url https://<account>.blob.core.windows.net]
      Upload a folder of images as a batch (images/<id>/...), its ground truth (groundtruth/<id>/...) and the
      manifest that declares the batch complete. Storage: --account-url (signed in: az login / azd auth login, or a
      managed identity; no keys), else AzureWebJobsStorage, else AZURE_STORAGE_BLOB_ENDPOINT (keyless, as
      --account-url), else Azurite's default ports (where \`npm start\` runs it); the one used is printed first.
      Uploading to a batch id that storage already holds is allowed, with a warning of what it overwrites.`;

/** Where the upload goes: a blob endpoint signed in with Entra ID, or a connection string (Azurite, keys). */
export type UploadTarget =
  | { kind: 'account-url'; url: string; source: '--account-url' | 'AZURE_STORAGE_BLOB_ENDPOINT' }
  | { kind: 'connection-string'; connectionString: string; source: 'AzureWebJobsStorage' | 'Azurite defaults' };

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.json': 'application/json',
};

/** Ground-truth files: the file given, or every *.json under the folder (symbolic links followed, as for images). */
async function listFiles(root: string): Promise<string[]> {
  const stat = await fs.stat(root);
  if (stat.isFile()) return [root];
  const { files } = await walkFiles(root);
  return files.filter((file) => file.toLowerCase().endsWith('.json')).sort();
}

/** Picks the storage by the precedence in the header comment. */
export function uploadTarget(accountUrl: string | undefined, env: NodeJS.ProcessEnv): UploadTarget {
  if (accountUrl) return { kind: 'account-url', url: checkedAccountUrl(accountUrl, '--account-url'), source: '--account-url' };
  if (env.AzureWebJobsStorage)
    return { kind: 'connection-string', connectionString: env.AzureWebJobsStorage, source: 'AzureWebJobsStorage' };
  if (env.AZURE_STORAGE_BLOB_ENDPOINT) {
    return {
      kind: 'account-url',
      url: checkedAccountUrl(env.AZURE_STORAGE_BLOB_ENDPOINT, 'AZURE_STORAGE_BLOB_ENDPOINT'),
      source: 'AZURE_STORAGE_BLOB_ENDPOINT',
    };
  }
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
  // The shared DefaultAzureCredential reads process.env itself (AZURE_CLIENT_ID, IDENTITY_ENDPOINT, ...), not runUpload's `env`.
  return target.kind === 'account-url'
    ? new BlobServiceClient(target.url, azureCredential())
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

const CONCURRENCY_RANGE = '--concurrency must be a whole number from 1 to 64';

const UploadOptionsSchema = z.object({
  batch: z.string({ error: '--batch <id> is required' }).pipe(BatchIdSchema),
  gt: z.string().min(1).optional(),
  concurrency: z
    .string()
    .regex(/^\d+$/, CONCURRENCY_RANGE)
    .transform(Number)
    .pipe(z.number().min(1, CONCURRENCY_RANGE).max(64, CONCURRENCY_RANGE)),
  'account-url': z.string().optional(),
});

function parseUploadArgs(argv: readonly string[]) {
  let parsedArgs;
  try {
    parsedArgs = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        batch: { type: 'string' },
        gt: { type: 'string' },
        concurrency: { type: 'string', default: '8' },
        'account-url': { type: 'string' },
      },
    });
  } catch (error) {
    // parseArgs throws a TypeError (ERR_PARSE_ARGS_*) for an unknown option or a missing value: a usage problem.
    throw new UsageError(`${(error as Error).message}\n\n${UPLOAD_USAGE}`);
  }
  const problems: string[] = [];
  if (parsedArgs.positionals.length !== 1) problems.push('give exactly one <images dir>');
  const options = UploadOptionsSchema.safeParse(parsedArgs.values);
  if (!options.success) problems.push(argumentProblems(options.error));
  if (problems.length || !options.success) throw new UsageError(`${problems.join('\n')}\n\n${UPLOAD_USAGE}`);
  return { imagesDir: parsedArgs.positionals[0]!, ...options.data };
}

/** The images to upload; a folder with none is refused before anything is sent, saying what it holds instead. */
async function listImagesToUpload(imagesDir: string, io: CliIo): Promise<ImageListing> {
  const listing = await listImages(imagesDir).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(describeUnlistable(imagesDir, error));
  });
  if (listing.images.length === 0) throw new UsageError(describeNoImages(imagesDir, listing));
  for (const line of describeSkipped(listing)) io.stderr(`warning: ${line}\n`);
  const otherFiles = describeOtherFiles(listing);
  if (otherFiles) io.stderr(`not uploaded: ${otherFiles}\n`);
  for (const dup of listing.duplicates) io.stderr(`skipped ${dup.file}: same file name as ${dup.firstFile}\n`);
  return listing;
}

async function listGroundTruth(gt: string | undefined): Promise<{ gtFiles: string[]; gtRoot: string }> {
  if (!gt) return { gtFiles: [], gtRoot: '' };
  try {
    const gtRoot = (await fs.stat(gt)).isFile() ? path.dirname(gt) : gt;
    return { gtFiles: await listFiles(gt), gtRoot };
  } catch (error) {
    throw new UsageError(`cannot read ground truth '${gt}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

export async function runUpload(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = parseUploadArgs(argv);
  const batchId = args.batch;
  const target = uploadTarget(args['account-url'], env);
  const listing = await listImagesToUpload(args.imagesDir, io);
  const { gtFiles, gtRoot } = await listGroundTruth(args.gt);

  try {
    return await uploadBatch({ target, batchId, listing, gtFiles, gtRoot, concurrency: args.concurrency, io });
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

const CONNECTION_SOURCES: Record<Extract<UploadTarget, { kind: 'connection-string' }>['source'], string> = {
  AzureWebJobsStorage: 'AzureWebJobsStorage, a connection string',
  'Azurite defaults':
    "Azurite's default ports, where npm start runs it: no --account-url, AzureWebJobsStorage or AZURE_STORAGE_BLOB_ENDPOINT",
};

/** Where the upload goes, with why that storage was chosen; the blob endpoint only, never a key or a SAS token. */
function describeTarget(target: UploadTarget, service: BlobServiceClient): string {
  if (target.kind === 'account-url') return `storage: ${target.url} (${target.source}; signed in, no keys)`;
  const endpoint = new URL(service.url);
  endpoint.search = ''; // a SAS connection string puts its token in the query
  return `storage: ${endpoint.toString().replace(/\/$/, '')} (${CONNECTION_SOURCES[target.source]})`;
}

/** What storage already holds for a batch id: blob names under images/<id>/ and whether its manifest is there. */
interface StoredBatch {
  names: string[];
  manifest: boolean;
}

/** Undefined when the identity may write but not list (403): the check is a courtesy, never a reason to stop. */
async function storedBatch(service: BlobServiceClient, batchId: string, io: CliIo): Promise<StoredBatch | undefined> {
  const stored: StoredBatch = { names: [], manifest: false };
  const prefix = `${batchId}/`;
  try {
    for await (const blob of service.getContainerClient(BLOB_CONTAINERS.images).listBlobsFlat({ prefix })) {
      const name = blob.name.slice(prefix.length);
      if (name === MANIFEST_NAME) stored.manifest = true;
      else stored.names.push(name);
    }
  } catch (error) {
    if (statusOf(error) === 404) return stored;
    if (statusOf(error) !== 403) throw error;
    io.stderr(`note: not allowed to list ${BLOB_CONTAINERS.images}/${prefix} (403): cannot tell whether batch ${batchId} exists\n`);
    return undefined;
  }
  return stored;
}

/** What uploading into an existing batch does, as the app really handles it (see app/services/manifest.ts). */
function existingBatchWarning(batchId: string, stored: StoredBatch, uploading: readonly string[]): string | undefined {
  if (stored.names.length === 0 && !stored.manifest) return undefined;
  const folder = `${BLOB_CONTAINERS.images}/${batchId}/`;
  const manifestPath = `${folder}${MANIFEST_NAME}`;
  const lines = [
    `warning: batch ${batchId} already exists in storage: ${stored.names.length} blob(s) under ${folder}` +
      (stored.manifest ? ` and its manifest ${manifestPath}` : `, no manifest yet (${manifestPath})`),
  ];
  const there = new Set(stored.names);
  const overwritten = uploading.filter((name) => there.has(name)).length;
  if (overwritten) {
    lines.push(
      `  ${overwritten} of the ${uploading.length} image(s) in this upload have the name of a blob there: they are overwritten, ` +
        `and the app labels the new version (even identical bytes make a new version)`,
    );
  }
  const notListed = stored.names.length - overwritten;
  if (notListed) lines.push(`  ${notListed} blob(s) there are not in this upload: they stay, but the new manifest does not list them`);
  if (stored.manifest) {
    lines.push(
      `  the batch was already declared complete: the new manifest is applied only while the batch is still labeling; ` +
        `otherwise the app keeps the old one and records a problem on the batch (GET /api/batches/${batchId} shows it)`,
      `  POST /api/batches/${batchId}/evaluate re-runs an evaluation; a new --batch id starts a separate batch`,
    );
  }
  return lines.join('\n') + '\n';
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
  io.stderr(`${describeTarget(target, service)}\n`);
  for (const name of [BLOB_CONTAINERS.images, BLOB_CONTAINERS.groundTruth]) await ensureContainer(service, name, io);
  const stored = await storedBatch(service, batchId, io);
  const warning =
    stored &&
    existingBatchWarning(
      batchId,
      stored,
      listing.images.map((i) => i.name),
    );
  if (warning) io.stderr(warning);
  const upload = async (container: string, blobName: string, file: string) => {
    const data = await fs.readFile(file);
    await service
      .getContainerClient(container)
      .getBlockBlobClient(blobName)
      .uploadData(data, {
        blobHTTPHeaders: { blobContentType: CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream' },
      });
  };

  const jobs: Array<() => Promise<void>> = [
    ...gtFiles.map(
      (file) => () => upload(BLOB_CONTAINERS.groundTruth, `${batchId}/${path.relative(gtRoot, file).split(path.sep).join('/')}`, file),
    ),
    ...listing.images.map(
      ({ name, file }) =>
        () =>
          upload(BLOB_CONTAINERS.images, `${batchId}/${name}`, file),
    ),
  ];
  const progress = createProgress({ label: 'uploading', total: jobs.length });
  let done = 0;
  await forEachConcurrently(jobs, concurrency, async (job) => {
    await job();
    progress.update(++done);
  });
  progress.finish();

  const manifest: BatchManifest = BatchManifestSchema.parse({
    images: listing.images.map((i) => i.name),
    groundTruthPrefix: `${batchId}/`,
  });
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
