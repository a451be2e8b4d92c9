/**
 * Secrets never leave. A provider stand-in (speaking the OpenAI chat-completions wire format) echoes the credential
 * it was sent in its 401, 429 and 503 bodies, as real services and proxies do ("Incorrect API key provided: Bearer
 * sk-..."). The key must appear nowhere: not on the CLI's stdout/stderr or in any file it writes (errors.jsonl,
 * run.json, labels), not in the blob trigger's documents, logs or thrown errors, not in HTTP answers or their logs,
 * not in the batch report (JSON and HTML), not in the health answer. Each check also finds the echo itself, redacted,
 * so that it cannot pass because the service never echoed anything.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { matchEvaluationChunk, planEvaluation, writeEvaluationReport } from '../src/app/services/evaluation';
import { BLOB_CONTAINERS, MANIFEST_NAME } from '../src/app/store/names';
import { main } from '../src/cli/main';
import { describeError, redact, registerSecret, REDACTED } from '../src/core/redaction';
import { startChatServer, type ChatServer } from './fakes/openai-chat-server';
import { invocationContext, modelsDir, putImageBlob, registeredFunction, useAppRuntime, useDurableApi } from './helpers/app';
import { sampleImagesDir } from './helpers/shared';

const KEY = 'sk-echo-7f3a9c1e5b2d4068SECRETVALUE';
const KEY_ENV = 'ECHO_PROVIDER_KEY';
const STATUSES = [401, 429, 503];
const names = readdirSync(sampleImagesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort()
  .slice(0, 3);

let server: ChatServer;
/** The stand-in answers every request with an error that quotes the credential it received. */
async function startEchoingProvider(): Promise<ChatServer> {
  server = await startChatServer(
    (request, index) => {
      const credential = String(request.headers.authorization ?? request.headers['api-key'] ?? '(none)');
      const status = STATUSES[index % STATUSES.length]!;
      return {
        error: { status, message: `Incorrect API key provided: ${credential}. Retry-Token ${KEY}` },
        headers: { 'retry-after': '0' },
      };
    },
    { path: '/v1/chat/completions' },
  );
  return server;
}

const sceneConfig = (url: string) => ({
  provider: 'openai',
  baseURL: `${url}/v1`,
  model: 'echo',
  auth: { type: 'key', apiKeyEnv: KEY_ENV },
  maxRetries: 0,
  timeoutMs: 5000,
});

process.env[KEY_ENV] = KEY;
const app = useAppRuntime(async () => {
  const provider = await startEchoingProvider();
  return {
    [KEY_ENV]: KEY,
    LABEL_MAX_ATTEMPTS: '1',
    AUTOLABEL_CONFIG: JSON.stringify({ scene: sceneConfig(provider.url), detector: { provider: 'none' } }),
  };
});
const durableApi = useDurableApi();
after(() => server?.close());

/** Asserts `text` has no trace of the key, and (when `echo`) that the echo did arrive, redacted. */
function assertClean(where: string, text: string, echo = true): void {
  assert.ok(!text.includes(KEY) && !text.includes('SECRETVALUE'), `${where} leaks the key:\n${text.slice(0, 2000)}`);
  if (echo) assert.match(text, /Incorrect API key provided/, `${where}: the echo never arrived, so the check proves nothing`);
}

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );

test('redact: registered values and credential shapes (unit)', () => {
  registerSecret('a-registered-value-123');
  registerSecret('short');
  const cases: Array<[string, string]> = [
    ['token a-registered-value-123 here', `token ${REDACTED} here`],
    ['Authorization: Bearer eyJhbGciOi.abc-def_ghi', `Authorization: Bearer ${REDACTED}`],
    ['{"api-key":"0123456789abcdef"}', `{"api-key":"${REDACTED}"}`],
    ['Ocp-Apim-Subscription-Key: 0123456789abcdef0123', `Ocp-Apim-Subscription-Key: ${REDACTED}`],
    ['key sk-proj-abcDEF0123456789 rejected', `key sk-${REDACTED} rejected`],
    [
      'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc+def/ghi==;EndpointSuffix=x',
      `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${REDACTED};EndpointSuffix=x`,
    ],
    [
      'GET https://a.blob.core.windows.net/c/b?sv=2024&sig=abc%2Bdef&se=1 failed',
      `GET https://a.blob.core.windows.net/c/b?sv=2024&sig=${REDACTED}&se=1 failed`,
    ],
    ['SharedAccessSignature=sv=2024&sig=x', `SharedAccessSignature=${REDACTED}`],
    ['a short word stays', 'a short word stays'],
  ];
  for (const [input, expected] of cases) assert.equal(redact(input), expected, input);
  const nested = new Error('outer', { cause: new Error('inner sk-abcdefghijklmnop') });
  assert.equal(describeError(nested), `outer\ncaused by: inner sk-${REDACTED}`);
});

