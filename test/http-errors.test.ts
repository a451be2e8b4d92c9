/**
 * The one mapping from a service's error answer to our typed errors, with the options the providers pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { BadResponseError, InvalidImageError, ProviderError, ThrottledError } from '../src/core/pipeline/errors';
import { isImageRejection } from '../src/adapters/providers/scene/openai-scene';
import {
  errorDetails,
  headerReader,
  httpFailure,
  isAzureImageRejection,
  parseJsonAnswer,
  requestIdOf,
  truncate,
} from '../src/adapters/providers/shared/http-errors';

const azureError = (code: string, message: string, inner?: string) =>
  JSON.stringify({ error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } });

test('429: ThrottledError with the Retry-After asked for and the request id', () => {
  const error = httpFailure('p', 429, new Headers({ 'retry-after': '2', 'x-request-id': 'r1' }), azureError('429', 'slow down'));
  assert.ok(error instanceof ThrottledError);
  assert.deepEqual([error.retryAfterMs, error.requestId, error.retryable], [2000, 'r1', true]);
  assert.equal(error.message, 'p: throttled (429 429: slow down)');
});

test("5xx, 408 and the provider's extra statuses are retryable; other 4xx are not", () => {
  const retryable = (status: number, retryableStatuses?: number[]) =>
    httpFailure('p', status, undefined, 'x', retryableStatuses ? { retryableStatuses } : {}).retryable;
  assert.deepEqual(
    [500, 503, 408].map((s) => retryable(s)),
    [true, true, true],
  );
  assert.deepEqual(
    [400, 404, 409, 424].map((s) => retryable(s)),
    [false, false, false, false],
  );
  assert.equal(retryable(424, [424]), true);
});

test('401/403: not retried, with the auth hint', () => {
  const error = httpFailure('p', 403, undefined, azureError('PermissionDenied', 'no'), { authHint: 'check KEY_VAR' });
  assert.ok(error instanceof ProviderError);
  assert.deepEqual([error.status, error.retryable], [403, false]);
  assert.equal(error.message, 'p: authentication failed (403 PermissionDenied: no); check KEY_VAR');
});

test('invalid images as each provider family says them', () => {
  const azure = { isInvalidImage: isAzureImageRejection, imageName: 'a.jpg' };
  const inner = httpFailure('p', 400, undefined, azureError('InvalidRequest', 'bad', 'InvalidImageFormat'), azure);
  assert.ok(inner instanceof InvalidImageError);
  assert.equal(inner.message, 'a.jpg: the image was rejected by p (400 InvalidRequest: bad)');
  assert.ok(httpFailure('p', 413, undefined, 'too big', azure) instanceof InvalidImageError);
  assert.ok(!(httpFailure('p', 400, undefined, azureError('InvalidRequest', 'bad'), azure) instanceof InvalidImageError));
  // The code in a header stands in for a body without one.
  assert.ok(httpFailure('p', 400, { 'X-Ms-Error-Code': 'InvalidImageSize' }, '', azure) instanceof InvalidImageError);

  const chat = { isInvalidImage: isImageRejection };
  assert.ok(httpFailure('p', 400, undefined, { code: 'content_filter', message: 'filtered' }, chat) instanceof InvalidImageError);
  assert.ok(httpFailure('p', 400, undefined, { message: 'The image could not be decoded.' }, chat) instanceof InvalidImageError);
  assert.ok(!(httpFailure('p', 413, undefined, 'too big', chat) instanceof InvalidImageError));
});

test('bodies: parsed JSON, JSON text, plain text, nothing', () => {
  assert.deepEqual(errorDetails({ error: { code: 'a', message: 'm', innererror: { code: 'b' } } }), { codes: ['a', 'b'], message: 'm' });
  assert.deepEqual(errorDetails('{"code": "c", "message": "m"}'), { codes: ['c'], message: 'm' });
  assert.deepEqual(errorDetails('Bad Gateway'), { codes: [] });
  assert.equal(httpFailure('p', 502, undefined, 'Bad   Gateway\n').message, 'p: service error (502: Bad Gateway)');
  assert.equal(
    httpFailure('p', 404, undefined, '').message,
    'p: not found (404: no details); check the endpoint, deployment and model names',
  );
});

test('headers: Headers objects and plain records alike; request ids in the order Azure services use', () => {
  assert.equal(headerReader({ 'Retry-After': '1' }).get('retry-after'), '1');
  assert.equal(headerReader(undefined).get('x'), undefined);
  assert.equal(requestIdOf({ 'x-request-id': 'x', 'apim-request-id': 'apim' }), 'apim');
  assert.equal(requestIdOf(new Headers({ 'x-ms-request-id': 'ms' })), 'ms');
  assert.equal(requestIdOf({}), undefined);
});

test('2xx bodies: not JSON or the wrong shape is a BadResponseError with the request id', () => {
  const schema = z.object({ n: z.number() });
  assert.deepEqual(parseJsonAnswer('p', '{"n": 1}', schema), { n: 1 });
  assert.throws(
    () => parseJsonAnswer('p', '<html>', schema, 'r'),
    (e) => e instanceof BadResponseError && e.requestId === 'r' && /not JSON/.test(e.message),
  );
  assert.throws(
    () => parseJsonAnswer('p', '{"n": "1"}', schema),
    (e) => e instanceof BadResponseError && /n: /.test(e.message),
  );
  assert.equal(truncate(`a\n\n${'b'.repeat(400)}`, 10), 'a bbbbbbbb...');
});
