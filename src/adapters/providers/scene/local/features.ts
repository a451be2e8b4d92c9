/**
 * Feature extraction of the local scene classifier, shared by the runtime and trainer.ts so
 * the two cannot drift: one vector per image = the frozen MobileNetV2 backbone's output for the whole frame
 * (`features`: 1280-d pooled embedding, or `output`: 1000 ImageNet logits) followed by cheap image statistics
 * (brightness of the sky, darkness, saturation, blue sky, snow, haze, edges) computed on the frame halved down to
 * their 160x90 (thumbnail.ts): about half the CPU of an area resize of the full frame, values within rounding.
 *
 * Everything here is plain TypeScript arithmetic on the decoded pixels (no sharp, no platform resampler), so training
 * and inference resize identically. The int8 backbone itself may differ slightly between CPU types: consumers compare
 * learned outputs with tolerances, never exact floats.
 */
import type { ImageInput } from '../../../../core/pipeline/types';
import { thumbnailAtLeast, type RgbFrame } from './thumbnail';

/** Bump when anything below changes what a feature value means (the params file records the version it was trained with). */
export const FEATURE_SPEC_VERSION = 'scene-features/2';

/** Which backbone output the classifier reads. `output` exists in the official ONNX Model Zoo file too. */
export type BackboneOutput = 'features' | 'output';

export const BACKBONE_SIZE = 224;
const MEAN = [0.485, 0.456, 0.406] as const;
const STD = [0.229, 0.224, 0.225] as const;

/** A rectangle of the source image in (fractional) pixels. */
export interface CropRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Per output index, the source indices it averages and their weights (exact box filter). */
interface BoxWeights {
  index: Int32Array;
  /** Rounded to float32 (the precision the weights were trained with), held as doubles for the inner loops. */
  weight: Float64Array;
  offsets: Int32Array;
  /** Every output's taps are consecutive source indices (no clamping at a border): the fast path applies. */
  contiguous: boolean;
  /** Per output, 1 where its inner taps may be added up as integers first (see EXACT_GROUPING_MIN_WEIGHT). */
  grouped: Uint8Array;
}

/**
 * An output's sum of pixel x weight, taken tap by tap in double, is exact (no rounding at any step) when every
 * weight is at least this: a float32 weight w >= 2^-20 is a 24-bit integer times 2^-43 or a coarser power of two,
 * a pixel is 8 bits, so every product and every partial sum (below 2^9) is a multiple of 2^-43 with at most 52
 * significant bits. An exact sum does not depend on how it is grouped, so the inner taps, which all share one
 * weight, can be added as integers and multiplied once: the very same double, hence the same float32, as the
 * tap-by-tap sum, at about half the cost.
 */
const EXACT_GROUPING_MIN_WEIGHT = 2 ** -20;

function computeBoxWeights(srcStart: number, srcLength: number, srcSize: number, outSize: number): BoxWeights {
  const scale = srcLength / outSize;
  const offsets = new Int32Array(outSize + 1);
  const indices: number[] = [];
  const weights: number[] = [];
  for (let o = 0; o < outSize; o++) {
    const a = srcStart + o * scale;
    const b = srcStart + (o + 1) * scale;
    let first = Math.floor(a);
    let last = Math.ceil(b) - 1;
    if (last < first) last = first;
    let total = 0;
    const start = indices.length;
    for (let s = first; s <= last; s++) {
      const overlap = Math.min(b, s + 1) - Math.max(a, s);
      if (overlap <= 0) continue;
      indices.push(Math.min(srcSize - 1, Math.max(0, s)));
      weights.push(overlap);
      total += overlap;
    }
    if (indices.length === start) {
      // Degenerate (zero-width) interval: nearest pixel.
      first = Math.min(srcSize - 1, Math.max(0, Math.round(a)));
      indices.push(first);
      weights.push(1);
      total = 1;
    }
    for (let k = start; k < indices.length; k++) weights[k] = (weights[k] as number) / total;
    offsets[o + 1] = indices.length;
  }
  const index = Int32Array.from(indices);
  let contiguous = true;
  for (let o = 0; o < outSize && contiguous; o++) {
    for (let k = (offsets[o] as number) + 1; k < (offsets[o + 1] as number); k++) {
      if (index[k] !== (index[k - 1] as number) + 1) {
        contiguous = false;
        break;
      }
    }
  }
  const weight = Float64Array.from(Float32Array.from(weights));
  const grouped = new Uint8Array(outSize);
  for (let o = 0; o < outSize && contiguous; o++) {
    const first = offsets[o] as number;
    const last = (offsets[o + 1] as number) - 1;
    if (last - first < 2) continue;
    let ok = true;
    for (let k = first; k <= last && ok; k++) {
      ok = (weight[k] as number) >= EXACT_GROUPING_MIN_WEIGHT && (k === first || k === last || weight[k] === weight[first + 1]);
    }
    grouped[o] = ok ? 1 : 0;
  }
  return { index, weight, offsets, contiguous, grouped };
}

