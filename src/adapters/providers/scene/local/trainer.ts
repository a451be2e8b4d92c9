/**
 * Training the local scene classifier from labeled images: what `autolabel train-scene` runs on any labels, and what
 * `npm run train:scene` runs on the shared BDD100K images to write the committed scene-model.json.
 *
 * 1. Features per image (features.ts, the runtime's code): the backbone's `output` logits (and `features`, when
 *    compared) + image statistics; night images also give darker copies (x0.5, x0.25), training rows for timeofday
 *    only, always in their source image's CV fold.
 * 2. Per attribute: repeated stratified k-fold CV picks the L2 strength, the image-statistics weight and the
 *    class balancing, on the training part (every image, or what a hold-out split leaves): the highest mean per-class
 *    recall within ACCURACY_TOLERANCE of the best accuracy. `output` is used unless `features` are clearly better.
 * 3. Fit on the training part.
 * 4. Calibration, cross-validated on every labeled image given: out-of-fold probabilities at the chosen setting, the
 *    expected calibration error before and after a per-attribute temperature (the "after" figure with temperatures
 *    fitted on other images only), the reliability table, the accuracy-vs-coverage curve and, from it, the default
 *    abstention threshold (minConfidence) per attribute. The temperature goes into the params and the runtime
 *    applies it, so every confidence the model states is the calibrated one.
 * 5. With a hold-out split, the held-out images are scored (they take no part in any choice of step 2).
 *
 * Deterministic: same images, labels and CPU, same parameters.
 */
import { createHash } from 'node:crypto';
import {
  chooseMinConfidence,
  coverageCurve,
  crossCalibrated,
  expectedCalibrationError,
  fitTemperature,
  perClassRecall,
  reliabilityTable,
  type ScoredPrediction,
} from '../../../../core/evaluation/attribute-calibration';
import type { ImageInput } from '../../../../core/pipeline/types';
import { ATTRIBUTE_NAMES, ATTRIBUTE_VOCABULARIES, type AttributeName } from '../../../../core/taxonomy/attributes';
import { MOBILENETV2_INT8, sha256File } from '../../models/model-files';
import {
  assembleFeatures,
  featureSpec,
  IMAGE_STAT_NAMES,
  measureImage,
  type BackboneOutput,
  type FeatureSpec,
  type RawSceneFeatures,
} from './features';
import { loadBackbone } from './backbone';
import { fitStandardizer, matrixFromRows } from './logreg';
import { compileSceneModel, SCENE_PARAMS_FORMAT, SceneModelParamsSchema, type SceneModelParams } from './params';
import {
  crossValidate,
  darkenImage,
  fitPrepared,
  holdoutSplit,
  outOfFoldProbabilities,
  prepareAttribute,
  seededUnit,
  type DerivedRows,
  type FeatureGroup,
} from './training';
import type { SceneLabels } from './training-data';

export const CV_FOLDS = 5;
export const CV_SEEDS = ['cv-1', 'cv-2', 'cv-3'] as const;
export const LAMBDAS = [0.03, 0.1, 0.3, 1, 3, 10, 30];
/**
 * Weights of the image-statistics group tried in CV (x1: the 32 statistics count like any of the 1000 logits under
 * the L2 penalty). timeofday tries only x3 and x10: night is physically a brightness boundary, CV cannot tell x1 from
 * x3 apart, and at x1 the logits outvote the statistics on frames unlike any training image (an all-but-black frame
 * came out "daytime").
 */
export const STATS_SCALES: Record<AttributeName, number[]> = { weather: [1, 3], timeofday: [3, 10], scene: [1, 3] };
export const NIGHT_DARKEN_FACTORS = [0.5, 0.25];
/** Class-balancing exponents tried in CV (training.ts classBalanceWeights): 0 plain, 1 every class weighs the same. */
export const CLASS_BALANCES = [0, 0.5, 1];
/**
 * Model choice: the highest CV mean per-class recall among the settings whose CV accuracy is within this of the best.
 * Accuracy alone rewards always answering the majority class (86% of timeofday is daytime); mean recall alone gives
 * up too many majority answers (balancing timeofday fully found 11 of 33 dawn/dusk predictions but lost 53 daytime
 * ones, accuracy 92.4% -> 84.1%).
 */
