/**
 * The remote providers' health probes (what /api/health asks them), through the real SDKs against local fakes:
 * which free call each makes and with which credentials, what a failure says (a closed port, a refused key, no
 * answer in time), when the answer proves only reachability, and the short cache that keeps frequent health
 * checks from hammering a service.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AzureVisionDetectorSchema,
  FoundryEndpointDetectorSchema,
  FoundrySceneSchema,
  OpenAiSceneSchema,
} from '../src/core/config/labeling-config';
import { createAzureVisionDetector } from '../src/adapters/providers/detector/azure-vision';
import { createFoundryEndpointDetector } from '../src/adapters/providers/detector/foundry-endpoint';
import { createFoundrySceneClassifier, FOUNDRY_API_VERSION } from '../src/adapters/providers/scene/foundry-scene';
import { createOpenAiSceneClassifier } from '../src/adapters/providers/scene/openai-scene';
import type { ProbeOptions } from '../src/adapters/providers/shared/probe';
import { startAzureVisionServer } from './fakes/azure-vision-server';
import { startFoundryEndpointServer } from './fakes/foundry-endpoint-server';
import { closedPort, startFakeServer, type FakeServer } from './fakes/http-server';
import { startChatServer, type ChatServer, type ChatServerOptions } from './fakes/openai-chat-server';
import { closedAfterTests } from './helpers/provider-fixtures';

const KEY_ENV = 'PROBE_TEST_KEY';
const KEY = 'probe-key-5e1d';
const env = { [KEY_ENV]: KEY };
const keyAuth = { type: 'key', apiKeyEnv: KEY_ENV };
const DEPLOYMENT = 'gpt-4o-scene';
const API_VERSION = '2024-10-21';

const servers = closedAfterTests<FakeServer>();

async function chatServer(options: ChatServerOptions): Promise<ChatServer> {
  const server = await startChatServer([{ content: 'unused' }], options);
  servers.push(server);
  return server;
}

/** A clock the tests move by hand. */
function manualClock(start = 1_750_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const azureScene = (endpoint: string, probe: ProbeOptions = {}, keys = env) =>
  createOpenAiSceneClassifier(
    OpenAiSceneSchema.parse({ provider: 'openai', azure: { endpoint, deployment: DEPLOYMENT, apiVersion: API_VERSION }, auth: keyAuth }),
    { env: keys, probe },
  );

/** An Azure OpenAI resource whose Models - List wants our key in api-key. */
const azureServer = (extra: ChatServerOptions = {}) =>
  chatServer({
    path: `/openai/deployments/${DEPLOYMENT}/chat/completions`,
    apiVersion: API_VERSION,
    modelsPath: '/openai/models',
    probeAuth: { header: 'api-key', value: KEY },
    ...extra,
  });

describe('openai scene provider: lists the models', () => {
  test('Azure OpenAI: GET {endpoint}/openai/models?api-version with the key, no chat request; authenticated', async () => {
    const server = await azureServer();
    const result = await azureScene(server.url).probe!();
    assert.equal(result.ok, true, result.error);
    assert.equal(result.check, 'authenticated');
    assert.equal(result.target, 'GET /openai/models');
    assert.equal(result.note, '2 models listed');
    assert.ok(Number.isInteger(result.latencyMs) && result.latencyMs >= 0);
    assert.ok(!Number.isNaN(Date.parse(result.checkedAt)));
    assert.equal(server.requests.length, 1);
    const request = server.requests[0]!;
    assert.equal(request.method, 'GET');
    assert.equal(request.url, `/openai/models?api-version=${API_VERSION}`);
    assert.equal(request.headers['api-key'], KEY);
    assert.deepEqual([server.served.answers, server.served.probes], [0, 1], 'no tokens spent');
  });

  test('an OpenAI-compatible server: GET {baseURL}/models with the key as a bearer token', async () => {
    const server = await chatServer({ modelsPath: '/v1/models', probeAuth: { header: 'authorization', value: `Bearer ${KEY}` } });
    const config = OpenAiSceneSchema.parse({ provider: 'openai', baseURL: `${server.url}/v1`, model: 'llava', auth: keyAuth });
    const result = await createOpenAiSceneClassifier(config, { env }).probe!();
    assert.deepEqual([result.ok, result.check, result.target], [true, 'authenticated', 'GET /v1/models']);
    assert.equal(server.requests[0]!.url, '/v1/models');
  });

  test('a refused key (401): failed, naming authentication and where the key comes from', async () => {
    const server = await azureServer();
    const result = await azureScene(server.url, {}, { [KEY_ENV]: 'wrong-key' }).probe!();
    assert.equal(result.ok, false);
    assert.equal(result.check, 'authenticated');
    assert.match(result.error ?? '', /^azure-openai: authentication failed \(401/);
    assert.match(result.error ?? '', new RegExp(KEY_ENV));
  });

  test('an unreachable endpoint (a closed port): failed, saying the service cannot be reached and why', async () => {
    const result = await azureScene(`http://127.0.0.1:${await closedPort()}`).probe!();
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /^azure-openai: cannot reach the service: .*ECONNREFUSED/);
    assert.ok(result.error!.length <= 303 && !result.error!.includes('\n'), 'one bounded line');
  });

  test('no answer within the probe timeout: failed, saying so', async () => {
    const server = await azureServer({ probeAnswer: { raw: { status: 200, body: { data: [] }, delayMs: 2_000 } } });
    const started = performance.now();
    const result = await azureScene(server.url, { timeoutMs: 200 }).probe!();
    assert.ok(performance.now() - started < 1_500, 'ended by the timeout, not by the answer');
    assert.deepEqual([result.ok, result.error], [false, 'no answer within 200 ms']);
  });

  test('a 200 that is not a list of models (a login page): failed', async () => {
    const loginPage = { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>login</html>' };
    const server = await azureServer({ probeAnswer: { raw: loginPage } });
    const result = await azureScene(server.url).probe!();
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /^azure-openai: the answer is not JSON/);
  });

  test('a server that does not serve the models route (404): reachable, and says the credentials were not checked', async () => {
    const server = await chatServer({ path: `/openai/deployments/${DEPLOYMENT}/chat/completions`, apiVersion: API_VERSION });
    const result = await azureScene(server.url).probe!();
    assert.deepEqual([result.ok, result.check], [true, 'reachability']);
    assert.match(result.note ?? '', /GET \/openai\/models answered 404 .*credentials not checked/);
  });

  test('results are cached: again within the cache time asks nothing; after it, the service again', async () => {
    const server = await azureServer();
    const clock = manualClock();
    const scene = azureScene(server.url, { cacheMs: 30_000, now: clock.now });
    const first = await scene.probe!();
    clock.advance(29_000);
    assert.deepEqual(await scene.probe!(), first, 'the cached result, with its own time');
    assert.equal(server.requests.length, 1);
    clock.advance(1_001);
    const third = await scene.probe!();
    assert.equal(server.requests.length, 2);
    assert.notEqual(third.checkedAt, first.checkedAt);
  });

  test('a failure is cached too, and callers arriving while a probe is in flight share one request', async () => {
    const down = await azureServer({ probeAnswer: { error: { status: 503, message: 'The service is temporarily unavailable' } } });
    const clock = manualClock();
    const failing = azureScene(down.url, { now: clock.now });
    const failed = await failing.probe!();
    assert.equal(failed.ok, false);
    assert.match(failed.error ?? '', /^azure-openai: service error \(503/);
    clock.advance(10_000);
    assert.deepEqual(await failing.probe!(), failed);
    assert.equal(down.served.probes, 1);

    const server = await azureServer({ probeAnswer: { raw: { status: 200, body: { object: 'list', data: [] }, delayMs: 100 } } });
    const shared = azureScene(server.url, { now: clock.now });
    const results = await Promise.all([shared.probe!(), shared.probe!(), shared.probe!()]);
    assert.ok(results.every((r) => r.ok));
    assert.equal(server.served.probes, 1, 'one request for three callers');
  });
});

describe('foundry scene provider: reads the model info', () => {
  const foundryConfig = (endpoint: string) => FoundrySceneSchema.parse({ provider: 'foundry', endpoint, auth: keyAuth });
  const foundryScene = (server: ChatServer, keys = env) =>
    createFoundrySceneClassifier(foundryConfig(`${server.url}/models`), { env: keys });
  const foundryServer = (extra: ChatServerOptions = {}) =>
    chatServer({
      path: '/models/chat/completions',
      apiVersion: FOUNDRY_API_VERSION,
      infoPath: '/models/info',
      model: 'Phi-4-multimodal-instruct',
      probeAuth: { header: 'api-key', value: KEY },
      ...extra,
    });

  test('GET {endpoint}/info?api-version with the key: authenticated, naming the model', async () => {
    const server = await foundryServer();
    const result = await foundryScene(server).probe!();
    assert.deepEqual([result.ok, result.check, result.target], [true, 'authenticated', 'GET /models/info']);
    assert.equal(result.note, 'model Phi-4-multimodal-instruct');
    assert.equal(server.requests[0]!.method, 'GET');
    assert.equal(server.requests[0]!.url, `/models/info?api-version=${FOUNDRY_API_VERSION}`);
    assert.equal(server.served.answers, 0);
  });

  test('a refused key (401): failed, naming authentication', async () => {
    const result = await foundryScene(await foundryServer(), { [KEY_ENV]: 'wrong-key' }).probe!();
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /^foundry: authentication failed \(401/);
  });

  test('an endpoint that does not serve /info (404): reachable only', async () => {
    const server = await chatServer({ path: '/models/chat/completions', apiVersion: FOUNDRY_API_VERSION });
    const result = await foundryScene(server).probe!();
    assert.deepEqual([result.ok, result.check], [true, 'reachability']);
  });

  test('a closed port: failed, saying the service cannot be reached', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}/models`;
    const scene = createFoundrySceneClassifier(foundryConfig(endpoint), { env });
    const result = await scene.probe!();
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /^foundry: cannot reach the service: .*ECONNREFUSED/);
  });
});

describe('detectors without a free call: reachability only', () => {
  const vision = (endpoint: string, probe: ProbeOptions = {}) =>
    createAzureVisionDetector(AzureVisionDetectorSchema.parse({ provider: 'azure-vision', endpoint, auth: keyAuth }), { env, probe });
  const scoringConfig = (scoringUri: string) =>
    FoundryEndpointDetectorSchema.parse({ provider: 'foundry-endpoint', scoringUri, auth: keyAuth });
  const scoring = (scoringUri: string) => createFoundryEndpointDetector(scoringConfig(scoringUri), { env });

  test('azure-vision: any HTTP answer (here 404) means reachable; no key is sent and nothing is analyzed', async () => {
    const server = await startAzureVisionServer(() => ({ status: 500 }), { api: '4.0', key: KEY });
    servers.push(server);
    const result = await vision(server.url).probe!();
    assert.deepEqual([result.ok, result.check, result.target], [true, 'reachability', 'GET /']);
    assert.match(result.note ?? '', /answered HTTP 404 \(credentials not checked\)/);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]!.method, 'GET');
    assert.equal(server.requests[0]!.headers['ocp-apim-subscription-key'], undefined);
  });

  test('azure-vision: a closed port is not reachable; no answer in time neither', async () => {
    const refused = await vision(`http://127.0.0.1:${await closedPort()}`).probe!();
    assert.equal(refused.ok, false);
    assert.equal(refused.check, 'reachability');
    assert.match(refused.error ?? '', /^azure-vision: cannot reach the service: fetch failed: .*ECONNREFUSED/);

    const silent = await startFakeServer(() => ({ status: 200, delayMs: 2_000 }));
    servers.push(silent);
    const hung = await vision(silent.url, { timeoutMs: 150 }).probe!();
    assert.deepEqual([hung.ok, hung.error], [false, 'no answer within 150 ms']);
  });

  test('foundry-endpoint: the endpoint root answers (no credentials, no scoring request); a closed port does not', async () => {
    const server = await startFoundryEndpointServer(() => ({ status: 500 }), { bearer: KEY });
    servers.push(server);
    const result = await scoring(`${server.url}/score`).probe!();
    assert.deepEqual([result.ok, result.check, result.target], [true, 'reachability', 'GET /']);
    assert.deepEqual(
      server.requests.map((r) => [r.method, r.url, r.headers.authorization]),
      [['GET', '/', undefined]],
    );

    const refused = await scoring(`http://127.0.0.1:${await closedPort()}/score`).probe!();
    assert.equal(refused.ok, false);
    assert.match(refused.error ?? '', /^foundry-endpoint: cannot reach the service: .*ECONNREFUSED/);
  });
});
