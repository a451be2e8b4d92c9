import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';
import { writeEvaluationReport } from '../services/evaluation';
import { EVALUATION_ACTIVITIES } from './evaluationActivityNames';

/** Activity of evaluateBatch (see src/app/services/evaluation.ts for what it does). */
export async function evaluationReportActivity(
  input: { batchId: string; planPath: string; matchPaths: string[]; createdAt: string },
  context: InvocationContext,
) {
  const result = await writeEvaluationReport(appRuntime(), input);
  context.log(JSON.stringify({ event: 'evaluationReport', batchId: input.batchId, ok: 'ok' in result ? result.ok : true }));
  return result;
}

df.app.activity(EVALUATION_ACTIVITIES.report, { handler: withRedaction(evaluationReportActivity) });
