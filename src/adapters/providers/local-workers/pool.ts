/**
 * A pool of worker threads that run the local ONNX models. onnxruntime-node runs session.run synchronously on the
 * calling JS thread, so in-process inference uses one core and blocks the event loop; here every worker owns its own
 * sessions and the main thread only decodes images and moves results.
 *
 * Scheduling: one FIFO queue; an idle worker takes the next job (one job per worker at a time, so a slow job never
 * holds up a queue behind it). Pixels are copied once per image into reused shared memory, which the detector and
 * the scene classifier of that image then read in place.
 *
 * Failures: errors thrown in a worker come back as the same LabelingError classes (kind, retryable and fields kept).
 * A worker that dies (an uncaught error, out of memory) fails the job it was running with a retryable
 * ProviderError and is replaced; jobs still queued go to the replacement. Aborting a call rejects it at once (a
 * running job is told to stop after its current model run; the worker stays busy until it has).
 */
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import v8 from 'node:v8';
import { LabelingError, ProviderError } from '../../../core/pipeline/errors';
import type { ImageInput } from '../../../core/pipeline/types';
import { deserializeError, type FromWorker, type JobImage, type JobKind, type ToWorker, type WorkerSetup } from './protocol';

/** Providers named in errors the pool itself raises, per job kind. */
const PROVIDER: Record<JobKind, string> = { detect: 'onnx', classify: 'local' };

/** Workers that die before they start (a broken install, say) are tried this often in a row, then jobs fail. */
const MAX_START_FAILURES = 3;

export interface JobDone {
  kind: JobKind;
  name: string;
  /** Index of the worker (0..size-1) that ran it; a replacement keeps its predecessor's index. */
  worker: number;
  /** Time the worker spent on it. */
  ms: number;
  ok: boolean;
}

export interface LocalModelPoolOptions {
  /** Worker threads (at least 1). */
  size: number;
  setup: WorkerSetup;
  /** Called as each job finishes (benchmarks: per-worker utilisation). */
  onJobDone?: (event: JobDone) => void;
}

export interface WorkerStats {
  index: number;
  /** Jobs this slot finished (its replacements included). */
  jobs: number;
  /** Time its workers spent on jobs. */
  busyMs: number;
  /**
   * With WorkerSetup.meterModelRuns: session.run calls, their wall time and the CPU time of the worker thread in them
   * (cpu only where the thread clock exists: see models/run-clock.ts), the worker's garbage-collection pauses, and
   * threadCpuMs: the CPU time of the slot's current worker since it started, as of its last job (a replacement
   * starts again from 0: compare readings only across a span with no restart).
   */
  model?: { runs: number; wallMs: number; cpuMs?: number; gcMs: number; threadCpuMs?: number };
  /** Workers that died in this slot and were replaced. */
  restarts: number;
  running: boolean;
}

interface Job {
  id: number;
  kind: JobKind;
  image: JobImage;
  pixels: PixelSlot;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  settled: boolean;
  slot?: Slot;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  job?: Job;
  /** Set when the pool itself ends this worker (close): its exit is not a crash. */
  ending: boolean;
  exited: Promise<void>;
  lastError?: Error;
  /** Callers of warm() waiting for this worker's 'warmed' (or its exit). */
  warmWaiters: (() => void)[];
}

/** The worker script beside this file: worker.js when compiled, worker.ts under tsx (tests, benchmarks). */
function workerEntry(): { file: string; execArgv: string[] } {
  const extension = path.extname(__filename);
  const file = path.join(__dirname, `worker${extension}`);
  if (extension !== '.ts') return { file, execArgv: [] };
  // `--import tsx` does not reach a worker's entry point on Node 20; tsx's CommonJS hook does.
  return { file, execArgv: ['--require', require.resolve('tsx/cjs')] };
}

/**
 * The old generation a worker's heap starts with, in MB. V8 starts a new isolate's heap small and starts marking
 * whenever the room left in the old generation is below the size of the new one: a model worker, which keeps
 * about 12 MB alive and turns over a few MB of results and buffers per image, then ran a full mark-compact every
 * image or two (measured: 54 in 120 images, 7-10 ms of pauses per image plus the concurrent marking threads,
 * about 20 ms of CPU per image in all). Starting at 64 MB: 5 in 120 images (48 MB was enough, 32 was not).
 */
const WORKER_INITIAL_OLD_SPACE_MB = 64;
let workerHeapSized = false;

