import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sampleImagesDir } from './helpers/shared';
import { describeNoImages, describeSkipped, describeUnlistable, listImages } from '../src/adapters/files/list-images';

let work: string;
const sample = fs
  .readdirSync(sampleImagesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort()
  .slice(0, 4);

/** A fresh folder under the test's temp folder. */
function folder(name: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'autolabel-list-'));
  assert.equal(sample.length, 4, `need 4 sample images in ${sampleImagesDir}`);
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

test('symbolic links to image files are listed like the files themselves', async () => {
  const dir = folder('linked-files');
  for (const name of sample) fs.symlinkSync(path.join(sampleImagesDir, name), path.join(dir, name));
  const listing = await listImages(dir);
  assert.deepEqual(
    listing.images.map((i) => i.name),
    sample,
  );
  assert.deepEqual(
    listing.images.map((i) => i.file),
    sample.map((n) => path.join(dir, n)),
    'the path as given, not the target',
  );
  assert.equal(listing.filesSeen, 4);
  assert.deepEqual([listing.brokenLinks, listing.skippedFolderLinks, listing.unreadable], [[], [], []]);
});

test('a symbolic link to a folder is walked', async () => {
  const dir = folder('linked-folder');
  fs.copyFileSync(path.join(sampleImagesDir, sample[0]!), path.join(dir, sample[0]!));
  fs.symlinkSync(sampleImagesDir, path.join(dir, 'more'));
  const listing = await listImages(dir);
  const all = fs.readdirSync(sampleImagesDir).filter((n) => n.endsWith('.jpg'));
  assert.equal(listing.images.length, all.length, 'every sample image, through the folder link');
  assert.ok(listing.images.some((i) => i.file === path.join(dir, 'more', sample[1]!)));
  assert.deepEqual(
    listing.duplicates.map((d) => d.file),
    [path.join(dir, 'more', sample[0]!)],
    'the copy and its original share a name',
  );
});

test('a link cycle ends and is reported; a second path to a walked folder is not walked again', async () => {
  const dir = folder('cycle');
  const inner = folder('cycle/inner');
  fs.copyFileSync(path.join(sampleImagesDir, sample[0]!), path.join(inner, sample[0]!));
  fs.symlinkSync(dir, path.join(dir, 'loop'));
  fs.symlinkSync(dir, path.join(inner, 'up'));
  fs.symlinkSync(inner, path.join(dir, 'z-again'));

  const listing = await listImages(dir);
  assert.deepEqual(listing.images, [{ name: sample[0], file: path.join(inner, sample[0]!) }]);
  assert.deepEqual(listing.duplicates, []);
  const real = (p: string) => fs.realpathSync(p);
  assert.deepEqual(
    listing.skippedFolderLinks.map((l) => [path.relative(dir, l.link), l.target, l.ancestor]),
    [
      [path.join('inner', 'up'), real(dir), true],
      ['loop', real(dir), true],
      ['z-again', real(inner), false],
    ],
  );
  const lines = describeSkipped(listing);
  assert.ok(
    lines.some((l) => l.includes(path.join(dir, 'loop')) && /link cycle/.test(l)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => l.includes('z-again') && /already listed/.test(l)),
    lines.join('\n'),
  );
});

test('broken links, hidden entries and things that are not files are accounted for, not dropped', async () => {
  const dir = folder('odd');
  fs.copyFileSync(path.join(sampleImagesDir, sample[0]!), path.join(dir, sample[0]!));
  fs.symlinkSync(path.join(work, 'nothing-here.jpg'), path.join(dir, 'gone.jpg'));
  fs.symlinkSync(path.join(dir, 'self'), path.join(dir, 'self'));
  fs.writeFileSync(path.join(dir, '.hidden.jpg'), 'hidden');
  const fifo = spawnSync('mkfifo', [path.join(dir, 'pipe')]);
  assert.equal(fifo.status, 0, `mkfifo: ${fifo.stderr}`);

  const listing = await listImages(dir);
  assert.deepEqual(
    listing.images.map((i) => i.name),
    [sample[0]],
  );
  assert.deepEqual(listing.brokenLinks, [path.join(dir, 'gone.jpg'), path.join(dir, 'self')]);
  assert.equal(listing.hiddenSkipped, 1);
  assert.deepEqual(listing.unreadable, [{ path: path.join(dir, 'pipe'), reason: 'neither a file nor a folder' }]);
  assert.match(describeSkipped(listing).join('\n'), /2 symbolic links point nowhere: .*gone\.jpg/);
});

