/**
 * COCO for labeling tools: the instances/results conversion of ../labels/coco.ts, plus the image width/height that
 * tools importing COCO (CVAT, Label Studio's converter) require and our evaluation exports leave out.
 */
import { framesToCocoInstances, framesToCocoResults, type CocoExportSummary } from '../labels/coco';
import type { CocoInstances, CocoResult, Frame } from '../labels/schema';
import { imageSizeOf, MissingImageSizeError, type ImageSizeOf } from './image-size';

export interface CocoInterchange {
  /** Every box as an annotation (scores kept as an extra `score` key), images with width and height. */
  instances: CocoInstances;
  instancesSummary: CocoExportSummary;
  /** Detector-style results against the instances' image ids, when any label has a score. */
  results?: CocoResult[];
  resultsSummary?: CocoExportSummary;
}

/** Frames -> COCO instances (+ results); throws MissingImageSizeError naming every frame without a size. */
export function framesToCocoInterchange(frames: readonly Frame[], options: { sizeOf?: ImageSizeOf } = {}): CocoInterchange {
  const missing: string[] = [];
  const sizes = frames.map((frame) => {
    const size = imageSizeOf(frame, options.sizeOf);
    if (!size) missing.push(frame.name);
    return size;
  });
  if (missing.length) throw new MissingImageSizeError(missing);

  const { instances, imageIds, summary } = framesToCocoInstances(frames);
  // framesToCocoInstances writes images in frame order, so position i is frame i.
  instances.images = instances.images.map((image, i) => ({ ...image, width: sizes[i]!.width, height: sizes[i]!.height }));
  const exported: CocoInterchange = { instances, instancesSummary: summary };
  if (frames.some((frame) => frame.labels.some((label) => label.score !== undefined))) {
    const results = framesToCocoResults(frames, imageIds);
    exported.results = results.results;
    exported.resultsSummary = results.summary;
  }
  return exported;
}
