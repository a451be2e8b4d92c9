/**
 * FrameSchema's parse, written out by hand for the values it accepts. A folder of per-image files holds hundreds of
 * thousands of labels, and zod's generic parse of each one costs about as much as JSON.parse of the whole text
 * (plus the garbage it leaves); this walk costs a fifth of that.
 *
 * The contract, checked against zod itself by test/labels-fast-path.test.ts: `fastFrame(v)` is either undefined or
 * exactly `FrameSchema.parse(v)` — same values, same key order (declared keys in schema order, then the unknown ones in
 * input order), box2d rebuilt with its four coordinates only. Undefined means "let zod decide": anything invalid, and
 * the rare valid shapes not worth mirroring (a `__proto__` key), go through zod, which gives the result or the error
 * message with its path. So this file may only ever be stricter than schema.ts: keep the two in step.
 */
import type { Frame, Label } from './schema';

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
/** zod copies a record without an own `__proto__` key (assigning one would set the prototype): leave those to it. */
const plainRecord = (value: unknown): value is Json => isRecord(value) && !Object.hasOwn(value, '__proto__');
// z.number() refuses NaN and the infinities; .int() means a safe integer.
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const optionalString = (value: unknown) => value === undefined || typeof value === 'string';
const optionalNumber = (value: unknown) => value === undefined || isNumber(value);

const FRAME_KEYS = new Set(['name', 'videoName', 'frameIndex', 'attributes', 'labels', 'provenance']);
const LABEL_KEYS = new Set(['id', 'category', 'box2d', 'score', 'attributes', 'area']);
const ATTRIBUTE_KEYS = new Set(['weather', 'timeofday', 'scene']);
const PROVENANCE_KEYS = new Set(['schemaVersion', 'createdAt', 'configHash']);

/** A loose object's keys after its declared ones, in input order (zod's catchall walks `for...in` the same way). */
function copyUnknown(from: Json, to: Json, declared: ReadonlySet<string>): void {
  for (const key in from) if (!declared.has(key)) to[key] = from[key];
}

/** Sets `key` only when present: zod leaves absent optional keys out rather than writing undefined. */
function copyPresent(from: Json, to: Json, key: string): void {
  if (from[key] !== undefined) to[key] = from[key];
}

function fastLabel(value: unknown): Label | undefined {
  if (!plainRecord(value)) return undefined;
  const { id, category, box2d, score, attributes, area } = value;
  if (typeof id !== 'string' && !isNumber(id)) return undefined;
  if (typeof category !== 'string' || category.length === 0) return undefined;
  if (!optionalNumber(score) || !optionalNumber(area)) return undefined;
  if (attributes !== undefined && !plainRecord(attributes)) return undefined;
  const label: Json = { id: String(id), category };
  if (box2d !== undefined) {
    if (!isRecord(box2d)) return undefined;
    const { x1, y1, x2, y2 } = box2d;
    if (!isNumber(x1) || !isNumber(y1) || !isNumber(x2) || !isNumber(y2) || x2 < x1 || y2 < y1) return undefined;
    label.box2d = { x1, y1, x2, y2 };
  }
  copyPresent(value, label, 'score');
  copyPresent(value, label, 'attributes');
  copyPresent(value, label, 'area');
  copyUnknown(value, label, LABEL_KEYS);
  return label as Label;
}

function fastAttributes(value: unknown): Json | undefined {
  if (!plainRecord(value)) return undefined;
  if (!optionalString(value.weather) || !optionalString(value.timeofday) || !optionalString(value.scene)) return undefined;
  const attributes: Json = {};
  for (const key of ATTRIBUTE_KEYS) copyPresent(value, attributes, key);
  copyUnknown(value, attributes, ATTRIBUTE_KEYS);
  return attributes;
}

function fastProvenance(value: unknown): Json | undefined {
  if (!plainRecord(value)) return undefined;
  const { schemaVersion } = value;
  if (!Number.isSafeInteger(schemaVersion) || (schemaVersion as number) <= 0) return undefined;
  if (!optionalString(value.createdAt) || !optionalString(value.configHash)) return undefined;
  const provenance: Json = { schemaVersion };
  copyPresent(value, provenance, 'createdAt');
  copyPresent(value, provenance, 'configHash');
  copyUnknown(value, provenance, PROVENANCE_KEYS);
  return provenance;
}

/** `FrameSchema.parse(value)` when this walk can vouch for it, else undefined (then ask zod). */
export function fastFrame(value: unknown): Frame | undefined {
  if (!plainRecord(value)) return undefined;
  const { name, videoName, frameIndex, attributes, labels, provenance } = value;
  if (typeof name !== 'string' || name.length === 0 || !optionalString(videoName)) return undefined;
  if (frameIndex !== undefined && !Number.isSafeInteger(frameIndex)) return undefined;
  const frame: Json = { name };
  copyPresent(value, frame, 'videoName');
  copyPresent(value, frame, 'frameIndex');
  if (attributes !== undefined) {
    const parsed = fastAttributes(attributes);
    if (!parsed) return undefined;
    frame.attributes = parsed;
  }
  const parsedLabels: Label[] = [];
  if (labels !== undefined && labels !== null) {
    if (!Array.isArray(labels)) return undefined;
    for (const item of labels) {
      const label = fastLabel(item);
      if (!label) return undefined;
      parsedLabels.push(label);
    }
  }
  frame.labels = parsedLabels;
  if (provenance !== undefined) {
    const parsed = fastProvenance(provenance);
    if (!parsed) return undefined;
    frame.provenance = parsed;
  }
  copyUnknown(value, frame, FRAME_KEYS);
  return frame as Frame;
}

/** `FrameListSchema.parse(list)` when every frame passes fastFrame, else undefined. */
export function fastFrameList(list: unknown): Frame[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const frames: Frame[] = [];
  for (const item of list) {
    const frame = fastFrame(item);
    if (!frame) return undefined;
    frames.push(frame);
  }
  return frames;
}
