import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelFileError, resolveModelFile, sha256File, YOLOX_NANO, type ModelFileSpec } from '../src/adapters/providers/models/model-files';
import { sharedDir } from './helpers/shared';
import { startFakeServer, type FakeServer } from './fakes/http-server';

const sharedModels = path.join(sharedDir, 'models');
const sharedModel = path.join(sharedModels, 'yolox-nano', 'yolox_nano.onnx');
const SHARED_SHA256 = '695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14';

let tmp: string;
let modelBytes: Buffer;
let server: FakeServer;
/** What the fake server answers for each path. */
const served = new Map<string, Buffer>();

const noFetch = (() => {
  throw new Error('no request may be made here');
}) as unknown as typeof fetch;

/** A spec whose download is the fake server and whose digest is the shared (vendored) copy's. */
const localSpec = (file = 'yolox_nano.onnx'): ModelFileSpec => ({
  ...YOLOX_NANO,
  download: { url: `${server.url}/models/${file}`, sha256: SHARED_SHA256 },
});

const dir = async (name: string) => fs.mkdtemp(path.join(tmp, `${name}-`));

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'autolabel-model-files-'));
  modelBytes = await fs.readFile(sharedModel);
  served.set('/models/yolox_nano.onnx', modelBytes);
  const garbage = Buffer.from(modelBytes);
  garbage[1000] = garbage[1000]! ^ 0xff; // one flipped byte: same size, another digest
  served.set('/models/corrupt.onnx', garbage);
  server = await startFakeServer((request) => {
    const body = served.get(request.url);
    return body
      ? { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }, body }
      : { status: 404, body: 'no such file' };
  });
});

