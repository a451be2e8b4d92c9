/**
 * Probes of the remote providers (for /api/health): one cheap call that costs no tokens, bounded in time, its result
 * reused for a short time so that frequent health checks (platform probes every few seconds, from every instance)
 * do not hammer the service; callers that arrive while a call is in flight share it.
 */
import { redact } from '../../../core/redaction';
import type { ProbeResult } from '../../../core/pipeline/types';
import { truncate } from './http-errors';

/** How long a probe result is reused. */
export const PROBE_CACHE_MS = 30_000;
/** How long one probe call may take; well under the health check's own limit, so a hang reads as "degraded". */
export const PROBE_TIMEOUT_MS = 5_000;
/** Statuses that say the probe's route is not served there (not that the service is down): reachable, no more. */
const ROUTE_NOT_SERVED = new Set([404, 405]);

export interface ProbeOptions {
  /** How long a result is reused (default PROBE_CACHE_MS). */
  cacheMs?: number;
  /** Per probe call (default PROBE_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Clock in ms (default Date.now): tests move it past the cache time instead of waiting. */
  now?: () => number;
}

/** What a probe call found when it did not throw. */
export interface ProbeAnswer {
  check: ProbeResult['check'];
  note?: string;
}

export interface ProbeSpec {
  /** The check the call makes when the service serves it (reported with a failure too). */
  check: ProbeResult['check'];
  /** What is asked, without the host, e.g. `GET /openai/models`. */
  target: string;
  /** One call under `signal`; throws when the service cannot be used. */
  call(signal: AbortSignal): Promise<ProbeAnswer>;
}

export type Probe = (signal?: AbortSignal) => Promise<ProbeResult>;

/** `spec` as a provider's probe(): timed out after timeoutMs, cached for cacheMs, one call in flight at a time. */
export function cachedProbe(spec: ProbeSpec, options: ProbeOptions = {}): Probe {
  const cacheMs = options.cacheMs ?? PROBE_CACHE_MS;
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  let last: { at: number; result: ProbeResult } | undefined;
  let inFlight: Promise<ProbeResult> | undefined;

  const start = (): Promise<ProbeResult> => {
    if (!inFlight) {
      const at = now();
      inFlight = runProbe(spec, timeoutMs, at).then((result) => {
        last = { at, result };
        inFlight = undefined;
        return result;
      });
    }
    return inFlight;
  };
  return (signal) => {
    if (last && now() - last.at < cacheMs) return Promise.resolve(last.result);
    return abandonable(start(), signal);
  };
}

/** One probe call; never throws: a failure is a result with its reason. */
async function runProbe(spec: ProbeSpec, timeoutMs: number, at: number): Promise<ProbeResult> {
  const started = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  const timing = () => ({ latencyMs: Math.round(performance.now() - started), checkedAt: new Date(at).toISOString() });
  try {
    const answer = await spec.call(signal);
    return { ok: true, check: answer.check, target: spec.target, ...timing(), ...(answer.note ? { note: answer.note } : {}) };
  } catch (error) {
    const reason = signal.aborted ? `no answer within ${timeoutMs} ms` : oneLine(error);
    return { ok: false, check: spec.check, target: spec.target, ...timing(), error: reason };
  }
}

/** The shared call, which the caller may stop waiting for (the call itself goes on and fills the cache). */
function abandonable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Error text for an anonymous endpoint: one line, bounded. */
export function oneLine(error: unknown): string {
  const text = redact(error instanceof Error ? error.message : String(error));
  return truncate(text, 300) || (error instanceof Error ? error.name : 'unknown error');
}

/** Whether a status answering the probe's route says only that the route is not served there. */
export function isRouteNotServed(status: number | undefined): boolean {
  return status !== undefined && ROUTE_NOT_SERVED.has(status);
}

/** The answer of a probe whose authenticated route is not served: the endpoint answered, so it is reachable. */
export function routeNotServed(target: string, status: number): ProbeAnswer {
  return { check: 'reachability', note: `${target} answered ${status} (not served here): the endpoint answers, credentials not checked` };
}

/** A network failure's reason with its cause (fetch says only "fetch failed"; the cause names ECONNREFUSED...). */
export function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.message === 'string' && cause.message ? cause.message : typeof cause?.code === 'string' ? cause.code : '';
  return detail ? `${error.message}: ${detail}` : error.message;
}

/**
 * A reachability check of `url` for services without a free authenticated call: any HTTP answer, whatever its
 * status, means the service is there; a refused connection, a DNS failure or no answer in time means it is not.
 * No credentials are sent: the answer is not read, and a key is not worth exposing to prove reachability.
 */
export function reachabilityCall(provider: string, url: string, fetchImpl: typeof fetch): (signal: AbortSignal) => Promise<ProbeAnswer> {
  return async (signal) => {
    let response: Response;
    try {
      response = await fetchImpl(url, { method: 'GET', signal, redirect: 'manual' });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new Error(`${provider}: cannot reach the service: ${networkReason(error)}`, { cause: error });
    }
    await response.body?.cancel().catch(() => undefined);
    return { check: 'reachability', note: `answered HTTP ${response.status} (credentials not checked)` };
  };
}

/** `GET <path of url>`: what a probe result names, without the host. */
export function probeTarget(url: string | URL): string {
  return `GET ${new URL(url).pathname}`;
}
