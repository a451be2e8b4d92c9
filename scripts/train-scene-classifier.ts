/**
 * Train the `local` scene classifier (npm run train:scene):
 *
 *   node --import tsx scripts/train-scene-classifier.ts [--shared DIR] [--models-dir DIR] [--out FILE]
 *        [--backbone-output auto|output|features] [--no-compare]
 *
 * Deterministic (same inputs and CPU, same file). About 45 s on 2 busy cores; --no-compare (skip the `features`
 * side of the logits-vs-embedding comparison) halves that.
 *
 * 1. Loads the 158 distinct labeled BDD100K images of ../shared (bdd100k-scenes: 100, bdd100k-sample: 60, 2 in both).
 * 2. Holds out ~28% with a seeded, stratified (timeofday, then scene and weather) split; the names go into the params.
 * 3. Features per image (src/adapters/providers/scene/local/features.ts, the runtime's code): MobileNetV2 `output` logits
 *    (and `features` when the file has them, for the comparison) + image statistics. The training night images also
 *    give darker copies (x0.5, x0.25), training rows for timeofday only, kept in their source image's CV fold.
 * 4. Per attribute and backbone output: repeated stratified k-fold CV on the training part picks the L2 strength and
 *    the image-statistics weight. `output` (works with the official Model Zoo file) is used unless `features` are
 *    clearly better in CV (mean over the three attributes more than 0.03 higher). The held-out set plays no part in
 *    any choice; it is only scored at the end.
 * 5. Fits on the whole training part, scores the held-out images against the constant majority-class guess, prints
 *    per-class confusion, and writes src/adapters/providers/scene/local/scene-model.json (only that small file is committed).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readImage } from '../src/adapters/image/intake';
import { ATTRIBUTE_NAMES, ATTRIBUTE_VOCABULARIES, type AttributeName } from '../src/core/taxonomy/attributes';
import { MOBILENETV2_INT8, resolveModelFile, sha256File } from '../src/adapters/providers/models/model-files';
import {
  assembleFeatures,
  featureSpec,
  IMAGE_STAT_NAMES,
  loadBackbone,
  measureImage,
  type BackboneOutput,
  type RawSceneFeatures,
} from '../src/adapters/providers/scene/local/features';
import { fitStandardizer, matrixFromRows } from '../src/adapters/providers/scene/local/logreg';
import {
  compileSceneModel,
  SCENE_PARAMS_FORMAT,
  SceneModelParamsSchema,
  type SceneModelParams,
} from '../src/adapters/providers/scene/local/params';
import {
  crossValidate,
  darkenImage,
  fitPrepared,
  holdoutSplit,
  prepareAttribute,
  type DerivedRows,
  type FeatureGroup,
} from '../src/adapters/providers/scene/local/training';
import { loadLabeledScenes, type SceneLabels } from '../src/adapters/providers/scene/local/training-data';

const SPLIT_SEED = 'bdd-scenes-holdout-v1';
const HOLDOUT_FRACTION = 0.28;
const CV_FOLDS = 5;
const CV_SEEDS = ['cv-1', 'cv-2', 'cv-3'];
const LAMBDAS = [0.03, 0.1, 0.3, 1, 3, 10, 30];
/**
 * Weights of the image-statistics group tried in CV (x1: the 32 statistics count like any of the 1000 logits under
 * the L2 penalty). timeofday tries only x3 and x10: night is physically a brightness boundary (in training the
 * statistics separate night from day perfectly), CV cannot tell x1 from x3 apart (equal accuracy), and at x1 the
 * logits outvote the statistics on frames unlike any training image: an all-but-black frame came out "daytime".
 */
const STATS_SCALES: Record<AttributeName, number[]> = { weather: [1, 3], timeofday: [3, 10], scene: [1, 3] };
/** Darker copies of each training night image (every RGB value times the factor) join timeofday's training rows. */
const NIGHT_DARKEN_FACTORS = [0.5, 0.25];
/** How much better (mean CV accuracy over the attributes) `features` must be to give up the official file. */
const FEATURES_MARGIN = 0.03;

