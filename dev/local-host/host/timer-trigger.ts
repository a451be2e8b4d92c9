/**
 * The host's timer trigger, locally: six-field NCRONTAB schedules (second minute hour day month day-of-week, as in
 * Azure Functions; `%NAME%` resolved from the environment like app settings), evaluated in UTC as the host does by
 * default. Croner does the calendar arithmetic. Runs never overlap; a run that throws is logged and the schedule
 * continues (the host does the same).
 */
import type { Timer } from '@azure/functions';
import { Cron } from 'croner';

export interface TimerTriggerHandle {
  /** Next run per function (ISO), for the start-up banner. */
  next(): Record<string, string | undefined>;
  /** Run one now, as the host's admin "run" endpoint does (tests, `npm start -- --run-timers`). */
  runNow(name: string): Promise<unknown>;
  close(): Promise<void>;
}

/** `%NAME%` placeholders replaced from the environment; an unknown name is an error, as in the host. */
export function resolveAppSettingExpression(expression: string, env: NodeJS.ProcessEnv, defaults: Record<string, string> = {}): string {
  return expression.replace(/%([^%]+)%/g, (_, name: string) => {
    const value = env[name] ?? defaults[name];
    if (value === undefined) throw new Error(`app setting ${name} (used in "${expression}") is not set`);
    return value;
  });
}

export function startTimerTriggers(args: {
  /** The timer-triggered functions: their schedule (may hold %NAME%) and how to invoke them. */
  functions: Array<{ name: string; schedule: string; invoke(timer: Timer): Promise<unknown> }>;
  env: NodeJS.ProcessEnv;
  defaults?: Record<string, string>;
  log?: (line: string) => void;
}): TimerTriggerHandle {
  const log = args.log ?? (() => undefined);
  const jobs = new Map<string, { cron: Cron; run: (pastDue: boolean) => Promise<unknown> }>();
  const running = new Set<Promise<unknown>>();
  for (const { name, schedule: expression, invoke } of args.functions) {
    const schedule = resolveAppSettingExpression(expression, args.env, args.defaults);
    let last: Date | undefined;
    const run = async (isPastDue: boolean): Promise<unknown> => {
      const timer: Timer = {
        isPastDue,
        schedule: { adjustForDST: false },
        scheduleStatus: {
          last: (last ?? new Date(0)).toISOString(),
          next: cron.nextRun()?.toISOString() ?? '',
          lastUpdated: new Date().toISOString(),
        },
      };
      last = new Date();
      log(`[${name}] timer fired (${schedule})`);
      return invoke(timer);
    };
    const cron: Cron = new Cron(
      schedule,
      { timezone: 'UTC', protect: true, catch: (error: unknown) => log(`[${name}] failed: ${(error as Error).message}`) },
      () => {
        const work = run(false);
        running.add(work);
        return work
          .then(
            () => undefined,
            (error: unknown) => log(`[${name}] failed: ${(error as Error).message}`),
          )
          .finally(() => running.delete(work));
      },
    );
    jobs.set(name, { cron, run });
  }
  return {
    next: () => Object.fromEntries([...jobs].map(([name, job]) => [name, job.cron.nextRun()?.toISOString()])),
    runNow(name) {
      const job = jobs.get(name);
      if (!job) throw new Error(`no timer function named ${name}`);
      return job.run(false);
    },
    async close() {
      for (const job of jobs.values()) job.cron.stop();
      await Promise.allSettled([...running]);
    },
  };
}
