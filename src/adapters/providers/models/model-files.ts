import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A model file the local providers load, and the digests we accept for it. */
export interface ModelFileSpec {
  id: string;
  description: string;
  fileName: string;
  /** Sub-folder inside a models directory (the layout of ../shared/models); the file is also found at the top level. */
  folder: string;
  /** Every sha256 that is a known-good copy (e.g. a vendored export and the official release). */
  acceptedSha256: readonly string[];
  /** The official release, downloaded into the cache when no local copy is found. */
  download?: { url: string; sha256: string };
}

export const YOLOX_NANO: ModelFileSpec = {
  id: 'yolox-nano',
  description: 'YOLOX-Nano COCO detector (Apache-2.0, Megvii)',
  fileName: 'yolox_nano.onnx',
  folder: 'yolox-nano',
  acceptedSha256: [
    '695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14',
    'c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d',
  ],
  download: {
    url: 'https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx',
    sha256: 'c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d',
  },
};

/**
 * YOLOX-Nano quantized to int8 by scripts/quantize-yolox.ts with its defaults (static QDQ of the convolutions,
 * calibrated on 24 bdd100k-scenes images, onnxruntime 1.30.0 / onnx 1.23.1): the digest pins that reproducible
 * output. Not a detector option: on the 60-image sample it lost up to 0.33 AP50 on a class and ran slower than
 * fp32 on this CPU (figures in scripts/quantize-yolox.ts).
 */
export const YOLOX_NANO_INT8: ModelFileSpec = {
  id: 'yolox-nano-int8',
  description: 'YOLOX-Nano COCO detector, int8 (made by scripts/quantize-yolox.ts from yolox_nano.onnx)',
  fileName: 'yolox_nano_int8.onnx',
  folder: 'yolox-nano-int8',
  acceptedSha256: ['31fcd57d625ac7ab26913d8a01fd4d3a612769c76db1463a21ea3374ceb3b134'],
};

export interface ResolveModelOptions {
  /** `--models-dir`, else AUTOLABEL_MODELS_DIR. */
  modelsDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Where downloads go: AUTOLABEL_CACHE_DIR, else ~/.cache/autolabel/models. */
  cacheDir?: string;
  /** Injected in tests (a local server); defaults to global fetch. */
  fetch?: typeof fetch;
  /** False forbids the network (tests, air-gapped hosts); AUTOLABEL_OFFLINE=1 in the environment does the same. */
  allowDownload?: boolean;
  /** Give up a download after this long (default 5 minutes). */
  downloadTimeoutMs?: number;
  onDownload?: (event: { url: string; receivedBytes: number; totalBytes?: number }) => void;
}

export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.AUTOLABEL_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'autolabel', 'models');
}

/**
 * Find a verified copy of a model file: the models directory (flag or AUTOLABEL_MODELS_DIR), then the download
 * cache, then the official release downloaded into the cache. Every copy is checked against the accepted sha256
 * digests before use; a mismatch is an error (a download is deleted), never silently used.
 */
export async function resolveModelFile(spec: ModelFileSpec, options: ResolveModelOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const modelsDir = options.modelsDir ?? env.AUTOLABEL_MODELS_DIR;
  const cacheDir = options.cacheDir ?? defaultCacheDir(env);
  const searched: string[] = [];

  const candidates = modelsDir ? [path.join(modelsDir, spec.folder, spec.fileName), path.join(modelsDir, spec.fileName)] : [];
  candidates.push(path.join(cacheDir, spec.fileName));
  for (const candidate of candidates) {
    searched.push(candidate);
    if (!(await exists(candidate))) continue;
    const digest = await sha256File(candidate);
    if (!spec.acceptedSha256.includes(digest)) {
      throw new ModelFileError(
        `${spec.description}: ${candidate} has sha256 ${digest}, which is not a known copy (expected one of ${spec.acceptedSha256.join(', ')})`,
      );
    }
    return candidate;
  }

  const allowDownload = options.allowDownload ?? !env.AUTOLABEL_OFFLINE;
  if (!spec.download || !allowDownload) {
    throw new ModelFileError(
      `${spec.description}: ${spec.fileName} not found (looked in ${searched.join(', ')}). ` +
        `Give --models-dir or set AUTOLABEL_MODELS_DIR to a folder holding it` +
        (spec.download ? `, or allow the download of ${spec.download.url}.` : '.'),
    );
  }
  return downloadModel(spec, spec.download, cacheDir, options);
}

async function downloadModel(
  spec: ModelFileSpec,
  download: NonNullable<ModelFileSpec['download']>,
  cacheDir: string,
  options: ResolveModelOptions,
): Promise<string> {
  const doFetch = options.fetch ?? fetch;
  await fs.mkdir(cacheDir, { recursive: true });
  const target = path.join(cacheDir, spec.fileName);
  const partial = `${target}.${process.pid}.download`;
  let response: Response;
  try {
    response = await doFetch(download.url, { redirect: 'follow', signal: AbortSignal.timeout(options.downloadTimeoutMs ?? 300_000) });
  } catch (error) {
    throw new ModelFileError(`${spec.description}: download of ${download.url} failed: ${(error as Error).message}`);
  }
  if (!response.ok || !response.body) {
    throw new ModelFileError(`${spec.description}: download of ${download.url} failed with HTTP ${response.status}`);
  }
  const totalBytes = Number(response.headers.get('content-length')) || undefined;
  const hash = createHash('sha256');
  const handle = await fs.open(partial, 'w');
  let receivedBytes = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      await handle.write(chunk);
      receivedBytes += chunk.length;
      options.onDownload?.({ url: download.url, receivedBytes, ...(totalBytes ? { totalBytes } : {}) });
    }
  } finally {
    await handle.close();
  }
  const digest = hash.digest('hex');
  if (digest !== download.sha256) {
    await fs.rm(partial, { force: true });
    throw new ModelFileError(
      `${spec.description}: downloaded file has sha256 ${digest}, expected ${download.sha256}; it was deleted and not used`,
    );
  }
  await fs.rename(partial, target);
  return target;
}

/**
 * MobileNetV2 1.0 int8 (ImageNet), the frozen backbone of the local scene classifier. Two copies are accepted: the
 * vendored export (../shared/models/mobilenetv2-int8/mobilenetv2_int8_features.onnx: the official file plus one
 * DequantizeLinear node exposing the pooled `features`; no official download) and the official ONNX Model Zoo
 * release mobilenetv2-12-int8.onnx, which has the same `input` and `output` (ImageNet logits). The classifier reads
 * only `output`, so either works; without a local copy the official file is downloaded into the cache (under this
 * spec's file name).
 */
export const MOBILENETV2_INT8: ModelFileSpec = {
  id: 'mobilenetv2-int8',
  description: 'MobileNetV2 1.0 int8 ImageNet backbone (Apache-2.0, ONNX Model Zoo)',
  fileName: 'mobilenetv2_int8_features.onnx',
  folder: 'mobilenetv2-int8',
  acceptedSha256: [
    'aaeb31c5e1733d54611ff90ac5f952fff37a1e2758f48adace9379f682e30415',
    'cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f',
  ],
  download: {
    url: 'https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx',
    sha256: 'cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f',
  },
};
