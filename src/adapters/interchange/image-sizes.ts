/**
 * Image sizes for exports: provenance.image when the frame has it, else the header of the image in an images folder
 * (sharp reads the header only, as in ../image/intake.ts). Frames with neither are named in one error, before any
 * output is written.
 */
import path from 'node:path';
import sharp from 'sharp';
import type { Frame } from '../../core/labels/schema';
import { MissingImageSizeError, provenanceImageSize, type ImageSize, type ImageSizeOf } from '../../core/interchange/image-size';
import { forEachConcurrently } from '../concurrency/limits';

const HEADER_CONCURRENCY = 8;

/** Width and height as the pipeline sees the image: EXIF orientations 5-8 (quarter turns) swap them (intake rotates). */
export async function readImageSize(file: string): Promise<ImageSize> {
  const { width, height, orientation } = await sharp(file).metadata();
  if (!width || !height) throw new Error(`${file}: no width/height in the image header`);
  return orientation !== undefined && orientation >= 5 ? { width: height, height: width } : { width, height };
}

/**
 * A size lookup covering every frame: provenance first, headers from `imagesDir/<frame name>` for the rest.
 * Throws MissingImageSizeError naming every frame whose size cannot be found.
 */
export async function resolveImageSizes(frames: readonly Frame[], imagesDir?: string): Promise<ImageSizeOf> {
  const fromHeaders = new Map<string, ImageSize>();
  const needed = frames.filter((frame) => !provenanceImageSize(frame));
  if (needed.length && imagesDir === undefined) throw new MissingImageSizeError(needed.map((f) => f.name));

  const unreadable: string[] = [];
  await forEachConcurrently(needed, HEADER_CONCURRENCY, async (frame) => {
    try {
      fromHeaders.set(frame.name, await readImageSize(path.join(imagesDir!, frame.name)));
    } catch {
      unreadable.push(frame.name);
    }
  });
  if (unreadable.length) {
    throw new MissingImageSizeError(unreadable.sort(), `no readable image of that name in ${imagesDir} either`);
  }
  return (frame) => fromHeaders.get(frame.name) ?? provenanceImageSize(frame);
}
