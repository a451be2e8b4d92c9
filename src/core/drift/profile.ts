/**
 * A drift profile: what a set of labeled images looked like (input), what the model answered (output) and how the
 * labeling ran (software), in fixed bins (bins.ts), so that it is small (a few KB whatever the number of images),
 * can be stored with a batch, and profiles of several batches add up into one reference.
 */
import { z } from 'zod';
import type { Frame } from '../labels/schema';
import { ATTRIBUTE_NAMES, normalizeAttribute, type AttributeName } from '../taxonomy/attributes';
import { ImageStatsSchema } from './image-stats';
import { BINS, emptyCounts, type Binning } from './bins';

export const PROFILE_SCHEMA_VERSION = 1;
/** Distinct image formats/sizes kept by name; the rarest beyond these are counted under OTHER. */
const MAX_FORMAT_KEYS = 16;
/** Distinct config hashes remembered (which labeling setups made the frames). */
const MAX_CONFIG_HASHES = 8;
const OTHER = 'other';

const count = z.number().int().nonnegative();
const counts = (binning: Binning) => z.array(count).length(binning.bins);
const categories = z.record(z.string(), count);

export const DriftProfileSchema = z.object({
  kind: z.literal('autolabel.drift-profile'),
  schemaVersion: z.literal(PROFILE_SCHEMA_VERSION),
  /** Labeled images (frames) observed. */
  images: count,
  /** Images that failed labeling. */
  failed: count,
  /** The labeling setups (config hashes) of the frames, first seen first. */
  configHashes: z.array(z.string()).max(MAX_CONFIG_HASHES),
  input: z.object({
    /** Frames whose provenance records the image statistics (frames labeled before they were recorded have none). */
    measured: count,
    /** `jpeg 1280x720`: format and size. */
    formats: categories,
    brightness: counts(BINS.unit),
    contrast: counts(BINS.contrast),
    saturation: counts(BINS.unit),
    nightLike: count,
  }),
  output: z.object({
    /** Frames with detector provenance (or any box): the denominator of the box metrics. */
    detected: count,
    boxesPerImage: counts(BINS.boxes),
    /** Boxes per class. */
    classes: categories,
    /** Score histogram per class. */
    scores: z.record(z.string(), counts(BINS.score)),
    /** Frames a scene model ran on: the denominator of the attribute metrics. */
    classified: count,
    /** Per attribute, frames per answered value. */
    attributes: z.record(z.string(), categories),
    /** Per attribute, frames where the model gave no value (absent or `undefined`). */
    abstained: z.record(z.string(), count),
  }),
  software: z.object({
    /** Frames with a recorded total latency. */
    timed: count,
    latencyMs: counts(BINS.log),
    /** Frames where a provider needed more than one request. */
    retried: count,
    /** Failed images per error kind (`throttled`, `timeout`, ...). */
    failures: categories,
    /** Frames whose providers reported token usage, and the tokens per such frame. */
    metered: count,
    tokensPerImage: counts(BINS.log),
    tokens: z.object({ prompt: count, completion: count }),
  }),
});
export type DriftProfile = z.infer<typeof DriftProfileSchema>;

export function emptyProfile(): DriftProfile {
  return {
    kind: 'autolabel.drift-profile',
    schemaVersion: PROFILE_SCHEMA_VERSION,
    images: 0,
    failed: 0,
    configHashes: [],
    input: {
      measured: 0,
      formats: {},
      brightness: emptyCounts(BINS.unit),
      contrast: emptyCounts(BINS.contrast),
      saturation: emptyCounts(BINS.unit),
      nightLike: 0,
    },
    output: { detected: 0, boxesPerImage: emptyCounts(BINS.boxes), classes: {}, scores: {}, classified: 0, attributes: {}, abstained: {} },
    software: {
      timed: 0,
      latencyMs: emptyCounts(BINS.log),
      retried: 0,
      failures: {},
      metered: 0,
      tokensPerImage: emptyCounts(BINS.log),
      tokens: { prompt: 0, completion: 0 },
    },
  };
}

/**
 * The parts of a frame's provenance drift reads, leniently: frames written by older or newer versions, or by other
 * tools, still count for what they do carry.
 */
const usage = z.object({ promptTokens: z.number(), completionTokens: z.number() }).partial();
const step = z.looseObject({ attempts: z.number().optional(), usage: usage.optional() }).nullish();
const ProvenanceView = z.looseObject({
  configHash: z.string().optional(),
  image: z
    .looseObject({
      width: z.number().optional(),
      height: z.number().optional(),
      format: z.string().optional(),
      stats: ImageStatsSchema.optional(),
    })
    .optional(),
  scene: step,
  detector: step,
  latencyMs: z.number().optional(),
});

const bump = (record: Record<string, number>, key: string, by = 1) => {
  record[key] = (record[key] ?? 0) + by;
};

