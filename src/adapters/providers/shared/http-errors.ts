/**
 * What every remote provider does with a service's answer: read its headers, turn a non-2xx answer into one of our
 * typed errors, and validate a 2xx body (else BadResponseError). Provider-specific knowledge (extra retryable
 * statuses, how a service says it refused an image, where its credentials come from) comes in as options.
 */
import type { z } from 'zod';
import { BadResponseError, InvalidImageError, LabelingError, ProviderError, ThrottledError } from '../../../core/pipeline/errors';
import { parseRetryAfter } from '../resilience/retry';

/** Case-insensitive header lookup: fetch's Headers, ms-rest-js HttpHeaders, or what headerReader makes of a record. */
export interface HeaderReader {
  get(name: string): string | null | undefined;
}

/** Headers as the SDKs hand them over: an object with get(), a plain record (Azure core's RawHttpHeaders), or none. */
export type HeaderSource = HeaderReader | Readonly<Record<string, string | undefined>> | null | undefined;

export function headerReader(headers: HeaderSource): HeaderReader {
  if (!headers) return { get: () => undefined };
  if (typeof (headers as HeaderReader).get === 'function') return headers as HeaderReader;
  const lower = new Map(Object.entries(headers as Record<string, string | undefined>).map(([k, v]) => [k.toLowerCase(), v]));
  return { get: (name) => lower.get(name.toLowerCase()) };
}

/** The request id an answer carries (Azure AI services: apim-request-id; OpenAI, AzureML: x-request-id). */
export function requestIdOf(headers: HeaderSource): string | undefined {
  const reader = headerReader(headers);
  for (const name of ['apim-request-id', 'x-request-id', 'x-ms-request-id']) {
    const value = reader.get(name);
    if (value) return value;
  }
  return undefined;
}

/** What an error answer says: its error codes, outermost first, and its message. */
export interface ErrorDetails {
  codes: string[];
  message?: string;
  /**
   * A content filter's verdict (Azure OpenAI, Azure AI model inference): the categories it filtered or detected,
   * with their severity (`violence (medium)`, `jailbreak`). Present only when the answer carries filter results.
   */
  filtered?: string[];
}

/**
 * Codes and message from `{error: {code, message, innererror: {code}}}` (Azure.Core; Azure OpenAI's content filter
 * also writes `inner_error`), `{code, message}` or `{message}`, given as the body text or as the JSON an SDK already
 * parsed. Text that is not JSON has neither.
 */
export function errorDetails(body: unknown): ErrorDetails {
  let json = body;
  if (typeof body === 'string') {
    try {
      json = JSON.parse(body);
    } catch {
      return { codes: [] };
    }
  }
  const codes: string[] = [];
  let message: string | undefined;
  const filtered: string[] = [];
  const visit = (node: unknown, depth: number) => {
    if (!node || typeof node !== 'object' || depth > 4) return;
    const record = node as Record<string, unknown>;
    if (typeof record.code === 'string') codes.push(record.code);
    if (message === undefined && typeof record.message === 'string') message = record.message;
    filtered.push(...filterVerdict(record.content_filter_results ?? record.content_filter_result));
    visit(record.error, depth + 1);
    visit(record.innererror ?? record.innerError ?? record.inner_error, depth + 1);
  };
  visit(json, 0);
  return {
    codes,
    ...(message === undefined ? {} : { message: truncate(message) }),
    ...(filtered.length ? { filtered } : {}),
  };
}

/**
 * The categories a content filter result filtered or detected: `{violence: {filtered: true, severity: 'medium'},
 * jailbreak: {filtered: true, detected: true}, hate: {filtered: false, severity: 'safe'}}` gives `violence (medium)`
 * and `jailbreak`.
 */
function filterVerdict(results: unknown): string[] {
  if (!results || typeof results !== 'object') return [];
  const verdict: string[] = [];
  for (const [category, result] of Object.entries(results as Record<string, unknown>)) {
    if (!result || typeof result !== 'object') continue;
    const { filtered, detected, severity } = result as { filtered?: unknown; detected?: unknown; severity?: unknown };
    if (filtered !== true && detected !== true) continue;
    verdict.push(typeof severity === 'string' && severity !== 'safe' ? `${category} (${severity})` : category);
  }
  return verdict;
}

/** Codes with which Azure OpenAI and Azure AI model inference say their content filter refused the request. */
const CONTENT_FILTER_CODES = new Set(['content_filter', 'responsibleaipolicyviolation']);

/** Whether the answer is a content filter's refusal: its code, or filter results that filtered something. */
export function isContentFilterRefusal(details: ErrorDetails): boolean {
  return Boolean(details.filtered?.length) || details.codes.some((code) => CONTENT_FILTER_CODES.has(code.toLowerCase()));
}

/** Error codes Azure AI services use for an image they will not take (top level or innererror). */
const AZURE_INVALID_IMAGE_CODES = new Set([
  'invalidimage',
  'invalidimageformat',
  'invalidimagesize',
  'invalidimagedimension',
  'notsupportedimage',
  'invalidimageurl',
]);

/** Azure AI services' refusal of an image: 413 (too large), or a 400 with one of their invalid-image codes. */
export function isAzureImageRejection(status: number, details: ErrorDetails): boolean {
  return status === 413 || (status === 400 && details.codes.some((code) => AZURE_INVALID_IMAGE_CODES.has(code.toLowerCase())));
}

