/**
 * Bounded concurrency for activity invocations (the host's maxConcurrentActivityFunctions), first come first served,
 * plus cancellable waits for retry intervals. close() lets running work finish but starts nothing new: queued work
 * is dropped (its task stays scheduled-but-unfinished in the history, so resume() runs it later).
 */
export class GateClosedError extends Error {
  constructor() {
    super('the local durable runner is closing');
    this.name = 'GateClosedError';
  }
}

export class WorkGate {
  private running = 0;
  private readonly queue: Array<{ start: () => void; drop: () => void }> = [];
  private readonly timers = new Set<{ timer: NodeJS.Timeout; drop: () => void }>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`maxConcurrentActivities must be at least 1, got ${limit}`);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs `work` once a slot is free; rejects with GateClosedError when the gate closes before it starts. */
  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new GateClosedError());
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.running++;
        const done = Promise.resolve()
          .then(work)
          .finally(() => {
            this.running--;
            this.inFlight.delete(done);
            this.startNext();
          });
        this.inFlight.add(done);
        done.then(resolve, reject);
      };
      if (this.running < this.limit) start();
      else this.queue.push({ start, drop: () => reject(new GateClosedError()) });
    });
  }

  /** Resolves after `ms`; rejects with GateClosedError if the gate closes first. */
  wait(ms: number): Promise<void> {
    if (this.closed) return Promise.reject(new GateClosedError());
    return new Promise<void>((resolve, reject) => {
      const entry = {
        timer: setTimeout(
          () => {
            this.timers.delete(entry);
            resolve();
          },
          Math.max(0, ms),
        ),
        drop: () => reject(new GateClosedError()),
      };
      this.timers.add(entry);
    });
  }

  /** Stops starting work and cancels waits; resolves when running work has settled or `graceMs` has passed. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    for (const queued of this.queue.splice(0)) queued.drop();
    for (const entry of this.timers) {
      clearTimeout(entry.timer);
      entry.drop();
    }
    this.timers.clear();
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private startNext(): void {
    if (this.closed || this.running >= this.limit) return;
    this.queue.shift()?.start();
  }
}