async function assertCliClean(scene: unknown): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'autolabel-secrets-'));
  try {
    mkdirSync(path.join(work, 'images'));
    for (const name of names) symlinkSync(path.join(sampleImagesDir, name), path.join(work, 'images', name));
    const config = path.join(work, 'config.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(config, JSON.stringify({ scene, detector: { provider: 'none' } }));
    let out = '';
    let err = '';
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t) };
    const code = await main(
      [
        'label',
        path.join(work, 'images'),
        '--out',
        path.join(work, 'out'),
        '--config',
        config,
        '--models-dir',
        modelsDir,
        '--workers',
        '0',
      ],
      io,
    );
    assert.equal(code, 1, `every image fails (the provider refuses): ${err}`);
    assertClean('stderr', err);
    assertClean('stdout', out, false);
    const written = filesUnder(path.join(work, 'out'));
    assert.ok(written.some((f) => f.endsWith('errors.jsonl')));
    for (const file of written) assertClean(file, readFileSync(file, 'latin1'), file.endsWith('errors.jsonl'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

test('the CLI: stdout, stderr and every file it writes are clean of the key', () => assertCliClean(sceneConfig(server.url)));

test('the CLI with a cascade (local first, the echoing VLM for every attribute): clean of the key', () =>
  assertCliClean({
    provider: 'cascade',
    first: { provider: 'local' },
    then: sceneConfig(server.url),
    minConfidence: { weather: 1, timeofday: 1, scene: 1 },
  }));

/** A registered handler, as the Functions host (and the local host) calls it: with its redaction wrapper. */
const registered = (name: string) =>
  registeredFunction(name).callback as (input: unknown, context: ReturnType<typeof invocationContext>) => Promise<unknown>;

test('the blob path: documents, logs, thrown errors and the batch report (JSON and HTML) are clean of the key', async () => {
  durableApi();
  const runtime = app.runtime();
  const handler = registered('labelImageBlob');
  const logs: string[] = [];
  const thrown: string[] = [];
  for (const name of [...names, MANIFEST_NAME]) {
    const bytes = name === MANIFEST_NAME ? Buffer.from(JSON.stringify({ images: names })) : readFileSync(path.join(sampleImagesDir, name));
    const etag = await putImageBlob(runtime, 'secrets', name, bytes);
    const context = invocationContext('labelImageBlob', { batchId: 'secrets', name, properties: { eTag: etag } });
    await handler(bytes, context).catch((error: Error) => thrown.push(`${error.message}\n${error.stack}`));
    logs.push(...context.lines);
  }
  assertClean('blob trigger logs', logs.join('\n'));
  assertClean('thrown errors', thrown.join('\n'), false);
  const docs = await runtime.labels.getMany('secrets', names);
  assert.equal(docs.length, 3);
  assert.ok(
    docs.every((d) => d.status === 'failed'),
    JSON.stringify(docs.map((d) => d.status)),
  );
  assertClean('label documents', JSON.stringify(docs));

  const plan = await planEvaluation(runtime, { batchId: 'secrets', runId: 'r1' });
  assert.ok(plan.ok, JSON.stringify(plan));
  const matches = await Promise.all(
    plan.chunkPaths.map((chunkPath) => matchEvaluationChunk(runtime, { batchId: 'secrets', planPath: plan.planPath, chunkPath })),
  );
  const report = await writeEvaluationReport(runtime, {
    batchId: 'secrets',
    planPath: plan.planPath,
    matchPaths: matches.map((m) => (m as { matchPath: string }).matchPath),
    createdAt: new Date().toISOString(),
  });
  assert.ok(report.ok, JSON.stringify(report));
  for (const suffix of ['json', 'html']) {
    const blob = await runtime.blobs.read(BLOB_CONTAINERS.reports, `${report.reportId}.${suffix}`);
    assert.ok(blob, `report ${suffix} stored`);
    assertClean(`report.${suffix}`, blob.data.toString('utf8'));
  }
});

test('the HTTP path: the answer and the logs of POST /api/labels and GET /api/health are clean of the key', async () => {
  const handler = registered('postLabels');
  for (let i = 0; i < STATUSES.length; i++) {
    const request = new HttpRequest({
      method: 'POST',
      url: 'http://localhost/api/labels?name=a.jpg',
      query: { name: 'a.jpg' },
      headers: { 'content-type': 'image/jpeg' },
      body: { bytes: readFileSync(path.join(sampleImagesDir, names[0]!)) },
    });
    const context = invocationContext('postLabels');
    const answer = (await handler(request, context)) as HttpResponseInit;
    assert.ok((answer.status ?? 200) >= 400, `an error answer (${answer.status})`);
    // A 500 says only where its details are; the 429 and 503 quote the provider's answer.
    assertClean(`POST /api/labels ${answer.status}`, JSON.stringify(answer.jsonBody), answer.status !== 500);
    assertClean(`POST /api/labels ${answer.status} logs`, context.lines.join('\n'), false);
  }
  const health = registered('health');
  const context = invocationContext('health');
  const answer = (await health(new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' }), context)) as HttpResponseInit;
  assertClean('GET /api/health', JSON.stringify(answer.jsonBody), false);
  assertClean('GET /api/health logs', context.lines.join('\n'), false);
});
