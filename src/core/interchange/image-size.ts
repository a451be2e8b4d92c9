/**
 * Image sizes: every interchange format needs them (Label Studio percentages, CVAT <image width height>, YOLO
 * normalised boxes, COCO images) but Scalabel frames only carry them in provenance.image. Callers that can read image
 * headers pass a lookup; core never guesses a size.
 */
import { z } from 'zod';
import type { Frame } from '../labels/schema';
import { describeNames } from './names';

export interface ImageSize {
  width: number;
  height: number;
}

/** Size of a frame's image, or undefined when it is not known. */
export type ImageSizeOf = (frame: Frame) => ImageSize | undefined;

const PositiveSize = z.object({ width: z.number().positive(), height: z.number().positive() });
const ProvenanceImageSchema = z.looseObject({ image: z.looseObject(PositiveSize.shape) });

/** provenance.image.{width,height} as the labeling pipeline writes it (and our imports keep). */
export function provenanceImageSize(frame: Frame): ImageSize | undefined {
  const parsed = ProvenanceImageSchema.safeParse(frame.provenance);
  return parsed.success ? { width: parsed.data.image.width, height: parsed.data.image.height } : undefined;
}

/** Thrown when frames cannot be exported because their image size is unknown; `frames` names them all. */
export class MissingImageSizeError extends Error {
  constructor(
    readonly frames: readonly string[],
    hint = 'give the images folder (--images) so their headers can be read',
  ) {
    super(`no image size for ${frames.length} frame(s): ${describeNames(frames)}; the frames carry no provenance.image size: ${hint}`);
    this.name = 'MissingImageSizeError';
  }
}

/** The caller's lookup first (it may know better, e.g. a header just read), then provenance. */
export function imageSizeOf(frame: Frame, sizeOf?: ImageSizeOf): ImageSize | undefined {
  return sizeOf?.(frame) ?? provenanceImageSize(frame);
}

export function requireImageSize(frame: Frame, sizeOf?: ImageSizeOf): ImageSize {
  const size = imageSizeOf(frame, sizeOf);
  if (!size) throw new MissingImageSizeError([frame.name]);
  return size;
}

/** Names of the frames whose size is unknown: check a whole batch before writing any of it. */
export function framesWithoutSize(frames: Iterable<Frame>, sizeOf?: ImageSizeOf): string[] {
  const missing: string[] = [];
  for (const frame of frames) if (!imageSizeOf(frame, sizeOf)) missing.push(frame.name);
  return missing;
}
