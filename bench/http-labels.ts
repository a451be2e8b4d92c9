/**
 * bench/http-labels: POST /api/labels under concurrency, over real HTTP. Run by hand (npm run bench:http):
 *
 *   npm run bench:http                         # 10 requests one at a time, then 20 at once (distinct sample images)
 *   npm run bench:http -- --burst 40 --single 5 --repeat 3 --json out/http.json
 *
 * The app as `npm start` serves it: its registered postLabels function behind the local host's HTTP front end
 * (dev/local-host/http, what `func start` would be) on a free port, the app runtime built from the environment with
 * the default labeling config (local models from shared/models, one worker per core). POST /api/labels stores
 * nothing, so the storage and Cosmos DB settings only need to parse: no service is started or called.
 *
 * Model of the burst: a request alone takes S (the median of the single requests). With c cores and n requests
 * arriving at once, the cores are the queue: the k-th answer comes near ceil(k / c) x S, so
 * p95 ~ ceil(0.95 n / c) x S. Target: p95 <= 1.5 x that, and no request fails.
 */
import '../dev/local-host/runtime-installed';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { functionsWithTrigger, invocationContextFor, loadFunctions } from '../dev/local-host/functions-runtime';
import { startHttpHost } from '../dev/local-host/http';
import { createRuntime, setAppRuntime } from '../src/app/runtime';

const repo = path.resolve(__dirname, '..');
const shared = path.resolve(process.env.AUTOLABEL_SHARED_DIR ?? path.join(repo, '..', 'shared'));
const imagesDir = path.join(shared, 'bdd100k-sample', 'images');
const modelsDir = path.join(shared, 'models');
const P95_SLACK = 1.5;

const { values } = parseArgs({
  options: {
    single: { type: 'string', default: '10' },
    burst: { type: 'string', default: '20' },
    repeat: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const whole = (flag: string, value: string, min: number) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be a whole number >= ${min}, got ${value}`);
  return n;
};
const singles = whole('--single', values.single, 1);
const burst = whole('--burst', values.burst, 1);
const repeat = whole('--repeat', values.repeat, 1);
const log = (message: string) => process.stderr.write(`[bench:http] ${message}\n`);

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** Nearest-rank percentile. */
const percentile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const f0 = (v: number) => v.toFixed(0);

interface Answer {
  ms: number;
  status: number;
  error?: string;
}

async function post(url: string, name: string, bytes: Buffer): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(`${url}/api/labels?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: bytes,
    });
    const text = await response.text();
    const ms = performance.now() - started;
    if (response.status !== 200) return { ms, status: response.status, error: text.slice(0, 200) };
    const frame = JSON.parse(text) as { name?: unknown; labels?: unknown };
    if (frame.name !== name || !Array.isArray(frame.labels)) return { ms, status: response.status, error: 'not a frame of this image' };
    return { ms, status: 200 };
  } catch (error) {
    return { ms: performance.now() - started, status: 0, error: (error as Error).message };
  }
}

