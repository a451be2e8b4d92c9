/**
 * The reduced copy of a frame the image statistics are measured on. They read a 160x90 area average, so a
 * full-resolution frame holds 64 times the pixels they need: averaging 2x2 blocks first, as often as the result still
 * covers 160x90 (1280x720: three times, down to 160x90 itself), in reused memory, costs about one read of the frame
 * instead of the general area resize's weighted taps over all of it.
 */
import type { ImageInput } from '../../../../core/pipeline/types';

export type RgbFrame = Pick<ImageInput, 'rgb' | 'width' | 'height'>;

/** Scratch memory of this thread, reused from image to image (a fresh multi-MB array per image costs page faults). */
const scratch = [new Uint8Array(0), new Uint8Array(0)];

/**
 * The frame halved (2x2 block means, rounded; an odd last row or column dropped) as often as both sides stay at
 * least minWidth x minHeight; the frame itself when it is already that small. The result lives in this thread's
 * scratch memory: valid until the next call.
 */
export function thumbnailAtLeast(image: RgbFrame, minWidth: number, minHeight: number): RgbFrame {
  let current = image;
  for (let level = 0; current.width >> 1 >= minWidth && current.height >> 1 >= minHeight; level++) {
    const width = current.width >> 1;
    const height = current.height >> 1;
    const slot = level % 2;
    if (scratch[slot]!.length < width * height * 3) scratch[slot] = new Uint8Array(width * height * 3);
    current = { rgb: halveRgb(current.rgb, current.width, current.height, scratch[slot]!), width, height };
  }
  return current;
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Mean of each 2x2 block of an interleaved RGB image, rounded half up, written into `out` (a new array if not given)
 * and returned trimmed to (width >> 1) x (height >> 1) pixels.
 */
export function halveRgb(rgb: Uint8Array, width: number, height: number, out?: Uint8Array): Uint8Array {
  if (rgb.length !== width * height * 3)
    throw new Error(`rgb has ${rgb.length} bytes, expected ${width * height * 3} for ${width}x${height}`);
  const w = width >> 1;
  const h = height >> 1;
  const result = (out ?? new Uint8Array(w * h * 3)).subarray(0, w * h * 3);
  if (result.length !== w * h * 3) throw new Error(`an output of ${result.length} bytes, expected ${w * h * 3}`);
  const rowBytes = width * 3;
  // Whole 32-bit words where both rows start on a word boundary (always for the even widths of camera frames): four
  // pixels of each row in three loads instead of twelve, about half the time of one load per byte.
  const words =
    LITTLE_ENDIAN && (rgb.byteOffset & 3) === 0 && (rowBytes & 3) === 0
      ? new Uint32Array(rgb.buffer, rgb.byteOffset, rgb.length >> 2)
      : undefined;
  let q = 0;
  for (let y = 0; y < h; y++) {
    let a = 2 * y * rowBytes;
    let b = a + rowBytes;
    let x = 0;
    if (words) {
      for (let wa = a >> 2, wb = b >> 2; x + 2 <= w; x += 2, wa += 3, wb += 3, a += 12, b += 12) {
        // Row words: a0 = R0 G0 B0 R1, a1 = G1 B1 R2 G2, a2 = B2 R3 G3 B3 (lowest byte first); likewise b0..b2.
        const a0 = words[wa] as number;
        const a1 = words[wa + 1] as number;
        const a2 = words[wa + 2] as number;
        const b0 = words[wb] as number;
        const b1 = words[wb + 1] as number;
        const b2 = words[wb + 2] as number;
        result[q++] = ((a0 & 255) + (a0 >>> 24) + (b0 & 255) + (b0 >>> 24) + 2) >> 2;
        result[q++] = (((a0 >>> 8) & 255) + (a1 & 255) + ((b0 >>> 8) & 255) + (b1 & 255) + 2) >> 2;
        result[q++] = (((a0 >>> 16) & 255) + ((a1 >>> 8) & 255) + ((b0 >>> 16) & 255) + ((b1 >>> 8) & 255) + 2) >> 2;
        result[q++] = (((a1 >>> 16) & 255) + ((a2 >>> 8) & 255) + ((b1 >>> 16) & 255) + ((b2 >>> 8) & 255) + 2) >> 2;
        result[q++] = ((a1 >>> 24) + ((a2 >>> 16) & 255) + (b1 >>> 24) + ((b2 >>> 16) & 255) + 2) >> 2;
        result[q++] = ((a2 & 255) + (a2 >>> 24) + (b2 & 255) + (b2 >>> 24) + 2) >> 2;
      }
    }
    for (; x < w; x++, a += 6, b += 6) {
      result[q++] = ((rgb[a] as number) + (rgb[a + 3] as number) + (rgb[b] as number) + (rgb[b + 3] as number) + 2) >> 2;
      result[q++] = ((rgb[a + 1] as number) + (rgb[a + 4] as number) + (rgb[b + 1] as number) + (rgb[b + 4] as number) + 2) >> 2;
      result[q++] = ((rgb[a + 2] as number) + (rgb[a + 5] as number) + (rgb[b + 2] as number) + (rgb[b + 5] as number) + 2) >> 2;
    }
  }
  return result;
}
