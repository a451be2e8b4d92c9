/**
 * Pure conversions between Scalabel frames and COCO documents (instances = ground truth, results = predictions).
 * No file system here: readers and writers call these.
 */
import { z } from 'zod';
import { BDD_CLASSES, bddCategoryId, resolveCategory } from '../taxonomy/categories';
import { FrameSchema, type CocoInstances, type CocoResult, type Frame, type Label } from './schema';

type CocoId = number | string;

/** What COCO results need to become frames: image id -> file name and category id -> name, from an instances document. */
export interface CocoIndex {
  /** String(image id) -> file name, in COCO image-id order (Map iteration order is the evaluation order). */
  imageNames: ReadonlyMap<string, string>;
  /** File name and file name without extension -> file name, so a string image_id can name its image directly. */
  imagesByName: ReadonlyMap<string, string>;
  categoryNames: ReadonlyMap<number, string>;
}

/** Counts of what an export wrote and what it skipped; nothing is left out without being counted here. */
export interface CocoExportSummary {
  images: number;
  /** Annotations (instances) or result entries (results) written. */
  written: number;
  skippedNoBox: number;
  /** Raw category name -> count of labels outside the BDD taxonomy. */
  skippedUnknownCategory: Record<string, number>;
  /** Results only: predicted labels without a score. */
  skippedNoScore: number;
  /**
   * Results only: predictions of a class BDD does not evaluate (other person, other vehicle, trailer). COCO results
   * cannot mark a detection as an ignore region, so written as their evaluated class they would count as false
   * positives in pycocotools, where our evaluator drops them: skipped, the two then agree on the files.
   */
  skippedIgnoredClass: number;
  /** Results only: labels of frames whose name is not one of the exported images. */
  skippedUnknownImage: number;
}

/**
 * Order of COCO image ids as pycocotools' `sorted(getImgIds())`: numbers ascending, strings by code unit;
 * numbers before strings (Python cannot mix them, so any fixed rule will do).
 */
export function compareCocoIds(a: CocoId, b: CocoId): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const stemOf = (name: string) => {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? name.slice(0, name.length - (base.length - dot)) : name;
};

/** `5 (e.g. 7, 9, "x")`: enough to find the culprits without flooding the report. */
function describeIds(ids: readonly CocoId[]): string {
  const unique = [...new Set(ids.map((id) => JSON.stringify(id)))];
  const shown = unique.slice(0, 5).join(', ');
  return `${ids.length} (e.g. ${shown}${unique.length > 5 ? ', ...' : ''})`;
}

type CocoImage = CocoInstances['images'][number];

interface IndexedImages {
  index: CocoIndex;
  /** Unique images in COCO image-id order. */
  images: CocoImage[];
  problems: string[];
}

function indexImages(doc: Pick<CocoInstances, 'images' | 'categories'>): IndexedImages {
  const problems: string[] = [];
  const seen = new Set<string>();
  const duplicates: CocoId[] = [];
  const unique: CocoImage[] = [];
  for (const image of doc.images) {
    const key = String(image.id);
    if (seen.has(key)) duplicates.push(image.id);
    else {
      seen.add(key);
      unique.push(image);
    }
  }
  if (duplicates.length) problems.push(`duplicate image ids ${describeIds(duplicates)}: kept the first image of each`);
  // Array.prototype.sort is stable, so equal ids (1 and "1" cannot both survive) keep file order.
  unique.sort((a, b) => compareCocoIds(a.id, b.id));

  const imageNames = new Map<string, string>();
  const imagesByName = new Map<string, string>();
  for (const image of unique) {
    imageNames.set(String(image.id), image.file_name);
    if (!imagesByName.has(image.file_name)) imagesByName.set(image.file_name, image.file_name);
  }
  // Stems second, so a full name always wins over another image's stem.
  for (const image of unique) {
    const stem = stemOf(image.file_name);
    if (!imagesByName.has(stem)) imagesByName.set(stem, image.file_name);
  }

  const categoryNames = new Map<number, string>();
  const duplicateCategories: number[] = [];
  for (const category of doc.categories) {
    if (categoryNames.has(category.id)) duplicateCategories.push(category.id);
    else categoryNames.set(category.id, category.name);
  }
  if (duplicateCategories.length) {
    problems.push(`duplicate category ids ${describeIds(duplicateCategories)}: kept the first of each`);
  }
  return { index: { imageNames, imagesByName, categoryNames }, images: unique, problems };
}

export function buildCocoIndex(doc: Pick<CocoInstances, 'images' | 'categories'>): { index: CocoIndex; problems: string[] } {
  const { index, problems } = indexImages(doc);
  return { index, problems };
}

/** Frame-level fields our exports store on COCO images (non-standard keys pycocotools ignores), read back here. */
const ImageExtrasSchema = FrameSchema.pick({ videoName: true, frameIndex: true, attributes: true, provenance: true });

