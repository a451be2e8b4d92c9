/**
 * Setup shared by the remote provider tests: the sample image, fake Entra credentials, fake servers closed after
 * the file's tests, and failures caught as values.
 */
import { after } from 'node:test';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { ImageInput } from '../../src/core/pipeline/types';
import { readImage } from '../../src/adapters/image/intake';
import { sampleImagesDir } from './shared';

/** Intake limits loose enough for every test image (the 1280x720 samples, and tiny, wide or 4 MB+ synthetic ones). */
export const TEST_IMAGE_LIMITS = { maxBytes: 64 * 1024 * 1024, maxPixels: 40_000_000, minSide: 1 };

/** The `index`-th BDD100K sample JPEG (by name), read as the pipeline reads it. */
export async function loadSampleImage(index = 0): Promise<ImageInput> {
  const name = (await readdir(sampleImagesDir)).filter((f) => f.endsWith('.jpg')).sort()[index]!;
  return readImage(await readFile(path.join(sampleImagesDir, name)), name, TEST_IMAGE_LIMITS);
}

/** A TokenCredential handing out `token`; `scopes` records the scopes of each getToken call. */
export function fakeCredential(token: string): { credential: TokenCredential; scopes: string[][] } {
  const scopes: string[][] = [];
  const credential: TokenCredential = {
    async getToken(requested): Promise<AccessToken> {
      scopes.push([requested].flat());
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  return { credential, scopes };
}

/** A TokenCredential that cannot give a token. */
export function failingCredential(message: string): TokenCredential {
  return {
    async getToken() {
      throw new Error(message);
    },
  };
}

/** A list for the file's fake servers: each is closed after the file's tests. Call at a test file's top level. */
export function closedAfterTests<T extends { close(): Promise<void> }>(): T[] {
  const servers: T[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  return servers;
}

/** What `promise` rejects with; fails the test when it resolves. */
export function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected a failure'),
    (error: unknown) => error,
  );
}
