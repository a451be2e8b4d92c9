/**
 * Starting a batch's evaluation orchestration. The instance id is deterministic (eval-<batchId>), so an automatic
 * start happens at most once however many triggers ask: an existing instance is never started again unless a person
 * asks for a re-run (POST /api/batches/{batchId}/evaluate) or the nightly timer retries one that failed.
 */
import { findInstance, isLive, isRunning, type DurableClientLike } from '../durable';
import type { AppRuntime } from '../runtime';
import type { BatchDocument } from '../store/documents';
import { evaluationInstanceId } from '../store/names';
import type { Logger } from './logger';

export const EVALUATE_BATCH_ORCHESTRATION = 'evaluateBatch';

export interface EvaluateBatchInput {
  batchId: string;
  reason: string;
}

export async function durableInstanceStarted(durable: DurableClientLike, batchId: string): Promise<boolean> {
  return isLive(await findInstance(durable, evaluationInstanceId(batchId)));
}

export type StartPolicy = 'once' | 'unless-running';

/**
 * `once`: start only if no live instance exists (Pending, Running, Completed...). `unless-running`: also re-run a
 * completed, failed or terminated one (an explicit re-evaluation). Returns the batch document after recording it,
 * and whether this call started the instance: two callers can both see no running instance and both call startNew;
 * Durable refuses the second ("an instance with the status Running already exists"), and that loser finds the
 * winner's instance running and reports `started: false` instead of failing.
 */
export async function startBatchEvaluation(
  app: AppRuntime,
  batchId: string,
  durable: DurableClientLike,
  reason: string,
  logger: Logger,
  policy: StartPolicy = 'once',
): Promise<{ doc: BatchDocument; started: boolean }> {
  const instanceId = evaluationInstanceId(batchId);
  const existing = await findInstance(durable, instanceId);
  let skip = policy === 'once' ? isLive(existing) : isRunning(existing);
  const now = () => app.now().toISOString();
  if (!skip) {
    const input: EvaluateBatchInput = { batchId, reason };
    try {
      await durable.startNew(EVALUATE_BATCH_ORCHESTRATION, { instanceId, input });
      logger.log(JSON.stringify({ event: 'evaluation-started', batchId, instanceId, reason }));
    } catch (error) {
      if (!isRunning(await findInstance(durable, instanceId))) throw error;
      logger.log(JSON.stringify({ event: 'evaluation-start-raced', batchId, instanceId, reason }));
      skip = true;
    }
  }
  const { doc } = await app.batches.update(batchId, now, (current) =>
    skip && current.evaluation ? undefined : { ...current, evaluation: { instanceId, requestedAt: now(), reason } },
  );
  return { doc, started: !skip };
}
