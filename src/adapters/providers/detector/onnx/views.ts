import { compareBoxes, intersection, area, nms, weightedBoxFusion, type ScoredBox } from './nms';
import type { ViewRect } from './preprocess';

/**
 * Tiling: which parts of the frame the model looks at, besides the full frame.
 * - `squares`: squares of the short side along the long axis, >= 20% overlap (1280x720: left and right 720x720),
 *   scale 416/720 = 0.58 instead of 0.325 for the full frame.
 * - `centre`: native-scale (about 1:1) squares across the middle 65% of the width at the horizon (1280x720: two
 *   416x416 tiles, x 224..1056, y 80..496), where distant cars and most traffic lights are.
 * - `band`: the same native-scale squares across the whole width (1280x720: four tiles, 25% overlap).
 * - `zoom`: two squares of 0.36 H around the horizon centre, upscaled about 1.6x (1280x720: 259 px tiles).
 */
export type TilePart = 'squares' | 'centre' | 'band' | 'zoom';
export const TILE_PARTS: readonly TilePart[] = ['squares', 'centre', 'band', 'zoom'];

export interface View extends ViewRect {
  name: string;
}

/** Images this small gain nothing from crops: the full view is already near native scale. */
const MIN_LONG_SIDE_FOR_TILING = 1.25;

export function planViews(width: number, height: number, parts: readonly TilePart[], inputSize = 416): View[] {
  const views: View[] = [{ name: 'full', x: 0, y: 0, width, height }];
  if (Math.max(width, height) <= MIN_LONG_SIDE_FOR_TILING * inputSize) return views;
  for (const part of parts) {
    if (part === 'squares') views.push(...squares(width, height));
    else if (part === 'centre') views.push(...horizonTiles('centre', width, height, nativeSide(width, height, inputSize), 0.175, 0.825, 0));
    else if (part === 'band') views.push(...horizonTiles('band', width, height, nativeSide(width, height, inputSize), 0, 1, 0.25));
    else views.push(...horizonTiles('zoom', width, height, Math.min(width, height, Math.round(0.36 * height)), 0.3, 0.7, 0));
  }
  return views;
}

function squares(width: number, height: number): View[] {
  const long = Math.max(width, height);
  const side = Math.min(width, height);
  if (long / side < 1.3) {
    // Near-square: four overlapping quadrants of 60% of each side.
    const w = Math.ceil(0.6 * width);
    const h = Math.ceil(0.6 * height);
    const corners: [number, number][] = [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ];
    return corners.map(([fx, fy], i) => ({ name: `quadrant${i}`, x: fx * (width - w), y: fy * (height - h), width: w, height: h }));
  }
  const count = Math.max(2, Math.ceil((long - 0.2 * side) / (0.8 * side)));
  const views: View[] = [];
  for (let i = 0; i < count; i++) {
    const offset = Math.round((i * (long - side)) / (count - 1));
    views.push(
      width >= height
        ? { name: `square${i}`, x: offset, y: 0, width: side, height: side }
        : { name: `square${i}`, x: 0, y: offset, width: side, height: side },
    );
  }
  return views;
}

/** Side of a horizon tile seen at about native scale: the input size, or 55% of the height on large frames. */
function nativeSide(width: number, height: number, inputSize: number): number {
  return Math.min(width, height, Math.max(inputSize, Math.round(0.55 * height)));
}

/** Squares of `side` across [from, to] of the width, overlapping by at least `overlap` of a side, centred on 40% of the height. */
function horizonTiles(name: string, width: number, height: number, side: number, from: number, to: number, overlap: number): View[] {
  const x0 = Math.round(from * width);
  const span = Math.round(to * width) - x0;
  const count = span <= side ? 1 : Math.max(2, Math.ceil((span - overlap * side) / ((1 - overlap) * side) - 1e-9));
  const y = Math.min(height - side, Math.max(0, Math.round(0.4 * height - side / 2)));
  const views: View[] = [];
  for (let i = 0; i < count; i++) {
    const x = count === 1 ? Math.round(x0 + (span - side) / 2) : x0 + Math.round((i * (span - side)) / (count - 1));
    views.push({ name: `${name}${i}`, x: Math.min(width - side, Math.max(0, x)), y, width: side, height: side });
  }
  return views;
}

/** A box from one view, in original pixels. */
export interface ViewBox extends ScoredBox {
  view: number;
  /** A crop edge inside the image cuts it: the crop saw only part of the object. */
  cut: boolean;
}

/** Original pixels within which a box edge counts as touching a crop edge. */
export const CUT_MARGIN = 4;

/** Whether `box` touches an edge of `view` that lies inside the image (not an image border). */
export function isCutByView(box: ScoredBox, view: ViewRect, imageWidth: number, imageHeight: number, margin = CUT_MARGIN): boolean {
  return (
    (view.x > 0 && box.x1 <= view.x + margin) ||
    (view.y > 0 && box.y1 <= view.y + margin) ||
    (view.x + view.width < imageWidth && box.x2 >= view.x + view.width - margin) ||
    (view.y + view.height < imageHeight && box.y2 >= view.y + view.height - margin)
  );
}

export interface MergeOptions {
  iou: number;
  method: 'nms' | 'wbf';
  /**
   * A cut box is dropped when an uncut box of the same class from another view covers at least this fraction of it
   * (the object is seen whole elsewhere, usually by the full view).
   */
  coverage: number;
}

export const DEFAULT_MERGE: Omit<MergeOptions, 'iou'> = { method: 'nms', coverage: 0.5 };

/** Merge the boxes of all views: drop cut crop boxes that another view sees whole, then class-wise NMS (or WBF). */
export function mergeViews(boxes: readonly ViewBox[], options: MergeOptions): ViewBox[] {
  const whole = boxes.filter((b) => !b.cut);
  const survivors = boxes.filter(
    (b) =>
      !b.cut || !whole.some((w) => w.classIndex === b.classIndex && w.view !== b.view && intersection(w, b) >= options.coverage * area(b)),
  );
  if (options.method === 'wbf') return weightedBoxFusion(survivors, options.iou);
  return nms(survivors, options.iou).sort(compareBoxes);
}
