/**
 * Generators of awkward and broken image files for the intake tests, built at test time from sharp and Buffer
 * (nothing binary is committed). Each generator is deterministic where the bytes matter (seeded noise, fixed
 * colours), so a failure reproduces.
 */
import sharp, { type Sharp } from 'sharp';

export type Rgb = readonly [number, number, number];

/** Colours of the four quadrants of `quadrants()`: top-left, top-right, bottom-left, bottom-right. */
export const QUADRANT_COLOURS: readonly [Rgb, Rgb, Rgb, Rgb] = [
  [220, 40, 40],
  [40, 200, 60],
  [40, 60, 220],
  [240, 220, 40],
];

/** Raw RGB (or RGBA when `alpha` is given: alpha(x, y) -> 0..255) of four flat quadrants. */
export function quadrantPixels(width: number, height: number, alpha?: (x: number, y: number) => number): Buffer {
  const channels = alpha ? 4 : 3;
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const colour = QUADRANT_COLOURS[(y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1)]!;
      const i = (y * width + x) * channels;
      data[i] = colour[0];
      data[i + 1] = colour[1];
      data[i + 2] = colour[2];
      if (alpha) data[i + 3] = alpha(x, y);
    }
  }
  return data;
}

/** A sharp pipeline over `quadrantPixels` (encode it with .png(), .jpeg(), ...). */
export function quadrants(width: number, height: number): Sharp {
  return sharp(quadrantPixels(width, height), { raw: { width, height, channels: 3 } });
}

/** Deterministic pseudo-random bytes (mulberry32). */
export function seededBytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

// ---- errors -------------------------------------------------------------------------------------------------

export const zeroBytes = (): Buffer => Buffer.alloc(0);

/** The first `fraction` of an encoded image (a download or upload cut short). */
export const truncated = (bytes: Uint8Array, fraction = 0.5): Buffer => Buffer.from(bytes.subarray(0, Math.floor(bytes.length * fraction)));

/** What a mis-saved CSV or an HTML error page named `.jpg` looks like. */
export const textFile = (): Buffer =>
  Buffer.from('frame,weather,scene\n0a0a0b1a-7c39d841.jpg,clear,city street\n<html><body>404 Not Found</body></html>\n'.repeat(4), 'utf8');

/** Seeded noise whose first bytes match no image signature (checked by the tests with sniffFormat). */
export const randomBytes = (length = 4096): Buffer => seededBytes(length, 7);

export const gif = (): Promise<Buffer> => quadrants(64, 48).gif().toBuffer();
export const webp = (): Promise<Buffer> => quadrants(64, 48).webp({ quality: 80 }).toBuffer();
export const avif = (): Promise<Buffer> => quadrants(64, 48).avif({ quality: 50, effort: 0 }).toBuffer();
export const bmpHeaderOnly = (): Buffer => Buffer.concat([Buffer.from('BM', 'latin1'), seededBytes(60, 3)]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A PNG whose IHDR claims `width` x `height` (8-bit RGB) followed by a few bytes of IDAT: a decompression bomb's
 * header without the bomb. Valid signature and CRCs, so only a decoder that trusts the header would allocate
 * width * height * 3 bytes.
 */
export function pngClaimingDimensions(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  // compression, filter, interlace: 0
  const idat = Buffer.from([0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01]); // zlib of one 0 byte
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export const tinyPng = (side = 10): Promise<Buffer> => quadrants(side, side).png().toBuffer();

/** A valid image padded with zero bytes to `totalBytes` (the byte limit is checked before anything is decoded). */
export const paddedTo = (bytes: Uint8Array, totalBytes: number): Buffer =>
  Buffer.concat([bytes, Buffer.alloc(Math.max(0, totalBytes - bytes.length))]);

/** A JPEG start-of-image marker followed by noise: announces JPEG, has no readable header. */
export const jpegSignatureOnly = (): Buffer => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), seededBytes(2048, 5)]);

// ---- accepted after normalisation ---------------------------------------------------------------------------

/** 8-bit RGBA PNG; alpha varies across the image (0 at the left edge), colour channels are the quadrants. */
export const pngWithAlpha = (width = 64, height = 48): Promise<Buffer> =>
  sharp(
    quadrantPixels(width, height, (x) => Math.round((255 * x) / (width - 1))),
    { raw: { width, height, channels: 4 } },
  )
    .png()
    .toBuffer();

/** Single-channel JPEG: a horizontal grey ramp. */
export const greyscaleJpeg = (width = 64, height = 48): Promise<Buffer> => {
  const data = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = Math.round((255 * x) / (width - 1));
  return sharp(data, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .jpeg({ quality: 95 })
    .toBuffer();
};

/** Four-channel CMYK JPEG of the quadrants (what print workflows and some scanners produce). */
export const cmykJpeg = (width = 64, height = 48): Promise<Buffer> =>
  quadrants(width, height).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();

/** 16 bits per channel RGB PNG of the quadrants. */
export const png16 = (width = 64, height = 48): Promise<Buffer> => quadrants(width, height).toColourspace('rgb16').png().toBuffer();

/** 16-bit single-channel PNG: a horizontal grey ramp. */
export const grey16Png = (width = 64, height = 48): Promise<Buffer> => {
  const data = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = Math.round((65535 * x) / (width - 1));
  return sharp(data, { raw: { width, height, channels: 1 } })
    .toColourspace('grey16')
    .png()
    .toBuffer();
};

/**
 * A landscape JPEG of the quadrants stored with EXIF orientation 6 (camera held upright: display rotated 90°
 * clockwise). Displayed, it is `height` x `width` with the stored top-left quadrant at the top-right.
 */
export const exifRotatedJpeg = (width = 64, height = 48): Promise<Buffer> =>
  quadrants(width, height).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();

/** A complete image followed by bytes after its end marker (some cameras and upload tools append data). */
export const withTrailingGarbage = (bytes: Uint8Array, extra = 4096): Buffer => Buffer.concat([bytes, seededBytes(extra, 13)]);
