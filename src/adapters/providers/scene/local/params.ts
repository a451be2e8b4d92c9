/**
 * The learned parameters of the local scene classifier (scene-model.json, written by
 * trainer.ts): their zod schema, and the prediction they define.
 *
 * Per attribute: a multinomial logistic regression over standardised features, p = softmax(W z + b) with
 * z = (x - mean) / std. Only classes seen in training have a row, so the others are never predicted.
 */
import { z } from 'zod';
import { ATTRIBUTE_NAMES, ATTRIBUTE_VOCABULARIES, type AttributeName } from '../../../../core/taxonomy/attributes';
import { featureLength, type FeatureSpec } from './features';
import { softmaxInPlace } from './logreg';

export const SCENE_PARAMS_FORMAT = 'autolabel-scene-logreg/1';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
const count = z.int().nonnegative();
const fraction = z.number().min(0).max(1);
const perAttribute = <T extends z.ZodType>(schema: T) => z.object({ weather: schema, timeofday: schema, scene: schema });

const AttributeModelSchema = z.object({
  /** Classes with a weight row, in vocabulary order: those present in the training images. */
  classes: z.array(z.string()).min(2),
  /** classes x features, over standardised features. */
  weights: z.array(z.array(z.number())),
  bias: z.array(z.number()),
  /** The L2 strength and the image-statistics group scale chosen by cross-validation. */
  lambda: z.number().positive(),
  statsScale: z.number().positive(),
  /** Class-balancing exponent of the loss weights (training.ts classBalanceWeights); absent in older files: 0. */
  classBalance: z.number().min(0).optional(),
});

const EvaluationSchema = z.object({
  images: count,
  correct: count,
  accuracy: fraction,
  majorityClass: z.string(),
  majorityAccuracy: fraction,
  /** confusion[truth][predicted] = images. */
  confusion: z.record(z.string(), z.record(z.string(), count)),
});

const CvChoiceSchema = z.object({
  lambda: z.number().positive(),
  statsScale: z.number().positive(),
  classBalance: z.number().min(0).optional(),
  accuracy: fraction,
  /** CV mean per-class recall (the choice's criterion, within accuracyTolerance of the best accuracy). */
  meanRecall: fraction.optional(),
  majorityAccuracy: fraction,
  images: count,
});

const ReliabilityBinSchema = z.object({
  from: fraction,
  to: fraction,
  predictions: count,
  meanConfidence: fraction,
  accuracy: fraction,
});

const CoveragePointSchema = z.object({
  minConfidence: fraction,
  coverage: fraction,
  /** -1 when nothing is answered. */
  answeredAccuracy: z.number().min(-1).max(1),
  accuracy: fraction,
  net: z.number().min(-1).max(1),
});

const AttributeCalibrationSchema = z.object({
  /** Logits are divided by this before the softmax (1: no temperature, it did not help in CV). */
  temperature: z.number().positive(),
  /** Default abstention threshold, chosen from the coverage curve (attribute-calibration.ts chooseMinConfidence). */
  minConfidence: fraction,
  images: count,
  /** Out-of-fold predictions pooled over the CV repeats. */
  predictions: count,
  accuracy: fraction,
  eceBefore: fraction,
  /** With the calibration in use (T = 1 where a temperature did not help). */
  eceAfter: fraction,
  /** With a temperature fitted on other images only (folds by image): what decided whether one is used. */
  eceWithTemperature: fraction,
  reliability: z.array(ReliabilityBinSchema),
  reliabilityBefore: z.array(ReliabilityBinSchema),
  coverage: z.array(CoveragePointSchema),
  /** Per class: out-of-fold predictions of that true class, how many were right, and how many answered it. */
  recall: z.record(z.string(), z.object({ predictions: count, correct: count, predicted: count })),
});

const CalibrationSchema = z.object({
  method: z.literal('temperature'),
  folds: z.int().min(2),
  repeats: z.int().min(1),
  attributes: perAttribute(AttributeCalibrationSchema),
});