/** Weights depend only on the geometry: the same few (frame size -> 224 / 160x90) recur for every image. */
const weightCache = new Map<string, BoxWeights>();

function boxWeights(srcStart: number, srcLength: number, srcSize: number, outSize: number): BoxWeights {
  const key = `${srcStart},${srcLength},${srcSize},${outSize}`;
  let weights = weightCache.get(key);
  if (!weights) {
    if (weightCache.size >= 64) weightCache.clear();
    weights = computeBoxWeights(srcStart, srcLength, srcSize, outSize);
    weightCache.set(key, weights);
  }
  return weights;
}

/**
 * Area-average (box filter) resize of interleaved 8-bit RGB to outW x outH, values 0..1, interleaved, float32.
 * `crop` selects a source rectangle (default: the whole image). Deterministic, separable, O(pixels).
 *
 * The arithmetic is fixed (it defines the features the scene parameters were trained on): a horizontal pass sums
 * pixel x float32 weight in double, tap by tap, into a float32 row; a vertical pass adds row x (weight / 255) into the
 * float32 output, tap by tap. The loops below are laid out for speed (consecutive taps walked by pointer, weights
 * cached per geometry) without changing a single operation or its order.
 */
export function resizeArea(rgb: Uint8Array, width: number, height: number, outW: number, outH: number, crop?: CropRect): Float32Array {
  return resizeAreaInto(new Float32Array(outW * outH * 3), rgb, width, height, outW, outH, crop);
}

/**
 * Scratch memory of this thread, reused from image to image: a few MB per image less for the garbage collector
 * (typed arrays that size set off full collections). Every user overwrites what it reads, and nothing here awaits.
 */
const scratch = { rows: new Float32Array(0), backbone: new Float32Array(0), stats: new Float32Array(0) };
function scratchFloats(which: keyof typeof scratch, length: number): Float32Array {
  if (scratch[which].length < length) scratch[which] = new Float32Array(length);
  return scratch[which].subarray(0, length);
}

