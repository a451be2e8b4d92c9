/**
 * readImage against a matrix of bad and awkward inputs, generated at test time (test/fakes/bad-images.ts) with the
 * production default limits (20 MiB, 40 Mpx, 32 px). Every input either fails with an InvalidImageError whose
 * message starts with the image's name and says what is wrong, or is accepted and normalised to 8-bit RGB.
 *
 * Decisions documented here:
 * - Trailing bytes after a complete JPEG are accepted: the image decodes fully and identically; sha256 still covers
 *   the bytes as received.
 * - A JPEG missing only its end marker is refused like any truncated file (libjpeg cannot tell them apart).
 * - Alpha is dropped, not composited: fully transparent pixels keep their stored colour.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { LabelingConfigSchema } from '../src/core/config/labeling-config';
import { InvalidImageError } from '../src/core/pipeline/errors';
import type { ImageInput } from '../src/core/pipeline/types';
import { readImage, sniffFormat } from '../src/adapters/image/intake';
import * as bad from './fakes/bad-images';
import { sampleImagesDir } from './helpers/shared';

const LIMITS = LabelingConfigSchema.parse({}).limits;
const SAMPLE = '0798a3a8-c4501e0f.jpg';

let sampleCache: Promise<Buffer> | undefined;
const sampleBytes = () => (sampleCache ??= fs.readFile(path.join(sampleImagesDir, SAMPLE)));

type Rgb = bad.Rgb;
const pixel = (image: ImageInput, x: number, y: number): Rgb => {
  const i = (y * image.width + x) * 3;
  return [image.rgb[i]!, image.rgb[i + 1]!, image.rgb[i + 2]!];
};
const near = (a: Rgb, b: Rgb, tolerance: number) => a.every((v, i) => Math.abs(v - b[i]!) <= tolerance);
const [RED, GREEN, BLUE, YELLOW] = bad.QUADRANT_COLOURS;
/** Centres of the top-left, top-right, bottom-left and bottom-right quadrants. */
const centres = (image: ImageInput) =>
  [
    [image.width >> 2, image.height >> 2],
    [(3 * image.width) >> 2, image.height >> 2],
    [image.width >> 2, (3 * image.height) >> 2],
    [(3 * image.width) >> 2, (3 * image.height) >> 2],
  ] as const;

function assertEveryPixelGrey(image: ImageInput): void {
  for (let i = 0; i < image.rgb.length; i += 3) {
    if (image.rgb[i] !== image.rgb[i + 1] || image.rgb[i] !== image.rgb[i + 2]) {
      assert.fail(`pixel ${i / 3} is not grey: ${Array.from(image.rgb.subarray(i, i + 3))}`);
    }
  }
  // The horizontal ramp survives: black on the left, white on the right.
  assert.ok(pixel(image, 0, 10)[0] < 12 && pixel(image, image.width - 1, 10)[0] > 243);
}

type Expectation = { error: RegExp; maxMs?: number } | { accept: (image: ImageInput, bytes: Uint8Array) => void | Promise<void> };

interface Case {
  name: string;
  what: string;
  make: () => Uint8Array | Promise<Uint8Array>;
  /** Checks on the generated input itself, so that a generator drifting cannot make a case pass vacuously. */
  precondition?: (bytes: Uint8Array) => void | Promise<void>;
  expect: Expectation;
}

const metadata = (bytes: Uint8Array) => sharp(bytes).metadata();

