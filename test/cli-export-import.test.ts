import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadLabels } from '../src/adapters/files/load-labels';
import { writeScalabelFiles } from '../src/adapters/files/write-labels';
import { EXPORT_USAGE, runExport } from '../src/cli/export-command';
import { IMPORT_USAGE, runImport } from '../src/cli/import-command';
import type { CliIo } from '../src/cli/io';
import { UsageError } from '../src/cli/usage-error';
import type { Frame } from '../src/core/labels/schema';
import { BDD_CLASSES } from '../src/core/taxonomy/categories';
import { BDD_IMAGE_SIZE, scoredSample } from './helpers/scored-sample';
import { sampleImagesDir, sampleLabelsDir } from './helpers/shared';

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'autolabel-interchange-'));
  tempDirs.push(dir);
  return dir;
}
after(() => Promise.all(tempDirs.map((dir) => fs.rm(dir, { recursive: true, force: true }))));

function recorder(): CliIo & { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), out: () => out.join(''), err: () => err.join('') };
}

const toolLabels = (frame: Frame) =>
  frame.labels.filter((l) => l.box2d && (BDD_CLASSES as readonly string[]).includes(l.category) && l.attributes?.crowd !== true);

function assertRoundTrip(imported: readonly Frame[], original: readonly Frame[], options: { scores: boolean }) {
  assert.deepEqual(
    imported.map((f) => f.name),
    original.map((f) => f.name),
  );
  imported.forEach((frame, i) => {
    const expected = toolLabels(original[i]!);
    assert.equal(frame.labels.length, expected.length, frame.name);
    frame.labels.forEach((label, j) => {
      assert.equal(label.category, expected[j]!.category);
      assert.equal(label.score, options.scores ? expected[j]!.score : undefined);
      for (const key of ['x1', 'y1', 'x2', 'y2'] as const) {
        assert.ok(Math.abs(label.box2d![key] - expected[j]!.box2d![key]) <= 0.01, `${frame.name} box ${j} ${key}`);
      }
    });
    assert.deepEqual(frame.attributes, original[i]!.attributes);
  });
}

let groundTruth: Frame[];
let scoredDir: string;
let scored: Frame[];
before(async () => {
  groundTruth = (await loadLabels(sampleLabelsDir)).frames;
  scored = await scoredSample();
  scoredDir = await tempDir();
  await writeScalabelFiles(scoredDir, scored);
});

