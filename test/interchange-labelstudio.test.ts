import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import {
  documentPieces,
  documentText,
  labelStudioConfigXml,
  labelStudioDocument,
  labelStudioImageName,
  labelStudioTask,
  labelStudioTasksToFrames,
  MissingImageSizeError,
} from '../src/core/interchange';
import type { Frame, Label } from '../src/core/labels/schema';
import { ATTRIBUTE_NAMES, ATTRIBUTE_VOCABULARIES } from '../src/core/taxonomy/attributes';
import { BDD_CLASSES } from '../src/core/taxonomy/categories';
import { BDD_IMAGE_SIZE, scoredSample } from './helpers/scored-sample';

const PREFIX = '/data/local-files/?d=bdd100k/';

/** Labels a labeling tool gets: a box, a BDD class by name, not a crowd region (written independently of exportBoxes). */
const toolLabels = (frame: Frame) =>
  frame.labels.filter((l) => l.box2d && (BDD_CLASSES as readonly string[]).includes(l.category) && l.attributes?.crowd !== true);

function assertSameBoxes(actual: readonly Label[], expected: readonly Label[], where: string, options: { scores: boolean }) {
  assert.equal(actual.length, expected.length, `${where}: box count`);
  expected.forEach((e, i) => {
    const a = actual[i]!;
    assert.equal(a.category, e.category, `${where} box ${i}: category`);
    for (const key of ['x1', 'y1', 'x2', 'y2'] as const) {
      assert.ok(Math.abs(a.box2d![key] - e.box2d![key]) <= 0.01, `${where} box ${i} ${key}: ${a.box2d![key]} vs ${e.box2d![key]}`);
    }
    if (options.scores) assert.equal(a.score, e.score, `${where} box ${i}: score`);
    else assert.equal(a.score, undefined, `${where} box ${i}: a person's box has no score`);
  });
}

let frames: Frame[];
let tasks: any[];
before(async () => {
  frames = await scoredSample();
  tasks = JSON.parse(documentText(labelStudioDocument({ imagesUrl: PREFIX }), frames));
});

