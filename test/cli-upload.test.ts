import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { sampleImagesDir } from './helpers/shared';
import { useLocalServices } from './helpers/local-services';
import type { CliIo } from '../src/cli/io';
import { main } from '../src/cli/main';
import { runUpload } from '../src/cli/upload-command';

const services = useLocalServices();
let work: string;
const sample = fs
  .readdirSync(sampleImagesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort()
  .slice(0, 3);

/** An in-process CLI io that keeps what was written. */
function capture(): CliIo & { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), out: () => out.join(''), err: () => err.join('') };
}

function imagesFolder(name: string, images: readonly string[]): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const image of images) fs.symlinkSync(path.join(sampleImagesDir, image), path.join(dir, image));
  return dir;
}

async function blobNames(prefix: string): Promise<string[]> {
  const service = BlobServiceClient.fromConnectionString(services().azurite.connectionString);
  const names: string[] = [];
  for await (const blob of service.getContainerClient('images').listBlobsFlat({ prefix })) names.push(blob.name);
  return names.sort();
}

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'autolabel-upload-'));
  assert.equal(sample.length, 3, `need 3 sample images in ${sampleImagesDir}`);
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

test('upload says where it uploads (the blob endpoint, never the key) and warns when the batch already exists', async () => {
  const { connectionString, blobUrl } = services().azurite;
  const env = { AzureWebJobsStorage: connectionString };
  const key = /AccountKey=([^;]+)/.exec(connectionString)?.[1];
  assert.ok(key, 'the Azurite connection string carries a key');

  const firstDir = imagesFolder('first', sample.slice(0, 2));
  const first = capture();
  assert.equal(await runUpload([firstDir, '--batch', 'again'], first, env), 0, first.err());
  assert.match(first.err(), new RegExp(`^storage: ${blobUrl} \\(AzureWebJobsStorage, a connection string\\)$`, 'm'));
  assert.doesNotMatch(first.err(), /already exists/, 'a new batch is not warned about');
  assert.ok(!first.err().includes(key) && !first.out().includes(key), 'the account key is never printed');
  assert.deepEqual(await blobNames('again/'), ['again/_batch.json', ...sample.slice(0, 2).map((n) => `again/${n}`)].sort());

  // The second upload shares one image with the first and brings a new one.
  const secondDir = imagesFolder('second', sample.slice(1, 3));
  const second = capture();
  assert.equal(await runUpload([secondDir, '--batch', 'again'], second, env), 0, 'a warning, not a refusal');
  const warning = second.err();
  const exists = 'warning: batch again already exists in storage: 2 blob(s) under images/again/';
  assert.ok(warning.includes(`${exists} and its manifest images/again/_batch.json`), warning);
  assert.match(warning, /1 of the 2 image\(s\) in this upload have the name of a blob there: they are overwritten, and the app labels/);
  assert.match(warning, /1 blob\(s\) there are not in this upload: they stay, but the new manifest does not list them/);
  assert.match(warning, /already declared complete: the new manifest is applied only while the batch is still labeling/);
  assert.match(warning, /POST \/api\/batches\/again\/evaluate re-runs an evaluation/);
  assert.ok(warning.indexOf('storage: ') < warning.indexOf('warning: batch again'), 'the target comes first');
  assert.match(second.out(), /batch again: 2 image\(s\) uploaded/);
  assert.equal((await blobNames('again/')).length, 4, 'the three images and the manifest');
});

test('images without a manifest yet: the warning says so', async () => {
  const env = { AzureWebJobsStorage: services().azurite.connectionString };
  const service = BlobServiceClient.fromConnectionString(env.AzureWebJobsStorage);
  await service.getContainerClient('images').createIfNotExists();
  await service.getContainerClient('images').getBlockBlobClient(`half/${sample[0]}`).uploadData(Buffer.from('partial'));
  const io = capture();
  assert.equal(await runUpload([imagesFolder('half', sample.slice(0, 1)), '--batch', 'half'], io, env), 0, io.err());
  assert.match(io.err(), /warning: batch half already exists in storage: 1 blob\(s\) under images\/half\/, no manifest yet/);
  assert.doesNotMatch(io.err(), /already declared complete/);
});

test('a folder with no image is refused with exit 2, saying what it holds, and nothing is uploaded', async () => {
  const env = { AzureWebJobsStorage: services().azurite.connectionString };
  const notes = path.join(work, 'notes');
  fs.mkdirSync(notes);
  for (const name of ['a.txt', 'b.txt', 'c.json']) fs.writeFileSync(path.join(notes, name), 'x');
  const io = capture();
  const refused = runUpload([notes, '--batch', 'notes'], io, env);
  await assert.rejects(refused, /no images in .*notes: 3 files, none an image \(\.txt x2, \.json x1\)/);

  const viaMain = capture();
  const empty = path.join(work, 'empty');
  fs.mkdirSync(empty);
  assert.equal(await main(['upload', empty, '--batch', 'empty'], viaMain), 2);
  assert.match(viaMain.err(), /no images in .*empty: the folder is empty/);
  assert.deepEqual(await blobNames('notes/'), []);
  assert.deepEqual(await blobNames('empty/'), []);
});

test('upload: bad arguments exit 2 with a message and the usage, never a stack trace', async () => {
  const cases: [string[], RegExp][] = [
    [['upload', 'dir', '--batch', 'b', '--bogus'], /Unknown option '--bogus'/],
    [['upload', 'dir'], /--batch <id> is required/],
    [['upload', 'dir', '--batch', 'bad id!'], /--batch: batch ids are 1-128/],
    [['upload', 'dir', '--batch', 'b', '--concurrency', '0'], /--concurrency must be a whole number from 1 to 64/],
    [['upload', '--batch', 'b'], /give exactly one <images dir>/],
    [['upload', sampleImagesDir, '--batch', 'b', '--gt', path.join(work, 'missing')], /cannot read ground truth .*missing.*ENOENT/],
  ];
  for (const [args, message] of cases) {
    const io = capture();
    assert.equal(await main(args, io), 2, `${args.join(' ')}: ${io.err()}`);
    assert.match(io.err(), message);
    assert.doesNotMatch(io.err(), /unexpected error|\n\s+at /, 'no stack trace');
  }
});

test('ground truth behind a symbolic link (a linked folder and a linked file) is uploaded, not skipped', async () => {
  const env = { AzureWebJobsStorage: services().azurite.connectionString };
  const labels = path.join(work, 'gt-real');
  fs.mkdirSync(path.join(labels, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(labels, 'sub', 'a_label.json'), '{}');
  fs.writeFileSync(path.join(labels, 'b_label.json'), '{}');
  const gt = path.join(work, 'gt-links');
  fs.mkdirSync(gt);
  fs.symlinkSync(path.join(labels, 'sub'), path.join(gt, 'linked-folder'));
  fs.symlinkSync(path.join(labels, 'b_label.json'), path.join(gt, 'b_label.json'));
  const io = capture();
  assert.equal(await runUpload([imagesFolder('gt-images', sample.slice(0, 1)), '--batch', 'gtlinks', '--gt', gt], io, env), 0, io.err());
  const service = BlobServiceClient.fromConnectionString(env.AzureWebJobsStorage);
  const names: string[] = [];
  for await (const blob of service.getContainerClient('groundtruth').listBlobsFlat({ prefix: 'gtlinks/' })) names.push(blob.name);
  assert.deepEqual(names.sort(), ['gtlinks/b_label.json', 'gtlinks/linked-folder/a_label.json']);
});
