/**
 * Thumbnails of a report's worst images, for report.html: small JPEGs as data: URIs (the page loads nothing, its
 * policy allows `img-src data:`). The boxes are not burnt in: the page draws them as SVG over the picture
 * (worst-images.ts), where they stay sharp, carry tooltips and keep their text readable on a phone.
 */
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { imageKey } from '../../core/evaluation/dataset';
import type { EvaluationReport } from '../../core/evaluation/report-schema';
import type { WorstImageThumbnail } from './worst-image-gallery';
import { WORST_IMAGES_SHOWN } from './worst-image-gallery';

export type { WorstImageThumbnail } from './worst-image-gallery';

/** Width of a thumbnail in pixels: sharp on a 2x phone screen at the gallery's card width, about 15 KB each. */
export const THUMBNAIL_WIDTH = 320;
const JPEG_QUALITY = 72;

/** The bytes of an image by its name in the report (a frame name), or undefined where it is not available. */
export type ReadImage = (name: string) => Promise<Buffer | undefined>;

/**
 * A ReadImage over image files found on disk (e.g. listImages' result): frame names are matched by file name, as
 * the evaluation matches them, so `images/a.jpg` in the labels finds `<dir>/sub/a.jpg`; nothing outside the list
 * is ever read.
 */
export function readFromFiles(images: ReadonlyArray<{ name: string; file: string }>): ReadImage {
  const files = new Map(images.map((i) => [imageKey(i.name), i.file] as const));
  return async (name) => {
    const file = files.get(imageKey(name));
    return file === undefined ? undefined : fs.readFile(file);
  };
}

export interface ThumbnailOptions {
  /** Default THUMBNAIL_WIDTH; images narrower than this keep their size. */
  width?: number;
  /** Called for an image that could not be read or decoded; the page then shows that image without a picture. */
  onSkip?: (name: string, reason: string) => void;
}

/**
 * A thumbnail for each of the report's worst images the page shows that `readImage` can give, in the report's
 * order. An image that is missing or does not decode is skipped (and told to `onSkip`), never fatal: the report
 * is still worth writing without it.
 */
export async function worstImageThumbnails(
  report: EvaluationReport,
  readImage: ReadImage,
  options: ThumbnailOptions = {},
): Promise<WorstImageThumbnail[]> {
  const width = options.width ?? THUMBNAIL_WIDTH;
  const thumbnails: WorstImageThumbnail[] = [];
  // One at a time: twenty small decodes, and the CLI may still hold worker threads busy.
  for (const { name } of report.diagnostics.worstImages.slice(0, WORST_IMAGES_SHOWN)) {
    try {
      const bytes = await readImage(name);
      if (!bytes) {
        options.onSkip?.(name, 'image not found');
        continue;
      }
      thumbnails.push(await thumbnailOf(name, bytes, width));
    } catch (error) {
      options.onSkip?.(name, (error as Error).message);
    }
  }
  return thumbnails;
}

/** One line for the images that got no thumbnail (a few named), or undefined when every one got its own. */
export function describeSkippedThumbnails(skipped: ReadonlyArray<{ name: string; reason: string }>): string | undefined {
  if (skipped.length === 0) return undefined;
  const named = skipped.slice(0, 3).map((s) => `${s.name} (${s.reason})`);
  return `no thumbnail for ${skipped.length} worst image(s): ${named.join(', ')}${skipped.length > 3 ? ', ...' : ''}`;
}

async function thumbnailOf(name: string, bytes: Buffer, width: number): Promise<WorstImageThumbnail> {
  // Oriented as intake.ts decodes for the models (EXIF rotation applied): the boxes are in those pixels.
  const oriented = sharp(bytes, { failOn: 'truncated' }).rotate();
  const { data, info } = await oriented
    .resize({ width, withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .jpeg({ quality: JPEG_QUALITY, mozjpeg: true })
    .toBuffer({ resolveWithObject: true });
  const meta = await sharp(bytes).metadata();
  // EXIF orientations 5-8 swap the sides.
  const swapped = (meta.orientation ?? 1) >= 5;
  const imageWidth = (swapped ? meta.height : meta.width) ?? info.width;
  const imageHeight = (swapped ? meta.width : meta.height) ?? info.height;
  return {
    name,
    src: `data:image/jpeg;base64,${data.toString('base64')}`,
    width: info.width,
    height: info.height,
    imageWidth,
    imageHeight,
  };
}