export const SceneModelParamsSchema = z
  .object({
    format: z.literal(SCENE_PARAMS_FORMAT),
    /** Goes into ModelInfo.model as mobilenetv2-int8+logreg@<version>. */
    version: z.string().regex(/^[A-Za-z0-9._-]+$/),
    featureSpec: z.object({
      version: z.string(),
      backboneOutput: z.enum(['features', 'output']),
      imageStats: z.array(z.string()).min(1),
    }),
    backbone: z.object({
      /** ModelFileSpec id. */
      model: z.string(),
      /** The file the parameters were trained with. */
      sha256,
    }),
    standardization: z.object({ mean: z.array(z.number()), std: z.array(z.number().positive()) }),
    attributes: perAttribute(AttributeModelSchema),
    training: z.object({
      seed: z.string(),
      /** 0 when every image was trained on (`autolabel train-scene`): the calibration block holds the CV figures. */
      holdoutFraction: fraction,
      images: count,
      trainImages: count,
      heldOutNames: z.array(z.string().min(1)),
      crossValidation: z.object({
        folds: z.int().min(2),
        repeats: z.int().min(1),
        lambdas: z.array(z.number().positive()).min(1),
        statsScales: perAttribute(z.array(z.number().positive()).min(1)),
        classBalances: z.array(z.number().min(0)).optional(),
        accuracyTolerance: fraction.optional(),
        chosen: perAttribute(CvChoiceSchema),
      }),
      /** Absent without a hold-out split. */
      heldOut: perAttribute(EvaluationSchema).optional(),
      /** Derived training rows: darker copies of the training images with `label`, for `attribute` only. */
      augmentation: z
        .object({
          attribute: z.enum(['weather', 'timeofday', 'scene']),
          label: z.string(),
          darkenFactors: z.array(z.number().gt(0).lt(1)),
          rows: count,
        })
        .optional(),
      /** Best CV accuracy (and held-out accuracy, reported only) per backbone output: `output` logits vs `features`. */
      backboneOutputComparison: z
        .partialRecord(
          z.enum(['features', 'output']),
          z.object({ crossValidation: perAttribute(fraction), heldOut: perAttribute(fraction) }),
        )
        .optional(),
    }),
    /** Cross-validated calibration (trainer.ts step 4); without it, confidences are the raw softmax probabilities. */
    calibration: CalibrationSchema.optional(),
  })
  .superRefine((params, ctx) => {
    const d = featureLength(params.featureSpec as FeatureSpec);
    const { mean, std } = params.standardization;
    if (mean.length !== d || std.length !== d) {
      ctx.addIssue({
        code: 'custom',
        path: ['standardization'],
        message: `mean/std have ${mean.length}/${std.length} values, the feature spec has ${d}`,
      });
    }
    for (const name of ATTRIBUTE_NAMES) {
      const model = params.attributes[name];
      const vocabulary = ATTRIBUTE_VOCABULARIES[name] as readonly string[];
      model.classes.forEach((c, i) => {
        if (!vocabulary.includes(c) || c === 'undefined') {
          ctx.addIssue({ code: 'custom', path: ['attributes', name, 'classes', i], message: `"${c}" is not a ${name} value` });
        }
        if (model.classes.indexOf(c) !== i)
          ctx.addIssue({ code: 'custom', path: ['attributes', name, 'classes', i], message: `"${c}" twice` });
      });
      if (model.weights.length !== model.classes.length || model.bias.length !== model.classes.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['attributes', name],
          message: `${model.weights.length} weight rows and ${model.bias.length} biases for ${model.classes.length} classes`,
        });
      }
      model.weights.forEach((row, i) => {
        if (row.length !== d)
          ctx.addIssue({
            code: 'custom',
            path: ['attributes', name, 'weights', i],
            message: `${row.length} weights, the feature spec has ${d}`,
          });
      });
    }
  });

export type SceneModelParams = z.infer<typeof SceneModelParamsSchema>;

export interface AttributePrediction {
  value: string;
  /** Probability of `value` (calibrated when the params carry a calibration). */
  confidence: number;
  /** Every trained class's probability. */
  probabilities: Record<string, number>;
}

/** Parameters laid out for fast prediction. */
export interface CompiledSceneModel {
  params: SceneModelParams;
  predict(features: ArrayLike<number>): Record<AttributeName, AttributePrediction>;
}

export function compileSceneModel(params: SceneModelParams): CompiledSceneModel {
  const d = params.standardization.mean.length;
  const mean = Float64Array.from(params.standardization.mean);
  const invStd = Float64Array.from(params.standardization.std, (s) => 1 / s);
  const models = ATTRIBUTE_NAMES.map((name) => {
    const m = params.attributes[name];
    const temperature = params.calibration?.attributes[name].temperature ?? 1;
    return {
      name,
      classes: m.classes,
      weights: Float64Array.from(m.weights.flat()),
      bias: Float64Array.from(m.bias),
      inverseT: 1 / temperature,
    };
  });
  return {
    params,
    predict(features) {
      if (features.length !== d) throw new Error(`scene model: ${features.length} features, expected ${d}`);
      const z = new Float64Array(d);
      for (let j = 0; j < d; j++) z[j] = ((features[j] as number) - (mean[j] as number)) * (invStd[j] as number);
      const out = {} as Record<AttributeName, AttributePrediction>;
      for (const { name, classes, weights, bias, inverseT } of models) {
        const logits = new Float64Array(classes.length);
        for (let k = 0; k < classes.length; k++) {
          let s = bias[k] as number;
          for (let j = 0; j < d; j++) s += (weights[k * d + j] as number) * (z[j] as number);
          logits[k] = s * inverseT;
        }
        const p = softmaxInPlace(logits);
        let best = 0;
        for (let k = 1; k < p.length; k++) if ((p[k] as number) > (p[best] as number)) best = k;
        out[name] = {
          value: classes[best] as string,
          confidence: p[best] as number,
          probabilities: Object.fromEntries(classes.map((c, k) => [c, p[k] as number])),
        };
      }
      return out;
    },
  };
}
