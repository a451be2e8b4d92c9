/**
 * The process's Microsoft Entra credentials, for every user: the remote providers, the Functions app's SDK clients
 * and `autolabel upload`. One DefaultAzureCredential per managed identity client id (managed identity in Azure,
 * `az login` / environment credentials locally), created on first use and shared by every client of that identity,
 * so its tokens are fetched and cached once; and one bearer token provider per (credential, scope), for the same
 * reason. Keyed, not single: storage (AzureWebJobsStorage__clientId) and Cosmos DB (AZURE_CLIENT_ID) may name
 * different identities, and each must ask for tokens as its own.
 */
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, getBearerTokenProvider } from '@azure/identity';

/** By client id; '' is DefaultAzureCredential's own choice (AZURE_CLIENT_ID, az login, ...). */
const byClientId = new Map<string, TokenCredential>();
let replacement: TokenCredential | undefined;
const tokenProviders = new WeakMap<TokenCredential, Map<string, () => Promise<string>>>();

/**
 * The credential of the user-assigned managed identity `clientId`; without one, whatever DefaultAzureCredential
 * finds (AZURE_CLIENT_ID, a system-assigned identity, az/azd login). DefaultAzureCredential reads process.env itself.
 */
export function azureCredential(clientId?: string): TokenCredential {
  if (replacement) return replacement;
  const key = clientId ?? '';
  let credential = byClientId.get(key);
  if (!credential) {
    credential = new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
    byClientId.set(key, credential);
  }
  return credential;
}

/**
 * The injection hook for hosts with an identity of their own, and tests: every azureCredential() call answers
 * `credential` from now on, whatever the client id. Undefined forgets it and every credential made so far, so the
 * next call makes a new one (from the environment as it is then).
 */
export function setAzureCredential(credential: TokenCredential | undefined): void {
  replacement = credential;
  byClientId.clear();
}

/**
 * A function returning a bearer token of `credential` for `scope` (what AzureOpenAI's `azureADTokenProvider` takes),
 * refreshed before expiry by @azure/identity; one per (credential, scope), so its token cache is shared too.
 */
export function bearerTokenProvider(credential: TokenCredential, scope: string): () => Promise<string> {
  let byScope = tokenProviders.get(credential);
  if (!byScope) tokenProviders.set(credential, (byScope = new Map()));
  let provider = byScope.get(scope);
  if (!provider) byScope.set(scope, (provider = getBearerTokenProvider(credential, scope)));
  return provider;
}
