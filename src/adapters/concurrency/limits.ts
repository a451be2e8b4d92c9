/**
 * How much runs at once and how fast, in one place for the whole product: a FIFO limiter of tasks in flight (which,
 * closed, refuses new tasks and waits for the running ones), a bounded for-each over a list built on it, a token
 * bucket spacing requests in time, and the abortable sleep the bucket and the retries wait with.
 *
 * Written here rather than taken from p-limit / p-queue: their maintained majors are ESM-only, which this CommonJS
 * build (moduleResolution node10) cannot import without dynamic import(); p-limit@3, the last CommonJS one, has no
 * close, no abort and no rate; and p-queue's interval cap is a fixed window, not the token bucket the providers' rate
 * settings describe.
 */

/** A sleep that an abort ends at once, rejecting with the signal's reason; it leaves no listener on the signal. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What run() rejects with once the limiter is closed (unless LimiterOptions.closedError says otherwise). */
export class LimiterClosedError extends Error {
  constructor() {
    super('limiter closed: no new tasks');
    this.name = 'LimiterClosedError';
  }
}

/** At most `concurrency` calls of `run` in flight; the rest wait in FIFO order. */
export interface Limiter {
  /** Runs `task` once a slot is free; rejects with the closed error once close() has begun. */
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly waiting: number;
  /** The most tasks ever in flight at once. */
  readonly maxActive: number;
  /**
   * Refuses new tasks and the ones still waiting (they never started), and settles when every running task has:
   * what a shared model session needs before it is released. Idempotent.
   */
  close(): Promise<void>;
}

export interface LimiterOptions {
  /** What run() rejects with after close() (default: a LimiterClosedError). */
  closedError?: () => Error;
}

/** `concurrency`: a positive integer, or Infinity to only track the tasks in flight (for close()). */
export function createLimiter(concurrency: number, options: LimiterOptions = {}): Limiter {
  if (!(Number.isInteger(concurrency) || concurrency === Infinity) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const closedError = options.closedError ?? (() => new LimiterClosedError());
  const queue: { start: () => void; refuse: (error: Error) => void }[] = [];
  let active = 0;
  let maxActive = 0;
  let closing: Promise<void> | undefined;
  let onIdle: (() => void) | undefined;
  const release = () => {
    active--;
    const next = queue.shift();
    if (next) {
      maxActive = Math.max(maxActive, ++active);
      next.start();
    } else if (active === 0) onIdle?.();
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    get maxActive() {
      return maxActive;
    },
    async run(task) {
      if (closing) throw closedError();
      if (active < concurrency) maxActive = Math.max(maxActive, ++active);
      else await new Promise<void>((start, refuse) => queue.push({ start, refuse }));
      try {
        return await task();
      } finally {
        release();
      }
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const waiter of queue.splice(0)) waiter.refuse(closedError());
        if (active === 0) resolve();
        else onIdle = resolve;
      });
      return closing;
    },
  };
}

/**
 * `work` on every item, in order, at most `concurrency` at once. Once `signal` aborts, or `work` throws, no further
 * item starts; the running ones are waited for, then the first error (if any) is thrown. An abort is not an error:
 * the caller sees it on its signal.
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<void> {
  const { signal } = options;
  const limiter = createLimiter(concurrency);
  const stop = () => void limiter.close();
  let failure: { error: unknown } | undefined;
  if (signal?.aborted) return;
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await Promise.all(
      items.map(
        (item, index) =>
          limiter
            .run(async () => {
              try {
                await work(item, index);
              } catch (error) {
                // Closed inside the task, before its slot passes to the next item.
                failure ??= { error };
                stop();
              }
            })
            .catch(() => undefined), // refused: the loop stopped before this item started
      ),
    );
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  if (failure) throw failure.error;
}

/**
 * Spaces calls to at most `perMinute` (a token bucket holding at most `burst` tokens), so a batch runs at the
 * service's allowed rate instead of bouncing off 429s.
 */
export interface RateLimiter {
  /** Resolves when a token is taken, in call order; rejects with `signal`'s reason, taking none, once it aborts. */
  acquire(signal?: AbortSignal): Promise<void>;
}

export function createRateLimiter(perMinute: number, burst = 1, now: () => number = () => performance.now()): RateLimiter {
  if (!(perMinute > 0)) throw new RangeError(`rate must be positive, got ${perMinute}`);
  const intervalMs = 60_000 / perMinute;
  let tokens = burst;
  let updated = now();
  // Each acquire waits for the one before it, so tokens go out in call order.
  let chain: Promise<void> = Promise.resolve();
  const refill = () => {
    const t = now();
    tokens = Math.min(burst, tokens + (t - updated) / intervalMs);
    updated = t;
  };
  return {
    acquire(signal) {
      const turn = chain.then(async () => {
        signal?.throwIfAborted();
        refill();
        if (tokens < 1) {
          await abortableSleep((1 - tokens) * intervalMs, signal);
          refill();
        }
        tokens -= 1;
      });
      chain = turn.catch(() => undefined);
      return turn;
    },
  };
}