test('"no images" says what the folder holds instead', async () => {
  const empty = folder('empty');
  assert.equal(describeNoImages(empty, await listImages(empty)), `no images in ${empty}: the folder is empty`);

  const notes = folder('notes');
  for (const name of ['a.txt', 'b.txt', 'meta.json']) fs.writeFileSync(path.join(notes, name), '{}');
  const listing = await listImages(notes);
  assert.deepEqual([listing.filesSeen, listing.otherExtensions], [3, { '.txt': 2, '.json': 1 }]);
  assert.equal(describeNoImages(notes, listing), `no images in ${notes}: 3 files, none an image (.txt x2, .json x1)`);

  const dangling = folder('dangling');
  fs.symlinkSync(path.join(work, 'moved-away', 'a.jpg'), path.join(dangling, 'a.jpg'));
  fs.symlinkSync(path.join(work, 'moved-away', 'b.jpg'), path.join(dangling, 'b.jpg'));
  fs.writeFileSync(path.join(dangling, '.DS_Store'), '');
  assert.match(
    describeNoImages(dangling, await listImages(dangling)),
    /^no images in .*dangling: 2 symbolic links that point nowhere \(.*a\.jpg, .*b\.jpg\); 1 hidden entry skipped$/,
  );

  const onlyLoop = folder('only-loop');
  fs.symlinkSync(onlyLoop, path.join(onlyLoop, 'loop'));
  assert.match(describeNoImages(onlyLoop, await listImages(onlyLoop)), /1 link to a folder already listed, not followed \(.*loop\)/);
});

test('folders the caller leaves out are not walked, also through a link, and are reported', async () => {
  const dir = folder('with-output');
  fs.copyFileSync(path.join(sampleImagesDir, sample[0]!), path.join(dir, sample[0]!));
  const out = folder('with-output/out');
  fs.copyFileSync(path.join(sampleImagesDir, sample[1]!), path.join(out, sample[1]!));
  fs.symlinkSync(out, path.join(dir, 'alias'));
  const skipFolders = [
    { path: out, reason: 'the output folder' },
    { path: path.join(dir, 'not-there-yet'), reason: 'nothing' },
  ];
  const listing = await listImages(dir, { skipFolders });
  assert.deepEqual(
    listing.images.map((i) => i.name),
    [sample[0]],
  );
  assert.deepEqual(listing.skippedFolders, [
    { path: path.join(dir, 'alias'), reason: 'the output folder' },
    { path: out, reason: 'the output folder' },
  ]);
  assert.ok(describeSkipped(listing).includes(`not listed: ${out}: the output folder`));
  assert.equal((await listImages(dir)).images.length, 2, 'without skipFolders the folder is walked');

  const onlyOutput = folder('only-output');
  const inner = folder('only-output/labels');
  fs.copyFileSync(path.join(sampleImagesDir, sample[2]!), path.join(inner, sample[2]!));
  const none = await listImages(onlyOutput, { skipFolders: [{ path: inner, reason: 'the output folder' }] });
  assert.equal(none.images.length, 0);
  assert.equal(describeNoImages(onlyOutput, none), `no images in ${onlyOutput}: 1 folder left out (${inner}: the output folder)`);
});

test('a folder that cannot be listed is named for what it is: missing, or a file given instead of its folder', async () => {
  const file = path.join(folder('holds-one'), sample[0]!);
  fs.copyFileSync(path.join(sampleImagesDir, sample[0]!), file);
  const why = (dir: string) =>
    listImages(dir).then(
      () => assert.fail(`${dir} was listed`),
      (error: NodeJS.ErrnoException) => describeUnlistable(dir, error),
    );
  assert.equal(await why(file), `${file} is a file, not a folder: give the folder of images (${path.dirname(file)} holds this one)`);
  const missing = path.join(work, 'gone');
  assert.equal(await why(missing), `images folder not found: ${missing}`);
});
