import type { ScoredBox } from './nms';

/** YOLOX heads: strides 8, 16 and 32 over a square input; rows ordered by stride, then y, then x. */
export const YOLOX_STRIDES = [8, 16, 32] as const;

/** Rows the model outputs for a square input of `inputSize` (3549 for 416). */
export function yoloxRowCount(inputSize: number): number {
  return YOLOX_STRIDES.reduce((n, s) => n + (inputSize / s) ** 2, 0);
}

export interface DecodeOptions {
  inputSize: number;
  numClasses: number;
  /** obj * cls below this is dropped. */
  minScore: number;
}

/**
 * Decode YOLOX output rows [dx, dy, log w, log h, obj, cls...] (obj and cls already sigmoid-ed) into boxes in input
 * pixels: cx = (dx + gx) * s, cy = (dy + gy) * s, w = exp(log w) * s, h = exp(log h) * s, score = obj * cls.
 * One box per (row, class) whose score reaches minScore (multi-label, as YOLOX's own evaluation), so a vehicle the
 * model is unsure about can be both car and truck before per-class NMS.
 */
export function decodeYolox(output: Float32Array, options: DecodeOptions): ScoredBox[] {
  const { inputSize, numClasses, minScore } = options;
  const width = 5 + numClasses;
  const rows = yoloxRowCount(inputSize);
  if (output.length !== rows * width) {
    throw new Error(`YOLOX output has ${output.length} values, expected ${rows} rows x ${width}`);
  }
  const boxes: ScoredBox[] = [];
  let row = 0;
  for (const stride of YOLOX_STRIDES) {
    const cells = inputSize / stride;
    for (let gy = 0; gy < cells; gy++) {
      for (let gx = 0; gx < cells; gx++, row++) {
        const o = row * width;
        const obj = output[o + 4]!;
        // cls <= 1, so obj < minScore means no class can reach it.
        if (!(obj >= minScore)) continue;
        // A cheap pre-test on cls alone (a hair below the exact bound, so it never drops a box); obj * cls decides.
        const clsBound = minScore > 0 ? (minScore / obj) * (1 - 1e-6) : -Infinity;
        let decoded = false;
        let x1 = 0;
        let y1 = 0;
        let x2 = 0;
        let y2 = 0;
        for (let c = 0; c < numClasses; c++) {
          const cls = output[o + 5 + c]!;
          if (!(cls >= clsBound)) continue;
          const score = obj * cls;
          if (!(score >= minScore)) continue;
          if (!decoded) {
            const cx = (output[o]! + gx) * stride;
            const cy = (output[o + 1]! + gy) * stride;
            const w = Math.exp(output[o + 2]!) * stride;
            const h = Math.exp(output[o + 3]!) * stride;
            x1 = cx - w / 2;
            y1 = cy - h / 2;
            x2 = cx + w / 2;
            y2 = cy + h / 2;
            decoded = true;
          }
          boxes.push({ x1, y1, x2, y2, score, classIndex: c });
        }
      }
    }
  }
  return boxes;
}
