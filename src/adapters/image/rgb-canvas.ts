/**
 * Drawing on 8-bit interleaved RGB pixels in place (3 bytes a pixel, what intake decodes to and what the JPEG
 * encoder reads): filled rectangles, darkened areas, solid and dashed outlines. Everything is clipped to the image.
 */
export type Rgb = readonly [number, number, number];

export interface PixelBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export class RgbCanvas {
  constructor(
    readonly width: number,
    readonly height: number,
    readonly data: Uint8Array,
  ) {
    if (data.length !== width * height * 3) throw new RangeError(`a ${width}x${height} RGB canvas needs ${width * height * 3} bytes`);
  }

  /** [x0, y0, x1, y1] (inclusive) cut to the image; empty when x0 > x1 or y0 > y1. */
  private clip(x0: number, y0: number, x1: number, y1: number): [number, number, number, number] {
    return [Math.max(0, x0), Math.max(0, y0), Math.min(this.width - 1, x1), Math.min(this.height - 1, y1)];
  }

  /** Fill [x0, x1] x [y0, y1] (inclusive), clipped to the image. */
  fill(x0: number, y0: number, x1: number, y1: number, [r, g, b]: Rgb): void {
    const [xa, ya, xb, yb] = this.clip(x0, y0, x1, y1);
    const { data, width } = this;
    for (let y = ya; y <= yb; y++) {
      for (let i = (y * width + xa) * 3, end = (y * width + xb) * 3; i <= end; i += 3) {
        data[i] = r;
        data[i + 1] = g;
        data[i + 2] = b;
      }
    }
  }

  /** Darken [x0, x1] x [y0, y1] towards black, keeping `keep` (0..1) of the original. */
  shade(x0: number, y0: number, x1: number, y1: number, keep: number): void {
    const k = Math.round(keep * 256);
    const [xa, ya, xb, yb] = this.clip(x0, y0, x1, y1);
    const { data, width } = this;
    for (let y = ya; y <= yb; y++) {
      for (let i = (y * width + xa) * 3, end = (y * width + xb) * 3 + 2; i <= end; i++) data[i] = ((data[i] as number) * k) >> 8;
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
