/**
 * The local stand-in for the Functions host's blob trigger: polls the trigger containers, and for every blob version
 * (name + ETag) that matches a function's path and has no complete receipt, calls that function's own handler with
 * the blob's bytes and an InvocationContext like the worker's. Retries, poison queue and receipts follow the host
 * (see process-version.ts, receipts.ts, poison-queue.ts), so state lives in storage and a new watcher on the same
 * account resumes where the last one stopped.
 *
 * Polling, not Event Grid: with `source: 'EventGrid'` Azure pushes blob-created events; locally there is nothing to
 * push them, so each poll lists the containers (cheap on Azurite) and the receipts decide what is new.
 * All functions are served from `blobService`: the `connection` setting of each trigger is not resolved here.
 */
import type { BlobServiceClient } from '@azure/storage-blob';
import type { QueueServiceClient } from '@azure/storage-queue';
import { versionKey } from './blob-version';
import { defaultHostId, functionFullName, HOST_MAX_ATTEMPTS, sanitizeHostId } from './host-names';
import type { RegisteredBlobFunction } from './invoke-handler';
import { createLimiter } from '../../../src/adapters/concurrency/limits';
import { parseBlobPathPattern, type BlobPathPattern } from './path-pattern';
import { PoisonQueue } from './poison-queue';
import { processVersion, type ProcessVersionDeps } from './process-version';
import { ReceiptStore } from './receipts';
import { scanMatchingVersions } from './scan';
import { Sleeper } from './sleeper';

export interface StartBlobTriggerOptions {
  blobService: BlobServiceClient;
  /** For the poison queue. */
  queueService: QueueServiceClient;
  /** The functions registered with app.storageBlob(name, options): their paths and how to invoke them. */
  functions: RegisteredBlobFunction[];
  /** Receipts are per host id; default: machine name + hash of the working folder (see host-names.ts). */
  hostId?: string;
  /** Pause between the end of one poll and the start of the next; default 1000. */
  pollIntervalMs?: number;
  /** Attempts per blob version before it is poisoned, first one included; default 5 (the host's). */
  maxAttempts?: number;
  /** Wait after failed attempt n (1-based) before the next; default 500, 1000, 2000, 4000 ms (max 8000). */
  retryDelayMs?: (attempt: number) => number;
  /** Invocations running at once, all functions together; default 16 (the host's queue batch size). */
  concurrency?: number;
  /** One line per failure, poison, skipped version, poll error and handler log call; default console.log. */
  log?: (line: string) => void;
}

export interface BlobTriggerStats {
  /** Polls finished (with or without error). */
  polls: number;
  /** Handler calls started (attempts, retries included). */
  invocations: number;
  /** Versions finished by a successful call. */
  succeeded: number;
  /** Attempts that threw. */
  failedAttempts: number;
  /** Versions poisoned after maxAttempts failures. */
  poisoned: number;
  /** Versions dropped because the blob changed or vanished before they ran. */
  superseded: number;
  /** Handler calls running now. */
  running: number;
  /** Versions taken on and not finished: running, waiting for a slot, or waiting to retry. */
  inProgress: number;
  /** Most handler calls that ever ran at once. */
  maxConcurrent: number;
  /** Message of the last poll that failed, until a poll succeeds. */
  lastPollError: string | undefined;
}

export interface BlobTrigger {
  hostId: string;
  /** Stops polling, gives up waiting retries (no receipt: a later watcher redoes them), waits for running calls. */
  close(): Promise<void>;
  /**
   * Resolves after a poll that started after this call found every matching blob with a complete receipt for its
   * current ETag and nothing in progress. Rejects if the watcher is closed first.
   */
  idle(): Promise<void>;
  stats(): BlobTriggerStats;
}

interface CompiledFunction {
  fn: RegisteredBlobFunction;
  functionId: string;
  pattern: BlobPathPattern;
}

interface IdleWaiter {
  /** Polls started when idle() was called: only a later poll can answer it. */
  afterPoll: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

const defaultRetryDelay = (attempt: number): number => Math.min(500 * 2 ** (attempt - 1), 8000);

function compile(functions: RegisteredBlobFunction[]): CompiledFunction[] {
  const names = new Set<string>();
  return functions.map((fn) => {
    if (names.has(fn.name)) throw new Error(`blob trigger: function '${fn.name}' is registered twice`);
    names.add(fn.name);
    return { fn, functionId: functionFullName(fn.name), pattern: parseBlobPathPattern(fn.path) };
  });
}

export function startBlobTrigger(options: StartBlobTriggerOptions): BlobTrigger {
  const compiled = compile(options.functions);
  const hostId = sanitizeHostId(options.hostId ?? defaultHostId());
  if (!hostId) throw new Error(`blob trigger: host id '${options.hostId}' has no valid characters`);
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const maxAttempts = options.maxAttempts ?? HOST_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new Error(`blob trigger: maxAttempts must be a positive integer (got ${maxAttempts})`);
  }
  const log = options.log ?? ((line: string) => console.log(line));
  const limiter = createLimiter(options.concurrency ?? 16);
  const sleeper = new Sleeper();
  const receipts = new ReceiptStore(options.blobService, hostId);

