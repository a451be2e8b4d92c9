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

export function evaluateAttributes(gtFrames: readonly Frame[], predFrames: readonly Frame[]): AttributeEvaluation {
  const predictions = new Map(predFrames.map((f) => [imageKey(f.name), f]));
  const perAttribute = {} as Record<AttributeName, AttributeResult>;
  let evaluated = 0;
  let correct = 0;
  for (const name of ATTRIBUTE_NAMES) {
    const result = evaluateOne(name, gtFrames, predictions);
    perAttribute[name] = result;
    evaluated += result.evaluated;
    correct += result.correct;
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

function evaluateOne(name: AttributeName, gtFrames: readonly Frame[], predictions: Map<string, Frame>): AttributeResult {
  const vocabulary: readonly string[] = ATTRIBUTE_VOCABULARIES[name];
  const gtLabels = vocabulary.filter((v) => v !== 'undefined');
  const predictedLabels = [...vocabulary, MISSING_PREDICTION];
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
  return {
    accuracy: result.evaluated === 0 ? -1 : result.correct / result.evaluated,
    ...result,
    gtLabels,
    predictedLabels,
    confusion,
  };
}
