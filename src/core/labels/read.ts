/**
 * Label documents -> frames, detecting the layout from the content (never the file name). Pure: callers read files.
 */
import type { z } from 'zod';
import { cocoInstancesToFrames, type CocoIndex } from './coco';
import { fastFrame, fastFrameList } from './frame-fast-path';
import {
  CocoInstancesSchema,
  CocoResultsSchema,
  FrameListSchema,
  FrameSchema,
  PublishedFrameSchema,
  type CocoResult,
  type Frame,
} from './schema';

export const LABEL_FORMATS = ['scalabel-frame', 'scalabel-list', 'bdd-published', 'coco-instances', 'coco-results'] as const;
export type LabelFormat = (typeof LABEL_FORMATS)[number];

/**
 * A parsed document. `problems` are things inside a valid document that could not be used (e.g. an annotation on a
 * missing image); they are reported next to the file, while the rest of the document loads.
 * COCO results stay unresolved: turning image/category ids into names needs a COCO index (see coco.ts).
 */
export type ParsedLabels =
  | { format: 'scalabel-frame' | 'scalabel-list' | 'bdd-published'; frames: Frame[]; problems: string[] }
  | { format: 'coco-instances'; frames: Frame[]; index: CocoIndex; problems: string[] }
  | { format: 'coco-results'; results: CocoResult[]; problems: string[] };

/** A document that cannot be read at all. `message` names the source; `detail` is the same without it. */
export class LabelDocumentError extends Error {
  constructor(
    readonly source: string,
    readonly detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'LabelDocumentError';
  }
}

const EXPECTED =
  'expected a Scalabel frame {name, attributes?, labels}, a JSON list of frames, the BDD published variant ' +
  '{image_filename, metadata, labels}, COCO instances {images, annotations, categories} ' +
  'or COCO results [{image_id, category_id, bbox, score}]';

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Keys that, next to `name`, make an object a Scalabel frame rather than any JSON with a name (package.json...). */
const FRAME_KEYS = ['labels', 'attributes', 'videoName', 'frameIndex', 'url', 'timestamp'];

function detectElement(value: unknown): LabelFormat | undefined {
  if (!isRecord(value)) return undefined;
  if ('image_id' in value && 'category_id' in value) return 'coco-results';
  if ('image_filename' in value) return 'bdd-published';
  if ('name' in value) return 'scalabel-frame';
  return undefined;
}

/** The layout a JSON value is in, from its shape alone; undefined when it is none of ours. */
export function detectLabelFormat(value: unknown): LabelFormat | undefined {
  if (Array.isArray(value)) {
    // An empty list is both an empty frame list and empty results: either way there is nothing to load.
    if (value.length === 0) return 'scalabel-list';
    const element = detectElement(value[0]);
    return element === 'scalabel-frame' ? 'scalabel-list' : element;
  }
  if (!isRecord(value)) return undefined;
  if ('images' in value && ('annotations' in value || 'categories' in value)) return 'coco-instances';
  if ('image_filename' in value) return 'bdd-published';
  // The Scalabel dataset export wraps its list: {frames: [...], config: {...}}.
  if (Array.isArray(value.frames)) return 'scalabel-list';
  if ('name' in value && FRAME_KEYS.some((key) => key in value)) return 'scalabel-frame';
  return undefined;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `labels[3].box2d.x2`, `[0].name`, `attributes["traffic light"]`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out || '(root)';
}

const MAX_ISSUES = 5;

