/**
 * The keyless path the app takes in Azure, through the real SDKs and no keys: Azurite over HTTPS with `--oauth
 * basic` (a throwaway self-signed certificate), a local App Service managed identity endpoint minting tokens, and
 * child processes with the Function app's identity-based settings (infra/app/function-app.bicep) that trust the
 * certificate (NODE_EXTRA_CA_CERTS) and find the identity endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER), as in Azure.
 * Children, not this process: the CA variable is read at start-up only, and @azure/identity reads the identity
 * variables from process.env. They run asynchronously, since the token endpoint and the Cosmos stand-in answer
 * from this process's event loop.
 *
 * The same route carries `autolabel upload --account-url` (DefaultAzureCredential, no connection string).
 *
 * Negative controls show the checks bite: a wrong identity secret gets no token and the app (and the CLI) fail with
 * the credential's error; Azurite refuses a request without a token, with an expired one, and with a token for
 * another audience.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { uploadTarget } from '../src/cli/upload-command';
import { startAzurite, type AzuriteHandle } from '../dev/local-host/azurite';
import { mintAccessToken, startManagedIdentityServer, type ManagedIdentityServer } from './helpers/managed-identity-server';
import { sampleImagesDir } from './helpers/shared';

const repoRoot = path.resolve(__dirname, '..');
const fixture = path.join(__dirname, 'fixtures', 'keyless-storage.ts');
const bin = path.join(repoRoot, 'bin', 'autolabel.js');

/** Two identities, as storage and Cosmos may be given different ones: each client must ask as its own. */
const STORAGE_CLIENT_ID = '5a1e0c1d-0000-4000-8000-00000000a001';
const APP_CLIENT_ID = '5a1e0c1d-0000-4000-8000-00000000a002';
const STORAGE_AUDIENCE = 'https://storage.azure.com';
/** Cosmos DB's tenant-wide audience: a token for it must not open storage. */
const COSMOS_AUDIENCE = 'https://cosmos.azure.com';

let work: string;
let certPath: string;
let azurite: AzuriteHandle | undefined;
let identity: ManagedIdentityServer | undefined;
let cosmos: { endpoint: string; close(): Promise<void> } | undefined;

/** A self-signed certificate for 127.0.0.1 and localhost, valid one day (EC P-256: quick to make). */
function makeCertificate(dir: string): { certPath: string; keyPath: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const result = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  );
  if (result.error) {
    throw new Error(
      `this test needs the openssl command to make a throwaway TLS certificate, and it could not run: ${result.error.message}`,
    );
  }
  if (result.status !== 0) throw new Error(`openssl failed to make the test certificate (exit ${result.status}):\n${result.stderr}`);
  return { certPath: cert, keyPath: key };
}

/**
 * The Cosmos DB stand-in over HTTPS with the test certificate: the SDK sends bearer tokens over TLS only. It checks
 * no authorization at all, so what it proves is the app's side: its Cosmos client asks the identity endpoint for a
 * Cosmos DB token as AZURE_CLIENT_ID (the token server records that) and sends the request.
 */