/** resizeArea into `out` (outW * outH * 3 floats, overwritten). */
function resizeAreaInto(
  out: Float32Array,
  rgb: Uint8Array,
  width: number,
  height: number,
  outW: number,
  outH: number,
  crop?: CropRect,
): Float32Array {
  if (rgb.length !== width * height * 3)
    throw new Error(`rgb has ${rgb.length} bytes, expected ${width * height * 3} for ${width}x${height}`);
  out.fill(0);
  const rect = crop ?? { x: 0, y: 0, w: width, h: height };
  const hx = boxWeights(rect.x, rect.w, width, outW);
  const vy = boxWeights(rect.y, rect.h, height, outH);
  const rowFirst = vy.index[vy.offsets[0] as number] as number;
  const rowLast = vy.index[(vy.offsets[outH] as number) - 1] as number;
  // Horizontal pass over the rows the vertical pass needs.
  const rows = rowLast - rowFirst + 1;
  const rowLen = outW * 3;
  const tmp = scratchFloats('rows', rows * rowLen);
  const { index: hIndex, weight: hWeight, offsets: hOffsets, grouped } = hx;
  for (let r = 0; r < rows; r++) {
    const src = (rowFirst + r) * width * 3;
    let dst = r * rowLen;
    let k = 0;
    for (let o = 0; o < outW; o++) {
      const end = hOffsets[o + 1] as number;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      if (grouped[o] === 1) {
        // first x its weight + (sum of the inner pixels) x their common weight + last x its weight: exact, see above.
        let p = src + (hIndex[k] as number) * 3;
        const wFirst = hWeight[k] as number;
        const wInner = hWeight[k + 1] as number;
        const wLast = hWeight[end - 1] as number;
        const f0 = rgb[p] as number;
        const f1 = rgb[p + 1] as number;
        const f2 = rgb[p + 2] as number;
        let m0 = 0;
        let m1 = 0;
        let m2 = 0;
        p += 3;
        for (let q = k + 1; q < end - 1; q++, p += 3) {
          m0 += rgb[p] as number;
          m1 += rgb[p + 1] as number;
          m2 += rgb[p + 2] as number;
        }
        s0 = f0 * wFirst + m0 * wInner + (rgb[p] as number) * wLast;
        s1 = f1 * wFirst + m1 * wInner + (rgb[p + 1] as number) * wLast;
        s2 = f2 * wFirst + m2 * wInner + (rgb[p + 2] as number) * wLast;
        k = end;
      } else if (hx.contiguous) {
        for (let p = src + (hIndex[k] as number) * 3; k < end; k++, p += 3) {
          const w = hWeight[k] as number;
          s0 += (rgb[p] as number) * w;
          s1 += (rgb[p + 1] as number) * w;
          s2 += (rgb[p + 2] as number) * w;
        }
      } else {
        for (; k < end; k++) {
          const p = src + (hIndex[k] as number) * 3;
          const w = hWeight[k] as number;
          s0 += (rgb[p] as number) * w;
          s1 += (rgb[p + 1] as number) * w;
          s2 += (rgb[p + 2] as number) * w;
        }
      }
      tmp[dst++] = s0;
      tmp[dst++] = s1;
      tmp[dst++] = s2;
    }
  }
  for (let o = 0; o < outH; o++) {
    const dst = o * rowLen;
    for (let k = vy.offsets[o] as number, end = vy.offsets[o + 1] as number; k < end; k++) {
      const src = ((vy.index[k] as number) - rowFirst) * rowLen;
      const w = (vy.weight[k] as number) / 255;
      for (let i = 0; i < rowLen; i++) out[dst + i] = (out[dst + i] as number) + (tmp[src + i] as number) * w;
    }
  }
  return out;
}

/**
 * The backbone's input: the whole frame squashed to 224x224 (no centre crop: a 16:9 centre square would cut 22% off
 * each side, and the attributes are about the whole scene, sky and road included; the pooled embedding tolerates the
 * aspect change). `crop` selects another view. CHW float32, ImageNet mean/std normalised; written into `into` when
 * it has the right length.
 */
export function backboneInput(image: Pick<ImageInput, 'rgb' | 'width' | 'height'>, crop?: CropRect, into?: Float32Array): Float32Array {
  const size = BACKBONE_SIZE;
  const hwc = resizeAreaInto(scratchFloats('backbone', size * size * 3), image.rgb, image.width, image.height, size, size, crop);
  const plane = size * size;
  const chw = into && into.length === 3 * plane ? into : new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = MEAN[c] as number;
    const std = STD[c] as number;
    for (let i = 0, p = c, q = c * plane; i < plane; i++, p += 3, q++) chw[q] = ((hwc[p] as number) - mean) / std;
  }
  return chw;
}

/** Names of the image statistics, in vector order. Regions: top/middle/bottom thirds of the frame. */
export const IMAGE_STAT_NAMES = [
  'luma_mean',
  'luma_mean_top',
  'luma_mean_middle',
  'luma_mean_bottom',
  'luma_std',
  'luma_std_top',
  'luma_std_bottom',
  'luma_p05',
  'luma_p50',
  'luma_p95',
  'luma_p95_top',
  'dark_fraction',
  'dark_fraction_top',
  'bright_fraction',
  'bright_fraction_top',
  'saturation_mean',
  'saturation_mean_top',
  'saturation_mean_bottom',
  'sky_blueness_top',
  'warmth',
  'warmth_top',
  'white_fraction',
  'white_fraction_bottom',
  'grey_sky_fraction_top',
  'green_fraction',
  'gradient_mean',
  'gradient_mean_top',
  'gradient_mean_bottom',
  'dark_channel_mean',
  'dark_channel_mean_top',
  'colourfulness',
  'top_minus_bottom_luma',
] as const;

const STATS_W = 160;
const STATS_H = 90;

