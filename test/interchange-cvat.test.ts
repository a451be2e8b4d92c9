import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parseCvatXml } from '../src/adapters/interchange/cvat-xml';
import {
  cvatDocument,
  cvatDocumentToFrames,
  cvatFooterXml,
  cvatHeaderXml,
  cvatImage,
  cvatImageXml,
  documentPieces,
  documentText,
  InterchangeDocumentError,
} from '../src/core/interchange';
import type { Frame } from '../src/core/labels/schema';
import { ATTRIBUTE_NAMES, ATTRIBUTE_VOCABULARIES } from '../src/core/taxonomy/attributes';
import { BDD_CLASSES } from '../src/core/taxonomy/categories';
import { BDD_IMAGE_SIZE, scoredSample } from './helpers/scored-sample';

const toolLabels = (frame: Frame) =>
  frame.labels.filter((l) => l.box2d && (BDD_CLASSES as readonly string[]).includes(l.category) && l.attributes?.crowd !== true);

/** The XML as any parser sees it, lists where CVAT repeats elements. */
const rawParse = (xml: string) =>
  new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    parseTagValue: false,
    isArray: (name, _path, _leaf, isAttribute) => !isAttribute && ['image', 'box', 'tag', 'attribute', 'label'].includes(name),
  }).parse(xml);

let frames: Frame[];
let xml: string;
before(async () => {
  frames = await scoredSample();
  xml = documentText(cvatDocument({ taskName: 'bdd sample', imageCount: frames.length }), frames);
});

describe('CVAT for images 1.1 export', () => {
  test('well-formed XML with width and height on every image and a score attribute on every box', () => {
    assert.equal(XMLValidator.validate(xml), true);
    const { annotations } = rawParse(xml);
    assert.equal(annotations.version, '1.1');
    assert.equal(annotations.meta.task.size, '60');
    assert.equal(annotations.image.length, 60);
    annotations.image.forEach((image: any, i: number) => {
      assert.equal(image.id, String(i));
      assert.equal(image.name, frames[i]!.name);
      assert.equal(image.width, String(BDD_IMAGE_SIZE.width));
      assert.equal(image.height, String(BDD_IMAGE_SIZE.height));
      const expected = toolLabels(frames[i]!);
      assert.equal((image.box ?? []).length, expected.length);
      (image.box ?? []).forEach((box: any, j: number) => {
        assert.equal(box.label, expected[j]!.category);
        assert.equal(box.source, 'auto');
        assert.equal(box.occluded, expected[j]!.attributes?.occluded === true ? '1' : '0');
        assert.deepEqual(box.attribute, [{ name: 'score', '#text': String(expected[j]!.score) }]);
      });
      assert.deepEqual(
        image.tag.map((t: any) => [t.label, t.attribute[0].name, t.attribute[0]['#text']]),
        ATTRIBUTE_NAMES.map((name) => [name, name, frames[i]!.attributes![name]]),
      );
    });
  });

  test('the label set lists every BDD class as a rectangle with a score and every attribute as a tag with its values', () => {
    const document = parseCvatXml(xml);
    const rectangles = document.labels.filter((l) => l.type === 'rectangle');
    assert.deepEqual(
      rectangles.map((l) => l.name),
      [...BDD_CLASSES],
    );
    for (const label of rectangles)
      assert.deepEqual(
        label.attributes.map((a) => a.name),
        ['score'],
      );
    const tags = document.labels.filter((l) => l.type === 'tag');
    assert.deepEqual(
      tags.map((l) => [l.name, l.attributes[0]!.name, l.attributes[0]!.inputType, l.attributes[0]!.values]),
      ATTRIBUTE_NAMES.map((name) => [name, name, 'select', [...ATTRIBUTE_VOCABULARIES[name]]]),
    );
  });

  test('names and values with XML special characters are escaped and read back unchanged', () => {
    const name = `a&b <"odd">\n'name'.jpg`;
    const frame: Frame = {
      name,
      attributes: { weather: 'rainy' },
      labels: [{ id: '1', category: 'car', box2d: { x1: 1, y1: 2, x2: 3, y2: 4 }, score: 0.5 }],
      provenance: { schemaVersion: 1, image: { width: 10, height: 10 } },
    };
    const text = cvatHeaderXml() + cvatImageXml(cvatImage(frame, 0)) + cvatFooterXml();
    assert.equal(XMLValidator.validate(text), true);
    const imported = cvatDocumentToFrames(parseCvatXml(text));
    assert.equal(imported.frames[0]!.name, name);
  });

  test('streamed pieces are the whole document; image ids count in arrival order', async () => {
    const pieces: string[] = [];
    for await (const piece of documentPieces(cvatDocument({ taskName: 'bdd sample', imageCount: 60 }), frames)) pieces.push(piece);
    assert.equal(pieces.length, 62);
    assert.equal(pieces.join(''), xml);
    assert.match(pieces[2]!, /^ {2}<image id="1" /);
  });
});