(async () => {
  const names = fs
    .readdirSync(imagesDir)
    .filter((n) => /\.jpe?g$/i.test(n))
    .sort();
  if (names.length < burst) throw new Error(`${imagesDir} has ${names.length} images, --burst asks for ${burst}`);
  const images = names.map((name) => ({ name, bytes: fs.readFileSync(path.join(imagesDir, name)) }));

  // Settings as the app reads them; the storage and Cosmos DB values are never contacted by POST /api/labels.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    COSMOS_ENDPOINT: 'https://127.0.0.1:8081/',
    COSMOS_KEY: 'bm90LXVzZWQ=',
    AUTOLABEL_MODELS_DIR: modelsDir,
    AUTOLABEL_OFFLINE: '1',
  };
  const runtime = createRuntime({ env });
  await setAppRuntime(runtime);
  const functions = functionsWithTrigger(loadFunctions(require.resolve('../src/app/functions')), 'httpTrigger');
  const fn = functions.find((f) => f.name === 'postLabels');
  if (!fn) throw new Error('the app registered no postLabels function');
  const hostLines: string[] = [];
  const host = await startHttpHost({
    functions: [
      {
        name: fn.name,
        methods: ['POST'],
        route: String(fn.trigger.route),
        handler: (request, invocationId) => fn.callback(request, invocationContextFor(fn, { invocationId, log: (l) => hostLines.push(l) })),
      },
    ],
    port: 0,
    maxRequestBytes: runtime.settings.labeling.limits.maxBytes + 1024 * 1024,
    log: (line) => hostLines.push(line),
  });
  const cores = os.availableParallelism();
  const setup = await runtime.setup();
  const workers = (setup.detector as { pool?: { size: number } } | undefined)?.pool?.size ?? 0;
  log(`${host.url}/api/labels; ${cores} cores, ${workers} model workers; warm-up`);

  try {
    for (const image of images.slice(0, 4)) {
      const answer = await post(host.url, image.name, image.bytes);
      if (answer.status !== 200) throw new Error(`warm-up ${image.name}: ${answer.status} ${answer.error}`);
    }
    const rounds: { single: Answer[]; burst: Answer[]; burstSeconds: number }[] = [];
    for (let r = 0; r < repeat; r++) {
      const single: Answer[] = [];
      for (let i = 0; i < singles; i++) {
        const image = images[(r * singles + i) % images.length]!;
        single.push(await post(host.url, image.name, image.bytes));
      }
      const started = performance.now();
      const answers = await Promise.all(images.slice(0, burst).map((image) => post(host.url, image.name, image.bytes)));
      rounds.push({ single, burst: answers, burstSeconds: (performance.now() - started) / 1000 });
      log(
        `round ${r + 1}/${repeat}: single median ${f0(median(single.map((a) => a.ms)))} ms; burst p95 ${f0(
          percentile(
            answers.map((a) => a.ms),
            0.95,
          ),
        )} ms`,
      );
    }

    const single = rounds.flatMap((r) => r.single);
    const answers = rounds.flatMap((r) => r.burst);
    const failures = [...single, ...answers].filter((a) => a.status !== 200);
    const s = median(single.map((a) => a.ms));
    const ms = answers.map((a) => a.ms);
    const p50 = median(
      rounds.map((r) =>
        percentile(
          r.burst.map((a) => a.ms),
          0.5,
        ),
      ),
    );
    const p95 = median(
      rounds.map((r) =>
        percentile(
          r.burst.map((a) => a.ms),
          0.95,
        ),
      ),
    );
    const queued = Math.ceil((0.95 * burst) / cores);
    const modelP95 = queued * s;
    const target = P95_SLACK * modelP95;
    const met = p95 <= target && failures.length === 0;

    console.log(`\nPOST /api/labels over HTTP: ${cores} cores, ${workers} model workers, ${repeat} round(s) (medians)`);
    console.log(
      `  one request alone (${single.length} requests, one at a time): S = ${f0(s)} ms (min ${f0(Math.min(...single.map((a) => a.ms)))}, max ${f0(Math.max(...single.map((a) => a.ms)))})`,
    );
    console.log(
      `  ${burst} requests at once: p50 ${f0(p50)} ms, p95 ${f0(p95)} ms, max ${f0(Math.max(...ms))} ms; ` +
        `${(burst / median(rounds.map((r) => r.burstSeconds))).toFixed(1)} images/s`,
    );
    console.log(
      `  model: the k-th of n answers near ceil(k / c) x S; p95 ~ ceil(0.95 x ${burst} / ${cores}) x S = ${queued} x ${f0(s)} = ${f0(modelP95)} ms; ` +
        `target p95 <= ${P95_SLACK} x ${f0(modelP95)} = ${f0(target)} ms`,
    );
    console.log(
      `  errors: ${failures.length}${
        failures.length
          ? ` (${failures
              .slice(0, 3)
              .map((f) => `${f.status} ${f.error}`)
              .join('; ')})`
          : ''
      }`,
    );
    console.log(
      `  ${met ? 'met' : 'NOT met'}: p95 ${f0(p95)} ms ${p95 <= target ? '<=' : '>'} ${f0(target)} ms, ${failures.length} errors`,
    );
    if (values.json) {
      fs.mkdirSync(path.dirname(path.resolve(values.json)), { recursive: true });
      const json = {
        cores,
        workers,
        burst,
        singleRequests: single.length,
        singleMs: Math.round(s),
        burstP50Ms: Math.round(p50),
        burstP95Ms: Math.round(p95),
        burstMaxMs: Math.round(Math.max(...ms)),
        modelP95Ms: Math.round(modelP95),
        targetP95Ms: Math.round(target),
        errors: failures.length,
        met,
      };
      fs.writeFileSync(values.json, JSON.stringify(json, null, 2) + '\n');
    }
    if (!met) process.exitCode = 1;
  } finally {
    await host.close();
    await setAppRuntime(undefined);
  }
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
