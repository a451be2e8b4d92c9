/**
 * One image's call to a remote provider, paced and retried the same way by every provider: a concurrency slot for the
 * whole call (retries included), a rate-limiter token before every HTTP request (the first and each retry, as a
 * service's rate limit counts them), retries per the config through callWithRetries.
 */
import { abortableSleep, createLimiter, createRateLimiter } from '../../concurrency/limits';
import { callWithRetries, DEFAULT_RETRY_POLICY, type RetryHooks, type RetryPolicy } from '../resilience/retry';

/** The pacing part of a provider's config. */
export interface RemoteCallSettings {
  timeoutMs: number;
  maxRetries: number;
  concurrency: number;
  requestsPerMinute?: number | undefined;
}

export interface RemoteCallOptions {
  /** Overrides of the policy built from the settings (tests: short backoff). */
  retryPolicy?: Partial<RetryPolicy> | undefined;
  hooks?: Pick<RetryHooks, 'onRetry' | 'sleep' | 'random'> | undefined;
}

export interface RemoteCallRunner {
  readonly policy: RetryPolicy;
  /**
   * A token for a further request made inside an attempt (a fallback or repair request), under that attempt's
   * signal. The runner takes the tokens for the attempts themselves.
   */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Run `attempt` with retries; `signal` is the caller's (Ctrl-C, host shutdown). */
  run<T>(
    attempt: (signal: AbortSignal, attemptNumber: number) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<{ value: T; attempts: number }>;
}

export function createRemoteCallRunner(provider: string, settings: RemoteCallSettings, options: RemoteCallOptions = {}): RemoteCallRunner {
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY_POLICY,
    maxRetries: settings.maxRetries,
    timeoutMs: settings.timeoutMs,
    ...options.retryPolicy,
  };
  const limiter = createLimiter(settings.concurrency);
  const rate = settings.requestsPerMinute ? createRateLimiter(settings.requestsPerMinute) : undefined;
  const sleep = options.hooks?.sleep ?? abortableSleep;
  const hooks: RetryHooks = {
    ...options.hooks,
    // A retry's token is taken after its backoff, outside the per-attempt timeout like the first one.
    sleep: async (ms, signal) => {
      await sleep(ms, signal);
      await rate?.acquire(signal);
    },
  };
  return {
    policy,
    acquire: (signal) => rate?.acquire(signal) ?? Promise.resolve(),
    run(attempt, signal) {
      return limiter.run(async () => {
        await rate?.acquire(signal);
        return callWithRetries(provider, attempt, policy, signal ? { ...hooks, signal } : hooks);
      });
    },
  };
}