async function startHttpsCosmos(tls: { certPath: string; keyPath: string }): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = createHttpsServer({ cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `https://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'autolabel-identity-'));
  const tls = makeCertificate(work);
  certPath = tls.certPath;
  [azurite, identity, cosmos] = await Promise.all([
    startAzurite({ tls, oauth: 'basic' }),
    startManagedIdentityServer({ clientIds: [STORAGE_CLIENT_ID, APP_CLIENT_ID] }),
    startHttpsCosmos(tls),
  ]);
});

after(async () => {
  await Promise.all([azurite?.stop(), identity?.close(), cosmos?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

const services = () => {
  if (!azurite || !identity || !cosmos) throw new Error('services did not start (see before())');
  return { azurite, identity, cosmos };
};

/**
 * The environment of a child: this one's, minus anything that could sign it in another way or point it elsewhere
 * (AZURE_* service principal/user variables, MSI/IMDS variables, connection strings), with HOME moved to an empty
 * folder so a developer's `az`/`azd` login cannot stand in for the managed identity either.
 */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const home = path.join(work, 'home');
  mkdirSync(home, { recursive: true });
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(AZURE_|AZD_|MSI_|IDENTITY_|IMDS_|AzureWebJobs|COSMOS_|AUTOLABEL_|NODE_OPTIONS$|NODE_EXTRA_CA_CERTS$)/i.test(name)) continue;
    env[name] = value;
  }
  return { ...env, HOME: home, USERPROFILE: home, NODE_EXTRA_CA_CERTS: certPath, ...extra };
}

/** The Function app's settings in Azure (function-app.bicep), pointed at the local stand-ins. */
function appSettingsEnv(): Record<string, string> {
  const { azurite, identity, cosmos } = services();
  return {
    AzureWebJobsStorage__blobServiceUri: azurite.blobUrl,
    AzureWebJobsStorage__queueServiceUri: azurite.queueUrl,
    AzureWebJobsStorage__tableServiceUri: azurite.tableUrl,
    AzureWebJobsStorage__credential: 'managedidentity',
    AzureWebJobsStorage__clientId: STORAGE_CLIENT_ID,
    AZURE_CLIENT_ID: APP_CLIENT_ID,
    COSMOS_ENDPOINT: cosmos.endpoint,
    COSMOS_DATABASE: 'autolabel',
    // The stand-in's account answers list no regional endpoints to discover (as the local setup does).
    COSMOS_DISABLE_ENDPOINT_DISCOVERY: 'true',
    ...identity.env(),
  };
}

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runChild(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const runFixture = (args: string[], env: NodeJS.ProcessEnv) => runChild(['--import', 'tsx', fixture, ...args], env);

function parseResult(result: ChildResult): Record<string, unknown> {
  assert.equal(result.code, 0, `child failed (exit ${result.code}):\n${result.stderr}`);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

/** GET on Azurite from this process, trusting the test certificate for this request only. */
function azuriteGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: readFileSync(certPath), headers: { 'x-ms-version': '2021-12-02', ...headers } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

test('the app builds its clients from identity-based settings; storage and Cosmos DB each use their own identity', async () => {
  const { azurite, identity, cosmos } = services();
  assert.match(azurite.blobUrl, /^https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
  // @azure/cosmos 4.x asks for its account's own audience first (`<endpoint origin>/.default`), as it would for
  // https://<account>.documents.azure.com in Azure.
  const cosmosAudience = new URL(cosmos.endpoint).origin;
  const before = identity.requests.length;

  const result = parseResult(await runFixture(['roundtrip', 'keyless-roundtrip'], childEnv(appSettingsEnv())));
  assert.equal(result.ok, true);
  assert.match(String(result.blob), /^keyless keyless-roundtrip /);
  assert.equal(result.queueMessage, result.blob);
  assert.equal(result.cosmosAccountRead, 200);

  const asked = identity.requests.slice(before);
  assert.ok(asked.length > 0, 'the token endpoint was never called');
  assert.deepEqual(
    asked.filter((r) => r.status !== 200),
    [],
    'no token request should have been refused',
  );
  const storage = asked.filter((r) => r.resource === STORAGE_AUDIENCE);
  const cosmosAsked = asked.filter((r) => r.resource === cosmosAudience);
  assert.ok(storage.length >= 1, `no token asked for ${STORAGE_AUDIENCE}: ${JSON.stringify(asked)}`);
  assert.deepEqual([...new Set(storage.map((r) => r.clientId))], [STORAGE_CLIENT_ID], 'storage must ask as AzureWebJobsStorage__clientId');
  assert.ok(cosmosAsked.length >= 1, `no token asked for ${cosmosAudience}: ${JSON.stringify(asked)}`);
  assert.deepEqual([...new Set(cosmosAsked.map((r) => r.clientId))], [APP_CLIENT_ID], 'Cosmos DB must ask as AZURE_CLIENT_ID');
  assert.deepEqual(
    asked.filter((r) => r.resource !== STORAGE_AUDIENCE && r.resource !== cosmosAudience),
    [],
  );
  assert.ok(asked.every((r) => r.apiVersion === '2019-08-01'));
});

test('negative control: a wrong identity secret gets no token, and the app fails with the credential error', async () => {
  const { identity } = services();
  const before = identity.requests.length;
  const result = await runFixture(['roundtrip', 'never-created'], childEnv({ ...appSettingsEnv(), IDENTITY_HEADER: 'not-the-secret' }));

  assert.equal(result.code, 1, `expected a failure, got exit ${result.code}\n${result.stdout}\n${result.stderr}`);
  assert.equal(result.stdout.trim(), '');
  assert.match(result.stderr, /ManagedIdentityCredential/);
  assert.match(result.stderr, /X-IDENTITY-HEADER is missing or wrong/);
  const asked = identity.requests.slice(before);
  assert.ok(asked.length >= 1 && asked.every((r) => r.status === 401), JSON.stringify(asked));

  // Nothing was created (asked with a valid token from here).
  const token = mintAccessToken({
    audience: STORAGE_AUDIENCE,
    tenantId: identity.tenantId,
    clientId: STORAGE_CLIENT_ID,
    lifetimeSeconds: 600,
  }).token;
  const container = await azuriteGet(`${services().azurite.blobUrl}/never-created?restype=container`, { authorization: `Bearer ${token}` });
  assert.equal(container.status, 404, container.body);
});

test('negative control: Azurite refuses no token, an expired token and one for another audience; accepts a storage token', async () => {
  const { azurite, identity } = services();
  const listContainers = `${azurite.blobUrl}?comp=list`;

  const anonymous = await azuriteGet(listContainers);
  assert.ok(anonymous.status === 401 || anonymous.status === 403, `anonymous list answered ${anonymous.status}: ${anonymous.body}`);

  const mint = (audience: string) =>
    mintAccessToken({ audience, tenantId: identity.tenantId, clientId: STORAGE_CLIENT_ID, lifetimeSeconds: 600 }).token;
  const wrongAudience = await azuriteGet(listContainers, { authorization: `Bearer ${mint(COSMOS_AUDIENCE)}` });
  assert.ok(wrongAudience.status === 401 || wrongAudience.status === 403, `Cosmos-audience token answered ${wrongAudience.status}`);
  assert.match(wrongAudience.body, /Invalid token audience/);

  const expired = mintAccessToken({
    audience: STORAGE_AUDIENCE,
    tenantId: identity.tenantId,
    clientId: STORAGE_CLIENT_ID,
    lifetimeSeconds: -60,
  }).token;
  const late = await azuriteGet(listContainers, { authorization: `Bearer ${expired}` });
  assert.ok(late.status === 401 || late.status === 403, `expired token answered ${late.status}`);

  const good = await azuriteGet(listContainers, { authorization: `Bearer ${mint(STORAGE_AUDIENCE)}` });
  assert.equal(good.status, 200, good.body);
});

test('upload target precedence: --account-url, AzureWebJobsStorage, AZURE_STORAGE_BLOB_ENDPOINT, Azurite defaults', () => {
  const endpoint = 'https://stdemo.blob.core.windows.net/';
  const conn = 'UseDevelopmentStorage=true;from=env';
  assert.deepEqual(
    uploadTarget('https://flag.blob.core.windows.net', { AzureWebJobsStorage: conn, AZURE_STORAGE_BLOB_ENDPOINT: endpoint }),
    {
      kind: 'account-url',
      url: 'https://flag.blob.core.windows.net',
      source: '--account-url',
    },
  );
  assert.deepEqual(uploadTarget(undefined, { AzureWebJobsStorage: conn, AZURE_STORAGE_BLOB_ENDPOINT: endpoint }), {
    kind: 'connection-string',
    connectionString: conn,
    source: 'AzureWebJobsStorage',
  });
  assert.deepEqual(uploadTarget(undefined, { AZURE_STORAGE_BLOB_ENDPOINT: endpoint }), {
    kind: 'account-url',
    url: endpoint,
    source: 'AZURE_STORAGE_BLOB_ENDPOINT',
  });
  assert.deepEqual(uploadTarget(undefined, {}), {
    kind: 'connection-string',
    connectionString: 'UseDevelopmentStorage=true',
    source: 'Azurite defaults',
  });
  assert.throws(() => uploadTarget('http://insecure.example', {}), /must be https/);
  assert.throws(() => uploadTarget('not a url', {}), /not a URL/);
});

test('autolabel upload --account-url: keyless upload of a batch with DefaultAzureCredential', async () => {
  const { azurite, identity } = services();
  const built = path.join(repoRoot, 'dist', 'src', 'cli', 'upload-command.js');
  const source = path.join(repoRoot, 'src', 'cli', 'upload-command.ts');
  assert.ok(
    statSync(built, { throwIfNoEntry: false }) && statSync(built).mtimeMs >= statSync(source).mtimeMs,
    `bin/autolabel.js runs dist/, which is missing or older than ${path.relative(repoRoot, source)}: run \`npm run build\` (npm test does)`,
  );
  const imagesDir = path.join(work, 'upload-images');
  mkdirSync(imagesDir, { recursive: true });
  const names = readdirSync(sampleImagesDir)
    .filter((n) => n.endsWith('.jpg'))
    .sort()
    .slice(0, 3);
  assert.equal(names.length, 3, `need 3 sample images in ${sampleImagesDir}`);
  for (const name of names) copyFileSync(path.join(sampleImagesDir, name), path.join(imagesDir, name));

  const before = identity.requests.length;
  // What a developer or a pipeline has: the CLI's DefaultAzureCredential picks the identity by AZURE_CLIENT_ID.
  const cli = await runChild(
    [bin, 'upload', imagesDir, '--batch', 'idtest', '--account-url', azurite.blobUrl],
    childEnv({ ...identity.env(), AZURE_CLIENT_ID: STORAGE_CLIENT_ID }),
  );
  assert.equal(cli.code, 0, `upload failed (exit ${cli.code}):\n${cli.stdout}\n${cli.stderr}`);
  assert.match(cli.stdout, /batch idtest: 3 image\(s\) uploaded; declared complete \(images\/idtest\/_batch\.json\)/);
  assert.match(cli.stdout, /\$SERVICE_API_BASE_URL\/api\/batches\/idtest\?code=<function key>/);
  assert.doesNotMatch(cli.stdout, /127\.0\.0\.1:7071/);
  assert.match(cli.stderr, /storage: https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1 \(--account-url; signed in, no keys\)/);
  const asked = identity.requests.slice(before);
  assert.ok(asked.length >= 1, 'the CLI never asked the identity endpoint for a token');
  assert.ok(
    asked.every((r) => r.status === 200 && r.resource === STORAGE_AUDIENCE && r.clientId === STORAGE_CLIENT_ID),
    JSON.stringify(asked),
  );

  const listed = parseResult(await runFixture(['list', 'images', 'idtest/'], childEnv(appSettingsEnv())));
  assert.deepEqual(listed.names, [...names.map((n) => `idtest/${n}`), 'idtest/_batch.json'].sort());
});