/**
 * Workers take their heap configuration from V8's flags when they are created, and Worker's resourceLimits have no
 * initial size: the flag is set once, before the first worker starts, unless the process was given one (NODE_OPTIONS,
 * node's own arguments). It concerns isolates created later (the workers); this thread's heap is already made.
 */
function sizeWorkerHeaps(): void {
  if (workerHeapSized) return;
  workerHeapSized = true;
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((arg) =>
    /^--initial[-_](old[-_]space|heap)[-_]size\b/.test(arg),
  );
  if (!given) v8.setFlagsFromString(`--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`);
}

/**
 * An image's pixels in shared memory, held by the jobs that read them. Workers read pixels in place, never a copy
 * of their own; the shared buffers are reused from image to image because a fresh SharedArrayBuffer is expensive
 * (measured: 2.7 MB costs about 10 ms of CPU, mostly page faults, against 0.3 ms to copy into one already mapped).
 */
interface PixelSlot {
  view: Uint8Array;
  /** Jobs queued or running on these pixels; at 0 the buffer goes back to the spares. */
  refs: number;
  /** The caller's array these pixels were copied from (undefined: the caller's own shared memory, used as is). */
  source?: Uint8Array;
}

/** Spare shared buffers kept for reuse: a few images in flight per worker, at most this much memory. */
const MAX_SPARE_PIXEL_BUFFERS = 16;
const MAX_SPARE_PIXEL_BYTES = 64 * 1024 * 1024;

export class LocalModelPool {
  readonly size: number;
  private readonly setup: WorkerSetup;
  private readonly onJobDone: ((event: JobDone) => void) | undefined;
  private readonly slots: (Slot | undefined)[];
  private readonly stats_: WorkerStats[];
  private readonly queue: Job[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private nextId = 1;
  private startFailures = 0;
  /** Pixels in flight, by the caller's array: the scene and detector jobs of one image share one copy. */
  private readonly pixelsBySource = new WeakMap<Uint8Array, PixelSlot>();
  private readonly sparePixels: SharedArrayBuffer[] = [];
  private spareBytes = 0;
  /** Woken whenever a worker finishes a job or dies (close() waits for all workers to be idle). */
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  constructor(options: LocalModelPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new LabelingError('config', `local model workers: the pool size must be a positive integer, got ${options.size}`, {
        retryable: false,
      });
    }
    this.size = options.size;
    this.setup = options.setup;
    this.onJobDone = options.onJobDone;
    this.slots = Array.from({ length: this.size }, () => undefined);
    this.stats_ = Array.from({ length: this.size }, (_, index) => ({ index, jobs: 0, busyMs: 0, restarts: 0, running: false }));
  }

