/**
 * Typed failures of one image's labeling. `retryable` decides what callers do: the CLI records it in errors.jsonl,
 * the blob trigger throws retryable ones so the host retries and stores the rest as a failed document.
 */
import { redact } from '../redaction';

export type LabelingErrorKind = 'invalid-image' | 'throttled' | 'timeout' | 'provider' | 'bad-response' | 'config';

export class LabelingError extends Error {
  override name = 'LabelingError';
  readonly kind: LabelingErrorKind;
  readonly retryable: boolean;
  readonly provider?: string;
  readonly status?: number;
  readonly requestId?: string;

  constructor(
    kind: LabelingErrorKind,
    message: string,
    options: { retryable: boolean; provider?: string; status?: number; requestId?: string; cause?: unknown },
  ) {
    // Redacted at birth: services echo credentials in their error bodies, and this message is stored and shown.
    super(redact(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.retryable = options.retryable;
    if (options.provider !== undefined) this.provider = options.provider;
    if (options.status !== undefined) this.status = options.status;
    if (options.requestId !== undefined) this.requestId = options.requestId;
  }
}

/** The bytes are not an image we accept (never retried). */
export class InvalidImageError extends LabelingError {
  override name = 'InvalidImageError';
  constructor(message: string, options: { provider?: string; status?: number; cause?: unknown } = {}) {
    super('invalid-image', message, { ...options, retryable: false });
  }
}

/** 429: `retryAfterMs` is what the service asked for (Retry-After / retry-after-ms), when it said. */
export class ThrottledError extends LabelingError {
  override name = 'ThrottledError';
  readonly retryAfterMs?: number;
  constructor(message: string, options: { provider: string; retryAfterMs?: number; requestId?: string; cause?: unknown }) {
    super('throttled', message, { ...options, status: 429, retryable: true });
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export class ProviderTimeoutError extends LabelingError {
  override name = 'ProviderTimeoutError';
  constructor(message: string, options: { provider: string; cause?: unknown }) {
    super('timeout', message, { ...options, retryable: true });
  }
}

/** 5xx and network failures are retryable; other 4xx are not (the request itself is wrong). */
export class ProviderError extends LabelingError {
  override name = 'ProviderError';
  constructor(message: string, options: { provider: string; status?: number; requestId?: string; retryable?: boolean; cause?: unknown }) {
    const retryable = options.retryable ?? (options.status === undefined || options.status >= 500);
    super('provider', message, { ...options, retryable });
  }
}

/** The service answered 2xx with something that does not parse or validate. Retried: models answer differently. */
export class BadResponseError extends LabelingError {
  override name = 'BadResponseError';
  constructor(message: string, options: { provider: string; requestId?: string; cause?: unknown }) {
    super('bad-response', message, { ...options, retryable: true });
  }
}

export function isLabelingError(error: unknown): error is LabelingError {
  return error instanceof LabelingError;
}
