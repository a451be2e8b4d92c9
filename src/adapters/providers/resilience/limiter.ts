/** At most `concurrency` calls of `run` in flight; the rest wait in FIFO order. */
export interface ConcurrencyLimiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly waiting: number;
}

export function createLimiter(concurrency: number): ConcurrencyLimiter {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const queue: (() => void)[] = [];
  let active = 0;
  const release = () => {
    active--;
    const next = queue.shift();
    if (next) {
      active++;
      next();
    }
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    async run(task) {
      if (active < concurrency) active++;
      else await new Promise<void>((resolve) => queue.push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}

/**
 * Spaces calls to at most `perMinute` (a token bucket holding at most `burst` tokens), so a batch runs at the
 * service's allowed rate instead of bouncing off 429s.
 */
export interface RateLimiter {
  acquire(signal?: AbortSignal): Promise<void>;
}

export function createRateLimiter(perMinute: number, burst = 1, now: () => number = () => performance.now()): RateLimiter {
  if (!(perMinute > 0)) throw new RangeError(`rate must be positive, got ${perMinute}`);
  const intervalMs = 60_000 / perMinute;
  let tokens = burst;
  let updated = now();
  let chain: Promise<void> = Promise.resolve();
  const refill = () => {
    const t = now();
    tokens = Math.min(burst, tokens + (t - updated) / intervalMs);
    updated = t;
  };
  return {
    acquire(signal) {
      const turn = chain.then(async () => {
        refill();
        if (tokens < 1) {
          const waitMs = (1 - tokens) * intervalMs;
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, waitMs);
            signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
          });
          refill();
        }
        tokens -= 1;
      });
      chain = turn.catch(() => undefined);
      return turn;
    },
  };
}
