/**
 * A labeling failure as an HTTP answer. The image's fault is 422 (or 413 for its size); a provider that throttles is
 * 429 with its Retry-After; one that is down, times out or answers nonsense is 503 (retryable: the same request can
 * succeed later); everything else (a provider refusing our credentials, a broken config) is the server's fault, 500.
 */
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { InvalidImageError, isLabelingError, ThrottledError } from '../../core/pipeline/errors';
import { describeError } from '../../core/redaction';
import { internalError, serviceUnavailable, tooManyRequests, unprocessable } from './responses';

/** What to tell a throttled client when the provider did not say how long to wait. */
export const DEFAULT_RETRY_AFTER_SECONDS = 10;

export function labelingFailure(error: unknown, context: InvocationContext): HttpResponseInit {
  if (error instanceof InvalidImageError) return unprocessable('invalid-image', error.message);
  if (error instanceof ThrottledError) {
    context.warn(JSON.stringify({ event: 'provider-throttled', provider: error.provider, retryAfterMs: error.retryAfterMs }));
    const seconds = error.retryAfterMs !== undefined ? error.retryAfterMs / 1000 : DEFAULT_RETRY_AFTER_SECONDS;
    return tooManyRequests('provider-throttled', `the labeling provider is throttling requests; retry later (${error.message})`, seconds, {
      provider: error.provider,
    });
  }
  if (isLabelingError(error) && error.retryable) {
    context.warn(JSON.stringify({ event: 'provider-unavailable', provider: error.provider, kind: error.kind, reason: error.message }));
    const code = error.kind === 'timeout' ? 'provider-timeout' : 'provider-unavailable';
    return serviceUnavailable(code, `the labeling provider is unavailable; retry later (${error.message})`, {
      provider: error.provider,
      kind: error.kind,
    });
  }
  context.error(`labeling failed: ${describeError(error, { stack: true })}`);
  return internalError(context.invocationId);
}
