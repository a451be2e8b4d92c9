/**
 * Feature extraction of the local scene classifier, shared by the runtime and scripts/train-scene-classifier.ts so
 * the two cannot drift: one vector per image = the frozen MobileNetV2 backbone's output for the whole frame
 * (`features`: 1280-d pooled embedding, or `output`: 1000 ImageNet logits) followed by cheap image statistics
 * computed from ImageInput.rgb (brightness of the sky, darkness, saturation, blue sky, snow, haze, edges).
 *
 * Everything here is plain TypeScript arithmetic on the decoded pixels (no sharp, no platform resampler), so training
 * and inference resize identically. The int8 backbone itself may differ slightly between CPU types: consumers compare
 * learned outputs with tolerances, never exact floats.
 */
import type * as Ort from 'onnxruntime-node';
import type { ImageInput } from '../../../core/pipeline/types';

/** Bump when anything below changes what a feature value means (the params file records the version it was trained with). */
export const FEATURE_SPEC_VERSION = 'scene-features/1';

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
function boxWeights(srcStart: number, srcLength: number, srcSize: number, outSize: number): { index: Int32Array; weight: Float32Array; offsets: Int32Array } {
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
  return { index: Int32Array.from(indices), weight: Float32Array.from(weights), offsets };
}

/**
 * Area-average (box filter) resize of interleaved 8-bit RGB to outW x outH, values 0..1, interleaved, float32.
 * `crop` selects a source rectangle (default: the whole image). Deterministic, separable, O(pixels).
 */
export function resizeArea(rgb: Uint8Array, width: number, height: number, outW: number, outH: number, crop?: CropRect): Float32Array {
  if (rgb.length !== width * height * 3) throw new Error(`rgb has ${rgb.length} bytes, expected ${width * height * 3} for ${width}x${height}`);
  const rect = crop ?? { x: 0, y: 0, w: width, h: height };
  const hx = boxWeights(rect.x, rect.w, width, outW);
  const vy = boxWeights(rect.y, rect.h, height, outH);
  const rowFirst = vy.index[vy.offsets[0] as number] as number;
  const rowLast = vy.index[(vy.offsets[outH] as number) - 1] as number;
  // Horizontal pass over the rows the vertical pass needs.
  const rows = rowLast - rowFirst + 1;
  const tmp = new Float32Array(rows * outW * 3);
  for (let r = 0; r < rows; r++) {
    const src = (rowFirst + r) * width * 3;
    const dst = r * outW * 3;
    for (let o = 0; o < outW; o++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      for (let k = hx.offsets[o] as number, end = hx.offsets[o + 1] as number; k < end; k++) {
        const p = src + (hx.index[k] as number) * 3;
        const w = hx.weight[k] as number;
        s0 += (rgb[p] as number) * w;
        s1 += (rgb[p + 1] as number) * w;
        s2 += (rgb[p + 2] as number) * w;
      }
      tmp[dst + o * 3] = s0;
      tmp[dst + o * 3 + 1] = s1;
      tmp[dst + o * 3 + 2] = s2;
    }
  }
  const out = new Float32Array(outW * outH * 3);
  const rowLen = outW * 3;
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
 * aspect change). `crop` selects another view. CHW float32, ImageNet mean/std normalised.
 */
export function backboneInput(image: Pick<ImageInput, 'rgb' | 'width' | 'height'>, crop?: CropRect): Float32Array {
  const size = BACKBONE_SIZE;
  const hwc = resizeArea(image.rgb, image.width, image.height, size, size, crop);
  const plane = size * size;
  const chw = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) chw[c * plane + i] = ((hwc[i * 3 + c] as number) - (MEAN[c] as number)) / (STD[c] as number);
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

/**
 * Cheap statistics of the frame, computed on a 160x90 area-averaged thumbnail (resolution independent), all in
 * 0..1-ish units. Night: dark sky, dark pixels, bright point lights. Dusk: warm, dim sky. Weather: blue vs grey sky,
 * saturation, white ground (snow), low contrast and high dark channel (haze, rain), edges (city clutter).
 */