describe('Label Studio export', () => {
  test('one task per frame: image URL with the prefix, one prediction with the model version and a mean score', () => {
    assert.equal(tasks.length, 60);
    tasks.forEach((task, i) => {
      assert.equal(task.data.image, PREFIX + frames[i]!.name);
      assert.equal(task.predictions.length, 1);
      assert.equal(task.predictions[0].model_version, 'autolabel@sha256-test');
      const scores = toolLabels(frames[i]!).map((l) => l.score!);
      if (scores.length) assert.ok(Math.abs(task.predictions[0].score - scores.reduce((a, b) => a + b) / scores.length) < 1e-12);
    });
  });

  test('boxes are rectanglelabels in percent of original_width/original_height with every field Label Studio needs', () => {
    const frame = frames[0]!;
    const task = tasks[0];
    const rectangles = task.predictions[0].result.filter((r: any) => r.type === 'rectanglelabels');
    assert.equal(rectangles.length, toolLabels(frame).length);
    const first = toolLabels(frame)[1]!;
    const result = rectangles[1];
    assert.deepEqual(Object.keys(result).sort(), [
      'from_name',
      'id',
      'image_rotation',
      'original_height',
      'original_width',
      'score',
      'to_name',
      'type',
      'value',
    ]);
    assert.equal(result.original_width, BDD_IMAGE_SIZE.width);
    assert.equal(result.original_height, BDD_IMAGE_SIZE.height);
    assert.equal(result.image_rotation, 0);
    assert.equal(result.id, first.id);
    assert.equal(result.score, first.score);
    assert.deepEqual(result.value.rectanglelabels, [first.category]);
    assert.equal(result.value.rotation, 0);
    assert.ok(Math.abs(result.value.x - (first.box2d!.x1 / 1280) * 100) < 1e-9);
    assert.ok(Math.abs(result.value.y - (first.box2d!.y1 / 720) * 100) < 1e-9);
    assert.ok(Math.abs(result.value.width - ((first.box2d!.x2 - first.box2d!.x1) / 1280) * 100) < 1e-9);
    assert.ok(Math.abs(result.value.height - ((first.box2d!.y2 - first.box2d!.y1) / 720) * 100) < 1e-9);
    for (const r of rectangles) {
      for (const key of ['x', 'y', 'width', 'height'] as const)
        assert.ok(r.value[key] >= 0 && r.value[key] <= 100, `${key} ${r.value[key]} in percent`);
    }
  });

  test('the three scene attributes are single choices named after the attribute', () => {
    tasks.forEach((task, i) => {
      const choices = task.predictions[0].result.filter((r: any) => r.type === 'choices');
      assert.deepEqual(
        choices.map((c: any) => [c.from_name, c.value.choices]),
        ATTRIBUTE_NAMES.map((name) => [name, [frames[i]!.attributes![name]]]),
      );
    });
  });

  test('crowd regions are counted, not exported', () => {
    const document = labelStudioDocument();
    documentText(document, frames);
    const crowd = frames.flatMap((f) => f.labels).filter((l) => l.category === 'other vehicle' || l.attributes?.crowd === true).length;
    assert.ok(crowd > 0, 'the sample has crowd regions');
    assert.equal(document.summary.skippedCrowd, crowd);
    assert.equal(
      document.summary.boxes,
      frames.map((f) => toolLabels(f).length).reduce((a, b) => a + b),
    );
    assert.equal(document.summary.frames, 60);
  });

  test('the labeling config agrees with every result and lists every class and attribute value', () => {
    const parser = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      isArray: (name) => ['Label', 'Choices', 'Choice'].includes(name),
    });
    const view = parser.parse(labelStudioConfigXml()).View;
    const imageName = view.Image.name;
    assert.equal(view.Image.value, `$${imageName}`);
    const controls = new Map<string, { toName: string; values: string[] }>();
    controls.set(view.RectangleLabels.name, {
      toName: view.RectangleLabels.toName,
      values: view.RectangleLabels.Label.map((l: any) => l.value),
    });
    for (const choices of view.Choices) {
      assert.equal(choices.choice, 'single');
      controls.set(choices.name, { toName: choices.toName, values: choices.Choice.map((c: any) => c.value) });
    }
    assert.deepEqual(controls.get(view.RectangleLabels.name)!.values, [...BDD_CLASSES]);
    for (const name of ATTRIBUTE_NAMES) assert.deepEqual(controls.get(name)?.values, [...ATTRIBUTE_VOCABULARIES[name]]);

    let checked = 0;
    for (const task of tasks) {
      assert.ok(Object.hasOwn(task.data, imageName), 'task data has the key the Image tag reads');
      for (const result of task.predictions[0].result) {
        const control = controls.get(result.from_name);
        assert.ok(control, `from_name ${result.from_name} is a control of the config`);
        assert.equal(result.to_name, imageName);
        assert.equal(control.toName, result.to_name);
        for (const value of result.value.rectanglelabels ?? result.value.choices)
          assert.ok(control.values.includes(value), `${value} listed`);
        checked += 1;
      }
    }
    assert.ok(checked > 1000);
  });

  test('a frame without an image size fails, naming the frame', () => {
    const bare: Frame = { name: 'no-size.jpg', labels: [] };
    assert.throws(
      () => labelStudioTask(bare),
      (error: Error) => error instanceof MissingImageSizeError && /no-size\.jpg/.test(error.message),
    );
    assert.doesNotThrow(() => labelStudioTask(bare, { sizeOf: () => ({ width: 10, height: 10 }) }));
  });

  test('streamed pieces concatenate to the same JSON, also for no frame', async () => {
    const pieces: string[] = [];
    for await (const piece of documentPieces(labelStudioDocument({ imagesUrl: PREFIX }), frames.slice(0, 3))) pieces.push(piece);
    assert.equal(pieces.length, 5, 'header, 3 frames, footer');
    assert.deepEqual(JSON.parse(pieces.join('')), tasks.slice(0, 3));
    assert.deepEqual(JSON.parse(documentText(labelStudioDocument(), [])), []);
  });
});

