/**
 * How far the automatic labels are from people's corrections: the automatic frames of the reviewed images evaluated
 * against their reviews, with the same evaluator and operating point as the batch. The nightly report pools it per
 * night, so a team sees whether the automatic labels get closer to what reviewers accept.
 */
import { evaluate } from '../evaluation/evaluate';
import { imageKey } from '../evaluation/dataset';
import type { EvaluationOptions, ReviewAgreement } from '../evaluation/report-schema';
import type { Frame } from '../labels/schema';
export function reviewAgreement(
  reviewed: readonly Frame[],
  automatic: readonly Frame[],
  options: Partial<EvaluationOptions> = {},
): ReviewAgreement | undefined {
  if (reviewed.length === 0) return undefined;
  const names = new Set(reviewed.map((f) => imageKey(f.name)));
  const report = evaluate({ gt: reviewed, predictions: automatic.filter((f) => names.has(imageKey(f.name))), options });
  const { precision, recall, f1 } = report.detection.overall;
  return { images: reviewed.length, precision, recall, f1, attributeAccuracy: report.attributes.accuracy.overall };
}
