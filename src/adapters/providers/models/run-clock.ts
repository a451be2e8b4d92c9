/**
 * How much CPU this thread spends inside model runs (session.run), for benchmarks that split an image's CPU time
 * into "the models" and "everything around them", and its garbage-collection pauses besides. Off unless a benchmark
 * turns it on: each metered run costs two short sleeps.
 *
 * onnxruntime-node runs session.run synchronously on the calling JS thread (intra-op threads = 1 here), so the CPU
 * time of that thread across the call is the model's. Node 20 has no per-thread CPU clock; Linux exposes one in
 * /proc/thread-self/schedstat (nanoseconds on a CPU), but the kernel brings it up to date only at a scheduler tick
 * (4 ms here) or a context switch, so a plain read lags by up to a tick. A sleep of 50 µs right before each read
 * forces the context switch: measured against busy loops of 0.2-10 ms, the difference then stays within 0.1 ms
 * (the read itself), where plain reads were off by up to 4 ms.
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

const SCHEDSTAT = '/proc/thread-self/schedstat';
const FORCE_SWITCH_MS = 0.05;

export interface ModelRunTime {
  /** Runs metered since the last take. */
  runs: number;
  /** Wall time inside the runs (the await around session.run). */
  wallMs: number;
  /** CPU time of this thread inside the runs; undefined where the thread clock is not available (not Linux). */
  cpuMs?: number;
  /** Garbage-collection pauses of this thread (all of them, not only inside the runs). */
  gcMs: number;
  /**
   * CPU time of this thread since it started, read at the take (not reset): the difference of two takes minus cpuMs
   * is the thread's work around the models. Undefined without the thread clock.
   */
  threadCpuMs?: number;
}

let enabled = false;
let available: boolean | undefined;
let sleeper: Int32Array | undefined;
let runs = 0;
let wallMs = 0;
let cpuMs = 0;
let gcMs = 0;
let gcObserver: PerformanceObserver | undefined;

/** CPU time of the calling thread in ms, brought up to date by a short sleep; undefined without the thread clock. */
export function threadCpuMs(): number | undefined {
  if (available === false) return undefined;
  try {
    sleeper ??= new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(sleeper, 0, 0, FORCE_SWITCH_MS);
    const ns = Number(readFileSync(SCHEDSTAT, 'latin1').split(' ', 1)[0]);
    available = Number.isFinite(ns);
    return available ? ns / 1e6 : undefined;
  } catch {
    available = false;
    return undefined;
  }
}

/** Turn metering on or off for this thread's model runs; returns whether CPU time (not only wall time) is measured. */
export function meterModelRuns(on: boolean): boolean {
  enabled = on;
  if (on && !gcObserver) {
    gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcMs += entry.duration;
    });
    gcObserver.observe({ entryTypes: ['gc'] });
  } else if (!on && gcObserver) {
    gcObserver.disconnect();
    gcObserver = undefined;
  }
  return on && threadCpuMs() !== undefined;
}

export function modelRunsMetered(): boolean {
  return enabled;
}

/** Runs `run` (one session.run), adding its time to this thread's totals when metering is on. */
export async function meteredRun<T>(run: () => Promise<T>): Promise<T> {
  if (!enabled) return run();
  const cpuBefore = threadCpuMs();
  const started = performance.now();
  try {
    return await run();
  } finally {
    wallMs += performance.now() - started;
    const cpuAfter = threadCpuMs();
    if (cpuBefore !== undefined && cpuAfter !== undefined) cpuMs += cpuAfter - cpuBefore;
    runs++;
  }
}

/** The totals since the last take (and resets them). */
export function takeModelRunTime(): ModelRunTime {
  const threadTotal = enabled ? threadCpuMs() : undefined;
  const taken: ModelRunTime = {
    runs,
    wallMs,
    ...(available ? { cpuMs } : {}),
    gcMs,
    ...(threadTotal !== undefined ? { threadCpuMs: threadTotal } : {}),
  };
  runs = 0;
  wallMs = 0;
  cpuMs = 0;
  gcMs = 0;
  return taken;
}
