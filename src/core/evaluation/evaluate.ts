import type { Frame } from '../labels/schema';
import { aggregateMatches, matchChunk } from './chunks';
import { EvaluationOptionsSchema, type EvaluationOptions, type EvaluationReport, type InputSummary } from './report-schema';

export { WORST_IMAGES_WITH_BOXES } from './chunks';

export interface EvaluateArgs {
  gt: readonly Frame[];
  predictions: readonly Frame[];
  options?: Partial<EvaluationOptions>;
  inputs?: { gt: InputSummary; pred: InputSummary };
  /** Injected for reproducible reports. */
  now?: Date;
}

/**
 * Evaluate predictions against ground truth: COCO detection metrics, operating point, attributes, diagnostics.
 * The whole batch is one chunk (chunks.ts): evaluating in chunks and aggregating goes through the same code.
 */
export function evaluate(args: EvaluateArgs): EvaluationReport {
  const options = EvaluationOptionsSchema.parse(args.options ?? {});
  return aggregateMatches([matchChunk(args.gt, args.predictions, options)], {
    options,
    ...(args.inputs ? { inputs: args.inputs } : {}),
    ...(args.now ? { now: args.now } : {}),
  });
}
