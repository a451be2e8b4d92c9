import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';
import { matchEvaluationChunk } from '../services/evaluation';
import { EVALUATION_ACTIVITIES } from './evaluationActivityNames';

/** Activity of evaluateBatch (see src/app/services/evaluation.ts for what it does). */
export async function evaluationMatchChunkActivity(
  input: { batchId: string; planPath: string; chunkPath: string },
  context: InvocationContext,
) {
  const result = await matchEvaluationChunk(appRuntime(), input);
  context.log(JSON.stringify({ event: 'evaluationMatchChunk', batchId: input.batchId, ok: 'ok' in result ? result.ok : true }));
  return result;
}

df.app.activity(EVALUATION_ACTIVITIES.matchChunk, { handler: withRedaction(evaluationMatchChunkActivity) });