function frameFromImage(image: CocoImage, problems: string[]): Frame {
  const frame: Frame = { name: image.file_name, labels: [] };
  const extras = ImageExtrasSchema.safeParse(image);
  if (!extras.success) {
    problems.push(`image ${JSON.stringify(image.id)}: frame fields ignored: ${z.prettifyError(extras.error)}`);
    return frame;
  }
  for (const key of ['videoName', 'frameIndex', 'attributes', 'provenance'] as const) {
    if (extras.data[key] !== undefined) Object.assign(frame, { [key]: extras.data[key] });
  }
  return frame;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function boxFromBbox([x, y, w, h]: readonly [number, number, number, number]) {
  return { x1: x, y1: y, x2: x + w, y2: y + h };
}

/**
 * COCO instances -> one frame per image (images without annotations included), in COCO image-id order;
 * annotations keep file order. Annotations naming an unknown image or category are reported, not dropped silently.
 */
export function cocoInstancesToFrames(doc: CocoInstances): { frames: Frame[]; index: CocoIndex; problems: string[] } {
  const { index, images, problems } = indexImages(doc);
  const framesById = new Map<string, Frame>();
  const frames = images.map((image) => {
    const frame = frameFromImage(image, problems);
    framesById.set(String(image.id), frame);
    return frame;
  });

  const unknownImages: CocoId[] = [];
  const unknownCategories: number[] = [];
  for (const annotation of doc.annotations) {
    const frame = framesById.get(String(annotation.image_id));
    const category = index.categoryNames.get(annotation.category_id);
    if (!frame) unknownImages.push(annotation.image_id);
    if (category === undefined) unknownCategories.push(annotation.category_id);
    if (!frame || category === undefined) continue;

    const label: Label = { id: String(annotation.id), category, box2d: boxFromBbox(annotation.bbox) };
    const attributes = isRecord(annotation.attributes) ? { ...annotation.attributes } : {};
    if (annotation.iscrowd === 1 || annotation.iscrowd === true) attributes.crowd = true;
    if (Object.keys(attributes).length) label.attributes = attributes;
    if (annotation.area !== undefined) label.area = annotation.area;
    if (annotation.score !== undefined) label.score = annotation.score;
    frame.labels.push(label);
  }
  if (unknownImages.length) {
    problems.push(`annotations with an image_id missing from images: ${describeIds(unknownImages)}; not loaded`);
  }
  if (unknownCategories.length) {
    problems.push(`annotations with a category_id missing from categories: ${describeIds(unknownCategories)}; not loaded`);
  }
  return { frames, index, problems };
}

/**
 * COCO results -> frames, one per referenced image, in the index's image order; results keep file order within
 * each image. Label ids and areas follow pycocotools' loadRes (id = position + 1, area = w * h).
 * A string image_id that is not an image id is looked up as a file name, with or without extension.
 */
export function resolveCocoResults(results: readonly CocoResult[], index: CocoIndex): { frames: Frame[]; problems: string[] } {
  const position = new Map<string, number>();
  for (const name of index.imageNames.values()) if (!position.has(name)) position.set(name, position.size);

  const byName = new Map<string, Frame>();
  const unknownImages: CocoId[] = [];
  const unknownCategories: number[] = [];
  results.forEach((result, i) => {
    const name =
      index.imageNames.get(String(result.image_id)) ??
      (typeof result.image_id === 'string' ? index.imagesByName.get(result.image_id) : undefined);
    const category = index.categoryNames.get(result.category_id);
    if (name === undefined) unknownImages.push(result.image_id);
    if (category === undefined) unknownCategories.push(result.category_id);
    if (name === undefined || category === undefined) return;

    let frame = byName.get(name);
    if (!frame) byName.set(name, (frame = { name, labels: [] }));
    const [, , w, h] = result.bbox;
    frame.labels.push({
      id: String(i + 1),
      category,
      box2d: boxFromBbox(result.bbox),
      score: result.score,
      area: w * h,
    });
  });

  const problems: string[] = [];
  if (unknownImages.length) {
    problems.push(`results with an image_id that matches no image: ${describeIds(unknownImages)}; not loaded`);
  }
  if (unknownCategories.length) {
    problems.push(`results with a category_id missing from categories: ${describeIds(unknownCategories)}; not loaded`);
  }
  const frames = [...byName.values()].sort((a, b) => (position.get(a.name) ?? 0) - (position.get(b.name) ?? 0));
  return { frames, problems };
}

/** The 10 BDD classes as COCO categories, ids 1..10 in BDD_CLASSES order. */
export function bddCocoCategories(): CocoInstances['categories'] {
  return BDD_CLASSES.map((name) => ({ id: bddCategoryId(name), name }));
}

/** Image ids 1..N in the order of the frames given; duplicate names would make results ambiguous, so they throw. */
function imageIdsOf(frames: readonly Frame[]): Map<string, number> {
  const ids = new Map<string, number>();
  for (const frame of frames) {
    if (ids.has(frame.name)) throw new Error(`cannot export to COCO: frame name "${frame.name}" appears twice`);
    ids.set(frame.name, ids.size + 1);
  }
  return ids;
}

/** The index our own export produces for these frames: lets COCO results that follow it resolve without a file. */
export function cocoIndexForFrames(frames: readonly Frame[]): CocoIndex {
  const images = [...imageIdsOf(frames)].map(([file_name, id]) => ({ id, file_name }));
  return buildCocoIndex({ images, categories: bddCocoCategories() }).index;
}

const emptySummary = (images: number): CocoExportSummary => ({
  images,
  written: 0,
  skippedNoBox: 0,
  skippedUnknownCategory: {},
  skippedNoScore: 0,
  skippedIgnoredClass: 0,
  skippedUnknownImage: 0,
});

/** Taxonomy class and crowd flag of a label, or undefined (counted) when the export must skip it. */
function exportable(label: Label, summary: CocoExportSummary, options: { predicted?: boolean } = {}) {
  if (!label.box2d) {
    summary.skippedNoBox += 1;
    return undefined;
  }
  const resolution = resolveCategory(label.category, !options.predicted && label.attributes?.crowd === true);
  if (resolution.kind === 'unknown') {
    summary.skippedUnknownCategory[label.category] = (summary.skippedUnknownCategory[label.category] ?? 0) + 1;
    return undefined;
  }
  const { x1, y1, x2, y2 } = label.box2d;
  const bbox: [number, number, number, number] = [x1, y1, x2 - x1, y2 - y1];
  return { categoryId: bddCategoryId(resolution.category), crowd: resolution.kind === 'crowd', bbox };
}

function imageOf(frame: Frame, id: number): CocoImage {
  const image: CocoImage = { id, file_name: frame.name };
  for (const key of ['videoName', 'frameIndex', 'attributes', 'provenance'] as const) {
    if (frame[key] !== undefined) image[key] = frame[key];
  }
  return image;
}

/**
 * Frames -> COCO instances with the BDD categories. `annotations: false` writes images and categories only:
 * the index that makes a results file resolvable when there is no ground truth to export.
 */
export function framesToCocoInstances(
  frames: readonly Frame[],
  options: { annotations?: boolean } = {},
): { instances: CocoInstances; imageIds: Map<string, number>; summary: CocoExportSummary } {
  const imageIds = imageIdsOf(frames);
  const summary = emptySummary(frames.length);
  const images = frames.map((frame, i) => imageOf(frame, i + 1));
  const annotations: CocoInstances['annotations'] = [];
  if (options.annotations !== false) {
    frames.forEach((frame, i) => {
      for (const label of frame.labels) {
        const target = exportable(label, summary);
        if (!target) continue;
        const { crowd: _crowd, ...attributes } = label.attributes ?? {};
        const annotation: CocoInstances['annotations'][number] = {
          id: annotations.length + 1,
          image_id: i + 1,
          category_id: target.categoryId,
          bbox: target.bbox,
          area: label.area ?? target.bbox[2] * target.bbox[3],
          iscrowd: target.crowd ? 1 : 0,
        };
        if (label.score !== undefined) annotation.score = label.score;
        if (Object.keys(attributes).length) annotation.attributes = attributes;
        annotations.push(annotation);
      }
    });
  }
  summary.written = annotations.length;
  return { instances: { images, annotations, categories: bddCocoCategories() }, imageIds, summary };
}

/** Predicted frames -> COCO results against the image ids of an instances export (frame name -> image id). */
export function framesToCocoResults(
  frames: readonly Frame[],
  imageIds: ReadonlyMap<string, number>,
): { results: CocoResult[]; summary: CocoExportSummary } {
  const summary = emptySummary(imageIds.size);
  const results: CocoResult[] = [];
  for (const frame of frames) {
    const imageId = imageIds.get(frame.name);
    if (imageId === undefined) {
      summary.skippedUnknownImage += frame.labels.length;
      continue;
    }
    for (const label of frame.labels) {
      // Like evaluate(): a prediction's crowd flag means nothing, its class alone decides.
      const target = exportable(label, summary, { predicted: true });
      if (!target) continue;
      if (target.crowd) {
        summary.skippedIgnoredClass += 1;
        continue;
      }
      if (label.score === undefined) {
        summary.skippedNoScore += 1;
        continue;
      }
      results.push({ image_id: imageId, category_id: target.categoryId, bbox: target.bbox, score: label.score });
    }
  }
  summary.written = results.length;
  return { results, summary };
}
