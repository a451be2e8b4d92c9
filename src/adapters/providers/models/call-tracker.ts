/**
 * Calls in progress on a shared model session, so that close() can refuse new calls and wait for the running ones
 * before the session is released (releasing it under a running inference crashes onnxruntime-node).
 */
export interface CallTracker {
  /** Starts `call` and tracks it, or rejects with `closedError()` once closing has begun. */
  track<T>(call: () => Promise<T>): Promise<T>;
  /** Refuses new calls and settles when every tracked call has. */
  drain(): Promise<void>;
}

export function createCallTracker(closedError: () => Error): CallTracker {
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  return {
    track(call) {
      if (closed) return Promise.reject(closedError());
      const run = call();
      inFlight.add(run);
      const forget = () => inFlight.delete(run);
      run.then(forget, forget);
      return run;
    },
    async drain() {
      closed = true;
      await Promise.allSettled([...inFlight]);
    },
  };
}
