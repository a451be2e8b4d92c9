/**
 * The remote half of bench/label: a Foundry managed endpoint simulated by a local server (the documented wire format)
 * that takes 300 ms per request and allows `ratePerMinute` requests (a token bucket; 429 with Retry-After above it).
 * The pipeline runs with the same requestsPerMinute in its config; we measure the achieved rate against the allowed one
 * and check that no image was lost.
 */
import { readImage } from '../src/adapters/image/intake';
import { configHash } from '../src/core/config/labeling-config';
import { loadLabelingConfig } from '../src/adapters/config/load-config';
import { labelImage, type LabelingSetup } from '../src/core/pipeline/label-image';
import { createFoundryEndpointDetector } from '../src/adapters/providers/detector/foundry-endpoint';
import { createLimiter } from '../src/adapters/concurrency/limits';
import { foundryAnswer, startFoundryEndpointServer } from '../test/fakes/foundry-endpoint-server';

export interface RemoteBenchResult {
  images: number;
  labeled: number;
  failed: number;
  seconds: number;
  allowedPerSecond: number;
  achievedPerSecond: number;
  serverRequests: number;
  throttled: number;
}

export async function benchRemote(
  images: { name: string; bytes: Buffer }[],
  ratePerMinute: number,
  latencyMs = 300,
): Promise<RemoteBenchResult> {
  // Server-side token bucket refilled at the allowed rate, holding 2 tokens so that a millisecond of network jitter
  // is not a violation (as real services allow short bursts); the long-run rate is still `ratePerMinute`.
  const intervalMs = 60_000 / ratePerMinute;
  const burst = 2;
  let tokens = burst;
  let refilledAt = performance.now();
  let throttled = 0;
  const server = await startFoundryEndpointServer(
    () => {
      const now = performance.now();
      tokens = Math.min(burst, tokens + (now - refilledAt) / intervalMs);
      refilledAt = now;
      if (tokens < 1) {
        throttled++;
        return { status: 429, headers: { 'retry-after-ms': String(Math.ceil((1 - tokens) * intervalMs)) }, body: { error: 'rate limit' } };
      }
      tokens -= 1;
      return { delayMs: latencyMs, body: foundryAnswer([{ box: [0.1, 0.5, 0.3, 0.8], label: 'car', score: 0.9 }]) };
    },
    { bearer: 'bench-key' },
  );
  try {
    const config = loadLabelingConfig(
      {
        scene: { provider: 'none' },
        detector: {
          provider: 'foundry-endpoint',
          scoringUri: `${server.url}/score`,
          auth: { type: 'key', apiKeyEnv: 'BENCH_ENDPOINT_KEY' },
          requestsPerMinute: ratePerMinute,
          concurrency: 8,
          timeoutMs: 10_000,
        },
        concurrency: 8,
      },
      'bench',
      { BENCH_ENDPOINT_KEY: 'bench-key' },
    );
    if (config.detector.provider !== 'foundry-endpoint') throw new Error('unreachable');
    const detector = createFoundryEndpointDetector(config.detector, { env: { BENCH_ENDPOINT_KEY: 'bench-key' } });
    const setup: LabelingSetup = { config, configHash: configHash(config), decodeImage: readImage, detector };
    const limiter = createLimiter(config.concurrency);
    const started = performance.now();
    const outcomes = await Promise.allSettled(images.map((image) => limiter.run(() => labelImage(image.bytes, image.name, setup))));
    const seconds = (performance.now() - started) / 1000;
    const labeled = outcomes.filter((o) => o.status === 'fulfilled').length;
    return {
      images: images.length,
      labeled,
      failed: images.length - labeled,
      seconds,
      allowedPerSecond: ratePerMinute / 60,
      achievedPerSecond: labeled / seconds,
      serverRequests: server.requests.length,
      throttled,
    };
  } finally {
    await server.close();
  }
}
