import { createHash } from 'node:crypto';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { InvalidImageError } from '../../core/pipeline/errors';
import type { ImageInput, ImageLimits } from '../../core/pipeline/types';

export type { ImageLimits };

const SIGNATURES: { format: string; bytes: number[]; offset?: number }[] = [
  { format: 'jpeg', bytes: [0xff, 0xd8, 0xff] },
  { format: 'png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { format: 'gif', bytes: [0x47, 0x49, 0x46, 0x38] },
  { format: 'webp', bytes: [0x57, 0x45, 0x42, 0x50], offset: 8 },
  { format: 'bmp', bytes: [0x42, 0x4d] },
  { format: 'tiff', bytes: [0x49, 0x49, 0x2a, 0x00] },
  { format: 'tiff', bytes: [0x4d, 0x4d, 0x00, 0x2a] },
  { format: 'heic/avif', bytes: [0x66, 0x74, 0x79, 0x70], offset: 4 },
];

/** The format the bytes announce, by magic number (never by file name). */
export function sniffFormat(bytes: Uint8Array): string | undefined {
  return SIGNATURES.find(({ bytes: sig, offset = 0 }) => sig.every((b, i) => bytes[offset + i] === b))?.format;
}

function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 512);
  let printable = 0;
  for (const b of head) if (b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127)) printable++;
  return head.length > 0 && printable / head.length > 0.95;
}

/** libvips repeats its warnings, one a line (the first with a prefix): keep each once, on one line. */
function decoderReason(error: unknown): string {
  const kept: string[] = [];
  for (const line of String((error as Error)?.message ?? error).split('\n')) {
    const text = line.trim();
    if (text && !kept.some((k) => k === text || k.endsWith(`: ${text}`))) kept.push(text);
  }
  return kept.join('; ');
}

/**
 * Accept an image by content: JPEG or PNG that decodes completely, within the byte, pixel and size limits.
 * Decodes once to 8-bit sRGB (EXIF orientation applied, alpha dropped, grey and CMYK converted) for local models.
 * Throws InvalidImageError with a message a person can act on.
 *
 * The decode is tried first, with the pixel limit enforced by the decoder itself (it reads the header and refuses
 * before decoding anything): a separate header read costs about 1 ms a call, on every accepted image. Only a refused
 * image pays for the header read that says why (too many pixels, too small, unreadable header or bad data).
 */
export async function readImage(bytes: Uint8Array, name: string, limits: ImageLimits): Promise<ImageInput> {
  if (bytes.length === 0) throw new InvalidImageError(`${name}: empty file (0 bytes)`);
  if (bytes.length > limits.maxBytes) {
    throw new InvalidImageError(`${name}: ${bytes.length} bytes is over the limit of ${limits.maxBytes}`);
  }
  const format = sniffFormat(bytes);
  if (format !== 'jpeg' && format !== 'png') {
    const what = format ? `a ${format.toUpperCase()} image` : looksLikeText(bytes) ? 'text, not an image' : 'not a known image format';
    throw new InvalidImageError(`${name}: ${what}; JPEG and PNG are accepted`);
  }

  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(bytes, { failOn: 'truncated', limitInputPixels: limits.maxPixels })
      .rotate()
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    await refuseByHeader(bytes, name, format, limits);
    throw new InvalidImageError(`${name}: the ${format.toUpperCase()} data does not decode (${decoderReason(error)})`, { cause: error });
  }
  const { width, height, channels } = decoded.info;
  if (Math.min(width, height) < limits.minSide) {
    throw new InvalidImageError(`${name}: ${width}x${height} is smaller than ${limits.minSide} px on a side`);
  }
  if (channels !== 3) {
    throw new InvalidImageError(`${name}: decoded to ${channels} channels, expected RGB`);
  }
  return {
    name,
    format,
    bytes,
    width,
    height,
    rgb: new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** Why the header refuses an image that did not decode, if it does (throws); returns when the header is fine. */
async function refuseByHeader(bytes: Uint8Array, name: string, format: 'jpeg' | 'png', limits: ImageLimits): Promise<void> {
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new InvalidImageError(`${name}: unreadable ${format.toUpperCase()} header (${decoderReason(error)})`, { cause: error });
  }
  const { width = 0, height = 0 } = metadata;
  if (width * height > limits.maxPixels) {
    throw new InvalidImageError(`${name}: ${width}x${height} is ${width * height} pixels, over the limit of ${limits.maxPixels}`);
  }
  if (Math.min(width, height) < limits.minSide) {
    throw new InvalidImageError(`${name}: ${width}x${height} is smaller than ${limits.minSide} px on a side`);
  }
}