after(async () => {
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

test('the shared model file is the copy the spec accepts', async () => {
  assert.equal(createHash('sha256').update(modelBytes).digest('hex'), SHARED_SHA256);
  assert.ok(YOLOX_NANO.acceptedSha256.includes(SHARED_SHA256));
});

test('finds the file in a models dir with the shared layout (<dir>/yolox-nano/yolox_nano.onnx)', async () => {
  const cacheDir = await dir('cache');
  const found = await resolveModelFile(YOLOX_NANO, { modelsDir: sharedModels, cacheDir, allowDownload: false, fetch: noFetch, env: {} });
  assert.equal(found, sharedModel);
});

test('finds the file at the top level of a models dir, and through AUTOLABEL_MODELS_DIR', async () => {
  const modelsDir = await dir('flat');
  await fs.copyFile(sharedModel, path.join(modelsDir, 'yolox_nano.onnx'));
  const cacheDir = await dir('cache');
  const options = { cacheDir, allowDownload: false, fetch: noFetch };
  assert.equal(await resolveModelFile(YOLOX_NANO, { ...options, modelsDir, env: {} }), path.join(modelsDir, 'yolox_nano.onnx'));
  assert.equal(
    await resolveModelFile(YOLOX_NANO, { ...options, env: { AUTOLABEL_MODELS_DIR: modelsDir } }),
    path.join(modelsDir, 'yolox_nano.onnx'),
  );
});

test('a file with a wrong sha256 is rejected with the path, its digest and the accepted ones', async () => {
  const modelsDir = await dir('bad');
  const file = path.join(modelsDir, 'yolox-nano', 'yolox_nano.onnx');
  await fs.mkdir(path.dirname(file));
  await fs.writeFile(file, 'not a model, just garbage bytes\n'.repeat(100));
  const digest = await sha256File(file);
  const cacheDir = await dir('cache');
  await assert.rejects(
    resolveModelFile(YOLOX_NANO, { modelsDir, cacheDir, allowDownload: true, fetch: noFetch, env: {} }),
    (error: unknown) => {
      assert.ok(error instanceof ModelFileError, String(error));
      assert.ok(error.message.includes(file), error.message);
      assert.ok(error.message.includes(`sha256 ${digest}`), error.message);
      assert.match(error.message, /not a known copy/);
      assert.ok(error.message.includes(SHARED_SHA256), error.message);
      return true;
    },
  );
  // Rejected, not deleted: the file is the user's own.
  assert.ok(await fs.stat(file));
});

test('downloads into the cache when no copy is found, then uses the cached file without a request', async () => {
  const cacheDir = path.join(await dir('dl'), 'nested', 'cache');
  const before = server.requests.length;
  const events: { receivedBytes: number; totalBytes?: number }[] = [];
  const spec = localSpec();
  const found = await resolveModelFile(spec, { cacheDir, env: {}, onDownload: (e) => events.push(e) });
  assert.equal(found, path.join(cacheDir, 'yolox_nano.onnx'));
  assert.equal(server.requests.length, before + 1);
  assert.equal(server.requests.at(-1)!.url, '/models/yolox_nano.onnx');
  assert.equal(await sha256File(found), SHARED_SHA256);
  assert.deepEqual(await fs.readdir(cacheDir), ['yolox_nano.onnx'], 'no partial file is left beside it');
  assert.equal(events.at(-1)!.receivedBytes, modelBytes.length);
  assert.equal(events.at(-1)!.totalBytes, modelBytes.length);

  const again = await resolveModelFile(spec, { cacheDir, env: {} });
  assert.equal(again, found);
  assert.equal(server.requests.length, before + 1, 'the cached copy is used: no second request');
});

test('a download whose bytes do not match is deleted and reported', async () => {
  const cacheDir = await dir('corrupt');
  const spec = localSpec('corrupt.onnx');
  const before = server.requests.length;
  await assert.rejects(resolveModelFile(spec, { cacheDir, env: {} }), (error: unknown) => {
    assert.ok(error instanceof ModelFileError, String(error));
    assert.match(error.message, /downloaded file has sha256 [0-9a-f]{64}, expected 695e750a/);
    assert.match(error.message, /deleted and not used/);
    return true;
  });
  assert.equal(server.requests.length, before + 1);
  assert.deepEqual(await fs.readdir(cacheDir), [], 'neither the file nor a partial download stays in the cache');
  // And nothing was cached for next time: the next call downloads (and fails) again.
  await assert.rejects(resolveModelFile(spec, { cacheDir, env: {} }), ModelFileError);
  assert.equal(server.requests.length, before + 2);
});

test('an HTTP error from the download server is reported with its status', async () => {
  const cacheDir = await dir('404');
  const spec: ModelFileSpec = { ...YOLOX_NANO, download: { url: `${server.url}/models/missing.onnx`, sha256: SHARED_SHA256 } };
  await assert.rejects(
    resolveModelFile(spec, { cacheDir, env: {} }),
    /download of http:\/\/127\.0\.0\.1:\d+\/models\/missing\.onnx failed with HTTP 404/,
  );
  assert.deepEqual(await fs.readdir(cacheDir), []);
});

test("allowDownload:false gives 'not found' naming every place it looked, and makes no request", async () => {
  const modelsDir = await dir('empty');
  const cacheDir = await dir('cache');
  const before = server.requests.length;
  await assert.rejects(resolveModelFile(localSpec(), { modelsDir, cacheDir, allowDownload: false, env: {} }), (error: unknown) => {
    assert.ok(error instanceof ModelFileError, String(error));
    assert.match(error.message, /yolox_nano\.onnx not found \(looked in /);
    for (const place of [
      path.join(modelsDir, 'yolox-nano', 'yolox_nano.onnx'),
      path.join(modelsDir, 'yolox_nano.onnx'),
      path.join(cacheDir, 'yolox_nano.onnx'),
    ]) {
      assert.ok(error.message.includes(place), `${place} missing from: ${error.message}`);
    }
    assert.match(error.message, /--models-dir|AUTOLABEL_MODELS_DIR/);
    return true;
  });
  assert.equal(server.requests.length, before);
});
