/**
 * Draw predictions (and optionally ground truth) over an accepted image, for people to look at: review queues,
 * reports, debugging a provider.
 *
 * - Predicted boxes: solid rectangles, 2 px at 720p (3 px at 1080p), one colour per BDD class from a colour-blind
 *   friendly palette (Okabe-Ito, completed with Paul Tol's muted scheme), with a filled tag "car 0.87" above the box
 *   (inside it, or below it, where that spot is off the image or taken by another tag; a short "light" on small
 *   boxes; none where no spot is free: tags never cover each other, see tag-layout.ts).
 * - Ground-truth boxes: white dashed rectangles, no tag.
 * - A translucent caption at the top-left: the scene attributes, the box counts and a legend of the classes drawn.
 *
 * Pixels come from ImageInput.rgb (decoded once by intake), text and compositing from jimp's bitmap fonts, and the
 * result is encoded with sharp (about 10x faster than jimp's JavaScript JPEG encoder).
 */
import os from 'node:os';
import { Jimp, loadFont, measureText } from 'jimp';
import sharp from 'sharp';
import type { Box2d, Frame, Label } from '../../core/labels/schema';
import type { ImageInput } from '../../core/pipeline/types';
import { resolveCategory, type BddClass } from '../../core/taxonomy/categories';
import { placeTags, shortClassName } from './tag-layout';

export type Rgb = readonly [number, number, number];

/** Per-class box colours, most distinct colours on the most frequent classes (car, traffic sign, traffic light). */
export const CLASS_COLOURS: Readonly<Record<BddClass, Rgb>> = {
  car: [0x56, 0xb4, 0xe9], // sky blue
  'traffic sign': [0xf0, 0xe4, 0x42], // yellow
  'traffic light': [0xe6, 0x9f, 0x00], // orange
  pedestrian: [0xd5, 0x5e, 0x00], // vermillion
  truck: [0x00, 0x9e, 0x73], // bluish green
  bus: [0xcc, 0x79, 0xa7], // reddish purple
  rider: [0x00, 0x72, 0xb2], // blue
  bicycle: [0xcc, 0x66, 0x77], // rose (Tol)
  motorcycle: [0x88, 0x22, 0x55], // wine (Tol)
  train: [0x99, 0x99, 0x33], // olive (Tol)
};
/** Categories outside the BDD taxonomy. */
export const OTHER_COLOUR: Rgb = [0xbb, 0xbb, 0xbb];
/** Ground-truth boxes: dashes of GT_COLOUR with GT_GAP_COLOUR between them, visible on snow and at night alike. */
export const GT_COLOUR: Rgb = [0xff, 0xff, 0xff];
export const GT_GAP_COLOUR: Rgb = [0x10, 0x10, 0x10];

/** Colour of a predicted box: by BDD class after resolving renames (person -> pedestrian) and crowd regions. */
export function classColour(category: string): Rgb {
  const resolved = resolveCategory(category);
  return resolved.kind === 'unknown' ? OTHER_COLOUR : CLASS_COLOURS[resolved.category];
}

export interface OverlayArgs {
  image: ImageInput;
  predictions: Frame;
  groundTruth?: Frame;
  /** Default 'jpeg' (quality 85, no chroma subsampling so thin coloured lines stay crisp). */
  format?: 'jpeg' | 'png';
}

/** Geometry the overlay uses for an image of this size (exported for tests and callers placing other marks). */
export function overlayLayout(width: number, height: number) {
  const short = Math.min(width, height);
  return {
    /** Line width of predicted boxes. */
    thickness: Math.max(2, Math.round(short / 360)),
    /** Line width of ground-truth boxes, dashed `dash` on, `gap` off. */
    gtThickness: Math.max(1, Math.round(short / 480)),
    dash: 8,
    gap: 5,
    /** Bitmap font size: 16 px up to 1440p-class images, 32 px above. */
    fontSize: (short > 1400 ? 32 : 16) as 16 | 32,
    margin: short > 1400 ? 12 : 6,
  };
}

