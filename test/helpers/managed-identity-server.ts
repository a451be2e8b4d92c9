/**
 * A local stand-in for the App Service / Azure Functions managed identity endpoint, so the REAL @azure/identity
 * (DefaultAzureCredential -> ManagedIdentityCredential -> @azure/msal-node's AppService source) gets tokens here.
 * A child process given `env()` (IDENTITY_ENDPOINT + IDENTITY_HEADER) believes it runs in App Service.
 *
 * The request msal-node 5.x sends (lib/msal-node.cjs, class AppService.createRequest):
 *   GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<scope without /.default>[&client_id=<uami client id>]
 *   header X-IDENTITY-HEADER: <IDENTITY_HEADER>
 * A user-assigned identity may also be chosen by `mi_res_id` (resource id) or `object_id`: refused here (400), the
 * app names its identity by client id only. The answer it reads (getServerTokenResponse):
 *   200 {access_token, expires_on: unix seconds, resource, token_type: 'Bearer', client_id}
 *   errors: {statusCode, message} -> msal's error_description (the statuses and wording here are this stand-in's).
 *
 * The access token is a JWT shaped like an Entra ID v1 token, made to pass Azurite's `--oauth basic` check
 * (azurite 3.35 dist/src/{blob,queue}/authentication/*TokenAuthenticator.js, authenticateBasic):
 *   - the signature is NOT verified ("Validate signature, skip in basic check"): it is left a placeholder;
 *   - nbf, exp and iat must be present, and nbf <= now <= exp;
 *   - iss must start with an AAD issuer prefix (common/utils/constants.js VALID_ISSUE_PREFIXES, e.g.
 *     `https://sts.windows.net/`): we use `https://sts.windows.net/<tenant id>/`;
 *   - aud must match VALID_BLOB_AUDIENCES / VALID_QUEUE_AUDIENCES, e.g. `https://storage.azure.com` (what the storage
 *     SDKs ask for: scope https://storage.azure.com/.default, resource without `/.default`), or
 *     `https://<account>.blob.core.windows.net` for the same account name.
 * So `aud` is the requested resource, verbatim: a token minted for another audience (Cosmos DB) is refused there.
 */
import { randomUUID } from 'node:crypto';
import { startFakeServer, type FakeServer } from '../fakes/http-server';

/** The App Service identity protocol version msal-node speaks (APP_SERVICE_MSI_API_VERSION). */
export const APP_SERVICE_MSI_API_VERSION = '2019-08-01';
const TOKEN_PATH = '/msi/token';

export interface TokenRequestRecord {
  /** `resource` query parameter: the audience asked for (e.g. https://storage.azure.com). */
  resource: string | undefined;
  /** `client_id` query parameter: the user-assigned identity asked for; undefined = system-assigned. */
  clientId: string | undefined;
  apiVersion: string | undefined;
  /** HTTP status answered (200 = a token was issued). */
  status: number;
  /** Why it was refused, when it was. */
  refusal?: string;
}

export interface ManagedIdentityServerOptions {
  /** Client ids of the user-assigned identities "attached to the app"; a request for any other is refused (400). */
  clientIds: string[];
  /** Tenant in the token's issuer and `tid`; default a fresh GUID. */
  tenantId?: string;
  /** Token lifetime; default 3600 s (the SDKs refresh a few minutes before expiry, so keep it well above that). */
  lifetimeSeconds?: number;
}

