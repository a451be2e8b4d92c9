import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { durableClientFor } from '../durable';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';
import { runNightly, type NightlyOutcome } from '../services/nightly';
import { SETTING_NAMES } from '../settings';

/** The schedule is an app setting (%NAME% is resolved by the host; the local host resolves it the same way). */
export const NIGHTLY_SCHEDULE = `%${SETTING_NAMES.nightlySchedule}%`;

export async function nightlyReportTimerHandler(timer: Timer, context: InvocationContext): Promise<NightlyOutcome> {
  if (timer.isPastDue) context.warn(JSON.stringify({ event: 'nightly-past-due' }));
  return runNightly(appRuntime(), durableClientFor(context), context);
}

app.timer('nightlyReportTimer', {
  schedule: NIGHTLY_SCHEDULE,
  extraInputs: [df.input.durableClient()],
  handler: withRedaction(nightlyReportTimerHandler),
});
