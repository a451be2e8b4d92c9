import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  emptyExportSummary,
  yoloClassesText,
  yoloDataYaml,
  yoloLabelFileName,
  yoloLabelText,
  yoloTextToLabels,
} from '../src/core/interchange';
import type { Frame } from '../src/core/labels/schema';
import { BDD_CLASSES } from '../src/core/taxonomy/categories';
import { BDD_IMAGE_SIZE, scoredSample } from './helpers/scored-sample';

const toolLabels = (frame: Frame) =>
  frame.labels.filter((l) => l.box2d && (BDD_CLASSES as readonly string[]).includes(l.category) && l.attributes?.crowd !== true);

const LINE = /^(\d+) (\d\.\d{6}) (\d\.\d{6}) (\d\.\d{6}) (\d\.\d{6})$/;

let frames: Frame[];
before(async () => {
  frames = await scoredSample();
});

describe('YOLO export', () => {
  test('classes.txt and data.yaml list the BDD classes in taxonomy order', () => {
    assert.deepEqual(yoloClassesText().trimEnd().split('\n'), [...BDD_CLASSES]);
    const yaml = yoloDataYaml();
    assert.match(yaml, new RegExp(`^nc: ${BDD_CLASSES.length}$`, 'm'));
    const names = [...yaml.matchAll(/^ {2}(\d+): "(.+)"$/gm)].map((m) => [Number(m[1]), m[2]]);
    assert.deepEqual(
      names,
      BDD_CLASSES.map((name, i) => [i, name]),
    );
  });

  test('one line per box, normalised to 0..1 with 6 decimals, class index = position in classes.txt', () => {
    const classes = yoloClassesText().trimEnd().split('\n');
    let lines = 0;
    for (const frame of frames) {
      const text = yoloLabelText(frame);
      const expected = toolLabels(frame);
      const rows = text ? text.trimEnd().split('\n') : [];
      assert.equal(rows.length, expected.length, frame.name);
      rows.forEach((row, i) => {
        const match = LINE.exec(row);
        assert.ok(match, `'${row}' is 'class cx cy w h'`);
        const [index, cx, cy, w, h] = match.slice(1).map(Number) as [number, number, number, number, number];
        assert.equal(classes[index], expected[i]!.category);
        for (const v of [cx, cy, w, h]) assert.ok(v >= 0 && v <= 1, `${v} normalised`);
        const box = expected[i]!.box2d!;
        assert.ok(Math.abs(cx - (box.x1 + box.x2) / 2 / BDD_IMAGE_SIZE.width) <= 5e-7);
        assert.ok(Math.abs(h - (box.y2 - box.y1) / BDD_IMAGE_SIZE.height) <= 5e-7);
      });
      lines += rows.length;
    }
    assert.ok(lines > 1000);
  });

  test('label files are named after the image stem; a frame with no box gives an empty file', () => {
    assert.equal(yoloLabelFileName({ name: 'videos/abc-1.jpg' }), 'abc-1.txt');
    const empty: Frame = { name: 'x.jpg', labels: [], provenance: { schemaVersion: 1, image: { width: 10, height: 10 } } };
    assert.equal(yoloLabelText(empty), '');
  });

  test('boxes past the border are clipped, boxes outside the image skipped, both counted', () => {
    const frame: Frame = {
      name: 'edge.jpg',
      labels: [
        { id: '1', category: 'car', box2d: { x1: -10, y1: 50, x2: 90, y2: 150 } },
        { id: '2', category: 'bus', box2d: { x1: 300, y1: 0, x2: 350, y2: 10 } },
      ],
    };
    const summary = emptyExportSummary();
    const text = yoloLabelText(frame, { sizeOf: () => ({ width: 200, height: 100 }) }, summary);
    assert.equal(text, '2 0.225000 0.750000 0.450000 0.500000\n');
    assert.equal(summary.clippedBoxes, 1);
    assert.equal(summary.skippedOutsideImage, 1);
    assert.equal(summary.boxes, 1);
  });

  test('label files read back to the same pixel boxes (within 6-decimal rounding)', () => {
    for (const frame of frames) {
      const { labels, problems } = yoloTextToLabels(yoloLabelText(frame), BDD_IMAGE_SIZE);
      assert.deepEqual(problems, []);
      const expected = toolLabels(frame);
      assert.equal(labels.length, expected.length);
      labels.forEach((label, i) => {
        assert.equal(label.category, expected[i]!.category);
        for (const key of ['x1', 'y1', 'x2', 'y2'] as const) assert.ok(Math.abs(label.box2d![key] - expected[i]!.box2d![key]) <= 0.01);
      });
    }
    assert.match(yoloTextToLabels('12 0.5 0.5 0.1 0.1\n', BDD_IMAGE_SIZE).problems[0]!, /line 1/);
  });
});