export interface ManagedIdentityServer {
  /** IDENTITY_ENDPOINT, e.g. http://127.0.0.1:PORT/msi/token. */
  endpoint: string;
  /** IDENTITY_HEADER: the secret the platform gives the app; requests without it are refused (401). */
  secret: string;
  tenantId: string;
  /** Every request so far, in order, refused ones included. */
  requests: TokenRequestRecord[];
  /** The two variables that make ManagedIdentityCredential use this server. */
  env(): { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  close(): Promise<void>;
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsigned Entra-ID-shaped access token (see the header comment for what Azurite checks). */
export function mintAccessToken(claims: { audience: string; tenantId: string; clientId: string | undefined; lifetimeSeconds: number }): {
  token: string;
  expiresOn: number;
} {
  const now = Math.floor(Date.now() / 1000);
  const expiresOn = now + claims.lifetimeSeconds;
  const header = { typ: 'JWT', alg: 'RS256', kid: 'local-test-not-signed' };
  const payload = {
    aud: claims.audience,
    iss: `https://sts.windows.net/${claims.tenantId}/`,
    // Entra ID backdates nbf/iat by 5 minutes against clock skew; so do we.
    iat: now - 300,
    nbf: now - 300,
    exp: expiresOn,
    tid: claims.tenantId,
    appid: claims.clientId ?? 'system-assigned',
    oid: randomUUID(),
    sub: randomUUID(),
    idtyp: 'app',
    ver: '1.0',
  };
  return { token: `${base64url(header)}.${base64url(payload)}.${Buffer.from('not-signed').toString('base64url')}`, expiresOn };
}

/** Decodes a JWT's payload (no verification), for assertions. */
export function decodeTokenClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (!payload) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export async function startManagedIdentityServer(options: ManagedIdentityServerOptions): Promise<ManagedIdentityServer> {
  const secret = randomUUID();
  const tenantId = options.tenantId ?? randomUUID();
  const lifetimeSeconds = options.lifetimeSeconds ?? 3600;
  const known = new Set(options.clientIds.map((id) => id.toLowerCase()));
  const requests: TokenRequestRecord[] = [];

  const server: FakeServer = await startFakeServer((request) => {
    const url = new URL(request.url, 'http://placeholder');
    const query = url.searchParams;
    const record: TokenRequestRecord = {
      resource: query.get('resource') ?? undefined,
      clientId: query.get('client_id') ?? undefined,
      apiVersion: query.get('api-version') ?? undefined,
      status: 200,
    };
    requests.push(record);
    const refuse = (status: number, message: string) => {
      record.status = status;
      record.refusal = message;
      return { status, body: { statusCode: status, message, correlationId: randomUUID() } };
    };

    if (url.pathname !== TOKEN_PATH) return refuse(404, `no such path ${url.pathname}`);
    if (request.method !== 'GET') return refuse(405, `method ${request.method} not allowed`);
    // The secret header is what keeps other processes on the machine from taking the app's tokens.
    if (request.headers['x-identity-header'] !== secret) return refuse(401, 'X-IDENTITY-HEADER is missing or wrong');
    if (record.apiVersion !== APP_SERVICE_MSI_API_VERSION) return refuse(400, `unsupported api-version ${record.apiVersion}`);
    if (!record.resource) return refuse(400, 'resource is required');
    if (query.has('mi_res_id') || query.has('object_id') || query.has('principal_id')) {
      return refuse(400, 'this stand-in selects user-assigned identities by client_id only');
    }
    if (!record.clientId) return refuse(400, 'no system-assigned identity on this app; name a user-assigned one by client_id');
    if (!known.has(record.clientId.toLowerCase()))
      return refuse(400, `Unable to load the proper Managed Identity (client_id ${record.clientId})`);

    const { token, expiresOn } = mintAccessToken({ audience: record.resource, tenantId, clientId: record.clientId, lifetimeSeconds });
    return {
      status: 200,
      body: {
        access_token: token,
        expires_on: String(expiresOn),
        resource: record.resource,
        token_type: 'Bearer',
        client_id: record.clientId,
      },
    };
  });

  const endpoint = `${server.url}${TOKEN_PATH}`;
  return {
    endpoint,
    secret,
    tenantId,
    requests,
    env: () => ({ IDENTITY_ENDPOINT: endpoint, IDENTITY_HEADER: secret }),
    close: () => server.close(),
  };
}
