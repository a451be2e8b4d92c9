import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';
import { planEvaluation } from '../services/evaluation';
import { EVALUATION_ACTIVITIES } from './evaluationActivityNames';

/** Activity of evaluateBatch (see src/app/services/evaluation.ts for what it does). */
export async function evaluationPlanActivity(input: { batchId: string; runId: string }, context: InvocationContext) {
  const result = await planEvaluation(appRuntime(), input);
  context.log(JSON.stringify({ event: 'evaluationPlan', batchId: input.batchId, ok: 'ok' in result ? result.ok : true }));
  return result;
}

df.app.activity(EVALUATION_ACTIVITIES.plan, { handler: withRedaction(evaluationPlanActivity) });
