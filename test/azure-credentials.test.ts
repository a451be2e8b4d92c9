/**
 * The one credential cache (src/adapters/identity/credentials.ts): one DefaultAzureCredential per managed identity
 * client id, one bearer token provider per (credential, scope), and the injection hook, which the providers' Entra
 * auth follows when their deps inject nothing. Creating a DefaultAzureCredential asks for no token, so nothing here
 * needs an identity.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { DefaultAzureCredential } from '@azure/identity';
import { azureCredential, bearerTokenProvider, setAzureCredential } from '../src/adapters/identity/credentials';
import { COGNITIVE_SERVICES_SCOPE, resolveAuth } from '../src/adapters/providers/shared/auth';
import { fakeCredential } from './helpers/provider-fixtures';

const STORAGE_CLIENT_ID = '5a1e0c1d-0000-4000-8000-00000000b001';
const COSMOS_CLIENT_ID = '5a1e0c1d-0000-4000-8000-00000000b002';

afterEach(() => setAzureCredential(undefined));

test('one DefaultAzureCredential per client id, shared by every caller of that identity', () => {
  const storage = azureCredential(STORAGE_CLIENT_ID);
  const cosmos = azureCredential(COSMOS_CLIENT_ID);
  const unnamed = azureCredential();
  assert.ok(storage instanceof DefaultAzureCredential);
  assert.equal(azureCredential(STORAGE_CLIENT_ID), storage);
  assert.equal(azureCredential(), unnamed);
  assert.equal(azureCredential(''), unnamed, 'an empty client id names no identity');
  assert.equal(new Set([storage, cosmos, unnamed]).size, 3, 'each identity asks for tokens as its own');
});

test('setAzureCredential: every caller gets the injected credential; undefined brings back fresh DefaultAzureCredentials', () => {
  const before = azureCredential(STORAGE_CLIENT_ID);
  const { credential } = fakeCredential('injected-token');
  setAzureCredential(credential);
  assert.equal(azureCredential(), credential);
  assert.equal(azureCredential(STORAGE_CLIENT_ID), credential);
  setAzureCredential(undefined);
  const after = azureCredential(STORAGE_CLIENT_ID);
  assert.ok(after instanceof DefaultAzureCredential);
  assert.notEqual(after, before, 'forgotten: made again from the environment as it is now');
});

test("the providers' Entra auth takes the shared credential unless their deps inject one", async () => {
  const shared = fakeCredential('shared-token');
  setAzureCredential(shared.credential);
  const auth = resolveAuth({ type: 'entra' }, 'test', { scope: COGNITIVE_SERVICES_SCOPE });
  assert.deepEqual(await auth.headers(), { authorization: 'Bearer shared-token' });
  assert.deepEqual(shared.scopes, [[COGNITIVE_SERVICES_SCOPE]]);

  const injected = fakeCredential('deps-token');
  const own = resolveAuth({ type: 'entra' }, 'test', { scope: COGNITIVE_SERVICES_SCOPE, credential: injected.credential });
  assert.deepEqual(await own.headers(), { authorization: 'Bearer deps-token' });
  assert.equal(shared.scopes.length, 1);
});

test('one bearer token provider per (credential, scope), so its token is fetched once', async () => {
  const { credential, scopes } = fakeCredential('cached-token');
  const provider = bearerTokenProvider(credential, COGNITIVE_SERVICES_SCOPE);
  assert.equal(bearerTokenProvider(credential, COGNITIVE_SERVICES_SCOPE), provider);
  assert.notEqual(bearerTokenProvider(credential, 'https://ml.azure.com/.default'), provider);
  assert.equal(await provider(), 'cached-token');
  assert.equal(await bearerTokenProvider(credential, COGNITIVE_SERVICES_SCOPE)(), 'cached-token');
  assert.equal(scopes.length, 1);
});