test('autolabel upload --account-url without a usable identity: a sign-in hint, exit 1, nothing uploaded', async () => {
  const { azurite, identity } = services();
  const imagesDir = path.join(work, 'upload-refused');
  mkdirSync(imagesDir, { recursive: true });
  const name = readdirSync(sampleImagesDir)
    .filter((n) => n.endsWith('.jpg'))
    .sort()[0]!;
  copyFileSync(path.join(sampleImagesDir, name), path.join(imagesDir, name));

  const cli = await runChild(
    [bin, 'upload', imagesDir, '--batch', 'idrefused', '--account-url', azurite.blobUrl],
    childEnv({ ...identity.env(), IDENTITY_HEADER: 'not-the-secret', AZURE_CLIENT_ID: STORAGE_CLIENT_ID }),
  );
  assert.equal(cli.code, 1, `expected exit 1:\n${cli.stdout}\n${cli.stderr}`);
  assert.match(cli.stderr, /autolabel: no token for https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1 \(from --account-url\)/);
  assert.match(cli.stderr, /ManagedIdentityCredential: Authentication failed/);
  assert.match(cli.stderr, /sign in first \(az login or azd auth login\)/);
  assert.doesNotMatch(cli.stdout, /uploaded/);

  const token = mintAccessToken({
    audience: STORAGE_AUDIENCE,
    tenantId: identity.tenantId,
    clientId: STORAGE_CLIENT_ID,
    lifetimeSeconds: 600,
  }).token;
  const listed = await azuriteGet(`${azurite.blobUrl}/images?restype=container&comp=list&prefix=idrefused/`, {
    authorization: `Bearer ${token}`,
  });
  // Alone in the file this container may not exist yet (404); after the upload test it exists and lists no blob here.
  assert.ok(listed.status === 404 || (listed.status === 200 && !/<Blob>/.test(listed.body)), `${listed.status} ${listed.body}`);
});
