/** Frames -> "CVAT for images 1.1" XML text, one <image> element per frame (encoding described in cvat-model.ts). */
import type { Frame } from '../labels/schema';
import { ATTRIBUTE_NAMES, ATTRIBUTE_VOCABULARIES } from '../taxonomy/attributes';
import { BDD_CLASSES } from '../taxonomy/categories';
import {
  CVAT_SCORE_ATTRIBUTE,
  CVAT_VERSION,
  type CvatAttribute,
  type CvatImage,
  type CvatLabelAttributeSpec,
  type CvatLabelSpec,
} from './cvat-model';
import { emptyExportSummary, exportAttributes, exportBoxes, type ExportSummary } from './export-items';
import { requireImageSize, type ImageSizeOf } from './image-size';
import type { StreamedDocument } from './stream';
import { escapeXml, xmlAttributes } from './xml-text';

export interface CvatExportOptions {
  sizeOf?: ImageSizeOf;
  /** <meta><task><name>. */
  taskName?: string;
  /** <meta><task><size>, when the caller knows the count up front (a stream may not; CVAT does not need it). */
  imageCount?: number;
}

/**
 * The label set: every BDD class as a rectangle with a score attribute, every scene attribute as a tag label.
 * The score is a text attribute, not a number: CVAT validates number attributes against a min;max;step grid, which
 * arbitrary floats do not sit on.
 */
export function cvatLabelSpecs(): CvatLabelSpec[] {
  const score: CvatLabelAttributeSpec = { name: CVAT_SCORE_ATTRIBUTE, mutable: false, inputType: 'text', defaultValue: '', values: [] };
  const boxes = BDD_CLASSES.map((name): CvatLabelSpec => ({ name, type: 'rectangle', attributes: [score] }));
  const tags = ATTRIBUTE_NAMES.map((name): CvatLabelSpec => ({
    name,
    type: 'tag',
    attributes: [{ name, mutable: false, inputType: 'select', defaultValue: 'undefined', values: [...ATTRIBUTE_VOCABULARIES[name]] }],
  }));
  return [...boxes, ...tags];
}

/** Scores as written: full precision, no exponent surprises for tiny values. */
const scoreText = (score: number) => String(score);

/** One frame as the model's image. `id` is CVAT's 0-based frame number. */
export function cvatImage(frame: Frame, id: number, options: Pick<CvatExportOptions, 'sizeOf'> = {}, summary?: ExportSummary): CvatImage {
  const { width, height } = requireImageSize(frame, options.sizeOf);
  const boxes = exportBoxes(frame, summary).map((box) => ({
    label: box.category,
    xtl: box.box.x1,
    ytl: box.box.y1,
    xbr: box.box.x2,
    ybr: box.box.y2,
    occluded: box.occluded,
    source: box.score === undefined ? 'manual' : 'auto',
    attributes: [{ name: CVAT_SCORE_ATTRIBUTE, value: box.score === undefined ? '' : scoreText(box.score) }],
  }));
  const tags = exportAttributes(frame, summary).map((attribute) => ({
    label: attribute.name,
    source: 'auto',
    attributes: [{ name: attribute.name, value: attribute.value }],
  }));
  if (summary) summary.frames += 1;
  return { id, name: frame.name, width, height, boxes, tags };
}

const attributeXml = (a: CvatAttribute, indent: string) =>
  `${indent}<attribute${xmlAttributes({ name: a.name })}>${escapeXml(a.value)}</attribute>\n`;

/** The <image> element of one image, indented to sit inside <annotations>. */
export function cvatImageXml(image: CvatImage): string {
  let xml = `  <image${xmlAttributes({ id: image.id, name: image.name, width: image.width, height: image.height })}>\n`;
  for (const box of image.boxes) {
    const attributes = xmlAttributes({
      label: box.label,
      source: box.source,
      occluded: box.occluded ? 1 : 0,
      xtl: box.xtl,
      ytl: box.ytl,
      xbr: box.xbr,
      ybr: box.ybr,
      z_order: 0,
    });
    xml += `    <box${attributes}>\n${box.attributes.map((a) => attributeXml(a, '      ')).join('')}    </box>\n`;
  }
  for (const tag of image.tags) {
    xml += `    <tag${xmlAttributes({ label: tag.label, source: tag.source })}>\n${tag.attributes.map((a) => attributeXml(a, '      ')).join('')}    </tag>\n`;
  }
  return `${xml}  </image>\n`;
}

function labelSpecXml(label: CvatLabelSpec): string {
  const attributes = label.attributes
    .map(
      (a) =>
        '            <attribute>\n' +
        `              <name>${escapeXml(a.name)}</name>\n` +
        `              <mutable>${a.mutable ? 'True' : 'False'}</mutable>\n` +
        `              <input_type>${a.inputType}</input_type>\n` +
        `              <default_value>${escapeXml(a.defaultValue)}</default_value>\n` +
        // CVAT separates attribute values by newlines; escapeXml keeps them as character references.
        `              <values>${escapeXml(a.values.join('\n'))}</values>\n` +
        '            </attribute>\n',
    )
    .join('');
  return (
    '        <label>\n' +
    `          <name>${escapeXml(label.name)}</name>\n` +
    `          <type>${label.type}</type>\n` +
    `          <attributes>\n${attributes}          </attributes>\n` +
    '        </label>\n'
  );
}

/** XML prolog, <version> and <meta> with the label set: everything before the first <image>. */
export function cvatHeaderXml(options: Omit<CvatExportOptions, 'sizeOf'> = {}): string {
  const size = options.imageCount === undefined ? '' : `      <size>${options.imageCount}</size>\n`;
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n' +
    `  <version>${CVAT_VERSION}</version>\n  <meta>\n    <task>\n` +
    `      <name>${escapeXml(options.taskName ?? 'autolabel')}</name>\n${size}` +
    '      <mode>annotation</mode>\n' +
    `      <labels>\n${cvatLabelSpecs().map(labelSpecXml).join('')}      </labels>\n` +
    '    </task>\n  </meta>\n'
  );
}

export const cvatFooterXml = () => '</annotations>\n';

/** The whole XML as a streamed document; image ids count from 0 in the order frames arrive. */
export function cvatDocument(options: CvatExportOptions = {}): StreamedDocument {
  const summary = emptyExportSummary();
  let next = 0;
  return {
    mediaType: 'application/xml',
    summary,
    header: () => cvatHeaderXml(options),
    frame(frame) {
      const image = cvatImage(frame, next, options, summary);
      next += 1;
      return cvatImageXml(image);
    },
    footer: cvatFooterXml,
  };
}