export const ACCURACY_TOLERANCE = 0.01;
/** How much better (mean CV accuracy over the attributes) `features` must be to give up the official file. */
const FEATURES_MARGIN = 0.03;
/** Fewest labeled images per attribute worth training on (each of 5 folds then tests at least 2). */
export const MIN_TRAINING_IMAGES = 10;

export interface TrainingImage {
  name: string;
  /** Closed-vocabulary values; `undefined` leaves the image out of that attribute. */
  labels: SceneLabels;
  load(): Promise<Pick<ImageInput, 'rgb' | 'width' | 'height'>>;
}

export interface TrainOptions {
  /** The MobileNetV2 file (its sha256 goes into the params). */
  backboneFile: string;
  /** The committed model's protocol: hold these out of every choice and score them at the end. */
  holdout?: { fraction: number; seed: string };
  backboneOutput?: 'auto' | BackboneOutput;
  /** Also try the `features` output (when the file has it). */
  compare?: boolean;
  log?: (line: string) => void;
}

export class SceneTrainingError extends Error {
  override name = 'SceneTrainingError';
}

interface Example {
  name: string;
  labels: SceneLabels;
  raw: RawSceneFeatures;
}

/** A darker copy of a training night image (timeofday rows only), by the name of its source image. */
interface DarkenedCopy {
  source: string;
  raw: RawSceneFeatures;
}

/** An attribute's labeled rows of `set`, with the darkened night copies of those images for timeofday. */
function attributeRows(a: AttributeName, set: readonly Example[], darkened: readonly DarkenedCopy[], spec: FeatureSpec) {
  const labeled = set.filter((e) => e.labels[a] !== 'undefined');
  const names = labeled.map((e) => e.name);
  const copies = a === 'timeofday' ? darkened.filter((d) => names.includes(d.source)) : [];
  const derived: DerivedRows | undefined = copies.length
    ? {
        rows: copies.map((d) => assembleFeatures(d.raw, spec)),
        labels: copies.map(() => 'night'),
        source: copies.map((d) => names.indexOf(d.source)),
      }
    : undefined;
  return { names, rows: labeled.map((e) => assembleFeatures(e.raw, spec)), labels: labeled.map((e) => e.labels[a]), derived };
}

const round = (v: number) => Number(v.toPrecision(5));
const pct = (v: number) => (v < 0 ? 'n/a' : `${(100 * v).toFixed(1)}%`);

function majorityOf(labels: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? 'undefined';
}

const countsOf = (labels: readonly string[]) => {
  const c = new Map<string, number>();
  for (const l of labels) c.set(l, (c.get(l) ?? 0) + 1);
  return [...c.entries()]
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
};

/** Indented JSON with every number array on one line: small, and a retrain gives a readable diff of the metadata. */
export function formatSceneParams(params: SceneModelParams): string {
  return `${JSON.stringify(params, null, 2).replace(/\[\s*(-?[0-9][^[\]{}"]*?)\s*\]/g, (_, inner: string) => `[${inner.replace(/,\s+/g, ',')}]`)}\n`;
}

/** Throws SceneTrainingError when some attribute has too few labeled images or a single class. */
export function checkTrainingLabels(images: readonly Pick<TrainingImage, 'labels'>[]): void {
  for (const a of ATTRIBUTE_NAMES) {
    const labels = images.map((i) => i.labels[a]).filter((l) => l !== 'undefined');
    const classes = new Set(labels);
    if (labels.length < MIN_TRAINING_IMAGES || classes.size < 2) {
      throw new SceneTrainingError(
        `${a}: ${labels.length} labeled image(s) in ${classes.size} class(es); training needs at least ${MIN_TRAINING_IMAGES} images in at least 2 classes`,
      );
    }
  }
}