  const counts = { polls: 0, invocations: 0, succeeded: 0, failedAttempts: 0, poisoned: 0, superseded: 0 };
  let lastPollError: string | undefined;
  let closed = false;
  let pollsStarted = 0;
  let timer: NodeJS.Timeout | undefined;
  let currentPoll: Promise<void> | undefined;
  let pollAgain = false;
  const inProgress = new Map<string, Promise<void>>();
  const idleWaiters: IdleWaiter[] = [];

  const deps: ProcessVersionDeps = {
    blobService: options.blobService,
    receipts,
    poison: new PoisonQueue(options.queueService),
    limiter,
    sleeper,
    maxAttempts,
    retryDelayMs: options.retryDelayMs ?? defaultRetryDelay,
    log,
    isClosed: () => closed,
    onAttempt: (event) => {
      if (event === 'start') counts.invocations++;
      else counts.failedAttempts++;
    },
  };

  function take(entry: CompiledFunction, key: string, run: () => ReturnType<typeof processVersion>): void {
    const done = run()
      .then((result) => {
        if (result === 'succeeded') counts.succeeded++;
        else if (result === 'poisoned') counts.poisoned++;
        else if (result === 'superseded') counts.superseded++;
      })
      .catch((err: unknown) => {
        // Receipt or poison write failed: no receipt, so the next poll takes the version on again.
        log(`blob trigger ${entry.fn.name}: could not finish a blob: ${err instanceof Error ? err.message : err}`);
      })
      .finally(() => {
        inProgress.delete(key);
        if (idleWaiters.length > 0) wake();
      });
    inProgress.set(key, done);
  }

  async function pollOnce(): Promise<void> {
    const pollNumber = ++pollsStarted;
    let pending = 0;
    let failed = false;
    // Versions busy when this poll began: one may finish (and write its receipt) after the receipt listing below,
    // so this poll must not take it on again even though it is no longer in progress by the time it is checked.
    const busyAtStart = new Set(inProgress.keys());
    try {
      for (const entry of compiled) {
        // Blobs first, then receipts: a version finished between the two listings counts as done, not pending.
        const matches = await scanMatchingVersions(options.blobService, entry.pattern);
        const done = await receipts.completed(entry.functionId);
        for (const { version, bound } of matches) {
          if (done.has(ReceiptStore.completedKey(version))) continue;
          pending++;
          const key = versionKey(entry.functionId, version);
          if (closed || busyAtStart.has(key) || inProgress.has(key)) continue;
          take(entry, key, () => processVersion(deps, entry.fn, entry.functionId, version, bound));
        }
      }
      lastPollError = undefined;
    } catch (err) {
      failed = true;
      const message = err instanceof Error ? err.message : String(err);
      if (message !== lastPollError) log(`blob trigger: poll failed (will retry): ${message}`);
      lastPollError = message;
    } finally {
      counts.polls++;
    }
    // Quiet = every matching version had a complete receipt when listed, and nothing is under way. (pending also
    // covers a version that ended during this poll without a receipt: skipped above, it must still hold idle() off.)
    if (!failed && pending === 0 && inProgress.size === 0) {
      for (const waiter of idleWaiters.filter((w) => w.afterPoll < pollNumber)) {
        idleWaiters.splice(idleWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  function runPoll(): void {
    timer = undefined;
    currentPoll = pollOnce().finally(() => {
      currentPoll = undefined;
      if (closed) return;
      if (pollAgain) {
        pollAgain = false;
        runPoll();
      } else {
        timer = setTimeout(runPoll, pollIntervalMs);
      }
    });
  }

  /** Poll now instead of at the next tick (or right after the poll under way). */
  function wake(): void {
    if (closed) return;
    if (currentPoll) {
      pollAgain = true;
    } else {
      if (timer) clearTimeout(timer);
      runPoll();
    }
  }

  runPoll();

  let closing: Promise<void> | undefined;
  return {
    hostId,
    close() {
      closing ??= (async () => {
        closed = true;
        if (timer) clearTimeout(timer);
        timer = undefined;
        sleeper.cancelAll();
        void limiter.close(); // refuses the versions still waiting for a slot; the running ones are awaited below
        for (const waiter of idleWaiters.splice(0)) waiter.reject(new Error('blob trigger closed before it was idle'));
        await currentPoll;
        // A poll that was under way may have taken on versions; they see `closed` and stop before invoking.
        await Promise.all(inProgress.values());
      })();
      return closing;
    },
    idle() {
      if (closed) return Promise.reject(new Error('blob trigger is closed'));
      return new Promise<void>((resolve, reject) => {
        idleWaiters.push({ afterPoll: pollsStarted, resolve, reject });
        wake();
      });
    },
    stats: () => ({
      ...counts,
      running: limiter.active,
      inProgress: inProgress.size,
      maxConcurrent: limiter.maxActive,
      lastPollError,
    }),
  };
}