export function imageStatistics(image: Pick<ImageInput, 'rgb' | 'width' | 'height'>): Float64Array {
  const W = STATS_W;
  const H = STATS_H;
  const t = resizeArea(image.rgb, image.width, image.height, W, H);
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
  const third = Math.round(H / 3);
  const regions = { all: [0, H], top: [0, third], middle: [third, H - third], bottom: [H - third, H] } as const;
  type Region = keyof typeof regions;

  const acc = (region: Region, f: (i: number, x: number, y: number) => number): number => {
    const [y0, y1] = regions[region];
    let sum = 0;
    for (let y = y0; y < y1; y++) for (let x = 0; x < W; x++) sum += f(y * W + x, x, y);
    return sum / ((y1 - y0) * W);
  };
  const mean = (region: Region, a: Float32Array) => acc(region, (i) => a[i] as number);
  const std = (region: Region, a: Float32Array) => {
    const m = mean(region, a);
    return Math.sqrt(Math.max(0, acc(region, (i) => ((a[i] as number) - m) ** 2)));
  };
  const frac = (region: Region, p: (i: number) => boolean) => acc(region, (i) => (p(i) ? 1 : 0));
  const ch = (i: number, c: number) => t[i * 3 + c] as number;
  const grad = (i: number, x: number, y: number) => {
    const dx = x + 1 < W ? Math.abs((Y[i + 1] as number) - (Y[i] as number)) : 0;
    const dy = y + 1 < H ? Math.abs((Y[i + W] as number) - (Y[i] as number)) : 0;
    return dx + dy;
  };
  const darkChannel = (i: number) => Math.min(ch(i, 0), ch(i, 1), ch(i, 2));

  const sorted = Float32Array.from(Y).sort();
  const topSorted = Float32Array.from(Y.subarray(0, third * W)).sort();

  // Hasler & Suesstrunk colourfulness.
  let rgM = 0;
  let ybM = 0;
  for (let i = 0; i < n; i++) {
    rgM += ch(i, 0) - ch(i, 1);
    ybM += 0.5 * (ch(i, 0) + ch(i, 1)) - ch(i, 2);
  }
  rgM /= n;
  ybM /= n;
  let rgV = 0;
  let ybV = 0;
  for (let i = 0; i < n; i++) {
    rgV += (ch(i, 0) - ch(i, 1) - rgM) ** 2;
    ybV += (0.5 * (ch(i, 0) + ch(i, 1)) - ch(i, 2) - ybM) ** 2;
  }
  const colourfulness = Math.sqrt(rgV / n + ybV / n) + 0.3 * Math.sqrt(rgM * rgM + ybM * ybM);

  const values: Record<(typeof IMAGE_STAT_NAMES)[number], number> = {
    luma_mean: mean('all', Y),
    luma_mean_top: mean('top', Y),
    luma_mean_middle: mean('middle', Y),
    luma_mean_bottom: mean('bottom', Y),
    luma_std: std('all', Y),
    luma_std_top: std('top', Y),
    luma_std_bottom: std('bottom', Y),
    luma_p05: percentile(sorted, 0.05),
    luma_p50: percentile(sorted, 0.5),
    luma_p95: percentile(sorted, 0.95),
    luma_p95_top: percentile(topSorted, 0.95),
    dark_fraction: frac('all', (i) => (Y[i] as number) < 0.12),
    dark_fraction_top: frac('top', (i) => (Y[i] as number) < 0.12),
    bright_fraction: frac('all', (i) => (Y[i] as number) > 0.85),
    bright_fraction_top: frac('top', (i) => (Y[i] as number) > 0.85),
    saturation_mean: mean('all', S),
    saturation_mean_top: mean('top', S),
    saturation_mean_bottom: mean('bottom', S),
    sky_blueness_top: acc('top', (i) => ch(i, 2) - 0.5 * (ch(i, 0) + ch(i, 1))),
    warmth: acc('all', (i) => ch(i, 0) - ch(i, 2)),
    warmth_top: acc('top', (i) => ch(i, 0) - ch(i, 2)),
    white_fraction: frac('all', (i) => (Y[i] as number) > 0.65 && (S[i] as number) < 0.18),
    white_fraction_bottom: frac('bottom', (i) => (Y[i] as number) > 0.65 && (S[i] as number) < 0.18),
    grey_sky_fraction_top: frac('top', (i) => (S[i] as number) < 0.1 && (Y[i] as number) > 0.35 && (Y[i] as number) < 0.85),
    green_fraction: frac('all', (i) => ch(i, 1) > ch(i, 0) && ch(i, 1) > ch(i, 2) && (S[i] as number) > 0.15),
    gradient_mean: acc('all', grad),
    gradient_mean_top: acc('top', grad),
    gradient_mean_bottom: acc('bottom', grad),
    dark_channel_mean: acc('all', darkChannel),
    dark_channel_mean_top: acc('top', darkChannel),
    colourfulness,
    top_minus_bottom_luma: mean('top', Y) - mean('bottom', Y),
  };
  return Float64Array.from(IMAGE_STAT_NAMES, (name) => values[name]);
}

/** A loaded backbone: one ONNX session, run one image at a time. */
export interface Backbone {
  /** The graph's output names (the derived export has `features` besides `output`). */
  readonly outputs: readonly string[];
  /** The named outputs for one 224x224 CHW input, flattened (`features` [1,1280,1,1] becomes 1280 values). */
  run(input: Float32Array, outputs: readonly BackboneOutput[]): Promise<Map<BackboneOutput, Float32Array>>;
  close(): Promise<void>;
}

export async function loadBackbone(file: string, options: { threads?: number } = {}): Promise<Backbone> {
  // Loaded lazily: onnxruntime-node is a native module, and nothing needs it until a local model runs.
  const ort: typeof Ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inputName = session.inputNames[0] ?? 'input';
  return {
    outputs: [...session.outputNames],
    async run(input, outputs) {
      const missing = outputs.filter((o) => !session.outputNames.includes(o));
      if (missing.length > 0) {
        throw new Error(`the backbone ${file} has no output ${missing.join(', ')} (it has ${session.outputNames.join(', ')})`);
      }
      const tensor = new ort.Tensor('float32', input, [1, 3, BACKBONE_SIZE, BACKBONE_SIZE]);
      const result = await session.run({ [inputName]: tensor }, [...outputs]);
      const values = new Map<BackboneOutput, Float32Array>();
      for (const output of outputs) {
        const data = result[output]?.data;
        if (!(data instanceof Float32Array)) throw new Error(`the backbone returned no float32 "${output}"`);
        values.set(output, Float32Array.from(data));
      }
      return values;
    },
    close: () => session.release(),
  };
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

/** Run the backbone once on the whole frame (for the requested outputs) and compute the image statistics. */
export async function measureImage(
  backbone: Backbone,
  image: Pick<ImageInput, 'rgb' | 'width' | 'height'>,
  outputs: readonly BackboneOutput[],
): Promise<RawSceneFeatures> {
  return { backbone: await backbone.run(backboneInput(image), outputs), stats: imageStatistics(image) };
}

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
export async function extractSceneFeatures(backbone: Backbone, image: Pick<ImageInput, 'rgb' | 'width' | 'height'>, spec: FeatureSpec): Promise<Float64Array> {
  return assembleFeatures(await measureImage(backbone, image, [spec.backboneOutput]), spec);
}