export async function trainSceneModel(images: readonly TrainingImage[], options: TrainOptions): Promise<SceneModelParams> {
  const log = options.log ?? (() => {});
  const forced = options.backboneOutput ?? 'auto';
  const started = Date.now();
  checkTrainingLabels(images);
  const backboneSha = await sha256File(options.backboneFile);
  const backbone = await loadBackbone(options.backboneFile, { threads: 1 });
  const compare = (options.compare ?? false) && forced !== 'output';
  const candidates: BackboneOutput[] =
    forced === 'features' ? ['features'] : backbone.outputs.includes('features') && compare ? ['output', 'features'] : ['output'];
  if (forced === 'features' && !backbone.outputs.includes('features')) {
    await backbone.close();
    throw new SceneTrainingError(`${options.backboneFile} has no "features" output`);
  }
  log(`backbone ${options.backboneFile} (sha256 ${backboneSha.slice(0, 12)}...), outputs: ${candidates.join(', ')}`);

  // Names and labels decide the split: no pixel is looked at before it.
  const heldOut = options.holdout ? holdoutSplit(images, options.holdout.fraction, options.holdout.seed) : new Set<string>();

  // Darker copies of every night image (a night frame with less light is still night): the final fit uses those of
  // the training part, the calibration CV those of each fold's training images.
  const examples: Example[] = [];
  const darkened: DarkenedCopy[] = [];
  let featureMs = 0;
  try {
    for (const item of images) {
      const image = await item.load();
      const t = performance.now();
      examples.push({ name: item.name, labels: item.labels, raw: await measureImage(backbone, image, candidates) });
      featureMs += performance.now() - t;
      if (item.labels.timeofday === 'night') {
        for (const factor of NIGHT_DARKEN_FACTORS)
          darkened.push({ source: item.name, raw: await measureImage(backbone, darkenImage(image, factor), candidates) });
      }
    }
  } finally {
    await backbone.close();
  }
  log(`${examples.length} labeled images; features in ${(featureMs / Math.max(1, examples.length)).toFixed(1)} ms/image`);
  const train = examples.filter((e) => !heldOut.has(e.name));
  const test = examples.filter((e) => heldOut.has(e.name));
  if (options.holdout) log(`split (seed ${options.holdout.seed}): ${train.length} training, ${test.length} held out`);
  for (const a of ATTRIBUTE_NAMES) log(`  ${a.padEnd(9)} ${countsOf(train.map((e) => e.labels[a]))}`);

  interface Outcome {
    output: BackboneOutput;
    params: SceneModelParams;
    cv: Record<
      AttributeName,
      {
        lambda: number;
        statsScale: number;
        classBalance: number;
        accuracy: number;
        meanRecall: number;
        majorityAccuracy: number;
        images: number;
      }
    >;
  }
  const outcomes: Outcome[] = [];
  for (const output of candidates) {
    const spec = featureSpec(output);
    const statsStart = assembleFeatures(examples[0]!.raw, spec).length - IMAGE_STAT_NAMES.length;
    const groupsFor = (statsScale: number): FeatureGroup[] => [
      { name: 'image-stats', start: statsStart, length: IMAGE_STAT_NAMES.length, scale: statsScale },
    ];
    const dataFor = (a: AttributeName, set: readonly Example[]) => attributeRows(a, set, darkened, spec);

    const cv = {} as Outcome['cv'];
    for (const a of ATTRIBUTE_NAMES) {
      const { names, rows, labels, derived } = dataFor(a, train);
      const tried: { lambda: number; statsScale: number; classBalance: number; accuracy: number; meanRecall: number; logLoss: number }[] =
        [];
      for (const classBalance of CLASS_BALANCES) {
        for (const statsScale of STATS_SCALES[a]) {
          const accuracy = LAMBDAS.map(() => 0);
          const recall = LAMBDAS.map(() => 0);
          const loss = LAMBDAS.map(() => 0);
          for (const seed of CV_SEEDS) {
            crossValidate(
              names,
              rows,
              labels,
              ATTRIBUTE_VOCABULARIES[a],
              groupsFor(statsScale),
              LAMBDAS,
              CV_FOLDS,
              seed,
              derived,
              classBalance,
            ).forEach((r, i) => {
              accuracy[i] = accuracy[i]! + r.accuracy / CV_SEEDS.length;
              recall[i] = recall[i]! + r.meanRecall / CV_SEEDS.length;
              loss[i] = loss[i]! + r.logLoss / CV_SEEDS.length;
            });
          }
          const tidy = (v: number) => Math.round(v * 1e9) / 1e9;
          LAMBDAS.forEach((lambda, i) =>
            tried.push({ lambda, statsScale, classBalance, accuracy: tidy(accuracy[i]!), meanRecall: tidy(recall[i]!), logLoss: loss[i]! }),
          );
        }
      }
      // See ACCURACY_TOLERANCE; ties (frequent on ~110 images) go to the higher accuracy, then the lower CV log-loss.
      const bestAccuracy = Math.max(...tried.map((t) => t.accuracy));
      const best = tried
        .filter((t) => t.accuracy >= bestAccuracy - ACCURACY_TOLERANCE - 1e-9)
        .sort((x, y) => y.meanRecall - x.meanRecall || y.accuracy - x.accuracy || x.logLoss - y.logLoss)[0]!;
      const majority = majorityOf(labels);
      cv[a] = {
        lambda: best.lambda,
        statsScale: best.statsScale,
        classBalance: best.classBalance,
        accuracy: best.accuracy,
        meanRecall: best.meanRecall,
        majorityAccuracy: labels.filter((l) => l === majority).length / labels.length,
        images: labels.length,
      };
      log(
        `  ${output} ${a.padEnd(9)} CV ${pct(best.accuracy)}, mean per-class recall ${pct(best.meanRecall)} (best accuracy ${pct(bestAccuracy)}; ` +
          `lambda ${best.lambda}, stats x${best.statsScale}, class balance ${best.classBalance}) vs majority ${pct(cv[a].majorityAccuracy)}`,
      );
    }

    // Fit on the whole training part.
    const standardizer = fitStandardizer(matrixFromRows(train.map((e) => assembleFeatures(e.raw, spec))));
    const attributes = {} as SceneModelParams['attributes'];
    for (const a of ATTRIBUTE_NAMES) {
      const { rows, labels, derived } = dataFor(a, train);
      const fit = fitPrepared(
        prepareAttribute(
          [...rows, ...(derived?.rows ?? [])],
          [...labels, ...(derived?.labels ?? [])],
          ATTRIBUTE_VOCABULARIES[a],
          standardizer,
          groupsFor(cv[a].statsScale),
          cv[a].classBalance,
        ),
        cv[a].lambda,
      );
      const d = standardizer.mean.length;
      attributes[a] = {
        classes: fit.classes,
        weights: fit.classes.map((_, k) => Array.from(fit.weights.subarray(k * d, (k + 1) * d), round)),
        bias: Array.from(fit.bias, round),
        lambda: cv[a].lambda,
        statsScale: cv[a].statsScale,
        classBalance: cv[a].classBalance,
      };
    }
    const standardization = { mean: Array.from(standardizer.mean, round), std: Array.from(standardizer.std, round) };
    const version = `1-${createHash('sha256').update(JSON.stringify({ spec, standardization, attributes })).digest('hex').slice(0, 8)}`;
    const params: SceneModelParams = {
      format: SCENE_PARAMS_FORMAT,
      version,
      featureSpec: { version: spec.version, backboneOutput: spec.backboneOutput, imageStats: [...spec.imageStats] },
      backbone: { model: MOBILENETV2_INT8.id, sha256: backboneSha },
      standardization,
      attributes,
      training: {
        seed: options.holdout?.seed ?? 'none',
        holdoutFraction: options.holdout?.fraction ?? 0,
        images: examples.length,
        trainImages: train.length,
        heldOutNames: test.map((e) => e.name),
        crossValidation: {
          folds: CV_FOLDS,
          repeats: CV_SEEDS.length,
          lambdas: LAMBDAS,
          statsScales: STATS_SCALES,
          classBalances: CLASS_BALANCES,
          accuracyTolerance: ACCURACY_TOLERANCE,
          chosen: Object.fromEntries(
            ATTRIBUTE_NAMES.map((a) => [
              a,
              {
                lambda: cv[a].lambda,
                statsScale: cv[a].statsScale,
                classBalance: cv[a].classBalance,
                accuracy: round(cv[a].accuracy),
                meanRecall: round(cv[a].meanRecall),
                majorityAccuracy: round(cv[a].majorityAccuracy),
                images: cv[a].images,
              },
            ]),
          ) as SceneModelParams['training']['crossValidation']['chosen'],
        },
        augmentation: {
          attribute: 'timeofday',
          label: 'night',
          darkenFactors: NIGHT_DARKEN_FACTORS,
          rows: darkened.filter((d) => !heldOut.has(d.source)).length,
        },
      },
    };
    if (test.length > 0) params.training.heldOut = scoreHeldOut(params, train, test, spec);
    outcomes.push({ output, params, cv });
  }

  const meanCv = (o: Outcome) => ATTRIBUTE_NAMES.reduce((s, a) => s + o.cv[a].accuracy, 0) / ATTRIBUTE_NAMES.length;
  const byOutput = new Map(outcomes.map((o) => [o.output, o]));
  const featuresOutcome = byOutput.get('features');
  let chosen = byOutput.get('output') ?? featuresOutcome!;
  if (forced === 'auto' && featuresOutcome && meanCv(featuresOutcome) > meanCv(chosen) + FEATURES_MARGIN) chosen = featuresOutcome;
  if (outcomes.length > 1) {
    log(`logits vs embedding, mean CV accuracy: ${outcomes.map((o) => `${o.output} ${pct(meanCv(o))}`).join(', ')} -> "${chosen.output}"`);
    chosen.params.training.backboneOutputComparison = Object.fromEntries(
      outcomes.map((o) => [
        o.output,
        {
          crossValidation: Object.fromEntries(ATTRIBUTE_NAMES.map((a) => [a, round(o.cv[a].accuracy)])) as Record<AttributeName, number>,
          heldOut: Object.fromEntries(ATTRIBUTE_NAMES.map((a) => [a, o.params.training.heldOut?.[a].accuracy ?? -1])) as Record<
            AttributeName,
            number
          >,
        },
      ]),
    ) as NonNullable<SceneModelParams['training']['backboneOutputComparison']>;
  }
  const params = chosen.params;
  const heldOutEval = params.training.heldOut;
  if (heldOutEval) {
    log(`held-out images (${test.length}; no part in any choice):`);
    for (const a of ATTRIBUTE_NAMES) {
      const h = heldOutEval[a];
      log(`  ${a.padEnd(9)} ${pct(h.accuracy)} (${h.correct}/${h.images}), majority "${h.majorityClass}" ${pct(h.majorityAccuracy)}`);
    }
  }

  params.calibration = calibrate(params, examples, darkened, log);
  const parsed = SceneModelParamsSchema.parse(params);
  log(`trained version ${parsed.version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return parsed;
}

function scoreHeldOut(
  params: SceneModelParams,
  train: readonly Example[],
  test: readonly Example[],
  spec: ReturnType<typeof featureSpec>,
): NonNullable<SceneModelParams['training']['heldOut']> {
  // The rounded parameters, exactly as the runtime computes them (no calibration yet: it does not move the argmax).
  const compiled = compileSceneModel(params);
  const predictions = test.map((e) => compiled.predict(assembleFeatures(e.raw, spec)));
  const out = {} as NonNullable<SceneModelParams['training']['heldOut']>;
  for (const a of ATTRIBUTE_NAMES) {
    const majorityClass = majorityOf(train.map((e) => e.labels[a]).filter((l) => l !== 'undefined'));
    const confusion: Record<string, Record<string, number>> = {};
    let images = 0;
    let correct = 0;
    let majorityCorrect = 0;
    test.forEach((e, i) => {
      const truth = e.labels[a];
      if (truth === 'undefined') return;
      const predicted = predictions[i]![a].value;
      images++;
      if (predicted === truth) correct++;
      if (majorityClass === truth) majorityCorrect++;
      (confusion[truth] ??= {})[predicted] = (confusion[truth]?.[predicted] ?? 0) + 1;
    });
    out[a] = {
      images,
      correct,
      accuracy: images ? round(correct / images) : 0,
      majorityClass,
      majorityAccuracy: images ? round(majorityCorrect / images) : 0,
      confusion,
    };
  }
  return out;
}

/**
 * Step 4: cross-validated calibration on every labeled image, at each attribute's chosen setting. Out-of-fold
 * probabilities of CV_SEEDS.length repeats of CV_FOLDS-fold CV are pooled (each image once per repeat).
 */
function calibrate(
  params: SceneModelParams,
  examples: readonly Example[],
  darkened: readonly DarkenedCopy[],
  log: (line: string) => void,
): NonNullable<SceneModelParams['calibration']> {
  const spec = params.featureSpec as ReturnType<typeof featureSpec>;
  const statsStart = assembleFeatures(examples[0]!.raw, spec).length - IMAGE_STAT_NAMES.length;
  const attributes = {} as NonNullable<SceneModelParams['calibration']>['attributes'];
  log(`calibration, cross-validated on all ${examples.length} labeled images (${CV_SEEDS.length} x ${CV_FOLDS}-fold):`);
  for (const a of ATTRIBUTE_NAMES) {
    const model = params.attributes[a];
    const { names, rows, labels, derived } = attributeRows(a, examples, darkened, spec);
    const classes = (ATTRIBUTE_VOCABULARIES[a] as readonly string[]).filter((c) => labels.includes(c));
    const groups: FeatureGroup[] = [{ name: 'image-stats', start: statsStart, length: IMAGE_STAT_NAMES.length, scale: model.statsScale }];
    const pooled: ScoredPrediction[] = [];
    for (const seed of CV_SEEDS) {
      outOfFoldProbabilities(names, rows, labels, classes, groups, model.lambda, CV_FOLDS, seed, derived, model.classBalance ?? 0).forEach(
        (p, i) => pooled.push({ probabilities: p, truth: classes.indexOf(labels[i]!), group: names[i]! }),
      );
    }
    const crossFitted = crossCalibrated(pooled, CV_FOLDS, (group) => Math.floor(seededUnit('calibration-folds', group) * CV_FOLDS));
    const eceBefore = expectedCalibrationError(pooled);
    const eceCrossFitted = expectedCalibrationError(crossFitted);
    // A temperature is kept only where it helps on images it was not fitted on; elsewhere T = 1 (raw probabilities).
    const helps = eceCrossFitted < eceBefore;
    const temperature = helps ? fitTemperature(pooled) : 1;
    const calibrated = helps ? crossFitted : pooled;
    const eceAfter = helps ? eceCrossFitted : eceBefore;
    const curve = coverageCurve(calibrated);
    const minConfidence = chooseMinConfidence(curve);
    const recall = perClassRecall(pooled, classes);
    const accuracy = curve[0]!.accuracy;
    attributes[a] = {
      temperature,
      minConfidence,
      images: names.length,
      predictions: pooled.length,
      accuracy: round(accuracy),
      eceBefore: round(eceBefore),
      eceAfter: round(eceAfter),
      eceWithTemperature: round(eceCrossFitted),
      reliability: reliabilityTable(calibrated).map((b) => ({
        ...b,
        meanConfidence: round(b.meanConfidence),
        accuracy: round(b.accuracy),
      })),
      reliabilityBefore: reliabilityTable(pooled).map((b) => ({
        ...b,
        meanConfidence: round(b.meanConfidence),
        accuracy: round(b.accuracy),
      })),
      coverage: curve.map((p) => ({
        ...p,
        coverage: round(p.coverage),
        answeredAccuracy: round(p.answeredAccuracy),
        accuracy: round(p.accuracy),
        net: round(p.net),
      })),
      recall,
    };
    const at = curve.find((p) => p.minConfidence === minConfidence)!;
    log(
      `  ${a.padEnd(9)} accuracy ${pct(accuracy)}; ECE ${eceBefore.toFixed(3)}, with a temperature ${eceCrossFitted.toFixed(3)} ` +
        `(${helps ? `kept: T ${temperature}` : 'no better: T 1'}); ` +
        `minConfidence ${minConfidence}: coverage ${pct(at.coverage)}, accuracy on answered ${pct(at.answeredAccuracy)}`,
    );
    log(
      `  ${''.padEnd(9)} per class, recall (precision): ${Object.entries(recall)
        .map(([c, r]) => `${c} ${r.correct}/${r.predictions} (${r.correct}/${r.predicted})`)
        .join(', ')}`,
    );
    log(
      `  ${''.padEnd(9)} coverage curve: ${curve.map((p) => `>=${p.minConfidence}: ${pct(p.coverage)} @ ${pct(p.answeredAccuracy)}`).join(', ')}`,
    );
  }
  return { method: 'temperature', folds: CV_FOLDS, repeats: CV_SEEDS.length, attributes };
}
