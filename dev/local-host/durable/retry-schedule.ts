/**
 * When callActivityWithRetry tries again, computed as Durable Task's RetryInterceptor does: after failed attempt n
 * (1-based) wait firstRetryInterval * backoffCoefficient^(n-1), capped at maxRetryInterval; give up after
 * maxNumberOfAttempts attempts, or once retryTimeout has passed since the first attempt.
 */
import type { RetryPolicy } from './instance-state';

/** Milliseconds to wait before the next attempt, or undefined when there must be no further attempt. */
export function delayBeforeNextAttempt(policy: RetryPolicy, failedAttempts: number, firstAttemptAt: Date, now: Date): number | undefined {
  if (failedAttempts >= Math.max(1, policy.maxNumberOfAttempts)) return undefined;
  if (policy.retryTimeoutInMilliseconds !== undefined && now.getTime() >= firstAttemptAt.getTime() + policy.retryTimeoutInMilliseconds) {
    return undefined;
  }
  const uncapped = policy.firstRetryIntervalInMilliseconds * Math.pow(policy.backoffCoefficient ?? 1, failedAttempts - 1);
  return Math.min(uncapped, policy.maxRetryIntervalInMilliseconds ?? Number.POSITIVE_INFINITY);
}
