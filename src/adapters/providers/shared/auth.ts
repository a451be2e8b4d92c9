/**
 * Credentials for the remote providers. Microsoft Entra ID: the process's shared credential and bearer token
 * providers (adapters/identity/credentials), unless the deps inject a TokenCredential (tests, hosts). Keys: read
 * from the environment variable the config names, at construction.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { Auth } from '../../../core/config/labeling-config';
import { LabelingError, ProviderError } from '../../../core/pipeline/errors';
import { registerSecret } from '../../../core/redaction';
import { azureCredential, bearerTokenProvider } from '../../identity/credentials';
import { truncate } from './http-errors';

/** Azure AI services, Azure OpenAI and Foundry resources (Azure AI model inference). */
export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';
/** Azure Machine Learning: managed online endpoints (auth_mode aad_token) and the older serverless endpoints. */
export const AZURE_ML_SCOPE = 'https://ml.azure.com/.default';

/** What the providers' deps inject for auth (tests, hosts). */
export interface AuthDeps {
  /** Where `auth.apiKeyEnv` is read (default process.env). */
  env?: NodeJS.ProcessEnv | undefined;
  /** For `auth: entra` (default: the process-wide DefaultAzureCredential). */
  credential?: TokenCredential | undefined;
}

export interface AuthOptions extends AuthDeps {
  /** The token scope for `entra` (COGNITIVE_SERVICES_SCOPE, AZURE_ML_SCOPE). */
  scope: string;
  /** The header `headers()` puts a key in (default Ocp-Apim-Subscription-Key); `Authorization` gets `Bearer <key>`. */
  keyHeader?: string | undefined;
  /** What an `entra` identity refused with 401/403 needs, when the provider knows (the role to grant). */
  entraHint?: string | undefined;
}

interface AuthCommon {
  /** Said with a 401/403: where the credentials come from and what to check. */
  hint: string;
  /**
   * The headers that authenticate a request, for providers that send their own: the key, a bearer token for the
   * scope, or nothing. Failing to get a token is a setup problem: a ProviderError, not retried.
   */
  headers(): Promise<Record<string, string>>;
}

export type ResolvedAuth =
  | (AuthCommon & { type: 'key'; key: string })
  | (AuthCommon & { type: 'entra'; credential: TokenCredential; scope: string; token: () => Promise<string> })
  | (AuthCommon & { type: 'none' });

/**
 * Turn a config's `auth` into what a client needs. A key auth whose environment variable is unset or empty fails
 * here, at construction, with the variable's name (a `config` LabelingError, never retried).
 */
export function resolveAuth(auth: Auth, provider: string, options: AuthOptions): ResolvedAuth {
  const { scope } = options;
  switch (auth.type) {
    case 'key': {
      const key = (options.env ?? process.env)[auth.apiKeyEnv];
      if (!key) {
        throw new LabelingError(
          'config',
          `${provider}: the API key environment variable ${auth.apiKeyEnv} is not set (auth.apiKeyEnv); set it, or use auth {"type": "entra"}`,
          { retryable: false, provider },
        );
      }
      registerSecret(key);
      const keyHeader = options.keyHeader ?? 'Ocp-Apim-Subscription-Key';
      const value = keyHeader.toLowerCase() === 'authorization' ? `Bearer ${key}` : key;
      return {
        type: 'key',
        key,
        hint: `check the key in the environment variable ${auth.apiKeyEnv}: it must be one of this endpoint's keys`,
        headers: async () => ({ [keyHeader]: value }),
      };
    }
    case 'entra': {
      const credential = options.credential ?? azureCredential();
      const token = bearerTokenProvider(credential, scope);
      return {
        type: 'entra',
        credential,
        scope,
        token,
        hint: options.entraHint ?? `the Microsoft Entra identity was refused: it needs a data-plane role on the resource (scope ${scope})`,
        headers: async () => {
          try {
            return { authorization: `Bearer ${await token()}` };
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            throw new ProviderError(`${provider}: no Microsoft Entra token for ${scope}: ${truncate(message)}`, {
              provider,
              retryable: false,
              cause: error,
            });
          }
        },
      };
    }
    case 'none':
      return { type: 'none', hint: 'the service wants credentials: set auth to "key" or "entra"', headers: async () => ({}) };
  }
}