function percentile(sorted: Float32Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

const bucketCounts = new Uint32Array(1 << 16);

/**
 * percentile(sorted copy of `values`, q) for each q, without sorting all of them (V8 sorts a float array at about
 * 100 ns per element): non-negative floats order like their bit patterns, so a histogram of the top 16 bits finds the
 * bucket holding each needed rank, and only that bucket is sorted. Exactly the same values as a full sort.
 */
function percentiles(values: Float32Array, qs: readonly number[]): number[] {
  const n = values.length;
  if (n === 0) return qs.map(() => 0);
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  for (let i = 0; i < n; i++) {
    // Negative, -0 or NaN (not produced here): fall back to the plain sort.
    if ((bits[i] as number) >= 0x80000000 || Number.isNaN(values[i])) {
      const sorted = values.slice().sort();
      return qs.map((q) => percentile(sorted, q));
    }
  }
  const counts = bucketCounts;
  counts.fill(0);
  for (let i = 0; i < n; i++) {
    const bucket = (bits[i] as number) >>> 16;
    counts[bucket] = (counts[bucket] as number) + 1;
  }
  const valueAtRank = (rank: number): number => {
    let bucket = 0;
    let before = 0;
    while (before + (counts[bucket] as number) <= rank) before += counts[bucket++] as number;
    const members = new Float32Array(counts[bucket] as number);
    for (let i = 0, m = 0; i < n; i++) if ((bits[i] as number) >>> 16 === bucket) members[m++] = values[i] as number;
    return members.sort()[rank - before] as number;
  };
  return qs.map((q) => {
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    const low = valueAtRank(lo);
    const high = hi === lo ? low : valueAtRank(hi);
    return low + (high - low) * (pos - lo);
  });
}

/**
 * Cheap statistics of the frame, computed on a 160x90 area-averaged thumbnail (resolution independent), all in
 * 0..1-ish units. Night: dark sky, dark pixels, bright point lights. Dusk: warm, dim sky. Weather: blue vs grey sky,
 * saturation, white ground (snow), low contrast and high dark channel (haze, rain), edges (city clutter).
 */
export function imageStatistics(image: Pick<ImageInput, 'rgb' | 'width' | 'height'>): Float64Array {
  const W = STATS_W;
  const H = STATS_H;
  const t = resizeAreaInto(scratchFloats('stats', W * H * 3), image.rgb, image.width, image.height, W, H);
  const n = W * H;
  const Y = new Float32Array(n);
  const S = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = t[i * 3] as number;
    const g = t[i * 3 + 1] as number;
    const b = t[i * 3 + 2] as number;
    Y[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    S[i] = max > 1e-6 ? (max - min) / max : 0;
  }
  // Regions: rows [0, third) top, [third, H - third) middle, [H - third, H) bottom. Every statistic is a region mean
  // of a per-pixel quantity, summed in row-major order (one pass feeds all the sums; each sum sees its pixels in the
  // same order as a pass of its own would).
  const third = Math.round(H / 3);
  const count = { all: H * W, top: third * W, middle: (H - third - third) * W, bottom: (H - (H - third)) * W };
  let lumaAll = 0,
    lumaTop = 0,
    lumaMiddle = 0,
    lumaBottom = 0;
  let satAll = 0,
    satTop = 0,
    satBottom = 0;
  let darkAll = 0,
    darkTop = 0,
    brightAll = 0,
    brightTop = 0;
  let skyBluenessTop = 0,
    warmthAll = 0,
    warmthTop = 0,
    whiteAll = 0,
    whiteBottom = 0,
    greySkyTop = 0,
    greenAll = 0;
  let gradAll = 0,
    gradTop = 0,
    gradBottom = 0,
    darkChannelAll = 0,
    darkChannelTop = 0;
  for (let y = 0; y < H; y++) {
    const inTop = y < third;
    const inMiddle = y >= third && y < H - third;
    const inBottom = y >= H - third;
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const luma = Y[i] as number;
      const sat = S[i] as number;
      const r = t[i * 3] as number;
      const g = t[i * 3 + 1] as number;
      const b = t[i * 3 + 2] as number;
      const dark = luma < 0.12 ? 1 : 0;
      const bright = luma > 0.85 ? 1 : 0;
      const warmth = r - b;
      const white = luma > 0.65 && sat < 0.18 ? 1 : 0;
      const dx = x + 1 < W ? Math.abs((Y[i + 1] as number) - luma) : 0;
      const dy = y + 1 < H ? Math.abs((Y[i + W] as number) - luma) : 0;
      const grad = dx + dy;
      const darkChannel = Math.min(r, g, b);
      lumaAll += luma;
      satAll += sat;
      darkAll += dark;
      brightAll += bright;
      warmthAll += warmth;
      whiteAll += white;
      greenAll += g > r && g > b && sat > 0.15 ? 1 : 0;
      gradAll += grad;
      darkChannelAll += darkChannel;
      if (inTop) {
        lumaTop += luma;
        satTop += sat;
        darkTop += dark;
        brightTop += bright;
        skyBluenessTop += b - 0.5 * (r + g);
        warmthTop += warmth;
        greySkyTop += sat < 0.1 && luma > 0.35 && luma < 0.85 ? 1 : 0;
        gradTop += grad;
        darkChannelTop += darkChannel;
      }
      if (inMiddle) lumaMiddle += luma;
      if (inBottom) {
        lumaBottom += luma;
        satBottom += sat;
        whiteBottom += white;
        gradBottom += grad;
      }
    }
  }
  const meanAll = lumaAll / count.all;
  const meanTop = lumaTop / count.top;
  const meanBottom = lumaBottom / count.bottom;
  let varAll = 0,
    varTop = 0,
    varBottom = 0;
  for (let y = 0; y < H; y++) {
    const inTop = y < third;
    const inBottom = y >= H - third;
    for (let x = 0; x < W; x++) {
      const luma = Y[y * W + x] as number;
      varAll += (luma - meanAll) ** 2;
      if (inTop) varTop += (luma - meanTop) ** 2;
      if (inBottom) varBottom += (luma - meanBottom) ** 2;
    }
  }
  const std = (sum: number, pixels: number) => Math.sqrt(Math.max(0, sum / pixels));

  const [p05, p50, p95] = percentiles(Y, [0.05, 0.5, 0.95]) as [number, number, number];
  const [p95Top] = percentiles(Y.subarray(0, third * W), [0.95]) as [number];

  // Hasler & Suesstrunk colourfulness.
  let rgM = 0;
  let ybM = 0;
  for (let i = 0; i < n; i++) {
    const r = t[i * 3] as number;
    const g = t[i * 3 + 1] as number;
    const b = t[i * 3 + 2] as number;
    rgM += r - g;
    ybM += 0.5 * (r + g) - b;
  }
  rgM /= n;
  ybM /= n;
  let rgV = 0;
  let ybV = 0;
  for (let i = 0; i < n; i++) {
    const r = t[i * 3] as number;
    const g = t[i * 3 + 1] as number;
    const b = t[i * 3 + 2] as number;
    rgV += (r - g - rgM) ** 2;
    ybV += (0.5 * (r + g) - b - ybM) ** 2;
  }
  const colourfulness = Math.sqrt(rgV / n + ybV / n) + 0.3 * Math.sqrt(rgM * rgM + ybM * ybM);

  const values: Record<(typeof IMAGE_STAT_NAMES)[number], number> = {
    luma_mean: meanAll,
    luma_mean_top: meanTop,
    luma_mean_middle: lumaMiddle / count.middle,
    luma_mean_bottom: meanBottom,
    luma_std: std(varAll, count.all),
    luma_std_top: std(varTop, count.top),
    luma_std_bottom: std(varBottom, count.bottom),
    luma_p05: p05,
    luma_p50: p50,
    luma_p95: p95,
    luma_p95_top: p95Top,
    dark_fraction: darkAll / count.all,
    dark_fraction_top: darkTop / count.top,
    bright_fraction: brightAll / count.all,
    bright_fraction_top: brightTop / count.top,
    saturation_mean: satAll / count.all,
    saturation_mean_top: satTop / count.top,
    saturation_mean_bottom: satBottom / count.bottom,
    sky_blueness_top: skyBluenessTop / count.top,
    warmth: warmthAll / count.all,
    warmth_top: warmthTop / count.top,
    white_fraction: whiteAll / count.all,
    white_fraction_bottom: whiteBottom / count.bottom,
    grey_sky_fraction_top: greySkyTop / count.top,
    green_fraction: greenAll / count.all,
    gradient_mean: gradAll / count.all,
    gradient_mean_top: gradTop / count.top,
    gradient_mean_bottom: gradBottom / count.bottom,
    dark_channel_mean: darkChannelAll / count.all,
    dark_channel_mean_top: darkChannelTop / count.top,
    colourfulness,
    top_minus_bottom_luma: meanTop - meanBottom,
  };
  return Float64Array.from(IMAGE_STAT_NAMES, (name) => values[name]);
}

