import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';
import { recordEvaluationFailure } from '../services/evaluation';
import { EVALUATION_ACTIVITIES } from './evaluationActivityNames';

/** Activity of evaluateBatch (see src/app/services/evaluation.ts for what it does). */
export async function evaluationFailedActivity(input: { batchId: string; error: string }, context: InvocationContext) {
  const result = await recordEvaluationFailure(appRuntime(), input);
  context.log(JSON.stringify({ event: 'evaluationFailed', batchId: input.batchId, ok: 'ok' in result ? result.ok : true }));
  return result;
}

df.app.activity(EVALUATION_ACTIVITIES.failed, { handler: withRedaction(evaluationFailedActivity) });