interface Example {
  name: string;
  source: string;
  labels: SceneLabels;
  raw: RawSceneFeatures;
}

const repoRoot = path.resolve(__dirname, '..');

const round = (v: number) => Number(v.toPrecision(5));
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

interface Evaluation {
  images: number;
  correct: number;
  accuracy: number;
  majorityClass: string;
  majorityAccuracy: number;
  confusion: Record<string, Record<string, number>>;
}

function majorityOf(labels: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? 'undefined';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shared: { type: 'string' },
      'models-dir': { type: 'string' },
      out: { type: 'string' },
      'backbone-output': { type: 'string', default: 'auto' },
      /** Skip the `features` side of the comparison (faster; the params then carry no comparison). */
      'no-compare': { type: 'boolean', default: false },
    },
  });
  const shared = path.resolve(values.shared ?? process.env.AUTOLABEL_SHARED_DIR ?? path.join(repoRoot, '..', 'shared'));
  const modelsDir = path.resolve(values['models-dir'] ?? process.env.AUTOLABEL_MODELS_DIR ?? path.join(shared, 'models'));
  const outFile = path.resolve(values.out ?? path.join(repoRoot, 'src', 'adapters', 'providers', 'scene', 'local', 'scene-model.json'));
  const forced = values['backbone-output'];
  if (!['auto', 'output', 'features'].includes(forced ?? '')) throw new Error(`--backbone-output must be auto, output or features`);

  const started = Date.now();
  const modelFile = await resolveModelFile(MOBILENETV2_INT8, { modelsDir, allowDownload: false });
  const backboneSha = await sha256File(modelFile);
  const backbone = await loadBackbone(modelFile, { threads: 1 });
  const compare = !values['no-compare'] && forced !== 'output';
  const candidates: BackboneOutput[] =
    forced === 'features' ? ['features'] : backbone.outputs.includes('features') && compare ? ['output', 'features'] : ['output'];
  if (forced === 'features' && !candidates.includes('features')) throw new Error(`${modelFile} has no "features" output`);
  console.log(`backbone ${modelFile} (sha256 ${backboneSha.slice(0, 12)}...), outputs compared: ${candidates.join(', ')}`);

  // 1. Labels and the split (names and labels only: no pixel is looked at before the split).
  const labeled = await loadLabeledScenes(shared, (name, differs) =>
    console.warn(`  ${name}: in both sets, labels differ on ${differs.join(', ')}; keeping bdd100k-scenes`),
  );
  const heldOut = holdoutSplit(labeled, HOLDOUT_FRACTION, SPLIT_SEED);

  // 2. Features, plus darker copies of the training night images (a night frame with less light is still night:
  //    7 night images give the model nothing else to extrapolate from, and a black frame must not look like day).
  const examples: Example[] = [];
  const darkened: { source: string; factor: number; raw: RawSceneFeatures }[] = [];
  let featureMs = 0;
  for (const item of labeled) {
    const image = await readImage(await fs.readFile(item.file), item.name, { maxBytes: 50_000_000, maxPixels: 100_000_000, minSide: 16 });
    const t = performance.now();
    examples.push({ name: item.name, source: item.source, labels: item.labels, raw: await measureImage(backbone, image, candidates) });
    featureMs += performance.now() - t;
    if (!heldOut.has(item.name) && item.labels.timeofday === 'night') {
      for (const factor of NIGHT_DARKEN_FACTORS)
        darkened.push({ source: item.name, factor, raw: await measureImage(backbone, darkenImage(image, factor), candidates) });
    }
  }
  await backbone.close();
  console.log(
    `${examples.length} distinct labeled images; features in ${(featureMs / examples.length).toFixed(1)} ms/image (${candidates.length} output(s))`,
  );
  const train = examples.filter((e) => !heldOut.has(e.name));
  const test = examples.filter((e) => heldOut.has(e.name));
  console.log(
    `split (seed ${SPLIT_SEED}): ${train.length} training, ${test.length} held out; ${darkened.length} darkened night copies (x${NIGHT_DARKEN_FACTORS.join(', x')}) for timeofday\n`,
  );
  for (const a of ATTRIBUTE_NAMES) {
    const count = (set: Example[]) => {
      const c = new Map<string, number>();
      for (const e of set) c.set(e.labels[a], (c.get(e.labels[a]) ?? 0) + 1);
      return [...c.entries()]
        .sort((x, y) => y[1] - x[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
    };
    console.log(`  ${a.padEnd(9)} train: ${count(train)}\n  ${''.padEnd(9)} held:  ${count(test)}`);
  }

  // 3. Per backbone output: CV model selection, fit, held-out scoring.
  interface Outcome {
    output: BackboneOutput;
    params: SceneModelParams;
    cv: Record<
      AttributeName,
      { lambda: number; statsScale: number; accuracy: number; majorityAccuracy: number; images: number; grid: string[] }
    >;
    heldOut: Record<AttributeName, Evaluation>;
  }
  const outcomes: Outcome[] = [];
  for (const output of candidates) {
    const spec = featureSpec(output);
    const rowsOf = (set: Example[]) => set.map((e) => assembleFeatures(e.raw, spec));
    const trainRows = rowsOf(train);
    const statsStart = trainRows[0]!.length - IMAGE_STAT_NAMES.length;
    /** The darkened night copies, for timeofday only, indexed by their source among `names`. */
    const derivedFor = (a: AttributeName, names: readonly string[]): DerivedRows | undefined => {
      if (a !== 'timeofday' || darkened.length === 0) return undefined;
      return {
        rows: darkened.map((d) => assembleFeatures(d.raw, spec)),
        labels: darkened.map(() => 'night'),
        source: darkened.map((d) => names.indexOf(d.source)),
      };
    };
    const groupsFor = (statsScale: number): FeatureGroup[] => [
      { name: 'image-stats', start: statsStart, length: IMAGE_STAT_NAMES.length, scale: statsScale },
    ];

    const cv = {} as Outcome['cv'];
    for (const a of ATTRIBUTE_NAMES) {
      const idx = train.map((_, i) => i).filter((i) => train[i]!.labels[a] !== 'undefined');
      const names = idx.map((i) => train[i]!.name);
      const rows = idx.map((i) => trainRows[i]!);
      const labels = idx.map((i) => train[i]!.labels[a]);
      const derived = derivedFor(a, names);
      const tried: { lambda: number; statsScale: number; accuracy: number; logLoss: number }[] = [];
      const grid: string[] = [];
      for (const statsScale of STATS_SCALES[a]) {
        const accuracy = LAMBDAS.map(() => 0);
        const logLoss = LAMBDAS.map(() => 0);
        for (const seed of CV_SEEDS) {
          crossValidate(names, rows, labels, ATTRIBUTE_VOCABULARIES[a], groupsFor(statsScale), LAMBDAS, CV_FOLDS, seed, derived).forEach(
            (r, i) => {
              accuracy[i] = (accuracy[i] as number) + r.accuracy / CV_SEEDS.length;
              logLoss[i] = (logLoss[i] as number) + r.logLoss / CV_SEEDS.length;
            },
          );
        }
        grid.push(
          `stats x${statsScale}: accuracy ${accuracy.map((m) => m.toFixed(3)).join(' ')}, log-loss ${logLoss.map((m) => m.toFixed(3)).join(' ')}`,
        );
        LAMBDAS.forEach((lambda, i) =>
          tried.push({ lambda, statsScale, accuracy: Math.round((accuracy[i] as number) * 1e9) / 1e9, logLoss: logLoss[i] as number }),
        );
      }
      // Best CV accuracy (the product's measure); ties (frequent on ~110 images) go to the lower CV log-loss.
      const best = tried.sort((x, y) => y.accuracy - x.accuracy || x.logLoss - y.logLoss)[0]!;
      const majority = majorityOf(labels);
      cv[a] = {
        lambda: best.lambda,
        statsScale: best.statsScale,
        accuracy: best.accuracy,
        majorityAccuracy: labels.filter((l) => l === majority).length / labels.length,
        images: labels.length,
        grid,
      };
    }

    // Fit on the whole training part.
    const standardizer = fitStandardizer(matrixFromRows(trainRows));
    const attributes = {} as SceneModelParams['attributes'];
    for (const a of ATTRIBUTE_NAMES) {
      const idx = train.map((_, i) => i).filter((i) => train[i]!.labels[a] !== 'undefined');
      const derived = derivedFor(a, []);
      const fit = fitPrepared(
        prepareAttribute(
          [...idx.map((i) => trainRows[i]!), ...(derived?.rows ?? [])],
          [...idx.map((i) => train[i]!.labels[a]), ...(derived?.labels ?? [])],
          ATTRIBUTE_VOCABULARIES[a],
          standardizer,
          groupsFor(cv[a].statsScale),
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
      };
    }
    const standardization = { mean: Array.from(standardizer.mean, round), std: Array.from(standardizer.std, round) };
    const version = `1-${createHash('sha256').update(JSON.stringify({ spec, standardization, attributes })).digest('hex').slice(0, 8)}`;

    // Score the held-out images with the rounded parameters, exactly as the runtime computes them.
    const draft: SceneModelParams = {
      format: SCENE_PARAMS_FORMAT,
      version,
      featureSpec: { version: spec.version, backboneOutput: spec.backboneOutput, imageStats: [...spec.imageStats] },
      backbone: { model: MOBILENETV2_INT8.id, sha256: backboneSha },
      standardization,
      attributes,
      training: {
        seed: SPLIT_SEED,
        holdoutFraction: HOLDOUT_FRACTION,
        images: examples.length,
        trainImages: train.length,
        heldOutNames: test.map((e) => e.name),
        crossValidation: {
          folds: CV_FOLDS,
          repeats: CV_SEEDS.length,
          lambdas: LAMBDAS,
          statsScales: STATS_SCALES,
          chosen: Object.fromEntries(
            ATTRIBUTE_NAMES.map((a) => [
              a,
              {
                lambda: cv[a].lambda,
                statsScale: cv[a].statsScale,
                accuracy: round(cv[a].accuracy),
                majorityAccuracy: round(cv[a].majorityAccuracy),
                images: cv[a].images,
              },
            ]),
          ) as SceneModelParams['training']['crossValidation']['chosen'],
        },
        heldOut: {} as SceneModelParams['training']['heldOut'],
        augmentation: { attribute: 'timeofday', label: 'night', darkenFactors: NIGHT_DARKEN_FACTORS, rows: darkened.length },
      },
    };
    const compiled = compileSceneModel(draft);
    const predictions = rowsOf(test).map((row) => compiled.predict(row));
    const heldOutEval = {} as Record<AttributeName, Evaluation>;
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
      heldOutEval[a] = {
        images,
        correct,
        accuracy: round(correct / images),
        majorityClass,
        majorityAccuracy: round(majorityCorrect / images),
        confusion,
      };
    }
    draft.training.heldOut = heldOutEval;
    outcomes.push({ output, params: draft, cv, heldOut: heldOutEval });
  }

  // 4. Report.
  const meanCv = (o: Outcome) => ATTRIBUTE_NAMES.reduce((s, a) => s + o.cv[a].accuracy, 0) / ATTRIBUTE_NAMES.length;
  for (const o of outcomes) {
    console.log(`\n== backbone output "${o.output}" + ${IMAGE_STAT_NAMES.length} image statistics`);
    console.log(
      `   cross-validation on the training part (${CV_SEEDS.length} x ${CV_FOLDS}-fold), accuracy per lambda ${LAMBDAS.join(' ')}:`,
    );
    for (const a of ATTRIBUTE_NAMES) {
      const c = o.cv[a];
      for (const line of c.grid) console.log(`   ${a.padEnd(9)} ${line}`);
      console.log(
        `   ${''.padEnd(9)} chosen lambda ${c.lambda}, stats x${c.statsScale}: CV ${pct(c.accuracy)} vs majority ${pct(c.majorityAccuracy)} (${c.images} images)`,
      );
    }
  }
  const byOutput = new Map(outcomes.map((o) => [o.output, o]));
  const featuresOutcome = byOutput.get('features');
  let chosen = byOutput.get('output') ?? featuresOutcome!;
  if (forced === 'auto' && featuresOutcome && meanCv(featuresOutcome) > meanCv(chosen) + FEATURES_MARGIN) chosen = featuresOutcome;
  if (outcomes.length > 1) {
    console.log(
      `\n== logits (\`output\`) vs embedding (\`features\`): mean CV accuracy ${outcomes.map((o) => `${o.output} ${pct(meanCv(o))}`).join(', ')}`,
    );
    console.log(`   rule: \`features\` only when more than ${FEATURES_MARGIN * 100} points better in CV -> using "${chosen.output}"`);
    for (const o of outcomes) {
      console.log(
        `   ${o.output.padEnd(8)} held-out (for the record, not used to choose): ${ATTRIBUTE_NAMES.map((a) => `${a} ${pct(o.heldOut[a].accuracy)}`).join(', ')}`,
      );
    }
    chosen.params.training.backboneOutputComparison = Object.fromEntries(
      outcomes.map((o) => [
        o.output,
        {
          crossValidation: Object.fromEntries(ATTRIBUTE_NAMES.map((a) => [a, round(o.cv[a].accuracy)])) as Record<AttributeName, number>,
          heldOut: Object.fromEntries(ATTRIBUTE_NAMES.map((a) => [a, o.heldOut[a].accuracy])) as Record<AttributeName, number>,
        },
      ]),
    ) as NonNullable<SceneModelParams['training']['backboneOutputComparison']>;
  }

  console.log(`\n== held-out images (${test.length}; never used for any choice), model "${chosen.output}":`);
  for (const a of ATTRIBUTE_NAMES) {
    const h = chosen.heldOut[a];
    console.log(
      `   ${a.padEnd(9)} ${pct(h.accuracy)} (${h.correct}/${h.images})   majority "${h.majorityClass}": ${pct(h.majorityAccuracy)}   margin ${((h.accuracy - h.majorityAccuracy) * 100).toFixed(1)} points`,
    );
    const classes = [...new Set([...Object.keys(h.confusion), ...chosen.params.attributes[a].classes])];
    console.log(`   ${''.padEnd(9)} confusion (rows truth, columns predicted): ${classes.join(' | ')}`);
    for (const truth of Object.keys(h.confusion).sort()) {
      console.log(
        `   ${''.padEnd(11)}${truth.padEnd(14)} ${classes.map((p) => String(h.confusion[truth]?.[p] ?? 0).padStart(3)).join(' ')}`,
      );
    }
  }

  const params = SceneModelParamsSchema.parse(chosen.params);
  // Indented, with every number array on one line: small, and a retrain gives a readable diff of the metadata.
  const text = `${JSON.stringify(params, null, 2).replace(/\[\s*(-?[0-9][^[\]{}"]*?)\s*\]/g, (_, inner: string) => `[${inner.replace(/,\s+/g, ',')}]`)}\n`;
  await fs.writeFile(outFile, text);
  console.log(
    `\nwrote ${path.relative(process.cwd(), outFile)} (${(text.length / 1024).toFixed(0)} KB, version ${params.version}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
