import type { Frame } from '../labels/schema';
import { ATTRIBUTE_NAMES, ATTRIBUTE_VOCABULARIES, normalizeAttribute, type AttributeName } from '../taxonomy/attributes';
import { imageKey } from './dataset';

/** Column for GT images that have no prediction at all: counted as wrong, never skipped. */
export const MISSING_PREDICTION = '(no prediction)';

export interface AttributeResult {
  /** correct / evaluated over images whose GT value is defined; -1 when none is. */
  accuracy: number;
  evaluated: number;
  correct: number;
  /** GT images whose value is `undefined` (or absent): excluded from accuracy. */
  undefinedGt: number;
  missingPrediction: number;
  /** Free-text predictions that matched neither the vocabulary nor a synonym (scored as `undefined`). */
  unrecognizedPredictions: number;
  /** Evaluated images the prediction answered (a value other than `undefined`: not abstained, not missing). */
  answered: number;
  /** answered / evaluated; -1 when nothing is evaluated. */
  coverage: number;
  /** correct / answered: the accuracy where the model gave an answer; -1 when it gave none. */
  answeredAccuracy: number;
  /** Row labels (GT values, `undefined` excluded). */
  gtLabels: string[];
  /** Column labels (predicted values, `undefined` and MISSING_PREDICTION included). */
  predictedLabels: string[];
  /** confusion[row = GT][column = prediction] image counts. */
  confusion: number[][];
}

export interface AttributeEvaluation {
  accuracy: Record<AttributeName | 'overall', number>;
  perAttribute: Record<AttributeName, AttributeResult>;
}

/** One attribute's image counts: they add up over chunks of images (see finishAttributes). */
export interface AttributeCounts {
  evaluated: number;
  correct: number;
  undefinedGt: number;
  missingPrediction: number;
  unrecognizedPredictions: number;
  /** confusion[row = GT][column = prediction], rows and columns as attributeLabels gives them. */
  confusion: number[][];
}

/** Row (GT) and column (prediction) labels of an attribute's confusion matrix. */
export function attributeLabels(name: AttributeName): { gtLabels: string[]; predictedLabels: string[] } {
  const vocabulary: readonly string[] = ATTRIBUTE_VOCABULARIES[name];
  return { gtLabels: vocabulary.filter((v) => v !== 'undefined'), predictedLabels: [...vocabulary, MISSING_PREDICTION] };
}

export function evaluateAttributes(gtFrames: readonly Frame[], predFrames: readonly Frame[]): AttributeEvaluation {
  return finishAttributes([countAttributes(gtFrames, predFrames)]);
}

/** Count every attribute over `gtFrames` (the last prediction frame with an image's file name is the one scored). */
export function countAttributes(gtFrames: readonly Frame[], predFrames: readonly Frame[]): Record<AttributeName, AttributeCounts> {
  const predictions = new Map(predFrames.map((f) => [imageKey(f.name), f]));
  const counts = {} as Record<AttributeName, AttributeCounts>;
  for (const name of ATTRIBUTE_NAMES) counts[name] = countOne(name, gtFrames, predictions);
  return counts;
}

/** Sum the counts of chunks of images and derive accuracies: the result for all their images together. */
export function finishAttributes(parts: readonly Record<AttributeName, AttributeCounts>[]): AttributeEvaluation {
  const perAttribute = {} as Record<AttributeName, AttributeResult>;
  let evaluated = 0;
  let correct = 0;
  for (const name of ATTRIBUTE_NAMES) {
    const { gtLabels, predictedLabels } = attributeLabels(name);
    const sum = { evaluated: 0, correct: 0, undefinedGt: 0, missingPrediction: 0, unrecognizedPredictions: 0 };
    const confusion = gtLabels.map(() => predictedLabels.map(() => 0));
    for (const part of parts) {
      const counts = part[name];
      sum.evaluated += counts.evaluated;
      sum.correct += counts.correct;
      sum.undefinedGt += counts.undefinedGt;
      sum.missingPrediction += counts.missingPrediction;
      sum.unrecognizedPredictions += counts.unrecognizedPredictions;
      if (counts.confusion.length !== gtLabels.length || counts.confusion.some((row) => row.length !== predictedLabels.length))
        throw new Error(`${name}: confusion matrix must be ${gtLabels.length} x ${predictedLabels.length}`);
      counts.confusion.forEach((row, i) => row.forEach((n, j) => (confusion[i]![j]! += n)));
    }
    // An answer is any column but `undefined` (abstained or unrecognised) and no prediction at all.
    const notAnswered = new Set([predictedLabels.indexOf('undefined'), predictedLabels.indexOf(MISSING_PREDICTION)]);
    const answered = confusion.reduce((s, row) => s + row.reduce((t, n, j) => t + (notAnswered.has(j) ? 0 : n), 0), 0);
    perAttribute[name] = {
      accuracy: sum.evaluated === 0 ? -1 : sum.correct / sum.evaluated,
      ...sum,
      answered,
      coverage: sum.evaluated === 0 ? -1 : answered / sum.evaluated,
      answeredAccuracy: answered === 0 ? -1 : sum.correct / answered,
      gtLabels,
      predictedLabels,
      confusion,
    };
    evaluated += sum.evaluated;
    correct += sum.correct;
  }
  return {
    accuracy: {
      weather: perAttribute.weather.accuracy,
      timeofday: perAttribute.timeofday.accuracy,
      scene: perAttribute.scene.accuracy,
      overall: evaluated === 0 ? -1 : correct / evaluated,
    },
    perAttribute,
  };
}

function countOne(name: AttributeName, gtFrames: readonly Frame[], predictions: Map<string, Frame>): AttributeCounts {
  const { gtLabels, predictedLabels } = attributeLabels(name);
  const confusion = gtLabels.map(() => predictedLabels.map(() => 0));
  const result = { evaluated: 0, correct: 0, undefinedGt: 0, missingPrediction: 0, unrecognizedPredictions: 0 };

  for (const frame of gtFrames) {
    const truth = normalizeAttribute(name, frame.attributes?.[name]).value;
    if (truth === 'undefined') {
      result.undefinedGt++;
      continue;
    }
    const predictedFrame = predictions.get(imageKey(frame.name));
    let predicted: string = MISSING_PREDICTION;
    if (!predictedFrame) result.missingPrediction++;
    else {
      const normalized = normalizeAttribute(name, predictedFrame.attributes?.[name]);
      if (normalized.unrecognized) result.unrecognizedPredictions++;
      predicted = normalized.value;
    }
    result.evaluated++;
    if (predicted === truth) result.correct++;
    confusion[gtLabels.indexOf(truth)]![predictedLabels.indexOf(predicted)]!++;
  }
  return { ...result, confusion };
}
