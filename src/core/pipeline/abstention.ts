/**
 * Abstention: an attribute whose confidence is below its minimum is answered `undefined` (BDD's own value for "not
 * known") rather than with a guess, and the result says what the guess was and why it was withheld. Confidences stay
 * as the model stated them (the review queue ranks by them).
 */
import { ATTRIBUTE_NAMES, type AttributeName } from '../taxonomy/attributes';
import type { Abstention, SceneResult } from './types';

export type MinConfidence = Partial<Record<AttributeName, number>>;

export function applyMinConfidence(result: SceneResult, minConfidence: MinConfidence): SceneResult {
  const abstained: Partial<Record<AttributeName, Abstention>> = { ...result.abstained };
  const attributes = { ...result.attributes } as Record<AttributeName, string>;
  for (const name of ATTRIBUTE_NAMES) {
    const min = minConfidence[name];
    const confidence = result.confidence[name];
    const value = attributes[name];
    if (min === undefined || min <= 0 || value === 'undefined' || !(confidence < min)) continue;
    abstained[name] = { value, confidence, minConfidence: min };
    attributes[name] = 'undefined';
  }
  if (Object.keys(abstained).length === 0) return result;
  return { ...result, attributes: attributes as SceneResult['attributes'], abstained };
}