type Font = Awaited<ReturnType<typeof loadFont>>;
type Image = ReturnType<typeof Jimp.fromBitmap>;

// `jimp/fonts` is an export-map subpath, which this project's node10 module resolution cannot type: require it.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- no typed import path for this subpath (above)
const FONT_FILES = require('jimp/fonts') as Record<`SANS_${16 | 32}_${'WHITE' | 'BLACK'}`, string>;

const fontCache = new Map<number, Promise<{ white: Font; black: Font }>>();
function fontsFor(size: 16 | 32): Promise<{ white: Font; black: Font }> {
  let fonts = fontCache.get(size);
  if (!fonts) {
    fonts = Promise.all([loadFont(FONT_FILES[`SANS_${size}_WHITE`]), loadFont(FONT_FILES[`SANS_${size}_BLACK`])]).then(
      ([white, black]) => ({ white, black }),
    );
    fontCache.set(size, fonts);
    fonts.catch(() => fontCache.delete(size));
  }
  return fonts;
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** RGB (3 bytes a pixel) -> opaque RGBA, in a fresh ArrayBuffer of exactly that size. */
function rgbToRgba(rgb: Uint8Array, pixels: number): Uint8Array {
  const rgba = new Uint8Array(new ArrayBuffer(pixels * 4));
  let done = 0;
  if (LITTLE_ENDIAN && rgb.byteOffset % 4 === 0) {
    // Four pixels at a time: three 32-bit words in (RGBR GBRG BRGB), four out (RGBA x4). About 1 ms at 1280x720,
    // against 4-13 ms for a per-byte loop.
    const input = new Uint32Array(rgb.buffer, rgb.byteOffset, (pixels >> 2) * 3);
    const output = new Uint32Array(rgba.buffer, 0, pixels);
    for (let q = 0, p = 0; q < input.length; q += 3, p += 4) {
      const w0 = input[q]!;
      const w1 = input[q + 1]!;
      const w2 = input[q + 2]!;
      output[p] = (w0 | 0xff000000) >>> 0;
      output[p + 1] = ((w0 >>> 24) | (w1 << 8) | 0xff000000) >>> 0;
      output[p + 2] = ((w1 >>> 16) | (w2 << 16) | 0xff000000) >>> 0;
      output[p + 3] = ((w2 >>> 8) | 0xff000000) >>> 0;
    }
    done = (pixels >> 2) * 4;
  }
  for (let p = done, i = done * 3, j = done * 4; p < pixels; p++, i += 3, j += 4) {
    rgba[j] = rgb[i]!;
    rgba[j + 1] = rgb[i + 1]!;
    rgba[j + 2] = rgb[i + 2]!;
    rgba[j + 3] = 255;
  }
  return rgba;
}

/** Relative luminance (WCAG) of an sRGB colour. */
function luminance([r, g, b]: Rgb): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Black or white text, whichever contrasts more with the background. */
const textOn = (background: Rgb, fonts: { white: Font; black: Font }): Font =>
  (luminance(background) + 0.05) / 0.05 > 1.05 / (luminance(background) + 0.05) ? fonts.black : fonts.white;

class Canvas {
  readonly data: Buffer;
  constructor(
    readonly width: number,
    readonly height: number,
    data: Buffer,
  ) {
    this.data = data;
  }

  /** Fill [x0, x1] x [y0, y1] (inclusive), clipped to the image. */
  fill(x0: number, y0: number, x1: number, y1: number, [r, g, b]: Rgb): void {
    const xa = Math.max(0, x0);
    const xb = Math.min(this.width - 1, x1);
    const ya = Math.max(0, y0);
    const yb = Math.min(this.height - 1, y1);
    const { data, width } = this;
    for (let y = ya; y <= yb; y++) {
      for (let i = (y * width + xa) * 4, end = (y * width + xb) * 4; i <= end; i += 4) {
        data[i] = r;
        data[i + 1] = g;
        data[i + 2] = b;
      }
    }
  }

  /** Darken [x0, x1] x [y0, y1] towards black, keeping `keep` (0..1) of the original. */
  shade(x0: number, y0: number, x1: number, y1: number, keep: number): void {
    const k = Math.round(keep * 256);
    const xa = Math.max(0, x0);
    const xb = Math.min(this.width - 1, x1);
    const ya = Math.max(0, y0);
    const yb = Math.min(this.height - 1, y1);
    const { data, width } = this;
    for (let y = ya; y <= yb; y++) {
      for (let i = (y * width + xa) * 4, end = (y * width + xb) * 4; i <= end; i += 4) {
        data[i] = (data[i]! * k) >> 8;
        data[i + 1] = (data[i + 1]! * k) >> 8;
        data[i + 2] = (data[i + 2]! * k) >> 8;
      }
    }
  }

  /** Solid rectangle outline `t` px wide, drawn inwards from the box edges; sides outside the image are not drawn. */
  rect(x1: number, y1: number, x2: number, y2: number, t: number, colour: Rgb): void {
    this.fill(x1, y1, x2, y1 + t - 1, colour);
    this.fill(x1, y2 - t + 1, x2, y2, colour);
    this.fill(x1, y1, x1 + t - 1, y2, colour);
    this.fill(x2 - t + 1, y1, x2, y2, colour);
  }

  /** Dashed outline, `dash` px of `colour` then `gap` px of `gapColour`, starting at each corner. */
  dashedRect(b: PixelBox, t: number, dash: number, gap: number, colour: Rgb, gapColour: Rgb): void {
    const { x1, y1, x2, y2 } = b;
    this.rect(x1, y1, x2, y2, t, gapColour);
    const period = dash + gap;
    for (let x = x1; x <= x2; x += period) {
      const end = Math.min(x + dash - 1, x2);
      this.fill(x, y1, end, y1 + t - 1, colour);
      this.fill(x, y2 - t + 1, end, y2, colour);
    }
    for (let y = y1; y <= y2; y += period) {
      const end = Math.min(y + dash - 1, y2);
      this.fill(x1, y, x1 + t - 1, end, colour);
      this.fill(x2 - t + 1, y, x2, end, colour);
    }
  }
}

interface PixelBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Box corners rounded to pixels; undefined when missing, not finite, or entirely outside the image. */
function pixelBox(box: Box2d | undefined, width: number, height: number): PixelBox | undefined {
  if (!box) return undefined;
  const { x1, y1, x2, y2 } = box;
  if (![x1, y1, x2, y2].every(Number.isFinite) || x2 < x1 || y2 < y1) return undefined;
  const b = { x1: Math.round(x1), y1: Math.round(y1), x2: Math.round(x2), y2: Math.round(y2) };
  if (b.x2 < 0 || b.y2 < 0 || b.x1 > width - 1 || b.y1 > height - 1) return undefined;
  return b;
}

const boxed = (labels: readonly Label[]) => labels.filter((label) => label.box2d !== undefined);

/** A box's tag texts, most informative first: "traffic light 0.91", then "light" for boxes too small for it. */
function tagVariants(label: Label): string[] {
  const score = typeof label.score === 'number' && Number.isFinite(label.score) ? ` ${label.score.toFixed(2)}` : '';
  const full = `${label.category}${score}`;
  const short = shortClassName(label.category);
  return short === full ? [full] : [full, short];
}

/** Print `text` with its cell's top-left at (x, y): glyph boxes of the bitmap fonts start 1 px below the cell top. */
function print(image: Image, font: Font, x: number, y: number, text: string): void {
  image.print({ font, x, y: y - 1, text });
}

/**
 * Render the overlay and encode it (JPEG quality 85 by default, PNG on request). The output has the image's size.
 * Labels without box2d are skipped; boxes are clipped to the image.
 */
export async function renderOverlay(args: OverlayArgs): Promise<Buffer> {
  const { image, predictions, groundTruth, format = 'jpeg' } = args;
  const { width, height, rgb } = image;
  if (!(width > 0 && height > 0) || rgb.length !== width * height * 3) {
    throw new RangeError(`${image.name}: rgb holds ${rgb.length} bytes, expected ${width}x${height}x3`);
  }
  const layout = overlayLayout(width, height);
  const fonts = await fontsFor(layout.fontSize);
  const lineHeight = fonts.white.common.lineHeight;
  const tagHeight = lineHeight + 1;
  const pad = Math.max(3, Math.round(layout.fontSize / 4));

  // fromBitmap wraps a plain Uint8Array's ArrayBuffer without copying (it copies Buffers); boxes and fills are
  // written straight into that bitmap, text goes through jimp.
  const jimp = Jimp.fromBitmap({ width, height, data: rgbToRgba(rgb, width * height) });
  const data = jimp.bitmap.data;
  const target = new Canvas(width, height, data);

  // Ground truth first, predictions over it, tags over every box, caption over everything.
  const gtLabels = groundTruth ? boxed(groundTruth.labels) : [];
  let gtDrawn = 0;
  for (const label of gtLabels) {
    const b = pixelBox(label.box2d, width, height);
    if (!b) continue;
    target.dashedRect(b, layout.gtThickness, layout.dash, layout.gap, GT_COLOUR, GT_GAP_COLOUR);
    gtDrawn++;
  }

  const predicted = boxed(predictions.labels)
    .map((label) => ({ label, box: pixelBox(label.box2d, width, height), colour: classColour(label.category) }))
    // Low scores first so that the most confident boxes and tags end up on top.
    .sort((a, b) => (a.label.score ?? 0) - (b.label.score ?? 0));
  const drawn = predicted.filter((p): p is typeof p & { box: PixelBox } => p.box !== undefined);
  for (const { box, colour } of drawn) target.rect(box.x1, box.y1, box.x2, box.y2, layout.thickness, colour);
  // Tags never cover each other: the most confident boxes choose their spot first (tag-layout.ts).
  const byConfidence = [...drawn].reverse();
  const tags = placeTags(
    byConfidence.map(({ label, box }) => ({
      box,
      variants: tagVariants(label).map((text) => ({ text, width: measureText(fonts.white, text) + 2 * pad })),
    })),
    { width, height, tagHeight },
  );
  tags.forEach((tag) => {
    if (!tag) return;
    const { colour } = byConfidence[tag.index]!;
    const { x, y, width: w } = tag.rect;
    target.fill(x, y, x + w - 1, y + tagHeight - 1, colour);
    print(jimp, textOn(colour, fonts), x + pad, y, tag.text);
  });

  drawCaption(jimp, target, fonts, layout, {
    attributes: predictions.attributes,
    predicted: { drawn: drawn.length, outside: predicted.length - drawn.length },
    gt: groundTruth ? { drawn: gtDrawn, outside: gtLabels.length - gtDrawn } : undefined,
    classes: legendClasses(drawn.map((p) => p.label.category)),
    lineHeight,
    pad,
  });

  const encoder = sharp(data, { raw: { width, height, channels: 4 } }).removeAlpha();
  return format === 'png'
    ? encoder.png({ compressionLevel: 6 }).toBuffer()
    : encoder.jpeg({ quality: 85, chromaSubsampling: '4:4:4' }).toBuffer();
}

/** Boxes drawn, and boxes that lie entirely outside the image (or are not finite) and were not. */
interface BoxCount {
  drawn: number;
  outside: number;
}

/** Distinct categories in BDD order, then any others alphabetically. */
function legendClasses(categories: readonly string[]): string[] {
  const order = Object.keys(CLASS_COLOURS);
  const rank = (c: string) => {
    const resolved = resolveCategory(c);
    return resolved.kind === 'unknown' ? order.length : order.indexOf(resolved.category);
  };
  return [...new Set(categories)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function drawCaption(
  jimp: Image,
  canvas: Canvas,
  fonts: { white: Font; black: Font },
  layout: ReturnType<typeof overlayLayout>,
  content: {
    attributes: Frame['attributes'];
    predicted: BoxCount;
    gt: BoxCount | undefined;
    classes: string[];
    lineHeight: number;
    pad: number;
  },
): void {
  const { lineHeight, pad } = content;
  const font = fonts.white;
  const value = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : 'n/a');
  const a = content.attributes ?? {};
  const scene = `weather: ${value(a.weather)} \u00b7 timeofday: ${value(a.timeofday)} \u00b7 scene: ${value(a.scene)}`;
  const count = ({ drawn, outside }: BoxCount, what: string) => `${drawn} ${what}${outside ? ` (+${outside} outside)` : ''}`;
  const counts = `${count(content.predicted, 'predicted')}, ${content.gt ? count(content.gt, 'GT') : 'no GT'}`;

  // Legend items: a swatch and the class name; the GT item shows a dashed sample line.
  const swatch = Math.round(lineHeight * 0.6);
  const gapItem = Math.round(lineHeight * 0.6);
  type Item = { kind: 'class'; name: string; width: number } | { kind: 'gt'; width: number };
  const items: Item[] = content.classes.map((name) => ({
    kind: 'class',
    name,
    width: swatch + 4 + measureText(font, name),
  }));
  if (content.gt !== undefined) items.push({ kind: 'gt', width: swatch + 4 + measureText(font, 'GT') });

  // Lines: scene; counts then legend items, wrapped to the image width.
  const maxWidth = canvas.width - 2 * layout.margin - 2 * pad;
  type Line = { text?: string; items: Item[]; width: number };
  const lines: Line[] = [{ text: scene, items: [], width: measureText(font, scene) }];
  let current: Line = { text: counts, items: [], width: measureText(font, counts) };
  for (const item of items) {
    if (current.width + gapItem + item.width > maxWidth) {
      lines.push(current);
      current = { items: [], width: -gapItem };
    }
    current.items.push(item);
    current.width += gapItem + item.width;
  }
  lines.push(current);

  const boxWidth = Math.min(canvas.width - layout.margin, Math.max(...lines.map((l) => l.width)) + 2 * pad);
  const boxHeight = lines.length * lineHeight + 2 * pad;
  const x0 = layout.margin;
  const y0 = layout.margin;
  canvas.shade(x0, y0, x0 + boxWidth - 1, y0 + boxHeight - 1, 0.25);

  lines.forEach((line, row) => {
    const top = y0 + pad + row * lineHeight;
    let x = x0 + pad;
    if (line.text) {
      print(jimp, font, x, top, line.text);
      x += measureText(font, line.text) + gapItem;
    }
    const mid = top + Math.round(lineHeight / 2);
    for (const item of line.items) {
      if (item.kind === 'class') {
        const colour = classColour(item.name);
        canvas.fill(x, mid - Math.floor(swatch / 2), x + swatch - 1, mid - Math.floor(swatch / 2) + swatch - 1, colour);
        print(jimp, font, x + swatch + 4, top, item.name);
      } else {
        // A swatch-sized dashed square, drawn like the GT boxes.
        const y = mid - Math.floor(swatch / 2);
        const sample = { x1: x, y1: y, x2: x + swatch - 1, y2: y + swatch - 1 };
        canvas.dashedRect(sample, layout.gtThickness, 4, 3, GT_COLOUR, GT_GAP_COLOUR);
        print(jimp, font, x + swatch + 4, top, 'GT');
      }
      x += item.width + gapItem;
    }
  });
}