describe('autolabel export / import', () => {
  test('labelstudio: sizes read from --images headers, config beside the tasks, import gives the same boxes and attributes', async () => {
    const dir = await tempDir();
    const tasksFile = path.join(dir, 'tasks.json');
    const io = recorder();
    const code = await runExport(
      [sampleLabelsDir, '--format', 'labelstudio', '--out', tasksFile, '--images', sampleImagesDir, '--images-url', '/img/'],
      io,
    );
    assert.equal(code, 0);
    assert.match(io.out(), /labelstudio: 60 image\(s\)/);
    assert.match(io.out(), /skipped \d+ crowd region/);
    const tasks = JSON.parse(await fs.readFile(tasksFile, 'utf8'));
    assert.equal(tasks.length, 60);
    const rectangle = tasks[0].predictions[0].result.find((r: any) => r.type === 'rectanglelabels');
    assert.equal(rectangle.original_width, 1280, 'width from the JPEG header');
    assert.equal(rectangle.original_height, 720);
    assert.match(await fs.readFile(path.join(dir, 'tasks.config.xml'), 'utf8'), /^<View>/);

    const outDir = path.join(dir, 'imported');
    const importIo = recorder();
    assert.equal(await runImport([tasksFile, '--from', 'labelstudio', '--out', outDir, '--images-url', '/img/'], importIo), 0);
    assert.match(importIo.out(), /imported 60 image\(s\)/);
    const imported = await loadLabels(outDir);
    assert.deepEqual(imported.problems, []);
    assertRoundTrip(imported.frames, groundTruth, { scores: false });
    assert.deepEqual(imported.frames[0]!.provenance?.image, BDD_IMAGE_SIZE, 'sizes kept for the next export');
  });

  test('cvat: scored frames with provenance sizes round-trip boxes, scores and attributes through the XML file', async () => {
    const dir = await tempDir();
    const xmlFile = path.join(dir, 'annotations.xml');
    const io = recorder();
    assert.equal(await runExport([scoredDir, '--format', 'cvat', '--out', xmlFile], io), 0);
    assert.match(io.out(), new RegExp(`wrote ${xmlFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const outDir = path.join(dir, 'imported');
    assert.equal(await runImport([xmlFile, '--from', 'cvat', '--out', outDir], recorder()), 0);
    assertRoundTrip((await loadLabels(outDir)).frames, scored, { scores: true });
  });

  test('yolo: labels/<stem>.txt per image, classes.txt and data.yaml in the out directory', async () => {
    const dir = path.join(await tempDir(), 'yolo');
    assert.equal(await runExport([scoredDir, '--format', 'yolo', '--out', dir], recorder()), 0);
    const labelFiles = (await fs.readdir(path.join(dir, 'labels'))).sort();
    assert.deepEqual(labelFiles, scored.map((f) => f.name.replace(/\.jpg$/, '.txt')).sort());
    assert.deepEqual((await fs.readFile(path.join(dir, 'classes.txt'), 'utf8')).trimEnd().split('\n'), [...BDD_CLASSES]);
    assert.match(await fs.readFile(path.join(dir, 'data.yaml'), 'utf8'), /^names:$/m);
    const first = await fs.readFile(path.join(dir, 'labels', labelFiles[0]!), 'utf8');
    assert.match(first, /^\d \d\.\d{6} \d\.\d{6} \d\.\d{6} \d\.\d{6}\n/);
  });

  test('coco: instances with image sizes and results with the scores', async () => {
    const dir = await tempDir();
    assert.equal(await runExport([scoredDir, '--format', 'coco', '--out', dir], recorder()), 0);
    const instances = JSON.parse(await fs.readFile(path.join(dir, 'instances.json'), 'utf8'));
    assert.equal(instances.images.length, 60);
    for (const image of instances.images) assert.deepEqual([image.width, image.height], [1280, 720]);
    const results = JSON.parse(await fs.readFile(path.join(dir, 'results.json'), 'utf8'));
    assert.ok(results.length > 1000 && results.every((r: any) => typeof r.score === 'number'));
  });

  test('frames without a size and no --images fail, naming the frames, and write nothing', async () => {
    const out = path.join(await tempDir(), 'tasks.json');
    await assert.rejects(runExport([sampleLabelsDir, '--format', 'labelstudio', '--out', out], recorder()), (error: Error) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /no image size for 60 frame\(s\)/);
      assert.ok(error.message.includes(groundTruth[0]!.name), 'names the frames');
      assert.match(error.message, /--images/);
      return true;
    });
    await assert.rejects(fs.access(out), { code: 'ENOENT' });
  });

  test('--images without that image fails naming the frame', async () => {
    const dir = await tempDir();
    await writeScalabelFiles(dir, [{ name: 'not-in-the-folder.jpg', labels: [] }]);
    await assert.rejects(
      runExport([dir, '--format', 'cvat', '--out', path.join(dir, 'a.xml'), '--images', sampleImagesDir], recorder()),
      (error: Error) =>
        error instanceof UsageError && /not-in-the-folder\.jpg/.test(error.message) && error.message.includes(sampleImagesDir),
    );
  });

  test('bad arguments are usage errors (exit 2 through main) that show the usage', async () => {
    const out = path.join(await tempDir(), 'x');
    for (const [argv, message] of [
      [[sampleLabelsDir, '--format', 'pascal', '--out', out], /--format must be one of labelstudio, cvat, yolo, coco/],
      [[sampleLabelsDir, '--format', 'cvat'], /--out <path> is required/],
      [[sampleLabelsDir, '--format', 'cvat', '--out', out, '--images-url', '/x/'], /--images-url applies to --format labelstudio only/],
      [['--format', 'cvat', '--out', out], /give one <labels dir\|file>/],
      [[sampleLabelsDir, '--format', 'cvat', '--out', out, '--frobnicate'], /Unknown option '--frobnicate'/],
    ] as const) {
      await assert.rejects(runExport(argv, recorder()), (error: Error) => {
        assert.ok(error instanceof UsageError, `${argv.join(' ')}: ${error.message}`);
        assert.match(error.message, message);
        if (!/Unknown option/.test(error.message)) assert.ok(error.message.endsWith(EXPORT_USAGE));
        return true;
      });
    }
    await assert.rejects(runImport(['a.json', '--from', 'yolo', '--out', out], recorder()), (error: Error) => {
      return (
        error instanceof UsageError && /--from must be one of labelstudio, cvat/.test(error.message) && error.message.endsWith(IMPORT_USAGE)
      );
    });
  });

  test('import lists the tasks skipped without annotation and writes only the others', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'export.json');
    const box = {
      id: 'b1',
      type: 'rectanglelabels',
      from_name: 'label',
      to_name: 'image',
      original_width: 1280,
      original_height: 720,
      value: { x: 10, y: 10, width: 10, height: 10, rotation: 0, rectanglelabels: ['car'] },
    };
    const tasks = [
      {
        id: 1,
        data: { image: '/data/upload/1/labeled.jpg' },
        annotations: [{ id: 7, result: [box], was_cancelled: false }],
        predictions: [],
      },
      { id: 2, data: { image: '/data/upload/1/untouched.jpg' }, annotations: [], predictions: [] },
    ];
    await fs.writeFile(file, JSON.stringify(tasks));
    const out = path.join(dir, 'frames');
    const io = recorder();
    assert.equal(await runImport([file, '--from', 'labelstudio', '--out', out], io), 0);
    assert.match(io.out(), /imported 1 image/);
    assert.match(io.out(), /skipped 1, not imported:\n {2}untouched\.jpg: no annotation and no prediction\n/);
    assert.deepEqual(await fs.readdir(out), ['labeled.json']);
    const [frame] = (await loadLabels(out)).frames;
    assert.deepEqual(frame!.labels[0]!.box2d, { x1: 128, y1: 72, x2: 256, y2: 144 });
  });

  test('import of a file that is not that format is a usage error', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'tasks.json');
    await fs.writeFile(file, '{"not": "tasks"}');
    await assert.rejects(runImport([file, '--from', 'labelstudio', '--out', dir], recorder()), UsageError);
    await assert.rejects(runImport([file, '--from', 'cvat', '--out', dir], recorder()), /not CVAT for images 1\.1|not well-formed/);
    await assert.rejects(runImport([path.join(dir, 'missing.xml'), '--from', 'cvat', '--out', dir], recorder()), /file not found/);
  });
});
