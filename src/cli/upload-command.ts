/**
 * `autolabel upload <images dir> --batch <id> [--gt <dir|file>]`: put a folder in as a batch. Images go to
 * `images/<id>/<file name>`, ground truth files to `groundtruth/<id>/...` (relative paths kept), and the manifest
 * `images/<id>/_batch.json` last: it declares the batch complete, so the app starts counting only once every image
 * it lists is on its way. Storage: AzureWebJobsStorage, else the running local host's, else Azurite's defaults.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { BatchIdSchema, BatchManifestSchema, type BatchManifest } from '../app/store/documents';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../app/store/names';
import { listImages } from '../labeling/list-images';
import { DEFAULT_LOCAL_DATA_DIR, readLocalEndpoints } from '../local/endpoints';
import type { CliIo } from './main';
import { createProgress } from './progress';
import { EXIT_OK, UsageError } from './usage-error';

export const UPLOAD_USAGE = `  autolabel upload <images dir> --batch <id> [--gt <dir|file>] [--concurrency N] [--data-dir <dir>]
      Upload a folder of images as a batch (images/<id>/...), its ground truth (groundtruth/<id>/...) and the
      manifest that declares the batch complete. Storage: AzureWebJobsStorage, else the running \`npm start\` host.`;

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

export function storageConnection(env: NodeJS.ProcessEnv, dataDir: string): string {
  return env.AzureWebJobsStorage ?? readLocalEndpoints(dataDir)?.AzureWebJobsStorage ?? 'UseDevelopmentStorage=true';
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
    },
  });
  const [imagesDir, ...extra] = positionals;
  if (!imagesDir || extra.length) throw new UsageError(`give one images folder\n${UPLOAD_USAGE}`);
  const batch = BatchIdSchema.safeParse(values.batch);
  if (!batch.success) throw new UsageError(`--batch: ${values.batch === undefined ? 'required' : batch.error.issues[0]?.message}\n${UPLOAD_USAGE}`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new UsageError('--concurrency must be a whole number from 1 to 64');
  const batchId = batch.data;

  const listing = await listImages(imagesDir).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${imagesDir}: ${error.code ?? error.message}`);
  });
  if (listing.images.length === 0) throw new UsageError(`no images in ${imagesDir}`);
  for (const dup of listing.duplicates) io.stderr(`skipped ${dup.file}: same file name as ${dup.firstFile}\n`);
  const gtFiles = values.gt ? await listFiles(values.gt) : [];
  const gtRoot = values.gt ? ((await fs.stat(values.gt)).isFile() ? path.dirname(values.gt) : values.gt) : '';

  const service = BlobServiceClient.fromConnectionString(storageConnection(env, values['data-dir']));
  for (const name of [BLOB_CONTAINERS.images, BLOB_CONTAINERS.groundTruth]) await service.getContainerClient(name).createIfNotExists();
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
      `follow it: curl http://127.0.0.1:7071/api/batches/${batchId}\n`,
  );
  return EXIT_OK;
}
