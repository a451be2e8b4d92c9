/**
 * Where the class tags of boxes go, so that in a busy scene no tag covers another: each box in priority order
 * takes the first free spot among above it, inside its top edge and below it, with its full text first and a
 * short one next; a box with no free spot, or too small to carry any of its texts, gets no tag. Pure geometry in
 * pixels: the full-size overlays (jimp) and the report's thumbnails (SVG) place their tags with it.
 */
import { resolveCategory, type BddClass } from '../../core/taxonomy/categories';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface TagRequest {
  /** The box's corners in pixels (x2, y2 inclusive). */
  box: { x1: number; y1: number; x2: number; y2: number };
  /** Texts to try, most informative first, with their widths in pixels (the tag's padding included). */
  variants: ReadonlyArray<{ text: string; width: number }>;
}

export interface PlacedTag {
  /** Index of the request in the list given. */
  index: number;
  text: string;
  rect: Rect;
}

export interface TagLayoutOptions {
  /** The canvas: tags stay inside it. */
  width: number;
  height: number;
  /** Height of every tag. */
  tagHeight: number;
  /** Boxes whose longer side is under this get no tag (they would be all tag). Default: half the tag height. */
  minBoxSide?: number;
  /**
   * A text wider than this many box widths (or three tag heights, whichever is more) is too big for its box:
   * a small box gets its short text instead, so that a 20 px traffic light is not buried under a 130 px tag.
   */
  maxWidthPerBoxWidth?: number;
  /** Areas tags must not cover (a caption, a legend). */
  reserved?: readonly Rect[];
}

/** Short class names for tags on small boxes. */
const SHORT_NAMES: Readonly<Record<BddClass, string>> = {
  car: 'car',
  'traffic sign': 'sign',
  'traffic light': 'light',
  pedestrian: 'ped',
  truck: 'truck',
  bus: 'bus',
  rider: 'rider',
  bicycle: 'bike',
  motorcycle: 'moto',
  train: 'train',
};

/** A BDD class's short name ('traffic light' -> 'light'); other categories as they are. */
export function shortClassName(category: string): string {
  const resolved = resolveCategory(category);
  return resolved.kind === 'unknown' ? category : SHORT_NAMES[resolved.category];
}

const overlaps = (a: Rect, b: Rect) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/**
 * Place the tags of `requests`, the first requests first (give the most important boxes first). Returns one entry
 * per request, in the same order: the placed tag, or undefined when the box gets none. No two placed tags overlap,
 * none covers a reserved area, and every one lies inside the canvas.
 */
export function placeTags(requests: readonly TagRequest[], options: TagLayoutOptions): Array<PlacedTag | undefined> {
  const { width, height, tagHeight } = options;
  const minSide = options.minBoxSide ?? tagHeight / 2;
  const ratio = options.maxWidthPerBoxWidth ?? 2;
  const taken: Rect[] = [...(options.reserved ?? [])];
  return requests.map(({ box, variants }, index) => {
    const boxWidth = box.x2 - box.x1 + 1;
    const boxHeight = box.y2 - box.y1 + 1;
    if (Math.max(boxWidth, boxHeight) < minSide || tagHeight > height) return undefined;
    const widest = Math.max(boxWidth * ratio, tagHeight * 3);
    const fitting = variants.filter((v) => v.width <= widest && v.width <= width);
    for (const variant of fitting) {
      const x = Math.max(0, Math.min(box.x1, width - variant.width));
      // Above the box, then inside its top edge, then below it: the first that is on the canvas and free.
      for (const y of [box.y1 - tagHeight, Math.max(0, box.y1), box.y2 + 1]) {
        const rect = { x, y: Math.min(y, height - tagHeight), width: variant.width, height: tagHeight };
        if (y < 0 || rect.y < 0) continue;
        if (taken.some((t) => overlaps(t, rect))) continue;
        taken.push(rect);
        return { index, text: variant.text, rect };
      }
    }
    return undefined;
  });
}
