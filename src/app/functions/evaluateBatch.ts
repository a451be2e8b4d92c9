/**
 * The evaluateBatch orchestration: plan (ground truth split into chunks, in blobs), fan out one activity per chunk,
 * fan in to the report. Inputs and outputs are ids and blob paths; activities answer {ok, error} instead of throwing
 * for failures of their own item, so one bad chunk fails the evaluation with a reason rather than an exception.
 * Deterministic: no clock but context.df.currentUtcDateTime, no I/O.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { z } from 'zod';
import { compactUtc } from '../store/names';
import { EVALUATE_BATCH_ORCHESTRATION } from '../services/evaluation-start';
import type { ActivityResult } from '../services/evaluation';
import { EVALUATION_ACTIVITIES } from './evaluationActivityNames';

const InputSchema = z.object({ batchId: z.string().min(1), reason: z.string().default('') });

/** Activity retries for infrastructure hiccups (storage or Cosmos DB throttling), not for bad data. */
export const ACTIVITY_RETRY = new df.RetryOptions(2000, 3);

export type EvaluateBatchOutput = ActivityResult<{ reportId: string; images: number; chunks: number }>;

/** A run id from the orchestration's own clock: the same on every replay. */
export const runIdOf = compactUtc;

export const evaluateBatchOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const { batchId } = InputSchema.parse(context.df.getInput());
  const startedAt = context.df.currentUtcDateTime;
  const runId = runIdOf(startedAt);
  let failure: string;
  try {
    context.df.setCustomStatus({ stage: 'planning', batchId });
    const plan: ActivityResult<{ planPath: string; chunkPaths: string[]; images: number }> = yield context.df.callActivityWithRetry(
      EVALUATION_ACTIVITIES.plan,
      ACTIVITY_RETRY,
      { batchId, runId },
    );
    if (!plan.ok) {
      failure = plan.error;
    } else {
      context.df.setCustomStatus({ stage: 'matching', batchId, chunks: plan.chunkPaths.length, images: plan.images });
      const matches: ActivityResult<{ matchPath: string; predictions: number }>[] = yield context.df.Task.all(
        plan.chunkPaths.map((chunkPath) =>
          context.df.callActivityWithRetry(EVALUATION_ACTIVITIES.matchChunk, ACTIVITY_RETRY, {
            batchId,
            planPath: plan.planPath,
            chunkPath,
          }),
        ),
      );
      const failed = matches.filter((m): m is { ok: false; error: string } => !m.ok);
      if (failed.length) {
        failure = `${failed.length} of ${matches.length} chunk(s) failed: ${failed.map((f) => f.error).join('; ')}`;
      } else {
        context.df.setCustomStatus({ stage: 'reporting', batchId, chunks: matches.length });
        const report: ActivityResult<{ reportId: string }> = yield context.df.callActivityWithRetry(
          EVALUATION_ACTIVITIES.report,
          ACTIVITY_RETRY,
          {
            batchId,
            planPath: plan.planPath,
            matchPaths: matches.map((m) => (m as { matchPath: string }).matchPath),
            createdAt: startedAt.toISOString(),
          },
        );
        if (report.ok) {
          context.df.setCustomStatus({ stage: 'done', batchId, reportId: report.reportId });
          return { ok: true, reportId: report.reportId, images: plan.images, chunks: matches.length } satisfies EvaluateBatchOutput;
        }
        failure = report.error;
      }
    }
  } catch (error) {
    // An activity that still threw after its retries (e.g. storage unreachable).
    failure = (error as Error).message;
  }
  yield context.df.callActivity(EVALUATION_ACTIVITIES.failed, { batchId, error: failure });
  context.df.setCustomStatus({ stage: 'failed', batchId, error: failure });
  return { ok: false, error: failure } satisfies EvaluateBatchOutput;
};

df.app.orchestration(EVALUATE_BATCH_ORCHESTRATION, evaluateBatchOrchestrator);
