import sharp from 'sharp';
import type { Box2d } from '../../core/labels/schema';
import { InvalidImageError } from '../../core/pipeline/errors';
import type { ImageInput } from '../../core/pipeline/types';

/** What a service accepts. */
export interface FitLimits {
  /** Encoded size, inclusive. */
  maxBytes: number;
  /** Longest side in pixels, inclusive. */
  maxSide?: number;
  maxPixels?: number;
  /** A downscale that would make a side shorter than this fails instead (the service would refuse it). */
  minSide?: number;
  /** JPEG quality when re-encoding (default 90). */
  quality?: number;
}

/** The bytes to send and how their pixels relate to the original's. */
export interface FittedImage {
  bytes: Uint8Array;
  contentType: 'image/jpeg' | 'image/png';
  width: number;
  height: number;
  /** Sent pixels per original pixel on each axis (1 when the image is sent as it is). */
  scaleX: number;
  scaleY: number;
  /** False when the original bytes are sent unchanged. */
  reencoded: boolean;
}

const MAX_ATTEMPTS = 8;

/**
 * The image as a service that takes at most `limits` should receive it: the original bytes when they fit (and
 * carry no EXIF rotation, so the service sees the pixels our boxes refer to), else a JPEG re-encoded from the
 * decoded, oriented RGB, scaled down until it is within every limit. Boxes the service returns in the sent
 * image's pixels go back through `toOriginalPixels`.
 */
export async function fitImage(image: ImageInput, limits: FitLimits): Promise<FittedImage> {
  const { width, height } = image;
  const fitsGeometry = (w: number, h: number) =>
    (limits.maxSide === undefined || Math.max(w, h) <= limits.maxSide) && (limits.maxPixels === undefined || w * h <= limits.maxPixels);
  if (image.bytes.length <= limits.maxBytes && fitsGeometry(width, height) && !(await hasExifRotation(image.bytes))) {
    return {
      bytes: image.bytes,
      contentType: image.format === 'png' ? 'image/png' : 'image/jpeg',
      width,
      height,
      scaleX: 1,
      scaleY: 1,
      reencoded: false,
    };
  }

  let factor = Math.min(
    1,
    limits.maxSide === undefined ? 1 : limits.maxSide / Math.max(width, height),
    limits.maxPixels === undefined ? 1 : Math.sqrt(limits.maxPixels / (width * height)),
  );
  let lastSize = 0;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const w = Math.max(1, Math.floor(width * factor + 1e-9));
    const h = Math.max(1, Math.floor(height * factor + 1e-9));
    if (limits.minSide !== undefined && Math.min(w, h) < limits.minSide) break;
    let pipeline = sharp(image.rgb, { raw: { width, height, channels: 3 } });
    if (w !== width || h !== height) pipeline = pipeline.resize(w, h, { fit: 'fill' });
    const bytes = await pipeline.jpeg({ quality: limits.quality ?? 90 }).toBuffer();
    lastSize = bytes.length;
    if (bytes.length <= limits.maxBytes && fitsGeometry(w, h)) {
      return {
        bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        contentType: 'image/jpeg',
        width: w,
        height: h,
        scaleX: w / width,
        scaleY: h / height,
        reencoded: true,
      };
    }
    // JPEG size is roughly proportional to the pixel count: aim a little under the limit.
    factor *= Math.min(0.9, Math.sqrt(limits.maxBytes / bytes.length) * 0.95);
  }
  throw new InvalidImageError(
    `${image.name}: cannot fit ${width}x${height} (${image.bytes.length} bytes) within ${limits.maxBytes} bytes` +
      (limits.minSide === undefined ? '' : ` keeping ${limits.minSide} px on a side`) +
      (lastSize ? ` (last try: ${lastSize} bytes)` : ''),
  );
}

/** A box in the sent image's pixels, in the original's, clamped to the original frame. */
export function toOriginalPixels(
  box: { x1: number; y1: number; x2: number; y2: number },
  fitted: Pick<FittedImage, 'scaleX' | 'scaleY'>,
  original: { width: number; height: number },
): Box2d {
  const clampX = (v: number) => Math.min(original.width, Math.max(0, v / fitted.scaleX));
  const clampY = (v: number) => Math.min(original.height, Math.max(0, v / fitted.scaleY));
  const [x1, x2] = [clampX(box.x1), clampX(box.x2)].sort((a, b) => a - b) as [number, number];
  const [y1, y2] = [clampY(box.y1), clampY(box.y2)].sort((a, b) => a - b) as [number, number];
  return { x1, y1, x2, y2 };
}

async function hasExifRotation(bytes: Uint8Array): Promise<boolean> {
  try {
    const { orientation } = await sharp(bytes, { limitInputPixels: false }).metadata();
    return orientation !== undefined && orientation !== 1;
  } catch {
    return false;
  }
}