export interface HttpFailureOptions {
  /** Where the credentials come from, said with 401/403 (see ResolvedAuth.hint). */
  authHint?: string | undefined;
  /** Statuses besides 408 and 5xx that pass with time (AzureML 424: the scoring container failed). */
  retryableStatuses?: readonly number[] | undefined;
  /** Whether the answer says the image itself was refused: InvalidImageError, never retried. */
  isInvalidImage?: ((status: number, details: ErrorDetails) => boolean) | undefined;
  /** Named in an InvalidImageError's message. */
  imageName?: string | undefined;
  /** What the answer says besides its body (AzureML 424: the scoring container's own status), added to the message. */
  note?: string | undefined;
  cause?: unknown;
}

/**
 * A non-2xx answer as a typed error: 429 throttled (with the Retry-After it asked for), 408, 5xx and
 * `retryableStatuses` retryable, an image refusal (`isInvalidImage`) InvalidImageError, 401/403 not retried with
 * `authHint`, any other 4xx not retried. `body` is the body text or the JSON an SDK parsed from it.
 */
export function httpFailure(
  provider: string,
  status: number,
  headers: HeaderSource,
  body: unknown,
  options: HttpFailureOptions = {},
): LabelingError {
  const reader = headerReader(headers);
  const parsed = errorDetails(body);
  // Azure services also name the error code in a header; it stands in for a body without one.
  const headerCode = reader.get('x-ms-error-code');
  const codes = parsed.codes.length || !headerCode ? parsed.codes : [headerCode];
  const code = codes[0];
  const message = parsed.message || bodyText(body) || 'no details';
  const details: ErrorDetails = { ...parsed, codes, message };
  const extras = [details.filtered ? `content filter: ${details.filtered.join(', ')}` : undefined, options.note].filter(Boolean);
  const said = `${status}${code ? ` ${code}` : ''}: ${message}${extras.map((extra) => `; ${extra}`).join('')}`;
  const requestId = requestIdOf(reader);
  const { cause } = options;
  const common = { provider, ...(requestId ? { requestId } : {}), ...(cause === undefined ? {} : { cause }) };
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(reader);
    return new ThrottledError(`${provider}: throttled (${said})`, { ...common, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  if (status >= 500 || (options.retryableStatuses ?? []).includes(status)) {
    return new ProviderError(`${provider}: service error (${said})`, { ...common, status, retryable: true });
  }
  if (status === 408) return new ProviderError(`${provider}: request timeout (${said})`, { ...common, status, retryable: true });
  if (options.isInvalidImage && (options.isInvalidImage(status, details) || isImageContentFilterRefusal(status, details))) {
    const named = options.imageName ? `${options.imageName}: the image` : 'the image';
    return new InvalidImageError(`${named} was rejected by ${provider} (${said})`, { provider, status, cause });
  }
  if (status === 401 || status === 403) {
    return new ProviderError(`${provider}: authentication failed (${said}); ${options.authHint ?? 'check the credentials'}`, {
      ...common,
      status,
      retryable: false,
    });
  }
  if (status === 404) {
    return new ProviderError(`${provider}: not found (${said}); check the endpoint, deployment and model names`, {
      ...common,
      status,
      retryable: false,
    });
  }
  return new ProviderError(`${provider}: request refused (${said})`, { ...common, status, retryable: false });
}

/**
 * A content filter's 400, whatever code it comes with (`content_filter`, or only `ResponsibleAIPolicyViolation` in
 * `inner_error`): for a provider that is sent images, with a prompt of ours that does not change, it is the image
 * that was refused, and sending it again gets the same answer.
 */
function isImageContentFilterRefusal(status: number, details: ErrorDetails): boolean {
  return status === 400 && isContentFilterRefusal(details);
}

/** A fetch answer's body text and request id; a non-2xx answer throws httpFailure's typed error instead. */
export async function readAnswer(
  provider: string,
  response: Response,
  failure: HttpFailureOptions = {},
): Promise<{ text: string; requestId: string | undefined }> {
  const text = await response.text();
  if (!response.ok) throw httpFailure(provider, response.status, response.headers, text, failure);
  return { text, requestId: requestIdOf(response.headers) };
}

/** A body that is no error object, as one short line (JSON that is not one, written out). */
function bodyText(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return truncate(body);
  try {
    return truncate(JSON.stringify(body) ?? '');
  } catch {
    return '';
  }
}

/** A 2xx body: JSON that matches `schema`, else BadResponseError (retryable: a broken answer may not repeat). */
export function parseJsonAnswer<S extends z.ZodType>(provider: string, text: string, schema: S, requestId?: string): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BadResponseError(`${provider}: the answer is not JSON: ${truncate(text) || '(empty)'}`, {
      provider,
      ...(requestId ? { requestId } : {}),
      cause: error,
    });
  }
  return validate(provider, schema, json, requestId);
}

/** A parsed answer that matches `schema`, else BadResponseError naming the first problems. */
export function validate<S extends z.ZodType>(provider: string, schema: S, value: unknown, requestId?: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new BadResponseError(`${provider}: unexpected answer shape (${problems.join('; ')})`, {
      provider,
      ...(requestId ? { requestId } : {}),
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** Text for an error message: white space folded, at most `max` characters. */
export function truncate(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}