describe('Label Studio import', () => {
  test('export then import of the unchanged set gives the same boxes (0.01 px), scores and attributes', () => {
    const imported = labelStudioTasksToFrames(tasks, { imagesUrl: PREFIX });
    assert.deepEqual(imported.skipped, []);
    assert.deepEqual(imported.problems, []);
    assert.deepEqual(
      imported.frames.map((f) => f.name),
      frames.map((f) => f.name),
    );
    imported.frames.forEach((frame, i) => {
      assertSameBoxes(frame.labels, toolLabels(frames[i]!), frame.name, { scores: true });
      assert.deepEqual(frame.attributes, frames[i]!.attributes);
      assert.deepEqual(frame.provenance?.image, BDD_IMAGE_SIZE);
    });
  });

  test("a person's latest non-cancelled annotation wins over predictions; a task with neither is listed, not invented", () => {
    const edited = structuredClone(tasks.slice(0, 4));
    const prediction = edited[0].predictions[0];
    const keep = prediction.result.slice(0, 2).map((r: any) => ({ ...r, score: undefined }));
    edited[0].annotations = [
      { id: 1, result: prediction.result.slice(0, 5), was_cancelled: false, created_at: '2026-01-01T10:00:00Z' },
      { id: 2, result: keep, was_cancelled: false, created_at: '2026-01-02T10:00:00Z', updated_at: '2026-01-03T10:00:00Z' },
      { id: 3, result: [], was_cancelled: true, created_at: '2026-01-04T10:00:00Z' },
    ];
    // A person who found nothing: an empty, not cancelled annotation is a frame with no boxes.
    edited[1].annotations = [{ id: 4, result: [], was_cancelled: false }];
    edited[2].predictions = [];
    edited[3].predictions = [];
    edited[3].annotations = [{ id: 5, result: prediction.result, was_cancelled: true }];

    const imported = labelStudioTasksToFrames(edited, { imagesUrl: PREFIX });
    assert.deepEqual(
      imported.frames.map((f) => f.name),
      [frames[0]!.name, frames[1]!.name],
    );
    const [annotated, empty] = imported.frames;
    assertSameBoxes(annotated!.labels, toolLabels(frames[0]!).slice(0, 2), 'annotated', { scores: false });
    assert.equal(annotated!.attributes, undefined, 'the chosen annotation has no choices');
    assert.deepEqual(annotated!.provenance?.imported, { from: 'labelstudio', source: 'annotation', annotation: '2' });
    assert.deepEqual(empty!.labels, []);
    assert.deepEqual(imported.skipped, [
      { image: frames[2]!.name, reason: 'no annotation and no prediction' },
      { image: frames[3]!.name, reason: 'only cancelled (skipped) annotations, no prediction' },
    ]);
  });

  test('the latest prediction is used when there is no annotation; bare prediction ids are not mistaken for none', () => {
    const edited = structuredClone(tasks.slice(0, 2));
    const older = { ...edited[0].predictions[0], model_version: 'old', created_at: '2025-01-01T00:00:00Z', result: [] };
    edited[0].predictions = [{ ...edited[0].predictions[0], created_at: '2026-01-01T00:00:00Z' }, older];
    edited[1].predictions = [17];
    const imported = labelStudioTasksToFrames(edited, { imagesUrl: PREFIX });
    assert.equal(imported.frames.length, 1);
    assert.equal(imported.frames[0]!.labels.length, toolLabels(frames[0]!).length);
    assert.equal((imported.frames[0]!.provenance?.imported as Record<string, unknown>).modelVersion, 'autolabel@sha256-test');
    assert.match(imported.skipped[0]!.reason, /by id only/);
  });

  test('rotated boxes become their upright bounding box, with a note', () => {
    const task = {
      data: { image: 'a.jpg' },
      annotations: [
        {
          result: [
            {
              id: 'r',
              type: 'rectanglelabels',
              from_name: 'label',
              to_name: 'image',
              original_width: 200,
              original_height: 100,
              value: { x: 50, y: 10, width: 10, height: 20, rotation: 90, rectanglelabels: ['car'] },
            },
          ],
        },
      ],
    };
    const imported = labelStudioTasksToFrames([task]);
    const box = imported.frames[0]!.labels[0]!.box2d!;
    // 20 x 20 px at (100, 10), turned a quarter clockwise about its top-left corner: it now extends to the left.
    for (const [key, value] of Object.entries({ x1: 80, y1: 10, x2: 100, y2: 30 })) {
      assert.ok(Math.abs(box[key as keyof typeof box] - value) < 1e-9, `${key}: ${box[key as keyof typeof box]}`);
    }
    assert.match(imported.problems.join('\n'), /a\.jpg: box r: rotated 90°/);
  });

  test('image names come from data.image: after the prefix, else the file name of the URL', () => {
    assert.equal(labelStudioImageName(`${PREFIX}sub/a%20b.jpg`, PREFIX), 'sub/a b.jpg');
    assert.equal(labelStudioImageName('/data/upload/3/a.jpg?x=1'), 'a.jpg');
    assert.equal(labelStudioImageName('/data/local-files/?d=folder/b.jpg'), 'b.jpg');
    assert.equal(labelStudioImageName('https://host/images/c.png'), 'c.png');
  });

  test('a document that is not a task list is refused; an unreadable task is listed', () => {
    assert.throws(() => labelStudioTasksToFrames({ hello: 1 }), /Label Studio JSON export/);
    const imported = labelStudioTasksToFrames([{ id: 9, data: {} }]);
    assert.equal(imported.frames.length, 0);
    assert.equal(imported.skipped[0]!.image, 'task 9');
    assert.match(imported.skipped[0]!.reason, /not a readable task/);
  });
});
