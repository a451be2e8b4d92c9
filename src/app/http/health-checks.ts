/**
 * Health checks: each dependency probed concurrently, each under its own time limit, each reported with its
 * latency, so a probe answers in bounded time and says which dependency is wrong and why.
 *
 * A check either passes, fails (its dependency is down: the report is `unhealthy`), or is `degraded` (it throws
 * Degraded: the dependency works in part, e.g. the providers are built but a remote AI service does not answer
 * its probe; the report is `degraded` unless another check failed).
 */
import { redact } from '../../core/redaction';
import type { LabelingSetup } from '../../core/pipeline/label-image';
import type { Detector, ProbeResult, SceneClassifier } from '../../core/pipeline/types';
import type { AppRuntime } from '../runtime';
import { BLOB_CONTAINERS } from '../store/names';

export interface CheckResult {
  status: 'ok' | 'degraded' | 'failed';
  latencyMs: number;
  error?: string;
  details?: Record<string, unknown>;
}

export interface HealthReport {
  status: 'ok' | 'degraded' | 'unhealthy';
  checks: Record<string, CheckResult>;
}

export interface HealthCheck {
  timeoutMs: number;
  run(): Promise<Record<string, unknown> | void>;
}

/** Thrown by a check whose dependency works only in part: reported `degraded`, with its reason and details. */
export class Degraded extends Error {
  override name = 'Degraded';
  constructor(
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Error text fit for an anonymous endpoint: one line, bounded (SDK messages can be pages of diagnostics). */
function shortReason(error: unknown): string {
  const text = redact(
    String((error as Error)?.message ?? error)
      .split('\n')[0]!
      .trim(),
  );
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
    if (error instanceof Degraded) {
      return { status: 'degraded', latencyMs: latencyMs(), error: shortReason(error), details: error.details };
    }
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
  });
  const statuses = results.map((r) => r.status);
  if (statuses.includes('failed')) report.status = 'unhealthy';
  else if (statuses.includes('degraded')) report.status = 'degraded';
  return report;
}

export interface HealthTimeouts {
  storage: number;
  cosmos: number;
  /**
   * Building the providers (the first call loads local models into worker threads) and probing the remote ones.
   * Each probe has its own, shorter limit (PROBE_TIMEOUT_MS); a probe still waiting when this runs out is
   * reported as failed (degraded), so a hanging AI service never fails the whole check.
   */
  providers: number;
}

export const DEFAULT_HEALTH_TIMEOUTS: HealthTimeouts = { storage: 5_000, cosmos: 5_000, providers: 15_000 };

/** Kept free at the end of the providers check, so that its own timeout never beats the probes' reports. */
const PROBE_MARGIN_MS = 500;

/** Storage answers, the Cosmos database exists and answers, the providers are built and the remote ones answer. */
export function appChecks(app: AppRuntime, timeouts: HealthTimeouts = DEFAULT_HEALTH_TIMEOUTS): Record<string, HealthCheck> {
  return {
    storage: { timeoutMs: timeouts.storage, run: () => app.blobs.ping(BLOB_CONTAINERS.images) },
    cosmos: {
      timeoutMs: timeouts.cosmos,
      run: async () => {
        await app.clients.database.read();
      },
    },
    providers: {
      timeoutMs: timeouts.providers,
      run: async () => {
        const started = performance.now();
        const setup = await app.setup();
        return checkProviders(setup, timeouts.providers - (performance.now() - started) - PROBE_MARGIN_MS);
      },
    },
  };
}

type Provider = SceneClassifier | Detector;

/** A probe's result, or why there is none (no answer within the check's time, or a probe that threw). */
export type ProbeReport = ProbeResult | { ok: false; latencyMs: number; error: string };

const describeProvider = (p: Provider | undefined) => (p ? `${p.model.provider}:${p.model.model}` : 'none');

/**
 * The providers' details, with the probes of the remote ones (local models need none: they are loaded). Throws
 * Degraded naming each provider whose probe failed.
 */
async function checkProviders(setup: LabelingSetup, waitMs: number): Promise<Record<string, unknown>> {
  const roles = { scene: setup.scene, detector: setup.detector };
  const probes: Record<string, ProbeReport> = {};
  await Promise.all(
    Object.entries(roles).map(async ([role, provider]) => {
      if (provider?.probe) probes[role] = await probeWithin(provider, waitMs);
    }),
  );
  const details = {
    scene: describeProvider(setup.scene),
    detector: describeProvider(setup.detector),
    configHash: setup.configHash,
    ...(Object.keys(probes).length > 0 ? { probes } : {}),
  };
  const failures = Object.entries(probes)
    .filter(([, probe]) => !probe.ok)
    .map(([role, probe]) => `${role} ${describeProvider(roles[role as keyof typeof roles])}: ${probe.error ?? 'failed'}`);
  if (failures.length > 0) throw new Degraded(failures.join('; '), details);
  return details;
}

async function probeWithin(provider: Provider, waitMs: number): Promise<ProbeReport> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  try {
    return await provider.probe!(AbortSignal.timeout(Math.max(1, Math.floor(waitMs))));
  } catch (error) {
    const timedOut = (error as Error)?.name === 'TimeoutError';
    const reason = timedOut ? `no answer within the health check's time (${latencyMs()} ms)` : shortReason(error);
    return { ok: false, latencyMs: latencyMs(), error: reason };
  }
}
