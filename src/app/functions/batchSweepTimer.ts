import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { durableClientFor } from '../durable';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';
import { sweepBatches, type BatchSweepResult } from '../services/batch-sweep';
import { SETTING_NAMES } from '../settings';

/** The schedule is an app setting (%NAME% is resolved by the host; the local host resolves it the same way). */
export const BATCH_SWEEP_SCHEDULE = `%${SETTING_NAMES.batchSweepSchedule}%`;

/** The reconcile sweep (services/batch-sweep.ts): no batch waits forever for a lost event, write or image. */
export async function batchSweepTimerHandler(timer: Timer, context: InvocationContext): Promise<BatchSweepResult[]> {
  if (timer.isPastDue) context.warn(JSON.stringify({ event: 'batch-sweep-past-due' }));
  return sweepBatches(appRuntime(), durableClientFor(context), context);
}

app.timer('batchSweepTimer', {
  schedule: BATCH_SWEEP_SCHEDULE,
  extraInputs: [df.input.durableClient()],
  handler: withRedaction(batchSweepTimerHandler),
});
