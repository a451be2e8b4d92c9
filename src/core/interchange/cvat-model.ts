/**
 * "CVAT for images 1.1" as plain objects, and the zod schema that reads them from what an XML parser returns
 * (attributes and text as strings, one child or a list of children). The XML text itself is written by cvat-export.ts
 * and parsed by src/adapters/interchange/cvat-xml.ts.
 *
 * Encoding of our frames (used both ways):
 * - a box: <box label="car" xtl ytl xbr ybr occluded="0|1" source="auto|manual"><attribute name="score">0.91</attribute></box>
 *   (the score attribute is empty for boxes without a score, e.g. drawn by a person);
 * - a scene attribute: <tag label="weather" source="auto"><attribute name="weather">rainy</attribute></tag>, one tag
 *   label per attribute with a select attribute of the same name listing the BDD vocabulary.
 */
import { z } from 'zod';

export const CVAT_VERSION = '1.1';
/** Name of the box attribute holding the detector score. */
export const CVAT_SCORE_ATTRIBUTE = 'score';

export interface CvatAttribute {
  name: string;
  value: string;
}

export interface CvatBox {
  label: string;
  xtl: number;
  ytl: number;
  xbr: number;
  ybr: number;
  occluded: boolean;
  /** CVAT's own marker of who made a shape: `auto` (a model), `manual`, `semi-auto`, `file`. */
  source: string;
  attributes: CvatAttribute[];
}

export interface CvatTag {
  label: string;
  source: string;
  attributes: CvatAttribute[];
}

export interface CvatImage {
  id: number;
  name: string;
  width: number;
  height: number;
  boxes: CvatBox[];
  tags: CvatTag[];
}

export interface CvatLabelAttributeSpec {
  name: string;
  mutable: boolean;
  inputType: 'select' | 'text';
  defaultValue: string;
  values: string[];
}

export interface CvatLabelSpec {
  name: string;
  type: 'rectangle' | 'tag';
  attributes: CvatLabelAttributeSpec[];
}

export interface CvatDocument {
  labels: CvatLabelSpec[];
  images: CvatImage[];
  /** Per image name: shapes present but not read (polygons, points...), for the import's report. */
  ignoredShapes: Record<string, Record<string, number>>;
}

// --- Reading: the parser's output -> the model. -------------------------------------------------------------------

/** An XML parser gives one child as an object and several as a list; absent as undefined. */
const many = <T extends z.ZodType>(item: T) =>
  z.preprocess((value) => (value === undefined || value === '' ? [] : Array.isArray(value) ? value : [value]), z.array(item));

/** An element that may be empty (`<labels/>` parses to ''), read as an object. */
const element = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' || value === undefined ? {} : value), schema);

const text = z.union([z.string(), z.number(), z.boolean()]).transform(String);
/** A number in an attribute: a string from the parser, never empty, never NaN. */
const numeric = z.union([z.number(), z.string().trim().min(1).transform(Number)]).pipe(z.number());

const RawAttributeSchema = z
  .looseObject({ name: text, '#text': text.optional() })
  .transform((a): CvatAttribute => ({ name: a.name, value: a['#text'] ?? '' }));

const RawBoxSchema = z
  .looseObject({
    label: text,
    xtl: numeric,
    ytl: numeric,
    xbr: numeric,
    ybr: numeric,
    occluded: text.optional(),
    source: text.optional(),
    attribute: many(RawAttributeSchema),
  })
  .transform((b): CvatBox => ({
    label: b.label,
    xtl: b.xtl,
    ytl: b.ytl,
    xbr: b.xbr,
    ybr: b.ybr,
    occluded: b.occluded === '1' || b.occluded === 'true',
    source: b.source ?? 'manual',
    attributes: b.attribute,
  }));

const RawTagSchema = z
  .looseObject({ label: text, source: text.optional(), attribute: many(RawAttributeSchema) })
  .transform((t): CvatTag => ({ label: t.label, source: t.source ?? 'manual', attributes: t.attribute }));

/** Shape elements of the format that are not boxes or tags: counted, not read. */
const OTHER_SHAPES = ['polygon', 'polyline', 'points', 'cuboid', 'ellipse', 'mask', 'skeleton'] as const;

const RawImageSchema = z.looseObject({
  id: numeric.pipe(z.number().int().min(0)),
  name: text,
  width: numeric.pipe(z.number().positive()),
  height: numeric.pipe(z.number().positive()),
  box: many(RawBoxSchema),
  tag: many(RawTagSchema),
});

const RawLabelAttributeSchema = z
  .looseObject({
    name: text,
    mutable: text.optional(),
    input_type: text.optional(),
    default_value: text.optional(),
    values: text.optional(),
  })
  .transform((a): CvatLabelAttributeSpec => ({
    name: a.name,
    mutable: a.mutable?.toLowerCase() === 'true',
    inputType: a.input_type === 'select' ? 'select' : 'text',
    defaultValue: a.default_value ?? '',
    values: (a.values ?? '').split('\n').filter(Boolean),
  }));

const RawLabelSchema = z
  .looseObject({ name: text, type: text.optional(), attributes: element(z.looseObject({ attribute: many(RawLabelAttributeSchema) })) })
  .transform((l): CvatLabelSpec => ({ name: l.name, type: l.type === 'tag' ? 'tag' : 'rectangle', attributes: l.attributes.attribute }));

const RawLabelsHolderSchema = element(z.looseObject({ labels: element(z.looseObject({ label: many(RawLabelSchema) })) }));

/** `<annotations>` as parsed from XML (attribute names without prefix, text as `#text`) -> the model. */
export const CvatXmlObjectSchema = z
  .looseObject({
    annotations: element(
      z.looseObject({
        version: text.optional(),
        // Task exports list labels under meta/task, project exports under meta/project.
        meta: element(z.looseObject({ task: RawLabelsHolderSchema.optional(), project: RawLabelsHolderSchema.optional() })).optional(),
        image: many(RawImageSchema),
      }),
    ),
  })
  .transform((doc): CvatDocument => {
    const { meta, image } = doc.annotations;
    const ignoredShapes: CvatDocument['ignoredShapes'] = {};
    const images = image.map((raw): CvatImage => {
      for (const shape of OTHER_SHAPES) {
        const count = many(z.unknown()).parse(raw[shape]).length;
        if (count) (ignoredShapes[raw.name] ??= {})[shape] = count;
      }
      return { id: raw.id, name: raw.name, width: raw.width, height: raw.height, boxes: raw.box, tags: raw.tag };
    });
    const labels = [...(meta?.task?.labels.label ?? []), ...(meta?.project?.labels.label ?? [])];
    return { labels, images, ignoredShapes };
  });
