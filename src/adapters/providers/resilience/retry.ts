import { LabelingError, ProviderError, ProviderTimeoutError, ThrottledError } from '../../../core/pipeline/errors';
import { abortableSleep } from '../../concurrency/limits';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per attempt. */
  timeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 4, baseDelayMs: 500, maxDelayMs: 20_000, timeoutMs: 60_000 };

/** A Retry-After longer than this is not waited for: the image fails as throttled and can be re-run later. */
const LONGEST_RETRY_AFTER_MS = 120_000;

export interface RetryHooks {
  signal?: AbortSignal;
  onRetry?: (event: { attempt: number; delayMs: number; error: LabelingError }) => void;
  /** Injected in tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/**
 * Milliseconds a response asks us to wait: `retry-after-ms` / `x-ms-retry-after-ms` (Azure OpenAI, Cosmos), else
 * `Retry-After` in seconds or as an HTTP date. Undefined when none is present or readable.
 */
export function parseRetryAfter(headers: { get(name: string): string | null | undefined }, now = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = Number(headers.get(name));
    if (headers.get(name) != null && Number.isFinite(value) && value >= 0) return value;
  }
  const header = headers.get('retry-after');
  if (header == null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2^attempt)]. */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number): number {
  return Math.floor(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry));
}

/**
 * Run `attempt` with a per-attempt timeout, retrying retryable LabelingErrors with backoff and jitter, and
 * waiting exactly as long as a 429 asks. The caller's abort (Ctrl-C, host shutdown) stops everything at once.
 * Errors that are not LabelingErrors are treated as provider failures (network errors: retryable).
 */
export async function callWithRetries<T>(
  provider: string,
  attempt: (signal: AbortSignal, attemptNumber: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks = {},
): Promise<{ value: T; attempts: number }> {
  const sleep = hooks.sleep ?? abortableSleep;
  const random = hooks.random ?? Math.random;
  for (let attemptNumber = 1; ; attemptNumber++) {
    hooks.signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const signal = hooks.signal ? AbortSignal.any([hooks.signal, timeout]) : timeout;
    let error: LabelingError;
    try {
      return { value: await attempt(signal, attemptNumber), attempts: attemptNumber };
    } catch (thrown) {
      if (hooks.signal?.aborted) throw hooks.signal.reason;
      error = toLabelingError(provider, thrown, timeout.aborted ? policy.timeoutMs : undefined);
    }
    const retry = attemptNumber - 1;
    if (!error.retryable || retry >= policy.maxRetries) throw error;
    const askedFor = error instanceof ThrottledError ? error.retryAfterMs : undefined;
    if (askedFor !== undefined && askedFor > LONGEST_RETRY_AFTER_MS) throw error;
    const delayMs = askedFor ?? backoffDelay(policy, retry, random);
    hooks.onRetry?.({ attempt: attemptNumber, delayMs, error });
    await sleep(delayMs, hooks.signal);
  }
}

function toLabelingError(provider: string, thrown: unknown, timedOutAfterMs: number | undefined): LabelingError {
  if (timedOutAfterMs !== undefined) {
    return new ProviderTimeoutError(`${provider}: no answer within ${timedOutAfterMs} ms`, { provider, cause: thrown });
  }
  if (thrown instanceof LabelingError) return thrown;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new ProviderError(`${provider}: ${message}`, { provider, cause: thrown });
}