describe('CVAT import', () => {
  test('export then import of the unchanged set gives the same boxes (0.01 px), scores and attributes', () => {
    const imported = cvatDocumentToFrames(parseCvatXml(xml, 'sample.xml'));
    assert.deepEqual(imported.skipped, []);
    assert.deepEqual(imported.problems, []);
    assert.equal(imported.frames.length, 60);
    imported.frames.forEach((frame, i) => {
      const expected = toolLabels(frames[i]!);
      assert.equal(frame.name, frames[i]!.name);
      assert.equal(frame.labels.length, expected.length, frame.name);
      frame.labels.forEach((label, j) => {
        assert.equal(label.category, expected[j]!.category);
        assert.equal(label.score, expected[j]!.score);
        assert.equal(label.attributes?.occluded, expected[j]!.attributes?.occluded === true);
        for (const key of ['x1', 'y1', 'x2', 'y2'] as const) {
          assert.ok(Math.abs(label.box2d![key] - expected[j]!.box2d![key]) <= 0.01, `${frame.name} box ${j} ${key}`);
        }
      });
      assert.deepEqual(frame.attributes, frames[i]!.attributes);
      assert.deepEqual(frame.provenance?.image, BDD_IMAGE_SIZE);
    });
  });

  test('boxes drawn in CVAT (empty score) come without a score; unannotated images and other shapes are reported', () => {
    const text = `<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <image id="0" name="drawn.jpg" width="640" height="480">
    <box label="truck" source="manual" occluded="1" xtl="10.5" ytl="20" xbr="110" ybr="220.25" z_order="0">
      <attribute name="score"></attribute>
    </box>
    <polygon label="car" points="1,2;3,4;5,6"/>
  </image>
  <image id="1" name="untouched.jpg" width="640" height="480"></image>
</annotations>`;
    const imported = cvatDocumentToFrames(parseCvatXml(text));
    assert.equal(imported.frames.length, 1);
    const [label] = imported.frames[0]!.labels;
    assert.deepEqual(label, {
      id: '1',
      category: 'truck',
      box2d: { x1: 10.5, y1: 20, x2: 110, y2: 220.25 },
      attributes: { occluded: true },
    });
    assert.deepEqual(imported.skipped, [{ image: 'untouched.jpg', reason: 'no box and no tag (not annotated)' }]);
    assert.match(imported.problems.join('\n'), /drawn\.jpg: 1 polygon ignored/);
  });

  test('malformed XML is refused with its line; a foreign XML document is refused', () => {
    assert.throws(
      () => parseCvatXml('<annotations>\n<image id="0" name="a.jpg" width="1" height="1">\n</annotations>', 'bad.xml'),
      (error: Error) => error instanceof InterchangeDocumentError && /bad\.xml: not well-formed XML \(line 3/.test(error.message),
    );
    assert.throws(
      () => parseCvatXml('<annotations><image name="a.jpg"/></annotations>', 'partial.xml'),
      (error: Error) => error instanceof InterchangeDocumentError && /not CVAT for images 1\.1/.test(error.message),
    );
    assert.throws(() => parseCvatXml('<!DOCTYPE x [<!ENTITY a "b">]><annotations/>'), /DOCTYPE/);
  });
});
