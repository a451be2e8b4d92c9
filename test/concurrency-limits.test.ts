/**
 * The one concurrency and rate module (src/adapters/concurrency/limits.ts): the limiter's slots, order and close(),
 * the bounded for-each's stops (abort, first error), and the rate limiter's tokens and abort listeners.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createLimiter, createRateLimiter, forEachConcurrently } from '../src/adapters/concurrency/limits';

/** A promise with its resolve/reject outside, to hold a task running for as long as a test needs. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

test('limiter: at most `concurrency` tasks run at once, the rest start in call order', async () => {
  const limiter = createLimiter(2);
  const gates = [0, 1, 2, 3].map(() => deferred());
  const started: number[] = [];
  const runs = gates.map((gate, i) =>
    limiter.run(async () => {
      started.push(i);
      await gate.promise;
      return i;
    }),
  );
  await tick();
  assert.deepEqual([started, limiter.active, limiter.waiting], [[0, 1], 2, 2]);
  gates[1]!.resolve();
  await tick();
  assert.deepEqual(started, [0, 1, 2]);
  for (const gate of gates) gate.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
  assert.deepEqual([limiter.active, limiter.waiting, limiter.maxActive], [0, 0, 2]);
});

test('limiter: close() refuses new and waiting tasks, and settles only when the running ones have', async () => {
  const limiter = createLimiter(1, { closedError: () => new Error('after close') });
  const running = deferred();
  const first = limiter.run(() => running.promise);
  const waiting = limiter.run(async () => 'never started');
  let closed = false;
  const closing = limiter.close().then(() => (closed = true));
  await assert.rejects(waiting, /after close/);
  await assert.rejects(
    limiter.run(async () => 'too late'),
    /after close/,
  );
  await tick();
  assert.equal(closed, false, 'close() settled while a task was still running');
  running.resolve();
  await Promise.all([first, closing]);
  assert.equal(closed, true);
  assert.equal(limiter.close(), limiter.close(), 'close() is idempotent');
});

test('limiter: Infinity only tracks calls, for close(); zero and fractions are refused', async () => {
  const limiter = createLimiter(Infinity);
  const gates = Array.from({ length: 50 }, () => deferred());
  const runs = gates.map((gate) => limiter.run(() => gate.promise));
  assert.deepEqual([limiter.active, limiter.waiting], [50, 0]);
  for (const gate of gates) gate.resolve();
  await Promise.all([...runs, limiter.close()]);
  assert.throws(() => createLimiter(0), RangeError);
  assert.throws(() => createLimiter(1.5), RangeError);
});

test('forEachConcurrently: every item once, in order, never more than `concurrency` at once', async () => {
  const seen: number[] = [];
  let running = 0;
  let peak = 0;
  await forEachConcurrently([0, 1, 2, 3, 4, 5, 6], 3, async (item, index) => {
    assert.equal(item, index);
    seen.push(item);
    peak = Math.max(peak, ++running);
    await tick();
    running--;
  });
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(peak, 3);
  await forEachConcurrently([], 3, async () => assert.fail('no item, no call'));
});

test('forEachConcurrently: after an abort no further item starts; the running ones finish and it resolves', async () => {
  const controller = new AbortController();
  const started: number[] = [];
  const finished: number[] = [];
  await forEachConcurrently(
    [0, 1, 2, 3, 4, 5],
    2,
    async (item) => {
      started.push(item);
      if (item === 1) controller.abort();
      await tick();
      finished.push(item);
    },
    { signal: controller.signal },
  );
  assert.deepEqual(
    [started, finished.sort()],
    [
      [0, 1],
      [0, 1],
    ],
  );
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  const none: number[] = [];
  await forEachConcurrently([0, 1], 2, async (item) => void none.push(item), { signal: AbortSignal.abort() });
  assert.deepEqual(none, []);
});

test('forEachConcurrently: a failure stops further items, waits for the running ones, then throws the first error', async () => {
  const started: number[] = [];
  let slowFinished = false;
  await assert.rejects(
    forEachConcurrently([0, 1, 2, 3, 4], 2, async (item) => {
      started.push(item);
      if (item === 0) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        slowFinished = true;
        return;
      }
      throw new Error(`item ${item} failed`);
    }),
    /item 1 failed/,
  );
  assert.deepEqual(started, [0, 1]);
  assert.equal(slowFinished, true, 'rejected before the running item settled');
});

test('rate limiter: 30 waits on one signal leave no abort listener on it and no MaxListenersExceededWarning', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  try {
    const signal = new AbortController().signal;
    const rate = createRateLimiter(600_000); // one token every 0.1 ms: 29 of the 30 wait on a timer
    await Promise.all(Array.from({ length: 30 }, () => rate.acquire(signal)));
    assert.equal(getEventListeners(signal, 'abort').length, 0);
    await tick(); // process warnings are emitted on a later tick
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
});

test('rate limiter: an acquire aborted before its turn rejects with the reason and takes no token', async () => {
  let now = 0;
  const rate = createRateLimiter(60, 1, () => now); // one token a second, on a clock the test moves
  await rate.acquire();
  now = 1_000; // a token is due again
  const reason = new Error('cancelled by the caller');
  await assert.rejects(rate.acquire(AbortSignal.abort(reason)), (error) => error === reason);
  // The token is still there: the next caller gets it without waiting.
  const next = rate.acquire().then(() => 'token');
  const waited = new Promise((resolve) => setTimeout(() => resolve('waited'), 200));
  assert.equal(await Promise.race([next, waited]), 'token');
});

test('rate limiter: an abort while waiting for a token rejects at once and removes its listener', async () => {
  const rate = createRateLimiter(60); // the second token is a second away
  await rate.acquire();
  const controller = new AbortController();
  const waiting = rate.acquire(controller.signal);
  await tick();
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
  const started = performance.now();
  controller.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
  assert.ok(performance.now() - started < 500);
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
});
