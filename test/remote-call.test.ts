/**
 * The runner every remote provider calls through: one rate token per HTTP request (retries included), taken outside
 * the per-attempt timeout; the policy built from the settings, then the overrides.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderError } from '../src/core/pipeline/errors';
import { DEFAULT_RETRY_POLICY } from '../src/adapters/providers/resilience/retry';
import { createRemoteCallRunner } from '../src/adapters/providers/shared/remote-call';

const settings = { timeoutMs: 5_000, maxRetries: 2, concurrency: 4 };
const noSleep = async () => {};

test('a retry takes a rate token too: the second request waits for the rate, not only for the backoff', async () => {
  const runner = createRemoteCallRunner('test', { ...settings, requestsPerMinute: 600 }, { hooks: { sleep: noSleep } }); // one per 100 ms
  const sent: number[] = [];
  const { value, attempts } = await runner.run(async (_signal, attempt) => {
    sent.push(performance.now());
    if (attempt === 1) throw new ProviderError('test: HTTP 503', { provider: 'test', status: 503 });
    return 'ok';
  });
  assert.deepEqual([value, attempts], ['ok', 2]);
  // Without a token per retry (backoff skipped here) the retry would leave at once.
  assert.ok(sent[1]! - sent[0]! >= 80, `retry after ${(sent[1]! - sent[0]!).toFixed(0)} ms`);
});

test('waiting for a token does not count against the per-attempt timeout', async () => {
  const runner = createRemoteCallRunner('test', { ...settings, timeoutMs: 50, maxRetries: 0, requestsPerMinute: 600 });
  // The second and third wait 100 and 200 ms for their tokens, longer than the 50 ms an attempt may take.
  const results = await Promise.all([1, 2, 3].map(() => runner.run(async () => 'ok')));
  assert.deepEqual(
    results,
    [1, 2, 3].map(() => ({ value: 'ok', attempts: 1 })),
  );
});

test('acquire() paces extra requests inside an attempt (fallback, repair); without a rate it does not wait', async () => {
  const paced = createRemoteCallRunner('test', { ...settings, requestsPerMinute: 600 });
  const started = performance.now();
  await paced.run(async (signal) => {
    await paced.acquire(signal);
  });
  assert.ok(performance.now() - started >= 80);
  const free = createRemoteCallRunner('test', settings);
  const before = performance.now();
  await free.acquire();
  assert.ok(performance.now() - before < 20);
});

test('the policy: defaults, then the settings, then the overrides', () => {
  assert.deepEqual(createRemoteCallRunner('test', settings).policy, { ...DEFAULT_RETRY_POLICY, maxRetries: 2, timeoutMs: 5_000 });
  assert.deepEqual(createRemoteCallRunner('test', settings, { retryPolicy: { baseDelayMs: 5, maxRetries: 0 } }).policy, {
    ...DEFAULT_RETRY_POLICY,
    baseDelayMs: 5,
    maxRetries: 0,
    timeoutMs: 5_000,
  });
});
