/**
 * `npm run test:unit`: the tests that need nothing started and nothing built (no Azurite, no Cosmos DB stand-in, no
 * local host, no browser, no Python, no dist/), for a quick run while editing. `npm test` still builds and runs every
 * file (test/*.test.ts).
 *
 * Every test file is a unit test unless NOT_UNIT lists it with the reason. So a new file joins the quick run by
 * default, and test/test-selection.test.ts fails when a file that is not listed uses the local services, the local
 * host, a browser, Python or the compiled app: nothing is left out (or slows the quick run down) unnoticed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
export const TEST_DIR = path.join(ROOT, 'test');

/** Test files (names in test/) that need something running or built, and what. */
export const NOT_UNIT: Record<string, string> = {
  'app-e2e.test.ts': 'starts Azurite, the Cosmos DB stand-in and the local host',
  'app-faults.test.ts': 'spawns the local host (dev/local-host/host/main.ts) against Azurite and the Cosmos DB stand-in',
  'app-identity.test.ts': 'Azurite with OAuth over HTTPS and the Cosmos DB stand-in, the app in child processes',
  'app-restart.test.ts': 'starts the local services and restarts the local host',
  'batch-progress.test.ts': 'the app runtime on Azurite and the Cosmos DB stand-in, concurrent label writes',
  'cli-evaluate.test.ts': 'runs the compiled CLI (dist/, which npm test builds first)',
  'cli-label.test.ts': 'runs the compiled CLI (dist/, which npm test builds first) over folders with the local models',
  'cli-upload.test.ts': 'uploads to Azurite',
  'deploy-package.test.ts': 'loads the compiled entry point (dist/, which npm test builds first)',
  'evaluation-plan-stream.test.ts': 'the evaluation plan over ground truth in Azurite',
  'evaluate-parity.test.ts': 'runs pycocotools (Python) on random cases',
  'functions-blob.test.ts': 'the app runtime on Azurite and the Cosmos DB stand-in',
  'functions-http.test.ts': 'the app on Azurite and the Cosmos DB stand-in',
  'functions-liveness.test.ts': 'the app runtime on Azurite and the Cosmos DB stand-in',
  'functions-provider-faults.test.ts': 'the app runtime on Azurite and the Cosmos DB stand-in',
  'cli-calibrate.test.ts': 'labels the shared sample and bdd100k-scenes with the local models (about 60 s) to calibrate',
  'review-queue.test.ts': 'labels the shared sample with the local models (about 10 s) to measure the queue',
  'scene-calibration.test.ts': 'runs `autolabel label` on 4 shared images twice, with the local scene model (about 5 s)',
  'scene-train.test.ts': 'trains the scene classifier twice on the 60 shared sample images and labels them (about 50 s)',
  'drift-batches.test.ts': 'the app runtime on Azurite and the Cosmos DB stand-in, three batches labeled by the local models',
  'drift-real-images.test.ts': 'labels 126 shared images with the local models (about 25 s) to measure drift',
  'app-scene-model-blob.test.ts': 'the app runtime on Azurite and the Cosmos DB stand-in, a scene model read from a blob',
  'scene-backbone-emulated.test.ts': 'runs the scene backbone under qemu-user, emulating an AVX2 CPU (about 20 s)',
  'secrets-redaction.test.ts': 'the app runtime on Azurite and the Cosmos DB stand-in',
  'storage-scopes.test.ts': "the app's storage traffic through a recording proxy in front of Azurite",
  'local-blob-trigger.test.ts': "the local host's blob trigger on Azurite",
  'local-durable.test.ts': "the local host's Durable runner on Azurite",
  'local-host-triggers.test.ts': "the local host's queue and timer triggers on Azurite",
  'local-cosmos-batch.test.ts': "the Cosmos DB stand-in's transactional batches and request log",
  'local-cosmos-query.test.ts': "the Cosmos DB stand-in's query narrowing",
  'local-services.test.ts': 'starts and stops Azurite and the Cosmos DB stand-in',
  'local-http-host.test.ts': "the local host's HTTP server",
  // These three also hold browser-free tests (pooling math, static HTML, pagePolicy); the file runs as a whole.
  'nightly-report.test.ts': 'the nightly page in headless Chromium',
  'report-page.test.ts': 'the report page in headless Chromium at desktop and phone sizes',
  'report-html.test.ts': 'the report page in headless Chromium',
  'report-csp-header.test.ts': 'the report page served with its policy header, in headless Chromium',
};

export function allTestFiles(): string[] {
  return readdirSync(TEST_DIR)
    .filter((name) => name.endsWith('.test.ts'))
    .sort();
}

/** The unit test files; throws when NOT_UNIT names a file that no longer exists (so the list stays true). */
export function unitTestFiles(files = allTestFiles()): string[] {
  const stale = Object.keys(NOT_UNIT).filter((name) => !files.includes(name));
  if (stale.length) throw new Error(`scripts/test-unit.ts NOT_UNIT lists files that do not exist: ${stale.join(', ')}`);
  return files.filter((name) => !NOT_UNIT[name]);
}

if (require.main === module) {
  const files = unitTestFiles().map((name) => path.join('test', name));
  if (!files.every((file) => existsSync(path.join(ROOT, file)))) throw new Error('a unit test file vanished');
  // Two files at a time: most of these wait on child processes or timers, so two overlap well even on two cores.
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  process.exitCode = run.status ?? 1;
}
