/**
 * Drives one function on one blob version to an end, the way the host's blob trigger queue does:
 * up to `maxAttempts` attempts in total (host.json blobs.poisonBlobThreshold, 5), each in a concurrency slot, with a
 * delay between them (the slot is given back while waiting, as a failed message goes back to the queue); then either
 *  - success: write the complete receipt, or
 *  - last failure: send the poison message, then write the receipt so the version is not tried forever, or
 *  - the version disappeared (overwritten/deleted): stop, no receipt (the new version has its own run), or
 *  - the watcher closed meanwhile: stop, no receipt (a later watcher picks it up again, like a host restart).
 *
 * Attempts are counted in memory: after a restart a version starts again from attempt 1 (the host keeps the count in
 * its queue message's dequeue count).
 */
import { describeError } from '../../../src/core/redaction';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { BlobVersion } from './blob-version';
import { invokeOnce, type RegisteredBlobFunction } from './invoke-handler';
import { LimiterClosedError, type Limiter } from '../../../src/adapters/concurrency/limits';
import { poisonMessage, type PoisonQueue } from './poison-queue';
import type { ReceiptStore } from './receipts';
import type { Sleeper } from './sleeper';

export type VersionResult = 'succeeded' | 'poisoned' | 'superseded' | 'abandoned';

export interface ProcessVersionDeps {
  blobService: BlobServiceClient;
  receipts: ReceiptStore;
  poison: PoisonQueue;
  limiter: Limiter;
  sleeper: Sleeper;
  maxAttempts: number;
  retryDelayMs: (attempt: number) => number;
  log: (line: string) => void;
  isClosed: () => boolean;
  /** Called as each attempt starts and ends, for stats. */
  onAttempt: (event: 'start' | 'failed') => void;
}

function describe(version: BlobVersion): string {
  return `${version.container}/${version.name} (etag ${version.etag})`;
}

function errorText(error: unknown): string {
  return describeError(error);
}

export async function processVersion(
  deps: ProcessVersionDeps,
  fn: RegisteredBlobFunction,
  functionId: string,
  version: BlobVersion,
  bound: Record<string, string>,
): Promise<VersionResult> {
  const { maxAttempts, log } = deps;
  let lastError: unknown;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let outcome;
    try {
      outcome = await deps.limiter.run(async () => {
        if (deps.isClosed()) return undefined;
        deps.onAttempt('start');
        return invokeOnce({ blobService: deps.blobService, fn, version, bound });
      });
    } catch (error) {
      if (error instanceof LimiterClosedError) return 'abandoned'; // the watcher closed while this waited for a slot
      throw error;
    }
    if (!outcome) return 'abandoned';
    if (outcome.kind === 'succeeded') {
      await deps.receipts.markCompleted(functionId, version);
      return 'succeeded';
    }
    if (outcome.kind === 'superseded') {
      log(`blob trigger ${fn.name}: ${describe(version)} changed or was deleted before it ran; skipped`);
      return 'superseded';
    }
    deps.onAttempt('failed');
    lastError = outcome.error;
    const last = attempt === maxAttempts;
    const delay = last ? 0 : deps.retryDelayMs(attempt);
    log(
      `blob trigger ${fn.name}: attempt ${attempt}/${maxAttempts} failed for ${describe(version)}: ` +
        `${errorText(outcome.error)}${last ? '' : `; retrying in ${delay} ms`}`,
    );
    if (!last && !(await deps.sleeper.sleep(delay))) return 'abandoned';
  }
  await deps.poison.send(poisonMessage(functionId, version));
  await deps.receipts.markCompleted(functionId, version);
  log(
    `blob trigger ${fn.name}: poisoned ${describe(version)} after ${maxAttempts} failed attempts ` +
      `(last error: ${errorText(lastError)}); message sent to queue '${deps.poison.name}', receipt written`,
  );
  return 'poisoned';
}