/** A loaded backbone (backbone.ts): one ONNX session, run one image at a time. */
export interface Backbone {
  /** The graph's output names (the derived export has `features` besides `output`). */
  readonly outputs: readonly string[];
  /**
   * `as published`, or `unsigned weights`: the model with its int8 weights made uint8, losslessly, because this CPU's
   * int8 kernels did not give the exact sums (models/unsigned-int8-weights.ts). The outputs are the same either way.
   */
  readonly weights: 'as published' | 'unsigned weights';
  /** The named outputs for one 224x224 CHW input, flattened (`features` [1,1280,1,1] becomes 1280 values). */
  run(input: Float32Array, outputs: readonly BackboneOutput[]): Promise<Map<BackboneOutput, Float32Array>>;
  close(): Promise<void>;
}

/** What the feature vector is made of; stored in the params file and checked by the runtime. */
export interface FeatureSpec {
  version: string;
  backboneOutput: BackboneOutput;
  imageStats: readonly string[];
}

export const BACKBONE_OUTPUT_LENGTH: Record<BackboneOutput, number> = { features: 1280, output: 1000 };

export function featureLength(spec: Pick<FeatureSpec, 'backboneOutput' | 'imageStats'>): number {
  return BACKBONE_OUTPUT_LENGTH[spec.backboneOutput] + spec.imageStats.length;
}

