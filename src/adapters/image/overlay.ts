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
 * Everything is drawn straight onto a copy of ImageInput.rgb (decoded once by intake; or onto the pixels themselves
 * when the caller is done with them), text in jimp's bitmap fonts (bitmap-font.ts, bitmap-text.ts: jimp itself is
 * not loaded), and the result is encoded with sharp. Measured on the 1280x720 sample: 53 ms of CPU per overlay through jimp (RGBA conversion, print) and sharp's
 * default JPEG settings, about 6 ms now, most of it the JPEG encoder.
 */
import sharp from 'sharp';
import type { Box2d, Frame, Label } from '../../core/labels/schema';
import type { ImageInput } from '../../core/pipeline/types';
import { resolveCategory, type BddClass } from '../../core/taxonomy/categories';
import { loadBitmapFont, measureText, type BitmapFont } from './bitmap-font';
import { drawText } from './bitmap-text';
import { RgbCanvas, type PixelBox, type Rgb } from './rgb-canvas';
import { placeTags, shortClassName } from './tag-layout';

export type { Rgb };

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
  /**
   * Draw on image.rgb itself instead of a copy (it is changed): for callers that no longer need the pixels, such as
   * the CLI once an image is labeled. Saves a 2.7 MB copy per 1280x720 image.
   */
  drawOnInput?: boolean;
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

type Font = BitmapFont;

// `jimp/fonts` is an export-map subpath, which this project's node10 module resolution cannot type: require it.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- no typed import path for this subpath (above)
const FONT_FILES = require('jimp/fonts') as Record<`SANS_${16 | 32}_${'WHITE' | 'BLACK'}`, string>;

const fontCache = new Map<number, Promise<{ white: Font; black: Font }>>();
function fontsFor(size: 16 | 32): Promise<{ white: Font; black: Font }> {
  let fonts = fontCache.get(size);
  if (!fonts) {
    fonts = Promise.all([loadBitmapFont(FONT_FILES[`SANS_${size}_WHITE`]), loadBitmapFont(FONT_FILES[`SANS_${size}_BLACK`])]).then(
      ([white, black]) => ({ white, black }),
    );
    fontCache.set(size, fonts);
    fonts.catch(() => fontCache.delete(size));
  }
  return fonts;
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
function print(canvas: RgbCanvas, font: Font, x: number, y: number, text: string): void {
  drawText(canvas, font, x, y - 1, text);
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

  const data = args.drawOnInput ? rgb : Uint8Array.prototype.slice.call(rgb);
  const target = new RgbCanvas(width, height, data);

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
    print(target, textOn(colour, fonts), x + pad, y, tag.text);
  });

  drawCaption(target, fonts, layout, {
    attributes: predictions.attributes,
    predicted: { drawn: drawn.length, outside: predicted.length - drawn.length },
    gt: groundTruth ? { drawn: gtDrawn, outside: gtLabels.length - gtDrawn } : undefined,
    classes: legendClasses(drawn.map((p) => p.label.category)),
    lineHeight,
    pad,
  });

  const encoder = sharp(data, { raw: { width, height, channels: 3 } });
  // optimiseCoding (sharp's default) makes the encoder find the best Huffman tables in a second pass over the image:
  // the same pixels, about 20% smaller files, for more than twice the CPU time (12 ms against 5 at 1280x720).
  return format === 'png'
    ? encoder.png({ compressionLevel: 6 }).toBuffer()
    : encoder.jpeg({ quality: 85, chromaSubsampling: '4:4:4', optimiseCoding: false }).toBuffer();
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
  canvas: RgbCanvas,
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
      print(canvas, font, x, top, line.text);
      x += measureText(font, line.text) + gapItem;
    }
    const mid = top + Math.round(lineHeight / 2);
    for (const item of line.items) {
      if (item.kind === 'class') {
        const colour = classColour(item.name);
        canvas.fill(x, mid - Math.floor(swatch / 2), x + swatch - 1, mid - Math.floor(swatch / 2) + swatch - 1, colour);
        print(canvas, font, x + swatch + 4, top, item.name);
      } else {
        // A swatch-sized dashed square, drawn like the GT boxes.
        const y = mid - Math.floor(swatch / 2);
        const sample = { x1: x, y1: y, x2: x + swatch - 1, y2: y + swatch - 1 };
        canvas.dashedRect(sample, layout.gtThickness, 4, 3, GT_COLOUR, GT_GAP_COLOUR);
        print(canvas, font, x + swatch + 4, top, 'GT');
      }
      x += item.width + gapItem;
    }
  });
}
