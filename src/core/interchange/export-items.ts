/**
 * What every export writes from a frame, decided once: the boxes (taxonomy class, pixels, score) and the scene
 * attributes (closed vocabularies). Whatever a format cannot carry is counted in the summary, never dropped silently.
 */
import type { Box2d, Frame } from '../labels/schema';
import { ATTRIBUTE_NAMES, normalizeAttribute, type AttributeName } from '../taxonomy/attributes';
import { resolveCategory, type BddClass } from '../taxonomy/categories';

export interface ExportSummary {
  frames: number;
  boxes: number;
  attributes: number;
  /** Labels without box2d (lanes, drivable areas). */
  skippedNoBox: number;
  /** Crowd regions (`other vehicle`, attributes.crowd): the tools' label sets have no ignore class. */
  skippedCrowd: number;
  /** Raw category -> count of labels outside the BDD taxonomy. */
  skippedUnknownCategory: Record<string, number>;
  /** `weather=sunny-ish` -> count: attribute values outside the closed vocabularies. */
  skippedAttributeValues: Record<string, number>;
  /** YOLO only: boxes reaching outside the image, clipped to it (YOLO coordinates must lie in 0..1). */
  clippedBoxes: number;
  /** YOLO only: boxes with no area left inside the image. */
  skippedOutsideImage: number;
}

export function emptyExportSummary(): ExportSummary {
  return {
    frames: 0,
    boxes: 0,
    attributes: 0,
    skippedNoBox: 0,
    skippedCrowd: 0,
    skippedUnknownCategory: {},
    skippedAttributeValues: {},
    clippedBoxes: 0,
    skippedOutsideImage: 0,
  };
}

export interface ExportBox {
  /** The Scalabel label id, unique within the frame (suffixed when the frame repeats one). */
  id: string;
  category: BddClass;
  box: Box2d;
  score?: number;
  occluded: boolean;
}

export interface ExportAttribute {
  name: AttributeName;
  value: string;
}

const increment = (counts: Record<string, number>, key: string) => void (counts[key] = (counts[key] ?? 0) + 1);

/** Boxes of a frame that a labeling tool can show, in label order; the rest counted in `summary`. */
export function exportBoxes(frame: Frame, summary: ExportSummary = emptyExportSummary()): ExportBox[] {
  const boxes: ExportBox[] = [];
  const ids = new Set<string>();
  for (const label of frame.labels) {
    if (!label.box2d) {
      summary.skippedNoBox += 1;
      continue;
    }
    const resolution = resolveCategory(label.category, label.attributes?.crowd === true);
    if (resolution.kind === 'unknown') {
      increment(summary.skippedUnknownCategory, label.category);
      continue;
    }
    if (resolution.kind === 'crowd') {
      summary.skippedCrowd += 1;
      continue;
    }
    // Result ids must be unique within a task / image, and label ids usually are; suffix the rare repeat.
    let id = label.id;
    for (let n = 2; ids.has(id); n++) id = `${label.id}-${n}`;
    ids.add(id);
    const item: ExportBox = { id, category: resolution.category, box: label.box2d, occluded: label.attributes?.occluded === true };
    if (label.score !== undefined) item.score = label.score;
    boxes.push(item);
  }
  summary.boxes += boxes.length;
  return boxes;
}

/** The frame's scene attributes on the BDD vocabularies (synonyms mapped), in ATTRIBUTE_NAMES order; absent ones left out. */
export function exportAttributes(frame: Frame, summary: ExportSummary = emptyExportSummary()): ExportAttribute[] {
  const attributes: ExportAttribute[] = [];
  for (const name of ATTRIBUTE_NAMES) {
    const raw = frame.attributes?.[name];
    if (raw === undefined) continue;
    const normalized = normalizeAttribute(name, raw);
    if (normalized.unrecognized) {
      increment(summary.skippedAttributeValues, `${name}=${String(raw)}`);
      continue;
    }
    attributes.push({ name, value: normalized.value });
  }
  summary.attributes += attributes.length;
  return attributes;
}

/** One line per non-zero count, for a CLI or a log: `skipped 2 crowd regions`. */
export function describeExportSummary(summary: ExportSummary): string[] {
  const lines: string[] = [];
  const listed = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([key, n]) => `${key} (${n})`)
      .join(', ');
  if (summary.skippedNoBox) lines.push(`skipped ${summary.skippedNoBox} label(s) without box2d`);
  if (summary.skippedCrowd) lines.push(`skipped ${summary.skippedCrowd} crowd region(s)`);
  if (Object.keys(summary.skippedUnknownCategory).length) {
    lines.push(`skipped labels outside the BDD classes: ${listed(summary.skippedUnknownCategory)}`);
  }
  if (Object.keys(summary.skippedAttributeValues).length) {
    lines.push(`skipped attribute values outside the BDD vocabularies: ${listed(summary.skippedAttributeValues)}`);
  }
  if (summary.clippedBoxes) lines.push(`clipped ${summary.clippedBoxes} box(es) to the image`);
  if (summary.skippedOutsideImage) lines.push(`skipped ${summary.skippedOutsideImage} box(es) outside the image`);
  return lines;
}