/** Adds one labeled frame to `profile` (in place). */
export function observeFrame(profile: DriftProfile, frame: Frame): void {
  const parsed = ProvenanceView.safeParse(frame.provenance ?? {});
  const prov = parsed.success ? parsed.data : {};
  profile.images++;
  if (prov.configHash) rememberHash(profile, prov.configHash);

  const image = prov.image;
  if (image?.format) bump(profile.input.formats, `${image.format} ${image.width ?? '?'}x${image.height ?? '?'}`);
  if (image?.stats) {
    const s = image.stats;
    profile.input.measured++;
    profile.input.brightness[BINS.unit.index(s.brightness)]!++;
    profile.input.contrast[BINS.contrast.index(s.contrast)]!++;
    profile.input.saturation[BINS.unit.index(s.saturation)]!++;
    if (s.nightLike) profile.input.nightLike++;
  }

  const labels = frame.labels.filter((l) => l.box2d);
  if (prov.detector || labels.length) {
    profile.output.detected++;
    profile.output.boxesPerImage[BINS.boxes.index(labels.length)]!++;
    for (const label of labels) {
      bump(profile.output.classes, label.category);
      if (label.score !== undefined) {
        const scores = (profile.output.scores[label.category] ??= emptyCounts(BINS.score));
        scores[BINS.score.index(label.score)]!++;
      }
    }
  }
  if (prov.scene || frame.attributes) {
    profile.output.classified++;
    for (const name of ATTRIBUTE_NAMES) observeAttribute(profile, name, frame.attributes?.[name]);
  }

  if (prov.latencyMs !== undefined) {
    profile.software.timed++;
    profile.software.latencyMs[BINS.log.index(prov.latencyMs)]!++;
  }
  if ((prov.scene?.attempts ?? 1) > 1 || (prov.detector?.attempts ?? 1) > 1) profile.software.retried++;
  const prompt = (prov.scene?.usage?.promptTokens ?? 0) + (prov.detector?.usage?.promptTokens ?? 0);
  const completion = (prov.scene?.usage?.completionTokens ?? 0) + (prov.detector?.usage?.completionTokens ?? 0);
  if (prov.scene?.usage || prov.detector?.usage) {
    profile.software.metered++;
    profile.software.tokensPerImage[BINS.log.index(prompt + completion)]!++;
    profile.software.tokens.prompt += prompt;
    profile.software.tokens.completion += completion;
  }
}

function observeAttribute(profile: DriftProfile, name: AttributeName, raw: unknown): void {
  const value = normalizeAttribute(name, raw).value;
  // `undefined` is a BDD value, but from a model it is no answer: counted with the abstentions.
  if (value === 'undefined') bump(profile.output.abstained, name);
  else bump((profile.output.attributes[name] ??= {}), value);
}

/** Adds one image that failed labeling, by its error kind. */
export function observeFailure(profile: DriftProfile, kind: string): void {
  profile.failed++;
  bump(profile.software.failures, kind);
}

function rememberHash(profile: DriftProfile, hash: string): void {
  if (!profile.configHashes.includes(hash) && profile.configHashes.length < MAX_CONFIG_HASHES) profile.configHashes.push(hash);
}

const addCounts = (into: number[], from: readonly number[]) => from.forEach((v, i) => (into[i] = (into[i] ?? 0) + v));
const addCategories = (into: Record<string, number>, from: Readonly<Record<string, number>>) => {
  for (const [k, v] of Object.entries(from)) bump(into, k, v);
};

/** The profile of all the given profiles' images together (a reference made of several batches). */
export function mergeProfiles(profiles: readonly DriftProfile[]): DriftProfile {
  const total = emptyProfile();
  for (const p of profiles) {
    total.images += p.images;
    total.failed += p.failed;
    for (const hash of p.configHashes) rememberHash(total, hash);
    total.input.measured += p.input.measured;
    addCategories(total.input.formats, p.input.formats);
    addCounts(total.input.brightness, p.input.brightness);
    addCounts(total.input.contrast, p.input.contrast);
    addCounts(total.input.saturation, p.input.saturation);
    total.input.nightLike += p.input.nightLike;
    total.output.detected += p.output.detected;
    addCounts(total.output.boxesPerImage, p.output.boxesPerImage);
    addCategories(total.output.classes, p.output.classes);
    for (const [name, scores] of Object.entries(p.output.scores))
      addCounts((total.output.scores[name] ??= emptyCounts(BINS.score)), scores);
    total.output.classified += p.output.classified;
    for (const [name, values] of Object.entries(p.output.attributes)) addCategories((total.output.attributes[name] ??= {}), values);
    addCategories(total.output.abstained, p.output.abstained);
    total.software.timed += p.software.timed;
    addCounts(total.software.latencyMs, p.software.latencyMs);
    total.software.retried += p.software.retried;
    addCategories(total.software.failures, p.software.failures);
    total.software.metered += p.software.metered;
    addCounts(total.software.tokensPerImage, p.software.tokensPerImage);
    total.software.tokens.prompt += p.software.tokens.prompt;
    total.software.tokens.completion += p.software.tokens.completion;
  }
  return capFormats(total);
}

/** Finishes a profile for storage: the format mix capped at MAX_FORMAT_KEYS names. */
export function capFormats(profile: DriftProfile): DriftProfile {
  const entries = Object.entries(profile.input.formats).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  if (entries.length <= MAX_FORMAT_KEYS) return profile;
  const formats = Object.fromEntries(entries.slice(0, MAX_FORMAT_KEYS - 1));
  formats[OTHER] = (formats[OTHER] ?? 0) + entries.slice(MAX_FORMAT_KEYS - 1).reduce((n, [, v]) => n + v, 0);
  return { ...profile, input: { ...profile.input, formats } };
}

/** The profile of a set of frames and failures (the CLI's folders; a batch's documents, a page at a time). */
export function profileOf(frames: Iterable<Frame>, failures: Iterable<{ kind: string }> = []): DriftProfile {
  const profile = emptyProfile();
  for (const frame of frames) observeFrame(profile, frame);
  for (const failure of failures) observeFailure(profile, failure.kind);
  return capFormats(profile);
}
