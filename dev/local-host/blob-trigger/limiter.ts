/**
 * A counting semaphore: at most `limit` invocations run at once, across all functions and containers (the host's
 * blob trigger queue has one batch size for everything). Waiters are served first come, first served, and `clear()`
 * turns away the ones still waiting when the watcher closes.
 */
export class Limiter {
  private running = 0;
  private peak = 0;
  private readonly waiting: Array<{ grant: () => void; refuse: (err: Error) => void }> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`concurrency must be a positive integer (got ${limit})`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Most slots ever held at once. */
  get maxActive(): number {
    return this.peak;
  }

  acquire(): Promise<void> {
    if (this.running < this.limit) {
      this.take();
      return Promise.resolve();
    }
    return new Promise((grant, refuse) => this.waiting.push({ grant, refuse }));
  }

  release(): void {
    this.running--;
    const next = this.waiting.shift();
    if (next) {
      this.take();
      next.grant();
    }
  }

  /** Refuses every waiter (they never got a slot, so they must not release one). */
  clear(reason: Error): void {
    for (const waiter of this.waiting.splice(0)) waiter.refuse(reason);
  }

  private take(): void {
    this.running++;
    this.peak = Math.max(this.peak, this.running);
  }
}
