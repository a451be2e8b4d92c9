/**
 * Training-side helpers of the local scene classifier (used by trainer.ts; kept under src/ so
 * they are type-checked and tested with the rest): the seeded stratified hold-out split, stratified k-fold
 * cross-validation for choosing the L2 strength, and fitting one attribute's model into the shape the params file
 * stores (weights over standardised features, feature-group scaling folded in).
 */
import { createHash } from 'node:crypto';
import {
  fitSoftmax,
  fitStandardizer,
  matrixFromRows,
  predictProba,
  rowSpace,
  standardize,
  type Matrix,
  type SoftmaxModel,
  type Standardizer,
} from './logreg';

/** A darker copy of an image: every RGB value times `factor` (rounded). A night frame with less light is still night. */
export function darkenImage<T extends { rgb: Uint8Array }>(image: T, factor: number): T {
  return { ...image, rgb: Uint8Array.from(image.rgb, (v) => Math.round(v * factor)) };
}

/** A deterministic pseudo-random number in [0, 1) from a seed and a key. */
export function seededUnit(seed: string, key: string): number {
  return createHash('sha256').update(`${seed}\u0000${key}`).digest().readUInt32BE(0) / 2 ** 32;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Stratified systematic sampling: items are grouped by `strata[0]`, ordered inside a group by the remaining strata
 * and then a seeded hash of the name, and every (1/fraction)-th one is taken with a seeded phase. Each group gives
 * round(fraction * size) items (+-1), and the secondary keys are spread evenly too.
 */
export function stratifiedSample<T extends { name: string }>(
  items: readonly T[],
  strata: readonly ((item: T) => string)[],
  fraction: number,
  seed: string,
): Set<string> {
  const primary = strata[0] ?? (() => '');
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = primary(item);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  const chosen = new Set<string>();
  for (const key of [...groups.keys()].sort(compare)) {
    const group = (groups.get(key) ?? []).slice().sort((a, b) => {
      for (const s of strata.slice(1)) {
        const c = compare(s(a), s(b));
        if (c !== 0) return c;
      }
      return seededUnit(seed, a.name) - seededUnit(seed, b.name) || compare(a.name, b.name);
    });
    const phase = seededUnit(seed, `phase:${key}`);
    group.forEach((item, i) => {
      if (Math.floor((i + 1) * fraction + phase) > Math.floor(i * fraction + phase)) chosen.add(item.name);
    });
  }
  return chosen;
}

/**
 * The hold-out split of the scene classifier: stratified by timeofday (the rarest classes: night, dawn/dusk), then
 * spread over scene and weather. Only names and labels decide it.
 */
export function holdoutSplit<T extends { name: string; labels: Record<'weather' | 'timeofday' | 'scene', string> }>(
  items: readonly T[],
  fraction: number,
  seed: string,
): Set<string> {
  return stratifiedSample(items, [(e) => e.labels.timeofday, (e) => e.labels.scene, (e) => e.labels.weather], fraction, seed);
}

/** Fold index (0..k-1) per item, stratified by `label` (sorted by label, then seeded hash, then dealt round-robin). */
export function stratifiedFolds(names: readonly string[], labels: readonly string[], k: number, seed: string): Int32Array {
  const order = names
    .map((_, i) => i)
    .sort(
      (a, b) =>
        compare(labels[a] as string, labels[b] as string) || seededUnit(seed, names[a] as string) - seededUnit(seed, names[b] as string),
    );
  const folds = new Int32Array(names.length);
  order.forEach((index, position) => {
    folds[index] = position % k;
  });
  return folds;
}

export interface FeatureGroup {
  name: string;
  start: number;
  length: number;
  /** Multiplies the standardised values: a larger scale means a weaker effective L2 penalty on that group. */
  scale: number;
}

export interface AttributeFit {
  classes: string[];
  /** classes x features over standardised (not group-scaled) features: the group scale is folded in. */
  weights: Float64Array;
  bias: Float64Array;
  iterations: number;
}

function groupScale(cols: number, groups: readonly FeatureGroup[]): Float64Array {
  const scale = new Float64Array(cols).fill(1);
  for (const g of groups) for (let j = g.start; j < g.start + g.length; j++) scale[j] = g.scale;
  return scale;
}

/** One attribute's training data, standardised and projected once, ready to fit at any L2 strength. */
export interface PreparedAttribute {
  classes: string[];
  y: Int32Array;
  coords: Matrix;
  basis: Matrix;
  scale: Float64Array;
  /** Per-row weights of the loss (class balancing); absent: all 1. */
  weights?: Float64Array;
}

/**
 * Row weights that lift rare classes: (rows / (classes x rows of that class))^balance. 0: every row 1 (plain
 * maximum likelihood, the majority class wins every doubt); 1: every class weighs the same in the loss.
 */
export function classBalanceWeights(y: Int32Array, classes: number, balance: number): Float64Array | undefined {
  if (balance === 0) return undefined;
  const counts = new Array<number>(classes).fill(0);
  for (const k of y) counts[k] = (counts[k] as number) + 1;
  return Float64Array.from(y, (k) => (y.length / (classes * (counts[k] as number))) ** balance);
}

/**
 * Prepare one attribute: `rows` are raw feature vectors, `labels` class names; classes are the ones present (in
 * `vocabulary` order), so a class absent from training gets no weights and is never predicted. The rows are
 * standardised, group-scaled and expressed in the row space of the result (exact for L2: the optimum lies there;
 * n x n instead of n x d).
 */
export function prepareAttribute(
  rows: readonly Float64Array[],
  labels: readonly string[],
  vocabulary: readonly string[],
  standardizer: Standardizer,
  groups: readonly FeatureGroup[],
  balance = 0,
): PreparedAttribute {
  const classes = vocabulary.filter((v) => labels.includes(v));
  if (classes.length < 2) throw new Error(`need at least two classes to train, got ${classes.join(', ') || 'none'}`);
  const x = matrixFromRows(rows);
  const scale = groupScale(x.cols, groups);
  const { coords, basis } = rowSpace(standardize(x, standardizer, scale));
  const y = Int32Array.from(labels, (l) => classes.indexOf(l));
  const weights = classBalanceWeights(y, classes.length, balance);
  return { classes, y, coords, basis, scale, ...(weights ? { weights } : {}) };
}

/**
 * Fit at several L2 strengths (results in the order given), from the strongest to the weakest, each one started from
 * the previous solution (same optimum, fewer iterations). The models are over the prepared coordinates; `expandFit`
 * maps one back to standardised features. Deterministic.
 */
export function fitPath(prepared: PreparedAttribute, lambdas: readonly number[]): SoftmaxModel[] {
  const order = lambdas.map((_, i) => i).sort((a, b) => (lambdas[b] as number) - (lambdas[a] as number));
  const fits: SoftmaxModel[] = new Array(lambdas.length);
  let init: Float64Array | undefined;
  for (const li of order) {
    const options = {
      lambda: lambdas[li] as number,
      maxIterations: 300,
      tolerance: 1e-5,
      ...(init ? { init } : {}),
      ...(prepared.weights ? { sampleWeights: prepared.weights } : {}),
    };
    const fit = fitSoftmax(prepared.coords, prepared.y, prepared.classes.length, options);
    init = new Float64Array(fit.weights.length + fit.bias.length);
    init.set(fit.weights, 0);
    init.set(fit.bias, fit.weights.length);
    fits[li] = fit;
  }
  return fits;
}

/** A coordinate-space model as weights over standardised features (basis and group scale folded in). */
export function expandFit(prepared: PreparedAttribute, fit: SoftmaxModel & { iterations?: number }): AttributeFit {
  const { classes, basis, scale } = prepared;
  const r = basis.rows;
  const d = basis.cols;
  const weights = new Float64Array(classes.length * d);
  for (let k = 0; k < classes.length; k++) {
    for (let c = 0; c < r; c++) {
      const w = fit.weights[k * r + c] as number;
      for (let j = 0; j < d; j++) weights[k * d + j] = (weights[k * d + j] as number) + w * (basis.data[c * d + j] as number);
    }
    for (let j = 0; j < d; j++) weights[k * d + j] = (weights[k * d + j] as number) * (scale[j] as number);
  }
  return { classes, weights, bias: fit.bias, iterations: fit.iterations ?? 0 };
}

/** Coordinates of a raw feature vector in a prepared attribute's space (standardise, scale, project). */
export function projectRow(prepared: PreparedAttribute, standardizer: Standardizer, row: ArrayLike<number>): Float64Array {
  const { basis, scale } = prepared;
  const d = basis.cols;
  const z = new Float64Array(d);
  for (let j = 0; j < d; j++)
    z[j] = (((row[j] as number) - (standardizer.mean[j] as number)) / (standardizer.std[j] as number)) * (scale[j] as number);
  const out = new Float64Array(basis.rows);
  for (let c = 0; c < basis.rows; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += (basis.data[c * d + j] as number) * (z[j] as number);
    out[c] = s;
  }
  return out;
}

/** Fit a prepared attribute at one L2 strength; the weights come back over standardised features (scale folded in). */
export function fitPrepared(prepared: PreparedAttribute, lambda: number): AttributeFit {
  return expandFit(prepared, fitPath(prepared, [lambda])[0] as SoftmaxModel);
}

export function fitAttribute(
  rows: readonly Float64Array[],
  labels: readonly string[],
  vocabulary: readonly string[],
  standardizer: Standardizer,
  groups: readonly FeatureGroup[],
  lambda: number,
): AttributeFit {
  return fitPrepared(prepareAttribute(rows, labels, vocabulary, standardizer, groups), lambda);
}

/** Class probabilities of one raw feature vector under a fitted attribute. */
export function predictAttribute(
  fit: Pick<AttributeFit, 'weights' | 'bias' | 'classes'>,
  standardizer: Standardizer,
  row: ArrayLike<number>,
): Float64Array {
  const d = standardizer.mean.length;
  const z = new Float64Array(d);
  for (let j = 0; j < d; j++) z[j] = ((row[j] as number) - (standardizer.mean[j] as number)) / (standardizer.std[j] as number);
  return predictProba({ classes: fit.classes.length, features: d, weights: fit.weights, bias: fit.bias }, z);
}

export const argmax = (values: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
};

export interface CvResult {
  lambda: number;
  accuracy: number;
  /** Mean negative log-likelihood of the true class (a proper score: finer than accuracy on few images). */
  logLoss: number;
  /** Mean over the true classes of their recall (balanced accuracy): what a constant guess cannot fake. */
  meanRecall: number;
  correct: number;
  total: number;
}

/** Extra training rows derived from real ones (augmentation); `source[i]` is the index of the row each came from. */
export interface DerivedRows {
  rows: readonly Float64Array[];
  labels: readonly string[];
  source: readonly number[];
}

/**
 * Fold `f`'s training part: the rows outside it, the standardiser fitted on those real rows only, then the derived
 * rows whose source image is outside it (so no copy of a test image is ever trained on); and the test rows' indices.
 */
function foldSplit(folds: Int32Array, f: number, rows: readonly Float64Array[], labels: readonly string[], derived?: DerivedRows) {
  const trainIdx = rows.map((_, i) => i).filter((i) => folds[i] !== f);
  const testIdx = rows.map((_, i) => i).filter((i) => folds[i] === f);
  const trainRows = trainIdx.map((i) => rows[i] as Float64Array);
  const trainLabels = trainIdx.map((i) => labels[i] as string);
  const standardizer = fitStandardizer(matrixFromRows(trainRows));
  derived?.source.forEach((src, j) => {
    if (!(src >= 0 && src < rows.length)) throw new Error(`derived row ${j} has no source row (${src})`);
    if (folds[src] === f) return;
    trainRows.push(derived.rows[j] as Float64Array);
    trainLabels.push(derived.labels[j] as string);
  });
  return { testIdx, trainRows, trainLabels, standardizer };
}

/**
 * Stratified k-fold cross-validated accuracy for each lambda; the standardiser is re-fitted inside every fold (on
 * the fold's real training rows only). Derived rows join a fold's training part only when their source image is in
 * it, so no copy of a test image is ever trained on. Returns one result per lambda, in the order given.
 */
export function crossValidate(
  names: readonly string[],
  rows: readonly Float64Array[],
  labels: readonly string[],
  vocabulary: readonly string[],
  groups: readonly FeatureGroup[],
  lambdas: readonly number[],
  k: number,
  seed: string,
  derived?: DerivedRows,
  balance = 0,
): CvResult[] {
  const folds = stratifiedFolds(names, labels, k, seed);
  const correct = new Array<number>(lambdas.length).fill(0);
  const present = [...new Set(labels)];
  const classCorrect = lambdas.map(() => new Map<string, number>());
  const logLoss = new Array<number>(lambdas.length).fill(0);
  for (let f = 0; f < k; f++) {
    const { testIdx, trainRows, trainLabels, standardizer } = foldSplit(folds, f, rows, labels, derived);
    const prepared = prepareAttribute(trainRows, trainLabels, vocabulary, standardizer, groups, balance);
    const projected = testIdx.map((i) => projectRow(prepared, standardizer, rows[i] as Float64Array));
    fitPath(prepared, lambdas).forEach((fit, li) => {
      testIdx.forEach((i, t) => {
        const p = predictProba(fit, projected[t] as Float64Array);
        if (prepared.classes[argmax(p)] === labels[i]) {
          correct[li] = (correct[li] as number) + 1;
          const byClass = classCorrect[li] as Map<string, number>;
          byClass.set(labels[i] as string, (byClass.get(labels[i] as string) ?? 0) + 1);
        }
        // A class absent from this fold's training rows has probability 0: capped, not infinite.
        const truth = prepared.classes.indexOf(labels[i] as string);
        logLoss[li] = (logLoss[li] as number) - Math.log(Math.max(1e-6, truth < 0 ? 0 : (p[truth] as number)));
      });
    });
  }
  return lambdas.map((lambda, li) => ({
    lambda,
    accuracy: (correct[li] as number) / names.length,
    logLoss: (logLoss[li] as number) / names.length,
    meanRecall:
      present.reduce((s, c) => s + ((classCorrect[li] as Map<string, number>).get(c) ?? 0) / labels.filter((l) => l === c).length, 0) /
      present.length,
    correct: correct[li] as number,
    total: names.length,
  }));
}

export type { Matrix, Standardizer };

/**
 * Out-of-fold class probabilities at one setting (stratified k-fold, the standardiser re-fitted per fold, derived rows
 * only with their source's fold): for every row, a probability per class of `classes` from a model that never saw it.
 * A class absent from a fold's training rows gets probability 0 there.
 */
export function outOfFoldProbabilities(
  names: readonly string[],
  rows: readonly Float64Array[],
  labels: readonly string[],
  classes: readonly string[],
  groups: readonly FeatureGroup[],
  lambda: number,
  k: number,
  seed: string,
  derived?: DerivedRows,
  balance = 0,
): Float64Array[] {
  const folds = stratifiedFolds(names, labels, k, seed);
  const out: Float64Array[] = new Array(names.length);
  for (let f = 0; f < k; f++) {
    const { testIdx, trainRows, trainLabels, standardizer } = foldSplit(folds, f, rows, labels, derived);
    const prepared = prepareAttribute(trainRows, trainLabels, classes, standardizer, groups, balance);
    const fit = fitPath(prepared, [lambda])[0] as SoftmaxModel;
    for (const i of testIdx) {
      const p = predictProba(fit, projectRow(prepared, standardizer, rows[i] as Float64Array));
      const full = new Float64Array(classes.length);
      prepared.classes.forEach((c, j) => (full[classes.indexOf(c)] = p[j] as number));
      out[i] = full;
    }
  }
  return out;
}
