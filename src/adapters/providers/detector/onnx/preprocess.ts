import sharp from 'sharp';
import type { ScoredBox } from './nms';

/** A region of the original image, in whole pixels, that one model run sees. */
export interface ViewRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LetterboxGeometry {
  /** r = min(size / h, size / w), the README's ratio. */
  ratio: number;
  /** The view resized to (round(w * r), round(h * r)), placed top-left in the square input; the rest is 114. */
  resizedWidth: number;
  resizedHeight: number;
  /** Input pixels per original pixel along each axis (r up to rounding of the resized size). */
  scaleX: number;
  scaleY: number;
}

export const PAD_VALUE = 114;

export function letterboxGeometry(width: number, height: number, inputSize: number): LetterboxGeometry {
  const ratio = Math.min(inputSize / height, inputSize / width);
  const resizedWidth = Math.min(inputSize, Math.max(1, Math.round(width * ratio)));
  const resizedHeight = Math.min(inputSize, Math.max(1, Math.round(height * ratio)));
  return { ratio, resizedWidth, resizedHeight, scaleX: resizedWidth / width, scaleY: resizedHeight / height };
}

/**
 * A box in input pixels back to the original image: undo the letterbox scale, add the view's offset, clip to the
 * view (the model may reach into the padding) and so to the image. Undefined when nothing is left.
 */
export function mapToImage<T extends ScoredBox>(box: T, view: ViewRect, geometry: LetterboxGeometry): T | undefined {
  const x1 = clamp(view.x + box.x1 / geometry.scaleX, view.x, view.x + view.width);
  const x2 = clamp(view.x + box.x2 / geometry.scaleX, view.x, view.x + view.width);
  const y1 = clamp(view.y + box.y1 / geometry.scaleY, view.y, view.y + view.height);
  const y2 = clamp(view.y + box.y2 / geometry.scaleY, view.y, view.y + view.height);
  if (!(x2 > x1 && y2 > y1)) return undefined;
  return { ...box, x1, y1, x2, y2 };
}

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

export type ResizeKernel = 'linear' | 'cubic' | 'lanczos3' | 'nearest';

/**
 * The model input for one view, float32 NCHW BGR 0..255 with the 114 padding of the letterbox. A view seen at its own
 * size (the native-scale tiles) is cropped and packed straight from the decoded pixels; one that needs resizing goes
 * through one sharp pipeline (raw in, raw out: the JPEG is not decoded again), crop and resize together.
 */
export async function letterboxInput(
  image: RgbImage,
  view: ViewRect,
  inputSize: number,
  kernel: ResizeKernel = 'linear',
  into?: Float32Array,
): Promise<{ data: Float32Array; geometry: LetterboxGeometry }> {
  const geometry = letterboxGeometry(view.width, view.height, inputSize);
  const { resizedWidth: rw, resizedHeight: rh } = geometry;
  if (rw === view.width && rh === view.height) {
    return { data: packBgrRegion(image.rgb, image.width, view.x, view.y, rw, rh, inputSize, into), geometry };
  }
  let pipeline = sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (view.x !== 0 || view.y !== 0 || view.width !== image.width || view.height !== image.height) {
    pipeline = pipeline.extract({ left: view.x, top: view.y, width: view.width, height: view.height });
  }
  pipeline = pipeline.resize(rw, rh, { fit: 'fill', kernel });
  const { data: pixels, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== rw || info.height !== rh || info.channels !== 3) {
    throw new Error(`resize gave ${info.width}x${info.height}x${info.channels}, expected ${rw}x${rh}x3`);
  }
  return { data: packBgrRegion(pixels, rw, 0, 0, rw, rh, inputSize, into), geometry };
}

/** RGB interleaved (w x h) to planar B, G, R float32 in the top-left of a size x size input padded with 114. */
export function packBgrPlanes(rgb: Uint8Array, width: number, height: number, inputSize: number): Float32Array {
  return packBgrRegion(rgb, width, 0, 0, width, height, inputSize);
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * The w x h region at (x, y) of an interleaved RGB image `stride` pixels wide, as planar B, G, R float32 in the
 * top-left of a size x size input; the rest is 114. `into` (3 * size * size floats) is reused if given: every value
 * is written.
 *
 * Four pixels (three aligned 32-bit words) at a time where the bytes allow: this loop runs for 2.5 M floats per
 * image, and whole-word reads take about a third off the time of one byte read per value.
 */
export function packBgrRegion(
  rgb: Uint8Array,
  stride: number,
  x: number,
  y: number,
  width: number,
  height: number,
  inputSize: number,
  into?: Float32Array,
): Float32Array {
  if (width > inputSize || height > inputSize || x < 0 || y < 0 || x + width > stride || (y + height) * stride * 3 > rgb.length) {
    throw new Error(`cannot pack a ${width}x${height} region at ${x},${y} of a ${stride}-px-wide image into ${inputSize}x${inputSize}`);
  }
  const plane = inputSize * inputSize;
  if (into && into.length !== 3 * plane) throw new Error(`an input buffer of ${into.length} floats, expected ${3 * plane}`);
  const data = into ?? new Float32Array(3 * plane);
  const b = data.subarray(0, plane);
  const g = data.subarray(plane, 2 * plane);
  const r = data.subarray(2 * plane);
  // Words of the whole underlying buffer: word w holds bytes 4w..4w+3 of it (rgb may start at any byte offset).
  const words = LITTLE_ENDIAN ? new Uint32Array(rgb.buffer, 0, rgb.buffer.byteLength >> 2) : undefined;
  for (let row = 0; row < height; row++) {
    let p = ((y + row) * stride + x) * 3;
    let q = row * inputSize;
    const end = q + width;
    // Byte by byte up to a word boundary (p advances by 3, so within 3 pixels), then 4 pixels per 3 words.
    for (; q < end && (words === undefined || ((rgb.byteOffset + p) & 3) !== 0); q++, p += 3) {
      r[q] = rgb[p] as number;
      g[q] = rgb[p + 1] as number;
      b[q] = rgb[p + 2] as number;
    }
    if (words) {
      let w = (rgb.byteOffset + p) >> 2;
      for (; q + 4 <= end; q += 4, w += 3, p += 12) {
        const w0 = words[w] as number;
        const w1 = words[w + 1] as number;
        const w2 = words[w + 2] as number;
        r[q] = w0 & 255;
        g[q] = (w0 >>> 8) & 255;
        b[q] = (w0 >>> 16) & 255;
        r[q + 1] = w0 >>> 24;
        g[q + 1] = w1 & 255;
        b[q + 1] = (w1 >>> 8) & 255;
        r[q + 2] = (w1 >>> 16) & 255;
        g[q + 2] = w1 >>> 24;
        b[q + 2] = w2 & 255;
        r[q + 3] = (w2 >>> 8) & 255;
        g[q + 3] = (w2 >>> 16) & 255;
        b[q + 3] = w2 >>> 24;
      }
    }
    for (; q < end; q++, p += 3) {
      r[q] = rgb[p] as number;
      g[q] = rgb[p + 1] as number;
      b[q] = rgb[p + 2] as number;
    }
  }
  if (width < inputSize || height < inputSize) {
    for (const channel of [b, g, r]) {
      if (width < inputSize) for (let row = 0; row < height; row++) channel.fill(PAD_VALUE, row * inputSize + width, (row + 1) * inputSize);
      channel.fill(PAD_VALUE, height * inputSize, plane);
    }
  }
  return data;
}