  /** Run one model on one image in a worker; resolves with what the in-process provider would have returned. */
  run<T>(kind: JobKind, image: ImageInput, signal?: AbortSignal): Promise<T> {
    if (this.closing) {
      return Promise.reject(
        new LabelingError('config', `local models: ${kind}() after close()`, { retryable: false, provider: PROVIDER[kind] }),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const promise = new Promise<T>((resolve, reject) => {
      const pixels = this.acquirePixels(image.rgb);
      const job: Job = {
        id: this.nextId++,
        kind,
        image: { name: image.name, width: image.width, height: image.height, rgb: pixels.view },
        pixels,
        resolve: resolve as (value: unknown) => void,
        reject,
        settled: false,
      };
      if (signal) {
        job.signal = signal;
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
    const tracked = promise.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(tracked);
    void tracked.then(() => this.pending.delete(tracked));
    return promise;
  }

  /**
   * Start every worker now and have it load its models, instead of on the first jobs: the first images then wait
   * for neither, and the workers load side by side. Resolves when all have tried; a model that fails to load is
   * reported by the first job that needs it, as without warming. A warming worker keeps the process alive, as a
   * running job does (close() waits for both), for the second or so the models take to load.
   */
  warm(): Promise<void> {
    if (this.closing) return Promise.resolve();
    const warmed = this.slots.map(
      (existing, index) =>
        new Promise<void>((resolve) => {
          const slot = existing ?? this.spawn(index);
          slot.warmWaiters.push(resolve);
          slot.worker.ref();
          slot.worker.postMessage({ type: 'warm' } satisfies ToWorker);
        }),
    );
    const all = Promise.all(warmed).then(() => undefined);
    // close() waits for it: a worker ended while it loads a session could take the process down (see above).
    this.pending.add(all);
    void all.then(() => this.pending.delete(all));
    return all;
  }

  /** Per worker slot: jobs done, time busy, replacements. */
  stats(): WorkerStats[] {
    return this.stats_.map((s, i) => ({ ...s, ...(s.model ? { model: { ...s.model } } : {}), running: this.slots[i]?.job !== undefined }));
  }

  /** Thread ids of the live workers (undefined where none was started yet). */
  threadIds(): (number | undefined)[] {
    return this.slots.map((slot) => slot?.worker.threadId);
  }

  /**
   * Tests of crash recovery: worker `index` (started if need be) exits abruptly with `code` when it receives its next
   * job, as a crash would; that job then fails with a retryable ProviderError and a new worker takes the slot.
   * Nothing here terminates a busy worker from outside: onnxruntime-node aborts the whole process (an uncaught
   * Napi::Error) when its thread is terminated in the middle of a run.
   */
  crashWorkerOnNextJob(index: number, code = 70): void {
    const slot = this.slots[index] ?? this.spawn(index);
    slot.worker.postMessage({ type: 'crash-on-next-job', code } satisfies ToWorker);
  }

  /**
   * Finish every job already accepted, then end the (idle) workers. Later calls are rejected. Idempotent. Busy workers
   * are never terminated: see crashWorkerOnNextJob.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Callers' promises first, then the workers themselves: an aborted job is settled for its caller at once but
      // keeps its worker busy until the run in progress ends.
      while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
      while (this.slots.some((slot) => slot?.job !== undefined)) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const live = this.slots.filter((s): s is Slot => s !== undefined);
      for (const slot of live) slot.ending = true;
      await Promise.all(
        live.map(async (slot) => {
          await slot.worker.terminate();
          await slot.exited;
        }),
      );
      this.slots.fill(undefined);
    })();
    return this.closing;
  }

  /** Shared pixels for a job: the copy other jobs of the same array hold, else a copy into a spare buffer. */
  private acquirePixels(rgb: Uint8Array): PixelSlot {
    if (rgb.buffer instanceof SharedArrayBuffer) return { view: rgb, refs: 1 };
    const held = this.pixelsBySource.get(rgb);
    if (held && held.refs > 0) {
      held.refs++;
      return held;
    }
    let best = -1;
    for (let i = 0; i < this.sparePixels.length; i++) {
      const size = this.sparePixels[i]!.byteLength;
      if (size >= rgb.byteLength && (best < 0 || size < this.sparePixels[best]!.byteLength)) best = i;
    }
    const buffer = best >= 0 ? this.sparePixels.splice(best, 1)[0]! : new SharedArrayBuffer(rgb.byteLength);
    if (best >= 0) this.spareBytes -= buffer.byteLength;
    const view = new Uint8Array(buffer, 0, rgb.byteLength);
    view.set(rgb);
    const slot: PixelSlot = { view, refs: 1, source: rgb };
    this.pixelsBySource.set(rgb, slot);
    return slot;
  }

  /** A job no longer reads its pixels (finished in its worker, never started, or its worker died). */
  private releasePixels(job: Job): void {
    const slot = job.pixels;
    if (--slot.refs > 0 || !slot.source) return;
    if (this.pixelsBySource.get(slot.source) === slot) this.pixelsBySource.delete(slot.source);
    const buffer = slot.view.buffer as SharedArrayBuffer;
    if (this.sparePixels.length < MAX_SPARE_PIXEL_BUFFERS && this.spareBytes + buffer.byteLength <= MAX_SPARE_PIXEL_BYTES) {
      this.sparePixels.push(buffer);
      this.spareBytes += buffer.byteLength;
    }
  }

  private spawn(index: number): Slot {
    sizeWorkerHeaps();
    const { file, execArgv } = workerEntry();
    const worker = new Worker(file, { workerData: this.setup, execArgv, name: `autolabel-local-${index}` });
    worker.unref();
    let onExit!: () => void;
    const slot: Slot = {
      index,
      worker,
      ready: false,
      ending: false,
      exited: new Promise<void>((resolve) => (onExit = resolve)),
      warmWaiters: [],
    };
    worker.on('message', (message: FromWorker) => this.onMessage(slot, message));
    worker.on('error', (error) => {
      slot.lastError = error;
    });
    worker.on('exit', (code) => {
      onExit();
      this.onExit(slot, code);
    });
    this.slots[index] = slot;
    return slot;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s !== undefined && s.job === undefined);
      if (!slot) {
        const free = this.slots.findIndex((s) => s === undefined);
        if (free < 0) return;
        slot = this.spawn(free);
      }
      const job = this.queue.shift()!;
      job.slot = slot;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage({ type: 'job', id: job.id, kind: job.kind, image: job.image } satisfies ToWorker);
    }
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    if (message.type === 'ready') {
      slot.ready = true;
      this.startFailures = 0;
      return;
    }
    if (message.type === 'warmed') {
      for (const wake of slot.warmWaiters.splice(0)) wake();
      if (!slot.job) slot.worker.unref();
      return;
    }
    const job = slot.job;
    if (!job || job.id !== message.id) return;
    slot.job = undefined;
    if (slot.warmWaiters.length === 0) slot.worker.unref();
    this.releasePixels(job);
    const stats = this.stats_[slot.index]!;
    stats.jobs++;
    stats.busyMs += message.ms;
    if (message.model) {
      const model = (stats.model ??= { runs: 0, wallMs: 0, ...(message.model.cpuMs !== undefined ? { cpuMs: 0 } : {}), gcMs: 0 });
      model.runs += message.model.runs;
      model.wallMs += message.model.wallMs;
      model.gcMs += message.model.gcMs;
      if (model.cpuMs !== undefined && message.model.cpuMs !== undefined) model.cpuMs += message.model.cpuMs;
      if (message.model.threadCpuMs !== undefined) model.threadCpuMs = message.model.threadCpuMs;
    }
    this.onJobDone?.({ kind: job.kind, name: job.image.name, worker: slot.index, ms: message.ms, ok: message.ok });
    if (message.ok) this.settle(job, () => job.resolve(message.value));
    else this.settle(job, () => job.reject(deserializeError(message.error, PROVIDER[job.kind])));
    this.pump();
    this.wakeIdleWaiters();
  }

  private wakeIdleWaiters(): void {
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private onExit(slot: Slot, code: number): void {
    if (this.slots[slot.index] === slot) this.slots[slot.index] = undefined;
    for (const wake of slot.warmWaiters.splice(0)) wake();
    queueMicrotask(() => this.wakeIdleWaiters());
    if (slot.ending) return;
    const reason = slot.lastError ? slot.lastError.message : `exit code ${code}`;
    const job = slot.job;
    slot.job = undefined;
    if (job) this.releasePixels(job);
    const cause = slot.lastError ? { cause: slot.lastError } : {};

    if (!slot.ready) {
      // It died before it could start (a broken install, bad parameters): trying the same image again cannot help.
      const failure = (kind: JobKind) =>
        new LabelingError('config', `${PROVIDER[kind]}: the local model worker could not start: ${reason}`, {
          retryable: false,
          provider: PROVIDER[kind],
          ...cause,
        });
      if (job) this.settle(job, () => job.reject(failure(job.kind)));
      if (++this.startFailures >= MAX_START_FAILURES) {
        // Fail fast rather than respawn forever; a later call tries again.
        this.startFailures = 0;
        for (const queued of this.queue.splice(0)) {
          this.releasePixels(queued);
          this.settle(queued, () => queued.reject(failure(queued.kind)));
        }
        return;
      }
      if (!this.closing) this.pump(); // a new worker only if jobs wait for one
      return;
    }

    if (job) {
      this.settle(job, () =>
        job.reject(
          new ProviderError(
            `${PROVIDER[job.kind]}: the local model worker stopped (${reason}) while working on ${job.image.name}; it was replaced, try again`,
            {
              provider: PROVIDER[job.kind],
              retryable: true,
              ...cause,
            },
          ),
        ),
      );
    }
    if (this.closing) return;
    this.stats_[slot.index]!.restarts++;
    // Replace it at once, so the pool is whole again for the next image.
    this.spawn(slot.index);
    this.pump();
  }

  private abort(job: Job): void {
    if (job.settled) return;
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.releasePixels(job);
    } else if (job.slot?.job === job) job.slot.worker.postMessage({ type: 'abort', id: job.id } satisfies ToWorker);
    this.settle(job, () => job.reject(job.signal!.reason));
  }

  private settle(job: Job, action: () => void): void {
    if (job.settled) return;
    job.settled = true;
    if (job.signal && job.onAbort) job.signal.removeEventListener('abort', job.onAbort);
    action();
  }
}
