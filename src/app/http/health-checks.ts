/**
 * Health checks: each dependency probed concurrently, each under its own time limit, each reported with its
 * latency, so a probe answers in bounded time and says which dependency is wrong and why.
 */
import type { AppRuntime } from '../runtime';

export interface CheckResult {
  status: 'ok' | 'failed';
  latencyMs: number;
  error?: string;
  details?: Record<string, unknown>;
}

export interface HealthReport {
  status: 'ok' | 'unhealthy';
  checks: Record<string, CheckResult>;
}

export interface HealthCheck {
  timeoutMs: number;
  run(): Promise<Record<string, unknown> | void>;
}

/** Error text fit for an anonymous endpoint: one line, bounded (SDK messages can be pages of diagnostics). */
function shortReason(error: unknown): string {
  const text = String((error as Error)?.message ?? error).split('\n')[0]!.trim();
  return text.length > 300 ? `${text.slice(0, 297)}...` : text || String((error as Error)?.name ?? 'error');
}

export async function runCheck(check: HealthCheck): Promise<CheckResult> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${check.timeoutMs} ms`)), check.timeoutMs);
  });
  try {
    const details = await Promise.race([check.run(), timeout]);
    return { status: 'ok', latencyMs: latencyMs(), ...(details ? { details } : {}) };
  } catch (error) {
    return { status: 'failed', latencyMs: latencyMs(), error: shortReason(error) };
  } finally {
    clearTimeout(timer);
  }
}

export async function runChecks(checks: Record<string, HealthCheck>): Promise<HealthReport> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((name) => runCheck(checks[name]!)));
  const report: HealthReport = { status: 'ok', checks: {} };
  names.forEach((name, i) => {
    report.checks[name] = results[i]!;
    if (results[i]!.status !== 'ok') report.status = 'unhealthy';
  });
  return report;
}

export interface HealthTimeouts {
  storage: number;
  cosmos: number;
  /** The first call builds the providers (local models load into worker threads), so it gets longer. */
  providers: number;
}

export const DEFAULT_HEALTH_TIMEOUTS: HealthTimeouts = { storage: 5_000, cosmos: 5_000, providers: 15_000 };

/** Storage answers, the Cosmos database exists and answers, the labeling providers are built (no paid calls). */
export function appChecks(app: AppRuntime, timeouts: HealthTimeouts = DEFAULT_HEALTH_TIMEOUTS): Record<string, HealthCheck> {
  return {
    storage: { timeoutMs: timeouts.storage, run: () => app.blobs.ping() },
    cosmos: {
      timeoutMs: timeouts.cosmos,
      run: async () => {
        await app.clients.database.read();
      },
    },
    providers: {
      timeoutMs: timeouts.providers,
      run: async () => {
        const setup = await app.setup();
        const describe = (p: { model: { provider: string; model: string } } | undefined) => (p ? `${p.model.provider}:${p.model.model}` : 'none');
        return { scene: describe(setup.scene), detector: describe(setup.detector), configHash: setup.configHash };
      },
    },
  };
}
