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
 * The model input for one view: crop and resize the decoded RGB pixels with sharp (raw in, raw out: the JPEG is not
 * decoded again), then pack into float32 NCHW BGR 0..255 with the 114 padding of the letterbox.
 */
export async function letterboxInput(
  image: RgbImage,
  view: ViewRect,
  inputSize: number,
  kernel: ResizeKernel = 'linear',
): Promise<{ data: Float32Array; geometry: LetterboxGeometry }> {
  const geometry = letterboxGeometry(view.width, view.height, inputSize);
  const { resizedWidth: rw, resizedHeight: rh } = geometry;
  let pipeline = sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (view.x !== 0 || view.y !== 0 || view.width !== image.width || view.height !== image.height) {
    pipeline = pipeline.extract({ left: view.x, top: view.y, width: view.width, height: view.height });
  }
  if (rw !== view.width || rh !== view.height) pipeline = pipeline.resize(rw, rh, { fit: 'fill', kernel });
  const { data: pixels, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== rw || info.height !== rh || info.channels !== 3) {
    throw new Error(`resize gave ${info.width}x${info.height}x${info.channels}, expected ${rw}x${rh}x3`);
  }
  return { data: packBgrPlanes(pixels, rw, rh, inputSize), geometry };
}

/** RGB interleaved (w x h) to planar B, G, R float32 in the top-left of a size x size input padded with 114. */
export function packBgrPlanes(rgb: Uint8Array, width: number, height: number, inputSize: number): Float32Array {
  const plane = inputSize * inputSize;
  const data = new Float32Array(3 * plane);
  const b = data.subarray(0, plane);
  const g = data.subarray(plane, 2 * plane);
  const r = data.subarray(2 * plane);
  for (let y = 0; y < height; y++) {
    let p = y * width * 3;
    const row = y * inputSize;
    const end = row + width;
    for (let q = row; q < end; q++, p += 3) {
      r[q] = rgb[p]!;
      g[q] = rgb[p + 1]!;
      b[q] = rgb[p + 2]!;
    }
    if (width < inputSize) for (const channel of [b, g, r]) channel.fill(PAD_VALUE, end, row + inputSize);
  }
  if (height < inputSize) for (const channel of [b, g, r]) channel.fill(PAD_VALUE, height * inputSize);
  return data;
}
