/**
 * What an image looks like, in four numbers, from its decoded RGB: what input drift is measured on. Computed on a
 * strided subsample (about SAMPLE_TARGET pixels whatever the size) so it costs a few hundredths of a millisecond
 * per frame; the numbers move by less than 0.01 against a full pass, far below any drift that matters.
 */
import { z } from 'zod';

/** Pixels read per image: 128 x 72 on a 1280 x 720 frame (stride 10). */
const SAMPLE_TARGET = 9216;

/**
 * A dark sky (the top third) in a dark frame is a night-like image. Chosen on the 160 shared BDD100K images: the 9
 * night frames measure 0.04-0.14 at the top and 0.06-0.24 overall; no daytime, rain, snow or dawn/dusk frame is
 * below 0.17 at the top (daytime 0.24 and up). The overall bound keeps a tunnel under a bright frame out.
 */
export const NIGHT_BRIGHTNESS = 0.3;
export const NIGHT_SKY_BRIGHTNESS = 0.15;

export const ImageStatsSchema = z.object({
  /** Mean luma (Rec. 601), 0 black .. 1 white. */
  brightness: z.number().min(0).max(1),
  /** Standard deviation of luma (RMS contrast), 0 .. 0.5. */
  contrast: z.number().min(0).max(1),
  /** Mean HSV saturation, 0 grey .. 1 pure colour. */
  saturation: z.number().min(0).max(1),
  /** Mean luma of the top third of the image: the sky, in a dashcam frame. */
  skyBrightness: z.number().min(0).max(1),
  /** brightness < NIGHT_BRIGHTNESS and skyBrightness < NIGHT_SKY_BRIGHTNESS. */
  nightLike: z.boolean(),
});
export type ImageStats = z.infer<typeof ImageStatsSchema>;

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;

/** The statistics of an 8-bit interleaved RGB image of width x height pixels. */
export function imageStats(rgb: Uint8Array, width: number, height: number): ImageStats {
  const stride = Math.max(1, Math.floor(Math.sqrt((width * height) / SAMPLE_TARGET)));
  const skyRows = Math.ceil(height / 3);
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  let satSum = 0;
  let skyN = 0;
  let skySum = 0;
  for (let y = Math.floor(stride / 2); y < height; y += stride) {
    let i = (y * width + Math.floor(stride / 2)) * 3;
    const step = stride * 3;
    let rowSum = 0;
    let rowN = 0;
    for (let x = Math.floor(stride / 2); x < width; x += stride, i += step) {
      const r = rgb[i]!;
      const g = rgb[i + 1]!;
      const b = rgb[i + 2]!;
      const luma = 0.299 * r + 0.587 * g + 0.114 * b;
      rowSum += luma;
      sumSq += luma * luma;
      rowN++;
      const max = r > g ? (r > b ? r : b) : g > b ? g : b;
      const min = r < g ? (r < b ? r : b) : g < b ? g : b;
      if (max > 0) satSum += (max - min) / max;
    }
    sum += rowSum;
    n += rowN;
    if (y < skyRows) {
      skySum += rowSum;
      skyN += rowN;
    }
  }
  const mean = n ? sum / n : 0;
  const variance = n ? Math.max(0, sumSq / n - mean * mean) : 0;
  const brightness = mean / 255;
  const skyBrightness = skyN ? skySum / skyN / 255 : brightness;
  return {
    brightness: round4(brightness),
    contrast: round4(Math.sqrt(variance) / 255),
    saturation: round4(n ? satSum / n : 0),
    skyBrightness: round4(skyBrightness),
    nightLike: brightness < NIGHT_BRIGHTNESS && skyBrightness < NIGHT_SKY_BRIGHTNESS,
  };
}