/** One line per zod issue (`path: message`), capped so a systematically wrong file stays readable. */
export function formatZodError(error: z.ZodError): string {
  const lines = error.issues.slice(0, MAX_ISSUES).map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`);
  const more = error.issues.length - MAX_ISSUES;
  return lines.join('; ') + (more > 0 ? `; and ${more} more issue${more > 1 ? 's' : ''}` : '');
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, source: string, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new LabelDocumentError(source, `not a valid ${what}: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

type PublishedFrame = z.output<typeof PublishedFrameSchema>;

/** The published variant renames Scalabel fields; everything else (unknown keys included) carries over. */
function frameFromPublished(published: PublishedFrame): Frame {
  const { image_filename, video_name, frame_index, metadata, labels, ...rest } = published;
  const frame: Frame = { ...rest, name: image_filename, labels };
  if (video_name !== undefined) frame.videoName = video_name;
  if (frame_index !== undefined) frame.frameIndex = frame_index;
  if (metadata !== undefined) frame.attributes = metadata;
  return frame;
}

/** Parse a JSON value already read from `source` (a file name, used in messages). Throws LabelDocumentError. */
export function parseLabelValue(value: unknown, source: string): ParsedLabels {
  return parseValue(value, source, false);
}

/**
 * `fromJson`: the value came straight out of JSON.parse (plain objects and arrays, no undefined), the only input
 * frame-fast-path.ts vouches for; anything else, and anything it declines, zod parses.
 */
function parseValue(value: unknown, source: string, fromJson: boolean): ParsedLabels {
  const format = detectLabelFormat(value);
  switch (format) {
    case 'scalabel-frame': {
      const frame = (fromJson ? fastFrame(value) : undefined) ?? parseWith(FrameSchema, value, source, 'Scalabel frame');
      return { format, frames: [frame], problems: [] };
    }
    case 'scalabel-list': {
      const list = isRecord(value) ? value.frames : value;
      const frames = (fromJson ? fastFrameList(list) : undefined) ?? parseWith(FrameListSchema, list, source, 'list of Scalabel frames');
      return { format, frames, problems: [] };
    }
    case 'bdd-published': {
      const published = Array.isArray(value)
        ? parseWith(PublishedFrameSchema.array(), value, source, 'list of BDD published frames')
        : [parseWith(PublishedFrameSchema, value, source, 'BDD published frame')];
      return { format, frames: published.map(frameFromPublished), problems: [] };
    }
    case 'coco-instances': {
      const doc = parseWith(CocoInstancesSchema, value, source, 'COCO instances document');
      return { format, ...cocoInstancesToFrames(doc) };
    }
    case 'coco-results':
      return { format, results: parseWith(CocoResultsSchema, value, source, 'COCO results list'), problems: [] };
    case undefined:
      throw new LabelDocumentError(source, `unrecognised label document: ${EXPECTED}; got ${describeValue(value)}`);
  }
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `a list whose first element is ${describeValue(value[0])}`;
  if (isRecord(value)) {
    const keys = Object.keys(value);
    if (!keys.length) return 'an empty object';
    return `an object with keys ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', ...' : ''}`;
  }
  return value === null ? 'null' : `a ${typeof value}`;
}

/** Parse JSON text from `source`. Invalid JSON throws LabelDocumentError with the line, column and offset. */
export function parseLabelText(text: string, source: string): ParsedLabels {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // editors on Windows add a BOM
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    // V8 quotes the offending text, newlines included; keep the message on one line for logs.
    const message = (error as Error).message.replace(/\r?\n/g, '\\n');
    throw new LabelDocumentError(source, `invalid JSON${locate(body)}: ${message}`);
  }
  return parseValue(value, source, true);
}

/** ` at line L, column C (offset O)`, or '' when the offset cannot be found. */
function locate(text: string): string {
  const offset = findJsonErrorOffset(text);
  if (offset === undefined) return '';
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return ` at line ${line}, column ${column} (offset ${offset})`;
}

class JsonSyntaxOffset extends Error {
  constructor(readonly offset: number) {
    super(`invalid JSON at offset ${offset}`);
  }
}

/**
 * Offset of the first character that makes `text` invalid JSON (text.length for a premature end). Node 20's
 * JSON.parse does not always say where it failed ("Unexpected token ']', ... is not valid JSON"), and a position
 * is what a person needs to fix a hand-edited label file. Only called after JSON.parse failed.
 */
export function findJsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (at: number): never => {
    throw new JsonSyntaxOffset(at);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i += 1;
  };
  const expect = (literal: string) => {
    for (const char of literal) {
      if (text[i] !== char) fail(i);
      i += 1;
    }
  };
  const digits = () => {
    const start = i;
    while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i += 1;
    if (i === start) fail(i);
  };
  const string = () => {
    i += 1; // opening quote
    for (;;) {
      if (i >= text.length) fail(i);
      const code = text.charCodeAt(i);
      if (code === 0x22) {
        i += 1;
        return;
      }
      if (code < 0x20) fail(i);
      if (code === 0x5c) {
        const escape = text[i + 1];
        if (escape === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail(i);
          i += 6;
        } else if (escape !== undefined && '"\\/bfnrt'.includes(escape)) i += 2;
        else fail(i);
      } else i += 1;
    }
  };
  const value = (): void => {
    ws();
    const char = text[i];
    if (char === '{') {
      i += 1;
      ws();
      if (text[i] === '}') {
        i += 1;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(i);
        string();
        ws();
        expect(':');
        value();
        ws();
        if (text[i] === ',') i += 1;
        else if (text[i] === '}') {
          i += 1;
          return;
        } else fail(i);
      }
    }
    if (char === '[') {
      i += 1;
      ws();
      if (text[i] === ']') {
        i += 1;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i += 1;
        else if (text[i] === ']') {
          i += 1;
          return;
        } else fail(i);
      }
    }
    if (char === '"') return string();
    if (char === 't') return expect('true');
    if (char === 'f') return expect('false');
    if (char === 'n') return expect('null');
    if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) {
      if (char === '-') i += 1;
      if (text[i] === '0') i += 1;
      else digits();
      if (text[i] === '.') {
        i += 1;
        digits();
      }
      if (text[i] === 'e' || text[i] === 'E') {
        i += 1;
        if (text[i] === '+' || text[i] === '-') i += 1;
        digits();
      }
      return;
    }
    fail(i);
  };
  try {
    value();
    ws();
    return i < text.length ? i : undefined;
  } catch (error) {
    if (error instanceof JsonSyntaxOffset) return Math.min(error.offset, text.length);
    return undefined; // e.g. nesting too deep for the stack: the parser's own message will have to do
  }
}