const CASES: Case[] = [
  // ---- refused -------------------------------------------------------------------------------------------
  { name: 'empty.jpg', what: 'zero bytes', make: bad.zeroBytes, expect: { error: /^empty\.jpg: empty file \(0 bytes\)$/ } },
  {
    name: 'half.jpg',
    what: 'truncated JPEG (first half of a real sample)',
    make: async () => bad.truncated(await sampleBytes()),
    precondition: async (bytes) => assert.equal((await metadata(bytes)).width, 1280, 'the header survives the cut'),
    expect: { error: /^half\.jpg: the JPEG data does not decode \(.*premature end of JPEG/ },
  },
  {
    name: 'no-eoi.jpg',
    what: 'JPEG missing only its 2-byte end marker',
    make: async () => (await sampleBytes()).subarray(0, -2),
    expect: { error: /^no-eoi\.jpg: the JPEG data does not decode \(.*premature end/ },
  },
  {
    name: 'notes.jpg',
    what: 'a text file named .jpg',
    make: bad.textFile,
    expect: { error: /^notes\.jpg: text, not an image; JPEG and PNG are accepted$/ },
  },
  {
    name: 'noise.jpg',
    what: 'random bytes',
    make: () => bad.randomBytes(),
    precondition: (bytes) => assert.equal(sniffFormat(bytes), undefined),
    expect: { error: /^noise\.jpg: not a known image format; JPEG and PNG are accepted$/ },
  },
  {
    name: 'animation.gif',
    what: 'GIF',
    make: bad.gif,
    precondition: async (bytes) => assert.equal((await metadata(bytes)).format, 'gif'),
    expect: { error: /^animation\.gif: a GIF image; JPEG and PNG are accepted$/ },
  },
  {
    name: 'photo.webp',
    what: 'WebP',
    make: bad.webp,
    precondition: async (bytes) => assert.equal((await metadata(bytes)).format, 'webp'),
    expect: { error: /^photo\.webp: a WEBP image; JPEG and PNG are accepted$/ },
  },
  {
    name: 'photo.avif',
    what: 'AVIF',
    make: bad.avif,
    expect: { error: /^photo\.avif: a HEIC\/AVIF image; JPEG and PNG are accepted$/ },
  },
  {
    name: 'scan.jpg',
    what: 'BMP signature named .jpg',
    make: bad.bmpHeaderOnly,
    expect: { error: /^scan\.jpg: a BMP image; JPEG and PNG are accepted$/ },
  },
  {
    name: 'bomb.png',
    what: 'PNG whose header claims 60000x60000 (67 bytes in all)',
    make: () => bad.pngClaimingDimensions(60000, 60000),
    precondition: (bytes) => {
      assert.ok(bytes.length < 100);
      assert.equal(Buffer.from(bytes).readUInt32BE(16), 60000);
    },
    expect: { error: /^bomb\.png: 60000x60000 is 3600000000 pixels, over the limit of 40000000$/, maxMs: 1000 },
  },
  {
    name: 'icon.png',
    what: 'tiny 10x10 PNG',
    make: () => bad.tinyPng(10),
    expect: { error: /^icon\.png: 10x10 is smaller than 32 px on a side$/ },
  },
  {
    name: 'big.jpg',
    what: 'over maxBytes (a real JPEG padded to 20 MiB + 1)',
    make: async () => bad.paddedTo(await sampleBytes(), LIMITS.maxBytes + 1),
    expect: { error: new RegExp(`^big\\.jpg: ${LIMITS.maxBytes + 1} bytes is over the limit of ${LIMITS.maxBytes}$`), maxMs: 1000 },
  },
  {
    name: 'headless.jpg',
    what: 'JPEG signature followed by noise',
    make: bad.jpegSignatureOnly,
    // One line, each libvips complaint once (libvips repeats them, one a line).
    expect: { error: /^headless\.jpg: unreadable JPEG header \([^\n]*premature end of JPEG image[^\n]*\)$/ },
  },
  {
    name: 'half.png',
    what: 'truncated PNG',
    make: async () => bad.truncated(await bad.png16(640, 480)),
    expect: { error: /^half\.png: the PNG data does not decode \(/ },
  },

  // ---- accepted and normalised ----------------------------------------------------------------------------
  {
    name: 'sample.jpg',
    what: 'a real sample JPEG (baseline)',
    make: sampleBytes,
    expect: {
      accept: (image) => {
        assert.equal(image.format, 'jpeg');
        assert.deepEqual([image.width, image.height], [1280, 720]);
      },
    },
  },
  {
    name: 'view.jpg',
    what: 'a real sample as a plain Uint8Array view at an odd offset (not a Buffer)',
    make: async () => {
      const bytes = await sampleBytes();
      const view = new Uint8Array(new ArrayBuffer(bytes.length + 3), 3, bytes.length);
      view.set(bytes);
      return view;
    },
    expect: { accept: (image) => assert.deepEqual([image.width, image.height], [1280, 720]) },
  },
  {
    name: 'overlay.png',
    what: 'PNG with alpha (alpha 0 at the left edge)',
    make: () => bad.pngWithAlpha(64, 48),
    precondition: async (bytes) => assert.equal((await metadata(bytes)).hasAlpha, true),
    expect: {
      accept: (image) => {
        assert.equal(image.format, 'png');
        assert.deepEqual([image.width, image.height], [64, 48]);
        // Alpha dropped, colour kept exactly (also where alpha was 0).
        assert.deepEqual(Buffer.from(image.rgb), bad.quadrantPixels(64, 48));
      },
    },
  },
  {
    name: 'grey.jpg',
    what: 'greyscale (1-channel) JPEG',
    make: () => bad.greyscaleJpeg(64, 48),
    precondition: async (bytes) => {
      const m = await metadata(bytes);
      assert.deepEqual([m.channels, m.space], [1, 'b-w']);
    },
    expect: {
      accept: (image) => {
        assert.deepEqual([image.width, image.height], [64, 48]);
        assertEveryPixelGrey(image);
      },
    },
  },
  {
    name: 'print.jpg',
    what: 'CMYK JPEG',
    make: () => bad.cmykJpeg(64, 48),
    precondition: async (bytes) => {
      const m = await metadata(bytes);
      assert.deepEqual([m.channels, m.space], [4, 'cmyk']);
    },
    expect: {
      accept: (image) => {
        assert.deepEqual([image.width, image.height], [64, 48]);
        const [tl, tr, bl, br] = centres(image).map(([x, y]) => pixel(image, x, y)) as [Rgb, Rgb, Rgb, Rgb];
        // Red survives closely; saturated green and blue lie outside the CMYK gamut, so only their hue is checked.
        assert.ok(near(tl, RED, 45), `red came back as ${tl}`);
        assert.ok(tr[1] > tr[0] + 40 && tr[1] > tr[2] + 40, `green came back as ${tr}`);
        assert.ok(bl[2] > bl[0] + 40 && bl[2] > bl[1] + 40, `blue came back as ${bl}`);
        assert.ok(br[0] > 180 && br[1] > 180 && br[2] < 80, `yellow came back as ${br}`);
      },
    },
  },
  {
    name: 'deep.png',
    what: '16-bit RGB PNG',
    make: () => bad.png16(64, 48),
    precondition: async (bytes) => assert.equal((await metadata(bytes)).depth, 'ushort'),
    expect: { accept: (image) => assert.deepEqual(Buffer.from(image.rgb), bad.quadrantPixels(64, 48)) },
  },
  {
    name: 'deep-grey.png',
    what: '16-bit greyscale PNG',
    make: () => bad.grey16Png(64, 48),
    precondition: async (bytes) => {
      const m = await metadata(bytes);
      assert.deepEqual([m.channels, m.depth], [1, 'ushort']);
    },
    expect: { accept: (image) => assertEveryPixelGrey(image) },
  },
  {
    name: 'portrait.jpg',
    what: 'JPEG stored 64x48 with EXIF orientation 6',
    make: () => bad.exifRotatedJpeg(64, 48),
    precondition: async (bytes) => {
      const m = await metadata(bytes);
      assert.deepEqual([m.width, m.height, m.orientation], [64, 48, 6]);
    },
    expect: {
      accept: (image) => {
        assert.deepEqual([image.width, image.height], [48, 64], 'width and height swapped');
        assert.equal(image.rgb.length, 48 * 64 * 3);
        // Rotated 90° clockwise: stored bottom-left is now top-left, stored top-left is top-right.
        const [tl, tr, bl, br] = centres(image).map(([x, y]) => pixel(image, x, y)) as [Rgb, Rgb, Rgb, Rgb];
        assert.ok(near(tl, BLUE, 30), `top-left ${tl}`);
        assert.ok(near(tr, RED, 30), `top-right ${tr}`);
        assert.ok(near(bl, YELLOW, 30), `bottom-left ${bl}`);
        assert.ok(near(br, GREEN, 30), `bottom-right ${br}`);
      },
    },
  },
  {
    name: 'trailing.jpg',
    what: 'JPEG followed by 4 KiB of garbage (accepted: it decodes fully)',
    make: async () => bad.withTrailingGarbage(await sampleBytes()),
    expect: {
      accept: async (image, bytes) => {
        const clean = await readImage(await sampleBytes(), SAMPLE, LIMITS);
        assert.ok(Buffer.from(image.rgb).equals(Buffer.from(clean.rgb)), 'same pixels as the clean file');
        assert.equal(image.sha256, createHash('sha256').update(bytes).digest('hex'), 'identity of the bytes received');
        assert.notEqual(image.sha256, clean.sha256);
      },
    },
  },
  {
    name: 'misnamed.jpg',
    what: 'PNG named .jpg (judged by content)',
    make: () => bad.quadrants(64, 48).png().toBuffer(),
    expect: { accept: (image) => assert.equal(image.format, 'png') },
  },
];

/** Each decoder complaint once: libvips repeats them, the first time with a prefix. */
function assertNoRepeatedReason(message: string): void {
  const reasons = /\((.*)\)$/.exec(message)?.[1]?.split('; ') ?? [];
  reasons.forEach((reason, i) => {
    const again = reasons.findIndex((other, j) => j !== i && (other === reason || other.endsWith(`: ${reason}`)));
    assert.equal(again, -1, `"${reason}" repeated in: ${message}`);
  });
}

function assertImageInput(image: ImageInput, name: string): void {
  assert.equal(image.name, name);
  assert.ok(image.format === 'jpeg' || image.format === 'png');
  assert.ok(Number.isInteger(image.width) && image.width >= LIMITS.minSide);
  assert.ok(Number.isInteger(image.height) && image.height >= LIMITS.minSide);
  assert.equal(image.rgb.length, image.width * image.height * 3, '8-bit RGB');
  assert.match(image.sha256, /^[0-9a-f]{64}$/);
}

describe('readImage: bad and awkward inputs', () => {
  test('the matrix holds the required cases', () => {
    const errors = CASES.filter((c) => 'error' in c.expect).length;
    assert.ok(errors >= 10 && CASES.length - errors >= 6, `${errors} refused, ${CASES.length - errors} accepted`);
  });

  for (const c of CASES) {
    const verdict = 'error' in c.expect ? 'refused' : 'accepted';
    test(`${c.what}: ${verdict}`, async () => {
      const bytes = await c.make();
      await c.precondition?.(bytes);
      const started = performance.now();
      const outcome = await readImage(bytes, c.name, LIMITS).then(
        (image) => ({ image }),
        (error: unknown) => ({ error }),
      );
      const elapsed = performance.now() - started;
      if ('error' in c.expect) {
        assert.ok('error' in outcome, `${c.name} was accepted`);
        const error = outcome.error as Error;
        assert.ok(error instanceof InvalidImageError, `${c.name}: ${error?.name} ${error?.message}`);
        assert.equal(error.kind, 'invalid-image');
        assert.equal(error.retryable, false);
        assert.match(error.message, c.expect.error);
        const { maxMs } = c.expect;
        if (maxMs !== undefined) assert.ok(elapsed < maxMs, `${c.name} took ${elapsed.toFixed(0)} ms (limit ${maxMs})`);
      } else {
        if ('error' in outcome) assert.fail(`${c.name} was refused: ${(outcome.error as Error)?.message}`);
        assertImageInput(outcome.image, c.name);
        assert.equal(outcome.image.bytes, bytes, 'the bytes as received');
        await c.expect.accept(outcome.image, bytes);
      }
    });
  }

  test('a batch never stops: every outcome is an ImageInput or an InvalidImageError', async (t) => {
    const sample = await sampleBytes();
    const inputs: { name: string; bytes: Uint8Array; expected?: 'error' | 'accept' }[] = [];
    for (const c of CASES) inputs.push({ name: c.name, bytes: await c.make(), expected: 'error' in c.expect ? 'error' : 'accept' });
    // And a spread of damage to a real file: cut at many lengths, bytes overwritten in the header and the scan.
    for (let k = 1; k <= 12; k++) inputs.push({ name: `cut-${k}.jpg`, bytes: sample.subarray(0, Math.floor((sample.length * k) / 13)) });
    for (let k = 0; k < 12; k++) {
      const damaged = Buffer.from(sample);
      const noise = bad.seededBytes(64, 100 + k);
      const at = k < 4 ? 2 + k * 40 : Math.floor((damaged.length * k) / 13);
      noise.copy(damaged, at);
      inputs.push({ name: `damaged-${k}.jpg`, bytes: damaged });
    }

    const outcomes = await Promise.allSettled(inputs.map(({ bytes, name }) => readImage(bytes, name, LIMITS)));
    const tally = { accepted: 0, refused: 0 };
    outcomes.forEach((outcome, i) => {
      const { name, expected } = inputs[i]!;
      if (outcome.status === 'fulfilled') {
        assertImageInput(outcome.value, name);
        assert.notEqual(expected, 'error', `${name} accepted`);
        tally.accepted++;
      } else {
        const error = outcome.reason as Error;
        assert.ok(error instanceof InvalidImageError, `${name}: ${error?.name}: ${error?.message}`);
        assert.ok(error.message.startsWith(`${name}: `), `message names the image: ${error.message}`);
        assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
        assertNoRepeatedReason(error.message);
        assert.notEqual(expected, 'accept', `${name} refused: ${error.message}`);
        tally.refused++;
      }
    });
    t.diagnostic(`${inputs.length} inputs: ${tally.accepted} accepted, ${tally.refused} refused`);
    assert.equal(tally.accepted + tally.refused, inputs.length);
    assert.ok(tally.refused >= 20, `refused ${tally.refused}`);
  });
});