export function featureSpec(backboneOutput: BackboneOutput): FeatureSpec {
  return { version: FEATURE_SPEC_VERSION, backboneOutput, imageStats: [...IMAGE_STAT_NAMES] };
}

/** The measured parts of one image, before they are laid out into a vector. */
export interface RawSceneFeatures {
  backbone: Map<BackboneOutput, Float32Array>;
  stats: Float64Array;
}

/**
 * What one frame gives the classifier besides the backbone's output: the backbone's input (from the full resolution;
 * written into `into` when it has the right length) and the image statistics (from the halved copy, thumbnail.ts).
 */
export function sceneInputs(image: RgbFrame, into?: Float32Array): { input: Float32Array; stats: Float64Array } {
  return { input: backboneInput(image, undefined, into), stats: imageStatistics(thumbnailAtLeast(image, STATS_W, STATS_H)) };
}

/** Run the backbone once on the whole frame (for the requested outputs) and compute the image statistics. */
export async function measureImage(
  backbone: Backbone,
  image: Pick<ImageInput, 'rgb' | 'width' | 'height'>,
  outputs: readonly BackboneOutput[],
): Promise<RawSceneFeatures> {
  const { input, stats } = sceneInputs(image, spareBackboneInputs.pop());
  const values = await backbone.run(input, outputs);
  // The run is over: its input can serve the next image (a fresh 600 KB array per image costs page faults and GC).
  if (spareBackboneInputs.length < 4) spareBackboneInputs.push(input);
  return { backbone: values, stats };
}

const spareBackboneInputs: Float32Array[] = [];

/** Lay the measured parts out in the order a FeatureSpec defines: backbone output, then the image statistics. */
export function assembleFeatures(raw: RawSceneFeatures, spec: FeatureSpec): Float64Array {
  if (spec.version !== FEATURE_SPEC_VERSION) {
    throw new Error(`scene features: the parameters were trained with ${spec.version}, this code computes ${FEATURE_SPEC_VERSION}`);
  }
  if (spec.imageStats.length !== IMAGE_STAT_NAMES.length || spec.imageStats.some((name, i) => name !== IMAGE_STAT_NAMES[i])) {
    throw new Error('scene features: the parameters list different image statistics than this code computes');
  }
  const head = raw.backbone.get(spec.backboneOutput);
  if (!head || head.length !== BACKBONE_OUTPUT_LENGTH[spec.backboneOutput]) {
    throw new Error(`scene features: backbone output "${spec.backboneOutput}" missing or of the wrong length`);
  }
  const out = new Float64Array(featureLength(spec));
  out.set(head, 0);
  out.set(raw.stats, head.length);
  return out;
}

/** The full feature vector of one image, in the order the params file's weights expect. */
export async function extractSceneFeatures(
  backbone: Backbone,
  image: Pick<ImageInput, 'rgb' | 'width' | 'height'>,
  spec: FeatureSpec,
): Promise<Float64Array> {
  return assembleFeatures(await measureImage(backbone, image, [spec.backboneOutput]), spec);
}
