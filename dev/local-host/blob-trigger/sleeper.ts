/**
 * Retry delays that close() can cut short: every pending timer is tracked, and cancelAll() clears them and resolves
 * their sleeps with false, so no timer outlives the watcher and the waiting retries give up without a receipt.
 */
export class Sleeper {
  private readonly pending = new Map<NodeJS.Timeout, (finished: boolean) => void>();

  /** Resolves true after `ms`, or false at once if cancelAll() comes first. */
  sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(timer);
          resolve(true);
        },
        Math.max(0, ms),
      );
      this.pending.set(timer, resolve);
    });
  }

  cancelAll(): void {
    for (const [timer, resolve] of this.pending) {
      clearTimeout(timer);
      resolve(false);
    }
    this.pending.clear();
  }
}
